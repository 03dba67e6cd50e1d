import assert from 'node:assert/strict';
import { createHttpClient, ProviderError, type HttpClientOptions } from '../../../lib/core/http';
import { ManualClock, startFakeServer, type FakeRequest, type FakeServer } from '../../helpers/fake-server';

/** Largest number of requests the fake saw inside any window [t, t + windowMs). */
function maxInAnyWindow(requests: FakeRequest[], windowMs: number): number {
  let max = 0;
  for (const opening of requests) {
    const inside = requests.filter((request) => request.at >= opening.at && request.at < opening.at + windowMs).length;
    max = Math.max(max, inside);
  }
  return max;
}

const VT_QUOTA_BODY = { error: { code: 'QuotaExceededError', message: 'Quota exceeded' } };

describe('http client: budgets and quota pauses', () => {
  let fake: FakeServer;
  let clock: ManualClock;

  afterEach(async () => {
    await fake.close();
  });

  const client = (extra: Partial<HttpClientOptions> = {}) =>
    createHttpClient({ provider: 'virustotal', baseURL: fake.url, now: clock.now, sleep: clock.sleep, proxy: false, ...extra });

  describe('with a manual clock', () => {
    beforeEach(async () => {
      clock = new ManualClock(Date.UTC(2026, 0, 15, 12, 0, 0));
      fake = await startFakeServer({ now: clock.now });
      fake.route('GET', /^\/ip_addresses\//, { status: 200, body: { data: { id: 'x' } } });
    });

    it('VirusTotal 4/min: extra requests wait in the queue (none fail) and the vendor never sees more than 4 a minute', async () => {
      const vt = client({ budget: { perMinute: 4 } });
      const calls = Array.from({ length: 10 }, (_, i) => vt.request({ url: `/ip_addresses/198.51.100.${i}` }));
      await fake.waitForRequests(4);
      await Promise.all(calls.slice(0, 4));
      assert.equal(fake.count(), 4, 'the fifth request waits for the window');
      assert.equal(vt.budgetState().queued, 6);
      assert.equal(vt.budgetState().windows[0].remaining, 0);

      await clock.advance(60_000);
      await fake.waitForRequests(8);
      await Promise.all(calls.slice(4, 8));
      assert.equal(fake.count(), 8);

      await clock.advance(60_000);
      const results = await Promise.all(calls);
      assert.ok(results.every((result) => result.status === 200));
      assert.equal(fake.count(), 10);
      assert.equal(maxInAnyWindow(fake.requests, 60_000), 4);
      // FIFO: requests reached the vendor in the order they were made.
      assert.deepEqual(
        fake.requests.map((request) => request.path),
        Array.from({ length: 10 }, (_, i) => `/ip_addresses/198.51.100.${i}`),
      );
    });

    it('a bounded queue rejects the overflow with RATE_LIMITED, without sending it', async () => {
      const vt = client({ budget: { perMinute: 1, maxQueue: 2 } });
      const calls = [0, 1, 2].map((i) => vt.request({ url: `/ip_addresses/198.51.100.${i}` }));
      await calls[0];
      await assert.rejects(vt.request({ url: '/ip_addresses/198.51.100.9' }), (error: ProviderError) => error.code === 'RATE_LIMITED' && error.attempts === 0);
      await clock.advance(120_000);
      await Promise.all(calls);
      assert.equal(fake.count(), 3);
      assert.equal(fake.requestsTo('GET', '/ip_addresses/198.51.100.9').length, 0);
    });
  });

  describe('quota exhaustion (auto-advancing clock)', () => {
    beforeEach(async () => {
      clock = new ManualClock(Date.UTC(2026, 0, 15, 21, 30, 0), true);
      fake = await startFakeServer({ now: clock.now });
    });

    it('VirusTotal QuotaExceededError: QUOTA_EXHAUSTED until the next UTC midnight; no failure storm; resumes after', async () => {
      let exhausted = true;
      fake.route('GET', /^\/files\//, () => (exhausted ? { status: 429, body: VT_QUOTA_BODY } : { status: 200, body: { data: {} } }));
      const vt = client({ budget: { perMinute: 4, perDay: 500 } });
      const midnight = new Date(Date.UTC(2026, 0, 16, 0, 0, 0));

      await assert.rejects(vt.request({ url: '/files/aa' }), (error: ProviderError) => {
        assert.equal(error.code, 'QUOTA_EXHAUSTED');
        assert.equal(error.status, 429);
        assert.equal(error.vendorCode, 'QuotaExceededError');
        assert.equal(error.resumeAt?.toISOString(), midnight.toISOString());
        assert.equal(error.retryAfterMs, midnight.getTime() - clock.now());
        assert.equal(error.attempts, 1, 'a quota answer is not retried');
        return true;
      });
      assert.equal(fake.count(), 1);

      const storm = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => vt.request({ url: `/files/${i}` })));
      assert.ok(storm.every((outcome) => outcome.status === 'rejected' && (outcome.reason as ProviderError).code === 'QUOTA_EXHAUSTED'));
      assert.ok(storm.every((outcome) => outcome.status === 'rejected' && (outcome.reason as ProviderError).resumeAt?.getTime() === midnight.getTime()));
      assert.equal(fake.count(), 1, 'zero requests after exhaustion');
      const state = vt.budgetState();
      assert.equal(state.pausedUntil?.toISOString(), midnight.toISOString());
      assert.equal(state.pauseCode, 'QUOTA_EXHAUSTED');

      exhausted = false;
      await clock.advanceTo(midnight.getTime());
      const result = await vt.request({ url: '/files/bb' });
      assert.equal(result.status, 200);
      assert.equal(fake.count(), 2);
      assert.equal(vt.budgetState().pausedUntil, undefined);
    });

    it('a 429 whose hint reaches past the next day reset is a quota (AbuseIPDB-style), paused until the hint', async () => {
      const untilHint = Date.UTC(2026, 0, 16, 0, 0, 30);
      fake.route('GET', '/check', () => ({
        status: 429,
        headers: { 'retry-after': String(Math.ceil((untilHint - clock.now()) / 1000)) },
        body: { errors: [{ detail: 'Too many requests.', status: 429 }] },
      }));
      const abuse = client({ provider: 'abuseipdb' });
      await assert.rejects(abuse.request({ url: '/check', params: { ipAddress: '198.51.100.1' } }), (error: ProviderError) => {
        assert.equal(error.code, 'QUOTA_EXHAUSTED');
        assert.equal(error.resumeAt?.getTime(), untilHint);
        return true;
      });
      await assert.rejects(abuse.request({ url: '/check' }), (error: ProviderError) => error.code === 'QUOTA_EXHAUSTED');
      assert.equal(fake.count(), 1);
    });

    it('recognises an AbuseIPDB "Daily rate limit" body without any hint', async () => {
      fake.route('GET', '/check', {
        status: 429,
        body: { errors: [{ detail: 'Daily rate limit of 1000 requests exceeded for this endpoint.', status: 429 }] },
      });
      await assert.rejects(client({ provider: 'abuseipdb' }).request({ url: '/check' }), (error: ProviderError) => error.code === 'QUOTA_EXHAUSTED');
    });

    it('isQuota overrides the built-in recognition', async () => {
      fake.route('GET', '/gn', { status: 429, body: { message: 'rate limit' } });
      const greynoise = client({ provider: 'greynoise', isQuota: (status) => status === 429 });
      await assert.rejects(greynoise.request({ url: '/gn' }), (error: ProviderError) => error.code === 'QUOTA_EXHAUSTED');
      assert.equal(fake.count(), 1);
    });

    it('checkBody quota:true on a 200 pauses the client the same way', async () => {
      fake.route('POST', '/api/v1/', { status: 200, body: { query_status: 'quota_exceeded' } });
      const threatfox = client({
        provider: 'threatfox',
        checkBody: (data) => {
          const status = (data as { query_status?: string }).query_status;
          return status === 'quota_exceeded' ? { code: 'QUOTA_EXHAUSTED', message: status, quota: true } : undefined;
        },
      });
      await assert.rejects(threatfox.request({ method: 'POST', url: '/api/v1/', data: { query: 'search_ioc' } }), (error: ProviderError) => {
        assert.equal(error.code, 'QUOTA_EXHAUSTED');
        assert.equal(error.resumeAt?.toISOString(), '2026-01-16T00:00:00.000Z');
        return true;
      });
      await assert.rejects(threatfox.request({ method: 'POST', url: '/api/v1/', data: {} }), (error: ProviderError) => error.code === 'QUOTA_EXHAUSTED');
      assert.equal(fake.count(), 1);
    });

    it('the local per-day budget exhausted behaves like a quota pause (no network)', async () => {
      fake.route('GET', /^\/ip\//, { status: 200, body: {} });
      const abuse = client({ provider: 'abuseipdb', budget: { perDay: 3 } });
      for (let i = 0; i < 3; i++) await abuse.request({ url: `/ip/${i}` });
      await assert.rejects(abuse.request({ url: '/ip/3' }), (error: ProviderError) => {
        assert.equal(error.code, 'QUOTA_EXHAUSTED');
        assert.equal(error.resumeAt?.toISOString(), '2026-01-16T00:00:00.000Z');
        assert.equal(error.attempts, 0);
        return true;
      });
      assert.equal(fake.count(), 3);
      assert.equal(abuse.budgetState().windows[0].remaining, 0);
    });

    it('resume() lifts a quota pause early (new API key)', async () => {
      let calls = 0;
      fake.route('GET', '/files/x', () => (calls++ === 0 ? { status: 429, body: VT_QUOTA_BODY } : { status: 200, body: {} }));
      const vt = client();
      await assert.rejects(vt.request({ url: '/files/x' }));
      vt.resume();
      assert.equal((await vt.request({ url: '/files/x' })).status, 200);
      assert.equal(fake.count(), 2);
    });

    it('close() cancels requests waiting for budget', async () => {
      fake.route('GET', '/x', { status: 200, body: {} });
      const manual = new ManualClock();
      const limited = createHttpClient({ provider: 'p', baseURL: fake.url, now: manual.now, sleep: manual.sleep, proxy: false, budget: { perMinute: 1 } });
      await limited.request({ url: '/x' });
      const waiting = limited.request({ url: '/x' });
      limited.close();
      await assert.rejects(waiting, (error: ProviderError) => error.code === 'CANCELLED');
      assert.equal(fake.count(), 1);
    });
  });
});
