import assert from 'node:assert/strict';
import { createGreyNoise, levelFromCommunity } from '../../../lib/intel/providers/greynoise';
import type { IntelProvider, IntelProviderOptions } from '../../../lib/intel/types';
import { ManualClock } from '../../helpers/fake-server';
import { rejection } from '../../helpers/provider-spec';
import { greyNoiseHang, greyNoiseQuota, greyNoiseServerError, greyNoiseSlowDown, startGreyNoiseFake, type GreyNoiseFake } from '../../fakes/greynoise';

const START = Date.UTC(2026, 0, 15, 12, 0, 0);
const NEXT_MIDNIGHT = Date.UTC(2026, 0, 16, 0, 0, 0);

describe('intel provider: GreyNoise community (contract fake)', () => {
  let fake: GreyNoiseFake;
  let clock: ManualClock;
  let greynoise: IntelProvider;

  async function setUp(autoAdvance: boolean, extra: Partial<IntelProviderOptions> = {}) {
    clock = new ManualClock(START, autoAdvance);
    fake = await startGreyNoiseFake({ now: clock.now });
    fake.addIp('203.0.113.5', { noise: true, riot: false, classification: 'malicious', name: 'unknown', last_seen: '2026-01-14' });
    fake.addIp('198.51.100.8', { noise: true, riot: false, classification: 'unknown', name: 'unknown', last_seen: '2026-01-13' });
    fake.addIp('192.0.2.8', { noise: false, riot: true, classification: 'benign', name: 'Example Public DNS', last_seen: '2026-01-15' });
    fake.addIp('198.51.100.9', { noise: true, riot: false, classification: 'benign', name: 'Example Research Scanner' });
    greynoise = createGreyNoise({ baseURL: fake.baseURL, apiKey: fake.apiKey, now: clock.now, sleep: clock.sleep, ...extra });
  }

  afterEach(async () => {
    await greynoise?.close?.();
    await fake?.close();
  });

  describe('answers (manual clock)', () => {
    beforeEach(() => setUp(false));

    it('maps classification malicious to malicious and sends GET /v3/community/{ip} with the `key` header', async () => {
      const result = await greynoise.lookup({ type: 'ipv4', value: '203.0.113.5' });
      assert.equal(result.level, 'malicious');
      assert.equal(result.found, true);
      assert.equal(result.provider, 'greynoise');
      assert.equal(result.confidence, undefined);
      assert.deepEqual(result.evidence, { classification: 'malicious', noise: true, riot: false, name: 'unknown', lastSeen: '2026-01-14' });
      assert.equal(result.summary, 'GreyNoise: malicious, last seen 2026-01-14');
      assert.equal(result.link, 'https://viz.greynoise.io/ip/203.0.113.5');

      assert.deepEqual(fake.violations, []);
      const request = fake.answered[0];
      assert.equal(request.method, 'GET');
      assert.equal(request.path, '/v3/community/203.0.113.5');
      assert.equal(request.headers.key, fake.apiKey);
    });

    it('benign/RIOT → benign, noise with unknown intent → suspicious', async () => {
      const riot = await greynoise.lookup({ type: 'ipv4', value: '192.0.2.8' });
      assert.equal(riot.level, 'benign');
      assert.equal(riot.summary, 'GreyNoise: benign (Example Public DNS), a known business service, last seen 2026-01-15');
      const scanner = await greynoise.lookup({ type: 'ipv4', value: '198.51.100.9' });
      assert.equal(scanner.level, 'benign');
      const noisy = await greynoise.lookup({ type: 'ipv4', value: '198.51.100.8' });
      assert.equal(noisy.level, 'suspicious');
      assert.equal(noisy.summary, 'GreyNoise: scans the internet, intent unknown, last seen 2026-01-13');

      assert.equal(levelFromCommunity({ noise: false, riot: false, classification: 'suspicious' }), 'suspicious');
      assert.equal(levelFromCommunity({ noise: false, riot: true, classification: 'unknown' }), 'benign');
      assert.equal(levelFromCommunity({ noise: false, riot: false, classification: 'unknown' }), 'unknown');
      assert.equal(levelFromCommunity({ noise: true, riot: true, classification: 'malicious' }), 'malicious');
    });

    it('404 "IP not observed" → found false, unknown; a bare 404 from a wrong base URL stays NOT_FOUND', async () => {
      const quiet = await greynoise.lookup({ type: 'ipv4', value: '198.51.100.77' });
      assert.equal(quiet.found, false);
      assert.equal(quiet.level, 'unknown');
      assert.equal(quiet.link, 'https://viz.greynoise.io/ip/198.51.100.77');

      const wrong = createGreyNoise({ baseURL: fake.baseURL + '/nothing-here', apiKey: fake.apiKey, now: clock.now, sleep: clock.sleep });
      fake.server.route('GET', /^\/nothing-here\//, { status: 404, body: 'Not Found' });
      const error = await rejection(wrong.lookup({ type: 'ipv4', value: '203.0.113.5' }));
      assert.equal(error.code, 'NOT_FOUND');
      await wrong.close?.();
    });

    it('works without a key (community tier) and sends no key header then', async () => {
      const keyless = createGreyNoise({ baseURL: fake.baseURL, now: clock.now, sleep: clock.sleep });
      const result = await keyless.lookup({ type: 'ipv4', value: '203.0.113.5' });
      assert.equal(result.level, 'malicious');
      assert.equal(fake.answered[0].headers.key, undefined);
      await keyless.close?.();
    });

    it('bad key: AUTH, and the key appears nowhere in the error', async () => {
      const wrongKey = 'wrong-greynoise-key-Ab12Cd34Ef56Gh78';
      const bad = createGreyNoise({ baseURL: fake.baseURL, apiKey: wrongKey, now: clock.now, sleep: clock.sleep });
      const error = await rejection(bad.lookup({ type: 'ipv4', value: '203.0.113.5' }));
      assert.equal(error.code, 'AUTH');
      assert.equal(error.attempts, 1);
      for (const text of [error.message, error.stack ?? '', JSON.stringify(error)]) assert.ok(!text.includes(wrongKey));
      await bad.close?.();
    });

    it('only IPv4 is asked; the rest is refused without a request', async () => {
      assert.deepEqual(greynoise.types, ['ipv4']);
      assert.equal(greynoise.external, true);
      const error = await rejection(greynoise.lookup({ type: 'ipv6', value: '2001:db8::1' }));
      assert.equal(error.code, 'BAD_REQUEST');
      assert.equal(fake.server.requests.length, 0);
    });

    it('quota 429: QUOTA_EXHAUSTED until 00:00 UTC, zero further requests, resumes after', async () => {
      fake.setLimit(1);
      await greynoise.lookup({ type: 'ipv4', value: '203.0.113.5' });
      const quota = await rejection(greynoise.lookup({ type: 'ipv4', value: '192.0.2.8' }));
      assert.equal(quota.code, 'QUOTA_EXHAUSTED');
      assert.equal(quota.resumeAt?.getTime(), NEXT_MIDNIGHT);
      for (let i = 0; i < 3; i++) {
        const fast = await rejection(greynoise.lookup({ type: 'ipv4', value: '198.51.100.8' }));
        assert.equal(fast.code, 'QUOTA_EXHAUSTED');
        assert.equal(fast.attempts, 0);
      }
      assert.equal(fake.server.requests.length, 2);
      fake.setLimit(Infinity);
      await clock.advanceTo(NEXT_MIDNIGHT);
      const later = await greynoise.lookup({ type: 'ipv4', value: '198.51.100.8' });
      assert.equal(later.level, 'suspicious');
      assert.equal(fake.server.requests.length, 3);
    });

    it('a bare 429 without any hint or wording is also treated as the quota (per the contract)', async () => {
      fake.script({ status: 429, body: '' });
      const quota = await rejection(greynoise.lookup({ type: 'ipv4', value: '203.0.113.5' }));
      assert.equal(quota.code, 'QUOTA_EXHAUSTED');
      await rejection(greynoise.lookup({ type: 'ipv4', value: '203.0.113.5' }));
      assert.equal(fake.server.requests.length, 1);
    });

    it('the quota body wins even when a Retry-After comes with it', async () => {
      fake.script({ ...greyNoiseQuota(), headers: { 'retry-after': '3600' } });
      const quota = await rejection(greynoise.lookup({ type: 'ipv4', value: '203.0.113.5' }));
      assert.equal(quota.code, 'QUOTA_EXHAUSTED');
      assert.equal(quota.resumeAt?.getTime(), START + 3_600_000);
    });

    it('a 429 with Retry-After and no quota wording is waited out, then succeeds', async () => {
      fake.script(greyNoiseSlowDown(10));
      const pending = greynoise.lookup({ type: 'ipv4', value: '203.0.113.5' });
      await fake.server.waitForRequests(1);
      await clock.advance(9_999);
      assert.equal(fake.server.requests.length, 1);
      await clock.advance(1);
      assert.equal((await pending).level, 'malicious');
      assert.equal(fake.server.requests.length, 2);
    });

    it('budget default spreads 50/week over the days: 7 per day', () => {
      assert.deepEqual(
        greynoise.budgetState?.().windows.map((window) => [window.window, window.limit]),
        [['day', 7]],
      );
    });
  });

  describe('retries (auto-advancing clock)', () => {
    it('5xx is retried, then succeeds', async () => {
      await setUp(true);
      fake.script(greyNoiseServerError(503), greyNoiseServerError(502));
      const result = await greynoise.lookup({ type: 'ipv4', value: '203.0.113.5' });
      assert.equal(result.level, 'malicious');
      assert.equal(fake.server.requests.length, 3);
    });

    it('a reply slower than timeoutMs → TIMEOUT', async () => {
      await setUp(true, { timeoutMs: 100, budget: { perDay: 100 } });
      fake.script(greyNoiseHang(), greyNoiseHang(), greyNoiseHang(), greyNoiseHang());
      const error = await rejection(greynoise.lookup({ type: 'ipv4', value: '203.0.113.5' }));
      assert.equal(error.code, 'TIMEOUT');
      assert.equal(fake.server.requests.length, 4);
    });
  });
});
