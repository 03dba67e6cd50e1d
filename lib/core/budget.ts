/**
 * Per-provider request budget: a FIFO queue in front of the vendor. Node-RED-free.
 *
 * Windows:
 *   - per second / minute / hour are SLIDING windows (a log of grants): never more than `limit` units in
 *     any span of that length, whatever the vendor's window alignment. That is stricter than a vendor's
 *     fixed window, so it can never overshoot one.
 *   - per day is a FIXED calendar window that resets at `dayResetUtcHour` (default 00:00 UTC), because
 *     vendor daily quotas (VirusTotal, AbuseIPDB) reset on the clock, not 24 h after the first call.
 *
 * Requests over a second/minute/hour limit wait in the queue; they never fail for it. A used-up day
 * budget, or a vendor quota reported by the client (`pause`), makes requests fail fast with
 * QUOTA_EXHAUSTED and `resumeAt` instead, so a daily quota never turns into hours of queued work.
 * Counts live in memory only: a restart forgets them (the vendor's 429 then re-opens the pause).
 */
import { ProviderError } from './errors';

export interface BudgetLimits {
  perSecond?: number;
  perMinute?: number;
  perHour?: number;
  perDay?: number;
  /** UTC hour (0-23) at which the per-day budget and a quota pause without hint reset. Default 0. */
  dayResetUtcHour?: number;
  /** Requests allowed to wait in the queue; beyond it they reject with RATE_LIMITED. Default 10,000. */
  maxQueue?: number;
}

export type SleepFn = (ms: number, signal?: AbortSignal) => Promise<void>;

export type BudgetWindowName = 'second' | 'minute' | 'hour' | 'day';

export interface BudgetWindowState {
  window: BudgetWindowName;
  limit: number;
  used: number;
  remaining: number;
  /** Day window: when it resets. Sliding windows: when the oldest counted unit frees up (if any is counted). */
  resetsAt?: Date;
}

export interface BudgetState {
  windows: BudgetWindowState[];
  /** Requests waiting in the queue. */
  queued: number;
  /** Set while requests fail fast (quota, or a rate-limit hint too long to wait out). */
  pausedUntil?: Date;
  pauseCode?: 'QUOTA_EXHAUSTED' | 'RATE_LIMITED';
  pauseReason?: string;
  /** Set while a vendor's short Retry-After hint holds every request back (they wait, they do not fail). */
  heldUntil?: Date;
}

export interface BudgetOptions {
  provider: string;
  limits?: BudgetLimits;
  now?: () => number;
  sleep?: SleepFn;
}

export const DEFAULT_MAX_QUEUE = 10_000;
const DAY_MS = 86_400_000;

/** setTimeout as a promise; rejects with the signal's reason when aborted. */
export const defaultSleep: SleepFn = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason ?? new Error('aborted'));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error('aborted'));
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** The next instant (epoch ms) strictly after `now` at which the UTC clock reads `hour`:00. */
export function nextDayReset(now: number, hour = 0): number {
  const date = new Date(now);
  const todayReset = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate(), hour);
  return todayReset > now ? todayReset : todayReset + DAY_MS;
}

interface Grant {
  at: number;
  cost: number;
}

class SlidingWindow {
  private grants: Grant[] = [];
  private used = 0;

  constructor(
    readonly name: BudgetWindowName,
    readonly limit: number,
    private readonly lengthMs: number,
  ) {}

  private prune(now: number): void {
    let expired = 0;
    while (expired < this.grants.length && this.grants[expired].at + this.lengthMs <= now) {
      this.used -= this.grants[expired].cost;
      expired++;
    }
    if (expired > 0) this.grants.splice(0, expired);
  }

  /** Ms until `cost` more units fit (0 = now). */
  waitMs(now: number, cost: number): number {
    this.prune(now);
    if (this.used + cost <= this.limit) return 0;
    let freed = 0;
    for (const grant of this.grants) {
      freed += grant.cost;
      if (this.used - freed + cost <= this.limit) return grant.at + this.lengthMs - now;
    }
    return this.lengthMs; // unreachable while cost <= limit, which acquire() checks
  }

  record(now: number, cost: number): void {
    if (cost <= 0) return;
    this.grants.push({ at: now, cost });
    this.used += cost;
  }

  state(now: number): BudgetWindowState {
    this.prune(now);
    const oldest = this.grants[0];
    return {
      window: this.name,
      limit: this.limit,
      used: this.used,
      remaining: Math.max(0, this.limit - this.used),
      ...(oldest ? { resetsAt: new Date(oldest.at + this.lengthMs) } : {}),
    };
  }
}

class DayWindow {
  private used = 0;
  private endsAt = 0;

  constructor(
    readonly limit: number,
    private readonly resetHour: number,
  ) {}

  private roll(now: number): void {
    if (now >= this.endsAt) {
      this.used = 0;
      this.endsAt = nextDayReset(now, this.resetHour);
    }
  }

  fits(now: number, cost: number): boolean {
    this.roll(now);
    return this.used + cost <= this.limit;
  }

  exhausted(now: number): boolean {
    this.roll(now);
    return this.used >= this.limit;
  }

  resetsAt(now: number): number {
    this.roll(now);
    return this.endsAt;
  }

  record(now: number, cost: number): void {
    this.roll(now);
    this.used += cost;
  }

  state(now: number): BudgetWindowState {
    this.roll(now);
    return {
      window: 'day',
      limit: this.limit,
      used: this.used,
      remaining: Math.max(0, this.limit - this.used),
      resetsAt: new Date(this.endsAt),
    };
  }
}

interface Waiter {
  cost: number;
  resolve: () => void;
  reject: (error: ProviderError) => void;
  detach: () => void;
}

interface Pause {
  until: number;
  code: 'QUOTA_EXHAUSTED' | 'RATE_LIMITED';
  reason: string;
}

function checkLimit(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`budget ${name} must be a positive number`);
  return value;
}

export class Budget {
  readonly provider: string;
  private readonly now: () => number;
  private readonly sleep: SleepFn;
  private readonly sliding: SlidingWindow[] = [];
  private readonly day?: DayWindow;
  private readonly dayResetHour: number;
  private readonly maxQueue: number;
  private readonly queue: Waiter[] = [];
  private pumping = false;
  private wakeUp?: AbortController;
  private heldUntil = 0;
  private pauseInfo?: Pause;
  private closed = false;

  constructor(options: BudgetOptions) {
    const limits = options.limits ?? {};
    this.provider = options.provider;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? defaultSleep;
    this.dayResetHour = limits.dayResetUtcHour ?? 0;
    if (!Number.isInteger(this.dayResetHour) || this.dayResetHour < 0 || this.dayResetHour > 23) {
      throw new RangeError('budget dayResetUtcHour must be an integer 0-23');
    }
    this.maxQueue = limits.maxQueue ?? DEFAULT_MAX_QUEUE;
    const perSecond = checkLimit('perSecond', limits.perSecond);
    const perMinute = checkLimit('perMinute', limits.perMinute);
    const perHour = checkLimit('perHour', limits.perHour);
    const perDay = checkLimit('perDay', limits.perDay);
    if (perSecond) this.sliding.push(new SlidingWindow('second', perSecond, 1_000));
    if (perMinute) this.sliding.push(new SlidingWindow('minute', perMinute, 60_000));
    if (perHour) this.sliding.push(new SlidingWindow('hour', perHour, 3_600_000));
    if (perDay) this.day = new DayWindow(perDay, this.dayResetHour);
  }

  /** When a quota pause without a vendor hint ends: the next day reset. */
  nextReset(): Date {
    return new Date(nextDayReset(this.now(), this.dayResetHour));
  }

  /**
   * Resolves when `cost` units may be spent now (and spends them). Waits, FIFO, while a
   * second/minute/hour window is full or a hold is active. Rejects with QUOTA_EXHAUSTED / RATE_LIMITED
   * (paused, or queue full), BAD_REQUEST (cost larger than a window) or CANCELLED (signal, close()).
   */
  acquire(cost = 1, signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(this.cancelled('client closed'));
    if (signal?.aborted) return Promise.reject(this.cancelled('request cancelled'));
    if (!Number.isFinite(cost) || cost < 0) return Promise.reject(this.badCost(`cost must be >= 0, got ${cost}`));
    const windows = [...this.sliding.map((w) => ({ name: w.name, limit: w.limit })), ...(this.day ? [{ name: 'day', limit: this.day.limit }] : [])];
    const tooSmall = windows.find((window) => cost > window.limit);
    if (tooSmall) return Promise.reject(this.badCost(`cost ${cost} exceeds the per-${tooSmall.name} budget of ${tooSmall.limit}`));
    const refusal = this.refusal(cost);
    if (refusal) return Promise.reject(refusal);

    if (this.queue.length === 0 && this.waitMs(cost) === 0) {
      this.record(cost);
      return Promise.resolve();
    }
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(
        new ProviderError({
          provider: this.provider,
          code: 'RATE_LIMITED',
          message: `${this.provider}: request queue full (${this.maxQueue} waiting)`,
          retryable: true,
          attempts: 0,
        }),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const index = this.queue.indexOf(waiter);
        if (index < 0) return;
        this.queue.splice(index, 1);
        reject(this.cancelled('request cancelled while queued'));
        if (index === 0) this.wake();
      };
      const waiter: Waiter = {
        cost,
        resolve,
        reject,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
      void this.pump();
    });
  }

  /** Hold every request until `untilMs` (a vendor's short Retry-After). Queued requests wait. */
  hold(untilMs: number): void {
    if (untilMs > this.heldUntil) {
      this.heldUntil = untilMs;
      this.wake();
    }
  }

  /** Fail every request fast until `until`; queued ones are rejected now. */
  pause(until: Date, code: 'QUOTA_EXHAUSTED' | 'RATE_LIMITED', reason: string): void {
    const untilMs = until.getTime();
    if (this.pauseInfo && this.pauseInfo.until >= untilMs && this.pauseInfo.code === code) return;
    this.pauseInfo = { until: untilMs, code, reason };
    this.rejectQueued();
    this.wake();
  }

  /** Lift a pause early (e.g. after the API key changed). */
  resume(): void {
    this.pauseInfo = undefined;
    this.heldUntil = 0;
    this.wake();
  }

  /** Reject everything queued with CANCELLED and refuse new requests. */
  close(): void {
    this.closed = true;
    for (const waiter of this.queue.splice(0)) {
      waiter.detach();
      waiter.reject(this.cancelled('client closed'));
    }
    this.wake();
  }

  /** The error a request would get right now without touching the network, if any. */
  refusal(cost = 1): ProviderError | undefined {
    const now = this.now();
    const pause = this.activePause(now);
    if (pause) return this.pausedError(pause, now);
    if (this.day && !this.day.fits(now, cost)) {
      const resumeAt = this.day.resetsAt(now);
      const reason = `local daily budget of ${this.day.limit} used up`;
      // Only a fully used day budget pauses everyone; a too-large cost only refuses this request.
      if (this.day.exhausted(now)) this.pauseInfo = { until: resumeAt, code: 'QUOTA_EXHAUSTED', reason };
      return this.pausedError({ until: resumeAt, code: 'QUOTA_EXHAUSTED', reason }, now);
    }
    return undefined;
  }

  state(): BudgetState {
    const now = this.now();
    const windows = this.sliding.map((window) => window.state(now));
    if (this.day) windows.push(this.day.state(now));
    const state: BudgetState = { windows, queued: this.queue.length };
    const pause = this.activePause(now);
    if (pause) {
      state.pausedUntil = new Date(pause.until);
      state.pauseCode = pause.code;
      state.pauseReason = pause.reason;
    }
    if (this.heldUntil > now) state.heldUntil = new Date(this.heldUntil);
    return state;
  }

  private activePause(now: number): Pause | undefined {
    if (this.pauseInfo && now >= this.pauseInfo.until) this.pauseInfo = undefined;
    return this.pauseInfo;
  }

  private waitMs(cost: number): number {
    const now = this.now();
    let wait = Math.max(0, this.heldUntil - now);
    for (const window of this.sliding) wait = Math.max(wait, window.waitMs(now, cost));
    return wait;
  }

  private record(cost: number): void {
    const now = this.now();
    for (const window of this.sliding) window.record(now, cost);
    this.day?.record(now, cost);
  }

  private wake(): void {
    this.wakeUp?.abort();
  }

  private rejectQueued(): void {
    for (const waiter of this.queue.splice(0)) {
      waiter.detach();
      waiter.reject(this.refusal(waiter.cost) ?? this.cancelled('request refused'));
    }
  }

  /** Grants the queue head whenever it fits; sleeps (wakeable) until it does. One pump at a time. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const head = this.queue[0];
        const refusal = this.refusal(head.cost);
        if (refusal) {
          this.queue.shift();
          head.detach();
          head.reject(refusal);
          continue;
        }
        const wait = this.waitMs(head.cost);
        if (wait === 0) {
          this.queue.shift();
          head.detach();
          this.record(head.cost);
          head.resolve();
          continue;
        }
        const wakeUp = new AbortController();
        this.wakeUp = wakeUp;
        try {
          await this.sleep(wait, wakeUp.signal);
        } catch {
          // Woken early: re-evaluate the (possibly new) head.
        } finally {
          if (this.wakeUp === wakeUp) this.wakeUp = undefined;
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private pausedError(pause: Pause, now: number): ProviderError {
    const resumeAt = new Date(pause.until);
    return new ProviderError({
      provider: this.provider,
      code: pause.code,
      message: `${this.provider}: ${pause.code === 'QUOTA_EXHAUSTED' ? 'quota exhausted' : 'rate limited'} (${pause.reason}); paused until ${resumeAt.toISOString()}, request not sent`,
      retryable: true,
      retryAfterMs: Math.max(0, pause.until - now),
      resumeAt,
      attempts: 0,
    });
  }

  private cancelled(why: string): ProviderError {
    return new ProviderError({ provider: this.provider, code: 'CANCELLED', message: `${this.provider}: ${why}`, attempts: 0 });
  }

  private badCost(why: string): ProviderError {
    return new ProviderError({ provider: this.provider, code: 'BAD_REQUEST', message: `${this.provider}: ${why}`, attempts: 0 });
  }
}

const WINDOW_LABEL: Record<BudgetWindowName, string> = { second: 's', minute: 'min', hour: 'h', day: 'day' };

/** Short text for a node status: "3/4 min · 497/500 day · 2 queued" (remaining/limit), or the pause. */
export function describeBudget(state: BudgetState): string {
  if (state.pausedUntil) {
    const what = state.pauseCode === 'QUOTA_EXHAUSTED' ? 'quota exhausted' : 'rate limited';
    return `${what} until ${state.pausedUntil.toISOString().slice(0, 16)}Z`;
  }
  const parts = state.windows.map((window) => `${window.remaining}/${window.limit} ${WINDOW_LABEL[window.window]}`);
  if (state.queued > 0) parts.push(`${state.queued} queued`);
  return parts.join(' · ');
}
