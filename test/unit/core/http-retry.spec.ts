import assert from 'node:assert/strict';
import { createHttpClient, ProviderError, type HttpClientOptions, type RetryEvent } from '../../../lib/core/http';
import { ManualClock, startFakeServer, type FakeServer } from '../../helpers/fake-server';

describe('http client: retry policy and Retry-After hints', () => {
  let fake: FakeServer;
  let clock: ManualClock;

  beforeEach(async () => {
    // autoAdvance: every injected sleep moves virtual time at once, so backoff never sleeps for real.
    clock = new ManualClock(Date.UTC(2026, 10, 27, 10, 0, 0), true);
    fake = await startFakeServer({ now: clock.now });
  });
  afterEach(async () => {
    await fake.close();
  });

  const client = (extra: Partial<HttpClientOptions> = {}) =>
    createHttpClient({ provider: 'test', baseURL: fake.url, now: clock.now, sleep: clock.sleep, proxy: false, ...extra });

  it('retries a GET on 503 with capped exponential backoff and full jitter, then succeeds', async () => {
    fake.route('GET', '/flaky', [{ status: 503 }, { status: 502 }, { status: 504 }, { status: 200, body: { ok: true } }]);
    const events: RetryEvent[] = [];
    const result = await client({ random: () => 0.5, retry: { baseDelayMs: 400, maxDelayMs: 1_000 }, onRetry: (event) => events.push(event) }).request({
      url: '/flaky',
    });
    assert.deepEqual(result.data, { ok: true });
    assert.equal(fake.count(), 4);
    // half of min(cap, base * 2^(n-1)): 400, 800, 1000(capped)
    assert.deepEqual(clock.sleeps, [200, 400, 500]);
    assert.deepEqual(
      events.map((event) => [event.attempt, event.status, event.code]),
      [
        [1, 503, 'SERVER'],
        [2, 502, 'SERVER'],
        [3, 504, 'SERVER'],
      ],
    );
  });

  it('full jitter stays within [0, ceiling)', async () => {
    fake.route('GET', '/down', { status: 503 });
    const draws = [0, 0.999, 0.25];
    await assert.rejects(client({ random: () => draws.shift() ?? 0, retry: { baseDelayMs: 1_000, maxAttempts: 4 } }).request({ url: '/down' }));
    assert.deepEqual(clock.sleeps, [0, 1_998, 1_000]);
  });

  it('gives up after maxAttempts and reports the attempts', async () => {
    fake.route('GET', '/down', { status: 503, body: { error: 'maintenance' } });
    await assert.rejects(client({ retry: { maxAttempts: 3 } }).request({ url: '/down' }), (error: ProviderError) => {
      assert.equal(error.code, 'SERVER');
      assert.equal(error.status, 503);
      assert.equal(error.retryable, true);
      assert.equal(error.attempts, 3);
      return true;
    });
    assert.equal(fake.count(), 3);
  });

  it('retries 500 only for idempotent calls', async () => {
    fake.route('GET', '/e500', [{ status: 500 }, { status: 200, body: 1 }]);
    fake.route('POST', '/e500', { status: 500 });
    assert.equal((await client().request({ url: '/e500' })).status, 200);
    assert.equal(fake.count('GET', '/e500'), 2);
    // Even with a dedup key a 500 on a write is not retried: the write may have half-happened.
    await assert.rejects(client().request({ method: 'POST', url: '/e500', dedupKey: 'k1' }), (error: ProviderError) => !error.retryable);
    assert.equal(fake.count('POST', '/e500'), 1);
  });

  it('does not retry a POST without a dedup key; does with one', async () => {
    fake.route('POST', '/write', { status: 503 });
    await assert.rejects(client().request({ method: 'POST', url: '/write', data: { a: 1 } }), (error: ProviderError) => error.retryable === false);
    assert.equal(fake.count('POST', '/write'), 1);

    fake.route('POST', '/write2', [{ status: 503 }, { status: 201, body: { id: 7 } }]);
    const result = await client().request({ method: 'POST', url: '/write2', data: { a: 1 }, dedupKey: 'alert-42' });
    assert.equal(result.status, 201);
    assert.equal(fake.count('POST', '/write2'), 2);
  });

  it('treats PUT and DELETE as idempotent, and honours idempotent: true on a POST', async () => {
    for (const method of ['PUT', 'DELETE', 'POST'] as const) {
      fake.route(method, '/idem', [{ status: 503 }, { status: 200, body: method }]);
      const result = await client().request({ method, url: '/idem', idempotent: method === 'POST' ? true : undefined });
      assert.equal(result.data, method);
      assert.equal(fake.count(method, '/idem'), 2);
    }
  });

  it('does not retry 4xx other than 408/425/429', async () => {
    fake.route('GET', '/e408', [{ status: 408 }, { status: 200, body: 'ok' }]);
    assert.equal((await client().request({ url: '/e408' })).data, 'ok');
    assert.equal(fake.count('GET', '/e408'), 2);
    fake.route('GET', '/e401', [{ status: 401 }, { status: 200 }]);
    await assert.rejects(client().request({ url: '/e401' }), (error: ProviderError) => error.code === 'AUTH');
    assert.equal(fake.count('GET', '/e401'), 1);
  });

  const hintCases: {
    name: string;
    reply: () => { status: number; headers?: Record<string, string>; body?: unknown };
    waitMs: number;
    options?: Partial<HttpClientOptions>;
  }[] = [
    { name: 'Retry-After delta-seconds', reply: () => ({ status: 429, headers: { 'retry-after': '3' } }), waitMs: 3_000 },
    { name: 'Retry-After HTTP-date', reply: () => ({ status: 429, headers: { 'retry-after': new Date(clock.now() + 4_000).toUTCString() } }), waitMs: 4_000 },
    {
      name: 'CrowdStrike X-Ratelimit-Retryafter epoch',
      reply: () => ({ status: 429, headers: { 'x-ratelimit-retryafter': String(Math.floor(clock.now() / 1000) + 6) } }),
      waitMs: 6_000,
    },
    {
      name: 'GitHub 403 + X-RateLimit-Remaining 0 + reset epoch',
      reply: () => ({ status: 403, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(clock.now() / 1000) + 9) } }),
      waitMs: 9_000,
    },
    { name: 'Jira ISO-8601 X-RateLimit-Reset', reply: () => ({ status: 429, headers: { 'x-ratelimit-reset': '2026-11-27T10:01Z' } }), waitMs: 60_000 },
    {
      name: 'Telegram body parameters.retry_after',
      reply: () => ({ status: 429, body: { ok: false, error_code: 429, parameters: { retry_after: 5 } } }),
      waitMs: 5_000,
    },
    { name: '503 with Retry-After', reply: () => ({ status: 503, headers: { 'retry-after': '2' } }), waitMs: 2_000 },
    {
      name: 'a caller-named vendor header',
      reply: () => ({ status: 429, headers: { 'x-wait-seconds': '7' } }),
      waitMs: 7_000,
      options: { retryAfterHeaders: ['X-Wait-Seconds'] },
    },
  ];
  for (const hintCase of hintCases) {
    it(`waits out the hint: ${hintCase.name}`, async () => {
      const start = clock.now();
      let first = true;
      fake.route('GET', '/limited', () => {
        if (!first) return { status: 200, body: { ok: true } };
        first = false;
        return hintCase.reply();
      });
      const result = await client({ random: () => 0.99, ...hintCase.options }).request({ url: '/limited' });
      assert.equal(result.status, 200);
      const [firstRequest, retry] = fake.requests;
      assert.equal(fake.count(), 2);
      assert.equal(firstRequest.at, start);
      assert.equal(retry.at - firstRequest.at, hintCase.waitMs, 'retried exactly when the vendor said, not on the backoff schedule');
    });
  }

  it('a hint longer than maxRetryAfterMs is not waited out: RATE_LIMITED + retryAfterMs, later calls fail fast', async () => {
    fake.route('GET', '/limited', { status: 429, headers: { 'retry-after': '600' } });
    const limited = client({ retry: { maxRetryAfterMs: 120_000 } });
    await assert.rejects(limited.request({ url: '/limited' }), (error: ProviderError) => {
      assert.equal(error.code, 'RATE_LIMITED');
      assert.equal(error.retryAfterMs, 600_000);
      assert.equal(error.resumeAt?.getTime(), clock.now() + 600_000);
      assert.equal(error.attempts, 1);
      return true;
    });
    assert.equal(clock.sleeps.length, 0, 'nothing waited');
    await assert.rejects(limited.request({ url: '/limited' }), (error: ProviderError) => error.code === 'RATE_LIMITED' && error.attempts === 0);
    assert.equal(fake.count(), 1, 'the second call never reached the vendor');
    assert.equal(limited.budgetState().pauseCode, 'RATE_LIMITED');
  });

  it('a 429 without hint backs off like any retryable failure and is RATE_LIMITED, not quota', async () => {
    fake.route('GET', '/vt', [
      { status: 429, body: { error: { code: 'TooManyRequestsError', message: 'slow down' } } },
      { status: 200, body: {} },
    ]);
    const vt = client({ random: () => 0.5 });
    const result = await vt.request({ url: '/vt' });
    assert.equal(result.status, 200);
    assert.deepEqual(clock.sleeps, [250]);
    assert.equal(vt.budgetState().pausedUntil, undefined);
  });

  it('a 429 on a POST without dedup key is not retried but is marked retryable with the hint', async () => {
    fake.route('POST', '/msg', { status: 429, headers: { 'retry-after': '4' } });
    await assert.rejects(client().request({ method: 'POST', url: '/msg', data: {} }), (error: ProviderError) => {
      assert.equal(error.code, 'RATE_LIMITED');
      assert.equal(error.retryable, true);
      assert.equal(error.retryAfterMs, 4_000);
      return true;
    });
    assert.equal(fake.count(), 1);
  });

  it('a short hint holds back every request of the provider, not only the one that got it', async () => {
    let calls = 0;
    fake.route('GET', '/a', () => (calls++ === 0 ? { status: 429, headers: { 'retry-after': '10' } } : { status: 200, body: 'a' }));
    fake.route('GET', '/b', { status: 200, body: 'b' });
    const shared = client();
    const start = clock.now();
    await shared.request({ url: '/a' });
    await shared.request({ url: '/b' });
    assert.deepEqual(
      fake.requests.map((request) => [request.path, request.at - start]),
      [
        ['/a', 0],
        ['/a', 10_000],
        ['/b', 10_000],
      ],
    );
  });

  it('cancelling during backoff gives CANCELLED without another attempt', async () => {
    const manual = new ManualClock();
    fake.route('GET', '/down', { status: 503 });
    const controller = new AbortController();
    const pending = createHttpClient({ provider: 'test', baseURL: fake.url, now: manual.now, sleep: manual.sleep, proxy: false }).request({
      url: '/down',
      signal: controller.signal,
    });
    await fake.waitForRequests(1);
    while (manual.pending === 0) await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    await assert.rejects(pending, (error: ProviderError) => error.code === 'CANCELLED' && error.attempts === 1);
    assert.equal(fake.count(), 1);
  });
});
