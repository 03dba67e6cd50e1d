/**
 * Firewall provider: pfSense with the REST API package v2 ("pfrest", pfSense-pkg-RESTAPI), through the
 * address list of a firewall alias. Node-RED-free.
 *
 * Contract (docs/vendor-facts.md §C.4; jaredhendrickson13/pfsense-api docs and Swagger):
 * - Auth, any one: `X-API-Key: <key>`; HTTP Basic (local users); or a JWT from POST /api/v2/auth/jwt
 *   (Basic auth) -> data.token, sent as `Authorization: Bearer`, valid 1 h by default.
 * - GET   /api/v2/firewall/aliases?name=<alias> -> data: [{id, name, type, descr, address[], detail[]}]
 * - PATCH /api/v2/firewall/alias {id, address: [...full list...], detail: [...]} (replace semantics)
 * - POST  /api/v2/firewall/apply -> reloads the filter so the change is enforced.
 * - Every answer is {code, status, response_id, message, data}; a non-2xx `code` inside an HTTP 200
 *   is a failure (checkBody), e.g. 400 INVALID_HOST_ALIAS_ADDRESS.
 * `id` is the alias' index in the config array, so it is re-read by name right before every PATCH.
 *
 * All or none comes for free: one PATCH carries the whole new list. If the apply fails after it, the
 * previous list is written back before the error is thrown.
 *
 * No native expiry: a TTL is not sent anywhere. The hub's lease scheduler unblocks at expiry, so list()
 * never reports expiresInSeconds.
 */
import { codeForStatus } from '../core/errors';
import { createHttpClient, ProviderError, type HttpClient, type RequestSpec } from '../core/http';
import { parseTarget, type ParsedTarget } from '../core/guardrails';
import { apiRoot, badRequest, isSingleAddress, parseOrRefuse, parseUnblockAddresses, SerialQueue, withContext, type HttpTuning } from './provider-kit';
import type { BlockTarget, EnforcedBlock, FirewallProvider } from './types';

export type PfsenseAuth = { apiKey: string } | { username: string; password: string; mode?: 'jwt' | 'basic' };

export interface PfsenseOptions {
  /** Instance name for logs and leases. Default "pfsense". */
  name?: string;
  /** Firewall address, e.g. "https://pfsense.example" ("/api/v2" is added when missing). */
  url: string;
  auth: PfsenseAuth;
  /** Network (or Host) type alias used by a block rule. Default "soar_block". */
  alias?: string;
  /** Refuse a block that would grow the alias beyond this many entries. Default 5,000 (pfSense's GUI limit). */
  maxEntries?: number;
  http?: HttpTuning;
}

interface PfAlias {
  id: number;
  name: string;
  type: string;
  address: string[];
  detail: string[];
}

interface PfEnvelope<T> {
  code?: number;
  status?: string;
  response_id?: string;
  message?: string;
  data?: T;
}

const KIND = 'pfsense';
// pfSense alias names: letters, digits and underscore, at most 31 characters.
const ALIAS_NAME = /^[A-Za-z0-9_]{1,31}$/;
const JWT_DEFAULT_LIFETIME_MS = 3_600_000;
// Renew this long before the token runs out, so a request never leaves with a token about to expire.
const JWT_RENEW_MARGIN_MS = 60_000;
const DETAIL_MAX = 200;
const REFUSED = 'refused before calling pfSense';

/** An alias entry in canonical form, or undefined for what is not an address (FQDN, range). */
function canonicalEntry(entry: string): string | undefined {
  const parsed = parseTarget(entry);
  return 'error' in parsed ? undefined : parsed.canonical;
}

/** Descriptions must not contain "|": pfSense joins them with it in config.xml. */
function detailText(comment: unknown): string {
  const text = typeof comment === 'string' ? comment.replace(/[|\r\n\t]/g, ' ').trim() : '';
  return `soar${text ? `: ${text}` : ''}`.slice(0, DETAIL_MAX);
}

/** `exp` of a JWT (ms), when the payload carries one. The token is not verified: only its lifetime is read. */
function jwtExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export class PfsenseFirewall implements FirewallProvider {
  readonly kind = KIND;
  readonly name: string;
  readonly alias: string;
  private readonly http: HttpClient;
  private readonly auth: PfsenseAuth;
  private readonly basicHeader?: string;
  private readonly now: () => number;
  private readonly maxEntries: number;
  private readonly fixedSecrets: string[];
  private token?: { value: string; expiresAt: number };
  private login?: Promise<string>;
  private checked = false;
  /** One change at a time: read-modify-write of the alias must not interleave. */
  private readonly queue = new SerialQueue();

  constructor(options: PfsenseOptions) {
    this.name = options.name ?? 'pfsense';
    this.alias = options.alias ?? 'soar_block';
    if (!ALIAS_NAME.test(this.alias)) throw badRequest(KIND, `invalid pfSense alias name "${String(this.alias).slice(0, 40)}" (letters, digits, _; max 31)`);
    const baseURL = apiRoot(KIND, options.url, '/api/v2', 'pfSense url must start with https:// (or http://)');
    this.auth = options.auth;
    if (!this.auth || (!('apiKey' in this.auth) && !('username' in this.auth))) throw badRequest(KIND, 'pfSense needs auth: {apiKey} or {username, password}');
    if ('apiKey' in this.auth && !this.auth.apiKey) throw badRequest(KIND, 'pfSense apiKey is empty');
    if ('username' in this.auth) {
      if (!this.auth.username || !this.auth.password) throw badRequest(KIND, 'pfSense username and password are required');
      this.basicHeader = `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password}`, 'utf8').toString('base64')}`;
    }
    this.maxEntries = options.maxEntries ?? 5000;
    this.now = options.http?.now ?? Date.now;
    this.fixedSecrets = 'apiKey' in this.auth ? [this.auth.apiKey] : [this.auth.password, this.basicHeader!.slice(6)];
    this.http = createHttpClient({
      ...options.http,
      provider: KIND,
      baseURL,
      secrets: this.fixedSecrets,
      checkBody: (data) => {
        if (!data || typeof data !== 'object') return undefined;
        const body = data as PfEnvelope<unknown>;
        if (typeof body.code !== 'number' || (body.code >= 200 && body.code < 300)) return undefined;
        return {
          code: body.code === 429 ? 'RATE_LIMITED' : codeForStatus(body.code),
          retryable: body.code === 429 || body.code === 503,
          vendorCode: typeof body.response_id === 'string' ? body.response_id : undefined,
          message: `code ${body.code}${body.response_id ? ` ${body.response_id}` : ''}${body.message ? `: ${String(body.message).slice(0, 200)}` : ''}`,
        };
      },
    });
  }

  private async jwt(): Promise<string> {
    if (this.token && this.now() < this.token.expiresAt - JWT_RENEW_MARGIN_MS) return this.token.value;
    // Concurrent callers share one login.
    this.login ??= (async () => {
      try {
        const response = await this.http.request<PfEnvelope<{ token?: unknown }>>({
          method: 'POST',
          url: '/auth/jwt',
          headers: { Authorization: this.basicHeader! },
          idempotent: true, // issuing a second token is harmless
        });
        const value = response.data?.data?.token;
        if (typeof value !== 'string' || value === '') {
          throw new ProviderError({ provider: KIND, code: 'AUTH', attempts: 1, message: 'POST /auth/jwt answered without data.token' });
        }
        this.token = { value, expiresAt: jwtExpiry(value) ?? this.now() + JWT_DEFAULT_LIFETIME_MS };
        this.http.setSecrets([...this.fixedSecrets, value]);
        return value;
      } finally {
        this.login = undefined;
      }
    })();
    return this.login;
  }

  private async authHeaders(): Promise<Record<string, string>> {
    if ('apiKey' in this.auth) return { 'X-API-Key': this.auth.apiKey };
    if (this.auth.mode === 'basic') return { Authorization: this.basicHeader! };
    return { Authorization: `Bearer ${await this.jwt()}` };
  }

  /** A call with credentials; a JWT refused as expired/revoked is renewed once. */
  private async call<T>(spec: RequestSpec): Promise<T> {
    const send = async () => (await this.http.request<PfEnvelope<T>>({ ...spec, headers: { ...spec.headers, ...(await this.authHeaders()) } })).data;
    try {
      return (await send()).data as T;
    } catch (error) {
      const usesJwt = 'username' in this.auth && this.auth.mode !== 'basic';
      if (!usesJwt || !(error instanceof ProviderError) || error.code !== 'AUTH' || !this.token) throw error;
      this.token = undefined;
      return (await send()).data as T;
    }
  }

  private async readAlias(): Promise<PfAlias> {
    const found = await this.call<unknown>({ url: '/firewall/aliases', params: { name: this.alias } });
    const match = (Array.isArray(found) ? found : []).find((item) => (item as { name?: unknown })?.name === this.alias) as Record<string, unknown> | undefined;
    if (!match || typeof match.id !== 'number') {
      throw new ProviderError({
        provider: KIND,
        code: 'NOT_FOUND',
        attempts: 1,
        message:
          `pfSense alias "${this.alias}" does not exist. Create it under Firewall > Aliases > IP (Type: Network(s), ` +
          `name ${this.alias}; it may start empty), add a block rule with it as source on WAN, and Apply Changes.`,
      });
    }
    const strings = (value: unknown) => (Array.isArray(value) ? value.map((item) => String(item)) : []);
    return { id: match.id, name: this.alias, type: String(match.type ?? ''), address: strings(match.address), detail: strings(match.detail) };
  }

  private checkType(alias: PfAlias): void {
    if (alias.type !== 'host' && alias.type !== 'network') {
      throw new ProviderError({
        provider: KIND,
        code: 'BAD_REQUEST',
        attempts: 1,
        message: `pfSense alias "${this.alias}" has type "${alias.type}"; blocks need a Network(s) (or Host(s)) alias`,
      });
    }
  }

  /** Logs in (JWT) and checks the alias exists with a usable type. Changes nothing. */
  ensureReady(): Promise<void> {
    return this.queue.run(async () => {
      this.checkType(await this.readAlias());
      this.checked = true;
    });
  }

  /** Replace the alias' list, then apply; when the apply fails, put the previous list back. */
  private async write(alias: PfAlias, address: string[], detail: string[]): Promise<void> {
    await this.call({ method: 'PATCH', url: '/firewall/alias', data: { id: alias.id, address, detail }, idempotent: true });
    try {
      await this.call({ method: 'POST', url: '/firewall/apply', idempotent: true });
    } catch (error) {
      let restored = 'previous list restored';
      try {
        await this.call({ method: 'PATCH', url: '/firewall/alias', data: { id: alias.id, address: alias.address, detail: alias.detail }, idempotent: true });
      } catch {
        restored = 'restoring the previous list FAILED too: the alias holds the new list, not applied';
      }
      throw withContext(KIND, error, `nothing changed (apply failed; ${restored})`);
    }
  }

  /** One PATCH with the whole new list (all or none), then apply. TTL is not sent (no native expiry). */
  async block(targets: BlockTarget[]): Promise<void> {
    if (!Array.isArray(targets)) throw badRequest(KIND, 'block() expects an array of targets');
    const wanted = new Map<string, { target: ParsedTarget; comment?: string }>();
    for (const target of targets) {
      const parsed = parseOrRefuse(KIND, target?.address, REFUSED);
      wanted.set(parsed.canonical, { target: parsed, comment: target.comment });
    }
    if (wanted.size === 0) return;
    return this.queue.run(async () => {
      const alias = await this.readAlias();
      if (!this.checked) {
        this.checkType(alias);
        this.checked = true;
      }
      const present = new Set(alias.address.map(canonicalEntry));
      const address = [...alias.address];
      // Keep descriptions aligned with their addresses.
      const detail = alias.address.map((_, index) => alias.detail[index] ?? '');
      for (const { target, comment } of wanted.values()) {
        if (present.has(target.canonical)) continue;
        if (alias.type === 'host' && !isSingleAddress(target)) {
          throw badRequest(KIND, `nothing blocked: ${target.canonical} is a network but alias "${this.alias}" is a Host(s) alias; use a Network(s) alias`);
        }
        address.push(target.canonical);
        detail.push(detailText(comment));
      }
      if (address.length === alias.address.length) return;
      if (address.length > this.maxEntries) {
        throw badRequest(KIND, `nothing blocked: alias "${this.alias}" would hold ${address.length} entries, above the limit of ${this.maxEntries}`);
      }
      await this.write(alias, address, detail);
    });
  }

  /** One PATCH without the given addresses, then apply; absent addresses are fine. */
  async unblock(addresses: string[]): Promise<void> {
    const remove = new Set(parseUnblockAddresses(KIND, addresses, REFUSED).keys());
    if (remove.size === 0) return;
    return this.queue.run(async () => {
      const alias = await this.readAlias();
      const keep = alias.address
        .map((entry, index) => ({ entry, detail: alias.detail[index] ?? '' }))
        .filter(({ entry }) => !remove.has(canonicalEntry(entry) ?? ''));
      if (keep.length === alias.address.length) return;
      await this.write(
        alias,
        keep.map((k) => k.entry),
        keep.map((k) => k.detail),
      );
    });
  }

  /** The alias' addresses (FQDN and range entries are skipped: they are not ours). */
  list(): Promise<EnforcedBlock[]> {
    return this.queue.run(async () => {
      const alias = await this.readAlias();
      const blocks: EnforcedBlock[] = [];
      const seen = new Set<string>();
      alias.address.forEach((entry, index) => {
        const canonical = canonicalEntry(entry);
        if (!canonical || seen.has(canonical)) return;
        seen.add(canonical);
        const detail = alias.detail[index];
        blocks.push(detail ? { address: canonical, comment: detail } : { address: canonical });
      });
      return blocks;
    });
  }

  async close(): Promise<void> {
    await this.queue.idle();
    this.http.close();
  }
}

export function createPfsenseFirewall(options: PfsenseOptions): PfsenseFirewall {
  return new PfsenseFirewall(options);
}
