/**
 * IP parsing and classification with ipaddr.js.
 *
 * `internal: true` means "never send this address to an outside service": it identifies our own
 * network or is not a real host on the internet. Internal ranges (ipaddr.js names):
 *   IPv4: unspecified, broadcast, multicast, linkLocal, loopback, carrierGradeNat, private,
 *         reserved (192.0.0.0/24, 192.88.99.0/24, 198.18.0.0/15 benchmarking, 240.0.0.0/4)
 *   IPv6: unspecified, linkLocal, multicast, loopback, uniqueLocal, deprecatedSiteLocal, discard,
 *         benchmarking, deprecatedOrchid, orchid2, droneRemoteIdProtocolEntityTags, segmentRouting,
 *         reserved (other than documentation)
 * IPv4-mapped and NAT64 (rfc6145, rfc6052) IPv6 addresses take the class of the IPv4 they embed.
 *
 * Documentation ranges (RFC 5737 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24; RFC 3849
 * 2001:db8::/32; RFC 9637 3fff::/20) are split out of ipaddr.js's "reserved" and reported as range
 * "documentation", internal: false. They belong to nobody, so looking them up leaks nothing, and
 * examples, fixtures and contract fakes use them as stand-ins for public attacker addresses.
 */
import ipaddr from 'ipaddr.js';

export interface IpClass {
  version: 4 | 6;
  internal: boolean;
  /** ipaddr.js range name, or "documentation" (see above). */
  range: string;
}

const INTERNAL_V4_RANGES = new Set(['unspecified', 'broadcast', 'multicast', 'linkLocal', 'loopback', 'carrierGradeNat', 'private', 'reserved']);
const INTERNAL_V6_RANGES = new Set([
  'unspecified',
  'linkLocal',
  'multicast',
  'loopback',
  'uniqueLocal',
  'deprecatedSiteLocal',
  'discard',
  'benchmarking',
  'deprecatedOrchid',
  'orchid2',
  'droneRemoteIdProtocolEntityTags',
  'segmentRouting',
  'reserved',
]);

const DOCUMENTATION_V4 = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'].map((cidr) => ipaddr.IPv4.parseCIDR(cidr));
const DOCUMENTATION_V6 = ['2001:db8::/32', '3fff::/20'].map((cidr) => ipaddr.IPv6.parseCIDR(cidr));

/** Strict IPv4: exactly four decimal parts 0-255 without leading zeros (010 could mean octal). */
export function isStrictIpv4(text: string): boolean {
  // Hand-rolled: this runs on every dotted quad in every alert.
  let parts = 0;
  let digits = 0;
  let value = 0;
  for (let index = 0; index <= text.length; index++) {
    const code = index < text.length ? text.charCodeAt(index) : 46; // a virtual '.' closes the last part
    if (code === 46) {
      if (digits === 0 || value > 255) return false;
      parts++;
      digits = 0;
      value = 0;
    } else if (code >= 48 && code <= 57) {
      if (digits === 1 && value === 0) return false; // leading zero
      if (++digits > 3) return false;
      value = value * 10 + (code - 48);
    } else {
      return false;
    }
  }
  return parts === 4;
}

/** Parses an IPv6 address, dropping a zone id (`fe80::1%eth0`): the zone only means something on the host that wrote it. */
export function parseIpv6(text: string): ipaddr.IPv6 | undefined {
  const withoutZone = text.includes('%') ? text.slice(0, text.indexOf('%')) : text;
  if (!ipaddr.IPv6.isValid(withoutZone)) return undefined;
  return ipaddr.IPv6.parse(withoutZone);
}

function classifyV4(address: ipaddr.IPv4): IpClass {
  if (DOCUMENTATION_V4.some((cidr) => address.match(cidr))) return { version: 4, internal: false, range: 'documentation' };
  const range = address.range();
  return { version: 4, internal: INTERNAL_V4_RANGES.has(range), range };
}

/** The IPv4 address carried inside an IPv4-mapped or NAT64 IPv6 address, if any. */
export function embeddedIpv4(address: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const range = address.range();
  if (range === 'ipv4Mapped') return address.toIPv4Address();
  if (range === 'rfc6145' || range === 'rfc6052') {
    const bytes = address.toByteArray();
    return new ipaddr.IPv4(bytes.slice(12, 16));
  }
  return undefined;
}

function classifyV6(address: ipaddr.IPv6): IpClass {
  const range = address.range();
  const embedded = embeddedIpv4(address);
  if (embedded) return { version: 6, internal: classifyV4(embedded).internal, range };
  if (DOCUMENTATION_V6.some((cidr) => address.match(cidr))) return { version: 6, internal: false, range: 'documentation' };
  return { version: 6, internal: INTERNAL_V6_RANGES.has(range), range };
}

/** Everything extraction needs to know about one IP literal. */
export interface IpAnalysis extends IpClass {
  /** Canonical text: the IPv4 as written (strict form), ipaddr.js toString() for IPv6 without zone. */
  value: string;
  /** For an IPv4-mapped IPv6 address (::ffff:a.b.c.d), the IPv4 it carries. */
  mappedIpv4?: string;
}

/** ipaddr.js parsing and range matching are the costly part, and alerts repeat addresses: bounded cache. */
const analyses = new Map<string, IpAnalysis | null>();
const ANALYSIS_CACHE_LIMIT = 10000;

function analyseUncached(text: string): IpAnalysis | undefined {
  if (isStrictIpv4(text)) return { value: text, ...classifyV4(ipaddr.IPv4.parse(text)) };
  const v6 = parseIpv6(text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text);
  if (!v6) return undefined;
  const analysis: IpAnalysis = { value: v6.toString(), ...classifyV6(v6) };
  if (analysis.range === 'ipv4Mapped') analysis.mappedIpv4 = v6.toIPv4Address().toString();
  return analysis;
}

/** Canonical value, version, class and embedded IPv4 of an IP literal; undefined when invalid. */
export function analyseIp(ip: string): IpAnalysis | undefined {
  const text = ip.trim();
  const cached = analyses.get(text);
  if (cached !== undefined) return cached ?? undefined;
  const analysis = analyseUncached(text);
  if (analyses.size >= ANALYSIS_CACHE_LIMIT) analyses.clear();
  analyses.set(text, analysis ?? null);
  return analysis;
}

/** Drops cached IP analyses (benchmarks use it to measure cold runs). */
export function clearIpCache(): void {
  analyses.clear();
}

/** Version, internal flag and range of an IP literal; undefined when it is not a valid address. */
export function classifyIp(ip: string): IpClass | undefined {
  const analysis = analyseIp(ip);
  return analysis ? { version: analysis.version, internal: analysis.internal, range: analysis.range } : undefined;
}

/** Canonical text of an IP (ipaddr.js toString(), zone dropped); undefined when invalid. */
export function canonicalIp(ip: string): { version: 4 | 6; value: string } | undefined {
  const analysis = analyseIp(ip);
  return analysis ? { version: analysis.version, value: analysis.value } : undefined;
}
