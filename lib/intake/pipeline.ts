/**
 * The intake pipeline shared by the HTTP endpoint and the node's input port:
 * normalise -> deduplicate -> record durably in the audit log -> hand back for sending.
 * Nothing is reported accepted before its audit record (and its dedup mark) is on disk.
 */
import { normalise, type AlertFormat, type NormaliseOptions, type NormalisedAlert } from "../alert";
import type { AuditLog } from "../core/audit";
import type { StateStore } from "../core/types";

export interface IntakeOptions {
  /** Identifies the intake (its node id): dedup state and audit records are kept per intake. */
  intakeId: string;
  format?: AlertFormat | "auto";
  splunkFieldMap?: Record<string, string>;
  genericFieldMap?: Record<string, string>;
  /** Dedup window in ms, counted from the first alert of an incident; 0 turns dedup off. */
  dedupWindowMs: number;
  /** suppress: duplicates are recorded but not sent on; mark: sent with msg.soar.duplicate = true. */
  duplicateMode: "suppress" | "mark";
  /** Most alerts that may wait for their durable write at once; beyond it callers get 429. */
  maxBacklog: number;
  /** Bound on remembered fingerprints, so a flood of distinct alerts cannot grow memory without end. */
  maxFingerprints?: number;
}

export interface IngestContext {
  via: "http" | "input";
  /** Replays (from the audit log) skip dedup and are marked. */
  replay?: boolean;
  remoteAddress?: string;
  genericMapper?: NormaliseOptions["genericMapper"];
}

export interface IngestedAlert {
  alert: NormalisedAlert;
  duplicate: boolean;
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
  private waiting = 0;
  private tail: Promise<void> = Promise.resolve();
  readonly counters: IntakeCounters = { received: 0, duplicates: 0, ignored: 0, rejected: 0 };
  private readonly ns: string;
  /** Called when a dedup mark could not be written (the node logs it). */
  onStoreError?: (err: Error) => void;

  constructor(
    private readonly audit: AuditLog,
    private readonly store: StateStore,
    private readonly opts: IntakeOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.ns = `dedup:${opts.intakeId}`;
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
        format: this.opts.format ?? "auto",
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

    const now = this.now();
    const alerts: IngestedAlert[] = result.alerts.map((alert) => ({ alert, duplicate: !ctx.replay && this.markSeen(alert.fingerprint, now) }));

    const writes: Promise<unknown>[] = [];
    for (const { alert, duplicate } of alerts) {
      const { raw: _raw, ...withoutRaw } = alert;
      writes.push(
        this.audit.append(duplicate ? "alert.duplicate" : "alert.received", {
          intake: this.opts.intakeId,
          via: ctx.via,
          ...(ctx.replay ? { replay: true } : {}),
          ...(ctx.remoteAddress ? { remote: ctx.remoteAddress } : {}),
          alert: withoutRaw,
        }),
      );
      if (!duplicate && !ctx.replay && this.opts.dedupWindowMs > 0) {
        // The dedup mark is group-committed too, but the 202 does not wait for it: the audit record
        // is what must never be lost, and a mark lost in a crash only lets one duplicate through.
        this.store.set(this.ns, alert.fingerprint, now, { ttlMs: this.opts.dedupWindowMs }).catch((err: Error) => this.onStoreError?.(err));
      }
    }
    for (const ig of result.ignored) {
      writes.push(this.audit.append("alert.ignored", { intake: this.opts.intakeId, via: ctx.via, index: ig.index, reason: ig.reason }));
    }

    // Resolve batches in arrival order, so messages leave in the order alerts came in even when a
    // later batch's writes finish first (group commit makes the wait negligible).
    const durable = Promise.all(writes);
    const inOrder = this.tail.then(() => durable);
    this.tail = inOrder.then(
      () => undefined,
      () => undefined,
    );
    this.waiting += n;
    try {
      await inOrder;
    } finally {
      this.waiting -= n;
    }

    const duplicates = alerts.filter((a) => a.duplicate).length;
    this.counters.received += n - duplicates;
    this.counters.duplicates += duplicates;
    this.counters.ignored += result.ignored.length;
    return {
      alerts,
      toSend: this.opts.duplicateMode === "suppress" ? alerts.filter((a) => !a.duplicate) : alerts,
      ids: alerts.map((a) => a.alert.id),
      duplicates,
      ignored: result.ignored,
    };
  }

  /** Decide synchronously, so two copies arriving together cannot both pass. */
  private markSeen(fingerprint: string, now: number): boolean {
    if (this.opts.dedupWindowMs <= 0) return false;
    const until = this.seen.get(fingerprint);
    if (until !== undefined && until > now) return true;
    this.seen.delete(fingerprint); // re-insert so Map order stays oldest-first for eviction
    this.seen.set(fingerprint, now + this.opts.dedupWindowMs);
    const max = this.opts.maxFingerprints ?? 100_000;
    while (this.seen.size > max) {
      const oldest = this.seen.keys().next().value as string;
      this.seen.delete(oldest);
    }
    return false;
  }
}
