/**
 * Indicator-of-compromise types shared by the extraction, allowlist and quality modules.
 */

export type IocType = 'ipv4' | 'ipv6' | 'domain' | 'url' | 'email' | 'md5' | 'sha1' | 'sha256' | 'sha512' | 'cve';

export const IOC_TYPES: readonly IocType[] = ['ipv4', 'ipv6', 'domain', 'url', 'email', 'md5', 'sha1', 'sha256', 'sha512', 'cve'];

export type IocRole = 'source' | 'destination' | 'host' | 'file' | 'url' | 'dns' | 'text';

export interface Ioc {
  type: IocType;
  /**
   * Refanged and normalised: lower-case hashes, domains and e-mail addresses, canonical IPv6
   * (ipaddr.js toString(), zone id dropped), CVE ids upper-case, URLs with lower-case scheme and host.
   */
  value: string;
  role?: IocRole;
  /** Dotted field path the indicator came from (alert extraction only). */
  source?: string;
  /**
   * Set on IPs (and on URLs whose host is an internal IP or a name without a public suffix):
   * true means the indicator must never be sent to an outside service. See classifyIp().
   */
  internal?: boolean;
}

export interface ExtractTextOptions {
  /** Only these types are returned (default: all). */
  types?: IocType[];
}
