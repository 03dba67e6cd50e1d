/**
 * The family-neutral lease engine's types: a lease is a durable record of something the hub put in
 * place on a provider (a block, an isolation, ...) that must be undone once, at its end or on request.
 * Each family (lib/firewall for blocks, isolate hosts next) implements LeaseFamily; the engine never
 * knows what a target looks like. Node-RED-free; imports nothing outside lib/core.
 */

export type LeaseStatus = 'active' | 'expiring-failed';

/** What every lease carries; a family adds its own fields (the block family: offences, TTLs, ...). */
export interface LeaseRecord<T = unknown> {
  id: string;
  /** The family ("block", "isolate", ...). */
  kind: string;
  /** Shape defined by the family (the block family: a canonical IP or CIDR). */
  target: T;
  /** Provider instance name (the config node's id). */
  provider: string;
  /** The provider's label for people when it was known at write time. */
  providerLabel?: string;
  /** ISO times. */
  createdAt: string;
  /** When the lease is undone; null = never by itself. */
  expiresAt: string | null;
  status: LeaseStatus;
  /** Set while status is 'expiring-failed'. */
  lastError?: string;
  attempts?: number;
  retryAt?: string;
}

export type UndoWhy = 'expired' | 'released';

/** Written before a lease is deleted for an undo, removed once the undo is recorded (crash recovery). */
export interface UndoIntent<L extends LeaseRecord = LeaseRecord> {
  lease: L;
  /** Identifies the claim, so a loser of the delete race removes only its own intent. */
  token: string;
  why: UndoWhy;
  claimedAt: string;
  by?: string;
  reason?: string;
}

export interface Failure {
  reason: string;
  code?: string;
}

/**
 * What a family tells the engine. The engine keys, schedules, claims, recovers and reconciles; the
 * family knows its targets and talks to its providers.
 */
export interface LeaseFamily<L extends LeaseRecord = LeaseRecord, E = unknown> {
  /** Lease kind this family owns ("block", "isolate"). */
  readonly kind: string;
  /**
   * Prefix of this family's store keys; default "<kind>:". Keys are "<prefix><provider>|<target key>",
   * so families never share a key. Only the block family uses "" (leases written before kinds existed).
   */
  readonly keyPrefix?: string;
  /** Verb the audit log uses for an undo ("unblock", "release"). */
  readonly undoAction: string;
  /** Canonical, unique key of a target (per provider). */
  targetKey(target: L['target']): string;
  /** Why this provider cannot be used now (not deployed, ...); undefined when it can. */
  unavailable(provider: string): string | undefined;
  /** Undo all these leases on one provider or throw; an undo of something not in place is no error. */
  undo(provider: string, leases: L[]): Promise<void>;
  /** Put active leases back in place (reconciliation repair). */
  reapply(provider: string, leases: L[], now: number): Promise<void>;
  /** What the provider really holds now. */
  listEnforced(provider: string): Promise<E[]>;
  /** Key of an enforced item comparable with targetKey; undefined for items to ignore. */
  enforcedKey(item: E): string | undefined;
  /** The provider's label for people (audit records name providers by id and label). */
  labelOf?(provider: string): string | undefined;
  /** How an enforced item is named in audit records (default: its key). */
  describeEnforced?(item: E): string;
  /** Verb for a failed repair in reasons ("re-blocking"); default "re-applying". */
  readonly reapplyVerb?: string;
  /** A reason when a missing lease must not be put back (a guardrail now refuses it). */
  refuseReapply?(lease: L): string | undefined;
  /** Called once a lease ended (its undo succeeded), for the family's own history. */
  onEnded?(key: string, lease: L, now: number, forget: boolean): Promise<void>;
}
