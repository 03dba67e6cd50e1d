/**
 * The approval engine: holds messages in the StateStore until their approvers decide, with quorum,
 * reminders, escalation and an explicit timeout outcome. Node-RED-free: the node and the channels
 * listen to its events (requested, reminder, escalation, resolved, refused) and call decide().
 *
 * Atomicity: every change to one approval runs under a per-approval lock shared by all engines on the
 * same store object (a redeploy briefly runs two), and the decision itself is claimed with the store's
 * setIfAbsent, so an approval is decided exactly once however many deciders race.
 */
import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../core/audit';
import { mutexFor, type KeyedMutex } from '../core/leases/keyed-mutex';
import type { StateStore } from '../core/types';
import { canonicalJson, verifyApproval, type ApprovalCheck } from '../contract/approval';
import type { MsgApproval } from '../contract/types';
import {
  ApprovalError,
  digestOf,
  normaliseIdentity,
  normalisePolicy,
  personOf,
  renderSummary,
  restoreMessage,
  serialiseMessage,
  tally,
  type ApprovalPolicy,
  type ApprovalRecord,
  type ApproverPerson,
} from './records';

export const APPROVALS_NS = 'approvals';
/** id → the claimed decision; setIfAbsent here is what makes a decision happen once. */
export const DECISIONS_NS = 'approvals:decided';
const DEFAULT_RETENTION_MS = 7 * 24 * 3600_000;
const COMMENT_MAX = 1000;

export interface ApprovalEngineOptions {
  store: StateStore;
  audit: Pick<AuditLog, 'append'>;
  now?: () => number;
  setTimer?: (callback: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  /** How long decided approvals (and their links) stay readable, so late link clicks get a clear page. Default 7 days. */
  retentionMs?: number;
  /** Problems with no caller to return to (a failed audit append, a failed timer run). */
  warn?: (message: string) => void;
}

export interface RequestInput {
  msg: Record<string, unknown>;
  policy: ApprovalPolicy;
  /** What the approval is for, shown to approvers: e.g. action "block IP", target "203.0.113.7". */
  action?: string;
  target?: string;
  title?: string;
  /** The node that asked (so a node resumes only its own approvals). */
  origin?: string;
}

export interface DecideInput {
  id: string;
  identity: string;
  decision: 'approve' | 'deny';
  /** The channel the decision came through (page, slack, editor, ...). */
  channel: string;
  comment?: string;
}

export type RefusalCode = 'unknown' | 'not-approver' | 'expired' | 'decided' | 'already-voted' | 'bad-input' | 'link-used';
export type DecideResult = { ok: true; record: ApprovalRecord; resolved: boolean } | { ok: false; code: RefusalCode; reason: string; record?: ApprovalRecord };

export interface ApprovalEvents {
  requested: { record: ApprovalRecord };
  reminder: { record: ApprovalRecord; to: ApproverPerson[]; afterMs: number };
  escalation: { record: ApprovalRecord; to: ApproverPerson[]; reason: 'after' | 'timeout' };
  /** The decision: send `message` (with msg.approval set) on the output for record.state. */
  resolved: { record: ApprovalRecord; approval: MsgApproval; message: Record<string, unknown> };
  refused: { id: string; identity?: string; channel?: string; code: RefusalCode; reason: string };
}
type Listener<K extends keyof ApprovalEvents> = (event: ApprovalEvents[K]) => void;

export class ApprovalEngine {
  readonly now: () => number;
  private readonly store: StateStore;
  private readonly auditLog: Pick<AuditLog, 'append'>;
  private readonly setTimer: (callback: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly retentionMs: number;
  private readonly locks: KeyedMutex;
  private readonly timers = new Map<string, unknown>();
  private readonly listeners = new Map<keyof ApprovalEvents, Set<Listener<keyof ApprovalEvents>>>();
  private readonly pendingIds = new Set<string>();
  private readonly inflight = new Set<Promise<unknown>>();
  private stopped = false;
  warn: (message: string) => void;

  constructor(options: ApprovalEngineOptions) {
    this.store = options.store;
    this.auditLog = options.audit;
    this.now = options.now ?? Date.now;
    this.setTimer =
      options.setTimer ??
      ((callback, ms) => {
        const handle = setTimeout(callback, Math.min(ms, 2 ** 31 - 1));
        handle.unref();
        return handle;
      });
    this.clearTimer = options.clearTimer ?? ((handle) => clearTimeout(handle as NodeJS.Timeout));
    this.retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
    this.warn = options.warn ?? ((message) => process.emitWarning(message, 'SoarApprovalWarning'));
    this.locks = mutexFor(options.store);
  }

  on<K extends keyof ApprovalEvents>(event: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener<keyof ApprovalEvents>);
    return () => set!.delete(listener as Listener<keyof ApprovalEvents>);
  }

  private emit<K extends keyof ApprovalEvents>(event: K, payload: ApprovalEvents[K]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        (listener as Listener<K>)(payload);
      } catch (err) {
        this.warn(`approval ${event} listener failed: ${(err as Error).message}`);
      }
    }
  }

  /** Pending approvals held by this engine. */
  get pendingCount(): number {
    return this.pendingIds.size;
  }

  /**
   * Load what the store holds: pending approvals get their timers back, those overdue get their timeout
   * outcome at once, and decided ones the node had not sent on yet are emitted as resolved again.
   */
  async start(): Promise<{ pending: number; expired: number; redelivered: number }> {
    const entries = await this.store.list<ApprovalRecord>(APPROVALS_NS);
    let expired = 0;
    let redelivered = 0;
    for (const { value: record } of entries) {
      if (record.state !== 'pending') {
        if (!record.delivered && record.decision) {
          redelivered += 1;
          this.emit('resolved', { record, approval: record.decision, message: this.outgoing(record) });
        }
        continue;
      }
      const claimed = await this.store.get<MsgApproval>(DECISIONS_NS, record.id);
      if (claimed) {
        // Decided, then the process died before the record said so: finish writing it.
        await this.track(this.finishClaimed(record.id));
        redelivered += 1;
        continue;
      }
      this.pendingIds.add(record.id);
      if (tally(record)) {
        // The deciding vote is stored but the process died before claiming the decision.
        await this.track(this.locks.run([`approval:${record.id}`], () => this.resolveFromVotes(record.id)));
        continue;
      }
      if (record.expiresAt <= this.now()) expired += 1;
      this.schedule(record);
    }
    return { pending: this.pendingIds.size, expired, redelivered };
  }

  /** Hold a message for approval. Throws ApprovalError (bad policy, message that cannot be held), audited. */
  async request(input: RequestInput): Promise<ApprovalRecord> {
    this.assertRunning();
    const id = randomUUID();
    let record: ApprovalRecord;
    try {
      const policy = normalisePolicy(input.policy);
      const { json, dropped } = serialiseMessage(input.msg);
      const now = this.now();
      record = {
        v: 1,
        id,
        state: 'pending',
        createdAt: now,
        expiresAt: now + policy.timeoutMs,
        policy,
        summary: renderSummary(input.msg, input, policy.fields),
        digest: digestOf(input.msg, policy.fields),
        message: json,
        dropped,
        votes: [],
        reminded: [],
        escalated: false,
        extended: false,
        ...(input.origin !== undefined ? { origin: input.origin } : {}),
      };
    } catch (err) {
      const reason = err instanceof ApprovalError ? err.message : `approval request failed: ${(err as Error).message}`;
      await this.audit('approval.refused', {
        approval: id,
        code: err instanceof ApprovalError ? err.code : 'error',
        reason,
        ...(input.origin ? { origin: input.origin } : {}),
      });
      throw err instanceof ApprovalError ? err : new ApprovalError('bad-policy', reason);
    }
    await this.store.set(APPROVALS_NS, id, record);
    this.pendingIds.add(id);
    await this.audit('approval.requested', {
      approval: id,
      title: record.summary.title,
      ...(record.summary.action ? { action: record.summary.action } : {}),
      ...(record.summary.target ? { target: record.summary.target } : {}),
      approvers: record.policy.approvers.map((p) => p.name),
      quorum: record.policy.quorum,
      expiresAt: new Date(record.expiresAt).toISOString(),
      onTimeout: record.policy.onTimeout,
      digest: record.digest,
      fields: record.policy.fields,
      ...(record.dropped.length ? { dropped: record.dropped } : {}),
      ...(input.origin ? { origin: input.origin } : {}),
    });
    this.schedule(record);
    this.emit('requested', { record });
    return record;
  }

  async get(id: string): Promise<ApprovalRecord | undefined> {
    return typeof id === 'string' ? this.store.get<ApprovalRecord>(APPROVALS_NS, id) : undefined;
  }

  async pending(): Promise<ApprovalRecord[]> {
    return (await this.store.list<ApprovalRecord>(APPROVALS_NS)).map((e) => e.value).filter((r) => r.state === 'pending');
  }

  /** One vote. Refusals (unknown approval or identity, after expiry, already decided, a second vote) are audited. */
  decide(input: DecideInput): Promise<DecideResult> {
    const id = typeof input?.id === 'string' ? input.id : '';
    return this.track(this.locks.run([`approval:${id}`], () => this.decideLocked(input)));
  }

  /**
   * A refusal found before a vote reached decide() (a forged or reused page link): audited and emitted
   * like decide()'s own. Callers pass no secret (never the link token).
   */
  async refuse(input: { id?: string; identity?: string; channel: string; code: RefusalCode; reason: string }): Promise<void> {
    await this.audit('approval.refused', {
      approval: String(input.id ?? '').slice(0, 100),
      code: input.code,
      reason: input.reason,
      ...(input.identity ? { identity: input.identity.slice(0, 260) } : {}),
      channel: input.channel.slice(0, 40),
    });
    this.emit('refused', { id: String(input.id ?? ''), identity: input.identity, channel: input.channel, code: input.code, reason: input.reason });
  }

  /**
   * verifyApproval (lib/contract/approval.ts) checks a message against its own msg.approval; anyone can
   * compute a digest, so an action node with the engine at hand also confirms the approval is one this
   * hub decided, as it says. Known for the retention time after the decision.
   */
  async confirm(msg: unknown, target?: string): Promise<ApprovalCheck> {
    const check = verifyApproval(msg, target);
    if (!check.ok) return check;
    const approval = (msg as { approval: MsgApproval }).approval;
    const claim = await this.store.get<{ decision: MsgApproval }>(DECISIONS_NS, check.id);
    if (!claim) return { ok: false, reason: `approval ${check.id} is not one this hub decided (or it is older than the retention time)` };
    const d = claim.decision;
    if (
      d.decision !== approval.decision ||
      d.digest !== approval.digest ||
      canonicalJson(d.fields) !== canonicalJson(approval.fields) ||
      canonicalJson(d.by) !== canonicalJson(approval.by)
    ) {
      return { ok: false, reason: `approval ${check.id} does not match what this hub recorded for it` };
    }
    return check;
  }

  /** The node sent the decided message on: a restart must not send it again. */
  async delivered(id: string): Promise<void> {
    await this.locks.run([`approval:${id}`], async () => {
      const record = await this.get(id);
      if (!record || record.state === 'pending' || record.delivered) return;
      await this.store.set(APPROVALS_NS, id, { ...record, delivered: true }, { ttlMs: this.retentionMs });
    });
  }

  /** Resolves once no timer run or decision is in flight (tests, orderly shutdown). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Stop timers; pending approvals stay in the store for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const handle of this.timers.values()) this.clearTimer(handle);
    this.timers.clear();
    await Promise.allSettled([...this.inflight]);
  }

  // ----- internals ----------------------------------------------------------------------------

  private async decideLocked(input: DecideInput): Promise<DecideResult> {
    const refuse = async (code: RefusalCode, reason: string, record?: ApprovalRecord): Promise<DecideResult> => {
      await this.audit('approval.refused', {
        approval: String(input?.id ?? '').slice(0, 100),
        code,
        reason,
        ...(typeof input?.identity === 'string' ? { identity: input.identity.slice(0, 260) } : {}),
        ...(typeof input?.channel === 'string' ? { channel: input.channel.slice(0, 40) } : {}),
      });
      this.emit('refused', { id: String(input?.id ?? ''), identity: input?.identity, channel: input?.channel, code, reason });
      return { ok: false, code, reason, ...(record ? { record } : {}) };
    };
    if (input?.decision !== 'approve' && input?.decision !== 'deny') return refuse('bad-input', 'decision must be approve or deny');
    if (typeof input.channel !== 'string' || input.channel === '') return refuse('bad-input', 'the decision names no channel');
    let identity: string;
    try {
      identity = normaliseIdentity(input.identity);
    } catch (err) {
      return refuse('bad-input', (err as Error).message);
    }
    const record = await this.get(input.id);
    if (!record) return refuse('unknown', `no approval ${String(input.id).slice(0, 100)}`);
    if (record.state !== 'pending')
      return refuse(record.state === 'expired' ? 'expired' : 'decided', `approval ${record.id} was already ${record.state}`, record);
    if (this.now() >= record.expiresAt) {
      const result = await refuse('expired', `approval ${record.id} expired at ${new Date(record.expiresAt).toISOString()}`, record);
      // The timer may lag (a busy event loop, a restart): resolve the timeout now.
      await this.timeoutLocked(record.id);
      return result;
    }
    const person = personOf(record, identity);
    if (!person) return refuse('not-approver', `${identity} may not decide approval ${record.id}`, record);
    if (record.votes.some((v) => v.person === person.name)) return refuse('already-voted', `${person.name} already voted on approval ${record.id}`, record);
    const comment = cleanComment(input.comment);
    const vote = {
      person: person.name,
      identity,
      channel: input.channel,
      decision: input.decision,
      at: new Date(this.now()).toISOString(),
      ...(comment ? { comment } : {}),
    };
    const updated: ApprovalRecord = { ...record, votes: [...record.votes, vote] };
    await this.store.set(APPROVALS_NS, record.id, updated);
    await this.audit('approval.vote', {
      approval: record.id,
      person: person.name,
      identity,
      channel: input.channel,
      decision: input.decision,
      at: vote.at,
      ...(comment ? { comment } : {}),
    });
    const resolved = await this.resolveFromVotes(record.id, comment);
    return { ok: true, record: resolved ?? updated, resolved: resolved !== undefined };
  }

  /** Resolve a pending approval whose votes decide it (caller holds the lock). */
  private async resolveFromVotes(id: string, comment?: string): Promise<ApprovalRecord | undefined> {
    const record = await this.get(id);
    if (!record || record.state !== 'pending') return undefined;
    const outcome = tally(record);
    if (!outcome) return undefined;
    const by = [
      ...new Set(record.votes.filter((v) => (outcome.state === 'approved' ? v.decision === 'approve' : v.decision === 'deny')).map((v) => v.identity)),
    ];
    return this.resolve(record, outcome.state, by, outcome.reason, comment);
  }

  /** Claim the decision (once, atomically), write the record, audit, emit. Undefined when someone else claimed it. */
  private async resolve(
    record: ApprovalRecord,
    state: 'approved' | 'denied' | 'expired',
    by: string[],
    reason: string,
    comment?: string,
  ): Promise<ApprovalRecord | undefined> {
    const decision: MsgApproval = {
      id: record.id,
      decision: state,
      by,
      at: new Date(this.now()).toISOString(),
      digest: record.digest,
      fields: record.policy.fields,
    };
    const claimed = await this.store.setIfAbsent(DECISIONS_NS, record.id, { decision, reason, ...(comment ? { comment } : {}) }, { ttlMs: this.retentionMs });
    if (!claimed) return undefined;
    return this.finishClaimed(record.id);
  }

  private async finishClaimed(id: string): Promise<ApprovalRecord | undefined> {
    const claim = await this.store.get<{ decision: MsgApproval; reason: string; comment?: string }>(DECISIONS_NS, id);
    const record = await this.get(id);
    if (!claim || !record) return undefined;
    const final: ApprovalRecord = {
      ...record,
      state: claim.decision.decision,
      decision: claim.decision,
      reason: claim.reason,
      ...(claim.comment ? { comment: claim.comment } : {}),
    };
    await this.store.set(APPROVALS_NS, id, final, { ttlMs: this.retentionMs });
    this.pendingIds.delete(id);
    this.cancelTimer(id);
    await this.audit(final.state === 'expired' ? 'approval.expired' : 'approval.decided', {
      approval: id,
      decision: final.state,
      by: claim.decision.by,
      at: claim.decision.at,
      reason: claim.reason,
      digest: final.digest,
      ...(final.summary.target ? { target: final.summary.target } : {}),
    });
    this.emit('resolved', { record: final, approval: claim.decision, message: this.outgoing(final) });
    return final;
  }

  private outgoing(record: ApprovalRecord): Record<string, unknown> {
    const message = restoreMessage(record.message);
    if (record.decision) message.approval = { ...record.decision };
    return message;
  }

  /** Next due time of a pending record: a reminder, the escalation, or the expiry. */
  private nextDue(record: ApprovalRecord): number {
    let due = record.expiresAt;
    for (const after of record.policy.remindAfterMs) {
      if (!record.reminded.includes(after)) due = Math.min(due, record.createdAt + after);
    }
    if (record.policy.escalateAfterMs !== undefined && !record.escalated) due = Math.min(due, record.createdAt + record.policy.escalateAfterMs);
    return due;
  }

  private schedule(record: ApprovalRecord): void {
    if (this.stopped) return;
    this.cancelTimer(record.id);
    const delay = Math.max(0, this.nextDue(record) - this.now());
    const handle = this.setTimer(() => {
      this.timers.delete(record.id);
      this.track(this.locks.run([`approval:${record.id}`], () => this.tick(record.id))).catch((err: Error) =>
        this.warn(`approval ${record.id}: ${err.message}`),
      );
    }, delay);
    this.timers.set(record.id, handle);
  }

  private cancelTimer(id: string): void {
    const handle = this.timers.get(id);
    if (handle !== undefined) this.clearTimer(handle);
    this.timers.delete(id);
  }

  private async tick(id: string): Promise<void> {
    if (this.stopped) return;
    let record = await this.get(id);
    if (!record || record.state !== 'pending') return;
    const now = this.now();
    if (now >= record.expiresAt) {
      await this.timeoutLocked(id);
      return;
    }
    const dueReminders = record.policy.remindAfterMs.filter((after) => !record!.reminded.includes(after) && record!.createdAt + after <= now);
    if (dueReminders.length > 0) {
      record = { ...record, reminded: [...record.reminded, ...dueReminders] };
      await this.store.set(APPROVALS_NS, id, record);
      const voted = new Set(record.votes.map((v) => v.person));
      const to = [...record.policy.approvers, ...(record.escalated ? record.policy.escalation : [])].filter((p) => !voted.has(p.name));
      const afterMs = dueReminders[dueReminders.length - 1];
      await this.audit('approval.reminder', { approval: id, to: to.map((p) => p.name), afterMs });
      this.emit('reminder', { record, to, afterMs });
    }
    const escalateAt = record.policy.escalateAfterMs;
    if (escalateAt !== undefined && !record.escalated && record.createdAt + escalateAt <= now) {
      record = { ...record, escalated: true };
      await this.store.set(APPROVALS_NS, id, record);
      await this.audit('approval.escalated', { approval: id, to: record.policy.escalation.map((p) => p.name), reason: 'after' });
      this.emit('escalation', { record, to: record.policy.escalation, reason: 'after' });
    }
    this.schedule(record);
  }

  /** The timeout outcome of a pending approval past its expiry (caller holds the lock). */
  private async timeoutLocked(id: string): Promise<void> {
    const record = await this.get(id);
    if (!record || record.state !== 'pending' || this.now() < record.expiresAt) return;
    const outcome = record.policy.onTimeout;
    if (outcome === 'escalate' && !record.extended) {
      const extended: ApprovalRecord = { ...record, escalated: true, extended: true, expiresAt: this.now() + record.policy.escalationTimeoutMs };
      await this.store.set(APPROVALS_NS, id, extended);
      await this.audit('approval.escalated', {
        approval: id,
        to: record.policy.escalation.map((p) => p.name),
        reason: 'timeout',
        expiresAt: new Date(extended.expiresAt).toISOString(),
      });
      this.emit('escalation', { record: extended, to: record.policy.escalation, reason: 'timeout' });
      this.schedule(extended);
      return;
    }
    if (outcome === 'approve') await this.resolve(record, 'approved', [], 'timed out; the timeout outcome is approve');
    else await this.resolve(record, 'expired', [], outcome === 'escalate' ? 'timed out after escalation' : 'timed out');
  }

  private async audit(type: string, fields: Record<string, unknown>): Promise<void> {
    try {
      await this.auditLog.append(type, fields);
    } catch (err) {
      this.warn(`approval audit record ${type} could not be written: ${(err as Error).message}`);
    }
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inflight.add(work);
    work.then(
      () => this.inflight.delete(work),
      () => this.inflight.delete(work),
    );
    return work;
  }

  private assertRunning(): void {
    if (this.stopped) throw new Error('the approval engine is stopped');
  }
}

function cleanComment(comment: unknown): string | undefined {
  if (typeof comment !== 'string') return undefined;
  const clean = comment.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '').trim();
  if (clean === '') return undefined;
  return clean.length > COMMENT_MAX ? clean.slice(0, COMMENT_MAX) : clean;
}
