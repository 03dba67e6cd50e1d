/**
 * Firewall provider: MikroTik RouterOS v7 REST API, firewall address-list with native timeouts.
 * Node-RED-free.
 *
 * Contract (docs/vendor-facts.md §C.6; help.mikrotik.com/docs/spaces/ROS/pages/47579162/REST+API):
 * - HTTP Basic auth; service www-ssl (or www from 7.9). Base https://router/rest.
 * - PUT    /rest/ip/firewall/address-list {"list","address","timeout":"1h2m3s","comment"} -> created object with ".id"
 * - GET    /rest/ip/firewall/address-list?list=<name>&address=<a> -> array
 * - PATCH  /rest/ip/firewall/address-list/<.id> {"timeout", "comment"}
 * - DELETE /rest/ip/firewall/address-list/<.id> -> 204
 * - IPv6 lives under /rest/ipv6/firewall/address-list.
 * - Errors: {"error":400,"message":"Bad Request","detail":"failure: already have such entry"}; the
 *   detail is the useful part and is added to the error message.
 *
 * Native expiry: a TTL becomes the entry's `timeout`, and RouterOS removes the entry itself; list()
 * reports the time left. A re-block of an entry that has a timeout sets the new timeout (PATCH); when an
 * entry changes between permanent and timed it is replaced (delete + add), since RouterOS keeps timed
 * entries as dynamic ones. Note: dynamic (timed) entries do not survive a router reboot; the hub's
 * reconciliation (list()) sees that.
 *
 * A firewall rule must drop what the list holds (ensureReady checks for one and says how to add it):
 *   /ip firewall raw add chain=prerouting src-address-list=soar_block action=drop comment=soar
 */
import { codeForStatus } from '../core/errors';
import { createHttpClient, ProviderError, type HttpClient, type RequestSpec } from '../core/http';
import { parseTarget, type ParsedTarget } from '../core/guardrails';
import {
  apiRoot,
  badRequest,
  checkTtl,
  cleanComment,
  isSingleAddress,
  parseOrRefuse,
  parseUnblockAddresses,
  rewrap,
  SerialQueue,
  unblockEach,
  withContext,
  type HttpTuning,
} from './provider-kit';
import type { BlockTarget, EnforcedBlock, FirewallProvider } from './types';

export interface MikrotikOptions {
  /** Instance name for logs and leases. Default "mikrotik". */
  name?: string;
  /** Router address, e.g. "https://router.example" ("/rest" is added when missing). */
  url: string;
  username: string;
  password: string;
  /** Address-list name. Default "soar_block". */
  list?: string;
  /** ensureReady checks that an enabled filter/raw rule drops this list. Default true. */
  checkRules?: boolean;
  http?: HttpTuning;
}

interface ListEntry {
  '.id': string;
  address: string;
  list?: string;
  timeout?: string;
  comment?: string;
  disabled?: string | boolean;
  dynamic?: string | boolean;
}

interface Wanted {
  target: ParsedTarget;
  ttlSeconds?: number;
  comment?: string;
}

const KIND = 'mikrotik';
const LIST_NAME = /^[A-Za-z0-9_.-]{1,63}$/;
// RouterOS keeps timeouts in a signed 32-bit count of 10 ms ticks: 35w3d13h13m56s is the longest.
export const MIKROTIK_MAX_TIMEOUT_SECONDS = 21_474_836;
const COMMENT_MAX = 200;
const ALREADY_PRESENT = /already have such entry/i;
const DROPPING_ACTIONS = new Set(['drop', 'reject', 'tarpit']);
const REFUSED = 'refused before calling the router';
const TTL_LIMIT = { maxSeconds: MIKROTIK_MAX_TIMEOUT_SECONDS, described: `RouterOS' longest timeout (${MIKROTIK_MAX_TIMEOUT_SECONDS} s, about 248 days)` };

function detailOf(body: unknown): string | undefined {
  const detail = body && typeof body === 'object' ? (body as { detail?: unknown }).detail : undefined;
  return typeof detail === 'string' && detail !== '' ? detail.slice(0, 300) : undefined;
}

function isTrue(value: unknown): boolean {
  return value === true || value === 'true' || value === 'yes';
}

/** Seconds as RouterOS writes a duration: "1d2h3m4s", zero parts left out. */
export function formatRouterOsDuration(totalSeconds: number): string {
  let rest = Math.ceil(totalSeconds);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count > 0) parts.push(`${count}${unit}`);
  }
  return parts.length > 0 ? parts.join('') : '0s';
}

/**
 * A RouterOS duration in seconds: "1w2d3h4m5s", "59m58s", "500ms", or the older "1d23:59:58" /
 * "00:59:58" forms. Undefined when it is not a duration.
 */
export function parseRouterOsDuration(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const value = text.trim();
  if (value === '') return undefined;
  const clock = /^(?:(\d+)w)?(?:(\d+)d)?(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?$/.exec(value);
  if (clock) {
    const [, w, d, h, m, s] = clock;
    return Number(w ?? 0) * 604_800 + Number(d ?? 0) * 86_400 + Number(h) * 3_600 + Number(m) * 60 + Number(s);
  }
  const units = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(value);
  if (!units || units.slice(1).every((part) => part === undefined)) return undefined;
  const [, w, d, h, m, s, ms] = units;
  return Number(w ?? 0) * 604_800 + Number(d ?? 0) * 86_400 + Number(h ?? 0) * 3_600 + Number(m ?? 0) * 60 + Number(s ?? 0) + Number(ms ?? 0) / 1000;
}

/** An entry's address in canonical form; ranges "a-b" come back as they are, names as undefined. */
function entryAddress(address: unknown): string | undefined {
  if (typeof address !== 'string') return undefined;
  const parsed = parseTarget(address);
  if (!('error' in parsed)) return parsed.canonical;
  const range = address.split('-');
  if (range.length === 2 && range.every((end) => !('error' in parseTarget(end)))) return address;
  return undefined;
}

export class MikrotikFirewall implements FirewallProvider {
  readonly kind = KIND;
  readonly name: string;
  readonly listName: string;
  private readonly http: HttpClient;
  private readonly checkRules: boolean;
  /** One change at a time: find-then-add must not race another call for the same address. */
  private readonly queue = new SerialQueue();

  constructor(options: MikrotikOptions) {
    this.name = options.name ?? 'mikrotik';
    this.listName = options.list ?? 'soar_block';
    if (!LIST_NAME.test(this.listName))
      throw badRequest(KIND, `invalid address-list name "${String(this.listName).slice(0, 40)}" (letters, digits, _ . -; max 63)`);
    if (!options.username || typeof options.password !== 'string') throw badRequest(KIND, 'MikroTik needs a username and password');
    const baseURL = apiRoot(KIND, options.url, '/rest', 'MikroTik url must start with https:// (or http:// from RouterOS 7.9 with the www service)');
    this.checkRules = options.checkRules ?? true;
    const basic = Buffer.from(`${options.username}:${options.password}`, 'utf8').toString('base64');
    this.http = createHttpClient({
      ...options.http,
      provider: KIND,
      baseURL,
      headers: { Authorization: `Basic ${basic}` },
      secrets: [options.password, basic].filter((s) => s !== ''),
      checkBody: (data) => {
        // RouterOS reports failures with an HTTP status; a 2xx carrying {"error": n} is still a failure.
        const error = data && typeof data === 'object' && !Array.isArray(data) ? (data as { error?: unknown }).error : undefined;
        if (typeof error !== 'number') return undefined;
        const body = data as { message?: unknown; detail?: unknown };
        return {
          code: error === 429 ? 'RATE_LIMITED' : codeForStatus(error),
          retryable: error === 429 || error === 503,
          message: `error ${error}${typeof body.message === 'string' ? ` ${body.message}` : ''}${detailOf(body) ? `: ${detailOf(body)}` : ''}`,
        };
      },
    });
  }

  /** A call whose error message carries RouterOS' `detail` (the only informative part). */
  private async request<T>(spec: RequestSpec): Promise<T> {
    try {
      return (await this.http.request<T>(spec)).data;
    } catch (error) {
      const detail = error instanceof ProviderError ? detailOf(error.body) : undefined;
      if (error instanceof ProviderError && detail && !error.message.includes(detail)) throw rewrap(error, { message: `${error.message}: ${detail}` });
      throw error;
    }
  }

  private path(family: 4 | 6): string {
    return family === 4 ? '/ip/firewall/address-list' : '/ipv6/firewall/address-list';
  }

  /** Checks credentials, RouterOS v7, and (unless switched off) that a rule drops the list. Changes nothing. */
  ensureReady(): Promise<void> {
    return this.queue.run(async () => {
      const resource = await this.request<{ version?: unknown }>({ url: '/system/resource' });
      const major = Number(/^(\d+)\./.exec(String(resource?.version ?? ''))?.[1]);
      if (Number.isFinite(major) && major < 7) {
        throw new ProviderError({
          provider: KIND,
          code: 'BAD_REQUEST',
          attempts: 1,
          message: `RouterOS ${String(resource.version)} has no REST API; version 7.1 or later is needed`,
        });
      }
      if (!this.checkRules) return;
      for (const table of ['/ip/firewall/raw', '/ip/firewall/filter']) {
        const rules = await this.request<unknown>({ url: table });
        const uses = (Array.isArray(rules) ? rules : []).some((rule) => {
          const r = rule as Record<string, unknown>;
          return (
            !isTrue(r.disabled) &&
            DROPPING_ACTIONS.has(String(r.action)) &&
            (r['src-address-list'] === this.listName || r['dst-address-list'] === this.listName)
          );
        });
        if (uses) return;
      }
      throw new ProviderError({
        provider: KIND,
        code: 'NOT_FOUND',
        attempts: 1,
        message:
          `no enabled firewall rule drops address-list "${this.listName}", so blocks would have no effect. Add one, e.g. ` +
          `/ip firewall raw add chain=prerouting src-address-list=${this.listName} action=drop comment=soar ` +
          `(and the same under /ipv6 firewall raw), or set checkRules: false if the rule lives elsewhere`,
      });
    });
  }

  /** The entry for this address in our list, if any. */
  private async find(target: ParsedTarget): Promise<ListEntry | undefined> {
    const forms = isSingleAddress(target) && target.family === 6 ? [target.canonical, `${target.canonical}/128`] : [target.canonical];
    for (const address of forms) {
      const rows = await this.request<ListEntry[]>({ url: this.path(target.family), params: { list: this.listName, address } });
      const hit = (Array.isArray(rows) ? rows : []).find((row) => row?.list === undefined || row.list === this.listName);
      if (hit) return hit;
    }
    return undefined;
  }

  /** Slow path when RouterOS says the entry exists but the address filter did not find it (another spelling). */
  private async scan(target: ParsedTarget): Promise<ListEntry | undefined> {
    const rows = await this.request<ListEntry[]>({ url: this.path(target.family), params: { list: this.listName } });
    return (Array.isArray(rows) ? rows : []).find((row) => entryAddress(row?.address) === target.canonical);
  }

  private body(wanted: Wanted): Record<string, string> {
    const body: Record<string, string> = { list: this.listName, address: wanted.target.canonical };
    if (wanted.ttlSeconds !== undefined) body.timeout = formatRouterOsDuration(wanted.ttlSeconds);
    if (wanted.comment !== undefined) body.comment = wanted.comment;
    return body;
  }

  private async create(wanted: Wanted): Promise<string> {
    const created = await this.request<ListEntry>({
      method: 'PUT',
      url: this.path(wanted.target.family),
      data: this.body(wanted),
      // PUT creates here. RouterOS refuses a second identical entry, so a repeat after a lost gateway
      // answer (502/503/504) is safe; a 500 is not repeated.
      idempotent: false,
      dedupKey: `${this.listName} ${wanted.target.canonical}`,
    });
    if (typeof created?.['.id'] === 'string') return created['.id'];
    const found = await this.find(wanted.target);
    if (!found)
      throw new ProviderError({
        provider: KIND,
        code: 'SERVER',
        attempts: 1,
        message: `the router did not return the new entry for ${wanted.target.canonical}`,
      });
    return found['.id'];
  }

  private async remove(family: 4 | 6, id: string): Promise<void> {
    try {
      await this.request({ method: 'DELETE', url: `${this.path(family)}/${encodeURIComponent(id)}` });
    } catch (error) {
      if (error instanceof ProviderError && error.code === 'NOT_FOUND') return;
      throw error;
    }
  }

  private async update(family: 4 | 6, id: string, fields: Record<string, string>): Promise<void> {
    await this.request({ method: 'PATCH', url: `${this.path(family)}/${encodeURIComponent(id)}`, data: fields, idempotent: true });
  }

  /**
   * Bring one address to the wanted state. Returns how to undo what was done (for all-or-none).
   * Existing timed entry + new TTL: PATCH the timeout (and comment). Permanent stays permanent: at most
   * a comment PATCH. Timed <-> permanent, or a disabled entry: delete and add again.
   */
  private async apply(wanted: Wanted): Promise<(() => Promise<void>) | undefined> {
    const { family } = wanted.target;
    let existing = await this.find(wanted.target);
    if (!existing) {
      try {
        const id = await this.create(wanted);
        return () => this.remove(family, id);
      } catch (error) {
        if (!(error instanceof ProviderError) || !ALREADY_PRESENT.test(error.message)) throw error;
        existing = await this.scan(wanted.target);
        if (!existing) throw error;
      }
    }
    const before = existing;
    const remaining = parseRouterOsDuration(before.timeout);
    const hadTimeout = remaining !== undefined && remaining > 0;
    const wantsTimeout = wanted.ttlSeconds !== undefined;
    // A re-block without a comment keeps the entry's comment.
    const commentChanges = wanted.comment !== undefined && wanted.comment !== (before.comment ?? '');
    const newComment: Record<string, string> = commentChanges ? { comment: wanted.comment! } : {};
    const oldComment: Record<string, string> = commentChanges ? { comment: before.comment ?? '' } : {};
    if (!isTrue(before.disabled) && hadTimeout && wantsTimeout) {
      await this.update(family, before['.id'], { timeout: formatRouterOsDuration(wanted.ttlSeconds!), ...newComment });
      return () => this.update(family, before['.id'], { timeout: formatRouterOsDuration(remaining!), ...oldComment });
    }
    if (!isTrue(before.disabled) && !hadTimeout && !wantsTimeout) {
      if (!commentChanges) return undefined;
      await this.update(family, before['.id'], newComment);
      return () => this.update(family, before['.id'], oldComment);
    }
    await this.remove(family, before['.id']);
    let id: string;
    try {
      id = await this.create(wanted);
    } catch (error) {
      await this.restore(before, family, remaining).catch(() => undefined);
      throw error;
    }
    return async () => {
      await this.remove(family, id);
      await this.restore(before, family, remaining);
    };
  }

  /** Put a replaced entry back as it was (with the time it had left). */
  private async restore(entry: ListEntry, family: 4 | 6, remaining: number | undefined): Promise<void> {
    const body: Record<string, string> = { list: this.listName, address: entry.address };
    if (remaining !== undefined && remaining > 0) body.timeout = formatRouterOsDuration(remaining);
    if (entry.comment) body.comment = entry.comment;
    if (isTrue(entry.disabled)) body.disabled = 'true';
    await this.request({ method: 'PUT', url: this.path(family), data: body, idempotent: false, dedupKey: `${this.listName} ${entry.address}` });
  }

  /** Every target or none: on a failure, what this call changed is undone before the error is thrown. */
  async block(targets: BlockTarget[]): Promise<void> {
    if (!Array.isArray(targets)) throw badRequest(KIND, 'block() expects an array of targets');
    const wanted = new Map<string, Wanted>();
    for (const target of targets) {
      const parsed = parseOrRefuse(KIND, target?.address, REFUSED);
      wanted.delete(parsed.canonical);
      const ttlSeconds = checkTtl(KIND, target.ttlSeconds, parsed.canonical, TTL_LIMIT);
      wanted.set(parsed.canonical, { target: parsed, ttlSeconds, comment: cleanComment(target.comment, COMMENT_MAX) });
    }
    if (wanted.size === 0) return;
    return this.queue.run(async () => {
      const undo: (() => Promise<void>)[] = [];
      try {
        for (const item of wanted.values()) {
          const step = await this.apply(item);
          if (step) undo.push(step);
        }
      } catch (error) {
        let failed = 0;
        for (const step of undo.reverse()) {
          try {
            await step();
          } catch {
            failed++;
          }
        }
        const note =
          failed > 0 ? `; rollback FAILED for ${failed} of ${undo.length} change(s)` : undo.length > 0 ? `; rolled back ${undo.length} change(s)` : '';
        throw withContext(KIND, error, `nothing blocked${note}`);
      }
    });
  }

  /** Delete the entries of these addresses; absent ones are fine. Tries all, then reports the first failure. */
  async unblock(addresses: string[]): Promise<void> {
    const targets = parseUnblockAddresses(KIND, addresses, REFUSED);
    if (targets.size === 0) return;
    return this.queue.run(() =>
      unblockEach(KIND, targets, async (target) => {
        const entry = await this.find(target);
        if (entry) await this.remove(target.family, entry['.id']);
      }),
    );
  }

  /** Enabled entries of the list (IPv4 and IPv6) with the time RouterOS will keep them. */
  list(): Promise<EnforcedBlock[]> {
    return this.queue.run(async () => {
      const blocks: EnforcedBlock[] = [];
      for (const family of [4, 6] as const) {
        const rows = await this.request<ListEntry[]>({ url: this.path(family), params: { list: this.listName } });
        for (const row of Array.isArray(rows) ? rows : []) {
          if (isTrue(row?.disabled)) continue;
          const address = entryAddress(row.address);
          if (!address) continue;
          const block: EnforcedBlock = { address };
          const left = parseRouterOsDuration(row.timeout);
          if (left !== undefined && left > 0) block.expiresInSeconds = Math.ceil(left);
          if (row.comment) block.comment = row.comment;
          blocks.push(block);
        }
      }
      return blocks;
    });
  }

  async close(): Promise<void> {
    await this.queue.idle();
    this.http.close();
  }
}

export function createMikrotikFirewall(options: MikrotikOptions): MikrotikFirewall {
  return new MikrotikFirewall(options);
}
