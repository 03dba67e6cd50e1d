/**
 * The local case store: the embedded default tracker (no outside service needed). Cases are JSON
 * in the hub's StateStore with a timeline (created, comments, closed); the sidebar lists them and
 * closes them, the hub shows them read-only. Implements the same TicketProvider interface as the
 * vendor clients, so the outbox treats it like any other tracker. Node-RED-free.
 *
 * Namespaces: `ticket:local-cases:<name>` (key = case number), `ticket:local-index:<name>`
 * (open incident key → case number; removed when the case is closed).
 */
import { ProviderError } from '../core/errors';
import type { BudgetState } from '../core/budget';
import type { StateStore } from '../core/types';
import { fitText, fitTitle } from './common';
import type { CommentOptions, CreateTicketInput, TicketLimits, TicketObservable, TicketProvider, TicketRef, TicketStatus } from './types';

export type LocalTimelineType = 'created' | 'comment' | 'closed';

export interface LocalTimelineEntry {
  time: string;
  type: LocalTimelineType;
  text?: string;
  /** closed: who closed it (sidebar user or "flow"). */
  by?: string;
  observables?: TicketObservable[];
}

export interface LocalCase {
  id: string;
  number: number;
  title: string;
  body: string;
  severity: number;
  priority: string;
  incidentKey: string;
  state: 'open' | 'closed';
  createdAt: string;
  updatedAt: string;
  closedAt?: string;
  closedBy?: string;
  observables: TicketObservable[];
  /** The closed case this one follows. */
  linkTo?: TicketRef;
  timeline: LocalTimelineEntry[];
}

/** What the sidebar list shows (no body, no timeline). */
export interface LocalCaseSummary {
  id: string;
  key: string;
  url: string;
  title: string;
  severity: number;
  priority: string;
  incidentKey: string;
  state: 'open' | 'closed';
  createdAt: string;
  updatedAt: string;
  comments: number;
}

export interface LocalCaseOptions {
  store: StateStore;
  /** Instance name (config node name); separates two local stores on one hub. Default "local". */
  name?: string;
  /**
   * Where the hub serves the read-only case page; the case URL is `<pageBase>/<name>/<id>`, naming the
   * store because case numbers start at 1 in every store. Default "/soar/cases".
   */
  pageBase?: string;
  limits?: Partial<TicketLimits>;
  /** Timeline entries kept per case; the oldest comments beyond it are dropped with a note. Default 500. */
  maxTimeline?: number;
  now?: () => number;
}

const PRIORITIES = ['unknown', 'low', 'low', 'normal', 'high', 'urgent', 'urgent'] as const;
const PROVIDER = 'local';

/** Serialises changes to one case across every LocalCaseStore sharing a store object. */
const queues = new WeakMap<StateStore, Map<string, Promise<unknown>>>();

function fit(text: string, max: number, what: string): string {
  return fitText(text, max, what, 'the case store keeps');
}

function bad(message: string): ProviderError {
  return new ProviderError({ provider: PROVIDER, code: 'BAD_REQUEST', message: `local cases: ${message}` });
}

export class LocalCaseStore implements TicketProvider {
  readonly kind = 'local';
  readonly name: string;
  readonly limits: TicketLimits;
  // The case page and the sidebar escape everything themselves.
  readonly markup = 'plain';
  private readonly store: StateStore;
  private readonly pageBase: string;
  private readonly maxTimeline: number;
  private readonly now: () => number;
  private readonly nsCases: string;
  private readonly nsIndex: string;
  private closedFlag = false;

  constructor(options: LocalCaseOptions) {
    if (!options?.store) throw new TypeError('local cases: a state store is required');
    this.store = options.store;
    this.name = options.name ?? 'local';
    this.pageBase = (options.pageBase ?? '/soar/cases').replace(/\/+$/, '');
    this.limits = { title: 255, body: 100_000, comment: 20_000, ...options.limits };
    this.maxTimeline = Math.max(10, options.maxTimeline ?? 500);
    this.now = options.now ?? Date.now;
    this.nsCases = `ticket:local-cases:${this.name}`;
    this.nsIndex = `ticket:local-index:${this.name}`;
  }

  // ----- TicketProvider ---------------------------------------------------------------------

  async findOpenByIncident(incidentKey: string): Promise<TicketRef | undefined> {
    this.assertOpen();
    const id = await this.store.get<string>(this.nsIndex, incidentKey);
    if (id === undefined) return undefined;
    const found = await this.store.get<LocalCase>(this.nsCases, id);
    return found && found.state === 'open' ? this.refOf(found) : undefined;
  }

  async create(input: CreateTicketInput): Promise<TicketRef> {
    this.assertOpen();
    if (!input || typeof input.title !== 'string' || input.title.trim() === '') throw bad('the title is empty');
    if (typeof input.incidentKey !== 'string' || input.incidentKey.trim() === '') throw bad('the incident key is empty');
    if (typeof input.body !== 'string') throw bad('the body is not text');
    const time = new Date(this.now()).toISOString();
    const record: Omit<LocalCase, 'id' | 'number'> = {
      title: fitTitle(input.title, this.limits.title),
      body: fit(input.body, this.limits.body, 'body'),
      severity: input.severity,
      priority: this.priorityFor(input.severity),
      incidentKey: input.incidentKey,
      state: 'open',
      createdAt: time,
      updatedAt: time,
      observables: input.observables ?? [],
      ...(input.linkTo ? { linkTo: input.linkTo } : {}),
      timeline: [{ time, type: 'created', ...(input.linkTo ? { text: `follows ${input.linkTo.key}` } : {}) }],
    };
    // Numbers are claimed with setIfAbsent, so two creators never get the same one.
    let number = (await this.store.list(this.nsCases)).length + 1;
    for (;;) {
      const id = String(number);
      const full: LocalCase = { id, number, ...record };
      if (await this.store.setIfAbsent(this.nsCases, id, full)) {
        await this.store.set(this.nsIndex, input.incidentKey, id);
        return this.refOf(full);
      }
      number += 1;
    }
  }

  async comment(ref: TicketRef, text: string, options?: CommentOptions): Promise<void> {
    this.assertOpen();
    if (typeof text !== 'string' || text.trim() === '') throw bad('the comment is empty');
    await this.change(ref.id, (found) => {
      const entry: LocalTimelineEntry = { time: new Date(this.now()).toISOString(), type: 'comment', text: fit(text, this.limits.comment, 'comment') };
      if (options?.observables?.length) {
        entry.observables = options.observables;
        const known = new Set(found.observables.map((o) => `${o.type}:${o.value}`));
        for (const o of options.observables) if (!known.has(`${o.type}:${o.value}`)) found.observables.push(o);
      }
      found.timeline.push(entry);
      if (found.timeline.length > this.maxTimeline) {
        // Keep the creation entry; drop the oldest comments, saying so.
        const dropped = found.timeline.length - this.maxTimeline + 1;
        found.timeline.splice(1, dropped, {
          time: entry.time,
          type: 'comment',
          text: `[${dropped} older entries dropped: the case keeps ${this.maxTimeline}]`,
        });
      }
      found.updatedAt = entry.time;
    });
  }

  async status(ref: TicketRef): Promise<TicketStatus> {
    this.assertOpen();
    const found = await this.store.get<LocalCase>(this.nsCases, ref.id);
    if (!found) throw new ProviderError({ provider: PROVIDER, code: 'NOT_FOUND', status: 404, message: `local cases: no case ${ref.id}` });
    return { state: found.state, vendorStatus: found.state };
  }

  priorityFor(severity: number): string {
    return Number.isInteger(severity) && severity >= 0 && severity <= 6 ? PRIORITIES[severity] : 'unknown';
  }

  budgetState(): BudgetState {
    return { windows: [], queued: 0 };
  }

  close(): void {
    this.closedFlag = true;
  }

  // ----- sidebar and page -------------------------------------------------------------------

  /** Cases, newest first (optionally only open or closed ones). */
  async list(filter: { state?: 'open' | 'closed'; limit?: number } = {}): Promise<LocalCaseSummary[]> {
    const all = (await this.store.list<LocalCase>(this.nsCases)).map((e) => e.value);
    return all
      .filter((c) => !filter.state || c.state === filter.state)
      .sort((a, b) => b.number - a.number)
      .slice(0, filter.limit ?? 1_000)
      .map((c) => ({
        ...this.refOf(c),
        title: c.title,
        severity: c.severity,
        priority: c.priority,
        incidentKey: c.incidentKey,
        state: c.state,
        createdAt: c.createdAt,
        updatedAt: c.updatedAt,
        comments: c.timeline.filter((t) => t.type === 'comment').length,
      }));
  }

  async get(id: string): Promise<LocalCase | undefined> {
    return this.store.get<LocalCase>(this.nsCases, String(id));
  }

  /** Close from the sidebar; the next sighting of the incident opens a new case that links this one. */
  async closeCase(id: string, by: string, note?: string): Promise<LocalCase> {
    this.assertOpen();
    const who = typeof by === 'string' && by.trim() ? by.trim().slice(0, 100) : 'unknown';
    return this.change(String(id), async (found) => {
      if (found.state === 'closed')
        throw new ProviderError({ provider: PROVIDER, code: 'CONFLICT', status: 409, message: `local cases: case ${found.id} is already closed` });
      const time = new Date(this.now()).toISOString();
      found.state = 'closed';
      found.closedAt = time;
      found.closedBy = who;
      found.updatedAt = time;
      found.timeline.push({ time, type: 'closed', by: who, ...(note ? { text: fit(String(note), this.limits.comment, 'note') } : {}) });
      const indexed = await this.store.get<string>(this.nsIndex, found.incidentKey);
      if (indexed === found.id) await this.store.delete(this.nsIndex, found.incidentKey);
    });
  }

  // ----- internals --------------------------------------------------------------------------

  private refOf(c: LocalCase): TicketRef {
    return { id: c.id, key: `#${c.number}`, url: `${this.pageBase}/${encodeURIComponent(this.name)}/${encodeURIComponent(c.id)}` };
  }

  private assertOpen(): void {
    if (this.closedFlag) throw new ProviderError({ provider: PROVIDER, code: 'CANCELLED', message: 'local cases: closed' });
  }

  /** Read-modify-write of one case, one at a time per case. */
  private change(id: string, edit: (found: LocalCase) => void | Promise<void>): Promise<LocalCase> {
    let perStore = queues.get(this.store);
    if (!perStore) {
      perStore = new Map();
      queues.set(this.store, perStore);
    }
    const key = `${this.nsCases}\u0000${id}`;
    const previous = perStore.get(key) ?? Promise.resolve();
    const run = previous
      .catch(() => undefined)
      .then(async () => {
        const found = await this.store.get<LocalCase>(this.nsCases, id);
        if (!found) throw new ProviderError({ provider: PROVIDER, code: 'NOT_FOUND', status: 404, message: `local cases: no case ${id}` });
        await edit(found);
        await this.store.set(this.nsCases, id, found);
        return found;
      });
    perStore.set(key, run);
    const map = perStore;
    void run
      .finally(() => {
        if (map.get(key) === run) map.delete(key);
      })
      .catch(() => undefined);
    return run;
  }
}

export function createLocalCases(options: LocalCaseOptions): LocalCaseStore {
  return new LocalCaseStore(options);
}
