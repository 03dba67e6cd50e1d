/**
 * Guardrails: the hub-wide policy every destructive action (block, isolate) asks first. Node-RED-free.
 *
 * - protected address ranges: defaults (loopback, link-local, private, multicast, ...), the hub's own
 *   addresses, configured gateways / DNS servers and configured CIDRs. A target CIDR is refused when it
 *   OVERLAPS any of them (so 10.0.0.0/8 or 0.0.0.0/0 are refused, not only single private addresses);
 * - protected hosts (for isolation): names, glob patterns ("*.corp.example", "dc-*") and addresses; the
 *   hub's own host name, addresses and default gateways are always protected;
 * - a cap of actions per hour and provider (sliding window).
 *
 * Everything is compared in one space: IPv6, with IPv4 ranges mapped into ::ffff:0:0/96. That way an
 * IPv4-mapped IPv6 target is checked against the IPv4 rules, and a broad IPv6 target such as ::/0 is
 * seen to cover every IPv4 range too.
 *
 * A configuration entry that does not parse does not throw (the hub must still start) and is not
 * silently dropped (the user believes it protects something): the policy then refuses EVERY action,
 * naming the bad entries, until the configuration is fixed. Fail closed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as ipaddr from 'ipaddr.js';

export interface GuardrailPolicySpec {
  protectedCidrs?: string[];
  protectedHosts?: string[];
  /** Include DEFAULT_PROTECTED_CIDRS. Default true. */
  includeDefaults?: boolean;
  /** Protect the addresses of this machine (os.networkInterfaces()) and its host name. Default true. */
  includeOwnAddresses?: boolean;
  gateways?: string[];
  dnsServers?: string[];
  /** Per provider, sliding hour. Default 100. 0 refuses every action. */
  maxActionsPerHour?: number;
  /** Settings the caller found invalid (e.g. the hub node's repeat-offender numbers): fail closed too. */
  invalidSettings?: string[];
}

export interface GuardrailDeps {
  now?: () => number;
  /** Read again at the moment of each check (at most every ownAddressCacheMs): addresses change after start. */
  ownAddresses?: () => string[];
  ownHostname?: () => string;
  /** The machine's default gateways (read from /proc/net/route and /proc/net/ipv6_route by default). */
  ownGateways?: () => string[];
  /** How long one reading of the machine's own addresses and host name is used. Default 1000 ms. */
  ownAddressCacheMs?: number;
}

const DEFAULT_OWN_CACHE_MS = 1000;

/**
 * Default ranges an isolation target may be in: hosts worth isolating live in the internal networks
 * the defaults protect from blocking. Loopback, link-local, multicast and the like stay refused.
 */
const INTERNAL_NETWORK_DEFAULTS = new Set(['10.0.0.0/8', '100.64.0.0/10', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']);

export type AddressCheck = { allowed: true; normalised: string } | { allowed: false; reason: string };

/**
 * Ranges no block may touch unless the user switches the defaults off.
 * NOT included on purpose: 198.18.0.0/15 and 2001:2::/48 (the benchmarking ranges). The system tests
 * and benchmarks use them as "internet" addresses inside network namespaces, so they must be blockable.
 * The documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are left
 * out for the same reason: examples and tests block them.
 */
export const DEFAULT_PROTECTED_CIDRS: string[] = [
  '0.0.0.0/8', // "this network", includes the unspecified 0.0.0.0
  '10.0.0.0/8', // private (RFC 1918)
  '100.64.0.0/10', // carrier-grade NAT (RFC 6598)
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local
  '172.16.0.0/12', // private (RFC 1918)
  '192.0.0.0/24', // IETF protocol assignments
  '192.168.0.0/16', // private (RFC 1918)
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, includes the limited broadcast 255.255.255.255
  '::/128', // unspecified
  '::1/128', // loopback
  'fc00::/7', // unique local (the IPv6 "private" range)
  'fe80::/10', // link-local
  'ff00::/8', // multicast
];

const DEFAULT_LABELS: Record<string, string> = {
  '0.0.0.0/8': 'this network',
  '10.0.0.0/8': 'private',
  '100.64.0.0/10': 'carrier-grade NAT',
  '127.0.0.0/8': 'loopback',
  '169.254.0.0/16': 'link-local',
  '172.16.0.0/12': 'private',
  '192.0.0.0/24': 'IETF protocol assignments',
  '192.168.0.0/16': 'private',
  '224.0.0.0/4': 'multicast',
  '240.0.0.0/4': 'reserved/broadcast',
  '::/128': 'unspecified',
  '::1/128': 'loopback',
  'fc00::/7': 'unique local',
  'fe80::/10': 'link-local',
  'ff00::/8': 'multicast',
};

const HOUR_MS = 3_600_000;
const DEFAULT_MAX_ACTIONS_PER_HOUR = 100;

/** An address or CIDR after strict parsing. */
export interface ParsedTarget {
  family: 4 | 6;
  /** Network address (host bits cleared). */
  address: ipaddr.IPv4 | ipaddr.IPv6;
  prefixLength: number;
  /** Canonical text: dotted quad / RFC 5952 IPv6; a plain address for /32 and /128, else network/len. */
  canonical: string;
}

/**
 * Parse an IP or CIDR strictly, or return why it is refused. Shared with the firewall providers so that
 * what the guardrail approved is exactly what gets written into a command.
 *
 * Refused: IPv4 in non-decimal or short forms ("127.1", "0x7f.0.0.1", "010.1.2.3": parsers disagree on
 * them), zone ids, anything with spaces. IPv4-mapped IPv6 becomes IPv4. Host bits of a CIDR are cleared.
 */
export function parseTarget(input: unknown): ParsedTarget | { error: string } {
  if (typeof input !== 'string') return { error: `not an address: expected a string, got ${typeof input}` };
  const text = input.trim();
  if (text === '') return { error: 'empty address' };
  const shown = text.length > 60 ? `${text.slice(0, 60)}...` : text;
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const prefixText = slash === -1 ? undefined : text.slice(slash + 1);

  let address: ipaddr.IPv4 | ipaddr.IPv6;
  if (ipaddr.IPv4.isValidFourPartDecimal(addressText)) {
    address = ipaddr.IPv4.parse(addressText);
  } else if (addressText.includes(':') && !addressText.includes('%') && ipaddr.IPv6.isValid(addressText)) {
    address = ipaddr.IPv6.parse(addressText);
  } else {
    return { error: `"${shown}" is not a valid IPv4/IPv6 address or CIDR` };
  }

  const maxBits = address.kind() === 'ipv4' ? 32 : 128;
  let prefixLength = maxBits;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > maxBits) {
      return { error: `"${shown}" has an invalid prefix length (0-${maxBits})` };
    }
    prefixLength = Number(prefixText);
  }

  // IPv4-mapped (::ffff:a.b.c.d): the packet on the wire is IPv4, so treat it as IPv4 throughout.
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && prefixLength >= 96) {
    address = (address as ipaddr.IPv6).toIPv4Address();
    prefixLength -= 96;
  }
  return makeParsed(address, prefixLength);
}

function makeParsed(address: ipaddr.IPv4 | ipaddr.IPv6, prefixLength: number): ParsedTarget {
  const family = address.kind() === 'ipv4' ? 4 : 6;
  const maxBits = family === 4 ? 32 : 128;
  const network = clearHostBits(address, prefixLength);
  const text = family === 4 ? network.toString() : (network as ipaddr.IPv6).toRFC5952String();
  return {
    family,
    address: network,
    prefixLength,
    canonical: prefixLength === maxBits ? text : `${text}/${prefixLength}`,
  };
}

function clearHostBits(address: ipaddr.IPv4 | ipaddr.IPv6, prefixLength: number): ipaddr.IPv4 | ipaddr.IPv6 {
  const bytes = address.toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const bitsKept = Math.min(8, Math.max(0, prefixLength - i * 8));
    bytes[i] &= (0xff << (8 - bitsKept)) & 0xff;
  }
  return ipaddr.fromByteArray(bytes);
}

/** The comparison space: IPv6, IPv4 mapped into ::ffff:0:0/96. */
function toComparable(target: ParsedTarget): { address: ipaddr.IPv6; prefixLength: number } {
  if (target.family === 4) {
    return { address: (target.address as ipaddr.IPv4).toIPv4MappedAddress(), prefixLength: target.prefixLength + 96 };
  }
  return { address: target.address as ipaddr.IPv6, prefixLength: target.prefixLength };
}

/** Two prefixes overlap exactly when they agree on the bits of the shorter one. */
function overlaps(a: ParsedTarget, b: ParsedTarget): boolean {
  const ca = toComparable(a);
  const cb = toComparable(b);
  return ca.address.match(cb.address, Math.min(ca.prefixLength, cb.prefixLength));
}

interface ProtectedRange {
  range: ParsedTarget;
  /** Where the rule comes from, shown in refusals: "default: private", "configured", "gateway", ... */
  source: string;
  /** A default that protects an internal network from blocks, not its hosts from isolation. */
  internalNetwork?: boolean;
}

/** Host names compare case-insensitively and without a trailing dot. */
function normaliseHostName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

const HOST_NAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

const NUMERIC_LABEL = /^(0x[0-9a-f]*|[0-9]+)$/;

export class GuardrailPolicy {
  private readonly now: () => number;
  private readonly ranges: ProtectedRange[] = [];
  /** Exact names, and "*.suffix" patterns stored as ".suffix". */
  private readonly hostNames = new Map<string, string>();
  private readonly hostSuffixes = new Map<string, string>();
  /** Other glob patterns ("dc-*", "web-??"): matched against the whole name and its first label. */
  private readonly hostGlobs: { pattern: string; regex: RegExp }[] = [];
  private readonly configErrors: string[] = [];
  private readonly maxActionsPerHour: number;
  /** Grant times per provider, oldest first. */
  private slots = new Map<string, number[]>();
  /** The machine's own addresses and host name, as last read (DHCP, new interfaces and IPv6 privacy addresses change them). */
  private readonly ownSource: { addresses: () => string[]; hostname: () => string; gateways: () => string[]; cacheMs: number } | undefined;
  private own: { at: number; ranges: ProtectedRange[]; hostname: string | undefined } | undefined;

  constructor(
    private readonly spec: GuardrailPolicySpec = {},
    deps: GuardrailDeps = {},
  ) {
    this.now = deps.now ?? Date.now;

    if (spec.includeDefaults !== false) {
      for (const cidr of DEFAULT_PROTECTED_CIDRS) this.addRange(cidr, `default: ${DEFAULT_LABELS[cidr]}`, INTERNAL_NETWORK_DEFAULTS.has(cidr));
    }
    if (spec.includeOwnAddresses !== false) {
      const cacheMs = deps.ownAddressCacheMs;
      this.ownSource = {
        addresses: deps.ownAddresses ?? interfaceAddresses,
        hostname: deps.ownHostname ?? (() => os.hostname()),
        gateways: deps.ownGateways ?? defaultGateways,
        cacheMs: typeof cacheMs === 'number' && Number.isFinite(cacheMs) && cacheMs >= 0 ? cacheMs : DEFAULT_OWN_CACHE_MS,
      };
      this.ownNow();
    }
    for (const entry of spec.gateways ?? []) this.addRange(entry, 'gateway');
    for (const entry of spec.dnsServers ?? []) this.addRange(entry, 'DNS server');
    for (const entry of spec.protectedCidrs ?? []) this.addRange(entry, 'configured');
    for (const entry of spec.protectedHosts ?? []) this.addHost(entry);
    for (const error of spec.invalidSettings ?? []) this.configErrors.push(error);

    const max = spec.maxActionsPerHour;
    if (max === undefined || max === null) {
      this.maxActionsPerHour = DEFAULT_MAX_ACTIONS_PER_HOUR;
    } else if (typeof max !== 'number' || Number.isNaN(max) || max < 0) {
      this.configErrors.push(`maxActionsPerHour must be a number >= 0, got ${JSON.stringify(max)}`);
      this.maxActionsPerHour = 0;
    } else {
      this.maxActionsPerHour = Math.floor(max);
    }
  }

  /** The machine's own addresses and host name now (re-read when the last reading is older than the cache time). */
  private ownNow(): { ranges: ProtectedRange[]; hostname: string | undefined } {
    if (!this.ownSource) return { ranges: [], hostname: undefined };
    const now = Date.now();
    if (this.own && now - this.own.at < this.ownSource.cacheMs && now >= this.own.at) return this.own;
    const ranges: ProtectedRange[] = [];
    let addresses: string[] = [];
    try {
      addresses = this.ownSource.addresses();
    } catch {
      // Keep the last reading rather than protect nothing when the OS cannot be asked.
      if (this.own) return this.own;
    }
    // Own addresses come from the OS: one we cannot parse is not the user's mistake, skip it.
    for (const address of addresses) {
      const parsed = parseTarget(address);
      if (!('error' in parsed)) ranges.push({ range: parsed, source: 'own address' });
    }
    let gateways: string[];
    try {
      gateways = this.ownSource.gateways();
    } catch {
      gateways = (this.own?.ranges ?? []).filter((r) => r.source === 'own gateway').map((r) => r.range.canonical);
    }
    for (const address of gateways) {
      const parsed = parseTarget(address);
      if (!('error' in parsed)) ranges.push({ range: parsed, source: 'own gateway' });
    }
    let hostname: string | undefined;
    try {
      hostname = this.ownSource.hostname() || undefined;
    } catch {
      hostname = this.own?.hostname;
    }
    this.own = { at: now, ranges, hostname: hostname ? normaliseHostName(hostname) : undefined };
    return this.own;
  }

  private addRange(entry: string, source: string, internalNetwork = false): void {
    const parsed = parseTarget(entry);
    if ('error' in parsed) this.configErrors.push(`${source}: ${parsed.error}`);
    else this.ranges.push({ range: parsed, source, ...(internalNetwork ? { internalNetwork } : {}) });
  }

  private addHost(entry: string): void {
    if (typeof entry !== 'string' || entry.trim() === '') {
      this.configErrors.push(`protected host: empty or not a string`);
      return;
    }
    // An address written among the protected hosts still means "never touch this machine".
    const asAddress = parseTarget(entry);
    if (!('error' in asAddress)) {
      this.ranges.push({ range: asAddress, source: 'protected host' });
      return;
    }
    const name = normaliseHostName(entry);
    if (name.startsWith('*.') && HOST_NAME.test(name.slice(2))) {
      this.hostSuffixes.set(name.slice(1), entry.trim());
    } else if (/[*?]/.test(name) && /[a-z0-9]/.test(name) && HOST_NAME.test(name.replace(/[*?]/g, 'x'))) {
      // "*" is any run of characters within one label, "?" one character; never across a dot.
      const source = name.replace(/[.-]/g, '\\$&').replace(/\*/g, '[a-z0-9_-]*').replace(/\?/g, '[a-z0-9_-]');
      this.hostGlobs.push({ pattern: entry.trim(), regex: new RegExp(`^${source}$`) });
    } else if (HOST_NAME.test(name)) {
      this.hostNames.set(name, 'protected host');
    } else {
      this.configErrors.push(`protected host: "${entry.trim().slice(0, 60)}" is not a host name, address or *.domain`);
    }
  }

  private configRefusal(): string | undefined {
    if (this.configErrors.length === 0) return undefined;
    return `guardrail configuration is invalid, every action is refused until it is fixed: ${this.configErrors.join('; ')}`;
  }

  /** May this IP/CIDR be blocked? On success, the canonical form to hand to the provider. */
  checkAddress(target: string): AddressCheck {
    const refusal = this.configRefusal();
    if (refusal) return { allowed: false, reason: refusal };
    const parsed = parseTarget(target);
    if ('error' in parsed) return { allowed: false, reason: parsed.error };
    for (const { range, source } of [...this.ranges, ...this.ownNow().ranges]) {
      if (overlaps(parsed, range)) {
        const verb = parsed.prefixLength === (parsed.family === 4 ? 32 : 128) ? 'is in' : 'overlaps';
        return { allowed: false, reason: `${parsed.canonical} ${verb} protected ${rangeText(range)} (${source})` };
      }
    }
    return { allowed: true, normalised: parsed.canonical };
  }

  /**
   * May the host with this address be isolated? Like checkAddress, but the default ranges of internal
   * networks (private, carrier-grade NAT, unique local) do not protect their hosts: that is where the
   * hosts to isolate are. Configured ranges, protected host addresses, gateways, DNS servers and the
   * hub's own addresses and gateways do. A range (CIDR) is never a host.
   */
  checkHostAddress(address: string): AddressCheck {
    const refusal = this.configRefusal();
    if (refusal) return { allowed: false, reason: refusal };
    const parsed = parseTarget(address);
    if ('error' in parsed) return { allowed: false, reason: parsed.error };
    if (parsed.prefixLength !== (parsed.family === 4 ? 32 : 128)) return { allowed: false, reason: `${parsed.canonical} is a range, not one host` };
    for (const { range, source, internalNetwork } of [...this.ranges, ...this.ownNow().ranges]) {
      if (!internalNetwork && overlaps(parsed, range)) return { allowed: false, reason: `${parsed.canonical} is in protected ${rangeText(range)} (${source})` };
    }
    return { allowed: true, normalised: parsed.canonical };
  }

  /** May this host (by name or address) be isolated? */
  checkHost(name: string): { allowed: boolean; reason?: string } {
    const refusal = this.configRefusal();
    if (refusal) return { allowed: false, reason: refusal };
    if (typeof name !== 'string' || name.trim() === '') return { allowed: false, reason: 'empty host name' };
    if (!('error' in parseTarget(name))) {
      const byAddress = this.checkHostAddress(name);
      return byAddress.allowed ? { allowed: true } : { allowed: false, reason: byAddress.reason };
    }
    const normalised = normaliseHostName(name);
    if (!HOST_NAME.test(normalised)) {
      return { allowed: false, reason: `"${name.trim().slice(0, 60)}" is not a valid host name` };
    }
    // "127.1" or "0x7f.1" are not names but addresses in forms resolvers still accept: refuse them.
    if (NUMERIC_LABEL.test(normalised.slice(normalised.lastIndexOf('.') + 1))) {
      return { allowed: false, reason: `"${normalised}" looks like an address in a non-standard form` };
    }
    const exact = this.hostNames.get(normalised) ?? (normalised === this.ownNow().hostname ? 'own host name' : undefined);
    if (exact) return { allowed: false, reason: `${normalised} is protected (${exact})` };
    // Compare only against the host name's own suffixes (".b.c", ".c"), so "evilcorp.example" never
    // matches "*.corp.example".
    for (let dot = normalised.indexOf('.'); dot !== -1; dot = normalised.indexOf('.', dot + 1)) {
      const pattern = this.hostSuffixes.get(normalised.slice(dot));
      if (pattern) return { allowed: false, reason: `${normalised} matches protected ${pattern} (protected host)` };
    }
    const firstLabel = normalised.split('.')[0];
    for (const { pattern, regex } of this.hostGlobs) {
      if (regex.test(normalised) || regex.test(firstLabel)) return { allowed: false, reason: `${normalised} matches protected ${pattern} (protected host)` };
    }
    const own = this.ownNow().hostname;
    // The hub by its short name when the alert names it fully, or the other way round.
    if (own && own.split('.')[0] === firstLabel && (!own.includes('.') || !normalised.includes('.')))
      return { allowed: false, reason: `${normalised} is protected (own host name)` };
    return { allowed: true };
  }

  /**
   * Take `count` action slots for a provider (all or none). The cap is per provider and sliding: never
   * more than maxActionsPerHour grants in any 60 minutes.
   */
  takeActionSlot(provider: string, count = 1): { allowed: boolean; reason?: string } {
    const refusal = this.configRefusal();
    if (refusal) return { allowed: false, reason: refusal };
    const now = this.now();
    const granted = this.liveSlots(provider, now);
    if (granted.length + count > this.maxActionsPerHour) {
      const max = this.maxActionsPerHour;
      let when = '';
      if (count <= max && granted.length > 0) {
        // The slot that must expire before `count` fit again.
        const freeingAt = granted[granted.length + count - max - 1] + HOUR_MS;
        when = `; next slot in ${Math.max(1, Math.ceil((freeingAt - now) / 60_000))} min`;
      }
      return {
        allowed: false,
        reason: `cap of ${max} actions per hour for provider "${provider}" reached (${granted.length} used${count > 1 ? `, ${count} asked` : ''})${when}`,
      };
    }
    for (let i = 0; i < count; i++) granted.push(now);
    this.slots.set(provider, granted);
    return { allowed: true };
  }

  private liveSlots(provider: string, now: number): number[] {
    const times = this.slots.get(provider) ?? [];
    let firstLive = 0;
    while (firstLive < times.length && times[firstLive] <= now - HOUR_MS) firstLive++;
    return firstLive === 0 ? times : times.slice(firstLive);
  }

  /**
   * Keep the hour's counters of a previous policy (a redeploy builds a new policy; without this a
   * redeploy would reset every cap).
   */
  carryOverFrom(previous: GuardrailPolicy): void {
    for (const [provider, times] of previous.slots) this.slots.set(provider, [...times]);
  }

  /** A plain summary for the editor and node status. */
  describe(): object {
    const now = this.now();
    const usage: Record<string, number> = {};
    for (const provider of this.slots.keys()) usage[provider] = this.liveSlots(provider, now).length;
    return {
      valid: this.configErrors.length === 0,
      errors: [...this.configErrors],
      includeDefaults: this.spec.includeDefaults !== false,
      includeOwnAddresses: this.spec.includeOwnAddresses !== false,
      protectedRanges: [...this.ranges, ...this.ownNow().ranges].map(({ range, source }) => ({ cidr: rangeText(range), source })),
      protectedHosts: [
        ...this.hostNames.keys(),
        ...(this.ownNow().hostname ? [this.ownNow().hostname!] : []),
        ...[...this.hostSuffixes.keys()].map((suffix) => `*${suffix}`),
        ...this.hostGlobs.map((glob) => glob.pattern),
      ],
      maxActionsPerHour: this.maxActionsPerHour,
      actionsLastHour: usage,
    };
  }
}

/** A range as written in reasons: always with its prefix length, so "/32" shows it is a single host. */
function rangeText(range: ParsedTarget): string {
  return range.canonical.includes('/') ? range.canonical : `${range.canonical}/${range.prefixLength}`;
}

/** Default gateways of this machine (Linux /proc; elsewhere none: configure them in the hub). */
export function defaultGateways(read: (file: string) => string = (file) => fs.readFileSync(file, 'utf8')): string[] {
  const out: string[] = [];
  try {
    // Columns: Iface Destination Gateway Flags ...; hex, little-endian; destination 0 = default route.
    for (const line of read('/proc/net/route').split('\n').slice(1)) {
      const [, destination, gateway] = line.trim().split(/\s+/);
      if (destination !== '00000000' || !gateway || gateway === '00000000') continue;
      const n = Number.parseInt(gateway, 16);
      out.push([n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join('.'));
    }
  } catch {
    // not Linux, or /proc not mounted
  }
  try {
    // Columns: dest prefixlen src srclen nexthop metric refcnt use flags iface; ::/0 = default route.
    for (const line of read('/proc/net/ipv6_route').split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[0] !== '0'.repeat(32) || f[1] !== '00' || !/^[0-9a-f]{32}$/i.test(f[4]) || /^0+$/.test(f[4])) continue;
      // Written the way reasons show addresses (fe80::1, not fe80:0000:…).
      out.push(ipaddr.parse(f[4].match(/.{4}/g)!.join(':')).toString());
    }
  } catch {
    // no IPv6
  }
  return out;
}

function interfaceAddresses(): string[] {
  const result: string[] = [];
  for (const entries of Object.values(os.networkInterfaces())) {
    for (const entry of entries ?? []) result.push(entry.address);
  }
  return result;
}
