/**
 * nftables text generation and JSON parsing, with no process handling: the local provider and a remote
 * (SSH) runner share it. Node-RED-free.
 *
 * Layout (one table of the inet family, so one rule set covers IPv4 and IPv6):
 *
 *   table inet soar {
 *     set blocked4      { type ipv4_addr; flags timeout; }             # single addresses
 *     set blocked4_nets { type ipv4_addr; flags interval, timeout; }   # prefixes (CIDR blocks)
 *     set blocked6      { type ipv6_addr; flags timeout; }
 *     set blocked6_nets { type ipv6_addr; flags interval, timeout; }
 *     chain input   { type filter hook input   priority -10; policy accept;
 *                     ip saddr @blocked4 counter drop; ip saddr @blocked4_nets counter drop
 *                     ip6 saddr @blocked6 counter drop; ip6 saddr @blocked6_nets counter drop }
 *     chain forward { ... the same four rules ... }
 *   }
 *
 * Why separate sets for prefixes: nft 1.0.6 accepts `flags interval, timeout` together, but deleting
 * elements from an interval set is quadratic in its userspace (5,000 deletes took 3.3 s, 100,000 would
 * take many minutes; a hash set deletes 5,000 in 0.03 s). A re-block needs a delete (below), so single
 * addresses, the bulk of all blocks, live in plain hash sets. A side effect: an address and a prefix
 * covering it can be blocked at the same time, each with its own expiry (an interval set refuses
 * overlapping elements).
 *
 * Nothing from the caller reaches the script text unparsed: addresses go through parseTarget
 * (ipaddr.js, canonical form), timeouts are integers, comments are reduced to a safe character set.
 */
import { ProviderError } from '../core/errors';
import { parseTarget, type ParsedTarget } from '../core/guardrails';
import type { BlockTarget, EnforcedBlock } from './types';

export type NftChainName = 'input' | 'forward';

export interface NftLayout {
  /** Table name (family inet). */
  table: string;
  chains: NftChainName[];
  /** Hook priority; -10 runs just before the usual "filter" (0) chains. */
  priority: number;
}

export interface NftSetSpec {
  name: string;
  family: 4 | 6;
  /** Plain sets hold single addresses; interval sets hold prefixes. */
  interval: boolean;
  type: 'ipv4_addr' | 'ipv6_addr';
}

/** Our four sets, in the order they are declared and their rules are written. */
export const NFT_SETS: readonly NftSetSpec[] = [
  { name: 'blocked4', family: 4, interval: false, type: 'ipv4_addr' },
  { name: 'blocked4_nets', family: 4, interval: true, type: 'ipv4_addr' },
  { name: 'blocked6', family: 6, interval: false, type: 'ipv6_addr' },
  { name: 'blocked6_nets', family: 6, interval: true, type: 'ipv6_addr' },
];
const PAYLOAD_PROTOCOL = { 4: 'ip', 6: 'ip6' } as const;

function isSingleAddress(target: ParsedTarget): boolean {
  return target.prefixLength === (target.family === 4 ? 32 : 128);
}

/** The set a target belongs in. */
export function setFor(target: ParsedTarget): NftSetSpec {
  const interval = !isSingleAddress(target);
  return NFT_SETS.find((set) => set.family === target.family && set.interval === interval)!;
}

/** Cap at a year: nft 1.0.6 here accepted one year and refused ten ("value too large"); longer = permanent. */
export const MAX_TTL_SECONDS = 365 * 24 * 3600;
/** Elements per `add element` line: keeps each line small for nft's parser; still one transaction. */
const ELEMENTS_PER_LINE = 500;
const COMMENT_MAX = 100;

const PROVIDER = 'nftables';

function badRequest(message: string): ProviderError {
  return new ProviderError({ provider: PROVIDER, code: 'BAD_REQUEST', message, attempts: 0 });
}

/** nft identifiers: what we let through as table names. */
export function checkTableName(table: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(table)) {
    throw badRequest(`invalid nftables table name "${String(table).slice(0, 40)}" (letters, digits, _; max 32)`);
  }
  return table;
}

/** A block target after validation, ready to be written. */
export interface NftElement {
  target: ParsedTarget;
  ttlSeconds?: number;
  comment?: string;
}

/** Parse an address for a command or throw (nothing has run yet). */
export function parseAddressOrThrow(address: unknown): ParsedTarget {
  const parsed = parseTarget(address);
  if ('error' in parsed) throw badRequest(`refused before running nft: ${parsed.error}`);
  return parsed;
}

/** Keep only characters that cannot end the quoted string or start new syntax. */
export function sanitiseComment(comment: unknown): string | undefined {
  if (typeof comment !== 'string') return undefined;
  const cleaned = comment
    .replace(/[^A-Za-z0-9 _.,:/@=+()-]/g, '_')
    .trim()
    .slice(0, COMMENT_MAX);
  return cleaned === '' ? undefined : cleaned;
}

function checkTtl(ttl: unknown, address: string): number | undefined {
  if (ttl === undefined || ttl === null) return undefined;
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
    throw badRequest(`ttlSeconds for ${address} must be a positive number of seconds (omit it for a permanent block)`);
  }
  const seconds = Math.ceil(ttl);
  if (seconds > MAX_TTL_SECONDS) {
    throw badRequest(`ttlSeconds for ${address} is above ${MAX_TTL_SECONDS} (one year); omit it for a permanent block`);
  }
  return seconds;
}

/**
 * Validate a batch: every address parsed, ttl and comment checked, duplicates merged (the later entry
 * wins, as if the caller had blocked twice). Targets overlapping each other are refused: an interval
 * set cannot hold both, and nft would reject the whole transaction.
 */
export function prepareBlockTargets(targets: BlockTarget[]): NftElement[] {
  if (!Array.isArray(targets)) throw badRequest('block() expects an array of targets');
  const byCanonical = new Map<string, NftElement>();
  for (const target of targets) {
    if (!target || typeof target !== 'object') throw badRequest('a block target must be an object with an address');
    const parsed = parseAddressOrThrow(target.address);
    const element: NftElement = { target: parsed };
    const ttl = checkTtl(target.ttlSeconds, parsed.canonical);
    if (ttl !== undefined) element.ttlSeconds = ttl;
    const comment = sanitiseComment(target.comment);
    if (comment !== undefined) element.comment = comment;
    byCanonical.delete(parsed.canonical); // re-insert so the order follows the last occurrence
    byCanonical.set(parsed.canonical, element);
  }
  const elements = [...byCanonical.values()];
  // Only prefixes share an interval set; a single address never clashes (it has its own set).
  const clashes = overlapPairs(elements.map((e) => e.target).filter((t) => !isSingleAddress(t)));
  if (clashes.length > 0) {
    const shown = clashes.slice(0, 5).map(([a, b]) => `${a.canonical} overlaps ${b.canonical}`);
    throw new ProviderError({
      provider: PROVIDER,
      code: 'CONFLICT',
      attempts: 0,
      message: `targets in one batch overlap (${shown.join('; ')}${clashes.length > 5 ? '; ...' : ''}); block either the wider or the narrower prefix`,
    });
  }
  return elements;
}

/** Parse and de-duplicate addresses to unblock. */
export function prepareUnblockAddresses(addresses: string[]): ParsedTarget[] {
  if (!Array.isArray(addresses)) throw badRequest('unblock() expects an array of addresses');
  const byCanonical = new Map<string, ParsedTarget>();
  for (const address of addresses) {
    const parsed = parseAddressOrThrow(address);
    byCanonical.set(parsed.canonical, parsed);
  }
  return [...byCanonical.values()];
}

function elementText(element: NftElement, withDetails: boolean): string {
  let text = element.target.canonical;
  if (withDetails && element.ttlSeconds !== undefined) text += ` timeout ${element.ttlSeconds}s`;
  if (withDetails && element.comment !== undefined) text += ` comment "${element.comment}"`;
  return text;
}

function elementLines(verb: 'add' | 'delete', layout: NftLayout, set: NftSetSpec, texts: string[]): string[] {
  const lines: string[] = [];
  for (let start = 0; start < texts.length; start += ELEMENTS_PER_LINE) {
    const chunk = texts.slice(start, start + ELEMENTS_PER_LINE);
    lines.push(`${verb} element inet ${layout.table} ${set.name} { ${chunk.join(', ')} }`);
  }
  return lines;
}

function groupBySet<T>(items: T[], targetOf: (item: T) => ParsedTarget): [NftSetSpec, T[]][] {
  return NFT_SETS.map((set): [NftSetSpec, T[]] => [set, items.filter((item) => setFor(targetOf(item)) === set)]).filter(([, members]) => members.length > 0);
}

/**
 * One transaction that leaves every target blocked with exactly its new timeout and comment.
 *
 * `add element` on an element that already exists does not renew its timeout on many kernels, and
 * `delete element` of an absent element fails the whole transaction. So, per set: add (makes sure it
 * exists) -> delete -> add with the new timeout. Works whether or not it was there.
 */
export function blockScript(layout: NftLayout, elements: NftElement[]): string {
  const lines: string[] = [];
  for (const [set, members] of groupBySet(elements, (e) => e.target)) {
    const bare = members.map((e) => elementText(e, false));
    lines.push(...elementLines('add', layout, set, bare));
    lines.push(...elementLines('delete', layout, set, bare));
    lines.push(
      ...elementLines(
        'add',
        layout,
        set,
        members.map((e) => elementText(e, true)),
      ),
    );
  }
  return lines.join('\n') + '\n';
}

/** One transaction removing the targets; add first so that absent ones do not fail the transaction. */
export function unblockScript(layout: NftLayout, targets: ParsedTarget[]): string {
  const lines: string[] = [];
  for (const [set, members] of groupBySet(targets, (t) => t)) {
    const texts = members.map((t) => t.canonical);
    lines.push(...elementLines('add', layout, set, texts));
    lines.push(...elementLines('delete', layout, set, texts));
  }
  return lines.join('\n') + '\n';
}

/** Delete elements known to be present (no guarding add: used when the guarding add itself would clash). */
export function deleteScript(layout: NftLayout, targets: ParsedTarget[]): string {
  const lines: string[] = [];
  for (const [set, members] of groupBySet(targets, (t) => t)) {
    lines.push(
      ...elementLines(
        'delete',
        layout,
        set,
        members.map((t) => t.canonical),
      ),
    );
  }
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------
// Reading state back (nft -j)

/** What `nft -j -t list table inet <t>` says about our objects. */
export interface TableState {
  sets: Map<string, { type?: string; flags: string[] }>;
  /** Per chain: the names of the sets it already has a drop rule for. */
  chains: Map<string, { hook?: string; type?: string; prio?: number; dropRules: Set<string> }>;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nftObjects(jsonText: string): JsonObject[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(jsonText);
  } catch {
    throw new ProviderError({ provider: PROVIDER, code: 'BODY_ERROR', message: 'nft -j printed something that is not JSON' });
  }
  if (!isObject(parsed) || !Array.isArray(parsed.nftables)) {
    throw new ProviderError({ provider: PROVIDER, code: 'BODY_ERROR', message: 'nft -j output has no "nftables" array' });
  }
  return parsed.nftables.filter(isObject);
}

/** The set a rule drops by source-address membership, if it is one of our drop rules. */
function dropRuleSet(rule: JsonObject): NftSetSpec | undefined {
  const expr = Array.isArray(rule.expr) ? rule.expr.filter(isObject) : [];
  if (!expr.some((e) => 'drop' in e)) return undefined;
  return NFT_SETS.find((set) =>
    expr.some((e) => {
      const match = e.match;
      if (!isObject(match) || match.right !== `@${set.name}`) return false;
      const payload = isObject(match.left) ? match.left.payload : undefined;
      return isObject(payload) && payload.protocol === PAYLOAD_PROTOCOL[set.family] && payload.field === 'saddr';
    }),
  );
}

export function parseTableState(jsonText: string, table: string): TableState {
  const state: TableState = { sets: new Map(), chains: new Map() };
  for (const object of nftObjects(jsonText)) {
    const set = object.set;
    if (isObject(set) && set.table === table && typeof set.name === 'string') {
      state.sets.set(set.name, {
        type: typeof set.type === 'string' ? set.type : undefined,
        flags: Array.isArray(set.flags) ? set.flags.filter((f): f is string => typeof f === 'string') : [],
      });
    }
    const chain = object.chain;
    if (isObject(chain) && chain.table === table && typeof chain.name === 'string') {
      state.chains.set(chain.name, {
        hook: typeof chain.hook === 'string' ? chain.hook : undefined,
        type: typeof chain.type === 'string' ? chain.type : undefined,
        prio: typeof chain.prio === 'number' ? chain.prio : undefined,
        dropRules: state.chains.get(chain.name)?.dropRules ?? new Set(),
      });
    }
    const rule = object.rule;
    if (isObject(rule) && rule.table === table && typeof rule.chain === 'string') {
      const set = dropRuleSet(rule);
      if (set === undefined) continue;
      const entry = state.chains.get(rule.chain) ?? { dropRules: new Set<string>() };
      entry.dropRules.add(set.name);
      state.chains.set(rule.chain, entry);
    }
  }
  return state;
}

/**
 * The transaction that completes a partial or missing setup. `add table/set/chain` are idempotent
 * and never flush elements; rules are only added when missing (a second `add rule` would duplicate).
 * Throws when an existing object has an incompatible shape (we will not silently rebuild it).
 */
export function setupScript(layout: NftLayout, existing: TableState | undefined): string {
  const lines: string[] = [`add table inet ${layout.table}`];
  for (const set of NFT_SETS) {
    const flags = set.interval ? ['interval', 'timeout'] : ['timeout'];
    const found = existing?.sets.get(set.name);
    if (found) {
      const missingFlags = flags.filter((f) => !found.flags.includes(f));
      if (found.type !== set.type || missingFlags.length > 0) {
        throw new ProviderError({
          provider: PROVIDER,
          code: 'CONFLICT',
          message: `set ${layout.table} ${set.name} exists as type ${found.type ?? '?'} flags [${found.flags.join(', ')}]; expected ${set.type} with ${flags.join(', ')}. Remove or rename the table to let it be rebuilt`,
        });
      }
    }
    lines.push(`add set inet ${layout.table} ${set.name} { type ${set.type}; flags ${flags.join(', ')}; }`);
  }
  for (const chain of layout.chains) {
    const found = existing?.chains.get(chain);
    if (found?.hook !== undefined && found.hook !== chain) {
      throw new ProviderError({
        provider: PROVIDER,
        code: 'CONFLICT',
        message: `chain ${layout.table} ${chain} exists with hook ${found.hook}; expected ${chain}`,
      });
    }
    lines.push(`add chain inet ${layout.table} ${chain} { type filter hook ${chain} priority ${layout.priority}; policy accept; }`);
    for (const set of NFT_SETS) {
      if (found?.dropRules.has(set.name)) continue;
      lines.push(`add rule inet ${layout.table} ${chain} ${PAYLOAD_PROTOCOL[set.family]} saddr @${set.name} counter drop`);
    }
  }
  return lines.join('\n') + '\n';
}

/** Elements of our sets from `nft -j list table|set ...`, with the set each one is in. */
export function parseSetMembers(jsonText: string, table: string): { set: NftSetSpec; block: EnforcedBlock }[] {
  const result: { set: NftSetSpec; block: EnforcedBlock }[] = [];
  for (const object of nftObjects(jsonText)) {
    const setObject = object.set;
    if (!isObject(setObject) || setObject.table !== table) continue;
    const set = NFT_SETS.find((s) => s.name === setObject.name);
    if (!set) continue;
    for (const element of Array.isArray(setObject.elem) ? setObject.elem : []) {
      const block = parseElement(element);
      if (block) result.push({ set, block });
    }
  }
  return result;
}

/** Elements of our sets from `nft -j list table|set ...`. */
export function parseSetElements(jsonText: string, table: string): EnforcedBlock[] {
  return parseSetMembers(jsonText, table).map((member) => member.block);
}

/**
 * One element as nft prints it: "1.2.3.4", {prefix:{addr,len}}, {range:[a,b]}, or any of those wrapped
 * in {elem:{val, timeout, expires, comment}} when it carries details.
 */
function parseElement(element: unknown): EnforcedBlock | undefined {
  let value = element;
  let details: JsonObject = {};
  if (isObject(element) && isObject(element.elem)) {
    details = element.elem;
    value = element.elem.val;
  }
  const address = elementValueText(value);
  if (address === undefined) return undefined;
  const block: EnforcedBlock = { address };
  const expires = typeof details.expires === 'number' ? details.expires : details.timeout;
  if (typeof expires === 'number') block.expiresInSeconds = expires;
  if (typeof details.comment === 'string') block.comment = details.comment;
  return block;
}

function elementValueText(value: unknown): string | undefined {
  if (typeof value === 'string') {
    const parsed = parseTarget(value);
    return 'error' in parsed ? undefined : parsed.canonical;
  }
  if (!isObject(value)) return undefined;
  if (isObject(value.prefix) && typeof value.prefix.addr === 'string' && typeof value.prefix.len === 'number') {
    const parsed = parseTarget(`${value.prefix.addr}/${value.prefix.len}`);
    return 'error' in parsed ? undefined : parsed.canonical;
  }
  if (Array.isArray(value.range) && value.range.length === 2) {
    const [first, last] = value.range.map((v) => (typeof v === 'string' ? parseTarget(v) : { error: 'not text' }));
    if ('error' in first || 'error' in last) return undefined;
    return `${first.canonical}-${last.canonical}`;
  }
  return undefined;
}

export interface RuleCounter {
  chain: string;
  set: string;
  family: 4 | 6;
  packets: number;
  bytes: number;
}

/** Counters of our drop rules, from `nft -j list table|chain ...`. */
export function parseCounters(jsonText: string, table: string): RuleCounter[] {
  const counters: RuleCounter[] = [];
  for (const object of nftObjects(jsonText)) {
    const rule = object.rule;
    if (!isObject(rule) || rule.table !== table || typeof rule.chain !== 'string') continue;
    const set = dropRuleSet(rule);
    if (set === undefined) continue;
    const counter = (Array.isArray(rule.expr) ? rule.expr : []).find((e) => isObject(e) && isObject(e.counter));
    if (!isObject(counter) || !isObject(counter.counter)) continue; // a drop rule someone wrote without a counter
    const values = counter.counter;
    counters.push({
      chain: rule.chain,
      set: set.name,
      family: set.family,
      packets: typeof values.packets === 'number' ? values.packets : 0,
      bytes: typeof values.bytes === 'number' ? values.bytes : 0,
    });
  }
  return counters;
}

// ---------------------------------------------------------------------------------------------------
// Overlap diagnosis (an interval set refuses overlapping elements)

/** An element or target as an inclusive numeric interval in its family. */
interface Interval {
  family: 4 | 6;
  first: bigint;
  last: bigint;
}

function bytesToBigInt(bytes: number[]): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

function targetInterval(target: ParsedTarget): Interval {
  const bits = target.family === 4 ? 32 : 128;
  const first = bytesToBigInt(target.address.toByteArray());
  const hostBits = BigInt(bits - target.prefixLength);
  return { family: target.family, first, last: first + (1n << hostBits) - 1n };
}

/** Interval of an address as list() prints it (IP, CIDR or "first-last"). */
export function enforcedInterval(address: string): Interval | undefined {
  const dash = address.indexOf('-');
  if (dash === -1) {
    const parsed = parseTarget(address);
    return 'error' in parsed ? undefined : targetInterval(parsed);
  }
  const first = parseTarget(address.slice(0, dash));
  const last = parseTarget(address.slice(dash + 1));
  if ('error' in first || 'error' in last || first.family !== last.family) return undefined;
  return {
    family: first.family,
    first: bytesToBigInt(first.address.toByteArray()),
    last: bytesToBigInt(last.address.toByteArray()),
  };
}

function intervalsOverlap(a: Interval, b: Interval): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

function overlapPairs(targets: ParsedTarget[]): [ParsedTarget, ParsedTarget][] {
  // Sort by start so each target only needs comparing with the running maximum end before it.
  const items = targets.map((target) => ({ target, interval: targetInterval(target) }));
  items.sort((a, b) => compareIntervals(a.interval, b.interval));
  const pairs: [ParsedTarget, ParsedTarget][] = [];
  let widest: (typeof items)[number] | undefined;
  for (const item of items) {
    if (widest && intervalsOverlap(widest.interval, item.interval)) pairs.push([widest.target, item.target]);
    if (!widest || widest.interval.family !== item.interval.family || item.interval.last > widest.interval.last) widest = item;
  }
  return pairs;
}

/**
 * Elements of an interval set that overlap a prefix target without being the same element (what made
 * nft refuse). Pass the elements of the interval sets only; single-address targets never clash.
 * Elements of an interval set never overlap each other, so sorted by start they are sorted by end too
 * and a binary search finds the first candidate.
 */
export function findConflicts(targets: ParsedTarget[], enforced: EnforcedBlock[]): { target: string; existing: string }[] {
  const existing = enforced
    .map((block) => ({ address: block.address, interval: enforcedInterval(block.address) }))
    .filter((e): e is { address: string; interval: Interval } => e.interval !== undefined)
    .sort((a, b) => compareIntervals(a.interval, b.interval));
  const conflicts: { target: string; existing: string }[] = [];
  for (const target of targets) {
    if (isSingleAddress(target)) continue;
    const wanted = targetInterval(target);
    let low = 0;
    let high = existing.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      const candidate = existing[middle].interval;
      const before = candidate.family < wanted.family || (candidate.family === wanted.family && candidate.last < wanted.first);
      if (before) low = middle + 1;
      else high = middle;
    }
    for (let i = low; i < existing.length && intervalsOverlap(existing[i].interval, wanted); i++) {
      if (existing[i].address !== target.canonical) conflicts.push({ target: target.canonical, existing: existing[i].address });
    }
  }
  return conflicts;
}

function compareIntervals(a: Interval, b: Interval): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.first !== b.first) return a.first < b.first ? -1 : 1;
  // Same start: the wider one first, so a clash reads "wide overlaps narrow".
  return a.last > b.last ? -1 : a.last < b.last ? 1 : 0;
}
