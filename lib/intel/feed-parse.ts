/**
 * Local threat-intel feeds: turning a plain-text, CSV or JSON list into an index that answers
 * "is this indicator listed?" quickly. Node-RED-free; used by providers/feed.ts.
 *
 * Entries are normalised the way lib/ioc normalises extracted indicators, so a feed line matches
 * what extraction produces from an alert:
 * - refanged first (`hxxp://evil[.]example/x` is `http://evil.example/x`);
 * - IPv4 in strict dotted form, IPv6 canonical (ipaddr.js toString(), zone dropped); an
 *   IPv4-mapped IPv6 entry (`::ffff:203.0.113.5`) is stored as the IPv4 it carries;
 * - CIDRs (`203.0.113.0/24`, `2001:db8::/32`) match every address inside; host bits are cleared;
 *   a full-length prefix (/32, /128) is a plain address;
 * - domains need a public (ICANN) suffix, like extraction; a leading `*.` or `.` and a trailing
 *   dot are dropped. A domain entry matches the domain itself AND every subdomain of it
 *   (`evil.com` lists `a.b.evil.com`); Unicode and punycode forms of one name match each other;
 * - URLs (http, https, ftp, ftps, sftp) with lower-case scheme and host; exact match, except that
 *   a bare `/` path is ignored (`http://evil.com/` = `http://evil.com`). A URL entry does not list
 *   its host: the broker looks the host up as its own indicator;
 * - hashes (32/40/64/128 hex digits), e-mail addresses and CVE ids by exact (normalised) value.
 *
 * Lookups: exact values in one Set per type; CIDRs in one Set per prefix length, keyed by the
 * network address, so an address is checked with at most 33 (IPv4) or 129 (IPv6) Set probes
 * whatever the number of entries.
 */
import ipaddr from 'ipaddr.js';
import { domainToASCII } from 'node:url';
import { isStrictIpv4 } from '../ioc/classify';
import { checkDomain } from '../ioc/domain';
import { parseUrl } from '../ioc/extract';
import { refang } from '../ioc/refang';
import type { IocType } from '../ioc/types';
import type { Indicator } from './types';

export type FeedFormat = 'auto' | 'text' | 'csv' | 'json';

/** One feed line after classification. */
export type FeedEntry =
  /** `key`: IPv6 addresses are compared by their 32 hex digits (no text formatting on the lookup path). */
  { kind: 'exact'; type: IocType; value: string; key?: string } | { kind: 'cidr'; type: 'ipv4' | 'ipv6'; value: string; key: string | number; prefix: number };

export interface FeedMatch {
  /** How the indicator matched: the same value, an address inside a listed network, or a subdomain of a listed domain. */
  by: 'exact' | 'cidr' | 'subdomain';
  /** The listed entry, normalised (e.g. `203.0.113.0/24`, `evil.com`). */
  entry: string;
}

const URL_SCHEMES = new Set(['http', 'https', 'ftp', 'ftps', 'sftp']);
const SCHEME_PREFIX = /^([a-z][a-z0-9+.-]*):\/\//i;
const HEX_ONLY = /^[0-9a-f]+$/i;
const DIGITS_ONLY = /^\d+$/;
const HASH_TYPE_BY_LENGTH: Record<number, IocType> = { 32: 'md5', 40: 'sha1', 64: 'sha256', 128: 'sha512' };
const CVE_ID = /^CVE[-\u2010\u2011\u2013](\d{4})[-\u2010\u2011\u2013](\d{4,7})$/i;
const NON_ASCII = /[^\x00-\x7f]/;

/** Upper-case `CVE-YYYY-NNNN`, or undefined when `text` is not a CVE id. */
export function normaliseCve(text: string): string | undefined {
  const match = CVE_ID.exec(text.trim());
  return match ? `CVE-${match[1]}-${match[2]}` : undefined;
}

/** Unicode and punycode spellings of one name must meet: compare in ASCII form. */
function asciiDomain(domain: string): string {
  if (!NON_ASCII.test(domain)) return domain.toLowerCase();
  return domainToASCII(domain) || domain.toLowerCase();
}

/** `http://evil.com/` and `http://evil.com` are the same resource; everything else is compared as is. */
function urlKey(url: string): string {
  if (!url.endsWith('/')) return url;
  const authorityStart = url.indexOf('://') + 3;
  const pathStart = url.indexOf('/', authorityStart);
  return pathStart === url.length - 1 ? url.slice(0, -1) : url;
}

type ParsedIp = { version: 4; value: string; bytes: number[] } | { version: 6; address: ipaddr.IPv6; bytes: number[]; mappedIpv4?: string };

/** ::ffff:a.b.c.d — ten zero bytes, then 0xffff. */
function isIpv4Mapped(bytes: readonly number[]): boolean {
  for (let index = 0; index < 10; index++) if (bytes[index] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

function parseIp(text: string): ParsedIp | undefined {
  if (isStrictIpv4(text)) return { version: 4, value: text, bytes: text.split('.').map(Number) };
  let candidate = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (!candidate.includes(':')) return undefined;
  // A zone id (`fe80::1%eth0`) only means something on the host that wrote it: dropped, as extraction does.
  const zone = candidate.indexOf('%');
  if (zone !== -1) candidate = candidate.slice(0, zone);
  let v6: ipaddr.IPv6;
  try {
    // One parse instead of isValid() + parse(): feeds hold many thousands of addresses.
    v6 = ipaddr.IPv6.parse(candidate);
  } catch {
    return undefined;
  }
  const bytes = v6.toByteArray();
  const parsed: ParsedIp = { version: 6, address: v6, bytes };
  if (isIpv4Mapped(bytes)) parsed.mappedIpv4 = bytes.slice(12).join('.');
  return parsed;
}

/** Text of the network holding `bytes` at `prefix` bits, e.g. `2001:db8::/32`. */
function ipv6NetworkText(bytes: readonly number[], prefix: number): string {
  const network = bytes.map((byte, index) => {
    const bitsLeft = prefix - index * 8;
    return bitsLeft >= 8 ? byte : bitsLeft <= 0 ? 0 : byte & ((0xff << (8 - bitsLeft)) & 0xff);
  });
  return `${new ipaddr.IPv6(network).toString()}/${prefix}`;
}

function ipv4Number(bytes: readonly number[]): number {
  return ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
}

function ipv4NetworkKey(address: number, prefix: number): number {
  // `x << 32` is `x << 0` in JavaScript, so /0 needs its own case.
  return prefix === 0 ? 0 : (address & (0xffffffff << (32 - prefix))) >>> 0;
}

function hexOf(bytes: readonly number[]): string {
  let hex = '';
  for (const byte of bytes) hex += (byte < 16 ? '0' : '') + byte.toString(16);
  return hex;
}

/** The first `prefix` bits of a 32-nibble IPv6 hex string, as hex with the last partial nibble masked. */
function ipv6NetworkKey(hex: string, prefix: number): string {
  const wholeNibbles = prefix >> 2;
  const spareBits = prefix & 3;
  if (spareBits === 0) return hex.slice(0, wholeNibbles);
  const nibble = parseInt(hex[wholeNibbles], 16) & ((0xf << (4 - spareBits)) & 0xf);
  return hex.slice(0, wholeNibbles) + nibble.toString(16);
}

function ipv6Entry(ip: Extract<ParsedIp, { version: 6 }>): FeedEntry {
  return { kind: 'exact', type: 'ipv6', value: ip.address.toString(), key: hexOf(ip.bytes) };
}

function classifyCidr(text: string, slash: number): FeedEntry | undefined {
  const lengthText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lengthText)) return undefined;
  const ip = parseIp(text.slice(0, slash));
  if (!ip) return undefined;
  const prefix = Number(lengthText);
  if (ip.version === 4) {
    if (prefix > 32) return undefined;
    if (prefix === 32) return { kind: 'exact', type: 'ipv4', value: ip.value };
    const network = ipv4NetworkKey(ipv4Number(ip.bytes), prefix);
    const networkText = [network >>> 24, (network >>> 16) & 255, (network >>> 8) & 255, network & 255].join('.');
    return { kind: 'cidr', type: 'ipv4', value: `${networkText}/${prefix}`, key: network, prefix };
  }
  if (prefix > 128) return undefined;
  if (prefix === 128) return ip.mappedIpv4 ? { kind: 'exact', type: 'ipv4', value: ip.mappedIpv4 } : ipv6Entry(ip);
  return { kind: 'cidr', type: 'ipv6', value: ipv6NetworkText(ip.bytes, prefix), key: ipv6NetworkKey(hexOf(ip.bytes), prefix), prefix };
}

/**
 * Classifies one feed entry (a line's first token, a CSV cell, a JSON string) or returns undefined
 * when it is none of the supported indicator kinds.
 */
export function classifyEntry(raw: string): FeedEntry | undefined {
  const text = refang(raw.trim());
  if (text === '') return undefined;

  const scheme = SCHEME_PREFIX.exec(text);
  if (scheme) {
    if (!URL_SCHEMES.has(scheme[1].toLowerCase())) return undefined;
    const parsed = parseUrl(text);
    return parsed ? { kind: 'exact', type: 'url', value: urlKey(parsed.value) } : undefined;
  }

  const slash = text.indexOf('/');
  if (slash > 0) return classifyCidr(text, slash);

  const ip = parseIp(text);
  if (ip) {
    if (ip.version === 4) return { kind: 'exact', type: 'ipv4', value: ip.value };
    return ip.mappedIpv4 ? { kind: 'exact', type: 'ipv4', value: ip.mappedIpv4 } : ipv6Entry(ip);
  }

  const hashType = HASH_TYPE_BY_LENGTH[text.length];
  if (hashType && HEX_ONLY.test(text) && !DIGITS_ONLY.test(text)) return { kind: 'exact', type: hashType, value: text.toLowerCase() };

  const cve = normaliseCve(text);
  if (cve) return { kind: 'exact', type: 'cve', value: cve };

  const at = text.lastIndexOf('@');
  if (at > 0) {
    const local = text.slice(0, at);
    if (/\s/.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..')) return undefined;
    const domain = checkDomain(text.slice(at + 1), true);
    return domain ? { kind: 'exact', type: 'email', value: `${local.toLowerCase()}@${asciiDomain(domain)}` } : undefined;
  }

  // Blocklists write "every subdomain of" as `*.evil.com` or `.evil.com`; subdomains match anyway.
  let name = text.replace(/^\*?\./, '');
  if (name.endsWith('.')) name = name.slice(0, -1);
  const domain = checkDomain(name, true);
  return domain ? { kind: 'exact', type: 'domain', value: asciiDomain(domain) } : undefined;
}

/** byType keys: indicator types for exact entries, `ipv4Cidr` / `ipv6Cidr` for networks. */
function countKey(entry: FeedEntry): string {
  return entry.kind === 'cidr' ? `${entry.type}Cidr` : entry.type;
}

/** The listed entries of one feed copy and the lookup over them. Built once per download, then read-only. */
export class FeedIndex {
  private readonly exact = new Map<IocType, Set<string>>();
  private readonly ipv4Networks = new Map<number, Set<number>>();
  private readonly ipv6Networks = new Map<number, Set<string>>();
  /** Listed IPv6 addresses by their 32 hex digits. */
  private readonly ipv6Addresses = new Set<string>();
  /** Prefix lengths present, longest first: the most specific listed network is reported. */
  private ipv4Prefixes: number[] = [];
  private ipv6Prefixes: number[] = [];
  private readonly counts: Record<string, number> = {};
  private entryCount = 0;

  /** Adds an entry; false when it was already listed. */
  add(entry: FeedEntry): boolean {
    let added: boolean;
    if (entry.kind === 'exact' && entry.type === 'ipv6') {
      added = !this.ipv6Addresses.has(entry.key!);
      this.ipv6Addresses.add(entry.key!);
    } else if (entry.kind === 'exact') {
      let values = this.exact.get(entry.type);
      if (!values) this.exact.set(entry.type, (values = new Set()));
      added = !values.has(entry.value);
      values.add(entry.value);
    } else if (entry.type === 'ipv4') {
      added = addToPrefixMap(this.ipv4Networks, entry.prefix, entry.key as number);
      if (added && this.ipv4Networks.get(entry.prefix)!.size === 1) this.ipv4Prefixes = sortedPrefixes(this.ipv4Networks);
    } else {
      added = addToPrefixMap(this.ipv6Networks, entry.prefix, entry.key as string);
      if (added && this.ipv6Networks.get(entry.prefix)!.size === 1) this.ipv6Prefixes = sortedPrefixes(this.ipv6Networks);
    }
    if (added) {
      const key = countKey(entry);
      this.counts[key] = (this.counts[key] ?? 0) + 1;
      this.entryCount++;
    }
    return added;
  }

  get size(): number {
    return this.entryCount;
  }

  /** Entries per kind (`ipv4`, `ipv4Cidr`, `domain`, ...). */
  byType(): Record<string, number> {
    return { ...this.counts };
  }

  /** Indicator types this copy can answer (a CIDR makes the feed answer for its address family). */
  types(): IocType[] {
    const types = new Set<IocType>(this.exact.keys());
    if (this.ipv4Networks.size > 0) types.add('ipv4');
    if (this.ipv6Networks.size > 0 || this.ipv6Addresses.size > 0) types.add('ipv6');
    return [...types];
  }

  lookup(indicator: Indicator): FeedMatch | undefined {
    const value = String(indicator.value ?? '').trim();
    switch (indicator.type) {
      case 'ipv4':
      case 'ipv6':
        return this.lookupIp(value);
      case 'domain':
        return this.lookupDomain(value);
      case 'url': {
        const normalised = SCHEME_PREFIX.test(value) ? (parseUrl(value)?.value ?? value) : value;
        return this.lookupExact('url', urlKey(normalised));
      }
      case 'cve':
        return this.lookupExact('cve', normaliseCve(value) ?? value);
      case 'email': {
        const at = value.lastIndexOf('@');
        return this.lookupExact('email', at > 0 ? `${value.slice(0, at).toLowerCase()}@${asciiDomain(value.slice(at + 1))}` : value.toLowerCase());
      }
      default:
        return this.lookupExact(indicator.type, value.toLowerCase());
    }
  }

  private lookupExact(type: IocType, value: string): FeedMatch | undefined {
    return this.exact.get(type)?.has(value) ? { by: 'exact', entry: value } : undefined;
  }

  private lookupIp(text: string): FeedMatch | undefined {
    const ip = parseIp(text);
    if (!ip) return undefined;
    if (ip.version === 6 && ip.mappedIpv4) {
      // ::ffff:a.b.c.d is the IPv4 host a.b.c.d: IPv4 entries and networks list it.
      const asIpv4 = this.lookupIp(ip.mappedIpv4);
      if (asIpv4) return asIpv4;
    }
    if (ip.version === 4) {
      const exact = this.lookupExact('ipv4', ip.value);
      if (exact) return exact;
      if (this.ipv4Prefixes.length === 0) return undefined;
      const address = ipv4Number(ip.bytes);
      for (const prefix of this.ipv4Prefixes) {
        const network = ipv4NetworkKey(address, prefix);
        if (this.ipv4Networks.get(prefix)!.has(network)) {
          const networkText = [network >>> 24, (network >>> 16) & 255, (network >>> 8) & 255, network & 255].join('.');
          return { by: 'cidr', entry: `${networkText}/${prefix}` };
        }
      }
      return undefined;
    }
    const hex = hexOf(ip.bytes);
    if (this.ipv6Addresses.has(hex)) return { by: 'exact', entry: ip.address.toString() };
    for (const prefix of this.ipv6Prefixes) {
      if (this.ipv6Networks.get(prefix)!.has(ipv6NetworkKey(hex, prefix))) {
        return { by: 'cidr', entry: ipv6NetworkText(ip.bytes, prefix) };
      }
    }
    return undefined;
  }

  private lookupDomain(text: string): FeedMatch | undefined {
    const domains = this.exact.get('domain');
    if (!domains) return undefined;
    let name = asciiDomain(text.endsWith('.') ? text.slice(0, -1) : text);
    if (domains.has(name)) return { by: 'exact', entry: name };
    // Walk up the parents: a.b.evil.com -> b.evil.com -> evil.com -> com.
    for (let dot = name.indexOf('.'); dot !== -1; dot = name.indexOf('.')) {
      name = name.slice(dot + 1);
      if (domains.has(name)) return { by: 'subdomain', entry: name };
    }
    return undefined;
  }
}

function addToPrefixMap<K>(map: Map<number, Set<K>>, prefix: number, key: K): boolean {
  let networks = map.get(prefix);
  if (!networks) map.set(prefix, (networks = new Set()));
  if (networks.has(key)) return false;
  networks.add(key);
  return true;
}

function sortedPrefixes(map: Map<number, Set<unknown>>): number[] {
  return [...map.keys()].sort((a, b) => b - a);
}

// ---------------------------------------------------------------------------------------------
// Formats

/** A downloaded or read feed: text, or JSON the HTTP stack already parsed. */
export interface FeedBody {
  text?: string;
  json?: unknown;
  /** Content-Type of a download (`text/csv` picks CSV in auto mode). */
  contentType?: string;
  /** File path or URL path: its extension (`.csv`, `.json`) guides auto mode. */
  origin?: string;
}

export interface FeedParseOptions {
  format?: FeedFormat;
  /** CSV: header name (case-insensitive) or 0-based column index. Default: a well-known header name, else column 0. */
  csvColumn?: string | number;
  /** JSON objects: the member (dotted path allowed) holding the indicator. Default: a well-known name. */
  jsonField?: string;
  /** Keep only these indicator types; the others are counted as filtered. */
  types?: readonly IocType[];
}

export interface ParsedFeed {
  index: FeedIndex;
  format: Exclude<FeedFormat, 'auto'>;
  /** Entries that were none of the supported kinds (comments and blank lines are not counted). */
  skipped: number;
  /** A few skipped entries (trimmed to 80 characters) to help fix a feed. */
  skippedExamples: string[];
  duplicates: number;
  /** Entries of a type outside `types`. */
  filtered: number;
}

/** Column and member names that usually hold the indicator, most specific first. */
const INDICATOR_NAMES = [
  'indicator',
  'ioc',
  'observable',
  'value',
  'ip',
  'ip_address',
  'ipaddress',
  'address',
  'cidr',
  'network',
  'domain',
  'hostname',
  'host',
  'fqdn',
  'url',
  'hash',
  'sha256',
  'sha1',
  'md5',
  'sha512',
  'email',
  'cve',
  'cveid',
  'cve_id',
];

/** A hosts file blocks a name by pointing it here: `0.0.0.0 evil.com` lists `evil.com`. */
const HOSTS_SINKS = new Set(['0.0.0.0', '127.0.0.1', '::', '::1']);

/** Feeds grow to a few hundred thousand lines; a cap keeps the examples list tiny. */
const MAX_SKIPPED_EXAMPLES = 5;

export class FeedParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FeedParseError';
  }
}

/** What a format reader hands the builder: a candidate entry (with its line for examples), or an unusable piece. */
type FeedItem = { entry: string; context: string } | { skip: string };

class FeedBuilder {
  readonly index = new FeedIndex();
  skipped = 0;
  duplicates = 0;
  filtered = 0;
  readonly skippedExamples: string[] = [];
  private readonly wanted?: ReadonlySet<IocType>;

  constructor(types: readonly IocType[] | undefined) {
    this.wanted = types ? new Set(types) : undefined;
  }

  take(item: FeedItem): void {
    if ('skip' in item) {
      this.skip(item.skip);
      return;
    }
    const entry = classifyEntry(item.entry);
    if (!entry) this.skip(item.context);
    else if (this.wanted && !this.wanted.has(entry.type)) this.filtered++;
    else if (!this.index.add(entry)) this.duplicates++;
  }

  private skip(context: string): void {
    this.skipped++;
    if (this.skippedExamples.length < MAX_SKIPPED_EXAMPLES) this.skippedExamples.push(context.trim().slice(0, 80));
  }
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Auto mode: extension, then content type, then the first meaningful character or line. */
function detectFormat(body: FeedBody, text: string | undefined): Exclude<FeedFormat, 'auto'> {
  if (text === undefined) return 'json';
  const extension = /\.([a-z0-9]+)(?:[?#].*)?$/i.exec(body.origin ?? '')?.[1]?.toLowerCase();
  if (extension === 'csv' || extension === 'tsv') return 'csv';
  if (extension === 'json' || extension === 'ndjson' || extension === 'jsonl') return 'json';
  const contentType = (body.contentType ?? '').toLowerCase();
  if (contentType.includes('csv') || contentType.includes('tab-separated')) return 'csv';
  if (contentType.includes('json')) return 'json';
  const start = /\S/.exec(text);
  if (start && (text[start.index] === '[' || text[start.index] === '{')) return 'json';
  const firstLine = text
    .split(/\r?\n/, 50)
    .map((line) => line.trim())
    .find((line) => line !== '' && !isCommentLine(line));
  // A comma outside a URL means columns; URLs may carry commas in their paths.
  if (firstLine && !firstLine.includes('://') && /[,\t;]/.test(firstLine) && !/\s[#;]/.test(firstLine)) return 'csv';
  return 'text';
}

function isCommentLine(line: string): boolean {
  return line.startsWith('#') || line.startsWith('//') || line.startsWith(';') || line.startsWith('!');
}

function* textItems(text: string): Generator<FeedItem> {
  for (const rawLine of text.split('\n')) {
    let line = rawLine.trim();
    if (line === '' || isCommentLine(line)) continue;
    // Trailing comments: `203.0.113.7 # scanner`, `198.51.100.0/24 ; SBL123` (Spamhaus DROP).
    const comment = /\s[#;]/.exec(line);
    if (comment) line = line.slice(0, comment.index).trim();
    const tokens = line.split(/\s+/);
    if (tokens.length >= 2 && HOSTS_SINKS.has(tokens[0])) {
      for (const name of tokens.slice(1)) yield { entry: name, context: line };
    } else {
      yield { entry: tokens[0], context: line };
    }
  }
}

/** The delimiter used most in the first data line, outside quotes. */
function detectDelimiter(text: string): string {
  const firstLine = text.split('\n', 50).find((line) => line.trim() !== '' && !line.trimStart().startsWith('#')) ?? '';
  let best = ',';
  let bestCount = 0;
  for (const candidate of [',', '\t', ';', '|']) {
    let count = 0;
    let quoted = false;
    for (const char of firstLine) {
      if (char === '"') quoted = !quoted;
      else if (!quoted && char === candidate) count++;
    }
    if (count > bestCount) {
      best = candidate;
      bestCount = count;
    }
  }
  return best;
}

/**
 * RFC 4180 rows: quoted fields may hold delimiters, doubled quotes and line breaks. A line
 * starting with `#` outside a quoted field is a comment.
 */
export function* csvRows(text: string, delimiter = ','): Generator<string[]> {
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let atRowStart = true;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (quoted) {
      if (char === '"') {
        if (text[index + 1] === '"') {
          field += '"';
          index++;
        } else {
          quoted = false;
        }
      } else {
        field += char;
      }
      continue;
    }
    if (atRowStart && char === '#') {
      const end = text.indexOf('\n', index);
      index = end === -1 ? text.length : end;
      continue;
    }
    atRowStart = false;
    if (char === '"' && field.trim() === '') {
      field = '';
      quoted = true;
    } else if (char === delimiter) {
      row.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[index + 1] === '\n') index++;
      row.push(field);
      if (row.length > 1 || row[0].trim() !== '') yield row;
      row = [];
      field = '';
      atRowStart = true;
    } else {
      field += char;
    }
  }
  if (!atRowStart || field !== '') {
    row.push(field);
    if (row.length > 1 || row[0].trim() !== '') yield row;
  }
}

function* csvItems(text: string, options: FeedParseOptions): Generator<FeedItem> {
  const rows = csvRows(text, detectDelimiter(text));
  const first = rows.next();
  if (first.done) return;
  const header = first.value.map((cell) => cell.trim().toLowerCase());
  let column: number;
  let headerConsumed = false;
  if (typeof options.csvColumn === 'string') {
    column = header.indexOf(options.csvColumn.trim().toLowerCase());
    if (column < 0) throw new FeedParseError(`CSV header has no column "${options.csvColumn.slice(0, 60)}"`);
    headerConsumed = true;
  } else if (typeof options.csvColumn === 'number') {
    if (!Number.isInteger(options.csvColumn) || options.csvColumn < 0) throw new FeedParseError('csvColumn must be a column name or a 0-based index');
    column = options.csvColumn;
  } else {
    const named = INDICATOR_NAMES.map((name) => header.indexOf(name)).find((index) => index >= 0);
    column = named ?? 0;
    headerConsumed = named !== undefined;
  }
  // Without a known header the first row may still be one ("address,comment"): not an error.
  if (!headerConsumed) {
    const cell = first.value[column];
    if (cell !== undefined && classifyEntry(cell) !== undefined) yield { entry: cell, context: first.value.join(',') };
  }
  for (const row of rows) {
    const cell = row[column];
    yield cell === undefined ? { skip: row.join(',') } : { entry: cell, context: row.join(',') };
  }
}

function memberAt(value: unknown, path: string): unknown {
  let current = value;
  for (const part of path.split('.')) {
    if (!current || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** The entries of a JSON document: a top-level array, or the one array member of a top-level object. */
function jsonEntries(root: unknown): unknown[] {
  if (Array.isArray(root)) return root;
  if (!root || typeof root !== 'object') throw new FeedParseError('JSON feed is neither an array nor an object holding one');
  const arrays = Object.entries(root as Record<string, unknown>).filter(([, value]) => Array.isArray(value));
  if (arrays.length === 1) return arrays[0][1] as unknown[];
  const preferred = arrays.find(([name]) => ['data', 'items', 'indicators', 'entries', 'results', 'iocs'].includes(name.toLowerCase()));
  if (preferred) return preferred[1] as unknown[];
  throw new FeedParseError(arrays.length === 0 ? 'JSON feed holds no array of entries' : 'JSON feed holds several arrays; cannot tell which lists the entries');
}

function pickIndicatorMember(item: Record<string, unknown>, jsonField: string | undefined): unknown {
  if (jsonField) return memberAt(item, jsonField);
  const byLowerName = new Map(Object.keys(item).map((name) => [name.toLowerCase(), name]));
  for (const name of INDICATOR_NAMES) {
    const actual = byLowerName.get(name);
    if (actual !== undefined && typeof item[actual] === 'string') return item[actual];
  }
  return undefined;
}

function describe(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function* jsonItems(body: FeedBody, text: string | undefined, options: FeedParseOptions): Generator<FeedItem> {
  let entries: unknown[];
  if (text === undefined) {
    entries = jsonEntries(body.json);
  } else {
    let root: unknown;
    try {
      root = JSON.parse(text);
    } catch {
      root = undefined;
    }
    if (root !== undefined) {
      entries = jsonEntries(root);
    } else {
      // NDJSON: one JSON value per line.
      entries = [];
      const broken: string[] = [];
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        try {
          entries.push(JSON.parse(line));
        } catch {
          broken.push(line);
        }
      }
      if (entries.length === 0) throw new FeedParseError('not JSON');
      for (const line of broken) yield { skip: line };
    }
  }
  for (const item of entries) {
    if (typeof item === 'string') {
      yield { entry: item, context: item };
    } else if (item && typeof item === 'object' && !Array.isArray(item)) {
      const value = pickIndicatorMember(item as Record<string, unknown>, options.jsonField);
      yield typeof value === 'string' ? { entry: value, context: describe(item) } : { skip: describe(item) };
    } else {
      yield { skip: describe(item) };
    }
  }
}

/** Format detection and the reader for it; shared by the sync and async parsers. */
function feedItems(body: FeedBody, options: FeedParseOptions): { format: Exclude<FeedFormat, 'auto'>; items: Generator<FeedItem> } {
  const requested = options.format ?? 'auto';
  let text = body.text !== undefined ? stripBom(body.text) : undefined;
  if (text === undefined) {
    const json = body.json;
    // A one-line text feed can look like a JSON scalar (`"evil.com"`, `12345`) to the HTTP stack.
    if (json === null || typeof json !== 'object') text = typeof json === 'string' ? json : String(JSON.stringify(json) ?? '');
    else if (requested === 'text' || requested === 'csv') text = JSON.stringify(json);
  }
  const format = requested === 'auto' ? detectFormat(body, text) : requested;
  const items = format === 'json' ? jsonItems(body, text, options) : format === 'csv' ? csvItems(text ?? '', options) : textItems(text ?? '');
  return { format, items };
}

function result(builder: FeedBuilder, format: Exclude<FeedFormat, 'auto'>): ParsedFeed {
  return {
    index: builder.index,
    format,
    skipped: builder.skipped,
    skippedExamples: builder.skippedExamples,
    duplicates: builder.duplicates,
    filtered: builder.filtered,
  };
}

/**
 * Parses a whole feed. Unusable entries are counted and skipped; a structural problem (a CSV
 * column that is not there, JSON without an entry array) throws FeedParseError.
 */
export function parseFeed(body: FeedBody, options: FeedParseOptions = {}): ParsedFeed {
  const { format, items } = feedItems(body, options);
  const builder = new FeedBuilder(options.types);
  for (const item of items) builder.take(item);
  return result(builder, format);
}

/** Entries classified between two yields to the event loop (about 5-20 ms of work). */
const ENTRIES_PER_SLICE = 4000;

/**
 * parseFeed in slices: gives the event loop a turn every few thousand entries, so a refresh of a
 * 100k-entry feed does not hold up alert intake for the second a single pass takes.
 */
export async function parseFeedAsync(body: FeedBody, options: FeedParseOptions = {}): Promise<ParsedFeed> {
  const { format, items } = feedItems(body, options);
  const builder = new FeedBuilder(options.types);
  let inSlice = 0;
  for (const item of items) {
    builder.take(item);
    if (++inSlice >= ENTRIES_PER_SLICE) {
      inSlice = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  return result(builder, format);
}
