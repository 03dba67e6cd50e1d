/**
 * Known-good indicators, dropped before any lookup: exact values, CIDR ranges and domain suffixes.
 * A URL is matched by its host too, and an e-mail address by its domain, so allowlisting
 * `example.org` also drops `https://www.example.org/login` and `alice@example.org`.
 */
import ipaddr from 'ipaddr.js';
import { canonicalIp, embeddedIpv4, parseIpv6 } from './classify';
import type { Ioc } from './types';

export interface AllowlistSpec {
  values?: string[];
  cidrs?: string[];
  domainSuffixes?: string[];
}

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Lower-case, and canonical text for IP literals, so `2001:DB8:0::1` equals `2001:db8::1`. */
function normaliseValue(value: string): string {
  const trimmed = value.trim();
  return canonicalIp(trimmed)?.value ?? trimmed.toLowerCase();
}

/** Host of a URL value as produced by extraction (lower-case, IPv6 in brackets). */
function urlHost(url: string): string | undefined {
  const match = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#@]*@)?(\[[^\]]+\]|[^/?#:]+)/i.exec(url);
  if (!match) return undefined;
  const host = match[1];
  return host.startsWith('[') ? host.slice(1, -1) : host.toLowerCase();
}

export class Allowlist {
  private readonly values: Set<string>;
  private readonly cidrs: Cidr[];
  private readonly suffixes: string[];

  /** Throws on a CIDR that does not parse, naming it: a silently ignored entry would let known-good traffic through to lookups. */
  constructor(spec: AllowlistSpec) {
    this.values = new Set((spec.values ?? []).map(normaliseValue));
    this.cidrs = (spec.cidrs ?? []).map((text) => {
      try {
        return ipaddr.parseCIDR(text.trim()) as Cidr;
      } catch {
        throw new Error(`allowlist: not a CIDR range: ${JSON.stringify(text)}`);
      }
    });
    this.suffixes = (spec.domainSuffixes ?? [])
      .map((suffix) =>
        suffix
          .trim()
          .toLowerCase()
          .replace(/^\*?\.+/, '')
          .replace(/\.$/, ''),
      )
      .filter((suffix) => suffix !== '');
  }

  matches(ioc: Ioc): boolean {
    if (this.values.has(normaliseValue(ioc.value))) return true;
    switch (ioc.type) {
      case 'ipv4':
      case 'ipv6':
        return this.ipInRanges(ioc.value);
      case 'domain':
        return this.domainMatches(ioc.value);
      case 'email': {
        const domain = ioc.value.slice(ioc.value.lastIndexOf('@') + 1);
        return this.domainMatches(domain);
      }
      case 'url': {
        const host = urlHost(ioc.value);
        if (host === undefined) return false;
        return this.values.has(normaliseValue(host)) || this.ipInRanges(host) || this.domainMatches(host);
      }
      default:
        return false;
    }
  }

  private domainMatches(domain: string): boolean {
    const lower = domain.toLowerCase();
    if (this.values.has(lower)) return true;
    return this.suffixes.some((suffix) => lower === suffix || lower.endsWith('.' + suffix));
  }

  private ipInRanges(text: string): boolean {
    if (this.cidrs.length === 0) return false;
    const canonical = canonicalIp(text);
    if (!canonical) return false;
    const candidates: Array<ipaddr.IPv4 | ipaddr.IPv6> = [];
    if (canonical.version === 4) {
      candidates.push(ipaddr.IPv4.parse(canonical.value));
    } else {
      const v6 = parseIpv6(canonical.value)!;
      candidates.push(v6);
      // An IPv4-mapped address is the same host as its IPv4, so IPv4 ranges apply to it.
      const v4 = embeddedIpv4(v6);
      if (v4 && v6.range() === 'ipv4Mapped') candidates.push(v4);
    }
    return candidates.some((address) => this.cidrs.some(([network, bits]) => network.kind() === address.kind() && address.match(network, bits)));
  }
}
