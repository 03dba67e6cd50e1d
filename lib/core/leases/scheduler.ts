/**
 * The expiry scheduler: one timer for the earliest due lease (not one per lease), re-armed when a
 * change makes something due earlier; a wake-up with nothing due just re-arms. The delay is capped at
 * one hour so wall-clock jumps are caught up. It only knows keys, times and groups; what "due" means
 * is the engine's (SchedulerContext.expire).
 */

const HOUR_MS = 3_600_000;
/** Longest single timer: wake at least hourly so wall-clock jumps cannot postpone an expiry for long. */
const MAX_TIMER_DELAY_MS = HOUR_MS;

export interface SchedulerContext {
  now(): number;
  setTimer(callback: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
  /** Undo what is due among these keys of one group (kind + provider). */
  expire(group: DueGroup, keys: string[]): Promise<void>;
  /** A whole pass failed (the store is down): how long to wait before the next. */
  readonly retryBaseMs: number;
  warn(message: string): void;
  describe(error: unknown): string;
}

export interface DueGroup {
  kind: string;
  provider: string;
}

interface DueEntry extends DueGroup {
  at: number;
}

export class ExpiryScheduler {
  private readonly due = new Map<string, DueEntry>();
  private timer: unknown;
  private timerAt: number | undefined;
  /** After a pass failed as a whole (store down): no new pass before this time. */
  private pauseUntil = 0;
  private enabled = false;
  private stopped = false;
  private rerun = false;
  /** The pass in progress, if any. */
  running: Promise<void> | undefined;

  constructor(private readonly ctx: SchedulerContext) {}

  /** When the scheduler will next look at a lease (epoch ms), or undefined when nothing is armed. */
  get nextWakeAt(): number | undefined {
    return this.timerAt;
  }

  /** Start arming timers (after recovery loaded the leases). */
  enable(): void {
    this.enabled = true;
  }

  stop(): void {
    this.stopped = true;
    this.disarm();
  }

  /** Note a key's next due time (undefined: nothing due) and re-arm when the earliest one changed. */
  set(key: string, at: number | undefined, group: DueGroup): void {
    const previous = this.due.get(key);
    if (at === undefined) this.due.delete(key);
    else this.due.set(key, { at, kind: group.kind, provider: group.provider });
    const wasArmedFor = previous !== undefined && this.timerAt !== undefined && previous.at <= this.timerAt;
    if (wasArmedFor && (at === undefined || at > previous.at)) {
      // The timer was set for this key, which now ends later or not at all: find the new earliest (O(n), rare).
      this.disarm();
      this.armNext();
    } else if (at !== undefined) {
      this.arm(at);
    }
  }

  /** Forget a key without re-arming (its lease is gone). */
  forget(key: string): void {
    this.due.delete(key);
  }

  /** Load a due time without arming (recovery fills the index before the first pass). */
  load(key: string, at: number, group: DueGroup): void {
    this.due.set(key, { at, kind: group.kind, provider: group.provider });
  }

  /** Make a known key due now (a reconciliation saw it expired but still in place). */
  kick(key: string): boolean {
    const entry = this.due.get(key);
    if (!entry) return false;
    entry.at = Math.min(entry.at, this.ctx.now());
    return true;
  }

  /** Undo everything due now; one pass at a time (a request during a pass triggers another). */
  runDue(): Promise<void> {
    if (!this.enabled || this.stopped) return Promise.resolve();
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    this.disarm();
    const pass = (async () => {
      do {
        this.rerun = false;
        await this.expireDue();
      } while (this.rerun && !this.stopped);
    })()
      .catch((error: unknown) => {
        this.pauseUntil = this.ctx.now() + this.ctx.retryBaseMs;
        this.ctx.warn(`lease expiry pass failed, retrying later: ${this.ctx.describe(error)}`);
      })
      .finally(() => {
        this.running = undefined;
        this.armNext();
      });
    this.running = pass;
    return pass;
  }

  private async expireDue(): Promise<void> {
    const now = this.ctx.now();
    const groups = new Map<string, { group: DueGroup; keys: string[] }>();
    for (const [key, entry] of this.due) {
      if (entry.at > now) continue;
      const id = `${entry.kind}\u0000${entry.provider}`;
      let group = groups.get(id);
      if (!group) groups.set(id, (group = { group: { kind: entry.kind, provider: entry.provider }, keys: [] }));
      group.keys.push(key);
    }
    // Groups in parallel (a slow provider must not hold up the others).
    await Promise.all([...groups.values()].map(({ group, keys }) => this.ctx.expire(group, keys)));
  }

  private arm(at: number): void {
    if (!this.enabled || this.stopped || this.running) return; // a running pass re-arms when it ends
    const wakeAt = Math.max(at, this.pauseUntil);
    if (this.timerAt !== undefined && this.timerAt <= wakeAt) return;
    this.disarm();
    const now = this.ctx.now();
    const delay = Math.min(Math.max(0, wakeAt - now), MAX_TIMER_DELAY_MS);
    this.timerAt = now + delay;
    this.timer = this.ctx.setTimer(() => {
      this.timer = undefined;
      this.timerAt = undefined;
      void this.runDue();
    }, delay);
  }

  private disarm(): void {
    if (this.timer !== undefined) this.ctx.clearTimer(this.timer);
    this.timer = undefined;
    this.timerAt = undefined;
  }

  private armNext(): void {
    let earliest = Infinity;
    for (const { at } of this.due.values()) if (at < earliest) earliest = at;
    if (earliest !== Infinity) this.arm(earliest);
  }
}
