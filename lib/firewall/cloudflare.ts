/**
 * Firewall provider: Cloudflare IP Access Rules (mode "block"), for one account or one zone.
 * Node-RED-free.
 *
 * Contract (docs/vendor-facts.md §C.5; developers.cloudflare.com/api "IP Access rules for an
 * account/zone", developers.cloudflare.com/fundamentals/api/reference/limits):
 * - Auth `Authorization: Bearer <API token>` (Account Firewall Access Rules: Edit / Firewall Services: Edit).
 * - POST   /client/v4/{accounts/:id|zones/:id}/firewall/access_rules/rules
 *          {"mode":"block","configuration":{"target":"ip"|"ip6"|"ip_range","value"},"notes"}
 * - GET    …/rules?configuration.value=<v>&page=&per_page=  -> {"success","errors","result":[…],"result_info"}
 * - DELETE …/rules/<id>;  PATCH …/rules/<id> {"notes"} (mode/notes only).
 * - {"success":false,"errors":[{code,message}]} is a failure even with HTTP 200 (checkBody).
 * - One rule per value and scope: a second create for the same value is refused, so we search first.
 * - Ranges: only /16 and /24 for IPv4, /32, /48 and /64 for IPv6. Anything else is refused here with a
 *   BAD_REQUEST before a request is made.
 * - Limits: 1,200 requests per 5 minutes per token; a 429 carries Retry-After (seconds).
 *
 * Ownership: only rules whose notes start with the notes prefix ("soar" by default) are ours. list()
 * reports only those, and unblock() deletes only those: a rule someone made by hand is never removed by
 * a lease expiry. An empty prefix manages every block rule of the scope.
 *
 * No native expiry: a TTL is not sent anywhere. The hub's lease scheduler unblocks at expiry, so list()
 * never reports expiresInSeconds.
 */
import { createHttpClient, ProviderError, type BodyCheckFailure, type HttpClient, type RequestSpec } from '../core/http';
import { parseTarget, type ParsedTarget } from '../core/guardrails';
import { badRequest, parseOrRefuse, parseUnblockAddresses, rewrap, SerialQueue, unblockEach, withContext, type HttpTuning } from './provider-kit';
import type { BlockTarget, EnforcedBlock, FirewallProvider } from './types';

export interface CloudflareOptions {
  /** Instance name for logs and leases. Default "cloudflare". */
  name?: string;
  apiToken: string;
  /** Exactly one of accountId (rules for every zone of the account) and zoneId. */
  accountId?: string;
  zoneId?: string;
  /** Default https://api.cloudflare.com/client/v4. */
  baseUrl?: string;
  /** Notes prefix that marks our rules. Default "soar"; "" = every block rule is ours. */
  notesPrefix?: string;
  http?: HttpTuning;
}

export type CloudflareTarget = 'ip' | 'ip6' | 'ip_range';

interface AccessRule {
  id: string;
  mode: string;
  notes?: string;
  configuration: { target: string; value: string };
}

interface CfEnvelope<T> {
  success?: boolean;
  errors?: { code?: number; message?: string }[];
  result?: T;
  result_info?: { page?: number; per_page?: number; total_pages?: number; count?: number; total_count?: number };
}

const KIND = 'cloudflare';
const DEFAULT_BASE = 'https://api.cloudflare.com/client/v4';
const SCOPE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const IPV4_RANGES = new Set([16, 24]);
const IPV6_RANGES = new Set([32, 48, 64]);
// Cloudflare error codes that mean "who are you": 10000 Authentication error, 9106/9109 missing or
// invalid token, 6003/6111 malformed Authorization header.
const AUTH_ERROR_CODES = new Set([10000, 9103, 9106, 9109, 6003, 6111]);
const DUPLICATE = /duplicate|already exists/i;
const NOTES_MAX = 500;
const PAGE_SIZE = 100;
const MAX_PAGES = 500;
const REFUSED = 'refused before calling Cloudflare';

function errorCodes(body: unknown): number[] {
  const errors = (body as CfEnvelope<unknown> | undefined)?.errors;
  return Array.isArray(errors) ? errors.map((e) => Number(e?.code)).filter(Number.isFinite) : [];
}

function errorText(body: CfEnvelope<unknown>): string {
  const errors = Array.isArray(body.errors) ? body.errors : [];
  const text = errors.map((e) => `${e?.code ?? '?'} ${String(e?.message ?? '').slice(0, 150)}`).join('; ');
  return text || 'success: false without errors';
}

/**
 * Cloudflare answers a bad token with 400/403 + code 10000 etc.: that is AUTH, not FORBIDDEN. Only
 * those statuses: a 429 may carry code 10000 too, and must stay RATE_LIMITED.
 */
function normaliseError(error: unknown): unknown {
  if (error instanceof ProviderError && (error.status === 400 || error.status === 403) && errorCodes(error.body).some((code) => AUTH_ERROR_CODES.has(code))) {
    return rewrap(error, { code: 'AUTH', retryable: false });
  }
  return error;
}

export interface CloudflareConfiguration {
  target: CloudflareTarget;
  value: string;
}

/** The access rule configuration for an address, or why Cloudflare cannot hold it. */
export function cloudflareConfiguration(target: ParsedTarget): CloudflareConfiguration | { error: string } {
  if (target.family === 4) {
    if (target.prefixLength === 32) return { target: 'ip', value: target.canonical };
    if (IPV4_RANGES.has(target.prefixLength)) return { target: 'ip_range', value: target.canonical };
    return { error: `${target.canonical}: Cloudflare IP Access rules take IPv4 ranges of /16 or /24 only` };
  }
  if (target.prefixLength === 128) return { target: 'ip6', value: target.canonical };
  if (IPV6_RANGES.has(target.prefixLength)) return { target: 'ip_range', value: target.canonical };
  return { error: `${target.canonical}: Cloudflare IP Access rules take IPv6 ranges of /32, /48 or /64 only` };
}

/** The canonical form of a rule's value, so "2001:DB8::1" and "2001:db8::1" compare equal. */
function ruleAddress(rule: AccessRule): string | undefined {
  const parsed = parseTarget(rule?.configuration?.value);
  return 'error' in parsed ? undefined : parsed.canonical;
}

export class CloudflareFirewall implements FirewallProvider {
  readonly kind = KIND;
  readonly name: string;
  private readonly http: HttpClient;
  private readonly rulesPath: string;
  private readonly notesPrefix: string;
  /** One change at a time: search-then-create must not race another call for the same value. */
  private readonly queue = new SerialQueue();

  constructor(options: CloudflareOptions) {
    this.name = options.name ?? 'cloudflare';
    if (!options.apiToken) throw badRequest(KIND, 'Cloudflare needs an API token (My Profile > API Tokens)');
    if (Boolean(options.accountId) === Boolean(options.zoneId)) throw badRequest(KIND, 'Cloudflare needs exactly one of accountId and zoneId');
    const scope = options.accountId ? ['accounts', options.accountId] : ['zones', options.zoneId!];
    if (!SCOPE_ID.test(scope[1])) throw badRequest(KIND, `invalid Cloudflare ${scope[0] === 'accounts' ? 'account' : 'zone'} id`);
    this.rulesPath = `/${scope[0]}/${scope[1]}/firewall/access_rules/rules`;
    this.notesPrefix = options.notesPrefix ?? 'soar';
    this.http = createHttpClient({
      ...options.http,
      provider: KIND,
      baseURL: (options.baseUrl ?? DEFAULT_BASE).replace(/\/+$/, ''),
      headers: { Authorization: `Bearer ${options.apiToken}` },
      secrets: [options.apiToken],
      checkBody: (data): BodyCheckFailure | undefined => {
        const body = data as CfEnvelope<unknown> | undefined;
        if (!body || typeof body !== 'object' || body.success !== false) return undefined;
        const codes = errorCodes(body);
        return {
          code: codes.some((code) => AUTH_ERROR_CODES.has(code)) ? 'AUTH' : 'BAD_REQUEST',
          vendorCode: codes.length > 0 ? String(codes[0]) : undefined,
          message: errorText(body),
        };
      },
    });
  }

  private async request<T>(spec: RequestSpec): Promise<CfEnvelope<T>> {
    try {
      return (await this.http.request<CfEnvelope<T>>(spec)).data;
    } catch (error) {
      throw normaliseError(error);
    }
  }

  private notesFor(comment: unknown): string {
    const text = typeof comment === 'string' ? comment.replace(/[\r\n\t]/g, ' ').trim() : '';
    if (!this.notesPrefix) return text.slice(0, NOTES_MAX);
    return `${this.notesPrefix}${text ? `: ${text}` : ''}`.slice(0, NOTES_MAX);
  }

  private isOurs(rule: AccessRule): boolean {
    if (!this.notesPrefix) return true;
    const notes = typeof rule.notes === 'string' ? rule.notes : '';
    return notes === this.notesPrefix || notes.startsWith(`${this.notesPrefix}:`) || notes.startsWith(`${this.notesPrefix} `);
  }

  private commentOf(rule: AccessRule): string | undefined {
    const notes = typeof rule.notes === 'string' ? rule.notes : '';
    const text = this.notesPrefix && notes.startsWith(this.notesPrefix) ? notes.slice(this.notesPrefix.length).replace(/^[: ]\s*/, '') : notes;
    return text || undefined;
  }

  /** Every rule (any mode) whose value is this address. */
  private async rulesFor(config: CloudflareConfiguration, canonical: string): Promise<AccessRule[]> {
    const body = await this.request<AccessRule[]>({
      url: this.rulesPath,
      params: { 'configuration.value': config.value, page: 1, per_page: 50 },
    });
    const rules = Array.isArray(body.result) ? body.result : [];
    return rules.filter((rule) => ruleAddress(rule) === canonical);
  }

  /** Checks the token can read the rules of the scope. Changes nothing. */
  ensureReady(): Promise<void> {
    return this.queue.run(async () => {
      await this.request({ url: this.rulesPath, params: { page: 1, per_page: 1 } });
    });
  }

  /**
   * Every target or none: all are searched first (a rule of another mode for the same value is a
   * CONFLICT, nothing created); then rules are created one by one, and on a failure the ones this call
   * created are deleted before the error is thrown. An existing block rule counts as blocked.
   */
  async block(targets: BlockTarget[]): Promise<void> {
    if (!Array.isArray(targets)) throw badRequest(KIND, 'block() expects an array of targets');
    const wanted = new Map<string, { config: CloudflareConfiguration; notes: string; hasComment: boolean }>();
    for (const target of targets) {
      const parsed = parseOrRefuse(KIND, target?.address, REFUSED);
      const config = cloudflareConfiguration(parsed);
      if ('error' in config) throw badRequest(KIND, `${REFUSED}: ${config.error}`);
      wanted.set(parsed.canonical, {
        config,
        notes: this.notesFor(target.comment),
        hasComment: typeof target.comment === 'string' && target.comment.trim() !== '',
      });
    }
    if (wanted.size === 0) return;
    return this.queue.run(async () => {
      const toCreate: { canonical: string; config: CloudflareConfiguration; notes: string }[] = [];
      const toRelabel: { rule: AccessRule; notes: string }[] = [];
      const conflicts: string[] = [];
      for (const [canonical, { config, notes, hasComment }] of wanted) {
        const existing = await this.rulesFor(config, canonical);
        const other = existing.find((rule) => rule.mode !== 'block');
        const blocking = existing.find((rule) => rule.mode === 'block');
        if (other) conflicts.push(`${canonical} already has a "${other.mode}" rule (${other.id})`);
        else if (!blocking) toCreate.push({ canonical, config, notes });
        // A re-block with a new comment relabels our rule; without one it keeps the old notes.
        else if (hasComment && this.isOurs(blocking) && blocking.notes !== notes) toRelabel.push({ rule: blocking, notes });
      }
      if (conflicts.length > 0) {
        throw new ProviderError({ provider: KIND, code: 'CONFLICT', attempts: 0, message: `nothing blocked: ${conflicts.slice(0, 5).join('; ')}` });
      }
      const created: string[] = [];
      try {
        for (const item of toCreate) {
          const id = await this.create(item.canonical, item.config, item.notes);
          if (id) created.push(id);
        }
        for (const { rule, notes } of toRelabel) {
          await this.request({ method: 'PATCH', url: `${this.rulesPath}/${encodeURIComponent(rule.id)}`, data: { notes }, idempotent: true });
        }
      } catch (error) {
        const failed: string[] = [];
        for (const id of created.reverse()) {
          try {
            await this.deleteRule(id);
          } catch {
            failed.push(id);
          }
        }
        const note =
          failed.length > 0 ? `; rollback FAILED for rule(s) ${failed.join(', ')}` : created.length > 0 ? `; rolled back ${created.length} created` : '';
        throw withContext(KIND, error, `nothing blocked${note}`);
      }
    });
  }

  /** Create one rule; a "duplicate" answer (an earlier attempt did land) counts when a block rule is now there. */
  private async create(canonical: string, config: CloudflareConfiguration, notes: string): Promise<string | undefined> {
    try {
      const body = await this.request<AccessRule>({
        method: 'POST',
        url: this.rulesPath,
        data: { mode: 'block', configuration: config, notes },
        // Cloudflare refuses a second rule for the same value, so a repeated create cannot double up.
        dedupKey: `${this.rulesPath} ${config.value}`,
      });
      return typeof body.result?.id === 'string' ? body.result.id : undefined;
    } catch (error) {
      if (!(error instanceof ProviderError) || error.code !== 'BAD_REQUEST' || !DUPLICATE.test(error.message)) throw error;
      const now = await this.rulesFor(config, canonical);
      if (now.some((rule) => rule.mode === 'block')) return undefined; // not ours to roll back
      throw error;
    }
  }

  private async deleteRule(id: string): Promise<void> {
    try {
      await this.request({ method: 'DELETE', url: `${this.rulesPath}/${encodeURIComponent(id)}` });
    } catch (error) {
      if (error instanceof ProviderError && error.code === 'NOT_FOUND') return;
      throw error;
    }
  }

  /** Delete our block rules for each address; absent ones (and addresses Cloudflare cannot hold) are fine. */
  async unblock(addresses: string[]): Promise<void> {
    const wanted = new Map<string, CloudflareConfiguration>();
    for (const [canonical, parsed] of parseUnblockAddresses(KIND, addresses, REFUSED)) {
      const config = cloudflareConfiguration(parsed);
      if (!('error' in config)) wanted.set(canonical, config);
    }
    if (wanted.size === 0) return;
    return this.queue.run(() =>
      unblockEach(KIND, wanted, async (config, canonical) => {
        const rules = await this.rulesFor(config, canonical);
        for (const rule of rules) {
          if (rule.mode === 'block' && this.isOurs(rule)) await this.deleteRule(rule.id);
        }
      }),
    );
  }

  /** Our block rules for IP addresses and ranges, all pages. */
  list(): Promise<EnforcedBlock[]> {
    return this.queue.run(async () => {
      const blocks = new Map<string, EnforcedBlock>();
      for (let page = 1; page <= MAX_PAGES; page++) {
        const body = await this.request<AccessRule[]>({ url: this.rulesPath, params: { mode: 'block', page, per_page: PAGE_SIZE } });
        const rules = Array.isArray(body.result) ? body.result : [];
        for (const rule of rules) {
          const target = rule?.configuration?.target;
          if (rule.mode !== 'block' || !this.isOurs(rule) || (target !== 'ip' && target !== 'ip6' && target !== 'ip_range')) continue;
          const address = ruleAddress(rule);
          if (!address) continue;
          const comment = this.commentOf(rule);
          blocks.set(address, comment ? { address, comment } : { address });
        }
        const totalPages = body.result_info?.total_pages;
        if (rules.length < PAGE_SIZE || (typeof totalPages === 'number' && page >= totalPages)) break;
      }
      return [...blocks.values()];
    });
  }

  async close(): Promise<void> {
    await this.queue.idle();
    this.http.close();
  }
}

export function createCloudflareFirewall(options: CloudflareOptions): CloudflareFirewall {
  return new CloudflareFirewall(options);
}
