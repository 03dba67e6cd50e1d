/**
 * Coercion of loose input values into the typed fields of the normalised alert. Everything here
 * returns undefined for a value it cannot trust (the caller drops the field rather than fail).
 * Regular expressions are module constants: nothing is compiled per alert.
 */
import ipaddr from 'ipaddr.js';

// ---------------------------------------------------------------- refang

const DEFANG_HINT = /[[({]|^h(?:xx|\*\*)ps?/i;
const REFANG_SCHEME = /^h(?:xx|\*\*)p(s?)(?=[:[])/i;
const REFANG_DOT = /\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\{dot\}/gi;
const REFANG_COLON = /\[:\]|\(:\)|\{:\}/g;
const REFANG_AT = /\[@\]|\(@\)|\{@\}|\[at\]|\(at\)/gi;
const REFANG_SLASH = /\[\/\]/g;

/** hxxp -> http, [.] (.) {.} [dot] -> ".", [:] -> ":", [@] [at] -> "@", [/] -> "/". Cheap when there is nothing to do. */
export function refang(value: string): string {
  if (!DEFANG_HINT.test(value)) return value;
  return value.replace(REFANG_SCHEME, 'http$1').replace(REFANG_DOT, '.').replace(REFANG_COLON, ':').replace(REFANG_AT, '@').replace(REFANG_SLASH, '/');
}

// ---------------------------------------------------------------- scalars

/** Multi-value fields (Splunk mv fields, ECS arrays) count by their first value where one is expected. */
export function scalar(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}

/** A trimmed non-empty string (finite numbers accepted) of at most `max` characters; longer is dropped. */
export function boundedString(value: unknown, max: number): string | undefined {
  const v = scalar(value);
  let s: string;
  if (typeof v === 'string') {
    // Refuse before trimming: trimming a multi-megabyte string would copy it for nothing.
    if (v.length > max * 2 + 16) return undefined;
    s = v.trim();
  } else if (typeof v === 'number' && Number.isFinite(v)) s = String(v);
  else return undefined;
  return s === '' || s.length > max ? undefined : s;
}

/** A trimmed non-empty string cut to `max` characters (with an ellipsis); for titles and descriptions. */
export function truncatedString(value: unknown, max: number): string | undefined {
  const v = scalar(value);
  let s: string;
  if (typeof v === 'string') {
    // Trim only when needed: trimming a multi-megabyte string copies it.
    s = v.length > max * 2 ? v.slice(0, max * 2).trim() : v.trim();
  } else if (typeof v === 'number' && Number.isFinite(v)) s = String(v);
  else return undefined;
  if (s === '') return undefined;
  if (s.length <= max) return s;
  let cut = max - 1;
  // Do not split a surrogate pair.
  const code = s.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return `${s.slice(0, cut)}…`;
}

const DIGITS = /^\d{1,5}$/;

/** An integer 0..65535 from a number or a digit string; anything else (1.5, -1, 1e400, "80/tcp") is dropped. */
export function toPort(value: unknown): number | undefined {
  const v = scalar(value);
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && DIGITS.test(v.trim())) n = Number(v.trim());
  else return undefined;
  return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : undefined;
}

// ---------------------------------------------------------------- network values

// Dotted-quad IPv4 without leading zeros: the only IPv4 text accepted (ipaddr.js also takes
// "127.1", "0x7f.0.0.1" and octal forms, which are ambiguous in logs and never what a firewall
// should be told). Checked by pattern first: ipaddr.js reports invalid input by throwing, and
// exceptions on the per-alert path cost more than the whole rest of the mapping.
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
// The shape of IPv6 text (hex groups, "::", optional dotted-quad tail); only text of this shape
// goes on to ipaddr.js, so "198.18.10.12:9100" or "web-02:9100" never cost an exception.
// Zone ids ("fe80::1%eth0") are refused.
const IPV6_SHAPE = /^(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|\d{1,3}(?:\.\d{1,3}){3})$/;

function isIpv6(s: string): boolean {
  return s.length <= 45 && IPV6_SHAPE.test(s) && ipaddr.IPv6.isValid(s);
}

export function isIp(value: string): boolean {
  return IPV4.test(value) || isIpv6(value);
}

/**
 * A strictly parsed IP address in canonical text (IPv6 per RFC 5952, IPv4-mapped IPv6 as IPv4).
 */
export function toIp(value: unknown): string | undefined {
  const v = scalar(value);
  if (typeof v !== 'string' || v.length > 100) return undefined;
  let s = v.trim();
  if (s === '') return undefined;
  s = refang(s);
  if (IPV4.test(s)) return s;
  if (s.charCodeAt(0) === 91 /* [ */ && s.endsWith(']')) s = s.slice(1, -1);
  if (!isIpv6(s)) return undefined;
  const addr = ipaddr.IPv6.parse(s);
  return addr.isIPv4MappedAddress() ? addr.toIPv4Address().toString() : addr.toRFC5952String();
}

const HOST_LABELS = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
const ALL_NUMERIC = /^[\d.]+$/;

/** A DNS name, lower-cased, without the trailing root dot; single labels allowed ("wpad"). */
export function toDnsName(value: unknown): string | undefined {
  const v = scalar(value);
  if (typeof v !== 'string' || v.length > 300) return undefined;
  let s = refang(v.trim()).toLowerCase();
  if (s.endsWith('.')) s = s.slice(0, -1);
  if (!HOST_LABELS.test(s) || ALL_NUMERIC.test(s)) return undefined;
  return s;
}

/** A domain worth looking up: a DNS name with at least one dot. */
export function toDomain(value: unknown): string | undefined {
  const s = toDnsName(value);
  return s !== undefined && s.includes('.') ? s : undefined;
}

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
export const URL_MAX = 8192;

export interface ParsedUrl {
  full: string;
  /** Host name as the WHATWG parser gives it (lower case; IPv6 without brackets). */
  host: string;
}

/** An absolute URL (after refanging); the text is kept as sent, only refanged. */
export function toUrl(value: unknown): ParsedUrl | undefined {
  const v = scalar(value);
  if (typeof v !== 'string' || v.length > URL_MAX + 64) return undefined;
  const s = refang(v.trim());
  if (s.length > URL_MAX || !URL_SCHEME.test(s)) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(s);
  } catch {
    return undefined;
  }
  let host = parsed.hostname;
  if (host.charCodeAt(0) === 91 /* [ */) host = host.slice(1, -1);
  return { full: s, host };
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,253}\.[^\s@.]{2,63}$/;

export function toEmail(value: unknown): string | undefined {
  const v = scalar(value);
  if (typeof v !== 'string' || v.length > 320) return undefined;
  const s = refang(v.trim());
  return EMAIL.test(s) ? s : undefined;
}

// ---------------------------------------------------------------- hashes

const HEX = /^[0-9a-fA-F]+$/;

export type HashType = 'md5' | 'sha1' | 'sha256';

/** The hash type by length and hex alphabet (32 md5, 40 sha1, 64 sha256). */
export function hashType(value: string): HashType | undefined {
  const len = value.length;
  if (len !== 32 && len !== 40 && len !== 64) return undefined;
  if (!HEX.test(value)) return undefined;
  return len === 32 ? 'md5' : len === 40 ? 'sha1' : 'sha256';
}

// ---------------------------------------------------------------- time

// 2026-11-20T21:05:44.120931+0000, 2026-11-20 08:14:03Z, 2026-11-20T12:00:00+01:00, 2026-11-20
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(?:([Zz])|(?:UTC|GMT)|([+-])(\d{2}):?(\d{2})?)?$/;
// Thu, 20 Nov 2026 08:14:03 GMT (HTTP-date / RFC 2822 with an explicit zone)
const MAIL_TIME = /^(?:[A-Za-z]{3},?\s+)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{2}:\d{2}(?::\d{2})?\s+(?:GMT|UTC|Z|[+-]\d{4})$/;
const EPOCH_TEXT = /^\d{1,20}(?:\.\d{1,9})?$/;

function isoFromMillis(ms: number): string | undefined {
  if (!Number.isFinite(ms)) return undefined;
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  if (Number.isNaN(year) || year < 1 || year > 9999) return undefined;
  return d.toISOString();
}

/** Epoch seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude. */
function fromEpoch(n: number): string | undefined {
  if (!Number.isFinite(n) || n < 0) return undefined;
  let ms: number;
  if (n < 1e11)
    ms = n * 1000; // seconds (up to year 5138)
  else if (n < 1e14)
    ms = n; // milliseconds
  else if (n < 1e17)
    ms = n / 1e3; // microseconds
  else ms = n / 1e6; // nanoseconds
  return isoFromMillis(Math.floor(ms));
}

function fromIsoMatch(m: RegExpExecArray): string | undefined {
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = m[4] ? Number(m[4]) : 0;
  const minute = m[5] ? Number(m[5]) : 0;
  let second = m[6] ? Number(m[6]) : 0;
  const millis = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  if (second === 60) second = 59; // a leap second is kept inside its minute
  const d = new Date(0);
  // setUTCFullYear keeps years 0..99 literal (Date.UTC would read them as 19xx).
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, millis);
  if (d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return undefined; // 2026-02-30
  let ms = d.getTime();
  if (m[9]) {
    const offH = Number(m[10]);
    const offM = m[11] ? Number(m[11]) : 0;
    if (offH > 23 || offM > 59) return undefined;
    const offset = (offH * 60 + offM) * 60000;
    ms = m[9] === '+' ? ms - offset : ms + offset;
  }
  return isoFromMillis(ms);
}

/**
 * Event time as UTC ISO-8601 with milliseconds. Accepts ISO-8601 with Z / +0100 / +01:00 offsets
 * (no offset = UTC), fractions down to nanoseconds (truncated to ms), epoch numbers or numeric
 * strings (s/ms/us/ns) and HTTP-dates. Undefined when the value cannot be read.
 */
export function toIsoTime(value: unknown): string | undefined {
  const v = scalar(value);
  if (typeof v === 'number') return fromEpoch(v);
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (s === '' || s.length > 64) return undefined;
  const m = ISO_TIME.exec(s);
  if (m) return fromIsoMatch(m);
  if (EPOCH_TEXT.test(s)) return fromEpoch(Number(s));
  if (MAIL_TIME.test(s)) return isoFromMillis(Date.parse(s));
  return undefined;
}
