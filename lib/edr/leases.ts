/**
 * The isolate family: host isolations on EDR providers as leases of kind "isolate" in the family-neutral
 * lease engine (lib/core/leases), plus what only isolations have: host resolution, pending vendor
 * actions followed to their end in the background, and the host guardrails. The engine behind
 * `soar-isolate-host` and the sidebar's isolated-host list. Node-RED-free.
 *
 * Store layout (StateStore namespaces):
 *   leases          key "isolate:<provider>|<device id>" -> Isolation (the engine's lease store).
 *   lease-undo      the engine's undo intents (a release interrupted by a crash is finished at start).
 *   isolate-pending same key -> PendingRelease: a release whose vendor action is still running.
 *
 * Order of an isolation: guardrail check of what the alert named -> TTL -> provider.resolve (exactly one
 * device, else refused) -> guardrail check of the device's own name and addresses -> existing lease
 * (already-isolated / pending) -> hourly cap per provider -> simulation -> provider.isolate -> lease
 * written (with the pending action when the vendor returned one) -> audit. A refusal is audited as
 * `action.refused` and no vendor write is made; a provider error is audited as `action.failed`.
 *
 * Decisions:
 * - A pending vendor action is written into the lease (or, for a release, into isolate-pending) as
 *   soon as the provider returns it, before anything is reported, and followed with followUntilDone.
 *   After a restart (or kill -9) it is followed again once its EDR registers; the follow's timeout
 *   counts from when the action was requested, so downtime is not a fresh allowance. A provider whose
 *   pending step is short (capabilities.settleMs: ssh-nftables' confirming session) has the request
 *   wait that long for the end and answer it; only an end that comes later is emitted as "finished".
 * - An isolation that fails or times out is checked once with status(): the lease stays (marked with
 *   `problem`) while the device is isolated or still pending, so it stays visible and releasable; it
 *   is removed only when the vendor says the device is not isolated. A release that fails puts the
 *   lease back (marked) for the same reason: a host is never left cut off without a record.
 * - TTL counts from the request. An isolation found in place without a lease (made in the vendor's
 *   console) is reported already-isolated and not taken over: the hub never undoes what it did not do.
 * - Providers without a status call (Wazuh): the lease is the only record; isolate with a lease is
 *   already-isolated, release without one is not-isolated, reconciliation has nothing to compare.
 * - Simulation resolves the host (a read) and applies every guardrail, then touches nothing and
 *   stores nothing; the hourly cap is taken, as for blocks.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { isProviderError } from '../core/errors';
import type { GuardrailPolicy } from '../core/guardrails';
import { LeaseEngine, withoutUndefined, type Drift as EngineDrift, type LeaseFamily, type LeaseRecord, type ReconcileOptions } from '../core/leases';
import type { StateStore } from '../core/types';
import { followUntilDone } from './follow';
import type { EdrActionResult, EdrDevice, EdrOp, EdrProvider, EdrState, PendingAction } from './types';

export const PENDING_NS = 'isolate-pending';
const TEXT_LIMIT = 500;
const DEFAULT_FOLLOW = { timeoutMs: 15 * 60_000, pollMs: 10_000 };
/** Longest TTL accepted (a year): anything longer is a typo, "until released" is the absence of a TTL. */
const MAX_TTL_HOURS = 24 * 366;

export interface Isolation extends LeaseRecord<string> {
  kind: 'isolate';
  /** The EDR's device id. */
  target: string;
  deviceName?: string;
  deviceAddresses?: string[];
  /** What the request named (host name, address or id). */
  requested: string;
  /** isolated, or pending-isolate while the vendor's action runs. */
  state: 'isolated' | 'pending-isolate';
  /** The vendor action being followed (isolate). */
  pending?: PendingAction;
  ttlHours: number | null;
  isolatedAt?: string;
  reason?: string;
  alertId?: string;
  approvalId?: string;
  by?: string;
  /** Node that asked: its later completion goes to that node's "finished later" output. */
  origin?: string;
  /** The message that asked, for correlating the later completion. */
  msgId?: string;
  /** Set when following or releasing went wrong and the host may still be isolated. */
  problem?: string;
  /** Only on isolations returned by simulated requests (never stored). */
  simulated?: true;
}

/** A release whose vendor action is still running; the lease is gone, this record is not. */
export interface PendingRelease {
  handle: PendingAction;
  lease: Isolation;
  origin?: string;
  msgId?: string;
}

export interface IsolateRequest {
  /** Host name, address or the EDR's device id. */
  target: string;
  provider: string;
  /** Hours until the isolation is released by itself; absent/null = until released. */
  ttlHours?: unknown;
  reason?: string;
  alertId?: string;
  approvalId?: string;
  by?: string;
  origin?: string;
  msgId?: string;
}

export interface ReleaseRequest {
  target: string;
  provider: string;
  reason?: string;
  by?: string;
  origin?: string;
  msgId?: string;
}

export type IsolateStatus = 'isolated' | 'released' | 'already-isolated' | 'not-isolated' | 'pending' | 'simulated';

export type IsolateOutcome =
  | { status: IsolateStatus; op: EdrOp; state: EdrState; device: EdrDevice; isolation?: Isolation }
  | { status: 'refused'; op: EdrOp; reason: string }
  | { status: 'failed'; op: EdrOp; reason: string; code?: string };

/** A pending action that finished after the request was answered. */
export interface Finished {
  op: EdrOp;
  provider: string;
  providerLabel?: string;
  deviceId: string;
  deviceName?: string;
  status: 'isolated' | 'released' | 'failed';
  state: EdrState;
  reason?: string;
  code?: string;
  origin?: string;
  msgId?: string;
  alertId?: string;
  isolation?: Isolation;
}

export interface FollowSettings {
  timeoutMs: number;
  pollMs: number;
}

export interface IsolationManagerOptions {
  engine: LeaseEngine;
  store: StateStore;
  guardrails: () => GuardrailPolicy;
  providers: (name: string) => EdrProvider | undefined;
  labelOf?: (name: string) => string | undefined;
  missingReason?: (name: string) => string | undefined;
  /** How a provider's pending actions are followed (from its soar-edr node); defaults 15 min / 10 s. */
  followOf?: (name: string) => FollowSettings | undefined;
  /** Injected for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export type Drift = EngineDrift<Isolation, EnforcedIsolation>;

/** A device the provider reports isolated (or on its way). */
export interface EnforcedIsolation {
  deviceId: string;
  state: EdrState;
}

/** An isolate request waiting for its follow's end: claimed by the follow (no timeout any more), or cancelled. */
interface Settling {
  claim: () => (f: Finished | undefined) => void;
  cancel: () => void;
  ended: Promise<Finished | undefined>;
}

/** How a followed action ended. */
type FollowOutcome = { ok: true; state: EdrState } | { ok: false; reason: string; code?: string };

type Context = Pick<Isolation, 'reason' | 'alertId' | 'approvalId' | 'by' | 'origin' | 'msgId'>;

function cleanText(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  return text.length > TEXT_LIMIT ? `${text.slice(0, TEXT_LIMIT)}...` : text;
}

/** Hours, or null for "until released"; a value that is neither is refused. */
export function parseTtlHours(value: unknown): { hours: number | null } | { error: string } {
  if (value === undefined || value === null || value === '' || value === 0 || value === '0') return { hours: null };
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n <= 0 || n > MAX_TTL_HOURS) {
    return {
      error: `invalid TTL ${JSON.stringify(String(value).slice(0, 40))}: a number of hours (0 < n <= ${MAX_TTL_HOURS}), or none to isolate until released`,
    };
  }
  return { hours: n };
}

const iso = (ms: number) => new Date(ms).toISOString();

class IsolateFamily implements LeaseFamily<Isolation, EnforcedIsolation> {
  readonly kind = 'isolate';
  readonly undoAction = 'release';
  readonly reapplyVerb = 're-isolating';

  constructor(private readonly manager: IsolationManager) {}

  targetKey(target: string): string {
    return String(target).trim();
  }

  unavailable(provider: string): string | undefined {
    return this.manager.resolve(provider) ? undefined : this.manager.missing(provider);
  }

  labelOf(provider: string): string | undefined {
    return this.manager.label(provider);
  }

  async undo(provider: string, leases: Isolation[]): Promise<void> {
    for (const lease of leases) await this.manager.releaseOnProvider(provider, lease);
  }

  async reapply(provider: string, leases: Isolation[]): Promise<void> {
    const edr = this.manager.resolve(provider)!;
    for (const lease of leases)
      await edr.isolate(
        { id: lease.target, name: lease.deviceName, addresses: lease.deviceAddresses },
        { comment: `soar isolation ${lease.id} (reconciliation)` },
      );
  }

  /** The leased devices the vendor reports isolated: the EDRs have no cheap "list isolated" call. */
  async listEnforced(provider: string): Promise<EnforcedIsolation[]> {
    const edr = this.manager.resolve(provider)!;
    const leases = await this.manager.engine.list<Isolation>('isolate', provider);
    const out: EnforcedIsolation[] = [];
    for (const lease of leases) {
      // Without a status call, or while an action runs, the lease is the record: no drift to see.
      if (!edr.capabilities.status || lease.pending) {
        out.push({ deviceId: lease.target, state: lease.state });
        continue;
      }
      const status = await edr.status(lease.target);
      if (status.state !== 'normal' && status.state !== 'pending-release') out.push({ deviceId: lease.target, state: status.state });
    }
    return out;
  }

  enforcedKey(item: EnforcedIsolation): string | undefined {
    return item && typeof item.deviceId === 'string' ? item.deviceId.trim() : undefined;
  }

  describeEnforced(item: EnforcedIsolation): string {
    return item.deviceId;
  }

  refuseReapply(lease: Isolation): string | undefined {
    return this.manager.guard(lease.deviceName, lease.deviceAddresses ?? []);
  }
}

/**
 * Isolations on the hub's engine. Emits "finished" (Finished) when a pending action ends after the
 * request was answered, and "drift" is the engine's (audited reconcile.drift).
 */
export class IsolationManager extends EventEmitter {
  readonly engine: LeaseEngine;
  private readonly store: StateStore;
  private readonly guardrails: () => GuardrailPolicy;
  private readonly providers: (name: string) => EdrProvider | undefined;
  private readonly labelOf: (name: string) => string | undefined;
  private readonly missingReason: (name: string) => string | undefined;
  private readonly followOf: (name: string) => FollowSettings | undefined;
  private readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly family: IsolateFamily;
  /** Follows running, by store key; aborted when their provider goes (a redeploy) or the hub stops. */
  private readonly follows = new Map<string, { provider: string; abort: AbortController; done: Promise<void> }>();
  /** Results of provider releases during an engine undo, read back by the caller of undoNow. */
  private readonly releaseResults = new Map<string, EdrActionResult>();
  /** Isolate requests waiting for their follow's end (capabilities.settleMs), by store key. */
  private readonly settling = new Map<string, Settling>();
  private stopped = false;

  constructor(options: IsolationManagerOptions) {
    super();
    this.engine = options.engine;
    this.store = options.store;
    this.guardrails = options.guardrails;
    this.providers = options.providers;
    this.labelOf = options.labelOf ?? (() => undefined);
    this.missingReason = options.missingReason ?? (() => undefined);
    this.followOf = options.followOf ?? (() => undefined);
    this.sleep = options.sleep;
    this.family = new IsolateFamily(this);
    this.engine.addFamily(this.family);
  }

  keyOf(provider: string, deviceId: string): string {
    return this.engine.keyOf(this.family, provider, deviceId.trim());
  }

  // ----- isolate -------------------------------------------------------------------------------

  isolate(request: IsolateRequest): Promise<IsolateOutcome> {
    return this.engine.track(this.doIsolate(request).then((out) => this.settled(request, out)));
  }

  /** A pending isolation whose provider settles quickly is answered with its end, when it comes in time. */
  private async settled(request: IsolateRequest, out: IsolateOutcome): Promise<IsolateOutcome> {
    if (out.status !== 'pending' || !('device' in out)) return out;
    const key = this.keyOf(cleanText(request?.provider) ?? '', out.device.id);
    const waiting = this.settling.get(key);
    if (!waiting) return out;
    const end = await waiting.ended;
    if (!end) return out;
    if (end.status === 'isolated')
      return { status: 'isolated', op: 'isolate', state: end.state, device: out.device, ...(end.isolation ? { isolation: end.isolation } : {}) };
    return { status: 'failed', op: 'isolate', reason: end.reason ?? 'the isolation failed', ...(end.code ? { code: end.code } : {}) };
  }

  /** Wait up to `ms` for the follow of `key` to end; it hands its end here instead of emitting "finished". */
  private awaitEnd(key: string, ms: number): void {
    this.settling.get(key)?.cancel();
    let entry!: Settling;
    const ended = new Promise<Finished | undefined>((resolve) => {
      const timer = setTimeout(() => entry.cancel(), ms);
      timer.unref?.();
      const finish = (f: Finished | undefined) => {
        clearTimeout(timer);
        if (this.settling.get(key) === entry) this.settling.delete(key);
        resolve(f);
      };
      entry = { claim: () => (clearTimeout(timer), this.settling.delete(key), finish), cancel: () => finish(undefined), ended: undefined! };
    });
    entry.ended = ended;
    this.settling.set(key, entry);
  }

  private async doIsolate(request: IsolateRequest): Promise<IsolateOutcome> {
    const op: EdrOp = 'isolate';
    const context = contextOf(request);
    const name = cleanText(request?.provider) ?? '';
    const shown = cleanText(request?.target) ?? String(request?.target ?? '');
    if (this.stopped || this.engine.isStopped) return { status: 'failed', op, reason: 'the isolation manager is stopped', code: 'CANCELLED' };
    const policy = this.guardrails();
    const first =
      typeof request?.target === 'string' ? policy.checkHost(request.target) : { allowed: false, reason: `no host named (got ${typeof request?.target})` };
    if (!first.allowed) return this.refuse(op, shown, name, context, first.reason ?? 'protected host');
    const ttl = parseTtlHours(request.ttlHours);
    if ('error' in ttl) return this.refuse(op, shown, name, context, ttl.error);
    const provider = this.resolve(name);
    if (!provider) return this.fail(op, shown, name, context, { reason: this.missing(name), code: 'NOT_FOUND' });

    let device: EdrDevice;
    try {
      device = await provider.resolve(shown);
    } catch (error) {
      return this.resolveFailed(op, shown, name, context, error);
    }
    const protectedDevice = this.guard(device.name, device.addresses ?? []);
    if (protectedDevice) return this.refuse(op, shown, name, context, protectedDevice, device);

    const key = this.keyOf(name, device.id);
    return this.engine.locked([key], async () => {
      const now = this.engine.now();
      const existing = await this.engine.leases.get<Isolation>(key);
      // Answers without a vendor call are audited too: every request leaves its step in the log.
      if (existing?.pending) {
        await this.recordStep('action.pending', op, device, name, context, { outcome: 'in-progress', handle: existing.pending });
        return { status: 'pending', op, state: 'pending-isolate', device, isolation: existing };
      }
      if (existing && !provider.capabilities.status) {
        await this.recordStep('action.done', op, device, name, context, { outcome: 'already-isolated', leaseFound: true });
        return { status: 'already-isolated', op, state: 'isolated', device, isolation: existing };
      }
      if (!existing) {
        const slot = policy.takeActionSlot(name);
        if (!slot.allowed) return this.refuse(op, device.id, name, context, slot.reason ?? 'hourly cap reached', device);
      }
      const lease: Isolation = withoutUndefined({
        id: existing?.id ?? randomUUID(),
        kind: 'isolate' as const,
        target: device.id,
        deviceName: device.name,
        deviceAddresses: device.addresses?.length ? device.addresses : undefined,
        requested: shown,
        provider: name,
        providerLabel: this.labelOf(name),
        createdAt: existing?.createdAt ?? iso(now),
        expiresAt: ttl.hours === null ? null : iso(now + ttl.hours * 3_600_000),
        status: 'active' as const,
        state: 'isolated' as const,
        ttlHours: ttl.hours,
        ...context,
      });
      if (this.engine.simulate()) {
        const simulated: Isolation = { ...lease, simulated: true };
        await this.engine.record('action.simulated', {
          kind: op,
          target: device.id,
          deviceName: device.name,
          requested: shown,
          provider: name,
          providerLabel: this.labelOf(name),
          wouldHave: existing ? 'kept' : 'isolated',
          lease: simulated,
          request: context,
        });
        return { status: 'simulated', op, state: existing ? 'isolated' : 'normal', device, isolation: simulated };
      }
      await this.engine.record('action.requested', {
        kind: op,
        target: device.id,
        deviceName: device.name,
        requested: shown,
        provider: name,
        providerLabel: this.labelOf(name),
        ttlHours: ttl.hours,
        request: context,
      });
      let result: EdrActionResult;
      try {
        result = await provider.isolate(device, { comment: `soar isolation ${lease.id}${context.reason ? `: ${context.reason}` : ''}`.slice(0, 300) });
      } catch (error) {
        return this.fail(op, device.id, name, context, this.engine.describeError(error), device);
      }
      if (result.outcome === 'already-isolated') {
        let kept = existing;
        if (existing && (existing.problem || existing.state !== 'isolated')) {
          // A follow that timed out (or a failed release) left a mark: the vendor now confirms the isolation.
          const { problem: _problem, ...rest } = existing;
          kept = { ...rest, state: 'isolated', isolatedAt: existing.isolatedAt ?? iso(now) };
          await this.engine.leases.set(key, kept);
          this.engine.schedule(key, kept);
        }
        await this.recordStep('action.done', op, device, name, context, { outcome: 'already-isolated', leaseFound: Boolean(existing) });
        return { status: 'already-isolated', op, state: result.status.state, device, ...(kept ? { isolation: kept } : {}) };
      }
      if (result.handle) {
        const pending: Isolation = { ...lease, state: 'pending-isolate', pending: result.handle };
        // Durable before anything is reported: a crash from here on is picked up at the next start.
        await this.engine.leases.set(key, pending);
        this.engine.schedule(key, pending);
        await this.recordStep('action.pending', op, device, name, context, { outcome: result.outcome, handle: result.handle, lease: pending });
        const settleMs = provider.capabilities.settleMs ?? 0;
        if (settleMs > 0) this.awaitEnd(key, settleMs);
        if (!this.startFollow(key, pending.pending!, name)) this.settling.get(key)?.cancel();
        return { status: 'pending', op, state: 'pending-isolate', device, isolation: pending };
      }
      const done: Isolation = { ...lease, isolatedAt: iso(now) };
      try {
        await this.engine.leases.set(key, done);
      } catch (error) {
        return this.leaseWriteFailed(provider, done, context, error);
      }
      this.engine.schedule(key, done);
      await this.recordStep('action.done', op, device, name, context, { outcome: result.outcome, lease: done });
      return { status: 'isolated', op, state: provider.capabilities.status ? result.status.state : 'isolated', device, isolation: done };
    });
  }

  /** The isolation went through but could not be recorded: release it again, never leave it unrecorded. */
  private async leaseWriteFailed(provider: EdrProvider, lease: Isolation, context: Context, cause: unknown): Promise<IsolateOutcome> {
    const storeError = this.engine.describeError(cause).reason;
    let reason: string;
    try {
      await provider.release({ id: lease.target, name: lease.deviceName }, { comment: `soar isolation ${lease.id}: rolled back` });
      reason = `the isolation could not be recorded (state store: ${storeError}); it was released again`;
    } catch (rollback) {
      reason = `the isolation could not be recorded (state store: ${storeError}) and releasing it failed (${this.engine.describeError(rollback).reason}): release ${lease.deviceName ?? lease.target} by hand`;
    }
    return this.fail('isolate', lease.target, lease.provider, context, { reason, code: 'STORE' });
  }

  // ----- release -------------------------------------------------------------------------------

  release(request: ReleaseRequest): Promise<IsolateOutcome> {
    return this.engine.track(this.doRelease(request));
  }

  private async doRelease(request: ReleaseRequest): Promise<IsolateOutcome> {
    const op: EdrOp = 'release';
    const context = contextOf(request);
    const name = cleanText(request?.provider) ?? '';
    const shown = cleanText(request?.target) ?? '';
    if (this.stopped || this.engine.isStopped) return { status: 'failed', op, reason: 'the isolation manager is stopped', code: 'CANCELLED' };
    if (!shown) return this.refuse(op, String(request?.target ?? ''), name, context, 'no host named');
    const provider = this.resolve(name);
    // A lease by device id needs no provider lookup (the sidebar releases by id, also when the EDR is orphaned).
    const direct = await this.engine.leases.get<Isolation>(this.keyOf(name, shown));
    if (!provider && !direct) return this.fail(op, shown, name, context, { reason: this.missing(name), code: 'NOT_FOUND' });
    let device: EdrDevice;
    if (direct) device = { id: direct.target, name: direct.deviceName, addresses: direct.deviceAddresses };
    else {
      try {
        device = await provider!.resolve(shown);
      } catch (error) {
        return this.resolveFailed(op, shown, name, context, error);
      }
    }
    const key = this.keyOf(name, device.id);
    return this.engine.locked([key], async () => {
      const lease = await this.engine.leases.get<Isolation>(key);
      if (this.engine.simulate()) {
        await this.recordStep('action.simulated', op, device, name, context, { wouldHave: lease ? 'released' : 'released if isolated', lease: lease ?? null });
        return { status: 'simulated', op, state: lease ? lease.state : 'unknown', device, ...(lease ? { isolation: lease } : {}) };
      }
      if (lease) {
        this.stopFollow(key);
        const undo = await this.engine.undoNow(
          key,
          { ...lease, ...withoutUndefined({ origin: context.origin, msgId: context.msgId }) },
          { by: context.by, reason: context.reason },
        );
        const result = this.releaseResults.get(lease.id);
        this.releaseResults.delete(lease.id);
        if (undo.status === 'failed') return { status: 'failed', op, reason: undo.reason, code: undo.code };
        if (undo.status === 'not-found') return { status: 'not-isolated', op, state: 'normal', device };
        if (result?.handle) return { status: 'pending', op, state: 'pending-release', device, isolation: lease };
        // Lifted behind the hub's back: the lease ended, and the host was not isolated any more.
        if (result?.outcome === 'not-isolated') return { status: 'not-isolated', op, state: result.status.state, device, isolation: lease };
        return { status: 'released', op, state: result && provider?.capabilities.status ? result.status.state : 'normal', device, isolation: lease };
      }
      if (!provider!.capabilities.status) {
        // No lease and no status call: the hub's record is all there is, and it says not isolated.
        await this.recordStep('action.done', op, device, name, context, { outcome: 'not-isolated', leaseFound: false });
        return { status: 'not-isolated', op, state: 'unknown', device };
      }
      await this.recordStep('action.requested', op, device, name, context, { leaseFound: false });
      let result: EdrActionResult;
      try {
        result = await provider!.release(device, { comment: `soar release${context.reason ? `: ${context.reason}` : ''}`.slice(0, 300) });
      } catch (error) {
        return this.fail(op, device.id, name, context, this.engine.describeError(error), device);
      }
      if (result.outcome === 'not-isolated') {
        await this.recordStep('action.done', op, device, name, context, { outcome: 'not-isolated', leaseFound: false });
        return { status: 'not-isolated', op, state: result.status.state, device };
      }
      if (result.handle) {
        const orphan: Isolation = {
          id: randomUUID(),
          kind: 'isolate',
          target: device.id,
          deviceName: device.name,
          requested: shown,
          provider: name,
          createdAt: iso(this.engine.now()),
          expiresAt: null,
          status: 'active',
          state: 'isolated',
          ttlHours: null,
          ...context,
        };
        await this.storePendingRelease(key, { handle: result.handle, lease: orphan, origin: context.origin, msgId: context.msgId });
        await this.recordStep('action.pending', op, device, name, context, { outcome: result.outcome, handle: result.handle, leaseFound: false });
        this.startFollow(key, result.handle, name);
        return { status: 'pending', op, state: 'pending-release', device };
      }
      await this.recordStep('action.done', op, device, name, context, { outcome: result.outcome, leaseFound: false });
      return { status: 'released', op, state: result.status.state, device };
    });
  }

  /** @internal The engine's undo (a release on request or at expiry). A vendor action still running is stored and followed. */
  async releaseOnProvider(providerName: string, lease: Isolation): Promise<void> {
    const provider = this.resolve(providerName)!;
    const key = this.keyOf(providerName, lease.target);
    this.stopFollow(key);
    const result = await provider.release(
      { id: lease.target, name: lease.deviceName, addresses: lease.deviceAddresses },
      { comment: `soar isolation ${lease.id} ended` },
    );
    this.releaseResults.set(lease.id, result);
    if (result.handle) {
      const { pending: _pending, ...kept } = lease;
      await this.storePendingRelease(key, { handle: result.handle, lease: kept as Isolation, origin: lease.origin, msgId: lease.msgId });
      await this.engine.record('action.pending', {
        kind: 'release',
        target: lease.target,
        deviceName: lease.deviceName,
        provider: providerName,
        providerLabel: this.labelOf(providerName),
        outcome: result.outcome,
        handle: result.handle,
        lease: kept,
      });
      this.startFollow(key, result.handle, providerName);
    }
  }

  private storePendingRelease(key: string, record: PendingRelease): Promise<void> {
    return this.store.set(PENDING_NS, key, withoutUndefined(record) as PendingRelease);
  }

  // ----- following pending actions -------------------------------------------------------------

  /** Follow again every stored pending action of one provider (its EDR just registered). */
  async resume(providerName: string): Promise<number> {
    if (this.stopped) return 0;
    let resumed = 0;
    for (const lease of await this.engine.list<Isolation>('isolate', providerName)) {
      if (!lease.pending) continue;
      const key = this.keyOf(providerName, lease.target);
      if (this.follows.has(key)) continue;
      if (this.startFollow(key, lease.pending, providerName)) resumed++;
    }
    for (const { key, value } of await this.store.list<PendingRelease>(PENDING_NS)) {
      if (!value?.handle || value.lease?.provider !== providerName || this.follows.has(key)) continue;
      if (this.startFollow(key, value.handle, providerName)) resumed++;
    }
    return resumed;
  }

  /** Stop following one provider's actions (its node closed); they stay stored for the next registration. */
  async pause(providerName: string): Promise<void> {
    const stopping = [...this.follows.entries()].filter(([, f]) => f.provider === providerName);
    for (const [key] of stopping) this.stopFollow(key);
    await Promise.allSettled(stopping.map(([, f]) => f.done));
  }

  /** Stop every follow (hub closing); stored actions are picked up at the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const waiting of [...this.settling.values()]) waiting.cancel();
    const all = [...this.follows.values()];
    for (const f of all) f.abort.abort();
    this.follows.clear();
    await Promise.allSettled(all.map((f) => f.done));
  }

  /** Resolves once no follow is running (tests). */
  async followsIdle(): Promise<void> {
    while (this.follows.size) await Promise.allSettled([...this.follows.values()].map((f) => f.done));
  }

  private stopFollow(key: string): void {
    this.settling.get(key)?.cancel();
    const follow = this.follows.get(key);
    if (!follow) return;
    follow.abort.abort();
    this.follows.delete(key);
  }

  /** True when a follow started (false: the provider is not there; it is followed when it registers). */
  private startFollow(key: string, handle: PendingAction, providerName: string): boolean {
    const provider = this.resolve(providerName);
    if (!provider || this.stopped) return false;
    const abort = new AbortController();
    const settings = { ...DEFAULT_FOLLOW, ...this.followOf(providerName) };
    const entry = { provider: providerName, abort, done: Promise.resolve() };
    entry.done = (async () => {
      let outcome: FollowOutcome;
      try {
        const result = await followUntilDone(provider, handle, {
          timeoutMs: settings.timeoutMs,
          pollMs: settings.pollMs,
          signal: abort.signal,
          now: this.engine.now,
          ...(this.sleep ? { sleep: this.sleep } : {}),
        });
        outcome = { ok: true, state: result.status.state };
      } catch (error) {
        if (abort.signal.aborted) return; // redeploy or stop: stays stored, followed again later
        outcome = { ok: false, ...this.engine.describeError(error) };
      }
      if (abort.signal.aborted) return;
      await this.engine.locked([key], () =>
        handle.op === 'isolate' ? this.isolateFinished(key, handle, provider, outcome) : this.releaseFinished(key, handle, provider, outcome),
      );
    })()
      .catch((error) => this.engine.warn(`following ${handle.op} of ${handle.deviceId}: ${this.engine.describeError(error).reason}`))
      .finally(() => {
        if (this.follows.get(key) === entry) this.follows.delete(key);
      });
    this.follows.set(key, entry);
    return true;
  }

  private async isolateFinished(key: string, handle: PendingAction, provider: EdrProvider, outcome: FollowOutcome): Promise<void> {
    const lease = await this.engine.leases.get<Isolation>(key);
    // Released (or replaced) meanwhile: this follow's result no longer describes the lease.
    if (!lease || lease.pending?.requestedAt !== handle.requestedAt) return;
    const { pending: _pending, problem: _problem, ...kept } = lease;
    await this.finishFollowed(key, handle, provider, outcome, lease, lease, {
      done: async () => {
        const done: Isolation = { ...kept, state: 'isolated', isolatedAt: iso(this.engine.now()) };
        await this.engine.leases.set(key, done);
        this.engine.schedule(key, done);
        return done;
      },
      failed: async (state, reason) => {
        if (state === 'normal') {
          await this.engine.leases.delete(key, lease);
          this.engine.schedule(key, undefined);
        } else {
          const marked: Isolation = { ...kept, state: state === 'isolated' ? 'isolated' : 'pending-isolate', problem: reason };
          await this.engine.leases.set(key, marked);
          this.engine.schedule(key, marked);
        }
        return { leaseKept: state !== 'normal' };
      },
    });
  }

  private async releaseFinished(key: string, handle: PendingAction, provider: EdrProvider, outcome: FollowOutcome): Promise<void> {
    const record = await this.store.get<PendingRelease>(PENDING_NS, key);
    if (!record || record.handle.requestedAt !== handle.requestedAt) return;
    const lease = record.lease;
    await this.finishFollowed(key, handle, provider, outcome, lease, record, {
      done: async () => {
        await this.store.delete(PENDING_NS, key);
        return undefined;
      },
      failed: async (state, reason) => {
        // Still (or maybe) isolated: the lease comes back, marked, so the host stays listed and releasable.
        if (state !== 'normal' && !(await this.engine.leases.get(key))) {
          const back: Isolation = { ...lease, status: 'active', state: 'isolated', expiresAt: null, problem: `release failed: ${reason}` };
          await this.engine.leases.set(key, back);
          this.engine.schedule(key, back);
        }
        await this.store.delete(PENDING_NS, key);
        return { leaseRestored: state !== 'normal' };
      },
    });
  }

  /**
   * The end of a followed action, isolate or release alike: `apply` updates the records, then the step
   * is audited and "finished" emitted (or handed to the request still waiting for it). A failure first asks the vendor for the state after it: only its
   * "not isolated" lets a record go.
   */
  private async finishFollowed(
    key: string,
    handle: PendingAction,
    provider: EdrProvider,
    outcome: FollowOutcome,
    lease: Isolation,
    requester: { origin?: string; msgId?: string },
    apply: { done: () => Promise<Isolation | undefined>; failed: (state: EdrState, reason: string) => Promise<Record<string, unknown>> },
  ): Promise<void> {
    const op = handle.op;
    const providerLabel = this.labelOf(lease.provider);
    const common = {
      op,
      provider: lease.provider,
      providerLabel,
      deviceId: lease.target,
      deviceName: lease.deviceName,
      origin: requester.origin,
      msgId: requester.msgId,
      alertId: lease.alertId,
    };
    // Claimed: the waiting request gets this end (or "pending" if recording it throws), never its timeout.
    const waiting = this.settling.get(key)?.claim();
    let end: Finished | undefined;
    try {
      const audit = { kind: op, target: lease.target, deviceName: lease.deviceName, provider: lease.provider, providerLabel, finishedLater: !waiting };
      if (outcome.ok) {
        const isolation = await apply.done();
        await this.engine.record('action.done', { ...audit, handle, ...(isolation ? { lease: isolation } : {}) });
        end = { ...common, status: op === 'isolate' ? 'isolated' : 'released', state: outcome.state, ...(isolation ? { isolation } : {}) };
        return;
      }
      let state: EdrState = 'unknown';
      try {
        if (provider.capabilities.status) state = (await provider.status(lease.target)).state;
      } catch {
        // unknown: the record stays
      }
      const kept = await apply.failed(state, outcome.reason);
      await this.engine.record('action.failed', { ...audit, reason: outcome.reason, code: outcome.code, stateAfter: state, ...kept, handle });
      end = { ...common, status: 'failed', state, reason: outcome.reason, code: outcome.code };
    } finally {
      if (waiting) waiting(end);
      else if (end) this.emit('finished', end);
    }
  }

  // ----- reading -------------------------------------------------------------------------------

  list(): Promise<Isolation[]> {
    return this.engine.list<Isolation>('isolate');
  }

  /** Releases still being followed. */
  async pendingReleases(): Promise<PendingRelease[]> {
    return (await this.store.list<PendingRelease>(PENDING_NS)).map((entry) => entry.value).filter(Boolean);
  }

  count(provider: string): Promise<number> {
    return this.engine.count('isolate', String(provider).trim());
  }

  reconcile(providerName: string, options: ReconcileOptions = {}): Promise<Drift> {
    return this.engine.reconcile('isolate', providerName, options) as Promise<Drift>;
  }

  reconcileEvery(providerName: string, intervalMs: number, onResult: (result: Drift | Error) => void, options: ReconcileOptions = {}): () => void {
    return this.engine.reconcileEvery('isolate', providerName, intervalMs, onResult as (result: EngineDrift | Error) => void, options);
  }

  // ----- helpers -------------------------------------------------------------------------------

  /** @internal */
  resolve(name: string): EdrProvider | undefined {
    return typeof name === 'string' && name !== '' ? this.providers(name) : undefined;
  }

  /** @internal */
  missing(name: string): string {
    return this.missingReason(name) ?? `no EDR named "${String(name).slice(0, 100)}" is configured`;
  }

  /** @internal */
  label(name: string): string | undefined {
    return this.labelOf(name);
  }

  /** @internal Why a resolved device must not be isolated (its own name or an address is protected). */
  guard(deviceName: string | undefined, addresses: string[]): string | undefined {
    const policy = this.guardrails();
    if (deviceName) {
      const byName = policy.checkHost(deviceName);
      if (!byName.allowed) return byName.reason;
    }
    for (const address of addresses) {
      const byAddress = policy.checkHostAddress(address);
      if (!byAddress.allowed) return `${deviceName ?? 'the device'} has address ${byAddress.reason}`;
    }
    return undefined;
  }

  /** One audit step about a device: what, on which device and provider, then `fields`, then the request. */
  private recordStep(type: string, op: EdrOp, device: EdrDevice, provider: string, context: Context, fields: Record<string, unknown>): Promise<void> {
    return this.engine.record(type, {
      kind: op,
      target: device.id,
      deviceName: device.name,
      provider,
      providerLabel: this.labelOf(provider),
      ...fields,
      request: context,
    });
  }

  private async resolveFailed(op: EdrOp, target: string, provider: string, context: Context, error: unknown): Promise<IsolateOutcome> {
    const failure = this.engine.describeError(error);
    // Unknown, ambiguous or malformed: bad input, nothing was done.
    if (isProviderError(error) && ['NOT_FOUND', 'CONFLICT', 'BAD_REQUEST'].includes(error.code))
      return this.refuse(op, target, provider, context, failure.reason);
    return this.fail(op, target, provider, context, failure);
  }

  private async refuse(op: EdrOp, target: string, provider: string, context: Context, reason: string, device?: EdrDevice): Promise<IsolateOutcome> {
    await this.engine.record('action.refused', {
      kind: op,
      target,
      deviceName: device?.name,
      provider,
      providerLabel: provider ? this.labelOf(provider) : undefined,
      reason,
      simulated: this.engine.simulate() || undefined,
      request: context,
    });
    return { status: 'refused', op, reason };
  }

  private async fail(
    op: EdrOp,
    target: string,
    provider: string,
    context: Context,
    failure: { reason: string; code?: string },
    device?: EdrDevice,
  ): Promise<IsolateOutcome> {
    await this.engine.record('action.failed', {
      kind: op,
      target,
      deviceName: device?.name,
      provider,
      providerLabel: provider ? this.labelOf(provider) : undefined,
      ...failure,
      request: context,
    });
    return { status: 'failed', op, ...failure };
  }
}

function contextOf(request: IsolateRequest | ReleaseRequest | undefined): Context {
  const r = (request ?? {}) as IsolateRequest;
  return withoutUndefined({
    reason: cleanText(r.reason),
    alertId: cleanText(r.alertId),
    approvalId: cleanText(r.approvalId),
    by: cleanText(r.by),
    origin: cleanText(r.origin),
    msgId: cleanText(r.msgId),
  });
}
