/**
 * The block family: block leases on firewall providers, as a thin adapter over the family-neutral
 * lease engine (lib/core/leases), plus what only blocks have: IP parsing through the guardrail policy,
 * the TTL rules and repeat-offender escalation. The engine behind `soar-block-ip`, the sidebar's lease
 * list / release button and the hub's expiry scheduler. Node-RED-free.
 *
 * Store layout (StateStore namespaces):
 *   leases      key "<provider>|<canonical target>" -> Lease (the engine's lease store; block keys have
 *               no kind prefix, so leases written before the engine existed load unchanged).
 *   offences    same key -> OffenceRecord (repeat-offender history), store TTL = the repeat window
 *               counted from the END of the last lease (see below), so it survives restarts.
 *   lease-undo  same key -> the engine's undo intents (crash recovery, lib/core/leases/undo-gate.ts).
 *
 * Order of a block: guardrail address check -> hourly cap per provider (new leases only) -> simulation
 * -> provider.block -> lease written (durable) -> audit `action.done`. A refusal is audited as
 * `action.refused` and the provider is never called; a provider error is audited as `action.failed`
 * (redacted) and no lease is written. If writing the lease fails after the provider blocked, the block
 * is rolled back, so nothing is reported blocked that is not, and nothing stays blocked unrecorded.
 *
 * Decisions (documented here because callers depend on them):
 * - TTL: the request must carry one (the node passes its configured default); 'permanent' only when
 *   asked for explicitly. A missing or invalid TTL is REFUSED (status 'refused', audited), never
 *   turned into a permanent block.
 * - Simulation: nothing is touched and NO lease is stored. The outcome and the `action.simulated`
 *   record carry the lease as it would have been (`simulated: true`, escalation included) and say
 *   whether it would have been a new block or an extension. The hourly cap IS taken in simulation,
 *   so a simulated run shows the refusals a real run would get.
 * - Extension: blocking an address already leased on the same provider keeps the lease (same id)
 *   and calls provider.block again with the remaining TTL of the new end (expiresAt = the later of
 *   old and new; permanent wins). An extension does not take an hourly-cap slot but the address check
 *   still applies.
 * - Native expiry: providers get ttlSeconds = seconds left until the lease ends (rounded up), so a
 *   provider that can expire blocks itself (nftables) lifts them even if the hub stays down; the
 *   engine's undo at expiry is the primary mechanism and works for every provider.
 * - Repeat offenders: every accepted block (new or extension) of the same target on the same provider
 *   counts as an offence while the previous lease is active or within `windowMs` after it ended. The
 *   n-th offence gets ttl x factor^(n-1), capped at maxTtlSeconds (never below the requested TTL).
 *   A release with `forgetOffences: true` (a false positive) clears the history.
 * - Unblock by request: needs no guardrail check or cap slot (it restores traffic). When no lease
 *   exists, the provider is asked what it holds and the address is unblocked only when it is listed
 *   (a block made by hand is releasable; an unknown address gives 'not-found' without a provider
 *   write). In simulation the provider is not called at all.
 * - Expiry, undo once, recovery and reconciliation are the engine's (lib/core/leases/).
 */
import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../core/audit';
import { parseTarget, type GuardrailPolicy } from '../core/guardrails';
import { endOf, LeaseEngine, withoutUndefined, type Drift as EngineDrift, type LeaseFamily, type LeaseRecord, type ReconcileOptions } from '../core/leases';
import type { StateStore } from '../core/types';
import { addressKey } from './reconcile';
import type { EnforcedBlock, FirewallProvider } from './types';

export { LEASES_NS, UNDO_NS } from '../core/leases';
export type { ReconcileOptions } from '../core/leases';
export const OFFENCES_NS = 'offences';

const DAY_MS = 24 * 3_600_000;
const DEFAULT_WINDOW_MS = 7 * DAY_MS;
const DEFAULT_FACTOR = 2;
const DEFAULT_MAX_TTL_SECONDS = 30 * 24 * 3600;
const TEXT_LIMIT = 500;

export type LeaseStatus = 'active' | 'expiring-failed';

export interface Lease extends LeaseRecord<string> {
  kind: 'block';
  /** Canonical IP or CIDR, as the guardrail policy normalised it. */
  target: string;
  reason?: string;
  alertId?: string;
  approvalId?: string;
  /** Who or what asked (user, flow, node id). */
  by?: string;
  /** Effective TTL of the latest block request, after repeat-offender escalation. */
  ttlSeconds: number | 'permanent';
  /** TTL the latest request asked for, before escalation. */
  requestedTtlSeconds: number | 'permanent';
  /** Offence number of the latest block request (1 = first offence in the window). */
  offences: number;
  lastBlockedAt: string;
  /** Block requests that extended this lease. */
  extensions: number;
  /** Only on leases returned by simulated blocks (never stored). */
  simulated?: true;
}
/** Repeat-offender history of one target on one provider. */
export interface OffenceRecord {
  target: string;
  provider: string;
  /** Offences in the current chain. */
  count: number;
  firstAt: string;
  lastAt: string;
}

export interface BlockRequest {
  target: string;
  provider: string;
  /** Required: the node's default when the message has none. 'permanent' only when set explicitly. */
  ttlSeconds?: number | 'permanent';
  reason?: string;
  alertId?: string;
  approvalId?: string;
  by?: string;
}

export type BlockOutcome =
  { status: 'blocked' | 'extended' | 'simulated'; lease: Lease } | { status: 'refused'; reason: string } | { status: 'failed'; reason: string; code?: string };

export interface UnblockOptions {
  by?: string;
  reason?: string;
  /** Drop the repeat-offender history too (a false positive). Default false. */
  forgetOffences?: boolean;
}

export type UnblockOutcome =
  /** lease is absent when the provider held a block that had no lease. */
  | { status: 'released'; lease?: Lease }
  | { status: 'simulated'; lease?: Lease }
  | { status: 'not-found' }
  | { status: 'failed'; reason: string; code?: string };

export interface Drift extends EngineDrift<Lease, EnforcedBlock> {
  /** With repair: targets blocked again. */
  repaired?: string[];
}

export interface RepeatOffenderOptions {
  /** Default 7 days. */
  windowMs?: number;
  /** Default 2. */
  factor?: number;
  /** Default 30 days. */
  maxTtlSeconds?: number;
}

export interface LeaseManagerOptions {
  store: StateStore;
  audit: Pick<AuditLog, 'append'>;
  /** Read per call: a redeploy replaces the hub's policy. */
  guardrails: () => GuardrailPolicy;
  simulate: () => boolean;
  providers: Map<string, FirewallProvider> | ((name: string) => FirewallProvider | undefined);
  /** The provider's label for people, kept in leases and audit records next to its id. */
  labelOf?: (name: string) => string | undefined;
  /**
   * Why a provider that is not resolvable cannot be used (e.g. "the firewall X was removed"); the
   * default says it is not configured.
   */
  missingReason?: (name: string) => string | undefined;
  /** Join a shared engine (the hub's) instead of making one from the options below. */
  engine?: LeaseEngine;
  repeat?: RepeatOffenderOptions;
  /** Backoff of failing undos at expiry: baseMs x 2^(attempt-1), at most maxMs. Defaults 5 s / 10 min. */
  expiryRetry?: { baseMs?: number; maxMs?: number };
  now?: () => number;
  setTimer?: (callback: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  /** Extra secrets to redact from failure reasons (providers already redact their own). */
  secrets?: () => string[];
  /** Problems that have no caller to return to (an audit append failed, a scheduler run failed). */
  warn?: (message: string) => void;
}

type RequestContext = Pick<Lease, 'reason' | 'alertId' | 'approvalId' | 'by'>;

/** Store key of a lease; canonical addresses never contain "|", so the last "|" separates. */
export function leaseKey(provider: string, canonicalTarget: string): string {
  return `${provider}|${canonicalTarget}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A free-text field from a request: strings and numbers, capped; anything else is dropped. */
function cleanText(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  return text.length > TEXT_LIMIT ? `${text.slice(0, TEXT_LIMIT)}...` : text;
}

function parseTtl(value: unknown): { ttl: number | 'permanent' } | { error: string } {
  if (value === 'permanent') return { ttl: 'permanent' };
  if (value === undefined || value === null) {
    return { error: 'no TTL given: pass the default TTL (or "permanent" explicitly); a block is never made permanent by omission' };
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    return { error: `invalid TTL ${JSON.stringify(String(value).slice(0, 40))}: a positive number of seconds or "permanent"` };
  }
  return { ttl: Math.ceil(value) };
}

/** Seconds a provider should hold the block: until the lease ends, rounded up so it never lifts early. */
function secondsLeft(lease: Lease, now: number): number | undefined {
  const end = endOf(lease);
  if (end === null) return undefined;
  return Math.max(1, Math.ceil((end - now) / 1000));
}

function providerComment(lease: Lease): string {
  return `soar lease ${lease.id}`;
}

/** What the engine needs to know about blocks (the block family's adapter). */
class BlockFamily implements LeaseFamily<Lease, EnforcedBlock> {
  readonly kind = 'block';
  /** Block leases were keyed "<provider>|<address>" before kinds existed; kept so old stores load. */
  readonly keyPrefix = '';
  readonly undoAction = 'unblock';
  readonly reapplyVerb = 're-blocking';

  constructor(private readonly manager: LeaseManager) {}

  targetKey(target: string): string {
    return addressKey(target);
  }

  unavailable(provider: string): string | undefined {
    return this.manager.resolve(provider) ? undefined : this.manager.missing(provider);
  }

  labelOf(provider: string): string | undefined {
    return this.manager.label(provider);
  }

  async undo(provider: string, leases: Lease[]): Promise<void> {
    await this.manager.resolve(provider)!.unblock(leases.map((lease) => lease.target));
  }

  async reapply(provider: string, leases: Lease[], now: number): Promise<void> {
    await this.manager
      .resolve(provider)!
      .block(leases.map((lease) => ({ address: lease.target, ttlSeconds: secondsLeft(lease, now), comment: providerComment(lease) })));
  }

  listEnforced(provider: string): Promise<EnforcedBlock[]> {
    return this.manager.resolve(provider)!.list();
  }

  enforcedKey(block: EnforcedBlock): string | undefined {
    return block && typeof block.address === 'string' ? addressKey(block.address) : undefined;
  }

  describeEnforced(block: EnforcedBlock): string {
    return block.address;
  }

  refuseReapply(lease: Lease): string | undefined {
    const check = this.manager.policy().checkAddress(lease.target);
    return check.allowed ? undefined : check.reason;
  }

  onEnded(key: string, lease: Lease, now: number, forget: boolean): Promise<void> {
    return this.manager.afterLeaseEnded(key, lease, now, forget);
  }
}

export class LeaseManager {
  /** The engine this family runs on (shared with other families when the hub passed one). */
  readonly engine: LeaseEngine;
  private readonly store: StateStore;
  private readonly guardrails: () => GuardrailPolicy;
  private readonly providers: LeaseManagerOptions['providers'];
  private readonly labelOf: (name: string) => string | undefined;
  private readonly missingReason: (name: string) => string | undefined;
  private readonly windowMs: number;
  private readonly factor: number;
  private readonly maxTtlSeconds: number;
  private readonly family: BlockFamily;

  constructor(options: LeaseManagerOptions) {
    this.store = options.store;
    this.guardrails = options.guardrails;
    this.providers = options.providers;
    this.labelOf = options.labelOf ?? (() => undefined);
    this.missingReason = options.missingReason ?? (() => undefined);
    this.engine =
      options.engine ??
      new LeaseEngine({
        store: options.store,
        audit: options.audit,
        simulate: options.simulate,
        expiryRetry: options.expiryRetry,
        now: options.now,
        setTimer: options.setTimer,
        clearTimer: options.clearTimer,
        secrets: options.secrets,
        warn: options.warn,
      });
    this.windowMs = positiveOr(options.repeat?.windowMs, DEFAULT_WINDOW_MS);
    this.factor = positiveOr(options.repeat?.factor, DEFAULT_FACTOR);
    this.maxTtlSeconds = positiveOr(options.repeat?.maxTtlSeconds, DEFAULT_MAX_TTL_SECONDS);
    this.family = new BlockFamily(this);
    this.engine.addFamily(this.family);
  }

  // ----- lifecycle (the engine's) --------------------------------------------------------------

  /** Finish undos a crash interrupted, load the leases, undo every overdue one now, arm the timer. */
  start(): Promise<void> {
    return this.engine.start();
  }

  /** Stop the timers and wait for operations in flight. The store and audit log stay open (the hub owns them). */
  stop(): Promise<void> {
    return this.engine.stop();
  }

  /** Resolves once no block, unblock, reconcile or expiry run is in progress. */
  idle(): Promise<void> {
    return this.engine.idle();
  }

  // ----- block -------------------------------------------------------------------------------

  block(request: BlockRequest): Promise<BlockOutcome> {
    return this.engine.track(this.doBlock(request));
  }

  private async doBlock(request: BlockRequest): Promise<BlockOutcome> {
    const context = requestContext(request);
    const providerName = typeof request?.provider === 'string' ? request.provider.trim() : '';
    const shownTarget = typeof request?.target === 'string' ? request.target.slice(0, 100) : String(request?.target);
    if (this.engine.isStopped) return { status: 'failed', reason: 'the lease manager is stopped', code: 'CANCELLED' };
    if (providerName === '') {
      return this.refuse({ target: shownTarget, provider: providerName, context }, 'no firewall provider named in the request');
    }
    const policy = this.guardrails();
    const check = policy.checkAddress(request.target);
    if (!check.allowed) return this.refuse({ target: shownTarget, provider: providerName, context }, check.reason);
    const target = check.normalised;
    const ttl = parseTtl(request.ttlSeconds);
    if ('error' in ttl) return this.refuse({ target, provider: providerName, context }, ttl.error);
    const provider = this.resolve(providerName);
    const providerLabel = this.labelOf(providerName);
    if (!provider) {
      const reason = this.missing(providerName);
      await this.engine.record('action.failed', { kind: 'block', target, provider: providerName, providerLabel, reason, code: 'NOT_FOUND', request: context });
      return { status: 'failed', reason, code: 'NOT_FOUND' };
    }

    const key = leaseKey(providerName, target);
    return this.engine.locked([key], async () => {
      const now = this.engine.now();
      const existing = await this.engine.leases.get<Lease>(key);
      if (!existing) {
        const slot = policy.takeActionSlot(providerName);
        if (!slot.allowed) return this.refuse({ target, provider: providerName, context }, slot.reason ?? 'hourly cap reached');
      }
      const history = await this.store.get<OffenceRecord>(OFFENCES_NS, key);
      const offences = (history?.count ?? 0) + 1;
      const effectiveTtl = this.escalate(ttl.ttl, offences);
      const requestedEnd = effectiveTtl === 'permanent' ? null : now + effectiveTtl * 1000;
      const end = existing ? laterEnd(endOf(existing), requestedEnd) : requestedEnd;
      const common = {
        expiresAt: end === null ? null : iso(end),
        ttlSeconds: effectiveTtl,
        requestedTtlSeconds: ttl.ttl,
        offences,
        lastBlockedAt: iso(now),
        status: 'active' as const,
      };
      let lease: Lease;
      if (existing) {
        // A failing undo is superseded by the new block: the retry bookkeeping goes.
        const { lastError: _error, attempts: _attempts, retryAt: _retryAt, ...kept } = existing;
        lease = withoutUndefined({ ...kept, ...common, extensions: existing.extensions + 1 });
      } else {
        lease = withoutUndefined({
          id: randomUUID(),
          kind: 'block' as const,
          target,
          provider: providerName,
          providerLabel,
          createdAt: iso(now),
          ...context,
          ...common,
          extensions: 0,
        });
      }

      if (this.engine.simulate()) {
        const simulated: Lease = { ...lease, simulated: true };
        await this.engine.record('action.simulated', {
          kind: 'block',
          target,
          provider: providerName,
          providerLabel,
          wouldHave: existing ? 'extended' : 'blocked',
          lease: simulated,
          request: context,
        });
        return { status: 'simulated', lease: simulated };
      }

      try {
        await provider.block([{ address: target, ttlSeconds: secondsLeft(lease, now), comment: providerComment(lease) }]);
      } catch (error) {
        const failure = this.engine.describeError(error);
        await this.engine.record('action.failed', {
          kind: 'block',
          target,
          provider: providerName,
          providerLabel,
          reason: failure.reason,
          code: failure.code,
          extending: existing ? existing.id : undefined,
          request: context,
        });
        return { status: 'failed', ...failure };
      }

      const history2: OffenceRecord = {
        target,
        provider: providerName,
        count: offences,
        firstAt: history?.firstAt ?? iso(now),
        lastAt: iso(now),
      };
      // While the lease runs the history must not expire; the window then counts from the lease's end.
      const historyTtlMs = end === null ? undefined : end - now + this.windowMs;
      const [leaseWrite, historyWrite] = await Promise.allSettled([
        this.engine.leases.set(key, lease),
        this.store.set(OFFENCES_NS, key, history2, historyTtlMs === undefined ? undefined : { ttlMs: historyTtlMs }),
      ]);
      if (historyWrite.status === 'rejected') {
        this.engine.warn(`repeat-offender history of ${target} on ${providerName} not saved: ${this.engine.describeError(historyWrite.reason).reason}`);
      }
      if (leaseWrite.status === 'rejected') {
        return this.leaseWriteFailed(provider, lease, existing, context, leaseWrite.reason);
      }
      await this.engine.record('action.done', {
        kind: 'block',
        target,
        provider: providerName,
        providerLabel,
        lease,
        extended: Boolean(existing),
        request: context,
      });
      this.engine.schedule(key, lease);
      return { status: existing ? 'extended' : 'blocked', lease };
    });
  }

  /** The provider blocked but the lease could not be recorded: roll a new block back (never leave it unrecorded). */
  private async leaseWriteFailed(
    provider: FirewallProvider,
    lease: Lease,
    existing: Lease | undefined,
    context: RequestContext,
    cause: unknown,
  ): Promise<BlockOutcome> {
    const storeError = this.engine.describeError(cause).reason;
    let reason: string;
    if (existing) {
      reason = `the lease could not be extended (state store: ${storeError}); the previous lease stays in force`;
    } else {
      try {
        await provider.unblock([lease.target]);
        reason = `the lease could not be recorded (state store: ${storeError}); the block was rolled back`;
      } catch (rollbackError) {
        reason =
          `the lease could not be recorded (state store: ${storeError}) and rolling the block back failed ` +
          `(${this.engine.describeError(rollbackError).reason}): the address may stay blocked without a lease; reconciliation reports it as extra`;
      }
    }
    await this.engine.record('action.failed', {
      kind: 'block',
      target: lease.target,
      provider: lease.provider,
      providerLabel: lease.providerLabel,
      reason,
      code: 'STORE',
      request: context,
    });
    return { status: 'failed', reason, code: 'STORE' };
  }

  private async refuse(what: { target: string; provider: string; context: RequestContext }, reason: string): Promise<BlockOutcome> {
    await this.engine.record('action.refused', {
      kind: 'block',
      target: what.target,
      provider: what.provider,
      providerLabel: what.provider ? this.labelOf(what.provider) : undefined,
      reason,
      simulated: this.engine.simulate() || undefined,
      request: what.context,
    });
    return { status: 'refused', reason };
  }

  private escalate(ttl: number | 'permanent', offences: number): number | 'permanent' {
    if (ttl === 'permanent' || offences <= 1) return ttl;
    const grown = ttl * this.factor ** (offences - 1);
    return Math.ceil(Math.max(ttl, Math.min(grown, this.maxTtlSeconds)));
  }

  // ----- unblock -----------------------------------------------------------------------------

  unblock(target: string, provider: string, options: UnblockOptions = {}): Promise<UnblockOutcome> {
    return this.engine.track(this.doUnblock(target, provider, options));
  }

  private async doUnblock(target: string, providerName: string, options: UnblockOptions): Promise<UnblockOutcome> {
    if (this.engine.isStopped) return { status: 'failed', reason: 'the lease manager is stopped', code: 'CANCELLED' };
    const parsed = parseTarget(target);
    if ('error' in parsed) return { status: 'failed', reason: parsed.error, code: 'BAD_REQUEST' };
    const canonical = parsed.canonical;
    const name = typeof providerName === 'string' ? providerName.trim() : '';
    const request = withoutUndefined({ by: cleanText(options.by), reason: cleanText(options.reason) });
    const provider = this.resolve(name);
    if (!provider) {
      const reason = this.missing(name);
      await this.engine.record('action.failed', {
        kind: 'unblock',
        target: canonical,
        provider: name,
        providerLabel: this.labelOf(name),
        reason,
        code: 'NOT_FOUND',
        request,
      });
      return { status: 'failed', reason, code: 'NOT_FOUND' };
    }
    const key = leaseKey(name, canonical);
    return this.engine.locked([key], async () => {
      const lease = await this.engine.leases.get<Lease>(key);
      if (this.engine.simulate()) {
        await this.engine.record('action.simulated', {
          kind: 'unblock',
          target: canonical,
          provider: name,
          providerLabel: this.labelOf(name),
          wouldHave: lease ? 'released' : 'released if the provider holds it',
          lease: lease ?? null,
          request,
        });
        return lease ? { status: 'simulated', lease } : { status: 'simulated' };
      }
      if (!lease) return this.unblockWithoutLease(provider, key, canonical, name, request, options);
      const outcome = await this.engine.undoNow(key, lease, request, {}, options.forgetOffences === true);
      return outcome.status === 'released' ? { status: 'released', lease } : outcome;
    });
  }

  private async unblockWithoutLease(
    provider: FirewallProvider,
    key: string,
    canonical: string,
    name: string,
    request: Record<string, unknown>,
    options: UnblockOptions,
  ): Promise<UnblockOutcome> {
    const providerLabel = this.labelOf(name);
    try {
      const held = (await provider.list()).some((block) => addressKey(block.address) === canonical);
      if (!held) {
        if (options.forgetOffences) await this.store.delete(OFFENCES_NS, key);
        return { status: 'not-found' };
      }
      await provider.unblock([canonical]);
    } catch (error) {
      const failure = this.engine.describeError(error);
      await this.engine.record('action.failed', { kind: 'unblock', target: canonical, provider: name, providerLabel, ...failure, leaseFound: false, request });
      return { status: 'failed', ...failure };
    }
    await this.engine.record('action.done', { kind: 'unblock', target: canonical, provider: name, providerLabel, leaseFound: false, request });
    if (options.forgetOffences) await this.store.delete(OFFENCES_NS, key);
    return { status: 'released' };
  }

  // ----- reading -----------------------------------------------------------------------------

  /** Every block lease (active and failing), soonest end first, permanent ones last. */
  list(): Promise<Lease[]> {
    return this.engine.list<Lease>('block');
  }

  /** Number of block leases on one provider, kept by the engine (no read of every lease). */
  count(provider: string): Promise<number> {
    return this.engine.count('block', String(provider).trim());
  }

  /** The lease of one target on one provider (any address form), if any. */
  async lookup(target: string, provider: string): Promise<Lease | undefined> {
    const parsed = parseTarget(target);
    if ('error' in parsed) return undefined;
    return this.engine.leases.get<Lease>(leaseKey(String(provider).trim(), parsed.canonical));
  }

  /** Repeat-offender history of one target on one provider, if any is live. */
  async offences(target: string, provider: string): Promise<OffenceRecord | undefined> {
    const parsed = parseTarget(target);
    if ('error' in parsed) return undefined;
    return this.store.get<OffenceRecord>(OFFENCES_NS, leaseKey(String(provider).trim(), parsed.canonical));
  }

  /** When the scheduler will next look at a lease (epoch ms), or undefined when nothing is armed. */
  get nextWakeAt(): number | undefined {
    return this.engine.nextWakeAt;
  }

  // ----- reconciliation (the engine's loop, this family's provider) ----------------------------

  /** Compare what the provider enforces with its leases; audit and (optionally) repair the drift. */
  reconcile(providerName: string, options: ReconcileOptions = {}): Promise<Drift> {
    return this.engine.reconcile('block', providerName, options) as Promise<Drift>;
  }

  /** Run reconcile on a schedule (no overlap: the next run is timed from the end of the last). Returns a cancel function. */
  reconcileEvery(providerName: string, intervalMs: number, onResult: (result: Drift | Error) => void, options: ReconcileOptions = {}): () => void {
    return this.engine.reconcileEvery('block', providerName, intervalMs, onResult as (result: EngineDrift | Error) => void, options);
  }

  // ----- for the family adapter ----------------------------------------------------------------

  /** @internal */
  resolve(name: string): FirewallProvider | undefined {
    if (typeof name !== 'string' || name === '') return undefined;
    return typeof this.providers === 'function' ? this.providers(name) : this.providers.get(name);
  }

  /** @internal Why a provider name does not resolve. */
  missing(name: string): string {
    return this.missingReason(name) ?? `no firewall provider named "${String(name).slice(0, 100)}" is configured`;
  }

  /** @internal */
  label(name: string): string | undefined {
    return this.labelOf(name);
  }

  /** @internal */
  policy(): GuardrailPolicy {
    return this.guardrails();
  }

  /** @internal The repeat window starts when a lease ends (or the history is dropped for a false positive). */
  async afterLeaseEnded(key: string, lease: Lease, now: number, forget: boolean): Promise<void> {
    try {
      if (forget) {
        await this.store.delete(OFFENCES_NS, key);
        return;
      }
      const history = await this.store.get<OffenceRecord>(OFFENCES_NS, key);
      const record: OffenceRecord = history ?? {
        target: lease.target,
        provider: lease.provider,
        count: lease.offences,
        firstAt: lease.createdAt,
        lastAt: lease.lastBlockedAt,
      };
      await this.store.set(OFFENCES_NS, key, record, { ttlMs: this.windowMs });
    } catch (error) {
      this.engine.warn(`repeat-offender history of ${lease.target} on ${lease.provider} not updated: ${this.engine.describeError(error).reason}`);
    }
  }
}

function positiveOr(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

function requestContext(request: BlockRequest | undefined): RequestContext {
  return withoutUndefined({
    reason: cleanText(request?.reason),
    alertId: cleanText(request?.alertId),
    approvalId: cleanText(request?.approvalId),
    by: cleanText(request?.by),
  });
}

/** The later of two ends, null (permanent) being the latest. */
function laterEnd(a: number | null, b: number | null): number | null {
  if (a === null || b === null) return null;
  return Math.max(a, b);
}
