/**
 * The reconciliation loop: asks a family's provider what it really holds, compares it with the leases
 * (compare.ts), audits the drift and optionally repairs it. `reconcile.drift` is audited every time
 * something differs; `reconcile.ok` at most once per hour per provider, and at once when the previous
 * check had drift (so the log shows when drift cleared). Repair puts missing leases back (the family
 * may refuse one, e.g. a guardrail now protects it) and makes the undo of expired-but-present ones due
 * now; extra items are reported, never removed (they may be an administrator's).
 */
import { compareByKey, hasDrift, leaseHasEnded, type DriftReport } from './compare';
import type { LeaseFamily, LeaseRecord } from './types';

const HOUR_MS = 3_600_000;
/** Targets listed in one audit record; the counts are always complete. */
const AUDIT_LIST_LIMIT = 100;

export interface Drift<L = LeaseRecord, E = unknown> extends DriftReport<L, E> {
  kind?: string;
  /** With repair: targets put back. */
  repaired?: unknown[];
  /** With repair: why putting back failed or was refused. */
  repairFailed?: string;
}

export interface ReconcileOptions {
  /** Put missing leases back and retry the undo of expired-but-present ones. Never in simulation. */
  repair?: boolean;
}

export interface ReconcilerContext {
  now(): number;
  simulate(): boolean;
  /** Current leases of one family on one provider. */
  leasesOf(family: LeaseFamily, provider: string): Promise<LeaseRecord[]>;
  /** Target keys with an operation in flight. */
  busyTargets(family: LeaseFamily, provider: string): Set<string>;
  storeKey(family: LeaseFamily, provider: string, targetKey: string): string;
  /** Run work holding these lease keys. */
  locked<T>(keys: string[], work: () => Promise<T>): Promise<T>;
  getLease(key: string): Promise<LeaseRecord | undefined>;
  /** Make these keys' undo due now; true when any was known. */
  kick(keys: string[]): void;
  record(type: string, fields: Record<string, unknown>): Promise<void>;
  describe(error: unknown): { reason: string; code?: string };
}

export class Reconciler {
  private readonly lastOkAudit = new Map<string, number>();
  private readonly driftSeen = new Map<string, boolean>();

  constructor(private readonly ctx: ReconcilerContext) {}

  async run(family: LeaseFamily, provider: string, options: ReconcileOptions = {}): Promise<Drift> {
    const unavailable = family.unavailable(provider);
    if (unavailable) throw new Error(unavailable);
    let enforced: unknown[];
    try {
      enforced = await family.listEnforced(provider);
    } catch (error) {
      await this.ctx.record('reconcile.failed', { kind: family.kind, provider, providerLabel: family.labelOf?.(provider), ...this.ctx.describe(error) });
      throw error;
    }
    const now = this.ctx.now();
    const leases = await this.ctx.leasesOf(family, provider);
    const drift: Drift = {
      ...compareByKey(
        provider,
        leases,
        enforced,
        { lease: (lease) => family.targetKey(lease.target), enforced: (item) => family.enforcedKey(item) },
        now,
        this.ctx.busyTargets(family, provider),
      ),
      kind: family.kind,
    };
    if (options.repair && !this.ctx.simulate()) await this.repair(family, provider, drift, now);

    const id = `${family.kind}\u0000${provider}`;
    const show = (item: unknown) => family.describeEnforced?.(item) ?? family.enforcedKey(item) ?? item;
    if (hasDrift(drift)) {
      this.driftSeen.set(id, true);
      await this.ctx.record('reconcile.drift', {
        kind: family.kind,
        provider,
        providerLabel: family.labelOf?.(provider),
        counts: { missing: drift.missing.length, extra: drift.extra.length, expiredButPresent: drift.expiredButPresent.length },
        missing: firstOf(drift.missing.map((lease) => lease.target)),
        extra: firstOf(drift.extra.map((item) => show(item))),
        expiredButPresent: firstOf(drift.expiredButPresent.map((item) => show(item))),
        repaired: drift.repaired,
        repairFailed: drift.repairFailed,
      });
    } else {
      const lastOk = this.lastOkAudit.get(id);
      if (this.driftSeen.get(id) || lastOk === undefined || now - lastOk >= HOUR_MS) {
        await this.ctx.record('reconcile.ok', { kind: family.kind, provider, providerLabel: family.labelOf?.(provider), enforced: enforced.length });
        this.lastOkAudit.set(id, now);
      }
      this.driftSeen.set(id, false);
    }
    return drift;
  }

  private async repair(family: LeaseFamily, provider: string, drift: Drift, now: number): Promise<void> {
    const refusals: string[] = [];
    const candidates: LeaseRecord[] = [];
    for (const lease of drift.missing) {
      const refused = family.refuseReapply?.(lease);
      if (refused) refusals.push(refused);
      else candidates.push(lease);
    }
    if (candidates.length > 0) {
      const keys = candidates.map((lease) => this.ctx.storeKey(family, provider, family.targetKey(lease.target)));
      await this.ctx.locked(keys, async () => {
        // Released or expired meanwhile: nothing to put back.
        const current: LeaseRecord[] = [];
        for (const key of keys) {
          const lease = await this.ctx.getLease(key);
          if (lease && !leaseHasEnded(lease, this.ctx.now())) current.push(lease);
        }
        if (current.length === 0) return;
        try {
          await family.reapply(provider, current, now);
          drift.repaired = current.map((lease) => lease.target);
          await this.ctx.record('reconcile.repaired', {
            kind: family.kind,
            provider,
            providerLabel: family.labelOf?.(provider),
            targets: firstOf(drift.repaired),
            count: current.length,
          });
        } catch (error) {
          refusals.push(`${family.reapplyVerb ?? 're-applying'} failed: ${this.ctx.describe(error).reason}`);
        }
      });
    }
    if (refusals.length > 0) drift.repairFailed = refusals.slice(0, 5).join('; ');
    const expired = drift.expiredButPresent.flatMap((item) => {
      const key = family.enforcedKey(item);
      return key === undefined ? [] : [this.ctx.storeKey(family, provider, key)];
    });
    if (expired.length > 0) this.ctx.kick(expired);
  }
}

function firstOf<T>(items: readonly T[]): T[] {
  return items.slice(0, AUDIT_LIST_LIMIT);
}
