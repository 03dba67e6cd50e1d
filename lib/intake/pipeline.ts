/**
 * The intake pipeline shared by the HTTP endpoint and the node's input port:
 * normalise -> deduplicate -> record durably in the audit log -> hand back for sending.
 *
 * Order of the durable writes for an accepted alert: first its audit record, then (once that is on
 * disk) its dedup mark and its in-flight record in the state store; only then is it accepted and
 * sent on. So a dedup mark never exists for an alert that was not recorded, and a failed write takes
 * the batch's in-memory marks back, so the sender's retry is not answered "duplicate".
 * The in-flight record (with raw) stays until the node reports the alert's flow complete; at the
 * next start the alerts still in flight are handed back for redelivery.
 */
import { normalise, type AlertFormat, type NormaliseOptions, type NormalisedAlert } from '../alert';
import type { AuditLog } from '../core/audit';
import type { StateStore } from '../core/types';

export interface IntakeOptions {
  /** Identifies the intake (its node id): dedup state and audit records are kept per intake. */
  intakeId: string;
  format?: AlertFormat | 'auto';
  splunkFieldMap?: Record<string, string>;
  genericFieldMap?: Record<string, string>;
  /** Dedup window in ms, counted from the first alert of an incident; 0 turns dedup off. */
  dedupWindowMs: number;
  /** suppress: duplicates are recorded but not sent on; mark: sent with msg.soar.duplicate = true. */
  duplicateMode: 'suppress' | 'mark';
  /** Most alerts that may wait for their durable write at once; beyond it callers get 429. */
  maxBacklog: number;
  /** Bound on remembered fingerprints, so a flood of distinct alerts cannot grow memory without end. */
  maxFingerprints?: number;
  /** Keep an in-flight record per alert sent on, until complete() (the node tracks message completion). */
  trackInflight?: boolean;
  /** Starts at which an alert still in flight is handed back before it is given up (default 3). */
  maxRedeliveries?: number;
}

export interface IngestContext {
  via: 'http' | 'input';
  /** Replays (from the audit log) skip dedup and are marked. */
  replay?: boolean;
  remoteAddress?: string;
  genericMapper?: NormaliseOptions['genericMapper'];
}

export interface IngestedAlert {
  alert: NormalisedAlert;
  duplicate: boolean;
  /** Key of the alert's in-flight record (when tracked and sent on); pass it to complete(). */
  inflightKey?: string;
}

/** What the state store keeps for an alert sent on whose flow has not completed. */
export interface InflightRecord {
  alert: NormalisedAlert;
  via: IngestContext['via'];
  duplicate: boolean;
  replay?: boolean;
  receivedAt: number;
  /** Starts at which it was handed back already. */
  attempts?: number;
}

export interface Redelivery extends InflightRecord {
  key: string;
  attempt: number;
}

export interface IngestOutcome {
  alerts: IngestedAlert[];
  /** Alerts to send on (duplicates dropped in suppress mode). */
  toSend: IngestedAlert[];
  ids: string[];
  duplicates: number;
  ignored: { index: number; reason: string }[];
}

export class BacklogFullError extends Error {
  readonly status = 429;
  constructor(
    readonly retryAfterSeconds: number,
    backlog: number,
  ) {
    super(`intake backlog is full (${backlog} alerts waiting to be recorded); retry after ${retryAfterSeconds} s`);
  }
}

export interface IntakeCounters {
  received: number;
  duplicates: number;
  ignored: number;
  rejected: number;
}

export class IntakePipeline {
  private readonly seen = new Map<string, number>(); // fingerprint -> window end (epoch ms)
  /** Marks made by batches whose durable writes are not done yet: settle true once they are, false when they failed. */
  private readonly pendingMarks = new Map<string, Promise<boolean>>();
  private waiting = 0;
  private tail: Promise<void> = Promise.resolve();
  private batchSeq = 0;
  readonly counters: IntakeCounters = { received: 0, duplicates: 0, ignored: 0, rejected: 0 };
  private readonly ns: string;
  private readonly inflightNs: string;
  /** Called when an in-flight record could not be removed (the node logs it). */
  onStoreError?: (err: Error) => void;

  constructor(
    private readonly audit: AuditLog,
    private readonly store: StateStore,
    private readonly opts: IntakeOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.ns = `dedup:${opts.intakeId}`;
    this.inflightNs = `inflight:${opts.intakeId}`;
  }

  /** Load the dedup window kept from before a restart. */
  async start(): Promise<void> {
    if (this.opts.dedupWindowMs <= 0) return;
    const entries = await this.store.list<number>(this.ns);
    for (const e of entries) this.seen.set(e.key, e.expiresAt ?? this.now() + this.opts.dedupWindowMs);
  }

  /** Alerts accepted but not yet durably recorded. */
  get backlog(): number {
    return this.waiting;
  }

  async ingest(items: unknown[], ctx: IngestContext): Promise<IngestOutcome> {
    let result;
    try {
      result = normalise(items, {
        format: this.opts.format ?? 'auto',
        splunkFieldMap: this.opts.splunkFieldMap,
        genericFieldMap: this.opts.genericFieldMap,
        genericMapper: ctx.genericMapper,
      });
    } catch (err) {
      this.counters.rejected += 1;
      throw err;
    }
    const n = result.alerts.length;
    if (n > 0 && this.waiting + n > this.opts.maxBacklog && this.waiting > 0) {
      this.counters.rejected += 1;
      throw new BacklogFullError(1, this.waiting);
    }

    // Batches resolve in arrival order, so messages leave in the order alerts came in even when a
    // later batch's writes finish first (group commit makes the wait negligible).
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    const batch = `${String(this.now()).padStart(15, '0')}.${String(this.batchSeq++).padStart(9, '0')}`;
    let settle!: (durable: boolean) => void;
    const batchDone = new Promise<boolean>((resolve) => (settle = resolve));
    const marks: { fingerprint: string; previous: number | undefined; until: number }[] = [];
    this.waiting += n;
    try {
      const alerts = await this.decide(result.alerts, ctx, batchDone, marks);
      const toSend = this.opts.duplicateMode === 'suppress' ? alerts.filter((a) => !a.duplicate) : alerts;
      if (this.opts.trackInflight) toSend.forEach((a, i) => (a.inflightKey = `${batch}.${String(i).padStart(5, '0')}`));

      const writes: Promise<unknown>[] = [];
      for (const { alert, duplicate } of alerts) {
        const { raw: _raw, ...withoutRaw } = alert;
        writes.push(
          this.audit.append(duplicate ? 'alert.duplicate' : 'alert.received', {
            intake: this.opts.intakeId,
            via: ctx.via,
            ...(ctx.replay ? { replay: true } : {}),
            ...(ctx.remoteAddress ? { remote: ctx.remoteAddress } : {}),
            alert: withoutRaw,
          }),
        );
      }
      for (const ig of result.ignored) {
        writes.push(this.audit.append('alert.ignored', { intake: this.opts.intakeId, via: ctx.via, index: ig.index, reason: ig.reason }));
      }
      await Promise.all(writes);

      // Only now that the audit records are on disk: the dedup marks and the in-flight records, in
      // one group commit of the store. A crash before this leaves no mark, so the retry is accepted.
      const stored: Promise<unknown>[] = [];
      for (const mark of marks) {
        stored.push(this.store.set(this.ns, mark.fingerprint, mark.until - this.opts.dedupWindowMs, { ttlMs: this.opts.dedupWindowMs }));
      }
      const receivedAt = this.now();
      for (const a of toSend) {
        if (!a.inflightKey) continue;
        const record: InflightRecord = { alert: a.alert, via: ctx.via, duplicate: a.duplicate, ...(ctx.replay ? { replay: true } : {}), receivedAt };
        stored.push(this.store.set(this.inflightNs, a.inflightKey, record));
      }
      await Promise.all(stored);
      this.settleMarks(marks, batchDone, true);
      settle(true);
      await previous;

      const duplicates = alerts.filter((a) => a.duplicate).length;
      this.counters.received += n - duplicates;
      this.counters.duplicates += duplicates;
      this.counters.ignored += result.ignored.length;
      return { alerts, toSend, ids: alerts.map((a) => a.alert.id), duplicates, ignored: result.ignored };
    } catch (err) {
      this.settleMarks(marks, batchDone, false);
      settle(false);
      throw err;
    } finally {
      this.waiting -= n;
      void previous.then(release);
    }
  }

  /** The alert's flow completed: drop its in-flight record (a lost delete only means one redelivery). */
  complete(key: string): void {
    this.store.delete(this.inflightNs, key).catch((err: Error) => this.onStoreError?.(err));
  }

  /**
   * Alerts recorded and sent on before a restart whose flow never completed, oldest first, each
   * recorded as redelivered (or given up after maxRedeliveries starts). `skip` leaves out keys this
   * process still tracks (a redeploy, not a restart).
   */
  async redeliveries(skip: (key: string) => boolean = () => false): Promise<Redelivery[]> {
    const entries = (await this.store.list<InflightRecord>(this.inflightNs)).filter((e) => !skip(e.key));
    entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const max = this.opts.maxRedeliveries ?? 3;
    const out: Redelivery[] = [];
    const writes: Promise<unknown>[] = [];
    for (const { key, value } of entries) {
      const attempt = (value.attempts ?? 0) + 1;
      const about = { intake: this.opts.intakeId, key, alert: { id: value.alert?.id, fingerprint: value.alert?.fingerprint }, attempt };
      if (attempt > max) {
        writes.push(this.audit.append('alert.abandoned', { ...about, reason: `its flow did not complete after ${max} redeliveries` }));
        writes.push(this.store.delete(this.inflightNs, key));
        continue;
      }
      writes.push(this.audit.append('alert.redelivered', about));
      writes.push(this.store.set(this.inflightNs, key, { ...value, attempts: attempt }));
      out.push({ ...value, key, attempt });
    }
    await Promise.all(writes);
    return out;
  }

  /**
   * Decide which alerts are duplicates. A fingerprint marked by an earlier batch whose writes are not
   * durable yet is decided only once that batch settled: if it failed, its mark is gone and this copy
   * is the first one.
   */
  private async decide(
    found: NormalisedAlert[],
    ctx: IngestContext,
    batchDone: Promise<boolean>,
    marks: { fingerprint: string; previous: number | undefined; until: number }[],
  ): Promise<IngestedAlert[]> {
    const alerts: IngestedAlert[] = found.map((alert) => ({ alert, duplicate: false }));
    if (ctx.replay || this.opts.dedupWindowMs <= 0) return alerts;
    let open = alerts;
    while (open.length > 0) {
      const now = this.now();
      const waits: Promise<boolean>[] = [];
      const later: IngestedAlert[] = [];
      for (const a of open) {
        const decided = this.markSeen(a.alert.fingerprint, now, batchDone, marks);
        if (decided instanceof Promise) {
          waits.push(decided);
          later.push(a);
        } else {
          a.duplicate = decided;
        }
      }
      if (waits.length > 0) await Promise.all(waits);
      open = later;
    }
    return alerts;
  }

  /** Decide synchronously, so two copies arriving together cannot both pass. */
  private markSeen(
    fingerprint: string,
    now: number,
    batchDone: Promise<boolean>,
    marks: { fingerprint: string; previous: number | undefined; until: number }[],
  ): boolean | Promise<boolean> {
    const until = this.seen.get(fingerprint);
    if (until !== undefined && until > now) {
      const owner = this.pendingMarks.get(fingerprint);
      return owner && owner !== batchDone ? owner : true;
    }
    this.seen.delete(fingerprint); // re-insert so Map order stays oldest-first for eviction
    const next = now + this.opts.dedupWindowMs;
    this.seen.set(fingerprint, next);
    this.pendingMarks.set(fingerprint, batchDone);
    marks.push({ fingerprint, previous: until, until: next });
    const max = this.opts.maxFingerprints ?? 100_000;
    while (this.seen.size > max) {
      const oldest = this.seen.keys().next().value as string;
      this.seen.delete(oldest);
    }
    return false;
  }

  /** After the batch's writes: keep its marks, or take them back (restoring what was there) when they failed. */
  private settleMarks(marks: { fingerprint: string; previous: number | undefined; until: number }[], batchDone: Promise<boolean>, durable: boolean): void {
    for (const mark of marks) {
      if (this.pendingMarks.get(mark.fingerprint) === batchDone) this.pendingMarks.delete(mark.fingerprint);
      if (durable || this.seen.get(mark.fingerprint) !== mark.until) continue;
      this.seen.delete(mark.fingerprint);
      if (mark.previous !== undefined) this.seen.set(mark.fingerprint, mark.previous);
    }
  }
}
