/**
 * Firewall provider: a CrowdSec Local API (LAPI). A block is a ban *decision*, so every CrowdSec bouncer
 * attached to that LAPI (firewall, nginx, cloudflare, ...) enforces it. Node-RED-free.
 *
 * The LAPI has no "create decision" route: like `cscli decisions add`, a block posts an alert carrying
 * the decision (docs/vendor-facts.md §C.2). Calls, checked against crowdsec 1.4.6 (Debian 12):
 *
 *   login    POST /v1/watchers/login {machine_id, password, scenarios: []} → {code, expire, token}
 *            (401 on bad credentials; the JWT lasts an hour, and a LAPI restart invalidates it → 401)
 *   block    POST /v1/alerts [Alert + decisions[{type:'ban', scope:'Ip'|'Range', value, duration, origin, scenario}]]
 *            → 201 ["<alert id>", ...]
 *   find     GET  /v1/decisions?ip=|range=  with the bouncer key (X-Api-Key), or without one
 *            GET  /v1/alerts?ip=|range=&has_active_decision=true&limit=0  with the JWT
 *   unblock  DELETE /v1/decisions/{id}  with the JWT → {"nbDeleted":"1"}; an unknown id → 500 "doesn't exist"
 *   list     GET  /v1/decisions  (bouncer key) → [Decision] or null; duration is Go text ("3h59m58.9s")
 *
 * Why decisions are deleted by id: `DELETE /v1/decisions?ip=X` also deletes every *range* containing X
 * (and 1.4.6 refuses `?scope=&value=`), so unblocking one address would lift a /24 ban around it.
 * Why `limit=0` on /v1/alerts: 1.4.6 loops forever on a limit larger than the number of matches.
 *
 * Semantics: re-blocking an address replaces our own earlier decision for it (the new one is posted
 * first, then the older ones are deleted, so the ban never lapses). Permanent = a decision of
 * `permanentSeconds` (10 years by default: the LAPI needs a duration); list() reports anything with
 * more than a year left as permanent. Which decisions list() and unblock() touch is `origins`: by
 * default only our own origin, so community blocklists and CrowdSec's own detections are left alone.
 */
import { randomUUID } from 'node:crypto';
import { createHttpClient, ProviderError, type HttpClient, type RequestSpec, type RetryOptions } from '../core/http';
import type { SleepFn } from '../core/budget';
import { parseTarget, type ParsedTarget } from '../core/guardrails';
import { sanitiseComment } from './nft-script';
import { badRequest, checkTtl, isSingleAddress, parseOrRefuse, parseUnblockAddresses, SerialQueue } from './provider-kit';
import type { BlockTarget, EnforcedBlock, FirewallProvider } from './types';

export interface CrowdsecOptions {
  /** Instance name for logs and leases. Default "crowdsec". */
  name?: string;
  /** LAPI root, e.g. http://127.0.0.1:8080 (the /v1 paths are added). */
  baseURL: string;
  /** A machine (watcher) registered with `cscli machines add <id> --password ...`. */
  machineId: string;
  password: string;
  /** A bouncer key (`cscli bouncers add <name>`): list() and lookups read /v1/decisions with it. */
  bouncerKey?: string;
  /** Scenario name on our alerts and decisions. Default "soar/manual-block". */
  scenario?: string;
  /** Origin on our decisions. Default "soar". */
  origin?: string;
  /** Decisions list() reports and unblock() removes: these origins, or 'all'. Default [origin]. */
  origins?: string[] | 'all';
  /** Duration posted for a permanent block. Default 10 years. */
  permanentSeconds?: number;
  /** Per HTTP attempt. Default 15 s. */
  timeoutMs?: number;
  retry?: RetryOptions;
  /** Injectable for tests. */
  now?: () => number;
  sleep?: SleepFn;
  random?: () => number;
}

/** Longest ttl accepted, and the line between "expires" and "permanent" in list(). */
export const CROWDSEC_MAX_TTL_SECONDS = 365 * 24 * 3600;
const DEFAULT_PERMANENT_SECONDS = 10 * 365 * 24 * 3600;
/** Refresh the JWT this long before the LAPI says it expires. */
const TOKEN_MARGIN_MS = 60_000;
/** A login answer without a readable expiry is trusted this long. */
const TOKEN_FALLBACK_MS = 10 * 60_000;
/** Up to this many targets are looked up one by one; more read the whole decision list once. */
const PER_TARGET_LOOKUPS = 20;
const PARALLEL_DELETES = 4;
const PROVIDER = 'crowdsec';
const REFUSED = 'refused before calling CrowdSec';
const TTL_LIMIT = { maxSeconds: CROWDSEC_MAX_TTL_SECONDS, described: `${CROWDSEC_MAX_TTL_SECONDS} (one year)` };

/** A decision as the LAPI returns it (bouncer route, or inside an alert). */
interface LapiDecision {
  id?: unknown;
  origin?: unknown;
  type?: unknown;
  scope?: unknown;
  value?: unknown;
  duration?: unknown;
}

/** An active ban we understand: an Ip/Range decision with time left. */
interface ActiveDecision {
  id: number;
  origin: string;
  target: ParsedTarget;
  remainingSeconds: number;
}

interface PreparedTarget {
  target: ParsedTarget;
  ttlSeconds?: number;
  comment?: string;
}

function bodyError(message: string): ProviderError {
  return new ProviderError({ provider: PROVIDER, code: 'BODY_ERROR', message });
}

const GO_DURATION_PART = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|μs|ns)/g;
const GO_UNIT_SECONDS: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, µs: 1e-6, μs: 1e-6, ns: 1e-9 };

/** Seconds in a Go duration text ("3h59m58.9s", "-182.5ms", "0s"), or undefined when it is not one. */
export function parseGoDuration(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const match = /^([-+]?)((?:\d+(?:\.\d+)?(?:h|ms|m|s|us|µs|μs|ns))+|0)$/.exec(text.trim());
  if (!match) return undefined;
  let seconds = 0;
  for (const [, amount, unit] of match[2].matchAll(GO_DURATION_PART)) seconds += Number(amount) * GO_UNIT_SECONDS[unit];
  return match[1] === '-' ? -seconds : seconds;
}

/** The CrowdSec scope of a target: an address is "Ip", a prefix is "Range". */
function scopeOf(target: ParsedTarget): 'Ip' | 'Range' {
  return isSingleAddress(target) ? 'Ip' : 'Range';
}

/** The LAPI filter for decisions covering a target (then narrowed to the exact value here). */
function lookupParams(target: ParsedTarget): Record<string, string> {
  return isSingleAddress(target) ? { ip: target.canonical } : { range: target.canonical };
}

function checkName(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > 128 || /[\u0000-\u001f]/.test(value)) {
    throw badRequest(PROVIDER, `crowdsec: ${what} must be a non-empty single-line string (max 128 characters)`);
  }
  return value.trim();
}

export class CrowdsecFirewall implements FirewallProvider {
  readonly kind = 'crowdsec';
  readonly name: string;
  private readonly http: HttpClient;
  private readonly machineId: string;
  private readonly password: string;
  private readonly bouncerKey?: string;
  private readonly scenario: string;
  private readonly origin: string;
  private readonly origins: Set<string> | 'all';
  private readonly permanentSeconds: number;
  private readonly now: () => number;
  private session?: { token: string; refreshAt: number };
  private loggingIn?: Promise<string>;
  /** Calls run one after another: a re-block's cleanup must not race an unblock of the same address. */
  private readonly queue = new SerialQueue();

  constructor(options: CrowdsecOptions) {
    if (!options || typeof options !== 'object') throw badRequest(PROVIDER, 'crowdsec: options are required');
    this.name = options.name ?? 'crowdsec';
    let base: URL;
    try {
      base = new URL(options.baseURL);
    } catch {
      throw badRequest(PROVIDER, 'crowdsec: baseURL must be a URL such as http://127.0.0.1:8080');
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw badRequest(PROVIDER, 'crowdsec: baseURL must be http(s)');
    this.machineId = checkName(options.machineId, 'machineId');
    if (typeof options.password !== 'string' || options.password === '') throw badRequest(PROVIDER, 'crowdsec: password is required');
    this.password = options.password;
    if (options.bouncerKey !== undefined && (typeof options.bouncerKey !== 'string' || options.bouncerKey === '')) {
      throw badRequest(PROVIDER, 'crowdsec: bouncerKey must be a non-empty string when given');
    }
    this.bouncerKey = options.bouncerKey;
    this.scenario = checkName(options.scenario ?? 'soar/manual-block', 'scenario');
    this.origin = checkName(options.origin ?? 'soar', 'origin');
    if (options.origins === 'all') this.origins = 'all';
    else this.origins = new Set((options.origins ?? [this.origin]).map((o) => checkName(o, 'origins entry')));
    this.permanentSeconds = options.permanentSeconds ?? DEFAULT_PERMANENT_SECONDS;
    if (!Number.isInteger(this.permanentSeconds) || this.permanentSeconds <= CROWDSEC_MAX_TTL_SECONDS) {
      throw badRequest(PROVIDER, `crowdsec: permanentSeconds must be an integer above ${CROWDSEC_MAX_TTL_SECONDS} (one year)`);
    }
    this.now = options.now ?? Date.now;
    this.http = createHttpClient({
      provider: PROVIDER,
      baseURL: base.toString().replace(/\/+$/, ''),
      secrets: [this.password, ...(this.bouncerKey ? [this.bouncerKey] : [])],
      timeoutMs: options.timeoutMs,
      retry: options.retry,
      now: options.now,
      sleep: options.sleep,
      random: options.random,
      // A LAPI that also holds community blocklists answers /v1/decisions with tens of thousands of rows.
      maxBodyBytes: 64 * 1024 * 1024,
    });
  }

  // -------------------------------------------------------------------------------------------------
  // Authentication

  private async login(): Promise<string> {
    let response;
    try {
      response = await this.http.request<{ token?: unknown; expire?: unknown }>({
        method: 'POST',
        url: '/v1/watchers/login',
        data: { machine_id: this.machineId, password: this.password, scenarios: [] },
        // Logging in twice is harmless: allow the client's retries on transient failures.
        idempotent: true,
      });
    } catch (error) {
      if (error instanceof ProviderError && (error.code === 'AUTH' || error.code === 'FORBIDDEN')) {
        throw new ProviderError({
          provider: PROVIDER,
          code: 'AUTH',
          status: error.status,
          attempts: error.attempts,
          message: `crowdsec: machine login refused for "${this.machineId}" (HTTP ${error.status}): check the machine id and password, and that the machine is validated (cscli machines list)`,
        });
      }
      throw error;
    }
    const token = response.data?.token;
    if (typeof token !== 'string' || token === '') throw bodyError('crowdsec: the login answer has no token');
    const expires = typeof response.data.expire === 'string' ? Date.parse(response.data.expire) : NaN;
    const refreshAt = Number.isFinite(expires) ? expires - TOKEN_MARGIN_MS : this.now() + TOKEN_FALLBACK_MS;
    this.session = { token, refreshAt };
    this.http.setSecrets([this.password, token, ...(this.bouncerKey ? [this.bouncerKey] : [])]);
    return token;
  }

  /** The cached JWT, or a fresh one when there is none or it is about to expire. One login at a time. */
  private token(): Promise<string> {
    if (this.session && this.now() < this.session.refreshAt) return Promise.resolve(this.session.token);
    if (!this.loggingIn) {
      this.loggingIn = this.login().finally(() => {
        this.loggingIn = undefined;
      });
    }
    return this.loggingIn;
  }

  /** A watcher call with the JWT; a 401 (expired token, LAPI restarted) logs in again and retries once. */
  private async watcherRequest<T>(spec: RequestSpec): Promise<{ status: number; data: T }> {
    const token = await this.token();
    const send = (jwt: string) => this.http.request<T>({ ...spec, headers: { ...spec.headers, Authorization: `Bearer ${jwt}` } });
    try {
      return await send(token);
    } catch (error) {
      if (!(error instanceof ProviderError) || error.code !== 'AUTH') throw error;
      if (this.session?.token === token) this.session = undefined;
      return send(await this.token());
    }
  }

  private bouncerRequest<T>(spec: RequestSpec): Promise<{ status: number; data: T }> {
    return this.http.request<T>({ ...spec, headers: { ...spec.headers, 'X-Api-Key': this.bouncerKey! } });
  }

  // -------------------------------------------------------------------------------------------------
  // Reading decisions

  private toActive(raw: LapiDecision): ActiveDecision | undefined {
    if (typeof raw !== 'object' || raw === null) return undefined;
    if (typeof raw.id !== 'number' || typeof raw.origin !== 'string' || typeof raw.value !== 'string') return undefined;
    if (typeof raw.type !== 'string' || raw.type.toLowerCase() !== 'ban') return undefined;
    const scope = typeof raw.scope === 'string' ? raw.scope.toLowerCase() : '';
    if (scope !== 'ip' && scope !== 'range') return undefined; // Country, AS, Username...: not an address block
    const remaining = parseGoDuration(raw.duration);
    if (remaining === undefined || remaining <= 0) return undefined; // expired while the answer was built
    const parsed = parseTarget(raw.value);
    if ('error' in parsed) return undefined;
    return { id: raw.id, origin: raw.origin, target: parsed, remainingSeconds: remaining };
  }

  /** Active bans covering `target` (or all, without one), from the bouncer route or the alerts route. */
  private async fetchDecisions(target?: ParsedTarget): Promise<ActiveDecision[]> {
    let raw: unknown[];
    if (this.bouncerKey) {
      const response = await this.bouncerRequest<unknown>({ url: '/v1/decisions', params: target ? lookupParams(target) : undefined });
      if (response.data !== null && !Array.isArray(response.data)) throw bodyError('crowdsec: /v1/decisions did not answer with a list');
      raw = response.data ?? [];
    } else {
      const response = await this.watcherRequest<unknown>({
        url: '/v1/alerts',
        // limit=0 = no limit; a larger limit than there are alerts makes 1.4.6 loop forever.
        params: { has_active_decision: 'true', limit: '0', ...(target ? lookupParams(target) : {}) },
      });
      if (response.data !== null && !Array.isArray(response.data)) throw bodyError('crowdsec: /v1/alerts did not answer with a list');
      raw = (response.data ?? []).flatMap((alert) => {
        const decisions = (alert as { decisions?: unknown } | null)?.decisions;
        return Array.isArray(decisions) ? decisions : [];
      });
    }
    const active: ActiveDecision[] = [];
    const seen = new Set<number>();
    for (const item of raw) {
      const decision = this.toActive(item as LapiDecision);
      if (!decision || seen.has(decision.id)) continue;
      seen.add(decision.id);
      if (target && decision.target.canonical !== target.canonical) continue; // a range around it, etc.
      active.push(decision);
    }
    return active;
  }

  /** Active bans whose value is exactly one of the targets. */
  private async decisionsFor(targets: ParsedTarget[]): Promise<ActiveDecision[]> {
    if (targets.length <= PER_TARGET_LOOKUPS) {
      const found: ActiveDecision[] = [];
      for (const target of targets) found.push(...(await this.fetchDecisions(target)));
      return found;
    }
    const wanted = new Set(targets.map((t) => t.canonical));
    return (await this.fetchDecisions()).filter((d) => wanted.has(d.target.canonical));
  }

  private managed(decision: ActiveDecision): boolean {
    return this.origins === 'all' || this.origins.has(decision.origin);
  }

  // -------------------------------------------------------------------------------------------------
  // Changing decisions

  private alertFor(prepared: PreparedTarget, at: string): Record<string, unknown> {
    const { target } = prepared;
    const scope = scopeOf(target);
    const value = target.canonical;
    const seconds = prepared.ttlSeconds ?? this.permanentSeconds;
    return {
      scenario: this.scenario,
      scenario_hash: '',
      scenario_version: '',
      message: `${this.scenario}: ${value} blocked by SOAR${prepared.comment ? ` (${prepared.comment})` : ''}`,
      events_count: 1,
      start_at: at,
      stop_at: at,
      capacity: 0,
      leakspeed: '0',
      simulated: false,
      remediation: true,
      events: [],
      source: scope === 'Ip' ? { scope, value, ip: value } : { scope, value, range: value },
      decisions: [{ type: 'ban', scope, value, duration: `${seconds}s`, origin: this.origin, scenario: this.scenario }],
    };
  }

  /** Delete decisions by id, a few at a time; one that is already gone counts as deleted. */
  private async deleteDecisions(ids: number[]): Promise<void> {
    const pending = [...new Set(ids)];
    const failures: ProviderError[] = [];
    const worker = async () => {
      for (let id = pending.shift(); id !== undefined; id = pending.shift()) {
        try {
          await this.watcherRequest({
            method: 'DELETE',
            url: `/v1/decisions/${id}`,
            // Not "idempotent": 1.4.6 answers an unknown id with 500, which must not be retried 4 times.
            idempotent: false,
            dedupKey: `decision-${id}`,
          });
        } catch (error) {
          if (error instanceof ProviderError && (error.status === 404 || (error.status === 500 && /doesn't exist|not found/i.test(error.message)))) continue;
          failures.push(error instanceof ProviderError ? error : new ProviderError({ provider: PROVIDER, code: 'SERVER', message: String(error) }));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_DELETES, pending.length) }, worker));
    if (failures.length > 0) {
      const first = failures[0];
      throw new ProviderError({
        provider: PROVIDER,
        code: first.code,
        status: first.status,
        retryable: first.retryable,
        message: `crowdsec: ${failures.length} of ${ids.length} decision(s) could not be deleted: ${first.message}`,
      });
    }
  }

  private prepareBlock(targets: BlockTarget[]): PreparedTarget[] {
    if (!Array.isArray(targets)) throw badRequest(PROVIDER, 'block() expects an array of targets');
    const byCanonical = new Map<string, PreparedTarget>();
    for (const target of targets) {
      if (!target || typeof target !== 'object') throw badRequest(PROVIDER, 'a block target must be an object with an address');
      const parsed = parseOrRefuse(PROVIDER, target.address, REFUSED);
      const prepared: PreparedTarget = { target: parsed };
      const ttl = checkTtl(PROVIDER, target.ttlSeconds, parsed.canonical, TTL_LIMIT);
      if (ttl !== undefined) prepared.ttlSeconds = ttl;
      const comment = sanitiseComment(target.comment);
      if (comment !== undefined) prepared.comment = comment;
      byCanonical.delete(parsed.canonical); // the later entry wins, as if blocked twice
      byCanonical.set(parsed.canonical, prepared);
    }
    return [...byCanonical.values()];
  }

  // -------------------------------------------------------------------------------------------------
  // FirewallProvider

  /** Log in (checks the machine credentials) and, with a bouncer key, check that key. */
  ensureReady(): Promise<void> {
    return this.queue.run(async () => {
      this.session = undefined;
      await this.token();
      if (this.bouncerKey) {
        // A filter that matches nothing keeps the answer small on a LAPI with big community lists.
        await this.bouncerRequest({ url: '/v1/decisions', params: { scope: 'soar-readiness-check' } }).catch((error: unknown) => {
          if (error instanceof ProviderError && (error.code === 'FORBIDDEN' || error.code === 'AUTH')) {
            throw new ProviderError({
              provider: PROVIDER,
              code: 'FORBIDDEN',
              status: error.status,
              message: `crowdsec: the bouncer key was refused (HTTP ${error.status}); create one with \`cscli bouncers add <name>\``,
            });
          }
          throw error;
        });
      }
    });
  }

  /**
   * One POST carries every target (the LAPI stores the alerts of one request together). Our own older
   * decisions for the same values are deleted afterwards, so a re-block replaces the timeout.
   */
  block(targets: BlockTarget[]): Promise<void> {
    const prepared = this.prepareBlock(targets);
    if (prepared.length === 0) return Promise.resolve();
    return this.queue.run(async () => {
      const older = (await this.decisionsFor(prepared.map((p) => p.target))).filter((d) => d.origin === this.origin);
      const at = new Date(this.now()).toISOString();
      const response = await this.watcherRequest<unknown>({
        method: 'POST',
        url: '/v1/alerts',
        data: prepared.map((p) => this.alertFor(p, at)),
        // A repeated post only adds a duplicate decision, which the next re-block or unblock removes.
        dedupKey: randomUUID(),
      });
      if (!Array.isArray(response.data) || response.data.length !== prepared.length) {
        throw bodyError(`crowdsec: POST /v1/alerts answered ${JSON.stringify(response.data)?.slice(0, 100)}, expected ${prepared.length} alert id(s)`);
      }
      if (older.length > 0) await this.deleteDecisions(older.map((d) => d.id));
    });
  }

  /** Delete the managed decisions (see `origins`) whose value is exactly one of the addresses. */
  unblock(addresses: string[]): Promise<void> {
    const targets = [...parseUnblockAddresses(PROVIDER, addresses, REFUSED).values()];
    if (targets.length === 0) return Promise.resolve();
    return this.queue.run(async () => {
      const found = (await this.decisionsFor(targets)).filter((d) => this.managed(d));
      if (found.length > 0) await this.deleteDecisions(found.map((d) => d.id));
    });
  }

  /** Active managed bans, one entry per address (the longest remaining time when there are several). */
  list(): Promise<EnforcedBlock[]> {
    return this.queue.run(async () => {
      const longest = new Map<string, number>();
      for (const decision of await this.fetchDecisions()) {
        if (!this.managed(decision)) continue;
        const key = decision.target.canonical;
        longest.set(key, Math.max(longest.get(key) ?? 0, decision.remainingSeconds));
      }
      return [...longest].map(([address, remaining]) =>
        remaining > CROWDSEC_MAX_TTL_SECONDS ? { address } : { address, expiresInSeconds: Math.floor(remaining) },
      );
    });
  }

  async close(): Promise<void> {
    await this.queue.idle();
    this.http.close();
  }
}

export function createCrowdsecFirewall(options: CrowdsecOptions): CrowdsecFirewall {
  return new CrowdsecFirewall(options);
}
