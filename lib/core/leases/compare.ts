/**
 * Reconciliation's comparison: what a provider really holds against the leases the engine keeps for
 * it, by key. Pure (no I/O), so the rules are testable alone.
 * - missing: an active lease the provider does not hold;
 * - extra: the provider holds something no lease accounts for (added by hand, or a lease record lost);
 * - expired-but-present: the lease is past its end (its undo is pending or failing) and still in place.
 */

export interface LeaseTimes {
  /** ISO time, or null for a lease without an end. */
  expiresAt: string | null;
}

export interface DriftReport<L, E> {
  provider: string;
  missing: L[];
  extra: E[];
  expiredButPresent: E[];
  /** When the provider was asked (ISO). */
  checkedAt: string;
}

/** A lease's end in epoch ms, or null when it has none. */
export function endOf(lease: LeaseTimes): number | null {
  return lease.expiresAt === null ? null : Date.parse(lease.expiresAt);
}

/** True when a lease has reached its end at `now` (leases without an end never do). */
export function leaseHasEnded(lease: LeaseTimes, now: number): boolean {
  return lease.expiresAt !== null && Date.parse(lease.expiresAt) <= now;
}

/**
 * Compare the leases of one provider with what it holds. `skipKeys`: keys with an operation in flight
 * (an apply whose provider call is done but whose lease is not written yet would show up as "extra").
 */
export function compareByKey<L extends LeaseTimes, E>(
  provider: string,
  leases: readonly L[],
  enforced: readonly E[],
  keys: { lease(lease: L): string; enforced(item: E): string | undefined },
  now: number,
  skipKeys: ReadonlySet<string> = new Set(),
): DriftReport<L, E> {
  const enforcedByKey = new Map<string, E>();
  for (const item of enforced) {
    const key = item === null || item === undefined ? undefined : keys.enforced(item);
    if (key !== undefined) enforcedByKey.set(key, item);
  }
  const leasedKeys = new Set<string>();
  const missing: L[] = [];
  const expiredButPresent: E[] = [];
  for (const lease of leases) {
    const key = keys.lease(lease);
    leasedKeys.add(key);
    if (skipKeys.has(key)) continue;
    const held = enforcedByKey.get(key);
    if (leaseHasEnded(lease, now)) {
      // Ended and already gone from the provider: the undo only has its bookkeeping left, no drift.
      if (held !== undefined) expiredButPresent.push(held);
    } else if (held === undefined) {
      missing.push(lease);
    }
  }
  const extra: E[] = [];
  for (const [key, item] of enforcedByKey) {
    if (!leasedKeys.has(key) && !skipKeys.has(key)) extra.push(item);
  }
  return { provider, missing, extra, expiredButPresent, checkedAt: new Date(now).toISOString() };
}

export function hasDrift(drift: DriftReport<unknown, unknown>): boolean {
  return drift.missing.length > 0 || drift.extra.length > 0 || drift.expiredButPresent.length > 0;
}
