/**
 * abuse.ch URLhaus as a threat-intel source. Node-RED-free.
 *
 * Contract: docs/vendor-facts.md §B.5 and §0.1; https://urlhaus-api.abuse.ch/ ("Obtain an Auth-Key
 * (Required)": header `Auth-Key`; "Query URL information" POST /v1/url/ `url=`; "Query host
 * information" POST /v1/host/ `host=` (IPv4 address, hostname or domain); "Query payload information"
 * POST /v1/payload/ `md5_hash=` or `sha256_hash=`; form-encoded bodies; the outcome is in
 * `query_status`, mostly with HTTP 200).
 *
 * `query_status` handling (HTTP 200 with the failure in the body goes through checkBody):
 *   ok                                   → an answer (below)
 *   no_results                           → unknown, found false
 *   unknown_auth_key                     → AUTH (also when sent with HTTP 401)
 *   invalid_url/_host/_md5/_sha256, http_post_expected, other invalid_* → BAD_REQUEST
 *   anything else / missing              → BODY_ERROR
 *
 * Level when URLhaus lists the indicator (URLhaus only lists malware distribution):
 *   url: listed                          → malicious (url_status online/offline/unknown kept in evidence)
 *   payload (md5/sha256): listed         → malicious (a sample URLhaus collected from a malware URL)
 *   host (domain/IPv4): at least one listed URL is online and Spamhaus DBL does not mark the host as an
 *     abused legitimate site ("abused_legit_*")             → malicious
 *   host otherwise (only offline URLs, or a compromised legitimate site / shared platform) → suspicious
 * No confidence of its own; `confidence` stays unset.
 *
 * Limits: abuse.ch publishes none (fair use). Default budget: a polite 2 requests per second.
 */
import { createHttpClient, type BodyCheck } from '../../core/http';
import type { IocType } from '../../ioc';
import type { Indicator, IntelLevel, IntelProvider, IntelProviderOptions, IntelResult } from '../types';
import { asRecord, budgetAndClose, compact, missingKey, resultBuilder, text, unsupportedIndicator } from './common';

const KIND = 'urlhaus';
const DEFAULT_BASE_URL = 'https://urlhaus-api.abuse.ch/v1';
const WEB_BASE = 'https://urlhaus.abuse.ch/';
const SUPPORTED: readonly IocType[] = ['url', 'domain', 'ipv4', 'md5', 'sha256'];
const MAX_TAGS = 10;

/** URLhaus sends many numbers as strings ("url_count": "12"). */
function count(value: unknown): number | undefined {
  const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) && number >= 0 ? Math.floor(number) : undefined;
}

function tagsOf(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const tags = value.filter((tag): tag is string => typeof tag === 'string' && tag !== '').slice(0, MAX_TAGS);
  return tags.length > 0 ? tags : undefined;
}

function blacklistsOf(value: unknown): Record<string, string> | undefined {
  const record = asRecord(value);
  if (!record) return undefined;
  const entries = Object.entries(record).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
  return entries.length > 0 ? Object.fromEntries(entries.map(([key, listed]) => [key, listed.slice(0, 60)])) : undefined;
}

function day(value: string | undefined): string | undefined {
  return value ? value.slice(0, 10) : undefined;
}

/** The vendor's own reference page when it is one; never a link the body could point elsewhere. */
function referenceLink(value: unknown, fallback: string): string {
  const reference = text(value, 300);
  return reference && reference.startsWith(WEB_BASE) ? reference : fallback;
}

export function levelForHost(onlineUrls: number, spamhausDbl: string | undefined): IntelLevel {
  const abusedLegit = Boolean(spamhausDbl && spamhausDbl.startsWith('abused_legit'));
  return onlineUrls > 0 && !abusedLegit ? 'malicious' : 'suspicious';
}

const checkBody: BodyCheck = (data) => {
  const status = asRecord(data)?.query_status;
  if (status === 'ok' || status === 'no_results') return undefined;
  if (status === 'unknown_auth_key') {
    return { code: 'AUTH', message: 'URLhaus does not know this Auth-Key', vendorCode: status };
  }
  if (typeof status === 'string' && (status.startsWith('invalid_') || status === 'http_post_expected')) {
    return { code: 'BAD_REQUEST', message: `URLhaus refused the query: ${status.slice(0, 60)}`, vendorCode: status.slice(0, 60) };
  }
  return {
    code: 'BODY_ERROR',
    message: typeof status === 'string' ? `unexpected query_status ${status.slice(0, 60)}` : 'answer has no query_status; check the base URL',
    vendorCode: typeof status === 'string' ? status.slice(0, 60) : undefined,
  };
};

interface Query {
  path: string;
  form: Record<string, string>;
  what: 'url' | 'host' | 'payload';
}

function queryFor(indicator: Indicator): Query {
  switch (indicator.type) {
    case 'url':
      return { path: '/url/', form: { url: indicator.value }, what: 'url' };
    case 'md5':
      return { path: '/payload/', form: { md5_hash: indicator.value }, what: 'payload' };
    case 'sha256':
      return { path: '/payload/', form: { sha256_hash: indicator.value }, what: 'payload' };
    default:
      return { path: '/host/', form: { host: indicator.value }, what: 'host' };
  }
}

export function createUrlhaus(opts: IntelProviderOptions = {}): IntelProvider {
  const name = opts.name ?? 'URLhaus';
  const apiKey = opts.apiKey ?? '';
  const answerFor = resultBuilder(KIND, name, opts.now ?? Date.now);
  const client = createHttpClient({
    provider: KIND,
    baseURL: opts.baseURL ?? DEFAULT_BASE_URL,
    headers: { 'Auth-Key': apiKey, accept: 'application/json' },
    secrets: apiKey ? [apiKey] : [],
    budget: opts.budget ?? { perSecond: 2 },
    timeoutMs: opts.timeoutMs,
    checkBody,
    now: opts.now,
    sleep: opts.sleep,
  });

  async function lookup(indicator: Indicator, signal?: AbortSignal): Promise<IntelResult> {
    if (!SUPPORTED.includes(indicator.type)) throw unsupportedIndicator(KIND, indicator.type);
    if (!apiKey) throw missingKey(KIND, 'Auth-Key');
    const query = queryFor(indicator);
    const { data } = await client.request({
      method: 'POST',
      url: query.path,
      data: new URLSearchParams(query.form).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      // A lookup changes nothing on the vendor's side: safe to repeat on a timeout or a 5xx.
      idempotent: true,
      signal,
    });
    const body = asRecord(data) ?? {};
    const searchLink = `${WEB_BASE}browse.php?search=${encodeURIComponent(indicator.value)}`;

    if (body.query_status === 'no_results') {
      return answerFor(indicator, { level: 'unknown', found: false, evidence: {}, summary: `${name}: not listed`, link: searchLink });
    }

    if (query.what === 'url') {
      const urlStatus = text(body.url_status, 20);
      const threat = text(body.threat, 60);
      const dateAdded = text(body.date_added, 40);
      const tags = tagsOf(body.tags);
      const payloads = Array.isArray(body.payloads) ? body.payloads.length : undefined;
      let summary = `${name}: listed malware URL${threat ? ` (${threat})` : ''}, ${urlStatus ?? 'status unknown'}`;
      if (dateAdded) summary += `, added ${day(dateAdded)}`;
      if (tags) summary += `, tags: ${tags.join(', ')}`;
      return answerFor(indicator, {
        level: 'malicious',
        found: true,
        evidence: compact({
          id: text(body.id, 20),
          urlStatus,
          threat,
          dateAdded,
          lastOnline: text(body.last_online, 40),
          tags,
          blacklists: blacklistsOf(body.blacklists),
          payloads,
        }),
        summary,
        link: referenceLink(body.urlhaus_reference, searchLink),
      });
    }

    if (query.what === 'host') {
      const urls = Array.isArray(body.urls) ? body.urls.map(asRecord).filter((entry): entry is Record<string, unknown> => Boolean(entry)) : [];
      const online = urls.filter((entry) => entry.url_status === 'online').length;
      const urlCount = count(body.url_count) ?? urls.length;
      const blacklists = blacklistsOf(body.blacklists);
      const firstSeen = text(body.firstseen, 40);
      const level = levelForHost(online, blacklists?.spamhaus_dbl);
      let summary = `${name}: host served ${urlCount} malware URL${urlCount === 1 ? '' : 's'} (${online} online)`;
      if (firstSeen) summary += `, first seen ${day(firstSeen)}`;
      if (blacklists?.spamhaus_dbl?.startsWith('abused_legit')) summary += ', a compromised legitimate site per Spamhaus DBL';
      const hostTags = [...new Set(urls.flatMap((entry) => tagsOf(entry.tags) ?? []))].slice(0, MAX_TAGS);
      return answerFor(indicator, {
        level,
        found: true,
        evidence: compact({ urlCount, onlineUrls: online, firstSeen, blacklists, tags: hostTags.length > 0 ? hostTags : undefined }),
        summary,
        link: referenceLink(body.urlhaus_reference, `${WEB_BASE}host/${encodeURIComponent(indicator.value)}/`),
      });
    }

    const signature = text(body.signature, 100);
    const fileType = text(body.file_type, 40);
    const urlCount = count(body.url_count);
    let summary = `${name}: malware sample${signature || fileType ? ` (${[signature, fileType].filter(Boolean).join(', ')})` : ''}`;
    if (urlCount !== undefined) summary += `, seen on ${urlCount} URL${urlCount === 1 ? '' : 's'}`;
    return answerFor(indicator, {
      level: 'malicious',
      found: true,
      evidence: compact({
        signature,
        fileType,
        fileSize: count(body.file_size),
        firstSeen: text(body.firstseen, 40),
        lastSeen: text(body.lastseen, 40),
        urlCount,
        md5: text(body.md5_hash, 32),
        sha256: text(body.sha256_hash, 64),
      }),
      summary,
      link: searchLink,
    });
  }

  return { kind: KIND, name, types: SUPPORTED, external: true, lookup, ...budgetAndClose(client) };
}
