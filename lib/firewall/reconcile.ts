/**
 * Reconciliation: what a firewall provider really enforces, compared with the block leases the hub
 * holds for it: the block family's keys (canonical addresses) over the engine's comparison
 * (lib/core/leases/compare.ts). Pure functions (no I/O); the engine's reconciliation loop does the
 * reading, auditing and repairing. Node-RED-free.
 *
 * The three kinds of drift:
 * - missing: an active lease whose address the provider does not hold (someone flushed the firewall,
 *   a reload lost the set, a native timeout fired early);
 * - extra: the provider holds an address no lease accounts for (added by hand, or a lease record lost);
 * - expired-but-present: the lease is past its end (its undo is pending or failing) and the provider
 *   still blocks the address.
 *
 * Addresses are compared exactly, in canonical form (parseTarget): a lease on 203.0.113.7 is "missing"
 * even when the provider blocks 203.0.113.0/24, because releasing the lease would not lift that wider
 * block and the operator should know.
 */
import { parseTarget } from '../core/guardrails';
import { compareByKey, hasDrift as anyDrift, leaseHasEnded as ended } from '../core/leases';
import type { EnforcedBlock } from './types';

/** The fields of a lease the comparison needs (Lease in leases.ts has them all). */
export interface LeaseView {
  target: string;
  provider: string;
  /** ISO time, or null for a permanent lease. */
  expiresAt: string | null;
}

export interface DriftOf<L extends LeaseView> {
  provider: string;
  /** Lease active, the provider lacks the block. */
  missing: L[];
  /** The provider holds it, no lease for it. */
  extra: EnforcedBlock[];
  /** The lease is past its end and the provider still holds the block. */
  expiredButPresent: EnforcedBlock[];
  /** When the provider was asked (ISO). */
  checkedAt: string;
}

/**
 * The comparison key of an address: its canonical form when it parses, else the text as given
 * (a "first-last" range a provider reports is kept verbatim and can only ever be "extra").
 */
export function addressKey(address: string): string {
  const parsed = parseTarget(address);
  return 'error' in parsed ? String(address).trim() : parsed.canonical;
}

/** True when a lease has reached its end at `now` (permanent leases never do). */
export function leaseHasEnded(lease: LeaseView, now: number): boolean {
  return ended(lease, now);
}

/**
 * Compare the leases of one provider with what it enforces.
 * `skipAddresses`: canonical addresses with an operation in flight (a block whose provider call is done
 * but whose lease is not written yet would otherwise show up as "extra").
 */
export function compareWithLeases<L extends LeaseView>(
  provider: string,
  leases: readonly L[],
  enforced: readonly EnforcedBlock[],
  now: number,
  skipAddresses: ReadonlySet<string> = new Set(),
): DriftOf<L> {
  const own = leases.filter((lease) => lease.provider === provider);
  const keys = {
    lease: (lease: L) => addressKey(lease.target),
    enforced: (block: EnforcedBlock) => (block && typeof block.address === 'string' ? addressKey(block.address) : undefined),
  };
  return compareByKey(provider, own, enforced, keys, now, skipAddresses);
}

/** True when the comparison found anything to report. */
export function hasDrift(drift: DriftOf<LeaseView>): boolean {
  return anyDrift(drift);
}
