/**
 * The lease store: every lease of every family in one StateStore namespace, plus the undo intents.
 * Keys are "<family prefix><provider>|<target key>". Keeps a per kind+provider index of the keys it
 * has seen, so counting the leases of one provider does not read every lease.
 *
 * A lease is stored WITHOUT a store TTL: it must never vanish by itself, only the engine deletes it
 * after its undo succeeded.
 */
import type { StateStore, StoredEntry } from '../types';
import type { LeaseRecord, UndoIntent } from './types';

export const LEASES_NS = 'leases';
export const UNDO_NS = 'lease-undo';

function groupOf(kind: string, provider: string): string {
  return `${kind}\u0000${provider}`;
}

export class LeaseStore {
  /** kind+provider -> keys of its leases, loaded on first use. */
  private index: Map<string, Set<string>> | undefined;
  private loading: Promise<void> | undefined;

  constructor(readonly backend: StateStore) {}

  get<L extends LeaseRecord>(key: string): Promise<L | undefined> {
    return this.backend.get<L>(LEASES_NS, key);
  }

  async set<L extends LeaseRecord>(key: string, lease: L): Promise<void> {
    await this.backend.set(LEASES_NS, key, lease);
    this.note(key, lease);
  }

  /** Atomic: of two racing deletes only one resolves true (the undo-once gate relies on it). */
  async delete(key: string, lease?: LeaseRecord): Promise<boolean> {
    const deleted = await this.backend.delete(LEASES_NS, key);
    if (lease) this.index?.get(groupOf(lease.kind, lease.provider))?.delete(key);
    return deleted;
  }

  async list<L extends LeaseRecord>(): Promise<StoredEntry<L>[]> {
    const entries = await this.backend.list<L>(LEASES_NS);
    this.rebuild(entries);
    return entries;
  }

  /** Leases of one kind and provider this store holds. */
  async count(kind: string, provider: string): Promise<number> {
    if (!this.index) {
      this.loading ??= this.list().then(() => undefined);
      await this.loading;
    }
    return this.index?.get(groupOf(kind, provider))?.size ?? 0;
  }

  getIntent<L extends LeaseRecord>(key: string): Promise<UndoIntent<L> | undefined> {
    return this.backend.get<UndoIntent<L>>(UNDO_NS, key);
  }

  setIntent(key: string, intent: UndoIntent): Promise<void> {
    return this.backend.set(UNDO_NS, key, intent);
  }

  deleteIntent(key: string): Promise<boolean> {
    return this.backend.delete(UNDO_NS, key);
  }

  listIntents<L extends LeaseRecord>(): Promise<StoredEntry<UndoIntent<L>>[]> {
    return this.backend.list<UndoIntent<L>>(UNDO_NS);
  }

  private note(key: string, lease: LeaseRecord): void {
    if (!this.index) return;
    const group = groupOf(lease.kind, lease.provider);
    let keys = this.index.get(group);
    if (!keys) this.index.set(group, (keys = new Set()));
    keys.add(key);
  }

  private rebuild(entries: StoredEntry<LeaseRecord>[]): void {
    this.index = new Map();
    for (const { key, value } of entries) if (value && typeof value.kind === 'string') this.note(key, value);
  }
}
