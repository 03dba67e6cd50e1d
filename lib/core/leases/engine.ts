/**
 * The lease engine: the composition of one lease store, one undo-once gate, one expiry scheduler, one
 * recovery at start and one reconciliation loop, shared by every lease family (blocks, isolations, ...).
 * Each part gets only the few things it needs through a narrow context; families plug in through
 * LeaseFamily (types.ts) and use the primitives below to apply their own requests.
 *
 * Parts: lease-store.ts (keys, counts), undo-gate.ts (undo once), scheduler.ts (when), undo-runner.ts
 * (undoing what fell due, backoff of failing undos), recovery.ts (start), reconciler.ts (drift). Engines
 * sharing one store object in a process (a redeploy overlap) also serialise per lease key.
 */
import type { AuditLog } from '../audit';
import { isProviderError } from '../errors';
import { redact } from '../redact';
import type { StateStore } from '../types';
import { endOf } from './compare';
import { mutexFor, type KeyedMutex } from './keyed-mutex';
import { LeaseStore } from './lease-store';
import { Reconciler, type Drift, type ReconcileOptions } from './reconciler';
import { Recovery } from './recovery';
import { ExpiryScheduler } from './scheduler';
import { UndoGate, withoutUndefined } from './undo-gate';
import { UndoRunner } from './undo-runner';
import type { Failure, LeaseFamily, LeaseRecord } from './types';

const DEFAULT_RETRY_BASE_MS = 5_000;
const DEFAULT_RETRY_MAX_MS = 10 * 60_000;
const TEXT_LIMIT = 500;

export interface LeaseEngineOptions {
  store: StateStore;
  audit: Pick<AuditLog, 'append'>;
  /** Read per call: the hub's switch can change at a redeploy. */
  simulate: () => boolean;
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

export interface UndoRequest {
  by?: string;
  reason?: string;
}

export class LeaseEngine {
  readonly leases: LeaseStore;
  readonly now: () => number;
  readonly simulate: () => boolean;
  private readonly auditLog: Pick<AuditLog, 'append'>;
  private readonly setTimer: (callback: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly secrets: () => string[];
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly locks: KeyedMutex;
  private readonly families = new Map<string, LeaseFamily>();
  private readonly gate: UndoGate;
  private readonly scheduler: ExpiryScheduler;
  private readonly reconciler: Reconciler;
  private readonly undos: UndoRunner;
  private readonly recovery: Recovery;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly reconcilers = new Set<() => void>();
  private started: Promise<void> | undefined;
  private stopped = false;
  warn: (message: string) => void;

  constructor(options: LeaseEngineOptions) {
    this.auditLog = options.audit;
    this.simulate = options.simulate;
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
    this.retryBaseMs = positiveOr(options.expiryRetry?.baseMs, DEFAULT_RETRY_BASE_MS);
    this.retryMaxMs = positiveOr(options.expiryRetry?.maxMs, DEFAULT_RETRY_MAX_MS);
    this.locks = mutexFor(options.store);
    this.leases = new LeaseStore(options.store);
    this.gate = new UndoGate({ leases: this.leases, now: () => this.now() });
    this.scheduler = new ExpiryScheduler({
      now: () => this.now(),
      setTimer: (callback, ms) => this.setTimer(callback, ms),
      clearTimer: (handle) => this.clearTimer(handle),
      expire: (group, keys) => this.undos.expire(group, keys),
      retryBaseMs: this.retryBaseMs,
      warn: (message) => this.warn(message),
      describe: (error) => this.describeError(error).reason,
    });
    this.undos = new UndoRunner({
      leases: this.leases,
      gate: this.gate,
      retryBaseMs: this.retryBaseMs,
      retryMaxMs: this.retryMaxMs,
      now: () => this.now(),
      stopped: () => this.stopped,
      family: (kind) => this.families.get(kind),
      keyOf: (family, provider, targetKey) => this.keyOf(family, provider, targetKey),
      locked: (keys, work) => this.locks.run(keys, work),
      schedule: (key, lease) => this.schedule(key, lease),
      forget: (key) => this.scheduler.forget(key),
      record: (type, fields) => this.record(type, fields),
      describe: (error) => this.describeError(error),
      warn: (message) => this.warn(message),
    });
    this.recovery = new Recovery({
      leases: this.leases,
      gate: this.gate,
      family: (kind) => this.families.get(kind),
      hasFamily: (kind) => this.families.has(kind),
      locked: (keys, work) => this.locks.run(keys, work),
      finish: (family, provider, claimed) => this.undos.finish(family, provider, claimed),
      load: (key, at, group) => this.scheduler.load(key, at, group),
    });
    this.reconciler = new Reconciler({
      now: () => this.now(),
      simulate: () => this.simulate(),
      leasesOf: (family, provider) => this.list(family.kind, provider),
      busyTargets: (family, provider) => this.busyTargets(family, provider),
      storeKey: (family, provider, targetKey) => this.keyOf(family, provider, targetKey),
      locked: (keys, work) => this.locks.run(keys, work),
      getLease: (key) => this.leases.get(key),
      kick: (keys) => {
        let kicked = false;
        for (const key of keys) kicked = this.scheduler.kick(key) || kicked;
        if (kicked) void this.scheduler.runDue();
      },
      record: (type, fields) => this.record(type, fields),
      describe: (error) => this.describeError(error),
    });
  }

  // ----- families ------------------------------------------------------------------------------

  /** Plug a family in; its kind and key prefix must be unique. Add families before start(). */
  addFamily(family: LeaseFamily<any, any>): void {
    const prefix = prefixOf(family);
    for (const other of this.families.values()) {
      if (other.kind === family.kind) throw new Error(`lease family "${family.kind}" is already registered`);
      if (prefixOf(other) === prefix) throw new Error(`lease families "${other.kind}" and "${family.kind}" share the key prefix "${prefix}"`);
    }
    this.families.set(family.kind, family);
    // Leases of this family a start() already loaded while it was missing become due now.
    if (this.started) void this.track(this.started.then(() => this.recovery.loadDue(family.kind)).then(() => this.scheduler.runDue()));
  }

  family(kind: string): LeaseFamily | undefined {
    return this.families.get(kind);
  }

  /** Store key of a lease: "<prefix><provider>|<target key>". */
  keyOf(family: LeaseFamily<any, any>, provider: string, targetKey: string): string {
    return `${prefixOf(family)}${provider}|${targetKey}`;
  }

  // ----- lifecycle -----------------------------------------------------------------------------

  /** Finish undos a crash interrupted, load the leases, undo every overdue one now, arm the timer. */
  start(): Promise<void> {
    if (this.started) return this.started;
    this.started = this.track(
      (async () => {
        await this.recovery.recoverInterruptedUndos();
        await this.recovery.loadDue();
        this.scheduler.enable();
        await this.scheduler.runDue();
      })(),
    );
    return this.started;
  }

  /** Stop the timers and wait for operations in flight. The store and audit log stay open (their owner closes them). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.scheduler.stop();
    for (const cancel of [...this.reconcilers]) cancel();
    await this.idle();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Resolves once nothing of this engine is in progress. */
  async idle(): Promise<void> {
    for (;;) {
      const pending: Promise<unknown>[] = [...this.inflight];
      if (this.scheduler.running) pending.push(this.scheduler.running);
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  /** Count an operation as in flight (idle() and stop() wait for it). */
  track<T>(work: Promise<T>): Promise<T> {
    this.inflight.add(work);
    const forget = () => this.inflight.delete(work);
    work.then(forget, forget);
    return work;
  }

  /** When the scheduler will next look at a lease (epoch ms), or undefined when nothing is armed. */
  get nextWakeAt(): number | undefined {
    return this.scheduler.nextWakeAt;
  }

  // ----- primitives for families ----------------------------------------------------------------

  /** Run work holding these lease keys (per key, across engines on one store). */
  locked<T>(keys: string[], work: () => Promise<T>): Promise<T> {
    return this.locks.run(keys, work);
  }

  /** Note a lease's next due time (or its removal) with the scheduler. */
  schedule(key: string, lease: LeaseRecord | undefined): void {
    if (!lease) {
      this.scheduler.set(key, undefined, { kind: '', provider: '' });
      return;
    }
    this.scheduler.set(key, dueAt(lease), { kind: lease.kind, provider: lease.provider });
  }

  /**
   * Undo one lease now on request (the caller holds its key): claim it, undo it, audit the outcome.
   * On failure the lease is put back as it was (still in place, still ends when it did).
   */
  async undoNow<L extends LeaseRecord>(
    key: string,
    lease: L,
    request: UndoRequest,
    audit: Record<string, unknown> = {},
    forget = false,
  ): Promise<{ status: 'released' } | { status: 'not-found' } | ({ status: 'failed' } & Failure)> {
    const family = this.families.get(lease.kind);
    if (!family) return { status: 'failed', reason: `no lease family "${lease.kind}" is loaded`, code: 'NOT_FOUND' };
    const claimed = await this.gate.claim([{ key, lease }], 'released', request);
    if (claimed.length === 0) {
      this.scheduler.forget(key);
      return { status: 'not-found' }; // another engine undid it just now
    }
    const target = lease.target;
    const common = {
      kind: family.undoAction,
      target,
      provider: lease.provider,
      providerLabel: lease.providerLabel ?? family.labelOf?.(lease.provider),
      lease,
      ...audit,
      request,
    };
    const unavailable = family.unavailable(lease.provider);
    let failure: Failure | undefined = unavailable ? { reason: unavailable, code: 'NOT_FOUND' } : undefined;
    if (!failure) {
      try {
        await family.undo(lease.provider, [lease]);
      } catch (error) {
        failure = this.describeError(error);
      }
    }
    if (failure) {
      await this.gate.putBack(key, lease);
      await this.record('action.failed', { ...common, ...failure });
      this.schedule(key, lease);
      return { status: 'failed', ...failure };
    }
    await this.record('action.done', common);
    await this.undos.ended(family, key, lease, forget);
    await this.gate.finished(key);
    this.schedule(key, undefined);
    return { status: 'released' };
  }

  // ----- reading -------------------------------------------------------------------------------

  /** Leases (of one kind, of one provider), soonest end first, those without an end last. */
  async list<L extends LeaseRecord = LeaseRecord>(kind?: string, provider?: string): Promise<L[]> {
    const leases = (await this.leases.list<L>())
      .map((entry) => entry.value)
      .filter((lease) => lease && (kind === undefined || lease.kind === kind) && (provider === undefined || lease.provider === provider));
    return leases.sort((a, b) => (endOf(a) ?? Infinity) - (endOf(b) ?? Infinity) || String(a.target).localeCompare(String(b.target)));
  }

  /** Number of leases of one kind on one provider, without reading them all. */
  count(kind: string, provider: string): Promise<number> {
    return this.leases.count(kind, provider);
  }

  // ----- reconciliation ------------------------------------------------------------------------

  reconcile(kind: string, provider: string, options: ReconcileOptions = {}): Promise<Drift> {
    const family = this.families.get(kind);
    if (!family) return Promise.reject(new Error(`no lease family "${kind}" is loaded`));
    return this.track(this.reconciler.run(family, provider, options));
  }

  /** Run reconcile on a schedule (no overlap: the next run is timed from the end of the last). Returns a cancel function. */
  reconcileEvery(kind: string, provider: string, intervalMs: number, onResult: (result: Drift | Error) => void, options: ReconcileOptions = {}): () => void {
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
            const family = this.families.get(kind);
            if (!family) throw new Error(`no lease family "${kind}" is loaded`);
            result = await this.reconciler.run(family, provider, options);
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

  // ----- helpers -------------------------------------------------------------------------------

  describeError(error: unknown): Failure {
    const message = error instanceof Error ? error.message : String(error);
    const reason = redact(message, this.secrets()).slice(0, TEXT_LIMIT);
    return isProviderError(error) ? { reason, code: error.code } : { reason };
  }

  /** Append to the audit log; a failed append is reported, never allowed to misreport the action. */
  async record(type: string, fields: Record<string, unknown>): Promise<void> {
    try {
      await this.auditLog.append(type, withoutUndefined(fields));
    } catch (error) {
      this.warn(`audit record ${type} not written: ${this.describeError(error).reason}`);
    }
  }

  private busyTargets(family: LeaseFamily, provider: string): Set<string> {
    const prefix = this.keyOf(family, provider, '');
    const busy = new Set<string>();
    for (const key of this.locks.busyKeys()) if (key.startsWith(prefix)) busy.add(key.slice(prefix.length));
    return busy;
  }
}

function prefixOf(family: LeaseFamily<any, any>): string {
  return family.keyPrefix ?? `${family.kind}:`;
}

function positiveOr(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

export { endOf };

/** When the scheduler should next act on a lease: its end, or its retry time while its undo fails. */
function dueAt(lease: LeaseRecord): number | undefined {
  const end = endOf(lease);
  if (end === null) return undefined;
  if (lease.status === 'expiring-failed' && lease.retryAt) return Math.max(end, Date.parse(lease.retryAt));
  return end;
}
