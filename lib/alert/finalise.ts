/**
 * The common post-processing every format goes through, in one place: coercion and validation of
 * values (invalid ones are dropped, not fatal), refanging, time to UTC, observables, id and
 * fingerprint. Adapters only pick values out of their payloads.
 *
 * Fingerprint recipe (stable per incident; documented in README.md):
 *   sha256( origin.format + US + (rule.id ?? rule.name ?? title) + US + primary entity )
 *   primary entity = source.ip ?? user.name ?? host.name ?? file hash (sha256 ?? sha1 ?? md5) ?? url.full ?? ""
 *   US = "\u001f" (unit separator, cannot appear by accident in the parts); hex, first 32 characters.
 * The same incident delivered twice gives the same fingerprint (no time, no delivery id in it);
 * another source IP gives another.
 */
import { createHash } from 'node:crypto';
import type { AlertDraft, AlertFormat, FileHashes, NormalisedAlert, Observable, ObservableType, Severity } from './types';
import { isRecord, SEVERITY_NAMES, severityFromNumber, severityFromWord } from './util';
import { boundedString, hashType, isIp, scalar, toDnsName, toDomain, toEmail, toIp, toIsoTime, toPort, toUrl, truncatedString } from './values';

export interface FinaliseContext {
  receivedIso: string;
}

export const TIME_UNPARSED_TAG = 'soar:time-unparsed';

const TITLE_MAX = 1024;
const DESCRIPTION_MAX = 16384;
const NAME_MAX = 256;
const HOST_MAX = 255;
const FILE_NAME_MAX = 4096;
const TAG_MAX = 128;
const MAX_TAGS = 64;
const MAX_HOST_IPS = 64;
const MAX_MITRE = 64;
const MAX_OBSERVABLES = 256;
const SEP = '\u001f';

const RESOLVED_WORDS = new Set(['resolved', 'closed', 'recovered', 'ok', 'inactive', 'cleared', 'done']);
const MITRE_ID = /^[A-Z]{1,3}\d{4}(?:\.\d{3})?$/;
const DOMAIN_USER = /^([^\\]{1,256})\\([^\\]{1,256})$/;

export function hash32(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

function toStatus(value: unknown): 'firing' | 'resolved' {
  const v = scalar(value);
  return typeof v === 'string' && RESOLVED_WORDS.has(v.trim().toLowerCase()) ? 'resolved' : 'firing';
}

function toSeverity(d: AlertDraft): { severity: Severity; label: string } {
  let severity: Severity;
  let label: string | undefined;
  if (d.looseSeverity) {
    const v = scalar(d.severity);
    severity = severityFromNumber(v) ?? severityFromWord(v) ?? 0;
    label = truncatedString(d.severity_label, 64) ?? truncatedString(v, 64);
  } else {
    const n = d.severity;
    severity = typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 6 ? (n as Severity) : 0;
    label = truncatedString(d.severity_label, 64);
  }
  return { severity, label: label ?? SEVERITY_NAMES[severity] };
}

function toStringList(value: unknown, max: number, maxLength: number, transform?: (s: string) => string | undefined): string[] {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  const out: string[] = [];
  const seen = new Set<string>();
  for (const item of list) {
    let s = boundedString(item, maxLength);
    if (s !== undefined && transform) s = transform(s);
    if (s === undefined || seen.has(s)) continue;
    seen.add(s);
    out.push(s);
    if (out.length >= max) break;
  }
  return out;
}

function mitreId(s: string): string | undefined {
  const up = s.toUpperCase();
  return MITRE_ID.test(up) ? up : undefined;
}

function collectHashes(d: AlertDraft): FileHashes | undefined {
  const hashes: FileHashes = {};
  let found = false;
  const add = (value: unknown) => {
    const s = boundedString(value, 64);
    if (s === undefined) return;
    const lower = s.toLowerCase();
    // The declared key is only a hint: the length decides (a 32-hex "sha256" is an md5).
    const type = hashType(lower);
    if (type && hashes[type] === undefined) {
      hashes[type] = lower;
      found = true;
    }
  };
  add(d['file.hash.sha256']);
  add(d['file.hash.sha1']);
  add(d['file.hash.md5']);
  const loose = d['file.hash'];
  if (Array.isArray(loose)) for (const h of loose.slice(0, 16)) add(h);
  else if (isRecord(loose)) for (const key of Object.keys(loose).slice(0, 16)) add(loose[key]);
  else add(loose);
  return found ? hashes : undefined;
}

class ObservableList {
  readonly items: Observable[] = [];
  private readonly seen = new Set<string>();

  add(type: ObservableType, value: string, field: string): void {
    if (this.items.length >= MAX_OBSERVABLES) return;
    const key = `${type}${SEP}${value}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.items.push({ type, value, field });
  }

  /** A format-specific observable: validated the same way as the structured fields. */
  addLoose(type: ObservableType, value: unknown, field: string): void {
    const where = boundedString(field, 256);
    if (where === undefined) return;
    switch (type) {
      case 'ip': {
        const ip = toIp(value);
        if (ip) this.add('ip', ip, where);
        return;
      }
      case 'domain': {
        const domain = toDomain(value);
        if (domain) this.add('domain', domain, where);
        else {
          const ip = toIp(value);
          if (ip) this.add('ip', ip, where);
        }
        return;
      }
      case 'url': {
        const url = toUrl(value);
        if (url) this.addUrl(url.full, url.host, where);
        return;
      }
      case 'md5':
      case 'sha1':
      case 'sha256': {
        const s = boundedString(value, 64)?.toLowerCase();
        const t = s !== undefined ? hashType(s) : undefined;
        if (s !== undefined && t) this.add(t, s, where);
        return;
      }
      case 'email': {
        const email = toEmail(value);
        if (email) this.add('email', email, where);
        return;
      }
      case 'user': {
        const user = boundedString(value, NAME_MAX);
        if (user) this.add(toEmail(user) ? 'email' : 'user', user, where);
        return;
      }
      case 'host': {
        const host = boundedString(value, HOST_MAX);
        if (host) this.add('host', host, where);
        return;
      }
    }
  }

  addUrl(full: string, host: string, field: string): void {
    this.add('url', full, field);
    if (host === '') return;
    if (isIp(host)) {
      const ip = toIp(host);
      if (ip) this.add('ip', ip, field);
    } else {
      const domain = toDomain(host);
      if (domain) this.add('domain', domain, field);
    }
  }
}

function keyText(parts: readonly unknown[]): string {
  let out = '';
  for (const p of parts) {
    let s: string;
    if (p === undefined || p === null) s = '';
    else if (typeof p === 'object') {
      try {
        s = JSON.stringify(p) ?? '';
      } catch {
        s = '';
      }
    } else s = String(p);
    out += s + SEP;
  }
  return out;
}

export function finalise(d: AlertDraft, format: AlertFormat, ctx: FinaliseContext): NormalisedAlert {
  const tags = toStringList(d.tags, MAX_TAGS, TAG_MAX);

  // Event time; an unreadable one falls back to the receive time, and says so.
  let time = toIsoTime(d.time);
  if (time === undefined) {
    time = ctx.receivedIso;
    if (d.time !== undefined && d.time !== null && d.time !== '' && tags.length < MAX_TAGS) tags.push(TIME_UNPARSED_TAG);
  }

  const rule: NormalisedAlert['rule'] = {};
  const ruleId = boundedString(d['rule.id'], NAME_MAX);
  const ruleName = truncatedString(d['rule.name'], TITLE_MAX);
  const ruleset = boundedString(d['rule.ruleset'], NAME_MAX);
  const mitre = toStringList(d['rule.mitre'], MAX_MITRE, 16, mitreId);
  if (ruleId !== undefined) rule.id = ruleId;
  if (ruleName !== undefined) rule.name = ruleName;
  if (ruleset !== undefined) rule.ruleset = ruleset;
  if (mitre.length) rule.mitre = mitre;

  const title = truncatedString(d.title, TITLE_MAX) ?? ruleName ?? ruleId ?? `${format} alert`;
  const description = truncatedString(d.description, DESCRIPTION_MAX);
  const { severity, label } = toSeverity(d);

  const origin: NormalisedAlert['origin'] = { product: truncatedString(d['origin.product'], 128) ?? format, format };
  const originId = boundedString(d['origin.id'], NAME_MAX);
  const originUrl = toUrl(d['origin.url']);
  if (originId !== undefined) origin.id = originId;
  if (originUrl !== undefined) origin.url = originUrl.full;

  const sourceIp = toIp(d['source.ip']);
  const sourcePort = toPort(d['source.port']);
  const destinationIp = toIp(d['destination.ip']);
  const destinationPort = toPort(d['destination.port']);

  const hostName = boundedString(d['host.name'], HOST_MAX);
  const hostId = boundedString(d['host.id'], NAME_MAX);
  const hostIps = toStringList(d['host.ip'], MAX_HOST_IPS, 100, toIp);

  let userName = boundedString(d['user.name'], NAME_MAX);
  let userDomain = boundedString(d['user.domain'], NAME_MAX);
  if (userName !== undefined && userDomain === undefined) {
    const m = DOMAIN_USER.exec(userName); // CORP\alice
    if (m) {
      userDomain = m[1];
      userName = m[2];
    }
  }

  const fileName = boundedString(d['file.name'], FILE_NAME_MAX);
  const hashes = collectHashes(d);
  const url = toUrl(d['url.full']);
  const dnsName = toDnsName(d['dns.question.name']);

  // Built in the documented key order, so the JSON reads the same for every format.
  const alert = {
    schema: 'soar.alert/1',
    id: '',
    fingerprint: '',
    time,
    received: ctx.receivedIso,
    status: toStatus(d.status),
    origin,
    title,
  } as NormalisedAlert;
  if (description !== undefined) alert.description = description;
  alert.severity = severity;
  alert.severity_label = label;
  alert.rule = rule;
  if (sourceIp !== undefined || sourcePort !== undefined) {
    alert.source = {};
    if (sourceIp !== undefined) alert.source.ip = sourceIp;
    if (sourcePort !== undefined) alert.source.port = sourcePort;
  }
  if (destinationIp !== undefined || destinationPort !== undefined) {
    alert.destination = {};
    if (destinationIp !== undefined) alert.destination.ip = destinationIp;
    if (destinationPort !== undefined) alert.destination.port = destinationPort;
  }
  if (hostName !== undefined || hostId !== undefined || hostIps.length) {
    alert.host = {};
    if (hostName !== undefined) alert.host.name = hostName;
    if (hostId !== undefined) alert.host.id = hostId;
    if (hostIps.length) alert.host.ip = hostIps;
  }
  if (userName !== undefined || userDomain !== undefined) {
    alert.user = {};
    if (userName !== undefined) alert.user.name = userName;
    if (userDomain !== undefined) alert.user.domain = userDomain;
  }
  if (fileName !== undefined || hashes !== undefined) {
    alert.file = {};
    if (fileName !== undefined) alert.file.name = fileName;
    if (hashes !== undefined) alert.file.hash = hashes;
  }
  if (url !== undefined) alert.url = { full: url.full };
  if (dnsName !== undefined) alert.dns = { question: { name: dnsName } };

  // Observables: structured fields first (their `field` is the normalised path), then extras.
  const obs = new ObservableList();
  if (sourceIp !== undefined) obs.add('ip', sourceIp, 'source.ip');
  if (destinationIp !== undefined) obs.add('ip', destinationIp, 'destination.ip');
  for (const ip of hostIps) obs.add('ip', ip, 'host.ip');
  if (hostName !== undefined) {
    // Alertmanager instances and some agents name hosts by address: that is an ip observable.
    const hostAsIp = toIp(hostName);
    if (hostAsIp !== undefined) obs.add('ip', hostAsIp, 'host.name');
    else obs.add('host', hostName, 'host.name');
  }
  if (userName !== undefined) obs.add(toEmail(userName) ? 'email' : 'user', userName, 'user.name');
  if (url !== undefined) obs.addUrl(url.full, url.host, 'url.full');
  if (dnsName !== undefined) {
    if (dnsName.includes('.')) obs.add('domain', dnsName, 'dns.question.name');
  }
  if (hashes !== undefined) {
    if (hashes.sha256) obs.add('sha256', hashes.sha256, 'file.hash.sha256');
    if (hashes.sha1) obs.add('sha1', hashes.sha1, 'file.hash.sha1');
    if (hashes.md5) obs.add('md5', hashes.md5, 'file.hash.md5');
  }
  if (d.extraObservables) for (const extra of d.extraObservables) obs.addLoose(extra.type, extra.value, extra.field);
  alert.observables = obs.items;
  alert.tags = tags;
  alert.raw = d.raw;

  const fileHash = hashes ? (hashes.sha256 ?? hashes.sha1 ?? hashes.md5) : undefined;
  const primaryEntity = sourceIp ?? userName ?? hostName ?? fileHash ?? url?.full ?? '';
  alert.fingerprint = hash32(format + SEP + (ruleId ?? ruleName ?? title) + SEP + primaryEntity);

  const nativeId = boundedString(d.id, NAME_MAX);
  alert.id =
    nativeId ??
    hash32(
      format +
        SEP +
        keyText(
          d.idKey ?? [
            title,
            boundedString(d.time, 64),
            ruleId,
            ruleName,
            sourceIp,
            sourcePort,
            destinationIp,
            destinationPort,
            hostName,
            userName,
            fileHash,
            url?.full,
          ],
        ),
    );
  return alert;
}
