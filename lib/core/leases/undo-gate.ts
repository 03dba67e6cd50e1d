/**
 * The undo-once gate. A lease is undone (unblocked, released) by exactly one caller: the one whose
 * atomic delete of the lease record resolved true. Before the delete an undo intent is written, so a
 * crash between the delete and the recorded undo leaves the intent behind and recovery finishes the
 * undo (the lease is not lost and not silently dropped). Only the store is needed.
 */
import { randomUUID } from 'node:crypto';
import type { LeaseStore } from './lease-store';
import type { LeaseRecord, UndoWhy } from './types';

export interface ClaimedUndo<L extends LeaseRecord = LeaseRecord> {
  key: string;
  lease: L;
  why: UndoWhy;
  /** Finished by recovery after a crash. */
  recovered?: boolean;
  /** Who asked for a release on request, and why (kept in the intent, audited when recovery finishes it). */
  request?: { by?: string; reason?: string };
}

export interface UndoGateContext {
  readonly leases: LeaseStore;
  now(): number;
}

export class UndoGate {
  constructor(private readonly ctx: UndoGateContext) {}

  /** Write the intents, then delete the leases; returns the ones this caller won. */
  async claim<L extends LeaseRecord>(
    items: { key: string; lease: L }[],
    why: UndoWhy,
    request: { by?: string; reason?: string } = {},
  ): Promise<ClaimedUndo<L>[]> {
    const token = randomUUID();
    const claimedAt = new Date(this.ctx.now()).toISOString();
    await Promise.all(items.map(({ key, lease }) => this.ctx.leases.setIntent(key, withoutUndefined({ lease, token, why, claimedAt, ...request }))));
    const won = await Promise.all(items.map(({ key, lease }) => this.ctx.leases.delete(key, lease)));
    const claimed: ClaimedUndo<L>[] = [];
    for (let i = 0; i < items.length; i++) {
      const { key, lease } = items[i];
      if (won[i]) {
        claimed.push({ key, lease, why });
        continue;
      }
      const intent = await this.ctx.leases.getIntent(key);
      if (intent?.token === token) await this.ctx.leases.deleteIntent(key);
    }
    return claimed;
  }

  /** The undo is recorded: the intent goes (last, so a crash before repeats the idempotent undo). */
  async finished(key: string): Promise<void> {
    await this.ctx.leases.deleteIntent(key);
  }

  /** The undo failed: the lease goes back first, the intent second (a crash in between keeps the lease). */
  async putBack<L extends LeaseRecord>(key: string, lease: L): Promise<void> {
    await this.ctx.leases.set(key, lease);
    await this.ctx.leases.deleteIntent(key);
  }

  /**
   * Intents a crash left behind, as claims to finish. An intent whose lease still exists lost to the
   * lease (the crash came before the delete, or a failed undo put the lease back) and is dropped.
   */
  async interrupted(keys: string[]): Promise<ClaimedUndo[]> {
    const result: ClaimedUndo[] = [];
    for (const key of keys) {
      const intent = await this.ctx.leases.getIntent(key);
      if (!intent) continue;
      if (await this.ctx.leases.get(key)) {
        await this.ctx.leases.deleteIntent(key);
        continue;
      }
      const request = withoutUndefined({ by: intent.by, reason: intent.reason });
      result.push({ key, lease: intent.lease, why: intent.why, recovered: true, ...(Object.keys(request).length ? { request } : {}) });
    }
    return result;
  }
}

/** The object without its undefined members, so stored and fresh copies compare equal. */
export function withoutUndefined<T extends object>(value: T): T {
  const result: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(value)) if (member !== undefined) result[name] = member;
  return result as T;
}
