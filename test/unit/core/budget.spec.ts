import assert from 'node:assert/strict';
import { Budget, describeBudget, nextDayReset } from '../../../lib/core/budget';
import { ProviderError } from '../../../lib/core/errors';
import { ManualClock, settle } from '../../helpers/fake-server';

/** Starts acquire() calls and records, per call, when (virtual time) it was granted or how it failed. */
function track(budget: Budget, clock: ManualClock, count: number, signalFor?: (i: number) => AbortSignal | undefined) {
  const grantedAt: (number | undefined)[] = new Array(count).fill(undefined);
  const failures: (ProviderError | undefined)[] = new Array(count).fill(undefined);
  const order: number[] = [];
  const all = Array.from({ length: count }, (_, i) =>
    budget.acquire(1, signalFor?.(i)).then(
      () => {
        grantedAt[i] = clock.now();
        order.push(i);
      },
      (error: ProviderError) => {
        failures[i] = error;
      },
    ),
  );
  return { grantedAt, failures, order, done: Promise.all(all) };
}

describe('Budget', () => {
  it('grants up to the per-minute limit at once, then queues FIFO on a sliding window', async () => {
    const clock = new ManualClock();
    const start = clock.now();
    const budget = new Budget({ provider: 'vt', limits: { perMinute: 4 }, now: clock.now, sleep: clock.sleep });
    const run = track(budget, clock, 10);
    await settle();
    assert.deepEqual(run.order, [0, 1, 2, 3]);
    assert.equal(budget.state().queued, 6);

    await clock.advance(59_999);
    assert.equal(run.order.length, 4, 'nothing frees up before the window has passed');
    await clock.advance(1);
    assert.deepEqual(run.order, [0, 1, 2, 3, 4, 5, 6, 7]);
    await clock.advance(60_000);
    await run.done;
    assert.deepEqual(run.order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(
      run.grantedAt.map((at) => (at as number) - start),
      [0, 0, 0, 0, 60_000, 60_000, 60_000, 60_000, 120_000, 120_000],
    );
    assert.ok(run.failures.every((failure) => failure === undefined));
  });

  it('slides: a unit frees exactly one window after it was spent, not at a fixed boundary', async () => {
    const clock = new ManualClock();
    const budget = new Budget({ provider: 'p', limits: { perMinute: 2 }, now: clock.now, sleep: clock.sleep });
    await budget.acquire();
    await clock.advance(40_000);
    await budget.acquire();
    const third = track(budget, clock, 1);
    await clock.advance(19_999); // t = 59.999 s: both still inside the last minute
    assert.equal(third.order.length, 0);
    await clock.advance(1); // t = 60 s: the first unit leaves the window
    assert.equal(third.order.length, 1);
    assert.deepEqual(
      budget.state().windows.map((w) => [w.window, w.used, w.remaining]),
      [['minute', 2, 0]],
    );
  });

  it('combines windows: the strictest one decides', async () => {
    const clock = new ManualClock();
    const start = clock.now();
    const budget = new Budget({ provider: 'p', limits: { perSecond: 2, perMinute: 3 }, now: clock.now, sleep: clock.sleep });
    const run = track(budget, clock, 4);
    await settle();
    assert.equal(run.order.length, 2);
    await clock.advance(1_000);
    assert.equal(run.order.length, 3);
    await clock.advance(58_999);
    assert.equal(run.order.length, 3);
    await clock.advance(1);
    await run.done;
    assert.deepEqual(
      run.grantedAt.map((at) => (at as number) - start),
      [0, 0, 1_000, 60_000],
    );
  });

  it('honours cost units', async () => {
    const clock = new ManualClock();
    const budget = new Budget({ provider: 'p', limits: { perMinute: 5 }, now: clock.now, sleep: clock.sleep });
    await budget.acquire(3);
    const big = budget.acquire(3).then(() => clock.now());
    await settle();
    assert.equal(budget.state().queued, 1);
    const start = clock.now();
    await clock.advance(60_000);
    assert.equal((await big) - start, 60_000);
    await assert.rejects(budget.acquire(6), (error: ProviderError) => error.code === 'BAD_REQUEST');
  });

  it('fails fast with QUOTA_EXHAUSTED when the local day budget is used up, until the UTC reset', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 15, 23, 0, 0));
    const budget = new Budget({ provider: 'abuseipdb', limits: { perDay: 3 }, now: clock.now, sleep: clock.sleep });
    for (let i = 0; i < 3; i++) await budget.acquire();
    await assert.rejects(budget.acquire(), (error: ProviderError) => {
      assert.equal(error.code, 'QUOTA_EXHAUSTED');
      assert.equal(error.resumeAt?.toISOString(), '2026-01-16T00:00:00.000Z');
      assert.equal(error.retryAfterMs, 3_600_000);
      assert.equal(error.attempts, 0);
      return true;
    });
    assert.equal(budget.state().pausedUntil?.toISOString(), '2026-01-16T00:00:00.000Z');
    assert.equal(budget.state().pauseCode, 'QUOTA_EXHAUSTED');
    assert.match(describeBudget(budget.state()), /quota exhausted until 2026-01-16T00:00Z/);

    await clock.advanceTo(Date.UTC(2026, 0, 16, 0, 0, 0));
    await budget.acquire();
    assert.equal(budget.state().pausedUntil, undefined);
    assert.deepEqual(
      budget.state().windows.map((w) => [w.window, w.used]),
      [['day', 1]],
    );
  });

  it('rejects requests still queued when the day budget runs out under them', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 15, 10, 0, 0));
    const budget = new Budget({ provider: 'vt', limits: { perMinute: 2, perDay: 3 }, now: clock.now, sleep: clock.sleep });
    const run = track(budget, clock, 5);
    await settle();
    await clock.advance(60_000);
    await run.done;
    assert.deepEqual(run.order, [0, 1, 2]);
    assert.deepEqual(
      run.failures.map((f) => f?.code),
      [undefined, undefined, undefined, 'QUOTA_EXHAUSTED', 'QUOTA_EXHAUSTED'],
    );
    assert.equal(run.failures[3]?.resumeAt?.toISOString(), '2026-01-16T00:00:00.000Z');
  });

  it('uses dayResetUtcHour for the day window', () => {
    assert.equal(nextDayReset(Date.UTC(2026, 0, 15, 6, 59), 7), Date.UTC(2026, 0, 15, 7));
    assert.equal(nextDayReset(Date.UTC(2026, 0, 15, 7, 0), 7), Date.UTC(2026, 0, 16, 7));
    assert.equal(nextDayReset(Date.UTC(2026, 11, 31, 23, 59)), Date.UTC(2027, 0, 1));
    const clock = new ManualClock(Date.UTC(2026, 0, 15, 3, 0));
    const budget = new Budget({ provider: 'p', limits: { perDay: 1, dayResetUtcHour: 5 }, now: clock.now, sleep: clock.sleep });
    assert.equal(budget.state().windows[0].resetsAt?.toISOString(), '2026-01-15T05:00:00.000Z');
  });

  it('rejects with RATE_LIMITED when the queue is full', async () => {
    const clock = new ManualClock();
    const budget = new Budget({ provider: 'p', limits: { perMinute: 1, maxQueue: 2 }, now: clock.now, sleep: clock.sleep });
    await budget.acquire();
    const queued = [budget.acquire(), budget.acquire()];
    await assert.rejects(budget.acquire(), (error: ProviderError) => error.code === 'RATE_LIMITED' && /queue full/.test(error.message));
    assert.equal(budget.state().queued, 2);
    await clock.advance(120_000);
    await Promise.all(queued);
  });

  it('removes a cancelled waiter and lets the next one move up', async () => {
    const clock = new ManualClock();
    const budget = new Budget({ provider: 'p', limits: { perMinute: 1 }, now: clock.now, sleep: clock.sleep });
    await budget.acquire();
    const controllers = [new AbortController(), new AbortController()];
    const run = track(budget, clock, 2, (i) => controllers[i].signal);
    await settle();
    controllers[0].abort();
    await settle();
    assert.equal(run.failures[0]?.code, 'CANCELLED');
    assert.equal(budget.state().queued, 1);
    await clock.advance(60_000);
    await run.done;
    assert.deepEqual(run.order, [1]);
  });

  it('pause() rejects queued and new requests fast; resume() lifts it', async () => {
    const clock = new ManualClock();
    const budget = new Budget({ provider: 'vt', limits: { perMinute: 1 }, now: clock.now, sleep: clock.sleep });
    await budget.acquire();
    const run = track(budget, clock, 2);
    await settle();
    const until = new Date(clock.now() + 3_600_000);
    budget.pause(until, 'QUOTA_EXHAUSTED', 'vendor said so');
    await run.done;
    assert.deepEqual(
      run.failures.map((f) => f?.code),
      ['QUOTA_EXHAUSTED', 'QUOTA_EXHAUSTED'],
    );
    assert.equal(run.failures[0]?.resumeAt?.getTime(), until.getTime());
    await assert.rejects(budget.acquire(), (error: ProviderError) => error.code === 'QUOTA_EXHAUSTED');
    budget.resume();
    assert.equal(budget.state().pausedUntil, undefined);
    await clock.advance(60_000);
    await budget.acquire();
  });

  it('hold() makes everyone wait (not fail) until the hint has passed', async () => {
    const clock = new ManualClock();
    const start = clock.now();
    const budget = new Budget({ provider: 'p', now: clock.now, sleep: clock.sleep });
    budget.hold(start + 5_000);
    assert.equal(budget.state().heldUntil?.getTime(), start + 5_000);
    const run = track(budget, clock, 3);
    await clock.advance(4_999);
    assert.equal(run.order.length, 0);
    await clock.advance(1);
    await run.done;
    assert.deepEqual(run.order, [0, 1, 2]);
    assert.ok(run.grantedAt.every((at) => at === start + 5_000));
  });

  it('without limits grants at once and keeps no queue', async () => {
    const clock = new ManualClock();
    const budget = new Budget({ provider: 'p', now: clock.now, sleep: clock.sleep });
    await Promise.all(Array.from({ length: 50 }, () => budget.acquire()));
    assert.equal(clock.sleeps.length, 0);
    assert.deepEqual(budget.state(), { windows: [], queued: 0 });
  });

  it('close() cancels queued requests and refuses new ones', async () => {
    const clock = new ManualClock();
    const budget = new Budget({ provider: 'p', limits: { perSecond: 1 }, now: clock.now, sleep: clock.sleep });
    await budget.acquire();
    const run = track(budget, clock, 1);
    await settle();
    budget.close();
    await run.done;
    assert.equal(run.failures[0]?.code, 'CANCELLED');
    await assert.rejects(budget.acquire(), (error: ProviderError) => error.code === 'CANCELLED');
  });

  it('describes itself for a node status', async () => {
    const clock = new ManualClock();
    const budget = new Budget({ provider: 'vt', limits: { perMinute: 4, perDay: 500 }, now: clock.now, sleep: clock.sleep });
    await budget.acquire();
    assert.equal(describeBudget(budget.state()), '3/4 min · 499/500 day');
  });

  it('refuses nonsense limits', () => {
    assert.throws(() => new Budget({ provider: 'p', limits: { perMinute: 0 } }), RangeError);
    assert.throws(() => new Budget({ provider: 'p', limits: { dayResetUtcHour: 24 } }), RangeError);
  });
});
