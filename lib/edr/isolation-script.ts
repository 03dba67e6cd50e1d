/**
 * Text generation for isolating a Linux host with nftables (./ssh-nftables.ts runs it over SSH):
 * the ruleset given to one `nft -f -` and the small POSIX shell scripts that arm, disarm and inspect
 * the dead-man rollback. Pure functions, Node-RED-free, no I/O.
 *
 * Nothing reaches a script unparsed: addresses go through ipaddr.js and come out in canonical form,
 * the table name must be a plain identifier, numbers are checked integers. The shell scripts take
 * their values as positional parameters ("$1"...), never spliced into the script text.
 */
import ipaddr from 'ipaddr.js';
import { ProviderError } from '../core/errors';

export const DEFAULT_TABLE = 'soar_isolate';
/**
 * After conntrack (-200) so `ct state` is known, before mangle (-150) and filter (0), so this table's
 * drop is seen before other tables accept. A drop in any base chain is final whatever the others say.
 */
export const ISOLATION_PRIORITY = -190;

/** nft identifier that is also safe in a systemd unit name and a file name under /run. */
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,30}$/;

export function badInput(message: string): ProviderError {
  return new ProviderError({ provider: 'ssh-nftables', code: 'BAD_REQUEST', attempts: 0, message });
}

/** The table name, or a BAD_REQUEST naming what is allowed. */
export function checkTableName(name: unknown): string {
  if (typeof name !== 'string' || !TABLE_NAME.test(name)) {
    const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 40)) : typeof name;
    throw badInput(`isolation table name ${shown} is not allowed: use a letter then up to 30 letters, digits or "_"`);
  }
  return name;
}

export interface ParsedAddress {
  family: 4 | 6;
  /** Canonical address or network ("198.18.0.0/24", "2001:2::1"). */
  text: string;
}

/**
 * One management address: an IPv4/IPv6 address or CIDR. IPv4-mapped IPv6 ("::ffff:198.18.0.1", what a
 * dual-stack sshd reports) becomes IPv4; a CIDR with host bits set becomes its network. Zone ids,
 * names and anything else are refused.
 */
export function parseManagementAddress(input: unknown, what = 'management address'): ParsedAddress {
  if (typeof input !== 'string') throw badInput(`${what} must be a string, got ${typeof input}`);
  const text = input.trim();
  const shown = JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}...` : text);
  try {
    if (text.includes('/')) {
      if (!ipaddr.isValidCIDR(text)) throw new Error('not a CIDR');
      const [addr, prefix] = ipaddr.parseCIDR(text);
      if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
        const v4 = (addr as ipaddr.IPv6).toIPv4Address();
        return network(v4, prefix - 96);
      }
      return network(addr, prefix);
    }
    if (!ipaddr.isValid(text) || text.includes('%')) throw new Error('not an address');
    // ipaddr.isValid also takes "1", "0x1", "010.1" (inet_aton forms): only the four-part dotted form.
    if (!text.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(text)) throw new Error('not dotted quad');
    const addr = ipaddr.parse(text);
    if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
      return { family: 4, text: (addr as ipaddr.IPv6).toIPv4Address().toString() };
    }
    return { family: addr.kind() === 'ipv4' ? 4 : 6, text: addr.toString() };
  } catch {
    throw badInput(`${what} ${shown} is not an IP address or CIDR`);
  }
}

function network(addr: ipaddr.IPv4 | ipaddr.IPv6, prefix: number): ParsedAddress {
  if (addr.kind() === 'ipv4') {
    if (!ipaddr.IPv4.isValidFourPartDecimal(addr.toString())) throw new Error('bad v4');
    const net = ipaddr.IPv4.networkAddressFromCIDR(`${addr.toString()}/${prefix}`);
    return { family: 4, text: prefix === 32 ? net.toString() : `${net.toString()}/${prefix}` };
  }
  const net = ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/${prefix}`);
  return { family: 6, text: prefix === 128 ? net.toString() : `${net.toString()}/${prefix}` };
}

/** The management session as SSH_CONNECTION shows it: "client-ip client-port server-ip server-port". */
export interface SessionTuple {
  client: ParsedAddress;
  clientPort: number;
  server: ParsedAddress;
  serverPort: number;
}

function port(text: string | undefined): number {
  if (text === undefined || !/^\d{1,5}$/.test(text)) throw new Error('bad port');
  const value = Number(text);
  if (value < 1 || value > 65535) throw new Error('bad port');
  return value;
}

/** Parse SSH_CONNECTION; undefined when it is empty or malformed (then the hub must be configured). */
export function parseSshConnection(value: string): SessionTuple | undefined {
  const fields = value.trim().split(/\s+/);
  if (fields.length !== 4) return undefined;
  try {
    const client = parseManagementAddress(fields[0]);
    const server = parseManagementAddress(fields[2]);
    if (client.text.includes('/') || server.text.includes('/') || client.family !== server.family) return undefined;
    return { client, clientPort: port(fields[1]), server, serverPort: port(fields[3]) };
  } catch {
    return undefined;
  }
}

export interface IsolationSpec {
  table: string;
  /** Allowed both ways, every protocol: the hub, jump hosts, the EDR/log manager. */
  management: string[];
  /** Allowed only as udp/tcp 53 from the host (and their answers). */
  dns: string[];
  /** The SSH session that applies the rules: its established packets always pass. */
  session?: SessionTuple;
}

interface Sets {
  mgmt4: string[];
  mgmt6: string[];
  dns4: string[];
  dns6: string[];
}

function sortUnique(values: string[]): string[] {
  return [...new Set(values)].sort();
}

function sets(spec: IsolationSpec): Sets {
  if (!Array.isArray(spec.management) || !Array.isArray(spec.dns)) throw badInput('management and dns must be lists of addresses');
  const mgmt = spec.management.map((a) => parseManagementAddress(a));
  const dns = spec.dns.map((a) => parseManagementAddress(a, 'DNS server'));
  return {
    mgmt4: sortUnique(mgmt.filter((a) => a.family === 4).map((a) => a.text)),
    mgmt6: sortUnique(mgmt.filter((a) => a.family === 6).map((a) => a.text)),
    dns4: sortUnique(dns.filter((a) => a.family === 4).map((a) => a.text)),
    dns6: sortUnique(dns.filter((a) => a.family === 6).map((a) => a.text)),
  };
}

function setDecl(name: string, type: 'ipv4_addr' | 'ipv6_addr', elements: string[]): string {
  // nft refuses "elements = { }": an empty set is declared without the clause (and matches nothing).
  const list = elements.length > 0 ? ` elements = { ${elements.join(', ')} };` : '';
  return `  set ${name} { type ${type}; flags interval; auto-merge;${list} }`;
}

/**
 * The whole isolation as one nft transaction: create-or-replace the table (the empty declaration
 * makes the delete valid when the table does not exist yet), then declare it. Dropped: everything
 * in, out and forwarded, IPv4 and IPv6, except loopback, the management sets, DNS to the DNS set,
 * neighbour discovery (IPv6 management needs it), ICMP errors about tracked flows, and the applying
 * SSH session itself (so applying never cuts it, even when the management set is wrong; a fresh
 * session then proves the set right). Connections to other peers that were open before are cut.
 * The session is matched by its 4-tuple, not by `ct state established`: on a host without any
 * ruleset conntrack only starts with this table, and it sees the open session's next packet as
 * "new" (and never confirms it while it is dropped), which would hang the apply until the rollback.
 */
export function isolationScript(spec: IsolationSpec): string {
  const table = checkTableName(spec.table);
  const s = sets(spec);
  const input: string[] = ['iif "lo" accept'];
  const output: string[] = ['oif "lo" accept'];
  const session = spec.session;
  if (session) {
    if (!Number.isInteger(session.clientPort) || !Number.isInteger(session.serverPort)) throw badInput('session ports must be integers');
    const client = parseManagementAddress(session.client.text, 'session address');
    const server = parseManagementAddress(session.server.text, 'session address');
    const ip = client.family === 4 ? 'ip' : 'ip6';
    input.push(
      `${ip} saddr ${client.text} ${ip} daddr ${server.text} tcp sport ${port(String(session.clientPort))} tcp dport ${port(String(session.serverPort))} accept`,
    );
    output.push(`${ip} saddr ${server.text} ${ip} daddr ${client.text} tcp sport ${session.serverPort} tcp dport ${session.clientPort} accept`);
  }
  input.push(
    'ct state related meta l4proto { icmp, ipv6-icmp } accept',
    'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } ip6 hoplimit 255 accept',
    'ip saddr @mgmt4 accept',
    'ip6 saddr @mgmt6 accept',
    'ip saddr @dns4 udp sport 53 ct state established accept',
    'ip saddr @dns4 tcp sport 53 ct state established accept',
    'ip6 saddr @dns6 udp sport 53 ct state established accept',
    'ip6 saddr @dns6 tcp sport 53 ct state established accept',
  );
  output.push(
    'ct state related meta l4proto { icmp, ipv6-icmp } accept',
    'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } ip6 hoplimit 255 accept',
    'ip daddr @mgmt4 accept',
    'ip6 daddr @mgmt6 accept',
    'ip daddr @dns4 udp dport 53 accept',
    'ip daddr @dns4 tcp dport 53 accept',
    'ip6 daddr @dns6 udp dport 53 accept',
    'ip6 daddr @dns6 tcp dport 53 accept',
  );
  const chain = (name: string, hook: string, rules: string[]) => [
    `  chain ${name} {`,
    `    type filter hook ${hook} priority ${ISOLATION_PRIORITY}; policy drop;`,
    ...rules.map((rule) => `    ${rule}`),
    '  }',
  ];
  return [
    `table inet ${table} {}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    setDecl('mgmt4', 'ipv4_addr', s.mgmt4),
    setDecl('mgmt6', 'ipv6_addr', s.mgmt6),
    setDecl('dns4', 'ipv4_addr', s.dns4),
    setDecl('dns6', 'ipv6_addr', s.dns6),
    ...chain('input', 'input', input),
    ...chain('output', 'output', output),
    ...chain('forward', 'forward', []),
    '}',
    '',
  ].join('\n');
}

// ---- dead-man rollback ----------------------------------------------------------------------------

export type RollbackMode = 'auto' | 'systemd' | 'sleep';

export function rollbackUnit(table: string): string {
  return `soar-isolate-rollback-${checkTableName(table)}`;
}

export function rollbackPidFile(table: string): string {
  return `/run/soar-isolate-${checkTableName(table)}.pid`;
}

function checkSeconds(seconds: unknown): number {
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || seconds > 7 * 24 * 3600) {
    throw badInput(`rollback delay must be a whole number of seconds between 1 and 604800, got ${String(seconds)}`);
  }
  return seconds;
}

function checkProgram(path: unknown): string {
  // Handed to systemd-run and sh as one argument; no spaces so `command -v` resolves it unambiguously.
  if (typeof path !== 'string' || !/^[A-Za-z0-9_./+-]+$/.test(path)) throw badInput(`nft path ${JSON.stringify(String(path))} is not allowed`);
  return path;
}

/**
 * The systemd-run call that removes the table after `seconds` unless its timer is stopped first
 * (the transient unit gets a ".timer"; systemd runs nft as root, in PID 1's network namespace).
 */
export function systemdRunArgv(table: string, seconds: number, nftAbsolutePath: string): string[] {
  const unit = rollbackUnit(table);
  const nft = checkProgram(nftAbsolutePath);
  if (!nft.startsWith('/')) throw badInput('systemd-run needs the absolute path of nft');
  return [
    'systemd-run',
    '--quiet',
    '--collect',
    `--unit=${unit}`,
    `--on-active=${checkSeconds(seconds)}s`,
    '--timer-property=AccuracySec=1s',
    nft,
    'delete',
    'table',
    'inet',
    table,
  ];
}

/** The detached fallback: its own session (setsid) so disarm can kill it and its sleep as a group. */
export const SLEEP_ROLLBACK_MARK = 'soar-isolate-rollback';
const SLEEP_ROLLBACK_BODY = 'sleep "$1"; "$2" delete table inet "$3"; rm -f "$4"';

/** argv of the detached sleeper as it shows in /proc/<pid>/cmdline (before quoting). */
export function sleepRollbackArgv(table: string, seconds: number, nftPath: string): string[] {
  return [
    'setsid',
    'sh',
    '-c',
    SLEEP_ROLLBACK_BODY,
    SLEEP_ROLLBACK_MARK,
    String(checkSeconds(seconds)),
    checkProgram(nftPath),
    checkTableName(table),
    rollbackPidFile(table),
  ];
}

/** Shared by the scripts: is the detached sleeper in the pid file ours and alive? Sets $pid. */
const SLEEPER_ALIVE = [
  'sleeper_alive() {',
  '  pid=$(cat "$pidfile" 2>/dev/null) || return 1',
  '  case "$pid" in ""|*[!0-9]*) return 1;; esac',
  // PID reuse: only a process whose command line is our sleeper for this table counts.
  '  cmd=$(tr "\\000" " " < "/proc/$pid/cmdline" 2>/dev/null) || return 1',
  '  case "$cmd" in *"$mark"*" $pidfile "*) return 0;; esac',
  '  return 1',
  '}',
  'systemd_here() {',
  // A transient unit runs in PID 1's namespaces: only use it when this session shares PID 1's netns.
  '  [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && command -v systemd-run >/dev/null 2>&1 && command -v systemctl >/dev/null 2>&1 &&',
  '    [ "$(readlink /proc/1/ns/net 2>/dev/null)" = "$(readlink /proc/self/ns/net 2>/dev/null)" ]',
  '}',
];

function prelude(): string[] {
  return ['table=$1; unit="soar-isolate-rollback-$table"; pidfile="/run/soar-isolate-$table.pid"', `mark="${SLEEP_ROLLBACK_MARK} "`, ...SLEEPER_ALIVE];
}

const DISARM_BODY = [
  'if systemd_here; then',
  '  systemctl stop "$unit.timer" >/dev/null 2>&1',
  '  systemctl reset-failed "$unit.timer" "$unit.service" >/dev/null 2>&1',
  'fi',
  'if sleeper_alive; then kill -TERM "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null; fi',
  'rm -f "$pidfile"',
];

/**
 * `sh -c <script> soar-isolate <table> <seconds> <nft> <mode>`: disarm an older rollback of this
 * table, then arm a new one; prints "unit:<name>" or "pid:<n>". Exit 3: could not arm (nothing done).
 */
export function armScript(): string {
  return [
    'set -u',
    ...prelude(),
    'seconds=$2; nft=$3; mode=$4',
    ...DISARM_BODY,
    'if [ "$mode" = auto ]; then if systemd_here; then mode=systemd; else mode=sleep; fi; fi',
    'if [ "$mode" = systemd ]; then',
    '  nftabs=$(command -v "$nft") || { echo "nft not found: $nft" >&2; exit 3; }',
    `  systemd-run --quiet --collect --unit="$unit" --on-active="\${seconds}s" --timer-property=AccuracySec=1s "$nftabs" delete table inet "$table" >&2 || exit 3`,
    '  systemctl is-active --quiet "$unit.timer" || { echo "rollback timer $unit.timer is not active" >&2; exit 3; }',
    '  echo "unit:$unit"',
    'else',
    `  setsid sh -c '${SLEEP_ROLLBACK_BODY}' ${SLEEP_ROLLBACK_MARK} "$seconds" "$nft" "$table" "$pidfile" </dev/null >/dev/null 2>&1 &`,
    '  pid=$!',
    '  echo "$pid" > "$pidfile" || { kill -TERM "$pid"; exit 3; }',
    // setsid must have exec'd sh (same PID) for the group kill on disarm to reach the sleep too.
    '  i=0; while ! sleeper_alive && [ $i -lt 50 ]; do sleep 0.02; i=$((i+1)); done',
    '  sleeper_alive || { kill -TERM "$pid" 2>/dev/null; rm -f "$pidfile"; echo "rollback sleeper did not start" >&2; exit 3; }',
    '  echo "pid:$pid"',
    'fi',
    '',
  ].join('\n');
}

/** `sh -c <script> soar-isolate <table>`: stop the timer or kill exactly the recorded sleeper. */
export function disarmScript(): string {
  return ['set -u', ...prelude(), ...DISARM_BODY, 'echo disarmed', ''].join('\n');
}

/** `sh -c <script> soar-isolate <table>`: prints "armed unit", "armed pid:<n>" or "disarmed". */
export function armedScript(): string {
  return [
    'set -u',
    ...prelude(),
    'if systemd_here && systemctl is-active --quiet "$unit.timer"; then echo "armed unit"; exit 0; fi',
    'if sleeper_alive; then echo "armed pid:$pid"; exit 0; fi',
    'echo disarmed',
    '',
  ].join('\n');
}

/** Sets $present to yes/no; exit 4 on any other nft failure (stderr says why). */
const TABLE_PRESENT = [
  'table_present() {',
  '  if err=$("$nft" list table inet "$table" 2>&1 >/dev/null); then present=yes; return 0; fi',
  '  case "$err" in *"No such file or directory"*|*"does not exist"*) present=no; return 0;; esac',
  '  echo "$err" >&2; exit 4',
  '}',
];

/** `sh -c <script> soar-isolate <table> <nft>`: prints "table yes|no" and the armedScript line. */
export function stateScript(): string {
  return [
    'set -u',
    ...prelude(),
    'nft=$2',
    ...TABLE_PRESENT,
    // The rollback before the table: one that fires between the two reads shows as no table (normal),
    // never as a table without a rollback (isolated). A fired timer's service deletes the table: armed too.
    'armed=disarmed',
    'if systemd_here && systemctl is-active --quiet "$unit.timer" "$unit.service"; then armed="armed unit"; elif sleeper_alive; then armed="armed pid:$pid"; fi',
    'table_present; echo "table $present"',
    'echo "$armed"',
    '',
  ].join('\n');
}

/**
 * `sh -c <script> soar-isolate <table> <nft>`, run in the confirming fresh session: the table must be
 * there, then the rollback is disarmed, then the table must still be there (the rollback may have
 * fired in between). Prints "confirmed", "gone" or "gone-after-disarm".
 */
export function confirmScript(): string {
  return [
    'set -u',
    ...prelude(),
    'nft=$2',
    ...TABLE_PRESENT,
    'table_present; if [ "$present" = no ]; then echo gone; exit 0; fi',
    ...DISARM_BODY,
    'table_present; if [ "$present" = no ]; then echo gone-after-disarm; exit 0; fi',
    'echo confirmed',
    '',
  ].join('\n');
}

/** argv for `sh -c` with the script and its positional parameters ($0 is a fixed label). */
export function shArgv(script: string, ...args: string[]): string[] {
  return ['sh', '-c', script, 'soar-isolate', ...args];
}

/** The arm call's argv, checked. */
export function armArgv(table: string, seconds: number, nftPath: string, mode: RollbackMode): string[] {
  if (mode !== 'auto' && mode !== 'systemd' && mode !== 'sleep') throw badInput(`rollback mode must be auto, systemd or sleep`);
  return shArgv(armScript(), checkTableName(table), String(checkSeconds(seconds)), checkProgram(nftPath), mode);
}
