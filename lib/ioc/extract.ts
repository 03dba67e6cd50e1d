/**
 * Free-text IOC extraction.
 *
 * Rules (the corpus in test/fixtures/ioc-corpus is labelled by them):
 * - The text is refanged first; an indicator that was defanged counts as deliberately written.
 * - URLs need a scheme (http, https, ftp, ftps, sftp; hxxp/hxxps/fxp after refanging) and a host
 *   (`http://.com`, `http://a..b/` are not URLs; one-label hosts such as `http://intranet/` are).
 *   Trailing punctuation and unbalanced closing brackets are cut; a URL ends at non-ASCII quotes,
 *   guillemets, `…` and CJK / full-width punctuation (`”’»」）。`), which a URL cannot hold unencoded,
 *   and at a Markdown `](` (`[https://a/x](https://b/y)` is two URLs). `evil.com/path` without a
 *   scheme gives the domain only. A URL also yields its host as a domain / IPv4 / IPv6 indicator.
 *   URLs keep their percent-escapes; every other scan reads `%2F`, `%3A`, `%252F`... as separators,
 *   so `https%3A%2F%2Fevil.com` gives `evil.com`, not `2fevil.com`.
 * - An e-mail address also yields its domain. The user-info of any `scheme://` URL (`ssh://git@host`,
 *   `ftp://user@host`, `redis://:pw@host`) and an scp-style SSH target (`git@host:org/repo`) are
 *   not e-mails.
 * - IPs, hashes and domains are found anywhere, URL paths and queries included, except that a
 *   dotted token right after `/` or `\` (a path segment such as `/files/setup.zip`) is not a domain,
 *   except a URL host (`://host`) and a UNC host (`\\host\share`).
 * - IPv4: four decimal parts without leading zeros; not when the word before is a version word
 *   (`version 1.2.3.4`, `build 10.0.19041.1`), not inside longer dotted numbers (OIDs), not when a
 *   version suffix follows (`1.2.3.4-beta`, `-rc1`, `+deb12u2`, `~rc1`, `-2ubuntu1`), not inside a
 *   longer dotted name (`tool-1.2.3.4.tar.gz`; `.The` is a new sentence and does not count), not
 * inside a CPE name (`cpe:2.3:a:vendor:product:1.2.3.4:*...`, looked for up to 256 characters back). An address range
 *   (`203.0.113.10-203.0.113.20`, `198.51.100.0-255`) keeps its addresses. A CIDR
 *   (`203.0.113.0/24`) yields its base address.
 * - IPv6: validated by ipaddr.js; compressed, full, mixed (`::ffff:198.51.100.1`) and bracketed
 *   forms; a zone id (`%eth0`) is dropped; the value is ipaddr.js toString(). An IPv4-mapped address
 *   also yields its IPv4. A candidate needs two colons and a decimal digit (so C++ `Foo::Bar`,
 *   MAC addresses and clock times are not addresses).
 * - Hashes: a run of exactly 32/40/64/128 hex digits with no letter, digit or `_` on either side
 *   (so no 32-digit slice of a 64-digit hash, no `0x` constants), not all decimal digits. UUIDs with
 *   dashes have no such run. Lower-cased.
 * - CVE-YYYY-NNNN (4 to 7 digits), upper-cased.
 * - Domains: see domain.ts.
 * Every scan is linear in the text length: each pattern either has a negative look-behind so it
 * can only start at a token boundary, or starts with a literal, and has no nested ambiguous
 * quantifiers; IPv6 runs are found by hand around each ':'.
 */
import { analyseIp, classifyIp, clearIpCache, isStrictIpv4 } from './classify';
import { assessDomain, checkDomain, clearSuffixCache, hasPublicSuffix } from './domain';
import { hasMarkBetween, refangWithMarks } from './refang';
import type { ExtractTextOptions, Ioc, IocType } from './types';

// Non-ASCII quotes, guillemets, ellipsis, CJK and full-width punctuation end a URL; `]` ends it
// only before `(` (a Markdown link). The two alternatives are disjoint, so matching stays linear.
const URL_PATTERN =
  /(?<![A-Za-z0-9+.-])(?:https?|ftps?|sftp):\/\/(?:[^\s<>"'`{}|\\^\]\u00AB\u00BB\u2018-\u201F\u2026\u2039\u203A\u3000-\u303F\uFF01-\uFF0F\uFF1A-\uFF20\uFF3B-\uFF40\uFF5B-\uFF65]|\](?!\())+/gi;
/** The start of a URL authority of any scheme (`ssh://`, `redis://`): its user-info is no e-mail. */
const SCHEME_SLASHES = /[A-Za-z][A-Za-z0-9+.-]*:\/\/$/;
/** Characters of URL user-info (RFC 3986), looked back over from an e-mail's local part. */
const USERINFO_CHAR = /[A-Za-z0-9._~%!$&'()*+,;=:-]/;
/** Percent-escapes (double-encoded too); outside URLs they are read as separators. */
const PERCENT_ESCAPE = /%(?:25)*[0-9A-Fa-f]{2}/g;
/** The start of a CPE name (2.3 formatted string or 2.2 URI): versions in it are not addresses. */
const CPE_START = /^cpe:(?:2\.3:|\/)/i;
/** Characters that end a CPE name in running text or JSON. */
const CPE_END = /[\s"'<>,;|]/;
/** What follows a dotted quad that is a version: a pre-release or build tag, a Debian revision. */
const VERSION_SUFFIX =
  /(?:[-+~](?:alpha|beta|rc|pre|preview|dev|snapshot|nightly|final|release|stable|ga|lts|hotfix|patch|fips|generic|git|build|deb|ubuntu|debian|[abpru]\d|sp\d|el\d|fc\d)|[+~]\d|-\d{1,6}[A-Za-z])/iy;
const EMAIL_PATTERN = /(?<![\p{L}\p{N}\p{M}._%+-])[\p{L}\p{N}\p{M}._%+-]+@[\p{L}\p{N}\p{M}-]+(?:\.[\p{L}\p{N}\p{M}-]+)+/gu;
const IPV4_PATTERN = /(?<![0-9A-Za-z_.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![0-9A-Za-z_]|\.\d)/g;
// Unicode letters too: IDNs such as `пример.рф` are kept in Unicode form (tldts knows their suffixes).
const DOMAIN_PATTERN = /(?<![\p{L}\p{N}\p{M}_.-])[\p{L}\p{N}\p{M}_-]+(?:\.[\p{L}\p{N}\p{M}_-]+)+/gu;
const HEX_PATTERN = /(?<![0-9A-Za-z_])[0-9A-Fa-f]{32,128}(?![0-9A-Za-z_])/g;
const CVE_PATTERN = /(?<![A-Za-z0-9])CVE[-\u2010\u2011\u2013]\d{4}[-\u2010\u2011\u2013]\d{4,7}(?!\d)/gi;
const ZONE_ID = /[0-9A-Za-z_.-]+/y;

const HASH_TYPE_BY_LENGTH: Record<number, IocType> = { 32: 'md5', 40: 'sha1', 64: 'sha256', 128: 'sha512' };

/** Words that, right before a dotted quad, make it a version number. */
const VERSION_WORDS = new Set(['version', 'ver', 'v', 'build', 'release', 'rel', 'firmware', 'fw', 'rev', 'revision', 'patch', 'update', 'kernel', 'bios']);
/** Words that, right before a dotted token, say it is a host name. */
const DNS_WORDS = new Set([
  'domain',
  'domains',
  'dns',
  'query',
  'queried',
  'queries',
  'host',
  'hostname',
  'fqdn',
  'rrname',
  'resolve',
  'resolved',
  'resolves',
  'resolving',
  'lookup',
  'site',
  'website',
  'visited',
  'contacted',
  'beacon',
  'beacons',
  'beaconing',
  'sni',
  'c2',
  'cnc',
  'server_name',
  'servername',
  'qname',
]);

const WORD_CHAR = /[A-Za-z0-9_]/;
const NON_HEX_WORD_CHAR = /[G-Zg-z_]/;

/** Short words skipped when looking for the word that gives context: `query for x`, `beacon to x`. */
const FILLER_WORDS = new Set(['for', 'to', 'of', 'at', 'the', 'a', 'an']);

/** The word ending just before `index` (separators such as `: = " ( [` skipped) and where it starts. */
function previousWord(text: string, index: number): { word: string; start: number } {
  let cursor = index - 1;
  const separatorLimit = Math.max(0, index - 6);
  while (cursor >= separatorLimit && /[\s:=#"'([]/.test(text[cursor])) cursor--;
  const end = cursor + 1;
  const wordLimit = Math.max(0, end - 24);
  while (cursor >= wordLimit && WORD_CHAR.test(text[cursor])) cursor--;
  return { word: text.slice(cursor + 1, end).toLowerCase(), start: cursor + 1 };
}

/** The context word before `index`, lower-cased, skipping up to two filler words; '' when none. */
export function wordBefore(text: string, index: number): string {
  let found = previousWord(text, index);
  for (let skipped = 0; skipped < 2 && FILLER_WORDS.has(found.word); skipped++) found = previousWord(text, found.start);
  return found.word;
}

/** Collects indicators once each, in discovery order, keeping only the wanted types. */
export class IocCollector {
  readonly items: Ioc[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly wanted?: ReadonlySet<IocType>) {}

  wants(type: IocType): boolean {
    return this.wanted === undefined || this.wanted.has(type);
  }

  add(ioc: Ioc): void {
    if (!this.wants(ioc.type)) return;
    const key = ioc.type + '\u0000' + ioc.value;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.items.push(ioc);
  }

  addIp(text: string): void {
    const analysis = analyseIp(text);
    if (!analysis) return;
    this.add({ type: analysis.version === 4 ? 'ipv4' : 'ipv6', value: analysis.value, internal: analysis.internal });
    if (analysis.mappedIpv4) this.addIp(analysis.mappedIpv4);
  }
}

interface TextScan {
  /** The refanged text with percent-escapes blanked (same length as urlText, so offsets agree). */
  text: string;
  /** The refanged text as written, for URLs. */
  urlText: string;
  marks: number[];
  /** [start, end) of URL authorities (user-info, host, port) in `text`. */
  authorities: Array<[number, number]>;
}

/** Cuts sentence punctuation and unbalanced closing brackets off the end of a URL. */
export function trimUrlTail(url: string): string {
  let openParens = 0;
  let closeParens = 0;
  let openSquare = 0;
  let closeSquare = 0;
  for (const char of url) {
    if (char === '(') openParens++;
    else if (char === ')') closeParens++;
    else if (char === '[') openSquare++;
    else if (char === ']') closeSquare++;
  }
  let end = url.length;
  while (end > 0) {
    const last = url[end - 1];
    if ('.,;:!?\'"*'.includes(last)) {
      end--;
    } else if (last === ')' && closeParens > openParens) {
      closeParens--;
      end--;
    } else if (last === ']' && closeSquare > openSquare) {
      closeSquare--;
      end--;
    } else {
      break;
    }
  }
  return url.slice(0, end);
}

interface ParsedUrl {
  value: string;
  internal: boolean;
  authorityLength: number;
}

/** Validates the host/port of a scheme URL and builds its normalised value; undefined when not a URL. */
export function parseUrl(url: string): ParsedUrl | undefined {
  const schemeEnd = url.indexOf('://');
  const scheme = url.slice(0, schemeEnd).toLowerCase();
  const rest = url.slice(schemeEnd + 3);
  const pathStart = rest.search(/[/?#]/);
  const authority = pathStart === -1 ? rest : rest.slice(0, pathStart);
  const remainder = pathStart === -1 ? '' : rest.slice(pathStart);
  const atIndex = authority.lastIndexOf('@');
  const userInfo = atIndex === -1 ? '' : authority.slice(0, atIndex + 1);
  const hostPort = authority.slice(atIndex + 1);

  let host: string;
  let port: string;
  let internal: boolean;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close === -1) return undefined;
    host = hostPort.slice(1, close);
    port = hostPort.slice(close + 1);
    const ipClass = analyseIp(host);
    if (!ipClass || ipClass.version !== 6) return undefined;
    internal = ipClass.internal;
    host = '[' + host.toLowerCase() + ']';
  } else {
    const colon = hostPort.indexOf(':');
    host = colon === -1 ? hostPort : hostPort.slice(0, colon);
    port = colon === -1 ? '' : hostPort.slice(colon);
    if (host.length > 253 || !/^[\p{L}\p{N}\p{M}_.-]+$/u.test(host) || !hasHostLabels(host)) return undefined;
    if (/^[\d.]+$/.test(host)) {
      if (!isStrictIpv4(host)) return undefined;
      internal = classifyIp(host)!.internal;
    } else {
      // A name without a public suffix (intranet, .local, localhost) must not leave the building either.
      internal = !hasPublicSuffix(host);
    }
    host = host.toLowerCase();
  }
  if (port !== '' && (!/^:\d{1,5}$/.test(port) || Number(port.slice(1)) > 65535)) return undefined;
  return { value: scheme + '://' + userInfo + host + port + remainder, internal, authorityLength: authority.length };
}

/** Non-empty labels of at most 63 characters, not starting or ending with `-` (one final `.` allowed). */
function hasHostLabels(host: string): boolean {
  const labels = (host.endsWith('.') ? host.slice(0, -1) : host).split('.');
  for (const label of labels) {
    if (label.length === 0 || label.length > 63 || label.startsWith('-') || label.endsWith('-')) return false;
  }
  return true;
}

function scanUrls(scan: TextScan, collector: IocCollector): void {
  URL_PATTERN.lastIndex = 0;
  for (let match = URL_PATTERN.exec(scan.urlText); match !== null; match = URL_PATTERN.exec(scan.urlText)) {
    const parsed = parseUrl(trimUrlTail(match[0]));
    if (!parsed) continue;
    const authorityStart = match.index + match[0].indexOf('://') + 3;
    scan.authorities.push([authorityStart, authorityStart + parsed.authorityLength]);
    collector.add({ type: 'url', value: parsed.value, internal: parsed.internal });
  }
}

/** Spans are recorded in text order and never overlap, so binary search finds the candidate. */
function insideSpan(spans: ReadonlyArray<[number, number]>, index: number): boolean {
  let low = 0;
  let high = spans.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (spans[mid][0] <= index) low = mid + 1;
    else high = mid;
  }
  return low > 0 && index < spans[low - 1][1];
}

/** Whether the user-info ending at `index` follows a `scheme://` (looked back over at most 256 characters). */
function followsSchemeSlashes(text: string, index: number): boolean {
  let cursor = index;
  const limit = Math.max(0, index - 256);
  while (cursor > limit && USERINFO_CHAR.test(text[cursor - 1])) cursor--;
  return text[cursor - 1] === '/' && SCHEME_SLASHES.test(text.slice(Math.max(0, cursor - 34), cursor));
}

function scanEmails(scan: TextScan, collector: IocCollector): void {
  const text = scan.text;
  EMAIL_PATTERN.lastIndex = 0;
  for (let match = EMAIL_PATTERN.exec(text); match !== null; match = EMAIL_PATTERN.exec(text)) {
    const at = match[0].indexOf('@');
    const local = match[0].slice(0, at);
    if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) continue;
    if (insideSpan(scan.authorities, match.index + at) || followsSchemeSlashes(text, match.index)) continue;
    const end = match.index + match[0].length;
    // `git@host:org/repo.git`, `user@host:22`: an SSH target, not a mailbox.
    if (text[end] === ':' && /[A-Za-z0-9~/._-]/.test(text[end + 1] ?? '')) continue;
    const domain = checkDomain(match[0].slice(at + 1), true);
    if (domain) collector.add({ type: 'email', value: (local + '@' + domain).toLowerCase() });
  }
}

/** Whether the token holding `index` is a CPE name (looked back over at most 256 characters). */
function insideCpe(text: string, index: number): boolean {
  let cursor = index;
  const limit = Math.max(0, index - 256);
  while (cursor > limit && !CPE_END.test(text[cursor - 1])) cursor--;
  return (cursor === 0 || CPE_END.test(text[cursor - 1])) && CPE_START.test(text.slice(cursor, cursor + 8));
}

/** A dotted quad that reads as a version: a tag after it, or more dotted name (`.tar.gz`, not `.The`). */
function versionFollows(text: string, end: number): boolean {
  const next = text[end];
  if (next === '-' || next === '+' || next === '~') {
    VERSION_SUFFIX.lastIndex = end;
    return VERSION_SUFFIX.test(text);
  }
  if (next !== '.') return false;
  const first = text[end + 1] ?? '';
  if (!/[A-Za-z]/.test(first)) return false;
  return !(/[A-Z]/.test(first) && /[a-z]/.test(text[end + 2] ?? ''));
}

function scanIpv4(scan: TextScan, collector: IocCollector): void {
  const text = scan.text;
  IPV4_PATTERN.lastIndex = 0;
  for (let match = IPV4_PATTERN.exec(text); match !== null; match = IPV4_PATTERN.exec(text)) {
    if (!isStrictIpv4(match[0])) continue;
    if (VERSION_WORDS.has(wordBefore(text, match.index))) continue;
    if (versionFollows(text, match.index + match[0].length)) continue;
    if (insideCpe(text, match.index)) continue;
    collector.addIp(match[0]);
  }
}

/** Characters of an IPv6 literal as written: hex digits, ':' and '.' (mixed IPv4 tail). */
function isIpv6Char(code: number): boolean {
  return (code >= 48 && code <= 58) || (code >= 65 && code <= 70) || (code >= 97 && code <= 102) || code === 46;
}

/**
 * IPv6 candidates are the maximal runs of IPv6 characters around each ':'. Found with indexOf and
 * two scans instead of a regex: a pattern would be tried at every word start of the text.
 */
function scanIpv6(scan: TextScan, collector: IocCollector): void {
  const text = scan.text;
  let colon = text.indexOf(':');
  while (colon !== -1) {
    let start = colon;
    while (start > 0 && isIpv6Char(text.charCodeAt(start - 1))) start--;
    let end = colon + 1;
    while (end < text.length && isIpv6Char(text.charCodeAt(end))) end++;
    const resume = inspectIpv6Run(text, start, end, collector);
    colon = text.indexOf(':', resume);
  }
}

/** Validates one run; returns where scanning resumes (past a zone id when there is one). */
function inspectIpv6Run(text: string, start: number, end: number, collector: IocCollector): number {
  let candidate = text.slice(start, end);
  const previous = start > 0 ? text[start - 1] : '';
  const next = text[end] ?? '';
  let resume = end;
  if (next === '%') {
    ZONE_ID.lastIndex = end + 1;
    if (ZONE_ID.exec(text)) resume = ZONE_ID.lastIndex;
  } else if (NON_HEX_WORD_CHAR.test(next)) {
    return resume; // runs on into a word
  }
  let gluedToWord = WORD_CHAR.test(previous);
  if (!candidate.startsWith(':') && NON_HEX_WORD_CHAR.test(previous)) {
    // Glued to a word (`IPv6:2001:db8::1`): an address can only start after the first colon.
    candidate = candidate.slice(candidate.indexOf(':'));
    gluedToWord = true;
  }
  if (candidate.startsWith('::')) {
    if (gluedToWord) return resume; // `Foo::Bar`, `std::1`: a namespace, not an address
  } else if (candidate.startsWith(':')) {
    candidate = candidate.slice(1); // `addr:2001:db8::1`
  }
  candidate = candidate.replace(/\.+$/, '');
  if (candidate.endsWith(':') && !candidate.endsWith('::')) candidate = candidate.slice(0, -1);
  let colons = 0;
  for (let index = 0; index < candidate.length; index++) if (candidate.charCodeAt(index) === 58) colons++;
  if (colons < 2 || !/\d/.test(candidate) || candidate === '::') return resume;
  collector.addIp(candidate);
  return resume;
}

/** `\\host\share`: two backslashes, not preceded by a third or by a word character. */
function isUncHostStart(text: string, start: number): boolean {
  if (start < 2 || text[start - 2] !== '\\') return false;
  const before = start >= 3 ? text[start - 3] : '';
  return before !== '\\' && !WORD_CHAR.test(before);
}

/** Context that makes a dotted token a host name even when it looks like a file name or code. */
function domainHasStrongContext(scan: TextScan, start: number, end: number, candidate: string): boolean {
  const previous = start > 0 ? scan.text[start - 1] : '';
  if (previous === '@') return true;
  if (previous === '/' && scan.text.slice(Math.max(0, start - 3), start) === '://') return true;
  if (previous === '\\' && isUncHostStart(scan.text, start)) return true;
  if (hasMarkBetween(scan.marks, start, end)) return true;
  if (/^www\./i.test(candidate)) return true;
  return DNS_WORDS.has(wordBefore(scan.text, start));
}

function scanDomains(scan: TextScan, collector: IocCollector): void {
  const text = scan.text;
  DOMAIN_PATTERN.lastIndex = 0;
  for (let match = DOMAIN_PATTERN.exec(text); match !== null; match = DOMAIN_PATTERN.exec(text)) {
    let candidate = match[0];
    let start = match.index;
    // Hyphens at either end are punctuation (`-evil.com` in a list, `evil.com--` in prose), but a
    // name right after `--` is a command-line flag (`--web.page`), unless it was defanged.
    if (candidate.startsWith('-') || candidate.endsWith('-')) {
      let leading = 0;
      while (candidate[leading] === '-') leading++;
      let trailing = candidate.length;
      while (trailing > leading && candidate[trailing - 1] === '-') trailing--;
      candidate = candidate.slice(leading, trailing);
      start += leading;
      if (leading >= 2 && !hasMarkBetween(scan.marks, start, start + candidate.length)) continue;
      if (candidate === '') continue;
    }
    const end = start + candidate.length;
    const previous = start > 0 ? text[start - 1] : '';
    const next = text[end] ?? '';
    if (next === '@' || next === '(' || next === '=' || previous === '$') continue;
    const pathSegment = previous === '/' || previous === '\\';
    let strong: boolean | undefined; // worked out only when a rule asks for it
    const accept = (name: string): string | undefined => {
      const verdict = assessDomain(name);
      if (!verdict) return undefined;
      if (verdict.needsContext || pathSegment) {
        strong ??= domainHasStrongContext(scan, start, end, candidate);
        if (!strong) return undefined;
      }
      return verdict.value;
    };
    let domain = accept(candidate);
    if (!domain) {
      // A missing space after a full stop (`evil.com.Next`) glues the next sentence on.
      const lastDot = candidate.lastIndexOf('.');
      if (/^[A-Z][a-z]/.test(candidate.slice(lastDot + 1)) && /[a-z0-9]$/.test(candidate.slice(0, lastDot))) domain = accept(candidate.slice(0, lastDot));
    }
    if (domain) collector.add({ type: 'domain', value: domain });
  }
}

function scanHashes(scan: TextScan, collector: IocCollector): void {
  HEX_PATTERN.lastIndex = 0;
  for (let match = HEX_PATTERN.exec(scan.text); match !== null; match = HEX_PATTERN.exec(scan.text)) {
    const type = HASH_TYPE_BY_LENGTH[match[0].length];
    if (type === undefined || /^\d+$/.test(match[0])) continue;
    collector.add({ type, value: match[0].toLowerCase() });
  }
}

function scanCves(scan: TextScan, collector: IocCollector): void {
  CVE_PATTERN.lastIndex = 0;
  for (let match = CVE_PATTERN.exec(scan.text); match !== null; match = CVE_PATTERN.exec(scan.text)) {
    collector.add({ type: 'cve', value: match[0].toUpperCase().replace(/[\u2010\u2011\u2013]/g, '-') });
  }
}

/** `%2F` -> `%  `: the same length, so offsets into either text agree. */
function blankPercentEscapes(text: string): string {
  if (!text.includes('%')) return text;
  PERCENT_ESCAPE.lastIndex = 0;
  return text.replace(PERCENT_ESCAPE, (escape) => '%' + ' '.repeat(escape.length - 1));
}

/** Runs every scanner the collector wants over `text` (refanged here). */
export function collectFromText(text: string, collector: IocCollector): void {
  const { text: refanged, marks } = refangWithMarks(text);
  const scan: TextScan = { text: blankPercentEscapes(refanged), urlText: refanged, marks, authorities: [] };
  // URLs first: e-mail scanning needs their authority spans.
  if (collector.wants('url') || collector.wants('email')) scanUrls(scan, collector);
  if (collector.wants('email') && refanged.includes('@')) scanEmails(scan, collector);
  if (collector.wants('ipv4') || collector.wants('ipv6')) scanIpv4(scan, collector);
  if (collector.wants('ipv6') || collector.wants('ipv4')) scanIpv6(scan, collector);
  if (collector.wants('domain')) scanDomains(scan, collector);
  if (collector.wants('md5') || collector.wants('sha1') || collector.wants('sha256') || collector.wants('sha512')) scanHashes(scan, collector);
  if (collector.wants('cve')) scanCves(scan, collector);
}

/** Indicators in free text, each once, refanged and normalised. */
export function extractFromText(text: string, opts: ExtractTextOptions = {}): Ioc[] {
  const collector = new IocCollector(opts.types ? new Set(opts.types) : undefined);
  collectFromText(text, collector);
  return collector.items;
}

/**
 * Forgets the cached IP analyses and public-suffix verdicts. Results never depend on the caches;
 * benchmarks call this so repeated passes over the same texts are not measured warm.
 */
export function clearExtractionCaches(): void {
  clearIpCache();
  clearSuffixCache();
}
