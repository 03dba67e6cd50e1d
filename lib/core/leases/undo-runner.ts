/**
 * Undoing leases that fell due (and finishing recovered ones): batched per kind+provider, one
 * family.undo call per batch; only an error naming the request itself is retried lease by lease. A
 * failing undo keeps the lease listed as 'expiring-failed' with lastError, attempts and retryAt, is
 * audited as `lease.expiry-failed`, and is retried with exponential backoff.
 */
import { isProviderError } from '../errors';
import { endOf, leaseHasEnded } from './compare';
import type { LeaseStore } from './lease-store';
import type { DueGroup } from './scheduler';
import type { Failure, LeaseFamily, LeaseRecord } from './types';
import type { ClaimedUndo, UndoGate } from './undo-gate';

/** Targets per family.undo call when many leases fall due together (e.g. after downtime). */
const UNDO_BATCH = 256;

export interface UndoRunnerContext {
  readonly leases: LeaseStore;
  readonly gate: UndoGate;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  now(): number;
  stopped(): boolean;
  family(kind: string): LeaseFamily | undefined;
  keyOf(family: LeaseFamily, provider: string, targetKey: string): string;
  locked<T>(keys: string[], work: () => Promise<T>): Promise<T>;
  /** Re-note a lease's due time with the scheduler (or drop it). */
  schedule(key: string, lease: LeaseRecord | undefined): void;
  forget(key: string): void;
  record(type: string, fields: Record<string, unknown>): Promise<void>;
  describe(error: unknown): Failure;
  warn(message: string): void;
}

export class UndoRunner {
  constructor(private readonly ctx: UndoRunnerContext) {}

  async expire(group: DueGroup, keys: string[]): Promise<void> {
    const family = this.ctx.family(group.kind);
    if (!family) return;
    for (let start = 0; start < keys.length && !this.ctx.stopped(); start += UNDO_BATCH) {
      const batch = keys.slice(start, start + UNDO_BATCH);
      await this.ctx.locked(batch, async () => {
        const now = this.ctx.now();
        const due: { key: string; lease: LeaseRecord }[] = [];
        for (const key of batch) {
          const lease = await this.ctx.leases.get(key);
          // The store decides whether (extended or released meanwhile?), the index decided when.
          if (!lease || !leaseHasEnded(lease, now)) this.ctx.schedule(key, lease);
          else due.push({ key, lease });
        }
        if (due.length === 0) return;
        const claimed = await this.ctx.gate.claim(due, 'expired');
        for (const { key } of due) if (!claimed.some((c) => c.key === key)) this.ctx.forget(key);
        await this.finish(family, group.provider, claimed);
      });
    }
  }

  /** Undo claimed leases on their provider and record each outcome. */
  async finish(family: LeaseFamily, provider: string, claimed: ClaimedUndo[]): Promise<void> {
    if (claimed.length === 0) return;
    const failures = await this.undoOnProvider(
      family,
      provider,
      claimed.map((item) => item.lease),
    );
    const now = this.ctx.now();
    for (const item of claimed) {
      const failure = failures.get(item.key);
      if (failure) await this.undoFailed(family, item, failure, now);
      else await this.undone(family, item, now);
    }
  }

  /**
   * One undo call for the batch. Only an error that names the request itself (BAD_REQUEST, CONFLICT)
   * is retried lease by lease, so one bad entry cannot hold the rest; a provider that is down fails the
   * whole batch at once instead of being called hundreds of times.
   */
  private async undoOnProvider(family: LeaseFamily, provider: string, leases: LeaseRecord[]): Promise<Map<string, Failure>> {
    const failures = new Map<string, Failure>();
    const keyOf = (lease: LeaseRecord) => this.ctx.keyOf(family, provider, family.targetKey(lease.target));
    const unavailable = family.unavailable(provider);
    if (unavailable) {
      for (const lease of leases) failures.set(keyOf(lease), { reason: unavailable, code: 'NOT_FOUND' });
      return failures;
    }
    try {
      await family.undo(provider, leases);
      return failures;
    } catch (error) {
      const itemSpecific = isProviderError(error) && (error.code === 'BAD_REQUEST' || error.code === 'CONFLICT');
      if (leases.length === 1 || !itemSpecific) {
        const failure = this.ctx.describe(error);
        for (const lease of leases) failures.set(keyOf(lease), failure);
        return failures;
      }
    }
    for (const lease of leases) {
      try {
        await family.undo(provider, [lease]);
      } catch (error) {
        failures.set(keyOf(lease), this.ctx.describe(error));
      }
    }
    return failures;
  }

  private async undone(family: LeaseFamily, item: ClaimedUndo, now: number): Promise<void> {
    const { key, lease } = item;
    const end = endOf(lease);
    if (item.why === 'released') {
      await this.ctx.record('action.done', {
        kind: family.undoAction,
        target: lease.target,
        provider: lease.provider,
        providerLabel: lease.providerLabel ?? family.labelOf?.(lease.provider),
        lease,
        recovered: true,
        request: item.request,
      });
    } else {
      await this.ctx.record('lease.expired', {
        kind: lease.kind,
        target: lease.target,
        provider: lease.provider,
        providerLabel: lease.providerLabel ?? family.labelOf?.(lease.provider),
        lease,
        overdueSeconds: end === null ? 0 : Math.max(0, Math.round((now - end) / 1000)),
        recovered: item.recovered || undefined,
      });
    }
    await this.ended(family, key, lease, false);
    // The intent goes last: a crash before this point repeats the (idempotent) undo, never skips it.
    await this.ctx.gate.finished(key);
    this.ctx.forget(key);
  }

  private async undoFailed(family: LeaseFamily, item: ClaimedUndo, failure: Failure, now: number): Promise<void> {
    const { key, lease } = item;
    const attempts = (lease.attempts ?? 0) + 1;
    const retryAt = now + Math.min(this.ctx.retryMaxMs, this.ctx.retryBaseMs * 2 ** (attempts - 1));
    const failing: LeaseRecord = { ...lease, status: 'expiring-failed', lastError: failure.reason, attempts, retryAt: iso(retryAt) };
    await this.ctx.gate.putBack(key, failing);
    await this.ctx.record('lease.expiry-failed', {
      kind: lease.kind,
      target: lease.target,
      provider: lease.provider,
      providerLabel: lease.providerLabel ?? family.labelOf?.(lease.provider),
      leaseId: lease.id,
      reason: failure.reason,
      code: failure.code,
      attempts,
      retryAt: iso(retryAt),
    });
    this.ctx.schedule(key, failing);
  }

  async ended(family: LeaseFamily, key: string, lease: LeaseRecord, forget: boolean): Promise<void> {
    if (!family.onEnded) return;
    try {
      await family.onEnded(key, lease, this.ctx.now(), forget);
    } catch (error) {
      this.ctx.warn(`after the end of the lease of ${String(lease.target)} on ${lease.provider}: ${this.ctx.describe(error).reason}`);
    }
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
