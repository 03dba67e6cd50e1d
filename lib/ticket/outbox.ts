/**
 * Incident ledger + outbox: one ticket per incident, never lost, never spammed. Node-RED-free.
 *
 * Ledger (StateStore namespace `ticket:incidents:<tracker>`, key = incident key), one record per
 * incident, written BEFORE the tracker is called:
 *   creating  claimed with setIfAbsent (atomic in the store: of two racing alerts, even through two
 *             engines on one store, exactly one wins); carries the create request, attempts and the
 *             next attempt time. Every attempt is counted durably before the call, so after a crash
 *             the next attempt searches the tracker by incident key before creating again.
 *   open      {ref}; repeats are stored as sightings (one key each in `ticket:sightings:<tracker>:<key>`,
 *             so concurrent repeats never overwrite each other) and posted as one summary comment at
 *             most every `coalesceMs`. A ticket found closed then gets a successor that links it.
 *   failed    a permanent error, kept for `failedHoldMs` (TTL) so a storm does not retry it per alert.
 * Every read-modify-write of a record happens under a per-incident lock (`ticket:locks:<tracker>`,
 * setIfAbsent with a TTL; a lock left by a previous process is broken at once when the store is
 * exclusive to one process, as the file store is).
 * Transient failures (network, 5xx, 429: classify) keep the request and retry with exponential
 * backoff, honouring the tracker's Retry-After / reset hint; the caller gets `queued` at once and the
 * later outcome as a `delivery` event.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { StateStore } from '../core/types';
import { defang } from '../ioc/defang';
import { sliceWhole } from '../core/text';
import { escaperFor } from './markup';
import type { TicketFailure, TicketObservable, TicketProvider, TicketRef } from './types';

export interface TicketRequest {
  /** The incident key (default the alert's fingerprint). */
  incidentKey: string;
  title: string;
  body: string;
  severity: number;
  observables?: TicketObservable[];
  /** One line for the coalesced comment ("sshd brute force from 203.0.113.7"); default the title. */
  summary?: string;
}

export type TicketOutcomeStatus = 'created' | 'updated' | 'queued' | 'failed';

export interface TicketOutcome {
  status: TicketOutcomeStatus;
  provider: string;
  incident: string;
  id?: string;
  key?: string;
  url?: string;
  /** updated: the sighting waits for the next summary comment (storm control). */
  coalesced?: boolean;
  /** created: the closed ticket this one links. */
  linked?: TicketRef;
  /** queued: when the next attempt is due (epoch ms). */
  nextAttemptAt?: number;
  failure?: TicketFailure;
}

/** A later delivery, a queued request or a failure: for the node's second output and the audit log. */
export interface OutboxEvent {
  type: 'created' | 'updated' | 'queued' | 'failed';
  provider: string;
  incident: string;
  ref?: TicketRef;
  linked?: TicketRef;
  /** The caller was told "queued" earlier: this event is the delivery it is waiting for. */
  deferred: boolean;
  attempts: number;
  /** updated: how many sightings the comment summarised. */
  sightings?: number;
  failure?: TicketFailure;
  nextAttemptAt?: number;
}

export interface OutboxOptions {
  store: StateStore;
  provider: TicketProvider;
  /** Turns any rejection into transient / permanent / duplicate (lib/ticket/errors.ts classifyTicketError). */
  classify: (error: unknown) => TicketFailure;
  /** Ledger name of the tracker (default `<kind>:<name>`); two nodes on one tracker must use the same. */
  tracker?: string;
  /** At most one comment per ticket this often (ms). Default 5 minutes. */
  coalesceMs?: number;
  /** A repeat for a closed ticket: open a new one linking it (default) or comment on the closed one. */
  closedPolicy?: 'link' | 'comment';
  backoff?: { baseMs?: number; maxMs?: number; factor?: number };
  /** Longest tracker hint honoured (ms). Default 24 h. */
  maxHintMs?: number;
  /** How long a permanent create failure answers further alerts without calling the tracker. Default 60 s. */
  failedHoldMs?: number;
  lockTtlMs?: number;
  /**
   * An open incident's record is forgotten after this long without a sighting (default 30 days):
   * the ledger stays small, and a later alert finds the ticket again by searching the tracker.
   * Records of tickets still to create never expire.
   */
  retainMs?: number;
  /** Deliveries in flight at once when draining. Default 4. */
  concurrency?: number;
  /** How long a repeat waits for the first create attempt of its incident. Default 30 s. */
  claimWaitMs?: number;
  /** Run due deliveries on timers (default true; tests drive runDue() with a virtual clock). */
  autoRun?: boolean;
  /** The store belongs to this process alone (true for the file store): locks of earlier processes are stale. */
  exclusiveStore?: boolean;
  now?: () => number;
  random?: () => number;
  /** Identifies this process's locks; a restart gets a new one. Tests pass one to simulate a restart. */
  bootId?: string;
}

interface Failure {
  code: string;
  message: string;
  status?: number;
}

interface IncidentRecord {
  v: 1;
  incident: string;
  state: 'creating' | 'open' | 'failed';
  ref?: TicketRef;
  /** creating: what to create. */
  request?: { title: string; body: string; severity: number; observables?: TicketObservable[]; linkTo?: TicketRef };
  attempts: number;
  nextAttemptAt: number;
  firstAttemptDone: boolean;
  /** Some caller was answered "queued": the delivery is reported as deferred. */
  queued: boolean;
  lastError?: Failure;
  failure?: TicketFailure;
  createdAt: number;
  openedAt?: number;
  lastCommentAt?: number;
  comments?: number;
  /** Comment retry after a transient failure. */
  commentRetry?: { attempts: number; nextAttemptAt: number; lastError: Failure };
  /** Closed predecessors, oldest first. */
  previous?: TicketRef[];
  /** Indicators already on the ticket (type:value), so comments name only new ones. */
  seen: string[];
}

interface Sighting {
  time: number;
  title: string;
  body: string;
  severity: number;
  summary: string;
  observables?: TicketObservable[];
}

const MAX_SEEN = 2_000;
const BOOT_ID = randomBytes(6).toString('hex');

/** Record writes are announced to every engine on the same store object, so waiters need not poll. */
const bells = new WeakMap<StateStore, EventEmitter>();
function bellFor(store: StateStore): EventEmitter {
  let bell = bells.get(store);
  if (!bell) {
    bell = new EventEmitter();
    bell.setMaxListeners(0);
    bells.set(store, bell);
  }
  return bell;
}

const breaking = new WeakMap<StateStore, Promise<boolean>>();

const iocKey = (o: TicketObservable) => `${o.type}:${o.value}`;

function short(failure: TicketFailure): Failure {
  const out: Failure = { code: failure.code, message: failure.message };
  if (failure.status !== undefined) out.status = failure.status;
  return out;
}

export class TicketOutbox extends EventEmitter {
  readonly tracker: string;
  private readonly store: StateStore;
  private readonly provider: TicketProvider;
  private readonly classify: (error: unknown) => TicketFailure;
  private readonly coalesceMs: number;
  private readonly closedPolicy: 'link' | 'comment';
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly maxHintMs: number;
  private readonly failedHoldMs: number;
  private readonly lockTtlMs: number;
  private readonly retainMs: number;
  private readonly concurrency: number;
  private readonly claimWaitMs: number;
  private readonly autoRun: boolean;
  private readonly exclusiveStore: boolean;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly bootId: string;
  private readonly engineId = randomBytes(4).toString('hex');
  private readonly bell: EventEmitter;
  private readonly nsRecords: string;
  private readonly nsLocks: string;
  private seq = 0;
  /** Held back after a transient failure: no new attempts before this (one probe at a time). */
  private pausedUntil = 0;
  private down = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private running: Promise<number> | undefined;
  private stopped = false;

  constructor(options: OutboxOptions) {
    super();
    this.store = options.store;
    this.provider = options.provider;
    this.classify = options.classify;
    this.tracker = options.tracker ?? `${options.provider.kind}:${options.provider.name}`;
    this.coalesceMs = options.coalesceMs ?? 5 * 60_000;
    this.closedPolicy = options.closedPolicy ?? 'link';
    this.baseMs = options.backoff?.baseMs ?? 5_000;
    this.maxMs = options.backoff?.maxMs ?? 10 * 60_000;
    this.factor = options.backoff?.factor ?? 2;
    this.maxHintMs = options.maxHintMs ?? 24 * 3_600_000;
    this.failedHoldMs = options.failedHoldMs ?? 60_000;
    this.lockTtlMs = options.lockTtlMs ?? 5 * 60_000;
    this.retainMs = options.retainMs ?? 30 * 24 * 3_600_000;
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.claimWaitMs = options.claimWaitMs ?? 30_000;
    this.autoRun = options.autoRun ?? true;
    this.exclusiveStore = options.exclusiveStore ?? true;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.bootId = options.bootId ?? BOOT_ID;
    this.bell = bellFor(this.store);
    this.nsRecords = `ticket:incidents:${this.tracker}`;
    this.nsLocks = `ticket:locks:${this.tracker}`;
  }

  // ----- public -----------------------------------------------------------------------------

  /** Open a ticket for the request's incident, or add the sighting to the one already open. */
  async submit(request: TicketRequest): Promise<TicketOutcome> {
    const problem = checkRequest(request);
    if (problem) {
      return this.outcome('failed', request?.incidentKey ?? '', undefined, { failure: { kind: 'permanent', code: 'BAD_REQUEST', message: problem } });
    }
    const incident = request.incidentKey.trim();
    for (let round = 0; round < 3; round += 1) {
      let record = await this.read(incident);
      if (!record) {
        const fresh: IncidentRecord = {
          v: 1,
          incident,
          state: 'creating',
          request: {
            title: request.title,
            body: request.body,
            severity: request.severity,
            ...(request.observables?.length ? { observables: request.observables } : {}),
          },
          attempts: 0,
          nextAttemptAt: this.now(),
          firstAttemptDone: false,
          queued: false,
          createdAt: this.now(),
          seen: [],
        };
        if (await this.store.setIfAbsent(this.nsRecords, incident, fresh)) {
          this.ring(incident);
          const done = await this.withLock(incident, () => this.attemptCreate(incident, true));
          if (done) return done;
          // Someone else's drain took it first: its outcome is ours.
          const after = await this.waitForFirstAttempt(incident);
          return after
            ? this.outcomeOfRecord(after, 'created')
            : this.outcome('failed', incident, undefined, { failure: { kind: 'permanent', code: 'INTERNAL', message: 'the ticket record vanished' } });
        }
        record = await this.read(incident);
        if (!record) continue;
      }
      if (record.state === 'creating' && !record.firstAttemptDone) {
        record = await this.waitForFirstAttempt(incident);
        if (!record) continue;
      }
      if (record.state === 'failed') return this.outcomeOfRecord(record, 'failed');
      await this.addSighting(incident, request);
      if (record.state === 'creating') {
        return this.outcome('queued', incident, undefined, { nextAttemptAt: record.nextAttemptAt });
      }
      const due = this.commentDue(record);
      if (due <= this.now() && this.pausedUntil <= this.now()) {
        const result = await this.withLock(incident, () => this.flushComments(incident, false, true));
        if (result) return result;
      }
      this.schedule(due);
      return this.outcome('updated', incident, record.ref, { coalesced: true });
    }
    return this.outcome('failed', incident, undefined, {
      failure: { kind: 'permanent', code: 'INTERNAL', message: 'the incident record kept changing; try again' },
    });
  }

  /** Deliver everything due now (creates and comment summaries); resolves with how many were attempted. */
  runDue(force = false): Promise<number> {
    if (this.running) return this.running.then(() => this.runDue(force));
    const run = this.runDueOnce(force).finally(() => {
      this.running = undefined;
    });
    this.running = run;
    return run;
  }

  /** After a restart: deliver what is due and schedule the rest. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.runDue();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  /** Requests kept in the outbox: tickets still to create and sightings still to post. */
  async pending(): Promise<{ creating: number; sightings: number; open: number }> {
    let creating = 0;
    let open = 0;
    let sightings = 0;
    for (const { value } of await this.store.list<IncidentRecord>(this.nsRecords)) {
      if (value.state === 'creating') creating += 1;
      if (value.state === 'open') open += 1;
      sightings += (await this.store.list(this.nsSightings(value.incident))).length;
    }
    return { creating, sightings, open };
  }

  /** The ledger entry of an incident (for status and the sidebar). */
  async lookup(incidentKey: string): Promise<{ state: string; ref?: TicketRef; attempts: number; previous?: TicketRef[] } | undefined> {
    const record = await this.read(incidentKey);
    if (!record) return undefined;
    return {
      state: record.state,
      ...(record.ref ? { ref: record.ref } : {}),
      attempts: record.attempts,
      ...(record.previous ? { previous: record.previous } : {}),
    };
  }

  // ----- delivery ---------------------------------------------------------------------------

  private async runDueOnce(force: boolean): Promise<number> {
    if (this.stopped) return 0;
    const now = this.now();
    const due: Array<() => Promise<unknown>> = [];
    let next = Infinity;
    for (const { value: record } of await this.store.list<IncidentRecord>(this.nsRecords)) {
      if (record.state === 'creating') {
        if (force || record.nextAttemptAt <= now) due.push(() => this.withLock(record.incident, () => this.attemptCreate(record.incident, false, force)));
        else next = Math.min(next, record.nextAttemptAt);
      } else if (record.state === 'open') {
        if ((await this.store.list(this.nsSightings(record.incident))).length === 0) continue;
        const at = this.commentDue(record);
        if (force || at <= now) due.push(() => this.withLock(record.incident, () => this.flushComments(record.incident, force)));
        else next = Math.min(next, at);
      }
    }
    let attempted = 0;
    let index = 0;
    const worker = async () => {
      while (index < due.length) {
        // While the tracker is down, one probe at a time: the rest wait for its outcome.
        if (!force && this.pausedUntil > this.now()) break;
        const job = due[index];
        index += 1;
        attempted += 1;
        await job();
      }
    };
    // After failures, one probe first; the others go only once it got through.
    if (this.down && !force && due.length > 0) {
      index = 1;
      attempted = 1;
      await due[0]();
    }
    await Promise.all(Array.from({ length: Math.min(this.concurrency, due.length) }, worker));
    if (index < due.length) next = Math.min(next, this.pausedUntil);
    this.schedule(next);
    return attempted;
  }

  /** One create attempt for a creating record; the caller holds the lock. */
  private async attemptCreate(incident: string, fromSubmit: boolean, force = false): Promise<TicketOutcome> {
    let record = await this.read(incident);
    if (!record)
      return this.outcome('failed', incident, undefined, { failure: { kind: 'permanent', code: 'INTERNAL', message: 'the ticket record vanished' } });
    if (record.state !== 'creating') return this.outcomeOfRecord(record, record.state === 'open' ? 'updated' : 'failed');
    if (!fromSubmit && !force && record.nextAttemptAt > this.now()) return this.outcome('queued', incident, undefined, { nextAttemptAt: record.nextAttemptAt });
    if (fromSubmit && !force && this.pausedUntil > this.now()) {
      // The tracker failed moments ago: queue without another request (it gets one probe at a time).
      record.firstAttemptDone = true;
      record.queued = true;
      record.nextAttemptAt = Math.max(record.nextAttemptAt, this.pausedUntil);
      await this.write(record);
      this.emitEvent({ type: 'queued', incident, deferred: false, attempts: record.attempts, nextAttemptAt: record.nextAttemptAt });
      this.schedule(record.nextAttemptAt);
      return this.outcome('queued', incident, undefined, { nextAttemptAt: record.nextAttemptAt });
    }
    const request = record.request!;
    // Counted before the call: after a crash mid-create the next attempt knows to search first.
    record.attempts += 1;
    await this.write(record);
    let ref: TicketRef | undefined;
    // eslint-disable-next-line no-useless-assignment -- every path below sets it; the start value keeps the definite-assignment check simple
    let found = false;
    try {
      ref = await this.provider.findOpenByIncident(incident);
      found = ref !== undefined;
      if (!ref) {
        ref = await this.provider.create({
          title: request.title,
          body: request.body,
          severity: request.severity,
          incidentKey: incident,
          ...(request.observables ? { observables: request.observables } : {}),
          ...(request.linkTo ? { linkTo: request.linkTo } : {}),
        });
      }
    } catch (error) {
      const failure = this.classify(error);
      if (failure.kind === 'duplicate') {
        ref = failure.existing ?? (await this.provider.findOpenByIncident(incident).catch(() => undefined));
        found = true;
        if (!ref)
          return this.transient(
            record,
            { ...failure, kind: 'transient', message: `${failure.message} (the tracker has it but search does not show it yet)` },
            fromSubmit,
          );
      } else if (failure.kind === 'transient') {
        return this.transient(record, failure, fromSubmit);
      } else {
        return this.permanent(record, failure, fromSubmit);
      }
    }
    const deferred = record.queued && !fromSubmit;
    const linked = request.linkTo;
    const now = this.now();
    // Found by search on the first attempt: the tracker already had it (not ours), so this alert is a sighting.
    const existedBefore = found && record.attempts === 1 && !linked;
    record = {
      ...record,
      state: 'open',
      ref,
      openedAt: now,
      lastCommentAt: now,
      firstAttemptDone: true,
      // What the ticket already shows; unknown for one found in the tracker, whose text we did not write.
      seen: existedBefore ? [] : (request.observables ?? []).map(iocKey).slice(0, MAX_SEEN),
    };
    delete record.request;
    delete record.lastError;
    await this.write(record);
    this.recovered();
    if (existedBefore) {
      await this.addSighting(incident, { incidentKey: incident, ...request });
      this.schedule(this.commentDue(record));
    }
    this.emitEvent({ type: existedBefore ? 'updated' : 'created', incident, ref, ...(linked ? { linked } : {}), deferred, attempts: record.attempts });
    return this.outcome(existedBefore ? 'updated' : 'created', incident, ref, { ...(linked ? { linked } : {}), ...(existedBefore ? { coalesced: true } : {}) });
  }

  private async transient(record: IncidentRecord, failure: TicketFailure, fromSubmit: boolean): Promise<TicketOutcome> {
    const wait = this.backoffMs(record.attempts, failure);
    record.nextAttemptAt = this.now() + wait;
    record.lastError = short(failure);
    const wasQueued = record.queued;
    record.firstAttemptDone = true;
    record.queued = true;
    await this.write(record);
    this.trackerDown(record.nextAttemptAt);
    if (!wasQueued || !fromSubmit) {
      this.emitEvent({
        type: 'queued',
        incident: record.incident,
        deferred: wasQueued,
        attempts: record.attempts,
        failure,
        nextAttemptAt: record.nextAttemptAt,
      });
    }
    this.schedule(record.nextAttemptAt);
    return this.outcome('queued', record.incident, undefined, { nextAttemptAt: record.nextAttemptAt, failure });
  }

  private async permanent(record: IncidentRecord, failure: TicketFailure, fromSubmit: boolean): Promise<TicketOutcome> {
    const failed: IncidentRecord = { ...record, state: 'failed', failure, firstAttemptDone: true };
    delete failed.request;
    await this.store.set(this.nsRecords, record.incident, failed, { ttlMs: this.failedHoldMs });
    this.ring(record.incident);
    // Sightings queued behind a create that can never succeed are reported and dropped, not kept forever.
    const dropped = await this.dropSightings(record.incident);
    this.emitEvent({
      type: 'failed',
      incident: record.incident,
      deferred: record.queued && !fromSubmit,
      attempts: record.attempts,
      failure,
      ...(dropped ? { sightings: dropped } : {}),
    });
    return this.outcome('failed', record.incident, undefined, { failure });
  }

  /** Post the pending sightings of an open ticket as one comment; the caller holds the lock. */
  private async flushComments(incident: string, force = false, fromSubmit = false): Promise<TicketOutcome | undefined> {
    const record = await this.read(incident);
    if (!record || record.state !== 'open' || !record.ref) return undefined;
    if (!force && this.commentDue(record) > this.now()) return this.outcome('updated', incident, record.ref, { coalesced: true });
    const entries = (await this.store.list<Sighting>(this.nsSightings(incident))).sort((a, b) => (a.key < b.key ? -1 : 1));
    if (entries.length === 0) return undefined;
    const sightings = entries.map((e) => e.value);
    // Posted later than the alerts it summarises (they were answered "coalesced"): a deferred delivery.
    const deferred = !fromSubmit || entries.length > 1;
    // eslint-disable-next-line no-useless-assignment -- as above
    let closed = false;
    try {
      closed = (await this.provider.status(record.ref)).state === 'closed';
    } catch (error) {
      const failure = this.classify(error);
      if (failure.kind === 'transient') return this.commentTransient(record, failure);
      // A ticket that is gone (deleted, moved) counts as closed: the incident gets a new one.
      if (failure.code === 'NOT_FOUND') closed = true;
      else
        return this.commentPermanent(
          record,
          failure,
          entries.map((e) => e.key),
          sightings.length,
        );
    }
    if (closed && this.closedPolicy === 'link')
      return this.successor(
        record,
        sightings,
        entries.map((e) => e.key),
      );
    const fresh = newIndicators(sightings, record.seen);
    const text = summaryText(incident, sightings, fresh, this.coalesceMs, escaperFor(this.provider.markup));
    try {
      await this.provider.comment(record.ref, text, fresh.length ? { observables: fresh } : undefined);
    } catch (error) {
      const failure = this.classify(error);
      if (failure.kind === 'transient') return this.commentTransient(record, failure);
      return this.commentPermanent(
        record,
        failure,
        entries.map((e) => e.key),
        sightings.length,
      );
    }
    for (const entry of entries) await this.store.delete(this.nsSightings(incident), entry.key);
    record.lastCommentAt = this.now();
    record.comments = (record.comments ?? 0) + 1;
    record.seen = [...record.seen, ...fresh.map(iocKey)].slice(-MAX_SEEN);
    delete record.commentRetry;
    await this.write(record);
    this.recovered();
    this.emitEvent({ type: 'updated', incident, ref: record.ref, deferred, attempts: 1, sightings: sightings.length });
    return this.outcome('updated', incident, record.ref);
  }

  /** The ticket was closed: a new one that links it, carrying the latest sighting and a summary of the rest. */
  private async successor(record: IncidentRecord, sightings: Sighting[], keys: string[]): Promise<TicketOutcome> {
    const latest = sightings[sightings.length - 1];
    const old = record.ref!;
    const more =
      sightings.length > 1
        ? `\n\n${summaryText(record.incident, sightings, newIndicators(sightings, []), this.coalesceMs, escaperFor(this.provider.markup))}`
        : '';
    const next: IncidentRecord = {
      v: 1,
      incident: record.incident,
      state: 'creating',
      request: { title: latest.title, body: `${latest.body}${more}`, severity: latest.severity, observables: dedupeObservables(sightings), linkTo: old },
      attempts: 0,
      nextAttemptAt: this.now(),
      firstAttemptDone: false,
      queued: false,
      createdAt: this.now(),
      previous: [...(record.previous ?? []), old],
      seen: [],
    };
    await this.write(next);
    for (const key of keys) await this.store.delete(this.nsSightings(record.incident), key);
    return this.attemptCreate(record.incident, true);
  }

  private async commentTransient(record: IncidentRecord, failure: TicketFailure): Promise<TicketOutcome> {
    const attempts = (record.commentRetry?.attempts ?? 0) + 1;
    const nextAttemptAt = this.now() + this.backoffMs(attempts, failure);
    record.commentRetry = { attempts, nextAttemptAt, lastError: short(failure) };
    record.queued = true;
    await this.write(record);
    this.trackerDown(nextAttemptAt);
    this.emitEvent({ type: 'queued', incident: record.incident, ref: record.ref, deferred: false, attempts, failure, nextAttemptAt });
    this.schedule(nextAttemptAt);
    return this.outcome('queued', record.incident, record.ref, { nextAttemptAt, failure });
  }

  private async commentPermanent(record: IncidentRecord, failure: TicketFailure, keys: string[], count: number): Promise<TicketOutcome> {
    for (const key of keys) await this.store.delete(this.nsSightings(record.incident), key);
    delete record.commentRetry;
    record.lastCommentAt = this.now();
    await this.write(record);
    this.emitEvent({ type: 'failed', incident: record.incident, ref: record.ref, deferred: record.queued, attempts: 1, failure, sightings: count });
    return this.outcome('failed', record.incident, record.ref, { failure });
  }

  // ----- helpers ----------------------------------------------------------------------------

  private nsSightings(incident: string): string {
    return `ticket:sightings:${this.tracker}:${incident}`;
  }

  private read(incident: string): Promise<IncidentRecord | undefined> {
    return this.store.get<IncidentRecord>(this.nsRecords, incident);
  }

  private async write(record: IncidentRecord): Promise<void> {
    await this.store.set(this.nsRecords, record.incident, record, record.state === 'open' ? { ttlMs: this.retainMs } : undefined);
    this.ring(record.incident);
  }

  private ring(incident: string): void {
    this.bell.emit(`${this.tracker}\u0000${incident}`);
  }

  private async addSighting(incident: string, request: TicketRequest): Promise<void> {
    const now = this.now();
    this.seq += 1;
    const key = `${String(now).padStart(15, '0')}-${this.engineId}-${String(this.seq).padStart(9, '0')}`;
    const sighting: Sighting = {
      time: now,
      title: request.title,
      body: request.body,
      severity: request.severity,
      summary: sliceWhole((request.summary ?? request.title).replace(/\s+/g, ' '), 300),
      ...(request.observables?.length ? { observables: request.observables } : {}),
    };
    await this.store.set(this.nsSightings(incident), key, sighting);
  }

  private async dropSightings(incident: string): Promise<number> {
    let count = 0;
    for (const { key } of await this.store.list(this.nsSightings(incident))) {
      if (await this.store.delete(this.nsSightings(incident), key)) count += 1;
    }
    return count;
  }

  private commentDue(record: IncidentRecord): number {
    const window = (record.lastCommentAt ?? record.openedAt ?? 0) + this.coalesceMs;
    return Math.max(window, record.commentRetry?.nextAttemptAt ?? 0);
  }

  /** Exponential backoff with ±20 % jitter, never shorter than the tracker's own hint. */
  private backoffMs(attempts: number, failure: TicketFailure): number {
    const exp = Math.min(this.maxMs, this.baseMs * this.factor ** Math.max(0, attempts - 1));
    const jittered = exp * (0.8 + 0.4 * this.random());
    let hint = failure.retryAfterMs ?? 0;
    if (failure.resumeAt) hint = Math.max(hint, failure.resumeAt.getTime() - this.now());
    return Math.round(Math.max(jittered, Math.min(hint, this.maxHintMs)));
  }

  private trackerDown(until: number): void {
    this.down = true;
    this.pausedUntil = Math.max(this.pausedUntil, until);
  }

  /** A delivery got through after failures: everything queued is due now, not at its own backoff. */
  private recovered(): void {
    this.pausedUntil = 0;
    if (!this.down) return;
    this.down = false;
    if (this.autoRun && !this.stopped) setImmediate(() => void this.runDue(true).catch(() => undefined));
  }

  /** Run `fn` holding the incident's lock; undefined when another holder has it. */
  private async withLock<T>(incident: string, fn: () => Promise<T>): Promise<T | undefined> {
    const mine = { boot: this.bootId, engine: this.engineId, at: this.now() };
    if (!(await this.store.setIfAbsent(this.nsLocks, incident, mine, { ttlMs: this.lockTtlMs }))) {
      if (!this.exclusiveStore || !(await this.breakStaleLock(incident, mine))) return undefined;
    }
    try {
      return await fn();
    } finally {
      await this.store.delete(this.nsLocks, incident).catch(() => undefined);
    }
  }

  /**
   * A lock of an earlier process on a store only one process can open is stale: that holder is gone.
   * Breaking it is serialised per store, so two engines of this process cannot both break it and
   * then both hold it.
   */
  private breakStaleLock(incident: string, mine: { boot: string }): Promise<boolean> {
    const previous = breaking.get(this.store) ?? Promise.resolve(false);
    const run = previous
      .catch(() => false)
      .then(async () => {
        const held = await this.store.get<{ boot?: string }>(this.nsLocks, incident);
        if (held && held.boot === this.bootId) return false;
        if (held) await this.store.delete(this.nsLocks, incident);
        return this.store.setIfAbsent(this.nsLocks, incident, mine, { ttlMs: this.lockTtlMs });
      });
    breaking.set(this.store, run);
    return run;
  }

  /** Wait until the incident's first create attempt has an outcome (or the wait runs out). */
  private async waitForFirstAttempt(incident: string): Promise<IncidentRecord | undefined> {
    const event = `${this.tracker}\u0000${incident}`;
    const started = Date.now();
    for (;;) {
      const record = await this.read(incident);
      if (!record || record.state !== 'creating' || record.firstAttemptDone) return record;
      if (Date.now() - started >= this.claimWaitMs) {
        record.queued = true;
        return { ...record, firstAttemptDone: true };
      }
      // Woken by a write on this store, or every 250 ms for a store shared with another process.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 250);
        function done() {
          clearTimeout(timer);
          bell.off(event, done);
          resolve();
        }
        const bell = this.bell;
        bell.on(event, done);
      });
    }
  }

  private schedule(at: number): void {
    if (!this.autoRun || this.stopped || !Number.isFinite(at) || at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    const delay = Math.max(0, Math.min(at - this.now(), 2 ** 31 - 1));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      // A failing store must not crash the process through an unhandled "error" event.
      void this.runDue().catch((err: Error) => {
        if (this.listenerCount('error') > 0) this.emit('error', err);
      });
    }, delay);
    this.timer.unref?.();
  }

  private emitEvent(event: Omit<OutboxEvent, 'provider'>): void {
    this.emit('delivery', { provider: this.tracker, ...event });
  }

  private outcome(status: TicketOutcomeStatus, incident: string, ref: TicketRef | undefined, extra: Partial<TicketOutcome> = {}): TicketOutcome {
    return { status, provider: this.tracker, incident, ...(ref ? { id: ref.id, key: ref.key, url: ref.url } : {}), ...extra };
  }

  private outcomeOfRecord(record: IncidentRecord, openStatus: TicketOutcomeStatus): TicketOutcome {
    if (record.state === 'open') return this.outcome(openStatus, record.incident, record.ref);
    if (record.state === 'failed') return this.outcome('failed', record.incident, undefined, record.failure ? { failure: record.failure } : {});
    return this.outcome('queued', record.incident, undefined, { nextAttemptAt: record.nextAttemptAt });
  }
}

function checkRequest(request: TicketRequest | undefined): string | undefined {
  if (!request || typeof request !== 'object') return 'no ticket request';
  if (typeof request.incidentKey !== 'string' || request.incidentKey.trim() === '') return 'the incident key is empty';
  if (typeof request.title !== 'string' || request.title.trim() === '') return 'the title is empty';
  if (typeof request.body !== 'string') return 'the body is not text';
  if (typeof request.severity !== 'number' || !Number.isFinite(request.severity)) return 'the severity is not a number';
  return undefined;
}

function dedupeObservables(sightings: Sighting[]): TicketObservable[] {
  const out = new Map<string, TicketObservable>();
  for (const s of sightings) for (const o of s.observables ?? []) if (!out.has(iocKey(o))) out.set(iocKey(o), o);
  return [...out.values()];
}

function newIndicators(sightings: Sighting[], seen: string[]): TicketObservable[] {
  const known = new Set(seen);
  return dedupeObservables(sightings).filter((o) => !known.has(iocKey(o)));
}

/**
 * The coalesced comment: how many sightings, first and last time, what they were, new indicators
 * defanged. `escape` makes the alert's own words (summaries, incident key, indicators) text for the
 * tracker (lib/ticket/markup.ts).
 */
export function summaryText(
  incident: string,
  sightings: ReadonlyArray<{ time: number; summary: string }>,
  fresh: TicketObservable[],
  coalesceMs: number,
  escape: (text: string) => string = (text) => text,
): string {
  const first = new Date(sightings[0].time).toISOString();
  const last = new Date(sightings[sightings.length - 1].time).toISOString();
  const lines: string[] = [];
  lines.push(
    sightings.length === 1
      ? `SOAR: seen again at ${first} (incident ${escape(incident)}).`
      : `SOAR: seen ${sightings.length} more times between ${first} and ${last} (incident ${escape(incident)}; comments are combined, at most one every ${Math.round(coalesceMs / 60_000) || 1} min).`,
  );
  const counts = new Map<string, number>();
  for (const s of sightings) counts.set(s.summary, (counts.get(s.summary) ?? 0) + 1);
  const shown = [...counts].slice(0, 10);
  for (const [summary, n] of shown) lines.push(`- ${escape(summary)}${n > 1 ? ` (×${n})` : ''}`);
  if (counts.size > shown.length) lines.push(`- … and ${counts.size - shown.length} other kinds`);
  if (fresh.length) {
    lines.push('New indicators (defanged):');
    for (const o of fresh.slice(0, 50)) lines.push(`- ${escape(o.type)} ${escape(defang(o.value, o.type))}`);
    if (fresh.length > 50) lines.push(`- … and ${fresh.length - 50} more`);
  }
  return lines.join('\n');
}
