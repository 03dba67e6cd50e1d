/**
 * Block leases: every block the hub makes is a durable, expiring record (docs/architecture.md §5).
 * The engine behind `soar-block-ip`, the sidebar's lease list / release button and the hub's expiry
 * scheduler. Node-RED-free.
 *
 * Store layout (StateStore namespaces):
 *   leases      key "<provider>|<canonical target>" -> Lease. Stored WITHOUT a store TTL: a lease must
 *               never vanish by itself, only this manager deletes it after the provider lifted the block.
 *   offences    same key -> OffenceRecord (repeat-offender history), store TTL = the repeat window
 *               counted from the END of the last lease (see below), so it survives restarts.
 *   lease-undo  same key -> UndoIntent: written just before a lease is deleted for an undo and removed
 *               once the provider call and the audit record are done. An intent left behind is an undo a
 *               crash interrupted; start() finishes it (the lease is not lost and not silently dropped).
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
 * - Simulation: nothing is touched and NO lease is stored (a stored lease would later be "undone" on a
 *   provider that never blocked, and would show as drift). The outcome and the `action.simulated`
 *   record carry the lease as it would have been (`simulated: true`, escalation included) and say
 *   whether it would have been a new block or an extension. The hourly cap IS taken in simulation,
 *   so a simulated run shows the refusals a real run would get (the cap is a sliding hour, so this
 *   costs real actions at most one hour after switching simulation off).
 * - Extension: blocking an address already leased on the same provider keeps the lease (same id)
 *   and calls provider.block again with the remaining TTL of the new end (expiresAt = the later of
 *   old and new; permanent wins). Re-blocking is idempotent for providers and re-asserts the block,
 *   so 'extended' is never reported for a block someone removed meanwhile. An extension does not take
 *   an hourly-cap slot (it blocks nothing new) but the address check still applies.
 * - Native expiry: providers get ttlSeconds = seconds left until the lease ends (rounded up), so a
 *   provider that can expire blocks itself (nftables) lifts them even if the hub stays down; the
 *   hub's own undo at expiry is the primary mechanism and works for every provider.
 * - Repeat offenders: every accepted block (new or extension) of the same target on the same provider
 *   counts as an offence while the previous lease is active or within `windowMs` after it ended. The
 *   n-th offence gets ttl x factor^(n-1), capped at maxTtlSeconds (never below the requested TTL).
 *   History is per provider+target, so one alert fanned out to two firewalls does not double-count.
 *   A release with `forgetOffences: true` (a false positive) clears the history.
 * - Expiry: one timer for the earliest due lease (not one per lease), re-armed when a change makes
 *   something due earlier; a wake-up with nothing due just re-arms. The delay is capped at one hour so
 *   wall-clock jumps are caught up. Due leases of one provider are lifted in batched unblock calls.
 *   A failing unblock keeps the lease listed with status 'expiring-failed', lastError, attempts and
 *   retryAt, audits `lease.expiry-failed`, and retries with exponential backoff. start() retries
 *   every overdue lease at once, including failing ones.
 * - Undo once: the delete of the lease record is the gate (StateStore.delete resolves true for one
 *   caller only); only the caller that deleted it calls provider.unblock. Managers sharing one store
 *   object in a process (a redeploy overlap) also serialise per lease key.
 * - Unblock by request: needs no guardrail check or cap slot (it restores traffic). When no lease
 *   exists, the provider is asked what it holds and the address is unblocked only when it is listed
 *   (a block made by hand or an orphan is releasable; an unknown address gives 'not-found' without a
 *   provider write). In simulation the provider is not called at all.
 * - Reconciliation: see reconcile.ts for the comparison. `reconcile.drift` is audited every time
 *   something differs; `reconcile.ok` at most once per hour per provider, and at once when the
 *   previous check had drift (so the log shows when drift cleared). `repair: true` re-blocks missing
 *   leases (address check again, no cap slot) and retries the undo of expired-but-present ones; extra
 *   blocks are reported, never removed (they may be an administrator's).
 * - Recovering interrupted undos assumes one process per store (true for FileStateStore, which locks
 *   its directory); a shared backend (Redis) will need claim liveness before it can do the same.
 */
import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../core/audit';
import { isProviderError } from '../core/errors';
import { parseTarget, type GuardrailPolicy } from '../core/guardrails';
import { redact } from '../core/redact';
import type { StateStore } from '../core/types';
import { addressKey, compareWithLeases, hasDrift, leaseHasEnded, type DriftOf } from './reconcile';
import type { EnforcedBlock, FirewallProvider } from './types';

export const LEASES_NS = 'leases';
export const OFFENCES_NS = 'offences';
export const UNDO_NS = 'lease-undo';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const DEFAULT_WINDOW_MS = 7 * DAY_MS;
const DEFAULT_FACTOR = 2;
const DEFAULT_MAX_TTL_SECONDS = 30 * 24 * 3600;
const DEFAULT_RETRY_BASE_MS = 5_000;
const DEFAULT_RETRY_MAX_MS = 10 * 60_000;
/** Longest single timer: wake at least hourly so wall-clock jumps cannot postpone an expiry for long. */
const MAX_TIMER_DELAY_MS = HOUR_MS;
/** Addresses per provider.unblock call when many leases fall due together (e.g. after downtime). */
const UNBLOCK_BATCH = 256;
/** Targets listed in one reconcile audit record; the counts are always complete. */
const AUDIT_LIST_LIMIT = 100;
const TEXT_LIMIT = 500;

export type LeaseStatus = 'active' | 'expiring-failed';

export interface Lease {
  id: string;
  kind: 'block';
  /** Canonical IP or CIDR, as the guardrail policy normalised it. */
  target: string;
  /** Provider instance name. */
  provider: string;
  /** ISO times. */
  createdAt: string;
  /** When the block is lifted; null = permanent. */
  expiresAt: string | null;
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
  status: LeaseStatus;
  /** Set while status is 'expiring-failed'. */
  lastError?: string;
  attempts?: number;
  retryAt?: string;
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

interface UndoIntent {
  lease: Lease;
  /** Identifies the claim, so a loser of the delete race removes only its own intent. */
  token: string;
  why: 'expired' | 'released';
  claimedAt: string;
  by?: string;
  reason?: string;
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
  | { status: 'blocked' | 'extended' | 'simulated'; lease: Lease }
  | { status: 'refused'; reason: string }
  | { status: 'failed'; reason: string; code?: string };

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

export interface Drift extends DriftOf<Lease> {
  /** With repair: targets blocked again. */
  repaired?: string[];
  /** With repair: why re-blocking failed or was refused. */
  repairFailed?: string;
}

export interface ReconcileOptions {
  /** Re-block missing leases and retry the undo of expired-but-present ones. Never in simulation. */
  repair?: boolean;
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

interface ClaimedUndo {
  key: string;
  lease: Lease;
  why: 'expired' | 'released';
  recovered?: boolean;
}

/**
 * Per-key mutual exclusion, shared by every manager on the same store object (a redeploy briefly runs
 * two). Each caller joins the queue of all its keys synchronously, so multi-key batches cannot deadlock.
 */
class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /** Keys with an operation running or queued. */
  busyKeys(): IterableIterator<string> {
    return this.tails.keys();
  }

  async run<T>(keys: string[], work: () => Promise<T>): Promise<T> {
    const unique = [...new Set(keys)];
    const before: Promise<void>[] = [];
    for (const key of unique) {
      const tail = this.tails.get(key);
      if (tail) before.push(tail);
    }
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    for (const key of unique) this.tails.set(key, done);
    try {
      await Promise.all(before);
      return await work();
    } finally {
      release();
      for (const key of unique) if (this.tails.get(key) === done) this.tails.delete(key);
    }
  }
}

const mutexByStore = new WeakMap<object, KeyedMutex>();

function mutexFor(store: StateStore): KeyedMutex {
  let mutex = mutexByStore.get(store);
  if (!mutex) {
    mutex = new KeyedMutex();
    mutexByStore.set(store, mutex);
  }
  return mutex;
}

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

/** The object without its undefined members, so stored and fresh copies compare equal. */
function withoutUndefined<T extends object>(value: T): T {
  const result: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(value)) if (member !== undefined) result[name] = member;
  return result as T;
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

function endOf(lease: Lease): number | null {
  return lease.expiresAt === null ? null : Date.parse(lease.expiresAt);
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

function firstOf<T>(items: readonly T[]): T[] {
  return items.slice(0, AUDIT_LIST_LIMIT);
}

export class LeaseManager {
  private readonly store: StateStore;
  private readonly auditLog: Pick<AuditLog, 'append'>;
  private readonly guardrails: () => GuardrailPolicy;
  private readonly simulate: () => boolean;
  private readonly providers: LeaseManagerOptions['providers'];
  private readonly now: () => number;
  private readonly setTimer: (callback: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly secrets: () => string[];
  private readonly warn: (message: string) => void;
  private readonly windowMs: number;
  private readonly factor: number;
  private readonly maxTtlSeconds: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly locks: KeyedMutex;

  /** When this manager should next look at each expiring lease it knows of (expiry or retry time). */
  private readonly due = new Map<string, { at: number; provider: string }>();
  private timer: unknown;
  private timerAt: number | undefined;
  /** After a scheduler run failed as a whole (store down): no new run before this time. */
  private pauseUntil = 0;
  private started: Promise<void> | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private rerun = false;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly reconcilers = new Set<() => void>();
  private readonly lastOkAudit = new Map<string, number>();
  private readonly driftSeen = new Map<string, boolean>();

  constructor(options: LeaseManagerOptions) {
    this.store = options.store;
    this.auditLog = options.audit;
    this.guardrails = options.guardrails;
    this.simulate = options.simulate;
    this.providers = options.providers;
    this.now = options.now ?? Date.now;
    this.setTimer =
      options.setTimer ??
      ((callback, ms) => {
        const handle = setTimeout(callback, ms);
        // The scheduler alone must not keep a process alive (CLI, tests); Node-RED runs anyway.
        handle.unref();
        return handle;
      });
    this.clearTimer = options.clearTimer ?? ((handle) => clearTimeout(handle as NodeJS.Timeout));
    this.secrets = options.secrets ?? (() => []);
    this.warn = options.warn ?? ((message) => process.emitWarning(message, 'SoarLeaseWarning'));
    this.windowMs = positiveOr(options.repeat?.windowMs, DEFAULT_WINDOW_MS);
    this.factor = positiveOr(options.repeat?.factor, DEFAULT_FACTOR);
    this.maxTtlSeconds = positiveOr(options.repeat?.maxTtlSeconds, DEFAULT_MAX_TTL_SECONDS);
    this.retryBaseMs = positiveOr(options.expiryRetry?.baseMs, DEFAULT_RETRY_BASE_MS);
    this.retryMaxMs = positiveOr(options.expiryRetry?.maxMs, DEFAULT_RETRY_MAX_MS);
    this.locks = mutexFor(options.store);
  }

  // ----- lifecycle ---------------------------------------------------------------------------

  /** Finish undos a crash interrupted, load the leases, undo every overdue one now, arm the timer. */
  start(): Promise<void> {
    if (this.started) return this.started;
    this.started = this.track(
      (async () => {
        await this.recoverInterruptedUndos();
        for (const { key, value } of await this.store.list<Lease>(LEASES_NS)) {
          // Overdue leases (failing ones too, whatever their retryAt) are due right now.
          const end = endOf(value);
          if (end !== null) this.due.set(key, { at: end, provider: value.provider });
        }
        await this.runDue();
      })(),
    );
    return this.started;
  }

  /** Stop the timers and wait for operations in flight. The store and audit log stay open (the hub owns them). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.disarm();
    for (const cancel of [...this.reconcilers]) cancel();
    await this.idle();
  }

  /** Resolves once no block, unblock, reconcile or expiry run of this manager is in progress. */
  async idle(): Promise<void> {
    for (;;) {
      const pending: Promise<unknown>[] = [...this.inflight];
      if (this.running) pending.push(this.running);
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  // ----- block -------------------------------------------------------------------------------

  block(request: BlockRequest): Promise<BlockOutcome> {
    return this.track(this.doBlock(request));
  }

  private async doBlock(request: BlockRequest): Promise<BlockOutcome> {
    const context = requestContext(request);
    const providerName = typeof request?.provider === 'string' ? request.provider.trim() : '';
    const shownTarget = typeof request?.target === 'string' ? request.target.slice(0, 100) : String(request?.target);
    if (this.stopped) return { status: 'failed', reason: 'the lease manager is stopped', code: 'CANCELLED' };
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
    if (!provider) {
      const reason = `no firewall provider named "${providerName.slice(0, 100)}" is configured`;
      await this.record('action.failed', { kind: 'block', target, provider: providerName, reason, code: 'NOT_FOUND', request: context });
      return { status: 'failed', reason, code: 'NOT_FOUND' };
    }

    const key = leaseKey(providerName, target);
    return this.locks.run([key], async () => {
      const now = this.now();
      const existing = await this.store.get<Lease>(LEASES_NS, key);
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
          createdAt: iso(now),
          ...context,
          ...common,
          extensions: 0,
        });
      }

      if (this.simulate()) {
        const simulated: Lease = { ...lease, simulated: true };
        await this.record('action.simulated', {
          kind: 'block',
          target,
          provider: providerName,
          wouldHave: existing ? 'extended' : 'blocked',
          lease: simulated,
          request: context,
        });
        return { status: 'simulated', lease: simulated };
      }

      try {
        await provider.block([{ address: target, ttlSeconds: secondsLeft(lease, now), comment: providerComment(lease) }]);
      } catch (error) {
        const failure = this.describeError(error);
        await this.record('action.failed', {
          kind: 'block',
          target,
          provider: providerName,
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
        this.store.set(LEASES_NS, key, lease),
        this.store.set(OFFENCES_NS, key, history2, historyTtlMs === undefined ? undefined : { ttlMs: historyTtlMs }),
      ]);
      if (historyWrite.status === 'rejected') {
        this.warn(`repeat-offender history of ${target} on ${providerName} not saved: ${this.describeError(historyWrite.reason).reason}`);
      }
      if (leaseWrite.status === 'rejected') {
        return this.leaseWriteFailed(provider, lease, existing, context, leaseWrite.reason);
      }
      await this.record('action.done', {
        kind: 'block',
        target,
        provider: providerName,
        lease,
        extended: Boolean(existing),
        request: context,
      });
      this.schedule(key, lease);
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
    const storeError = this.describeError(cause).reason;
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
          `(${this.describeError(rollbackError).reason}): the address may stay blocked without a lease; reconciliation reports it as extra`;
      }
    }
    await this.record('action.failed', { kind: 'block', target: lease.target, provider: lease.provider, reason, code: 'STORE', request: context });
    return { status: 'failed', reason, code: 'STORE' };
  }

  private async refuse(what: { target: string; provider: string; context: RequestContext }, reason: string): Promise<BlockOutcome> {
    await this.record('action.refused', {
      kind: 'block',
      target: what.target,
      provider: what.provider,
      reason,
      simulated: this.simulate() || undefined,
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
    return this.track(this.doUnblock(target, provider, options));
  }

  private async doUnblock(target: string, providerName: string, options: UnblockOptions): Promise<UnblockOutcome> {
    if (this.stopped) return { status: 'failed', reason: 'the lease manager is stopped', code: 'CANCELLED' };
    const parsed = parseTarget(target);
    if ('error' in parsed) return { status: 'failed', reason: parsed.error, code: 'BAD_REQUEST' };
    const canonical = parsed.canonical;
    const name = typeof providerName === 'string' ? providerName.trim() : '';
    const request = withoutUndefined({ by: cleanText(options.by), reason: cleanText(options.reason) });
    const provider = this.resolve(name);
    if (!provider) {
      const reason = `no firewall provider named "${name.slice(0, 100)}" is configured`;
      await this.record('action.failed', { kind: 'unblock', target: canonical, provider: name, reason, code: 'NOT_FOUND', request });
      return { status: 'failed', reason, code: 'NOT_FOUND' };
    }
    const key = leaseKey(name, canonical);
    return this.locks.run([key], async () => {
      const lease = await this.store.get<Lease>(LEASES_NS, key);
      if (this.simulate()) {
        await this.record('action.simulated', {
          kind: 'unblock',
          target: canonical,
          provider: name,
          wouldHave: lease ? 'released' : 'released if the provider holds it',
          lease: lease ?? null,
          request,
        });
        return lease ? { status: 'simulated', lease } : { status: 'simulated' };
      }
      if (!lease) return this.unblockWithoutLease(provider, key, canonical, name, request, options);

      const claimed = await this.claim([{ key, lease }], 'released', request);
      if (claimed.length === 0) return { status: 'not-found' }; // another manager undid it just now
      try {
        await provider.unblock([canonical]);
      } catch (error) {
        const failure = this.describeError(error);
        // Put the lease back as it was: it is still enforced and still ends when it did.
        await this.store.set(LEASES_NS, key, lease);
        await this.store.delete(UNDO_NS, key);
        await this.record('action.failed', { kind: 'unblock', target: canonical, provider: name, lease, ...failure, request });
        this.schedule(key, lease);
        return { status: 'failed', ...failure };
      }
      await this.record('action.done', { kind: 'unblock', target: canonical, provider: name, lease, request });
      await this.afterLeaseEnded(key, lease, this.now(), options.forgetOffences === true);
      await this.store.delete(UNDO_NS, key);
      this.schedule(key, undefined);
      return { status: 'released', lease };
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
    try {
      const held = (await provider.list()).some((block) => addressKey(block.address) === canonical);
      if (!held) {
        if (options.forgetOffences) await this.store.delete(OFFENCES_NS, key);
        return { status: 'not-found' };
      }
      await provider.unblock([canonical]);
    } catch (error) {
      const failure = this.describeError(error);
      await this.record('action.failed', { kind: 'unblock', target: canonical, provider: name, ...failure, leaseFound: false, request });
      return { status: 'failed', ...failure };
    }
    await this.record('action.done', { kind: 'unblock', target: canonical, provider: name, leaseFound: false, request });
    if (options.forgetOffences) await this.store.delete(OFFENCES_NS, key);
    return { status: 'released' };
  }

  // ----- reading -----------------------------------------------------------------------------

  /** Every lease (active and failing), soonest end first, permanent ones last. */
  async list(): Promise<Lease[]> {
    const leases = (await this.store.list<Lease>(LEASES_NS)).map((entry) => entry.value);
    return leases.sort((a, b) => (endOf(a) ?? Infinity) - (endOf(b) ?? Infinity) || a.target.localeCompare(b.target));
  }

  /** The lease of one target on one provider (any address form), if any. */
  async lookup(target: string, provider: string): Promise<Lease | undefined> {
    const parsed = parseTarget(target);
    if ('error' in parsed) return undefined;
    return this.store.get<Lease>(LEASES_NS, leaseKey(String(provider).trim(), parsed.canonical));
  }

  /** Repeat-offender history of one target on one provider, if any is live. */
  async offences(target: string, provider: string): Promise<OffenceRecord | undefined> {
    const parsed = parseTarget(target);
    if ('error' in parsed) return undefined;
    return this.store.get<OffenceRecord>(OFFENCES_NS, leaseKey(String(provider).trim(), parsed.canonical));
  }

  /** When the scheduler will next look at a lease (epoch ms), or undefined when nothing is armed. */
  get nextWakeAt(): number | undefined {
    return this.timerAt;
  }

  // ----- reconciliation ----------------------------------------------------------------------

  /** Compare what the provider enforces with its leases; audit and (optionally) repair the drift. */
  reconcile(providerName: string, options: ReconcileOptions = {}): Promise<Drift> {
    return this.track(this.doReconcile(providerName, options));
  }

  private async doReconcile(providerName: string, options: ReconcileOptions): Promise<Drift> {
    const provider = this.resolve(providerName);
    if (!provider) throw new Error(`no firewall provider named "${String(providerName).slice(0, 100)}" is configured`);
    let enforced: EnforcedBlock[];
    try {
      enforced = await provider.list();
    } catch (error) {
      const failure = this.describeError(error);
      await this.record('reconcile.failed', { provider: providerName, ...failure });
      throw error;
    }
    const now = this.now();
    const drift: Drift = compareWithLeases(providerName, await this.list(), enforced, now, this.busyAddresses(providerName));
    if (options.repair && !this.simulate()) await this.repair(provider, drift, now);

    if (hasDrift(drift)) {
      this.driftSeen.set(providerName, true);
      await this.record('reconcile.drift', {
        provider: providerName,
        counts: { missing: drift.missing.length, extra: drift.extra.length, expiredButPresent: drift.expiredButPresent.length },
        missing: firstOf(drift.missing.map((lease) => lease.target)),
        extra: firstOf(drift.extra.map((block) => block.address)),
        expiredButPresent: firstOf(drift.expiredButPresent.map((block) => block.address)),
        repaired: drift.repaired,
        repairFailed: drift.repairFailed,
      });
    } else {
      const lastOk = this.lastOkAudit.get(providerName);
      if (this.driftSeen.get(providerName) || lastOk === undefined || now - lastOk >= HOUR_MS) {
        await this.record('reconcile.ok', { provider: providerName, enforced: enforced.length });
        this.lastOkAudit.set(providerName, now);
      }
      this.driftSeen.set(providerName, false);
    }
    return drift;
  }

  private async repair(provider: FirewallProvider, drift: Drift, now: number): Promise<void> {
    const policy = this.guardrails();
    const refusals: string[] = [];
    const candidates: Lease[] = [];
    for (const lease of drift.missing) {
      const check = policy.checkAddress(lease.target);
      if (check.allowed) candidates.push(lease);
      else refusals.push(check.reason);
    }
    if (candidates.length > 0) {
      const keys = candidates.map((lease) => leaseKey(lease.provider, lease.target));
      await this.locks.run(keys, async () => {
        // Released or expired meanwhile: nothing to put back.
        const current: Lease[] = [];
        for (const key of keys) {
          const lease = await this.store.get<Lease>(LEASES_NS, key);
          if (lease && !leaseHasEnded(lease, this.now())) current.push(lease);
        }
        if (current.length === 0) return;
        try {
          await provider.block(current.map((lease) => ({ address: lease.target, ttlSeconds: secondsLeft(lease, now), comment: providerComment(lease) })));
          drift.repaired = current.map((lease) => lease.target);
          await this.record('reconcile.repaired', { provider: provider.name, targets: firstOf(drift.repaired), count: current.length });
        } catch (error) {
          refusals.push(`re-blocking failed: ${this.describeError(error).reason}`);
        }
      });
    }
    if (refusals.length > 0) drift.repairFailed = refusals.slice(0, 5).join('; ');
    // Expired but still enforced: make their undo due now instead of waiting for the backoff.
    let kicked = false;
    for (const block of drift.expiredButPresent) {
      const key = leaseKey(drift.provider, addressKey(block.address));
      const entry = this.due.get(key);
      if (entry) {
        entry.at = Math.min(entry.at, now);
        kicked = true;
      }
    }
    if (kicked) void this.runDue();
  }

  /** Run reconcile on a schedule (no overlap: the next run is timed from the end of the last). Returns a cancel function. */
  reconcileEvery(providerName: string, intervalMs: number, onResult: (result: Drift | Error) => void, options: ReconcileOptions = {}): () => void {
    if (!(intervalMs > 0)) throw new RangeError('reconcile interval must be a positive number of milliseconds');
    let handle: unknown;
    let cancelled = false;
    const tick = (): void => {
      handle = undefined;
      if (cancelled || this.stopped) return;
      // One tracked promise for the run, the report and the re-arm, so idle() and stop() cover all three.
      void this.track(
        (async () => {
          let result: Drift | Error;
          try {
            result = await this.doReconcile(providerName, options);
          } catch (error) {
            result = error instanceof Error ? error : new Error(String(error));
          }
          try {
            onResult(result);
          } catch (error) {
            this.warn(`reconcile result handler failed: ${this.describeError(error).reason}`);
          }
          if (!cancelled && !this.stopped) handle = this.setTimer(tick, intervalMs);
        })(),
      );
    };
    const cancel = (): void => {
      cancelled = true;
      if (handle !== undefined) this.clearTimer(handle);
      handle = undefined;
      this.reconcilers.delete(cancel);
    };
    this.reconcilers.add(cancel);
    handle = this.setTimer(tick, intervalMs);
    return cancel;
  }

  private busyAddresses(providerName: string): Set<string> {
    const prefix = `${providerName}|`;
    const busy = new Set<string>();
    for (const key of this.locks.busyKeys()) if (key.startsWith(prefix)) busy.add(key.slice(prefix.length));
    return busy;
  }

  // ----- expiry scheduler --------------------------------------------------------------------

  /** Note a lease's next due time (or its removal) and re-arm the timer when the earliest one changed. */
  private schedule(key: string, lease: Lease | undefined): void {
    const previous = this.due.get(key);
    const at = lease ? dueAt(lease) : undefined;
    if (!lease || at === undefined) this.due.delete(key);
    else this.due.set(key, { at, provider: lease.provider });
    const wasArmedFor = previous !== undefined && this.timerAt !== undefined && previous.at <= this.timerAt;
    if (wasArmedFor && (at === undefined || at > previous.at)) {
      // The timer was set for this lease, which now ends later or not at all: find the new earliest (O(n), rare).
      this.disarm();
      this.armNext();
    } else if (at !== undefined) {
      this.arm(at);
    }
  }

  private arm(at: number): void {
    if (!this.started || this.stopped || this.running) return; // a running pass re-arms when it ends
    const wakeAt = Math.max(at, this.pauseUntil);
    if (this.timerAt !== undefined && this.timerAt <= wakeAt) return;
    this.disarm();
    const now = this.now();
    const delay = Math.min(Math.max(0, wakeAt - now), MAX_TIMER_DELAY_MS);
    this.timerAt = now + delay;
    this.timer = this.setTimer(() => {
      this.timer = undefined;
      this.timerAt = undefined;
      void this.runDue();
    }, delay);
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clearTimer(this.timer);
    this.timer = undefined;
    this.timerAt = undefined;
  }

  private armNext(): void {
    let earliest = Infinity;
    for (const { at } of this.due.values()) if (at < earliest) earliest = at;
    if (earliest !== Infinity) this.arm(earliest);
  }

  /** Undo everything due now; one pass at a time (a request during a pass triggers another). */
  private runDue(): Promise<void> {
    if (!this.started || this.stopped) return Promise.resolve();
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    this.disarm();
    const pass = (async () => {
      do {
        this.rerun = false;
        await this.expireDue();
      } while (this.rerun && !this.stopped);
    })()
      .catch((error: unknown) => {
        // The store itself failed: back off instead of spinning on the same overdue leases.
        this.pauseUntil = this.now() + this.retryBaseMs;
        this.warn(`lease expiry pass failed, retrying later: ${this.describeError(error).reason}`);
      })
      .finally(() => {
        this.running = undefined;
        this.armNext();
      });
    this.running = pass;
    return pass;
  }

  private async expireDue(): Promise<void> {
    const now = this.now();
    const byProvider = new Map<string, string[]>();
    for (const [key, { at, provider }] of this.due) {
      if (at > now) continue;
      const keys = byProvider.get(provider) ?? [];
      keys.push(key);
      byProvider.set(provider, keys);
    }
    // Providers in parallel (a slow one must not hold up the others), batches of one provider in order.
    await Promise.all(
      [...byProvider].map(async ([provider, keys]) => {
        for (let start = 0; start < keys.length && !this.stopped; start += UNBLOCK_BATCH) {
          await this.expireKeys(provider, keys.slice(start, start + UNBLOCK_BATCH));
        }
      }),
    );
  }

  private expireKeys(providerName: string, keys: string[]): Promise<void> {
    return this.locks.run(keys, async () => {
      const now = this.now();
      const due: { key: string; lease: Lease }[] = [];
      for (const key of keys) {
        const lease = await this.store.get<Lease>(LEASES_NS, key);
        // The store decides whether (extended or released meanwhile?), the index decided when.
        if (!lease || !leaseHasEnded(lease, now)) this.schedule(key, lease);
        else due.push({ key, lease });
      }
      if (due.length === 0) return;
      const claimed = await this.claim(due, 'expired');
      await this.finishUndos(providerName, claimed);
    });
  }

  /**
   * Claim leases for an undo: write the intent, then delete the lease. Only the caller whose delete
   * removed it (true) may call the provider, so two managers never both unblock.
   */
  private async claim(items: { key: string; lease: Lease }[], why: UndoIntent['why'], request: { by?: string; reason?: string } = {}): Promise<ClaimedUndo[]> {
    const token = randomUUID();
    const claimedAt = iso(this.now());
    await Promise.all(items.map(({ key, lease }) => this.store.set<UndoIntent>(UNDO_NS, key, withoutUndefined({ lease, token, why, claimedAt, ...request }))));
    const won = await Promise.all(items.map(({ key }) => this.store.delete(LEASES_NS, key)));
    const claimed: ClaimedUndo[] = [];
    for (let i = 0; i < items.length; i++) {
      const { key, lease } = items[i];
      if (won[i]) {
        claimed.push({ key, lease, why });
        continue;
      }
      this.due.delete(key);
      const intent = await this.store.get<UndoIntent>(UNDO_NS, key);
      if (intent?.token === token) await this.store.delete(UNDO_NS, key);
    }
    return claimed;
  }

  /** Unblock claimed leases on their provider and record each outcome. */
  private async finishUndos(providerName: string, claimed: ClaimedUndo[]): Promise<void> {
    if (claimed.length === 0) return;
    const failures = await this.unblockOnProvider(providerName, claimed.map((item) => item.lease.target));
    const now = this.now();
    for (const item of claimed) {
      const failure = failures.get(item.lease.target);
      if (failure) await this.undoFailed(item, failure, now);
      else await this.undone(item, now);
    }
  }

  /**
   * One unblock call for the batch. Only an error that names the request itself (BAD_REQUEST,
   * CONFLICT) is retried address by address, so one bad entry cannot hold the rest; a provider that is
   * down fails the whole batch at once instead of being called hundreds of times.
   */
  private async unblockOnProvider(providerName: string, targets: string[]): Promise<Map<string, { reason: string; code?: string }>> {
    const failures = new Map<string, { reason: string; code?: string }>();
    const provider = this.resolve(providerName);
    if (!provider) {
      const failure = { reason: `no firewall provider named "${providerName.slice(0, 100)}" is configured`, code: 'NOT_FOUND' };
      for (const target of targets) failures.set(target, failure);
      return failures;
    }
    try {
      await provider.unblock(targets);
      return failures;
    } catch (error) {
      const itemSpecific = isProviderError(error) && (error.code === 'BAD_REQUEST' || error.code === 'CONFLICT');
      if (targets.length === 1 || !itemSpecific) {
        const failure = this.describeError(error);
        for (const target of targets) failures.set(target, failure);
        return failures;
      }
    }
    for (const target of targets) {
      try {
        await provider.unblock([target]);
      } catch (error) {
        failures.set(target, this.describeError(error));
      }
    }
    return failures;
  }

  private async undone(item: ClaimedUndo, now: number): Promise<void> {
    const { key, lease } = item;
    const end = endOf(lease);
    if (item.why === 'released') {
      await this.record('action.done', { kind: 'unblock', target: lease.target, provider: lease.provider, lease, recovered: true });
    } else {
      await this.record('lease.expired', {
        kind: lease.kind,
        target: lease.target,
        provider: lease.provider,
        lease,
        overdueSeconds: end === null ? 0 : Math.max(0, Math.round((now - end) / 1000)),
        recovered: item.recovered || undefined,
      });
    }
    await this.afterLeaseEnded(key, lease, now, false);
    // The intent goes last: a crash before this point repeats the (idempotent) unblock, never skips it.
    await this.store.delete(UNDO_NS, key);
    this.due.delete(key);
  }

  private async undoFailed(item: ClaimedUndo, failure: { reason: string; code?: string }, now: number): Promise<void> {
    const { key, lease } = item;
    const attempts = (lease.attempts ?? 0) + 1;
    const retryAt = now + Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (attempts - 1));
    const failing: Lease = { ...lease, status: 'expiring-failed', lastError: failure.reason, attempts, retryAt: iso(retryAt) };
    // Lease back first, intent removed second: a crash in between leaves both, and start() keeps the lease.
    await this.store.set(LEASES_NS, key, failing);
    await this.store.delete(UNDO_NS, key);
    await this.record('lease.expiry-failed', {
      kind: lease.kind,
      target: lease.target,
      provider: lease.provider,
      leaseId: lease.id,
      reason: failure.reason,
      code: failure.code,
      attempts,
      retryAt: iso(retryAt),
    });
    this.schedule(key, failing);
  }

  /** The repeat window starts when a lease ends (or the history is dropped for a false positive). */
  private async afterLeaseEnded(key: string, lease: Lease, now: number, forget: boolean): Promise<void> {
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
      this.warn(`repeat-offender history of ${lease.target} on ${lease.provider} not updated: ${this.describeError(error).reason}`);
    }
  }

  /** Intents left by a crash between claiming a lease and finishing its undo. */
  private async recoverInterruptedUndos(): Promise<void> {
    const byProvider = new Map<string, string[]>();
    for (const { key, value } of await this.store.list<UndoIntent>(UNDO_NS)) {
      const provider = value?.lease?.provider;
      if (typeof provider !== 'string') continue;
      const keys = byProvider.get(provider) ?? [];
      keys.push(key);
      byProvider.set(provider, keys);
    }
    for (const [provider, keys] of byProvider) {
      await this.locks.run(keys, async () => {
        const interrupted: ClaimedUndo[] = [];
        for (const key of keys) {
          const intent = await this.store.get<UndoIntent>(UNDO_NS, key);
          if (!intent) continue;
          if (await this.store.get<Lease>(LEASES_NS, key)) {
            // The crash came before the lease was deleted (or after a failed undo put it back): the lease rules.
            await this.store.delete(UNDO_NS, key);
            continue;
          }
          interrupted.push({ key, lease: intent.lease, why: intent.why, recovered: true });
        }
        await this.finishUndos(provider, interrupted);
      });
    }
  }

  // ----- helpers -----------------------------------------------------------------------------

  private resolve(name: string): FirewallProvider | undefined {
    if (typeof name !== 'string' || name === '') return undefined;
    return typeof this.providers === 'function' ? this.providers(name) : this.providers.get(name);
  }

  private describeError(error: unknown): { reason: string; code?: string } {
    const message = error instanceof Error ? error.message : String(error);
    const reason = redact(message, this.secrets()).slice(0, TEXT_LIMIT);
    return isProviderError(error) ? { reason, code: error.code } : { reason };
  }

  /** Append to the audit log; a failed append is reported, never allowed to misreport the action. */
  private async record(type: string, fields: Record<string, unknown>): Promise<void> {
    try {
      await this.auditLog.append(type, withoutUndefined(fields));
    } catch (error) {
      this.warn(`audit record ${type} not written: ${this.describeError(error).reason}`);
    }
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inflight.add(work);
    const forget = () => this.inflight.delete(work);
    work.then(forget, forget);
    return work;
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

/** When the scheduler should next act on a lease: its end, or its retry time while its undo fails. */
function dueAt(lease: Lease): number | undefined {
  const end = endOf(lease);
  if (end === null) return undefined;
  if (lease.status === 'expiring-failed' && lease.retryAt) return Math.max(end, Date.parse(lease.retryAt));
  return end;
}
