/**
 * Interfaces shared by the engine. Node-RED-free.
 */

/** A stored value with its optional expiry (epoch ms). */
export interface StoredEntry<T = unknown> {
  key: string;
  value: T;
  expiresAt?: number;
}

export interface SetOptions {
  /** Time to live in milliseconds; the entry disappears after it. */
  ttlMs?: number;
}

/**
 * Durable key/value state, grouped in namespaces ("dedup:<nodeId>", "leases", "approvals", ...).
 * Every mutating call resolves only once the change is durable (survives kill -9).
 * Two backends: embedded files (default) and Redis (later); both must keep these semantics.
 */
export interface StateStore {
  get<T = unknown>(ns: string, key: string): Promise<T | undefined>;
  set<T = unknown>(ns: string, key: string, value: T, opts?: SetOptions): Promise<void>;
  /** Set only when the key is absent (or expired). Resolves true when this call created it. Atomic. */
  setIfAbsent<T = unknown>(ns: string, key: string, value: T, opts?: SetOptions): Promise<boolean>;
  /** Delete; resolves true when the key existed. Atomic: of two racing deletes only one gets true. */
  delete(ns: string, key: string): Promise<boolean>;
  /** All live (unexpired) entries of a namespace. */
  list<T = unknown>(ns: string): Promise<StoredEntry<T>[]>;
  close(): Promise<void>;
}

/** One line of the audit log, as written. */
export interface AuditRecord {
  seq: number;
  time: string;
  type: string;
  prev: string;
  hash: string;
  [field: string]: unknown;
}
