import assert from 'node:assert/strict';
import { createAbuseIpdb, levelFromCheck } from '../../../lib/intel/providers/abuseipdb';
import type { IntelProvider, IntelProviderOptions } from '../../../lib/intel/types';
import { ManualClock } from '../../helpers/fake-server';
import { rejection } from '../../helpers/provider-spec';
import { abuseHang, abuseServerError, abuseTooManyRequests, startAbuseIpdbFake, type AbuseIpdbFake } from '../../fakes/abuseipdb';

const START = Date.UTC(2026, 0, 15, 12, 0, 0);
const NEXT_MIDNIGHT = Date.UTC(2026, 0, 16, 0, 0, 0);

describe('intel provider: AbuseIPDB v2 check (contract fake)', () => {
  let fake: AbuseIpdbFake;
  let clock: ManualClock;
  let abuse: IntelProvider;

  async function setUp(autoAdvance: boolean, extra: Partial<IntelProviderOptions> = {}) {
    clock = new ManualClock(START, autoAdvance);
    fake = await startAbuseIpdbFake({ now: clock.now });
    fake.addIp('203.0.113.9', {
      abuseConfidenceScore: 100,
      totalReports: 250,
      numDistinctUsers: 61,
      lastReportedAt: '2026-01-15T09:12:44+00:00',
      countryCode: 'RU',
      isp: 'Bad Hosting LLC',
      isTor: false,
    });
    fake.addIp('198.51.100.20', { abuseConfidenceScore: 40, totalReports: 7, numDistinctUsers: 3, lastReportedAt: '2026-01-10T00:00:00+00:00' });
    fake.addIp('198.51.100.21', { abuseConfidenceScore: 5, totalReports: 2, numDistinctUsers: 1, lastReportedAt: '2025-12-01T00:00:00+00:00' });
    fake.addIp('192.0.2.53', { abuseConfidenceScore: 0, totalReports: 3, isWhitelisted: true, isp: 'Example Public DNS' });
    fake.addIp('2001:db8::bad', { abuseConfidenceScore: 80, totalReports: 12, numDistinctUsers: 5 });
    abuse = createAbuseIpdb({ baseURL: fake.baseURL, apiKey: fake.apiKey, now: clock.now, sleep: clock.sleep, ...extra });
  }

  afterEach(async () => {
    await abuse?.close?.();
    await fake?.close();
  });

  describe('answers (manual clock)', () => {
    beforeEach(() => setUp(false));

    it('maps a high score to malicious with confidence = the score, and sends the documented request', async () => {
      const result = await abuse.lookup({ type: 'ipv4', value: '203.0.113.9' });
      assert.equal(result.level, 'malicious');
      assert.equal(result.found, true);
      assert.equal(result.confidence, 100);
      assert.equal(result.provider, 'abuseipdb');
      assert.equal(result.summary, 'AbuseIPDB: abuse confidence 100%, 250 reports from 61 users, last 2026-01-15');
      assert.equal(result.link, 'https://www.abuseipdb.com/check/203.0.113.9');
      assert.deepEqual(result.evidence, {
        abuseConfidenceScore: 100,
        totalReports: 250,
        numDistinctUsers: 61,
        lastReportedAt: '2026-01-15T09:12:44+00:00',
        isTor: false,
        countryCode: 'RU',
        usageType: 'Data Center/Web Hosting/Transit',
        isp: 'Bad Hosting LLC',
        domain: 'example.net',
      });

      assert.deepEqual(fake.violations, []);
      const request = fake.answered[0];
      assert.equal(request.method, 'GET');
      assert.equal(request.path, '/api/v2/check');
      assert.equal(request.headers.key, fake.apiKey);
      assert.match(request.headers.accept, /application\/json/);
      assert.deepEqual(request.query, { ipAddress: '203.0.113.9', maxAgeInDays: '90' });
    });

    it('maps the thresholds: ≥ 25 suspicious, reported but low → benign, whitelisted → benign, no reports → unknown (not found)', async () => {
      const medium = await abuse.lookup({ type: 'ipv4', value: '198.51.100.20' });
      assert.equal(medium.level, 'suspicious');
      assert.equal(medium.confidence, 40);

      const low = await abuse.lookup({ type: 'ipv4', value: '198.51.100.21' });
      assert.equal(low.level, 'benign');
      assert.equal(low.found, true);
      assert.equal(low.summary, 'AbuseIPDB: abuse confidence 5%, 2 reports from 1 user, last 2025-12-01');

      const listed = await abuse.lookup({ type: 'ipv4', value: '192.0.2.53' });
      assert.equal(listed.level, 'benign');
      assert.equal(listed.evidence.isWhitelisted, true);
      assert.equal(listed.summary, 'AbuseIPDB: whitelisted (Example Public DNS)');

      const quiet = await abuse.lookup({ type: 'ipv4', value: '198.51.100.99' });
      assert.equal(quiet.level, 'unknown');
      assert.equal(quiet.found, false);
      assert.equal(quiet.confidence, 0);
      assert.equal(quiet.summary, 'AbuseIPDB: no reports in the last 90 days');

      assert.equal(levelFromCheck(75, 1, false), 'malicious');
      assert.equal(levelFromCheck(74, 1, false), 'suspicious');
      assert.equal(levelFromCheck(24, 1, false), 'benign');
      assert.equal(levelFromCheck(90, 10, true), 'benign');
      assert.deepEqual(fake.violations, []);
    });

    it('sends IPv6 addresses intact in the query', async () => {
      const result = await abuse.lookup({ type: 'ipv6', value: '2001:db8::bad' });
      assert.equal(result.level, 'malicious');
      assert.equal(fake.answered[0].query.ipAddress, '2001:db8::bad');
      assert.equal(result.link, 'https://www.abuseipdb.com/check/2001:db8::bad');
    });

    it('bad key: AUTH, not retried, and the key appears nowhere in the error', async () => {
      const wrongKey = 'wrong-abuse-key-0a1b2c3d4e5f60718293a4b5c6d7e8f9';
      const bad = createAbuseIpdb({ baseURL: fake.baseURL, apiKey: wrongKey, now: clock.now, sleep: clock.sleep });
      const error = await rejection(bad.lookup({ type: 'ipv4', value: '203.0.113.9' }));
      assert.equal(error.code, 'AUTH');
      assert.equal(error.attempts, 1);
      assert.match(error.message, /Authentication failed/);
      for (const text of [error.message, error.stack ?? '', JSON.stringify(error)]) assert.ok(!text.includes(wrongKey));
      await bad.close?.();
    });

    it('a 422 validation error is BAD_REQUEST with the vendor detail; unsupported types never reach the network', async () => {
      const invalid = await rejection(abuse.lookup({ type: 'ipv4', value: '999.1.1.1' }));
      assert.equal(invalid.code, 'BAD_REQUEST');
      assert.match(invalid.message, /valid IPv4 or IPv6/);
      const before = fake.server.requests.length;
      const refused = await rejection(abuse.lookup({ type: 'domain', value: 'example.org' }));
      assert.equal(refused.code, 'BAD_REQUEST');
      assert.equal(refused.attempts, 0);
      assert.equal(fake.server.requests.length, before);
    });

    it('daily limit (429 + Retry-After): QUOTA_EXHAUSTED until the vendor reset, zero further requests, resumes after', async () => {
      fake.setDailyLimit(2, 'retry-after');
      await abuse.lookup({ type: 'ipv4', value: '203.0.113.9' });
      await abuse.lookup({ type: 'ipv4', value: '198.51.100.20' });
      const quota = await rejection(abuse.lookup({ type: 'ipv4', value: '198.51.100.21' }));
      assert.equal(quota.code, 'QUOTA_EXHAUSTED');
      assert.equal(quota.status, 429);
      assert.equal(quota.resumeAt?.getTime(), NEXT_MIDNIGHT);
      assert.equal(fake.server.requests.length, 3);

      for (let i = 0; i < 3; i++) {
        const fast = await rejection(abuse.lookup({ type: 'ipv4', value: `198.51.100.${30 + i}` }));
        assert.equal(fast.code, 'QUOTA_EXHAUSTED');
        assert.equal(fast.attempts, 0);
      }
      assert.equal(fake.server.requests.length, 3, 'the vendor saw nothing while paused');
      assert.equal(abuse.budgetState?.().pauseCode, 'QUOTA_EXHAUSTED');

      await clock.advanceTo(NEXT_MIDNIGHT);
      const next = await abuse.lookup({ type: 'ipv4', value: '203.0.113.9' });
      assert.equal(next.level, 'malicious');
      assert.equal(fake.server.requests.length, 4);
    });

    it('daily limit with only X-RateLimit-Reset (epoch) also pauses until that reset', async () => {
      fake.setDailyLimit(0, 'reset-epoch');
      const quota = await rejection(abuse.lookup({ type: 'ipv4', value: '203.0.113.9' }));
      assert.equal(quota.code, 'QUOTA_EXHAUSTED');
      assert.equal(quota.resumeAt?.getTime(), NEXT_MIDNIGHT);
      await rejection(abuse.lookup({ type: 'ipv4', value: '203.0.113.9' }));
      assert.equal(fake.server.requests.length, 1);
    });

    it('a short 429 with Retry-After and no daily wording is waited out, then succeeds', async () => {
      fake.script(abuseTooManyRequests(5));
      const pending = abuse.lookup({ type: 'ipv4', value: '203.0.113.9' });
      await fake.server.waitForRequests(1);
      await clock.advance(4_999);
      assert.equal(fake.server.requests.length, 1);
      await clock.advance(1);
      const result = await pending;
      assert.equal(result.level, 'malicious');
      assert.equal(fake.server.requests.length, 2);
    });

    it('budget default is the free plan (1,000/day); a used-up local day budget fails fast without a request', async () => {
      assert.deepEqual(
        abuse.budgetState?.().windows.map((window) => [window.window, window.limit]),
        [['day', 1000]],
      );
      const small = createAbuseIpdb({ baseURL: fake.baseURL, apiKey: fake.apiKey, now: clock.now, sleep: clock.sleep, budget: { perDay: 1 } });
      await small.lookup({ type: 'ipv4', value: '203.0.113.9' });
      const refused = await rejection(small.lookup({ type: 'ipv4', value: '203.0.113.9' }));
      assert.equal(refused.code, 'QUOTA_EXHAUSTED');
      assert.equal(refused.attempts, 0);
      assert.equal(fake.server.requests.length, 1);
      await small.close?.();
    });
  });

  describe('retries (auto-advancing clock)', () => {
    it('502/503 are retried, then succeed', async () => {
      await setUp(true);
      fake.script(abuseServerError(502), abuseServerError(503));
      const result = await abuse.lookup({ type: 'ipv4', value: '203.0.113.9' });
      assert.equal(result.level, 'malicious');
      assert.equal(fake.server.requests.length, 3);
    });

    it('a reply slower than timeoutMs → TIMEOUT', async () => {
      await setUp(true, { timeoutMs: 100 });
      fake.script(abuseHang(), abuseHang(), abuseHang(), abuseHang());
      const error = await rejection(abuse.lookup({ type: 'ipv4', value: '203.0.113.9' }));
      assert.equal(error.code, 'TIMEOUT');
      assert.equal(fake.server.requests.length, 4);
    });
  });
});
