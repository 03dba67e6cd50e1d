/**
 * The intel broker: asks every configured source about every indicator of a message, without burning
 * the sources' free-tier quotas and without holding the message hostage to a slow source.
 * Node-RED-free.
 *
 * What it adds around IntelProviders (a provider stays a small "look one indicator up" file):
 *
 *   - Cache per (source, indicator) in the durable StateStore, namespace `intel:<source name>`, key
 *     `<type>:<value>`, value = the IntelResult as the source gave it. Hits (found:true) live
 *     `hitTtlMs` (24 h), misses (found:false) `missTtlMs` (1 h); failures are never cached. Because the
 *     store is durable, a restart answers from the cache instead of spending the quota again.
 *   - Single flight: concurrent asks for the same (source, indicator) share one cache read and at most
 *     one provider.lookup. Flights are keyed by store and source name, like the cache, so two brokers
 *     (two enrich nodes) on the same store share them too.
 *   - Budgets are the providers' own (lib/core/http Budget: over a limit a lookup waits in a FIFO queue,
 *     it does not fail). The broker adds no second pause: a source whose daily quota is used up fails
 *     fast with QUOTA_EXHAUSTED, which becomes a 'quota' note, and the verdict uses the others.
 *   - A per-message deadline: at `deadlineMs` enrich() resolves with what is known; lookups still
 *     pending get a 'deadline' note and carry on in the background, and their answer is cached when it
 *     arrives (so the next message with that indicator gets it). Nothing rejects unobserved.
 *   - Internal indicators (ioc.internal) are never given to a source whose `external` is true, and a
 *     source is only asked about the indicator types it declares.
 */
import { setMaxListeners } from 'node:events';
import type { StateStore } from '../core/types';
import { describeBudget, type BudgetState, type SleepFn } from '../core/budget';
import { ProviderError, type ProviderErrorCode } from '../core/errors';
import type { Ioc } from '../ioc';
import type { Indicator, IntelLevel, IntelProvider, IntelResult } from './types';

export interface BrokerCacheOptions {
  /** How long a result that knows the indicator (found:true) is reused. Default 24 h; 0 = not cached. */
  hitTtlMs?: number;
  /** How long a miss (found:false) is reused. Default 1 h; 0 = not cached. */
  missTtlMs?: number;
  /** Failures are never cached; the option exists only to say so. */
  errorTtlMs?: 0;
}

export interface BrokerOptions {
  providers: IntelProvider[];
  store: StateStore;
  cache?: BrokerCacheOptions;
  /** Clock (epoch ms) for the times written in notes. */
  now?: () => number;
  /** Timer for the per-message deadline (tests inject ManualClock.sleep). Default: setTimeout. */
  sleep?: SleepFn;
  /**
   * close() also closes the providers (default true). Pass false when the providers belong to
   * someone else (shared config nodes) who closes them.
   */
  ownsProviders?: boolean;
}

export interface EnrichOptions {
  /** Resolve with what is known after this long (ms). Default 10,000; Infinity = wait for every source. */
  deadlineMs?: number;
  /** Abort: enrich() rejects with the signal's reason; lookups already sent carry on and are cached. */
  signal?: AbortSignal;
  /** Ask only the sources with these names (default: all). */
  sources?: string[];
}

export type SourceNoteStatus = 'cached' | 'answered' | 'skipped-internal' | 'skipped-type' | 'deadline' | 'quota' | 'rate-limited' | 'error';

export interface SourceNote {
  source: string;
  indicator?: Indicator;
  status: SourceNoteStatus;
  /**
   * One line for a person. It names the source but not the indicator (that is `indicator`), so that
   * the verdict can fold the same story about several indicators into one `why` line.
   */
  detail: string;
  /** For a failed lookup: the provider's error code (AUTH, NETWORK, ...), so a node can say what is wrong. */
  code?: ProviderErrorCode;
}

export interface EnrichmentOutcome {
  /** One result per (source, indicator) that got an answer, ordered by indicator, then source. */
  results: IntelResult[];
  /** One note per (source, indicator) pair considered, same order, plus notes without an indicator. */
  notes: SourceNote[];
  /**
   * requested: provider lookups this call started (requests that may cost budget);
   * cached: answers read from the cache;
   * shared: answers from a lookup another call had already started (single flight).
   */
  lookups: { requested: number; cached: number; shared: number };
}

export const DEFAULT_HIT_TTL_MS = 24 * 3_600_000;
export const DEFAULT_MISS_TTL_MS = 3_600_000;
export const DEFAULT_DEADLINE_MS = 10_000;

const LEVELS: ReadonlySet<IntelLevel> = new Set<IntelLevel>(['malicious', 'suspicious', 'benign', 'unknown']);
const MAX_DETAIL_MESSAGE = 300;
// Reused as the abort reason of a deadline timer that is no longer needed: abort() without a reason
// builds a DOMException with a stack for every message, a measurable cost on the cached path.
const TIMER_STOPPED = Object.freeze(new Error('deadline timer stopped'));

/** Where an answer came from: the cache, or a provider request (possibly one another caller started). */
interface FlightAnswer {
  result: IntelResult;
  via: 'cache' | 'provider';
  /** Set when the answer could not be written to the cache. */
  cacheError?: string;
}

interface Flight {
  promise: Promise<FlightAnswer>;
}

// Flights live per store and are keyed by source name + indicator, exactly like the cache entries they
// fill, so every broker reading the same cache also shares the requests that fill it.
const flightsByStore = new WeakMap<StateStore, Map<string, Flight>>();

function flightsFor(store: StateStore): Map<string, Flight> {
  let flights = flightsByStore.get(store);
  if (!flights) {
    flights = new Map();
    flightsByStore.set(store, flights);
  }
  return flights;
}

export function cacheNamespace(sourceName: string): string {
  return `intel:${sourceName}`;
}

export function cacheKey(indicator: Indicator): string {
  return `${indicator.type}:${indicator.value}`;
}

function isIntelResult(value: unknown): value is IntelResult {
  if (!value || typeof value !== 'object') return false;
  const candidate = value as Partial<IntelResult>;
  return (
    typeof candidate.source === 'string' &&
    typeof candidate.level === 'string' &&
    LEVELS.has(candidate.level) &&
    typeof candidate.found === 'boolean' &&
    typeof candidate.summary === 'string' &&
    !!candidate.indicator &&
    typeof candidate.indicator === 'object'
  );
}

function checkTtl(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`cache ${name} must be a number >= 0`);
  return value;
}

/** "10 s", "1.5 s", "250 ms", "2 min", "3 h 20 min". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return 'forever';
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${Number((ms / 1_000).toFixed(1))} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.round((ms - hours * 3_600_000) / 60_000);
  return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
}

function utcMinute(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')}Z`;
}

function errorText(error: unknown): string {
  // ProviderError messages are redacted by the HTTP client; anything else is cut short.
  const text = error instanceof Error ? error.message : String(error);
  return text.length > MAX_DETAIL_MESSAGE ? `${text.slice(0, MAX_DETAIL_MESSAGE)}…` : text;
}

interface Slot {
  provider: IntelProvider;
  indicator: Indicator;
  note?: SourceNote;
  result?: IntelResult;
  /** Set while the lookup has not answered (filled in at the deadline). */
  pending: boolean;
}

export class IntelBroker {
  private readonly providers: IntelProvider[];
  private readonly store: StateStore;
  private readonly hitTtlMs: number;
  private readonly missTtlMs: number;
  private readonly now: () => number;
  private readonly sleep?: SleepFn;
  private readonly ownsProviders: boolean;
  // Aborted by close(): cancels the requests this broker started (queued ones leave the queue).
  private readonly lifetime = new AbortController();
  private closed = false;

  constructor(options: BrokerOptions) {
    const names = new Set<string>();
    for (const provider of options.providers) {
      if (names.has(provider.name)) throw new Error(`two intel sources are named "${provider.name}"; names must be unique (they key the cache)`);
      names.add(provider.name);
    }
    this.providers = [...options.providers];
    this.store = options.store;
    this.hitTtlMs = checkTtl('hitTtlMs', options.cache?.hitTtlMs, DEFAULT_HIT_TTL_MS);
    this.missTtlMs = checkTtl('missTtlMs', options.cache?.missTtlMs, DEFAULT_MISS_TTL_MS);
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep;
    this.ownsProviders = options.ownsProviders ?? true;
    // Every lookup in flight or queued listens on this one signal; hundreds queued is normal, not a leak.
    setMaxListeners(0, this.lifetime.signal);
  }

  /** Source names in configuration order. */
  get sourceNames(): string[] {
    return this.providers.map((provider) => provider.name);
  }

  async enrich(indicators: Ioc[], opts: EnrichOptions = {}): Promise<EnrichmentOutcome> {
    if (this.closed) throw new Error('intel broker is closed');
    const signal = opts.signal;
    if (signal?.aborted) throw abortReason(signal);
    const deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS;
    if (Number.isNaN(deadlineMs) || deadlineMs < 0) throw new RangeError('deadlineMs must be a number >= 0');

    const lookups = { requested: 0, cached: 0, shared: 0 };
    const extraNotes: SourceNote[] = [];
    const providers = this.chooseProviders(opts.sources, extraNotes);
    const slots = this.plan(uniqueIndicators(indicators), providers);

    const answers: Promise<void>[] = [];
    for (const slot of slots) {
      if (!slot.pending) continue;
      answers.push(
        this.ask(slot.provider, slot.indicator).then(
          ({ answer, role }) => {
            if (!slot.pending) return; // the deadline has passed; the answer went to the cache
            slot.pending = false;
            // Each message gets its own object: flows may change msg.enrichment, and a joined flight's
            // answer is also another message's.
            slot.result = role === 'joined' ? structuredClone(answer.result) : answer.result;
            if (answer.via === 'cache') {
              lookups.cached++;
              slot.note = this.note(slot, 'cached', `${slot.provider.name}: from the cache (answered ${answer.result.fetchedAt})`);
            } else {
              if (role === 'started') lookups.requested++;
              else lookups.shared++;
              const shared = role === 'joined' ? ', shared with a concurrent lookup' : '';
              const uncached = answer.cacheError ? `; not cached (${answer.cacheError})` : '';
              slot.note = this.note(slot, 'answered', `${slot.provider.name}: answered${shared}${uncached}`);
            }
          },
          (error: unknown) => {
            if (!slot.pending) return; // after the deadline a failure is swallowed, noted nowhere
            slot.pending = false;
            slot.note = this.failureNote(slot, error);
          },
        ),
      );
    }

    const allAnswered = Promise.all(answers).then(() => 'answered' as const);
    const contenders: Promise<'answered' | 'deadline' | 'aborted'>[] = [allAnswered];
    const timer = answers.length > 0 && Number.isFinite(deadlineMs) ? this.startDeadline(deadlineMs) : undefined;
    if (timer) contenders.push(timer.fired);
    let onAbort: (() => void) | undefined;
    if (signal) {
      contenders.push(
        new Promise((resolve) => {
          onAbort = () => resolve('aborted');
          signal.addEventListener('abort', onAbort, { once: true });
        }),
      );
    }
    let ending: 'answered' | 'deadline' | 'aborted';
    try {
      ending = await Promise.race(contenders);
    } finally {
      timer?.stop();
      if (signal && onAbort) signal.removeEventListener('abort', onAbort);
    }

    if (ending === 'aborted') {
      for (const slot of slots) slot.pending = false; // late answers only fill the cache
      throw abortReason(signal as AbortSignal);
    }
    if (ending === 'deadline') {
      for (const slot of slots.filter((candidate) => candidate.pending)) {
        slot.pending = false;
        slot.note = this.note(slot, 'deadline', this.deadlineDetail(slot.provider, deadlineMs));
      }
    }

    const results: IntelResult[] = [];
    const notes: SourceNote[] = [...extraNotes];
    for (const slot of slots) {
      if (slot.result) results.push(slot.result);
      if (slot.note) notes.push(slot.note);
    }
    return { results, notes, lookups };
  }

  /**
   * The budget window with the least remaining fraction over all sources, e.g. "VirusTotal 3/4 min",
   * or a paused source ("VirusTotal quota exhausted until 2026-01-16T00:00Z"). Undefined when no source
   * reports a budget.
   */
  tightestBudget(): string | undefined {
    let best: { text: string; fraction: number } | undefined;
    for (const provider of this.providers) {
      let state: BudgetState | undefined;
      try {
        state = provider.budgetState?.();
      } catch {
        state = undefined;
      }
      if (!state) continue;
      if (state.pausedUntil) {
        // A paused source has nothing left; the first one found is reported.
        if (!best || best.fraction > -1) best = { text: `${provider.name} ${describeBudget(state)}`, fraction: -1 };
        continue;
      }
      for (const window of state.windows) {
        if (window.limit <= 0) continue;
        const fraction = window.remaining / window.limit;
        // Strictly less: on a tie the shorter window (listed first) wins, it is the one that bites first.
        if (!best || fraction < best.fraction) {
          best = { text: `${provider.name} ${describeBudget({ windows: [window], queued: state.queued })}`, fraction };
        }
      }
    }
    return best?.text;
  }

  /** Cancels the requests this broker started, and closes the providers when it owns them. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.lifetime.abort(new Error('intel broker closed'));
    if (!this.ownsProviders) return;
    await Promise.all(
      this.providers.map(async (provider) => {
        try {
          await provider.close?.();
        } catch {
          // A provider failing to release its resources must not stop the others from closing.
        }
      }),
    );
  }

  private chooseProviders(names: string[] | undefined, notes: SourceNote[]): IntelProvider[] {
    if (!names) return this.providers;
    const wanted = new Set(names);
    for (const name of wanted) {
      if (!this.providers.some((provider) => provider.name === name)) {
        notes.push({ source: name, status: 'error', detail: `${name}: no source of that name is configured` });
      }
    }
    return this.providers.filter((provider) => wanted.has(provider.name));
  }

  /** One slot per (indicator, source), in that order; skipped pairs get their note at once. */
  private plan(indicators: Ioc[], providers: IntelProvider[]): Slot[] {
    const slots: Slot[] = [];
    for (const ioc of indicators) {
      const indicator: Indicator = { type: ioc.type, value: ioc.value };
      for (const provider of providers) {
        const slot: Slot = { provider, indicator, pending: false };
        if (!provider.types.includes(ioc.type)) {
          slot.note = this.note(slot, 'skipped-type', `${provider.name}: does not look up ${ioc.type} indicators`);
        } else if (ioc.internal === true && provider.external) {
          slot.note = this.note(slot, 'skipped-internal', `${provider.name}: internal indicator, not sent to an outside service`);
        } else {
          slot.pending = true;
        }
        slots.push(slot);
      }
    }
    return slots;
  }

  /** A deadline that resolves 'deadline' when it fires; stop() releases it (it then never resolves). */
  private startDeadline(ms: number): { fired: Promise<'deadline'>; stop(): void } {
    const sleep = this.sleep;
    if (!sleep) {
      // Plain setTimeout: this runs once per message, and an AbortController per message costs more
      // than the cached lookups it guards.
      let handle: NodeJS.Timeout | undefined;
      const fired = new Promise<'deadline'>((resolve) => {
        handle = setTimeout(() => resolve('deadline'), ms);
      });
      return { fired, stop: () => clearTimeout(handle) };
    }
    const stopper = new AbortController();
    const fired = sleep(ms, stopper.signal).then(
      () => 'deadline' as const,
      () => new Promise<'deadline'>(() => undefined), // stopped: never fires
    );
    return { fired, stop: () => stopper.abort(TIMER_STOPPED) };
  }

  private note(slot: Slot, status: SourceNoteStatus, detail: string, code?: ProviderErrorCode): SourceNote {
    return code
      ? { source: slot.provider.name, indicator: slot.indicator, status, detail, code }
      : { source: slot.provider.name, indicator: slot.indicator, status, detail };
  }

  /**
   * The answer for one (source, indicator): joins the flight in progress, or starts one that reads
   * the cache and, on a miss, asks the provider and caches what it says.
   */
  private ask(provider: IntelProvider, indicator: Indicator): Promise<{ answer: FlightAnswer; role: 'started' | 'joined' }> {
    const flights = flightsFor(this.store);
    const key = `${provider.name}\u0000${cacheKey(indicator)}`;
    const existing = flights.get(key);
    if (existing) return existing.promise.then((answer) => ({ answer, role: 'joined' as const }));

    // Registered synchronously, before the first await, so a caller arriving a microtask later joins it.
    // It is removed only after the cache write, so a later caller finds either the flight or the cache.
    const promise = this.fly(provider, indicator).finally(() => {
      if (flights.get(key)?.promise === promise) flights.delete(key);
    });
    flights.set(key, { promise });
    return promise.then((answer) => ({ answer, role: 'started' as const }));
  }

  private async fly(provider: IntelProvider, indicator: Indicator): Promise<FlightAnswer> {
    if (provider.cacheable === false) return { result: await provider.lookup({ ...indicator }, this.lifetime.signal), via: 'provider' };
    const namespace = cacheNamespace(provider.name);
    const key = cacheKey(indicator);
    let cached: unknown;
    try {
      cached = await this.store.get(namespace, key);
    } catch {
      cached = undefined; // an unreadable cache is a miss, not a failed lookup
    }
    if (isIntelResult(cached)) return { result: cached, via: 'cache' };

    const result = await provider.lookup({ ...indicator }, this.lifetime.signal);
    const ttlMs = result.found ? this.hitTtlMs : this.missTtlMs;
    if (ttlMs <= 0) return { result, via: 'provider' };
    try {
      await this.store.set(namespace, key, result, { ttlMs });
      return { result, via: 'provider' };
    } catch (error) {
      return { result, via: 'provider', cacheError: errorText(error) };
    }
  }

  private failureNote(slot: Slot, error: unknown): SourceNote {
    const name = slot.provider.name;
    if (error instanceof ProviderError && error.code === 'QUOTA_EXHAUSTED') {
      const until = error.resumeAt ? ` until ${utcMinute(error.resumeAt)} (${formatDuration(error.resumeAt.getTime() - this.now())} from now)` : '';
      return this.note(slot, 'quota', `${name}: quota exhausted, paused${until}; not asked, the verdict uses the other sources`);
    }
    if (error instanceof ProviderError && error.code === 'RATE_LIMITED') {
      const until = error.resumeAt
        ? ` until ${utcMinute(error.resumeAt)}`
        : error.retryAfterMs !== undefined
          ? ` for ${formatDuration(error.retryAfterMs)}`
          : '';
      return this.note(slot, 'rate-limited', `${name}: rate limited${until}; not asked, the verdict uses the other sources`);
    }
    return this.note(slot, 'error', `${name}: lookup failed: ${errorText(error)}`, error instanceof ProviderError ? error.code : undefined);
  }

  private deadlineDetail(provider: IntelProvider, deadlineMs: number): string {
    let queued: boolean;
    try {
      queued = (provider.budgetState?.().queued ?? 0) > 0;
    } catch {
      queued = false;
    }
    const where = queued ? 'still queued' : 'still waiting for it';
    return `${provider.name}: no answer within ${formatDuration(deadlineMs)}, ${where}; the answer will be cached`;
  }
}

/** Each (type, value) once; internal if any copy is marked internal (the safe side). */
function uniqueIndicators(indicators: Ioc[]): Ioc[] {
  const byKey = new Map<string, Ioc>();
  for (const ioc of indicators) {
    const key = cacheKey(ioc);
    const seen = byKey.get(key);
    if (!seen) byKey.set(key, { ...ioc });
    else if (ioc.internal === true) seen.internal = true;
  }
  return [...byKey.values()];
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error('enrichment cancelled');
}
