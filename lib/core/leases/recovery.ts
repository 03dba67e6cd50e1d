/**
 * Recovery at start: finish the undos a crash interrupted (their intents are still in the store), then
 * index the due time of every lease so the first expiry pass undoes whatever fell due while no
 * process ran. One process per store is assumed (FileStateStore locks its directory); a shared
 * backend will need claim liveness first.
 */
import { endOf } from './compare';
import type { LeaseStore } from './lease-store';
import type { DueGroup } from './scheduler';
import type { LeaseFamily } from './types';
import type { ClaimedUndo, UndoGate } from './undo-gate';

export interface RecoveryContext {
  readonly leases: LeaseStore;
  readonly gate: UndoGate;
  family(kind: string): LeaseFamily | undefined;
  hasFamily(kind: string): boolean;
  locked<T>(keys: string[], work: () => Promise<T>): Promise<T>;
  /** Undo claimed leases on one provider and record the outcomes (UndoRunner.finish). */
  finish(family: LeaseFamily, provider: string, claimed: ClaimedUndo[]): Promise<void>;
  /** Tell the scheduler when a lease falls due (without arming yet). */
  load(key: string, at: number, group: DueGroup): void;
}

export class Recovery {
  constructor(private readonly ctx: RecoveryContext) {}

  /** Index the due time of every lease (of one kind) with an end; overdue ones are due right now. */
  async loadDue(kind?: string): Promise<void> {
    for (const { key, value } of await this.ctx.leases.list()) {
      if (!value || (kind !== undefined && value.kind !== kind) || !this.ctx.hasFamily(value.kind)) continue;
      const end = endOf(value);
      if (end !== null) this.ctx.load(key, end, { kind: value.kind, provider: value.provider });
    }
  }

  /** Intents left by a crash between claiming a lease and finishing its undo. */
  async recoverInterruptedUndos(): Promise<void> {
    const groups = new Map<string, { family: LeaseFamily; provider: string; keys: string[] }>();
    for (const { key, value } of await this.ctx.leases.listIntents()) {
      const lease = value?.lease;
      const family = lease && typeof lease.provider === 'string' ? this.ctx.family(lease.kind) : undefined;
      if (!family) continue; // a family not loaded in this process: left for the process that has it
      const id = `${lease.kind}\u0000${lease.provider}`;
      let group = groups.get(id);
      if (!group) groups.set(id, (group = { family, provider: lease.provider, keys: [] }));
      group.keys.push(key);
    }
    for (const { family, provider, keys } of groups.values()) {
      await this.ctx.locked(keys, async () => this.ctx.finish(family, provider, await this.ctx.gate.interrupted(keys)));
    }
  }
}
