import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ProviderError } from '../../../lib/core/http';
import { createThreatFox, type ThreatFoxOptions } from '../../../lib/intel/providers/threatfox';
import type { IntelProvider } from '../../../lib/intel/types';
import { ManualClock } from '../../helpers/fake-server';
import { startThreatFoxFake, threatFoxIoc, type ThreatFoxFake } from '../../fakes/threatfox';

const API_KEY = 'tf-authkey-7c0ffee5d1a2b3c4d5e6f708192a3b4c';

function assertKeyAbsent(error: unknown): void {
  const e = error as ProviderError;
  for (const text of [e.message, e.stack ?? '', JSON.stringify(e), inspect(e, { depth: 5 })]) {
    assert.ok(!text.includes(API_KEY), `key leaked into: ${text.slice(0, 200)}`);
  }
}

describe('ThreatFox provider (contract fake)', () => {
  let clock: ManualClock;
  let fake: ThreatFoxFake;
  let provider: IntelProvider;

  function make(overrides: Partial<ThreatFoxOptions> = {}): IntelProvider {
    return createThreatFox({ baseURL: fake.baseURL, apiKey: API_KEY, now: clock.now, sleep: clock.sleep, ...overrides });
  }

  beforeEach(async () => {
    clock = new ManualClock(Date.UTC(2026, 2, 3, 9, 0, 0), true);
    fake = await startThreatFoxFake({ apiKey: API_KEY, now: clock.now });
    provider = make();
  });

  afterEach(async () => {
    await provider.close?.();
    await fake.close();
  });

  it('declares a SaaS source for IPs, domains, URLs and hashes', () => {
    assert.equal(provider.kind, 'threatfox');
    assert.equal(provider.name, 'ThreatFox');
    assert.equal(provider.external, true);
    assert.deepEqual([...provider.types].sort(), ['domain', 'ipv4', 'md5', 'sha1', 'sha256', 'url']);
  });

  it('a confident hit is malicious, with evidence, confidence, summary and a link to the IOC page', async () => {
    fake.answer('198.51.100.23', [
      threatFoxIoc({ id: '1500001', ioc: '198.51.100.23:443', confidence_level: 100, first_seen: '2026-02-01 10:00:00 UTC' }),
      threatFoxIoc({
        id: '1500002',
        ioc: '198.51.100.23:8080',
        confidence_level: 75,
        first_seen: '2026-02-15 00:00:00 UTC',
        last_seen: '2026-03-01 00:00:00 UTC',
        tags: ['beacon'],
      }),
    ]);
    const result = await provider.lookup({ type: 'ipv4', value: '198.51.100.23' });

    assert.equal(result.level, 'malicious');
    assert.equal(result.found, true);
    assert.equal(result.confidence, 100);
    assert.equal(result.source, 'ThreatFox');
    assert.equal(result.provider, 'threatfox');
    assert.deepEqual(result.evidence.threatTypes, ['botnet_cc']);
    assert.deepEqual(result.evidence.malware, ['Cobalt Strike']);
    assert.deepEqual(result.evidence.iocs, ['198.51.100.23:443', '198.51.100.23:8080']);
    assert.deepEqual(result.evidence.tags, ['c2', 'CobaltStrike', 'beacon']);
    assert.equal(result.evidence.firstSeen, '2026-02-01 10:00:00 UTC');
    assert.equal(result.evidence.lastSeen, '2026-03-01 00:00:00 UTC');
    assert.equal(result.link, 'https://threatfox.abuse.ch/ioc/1500001/');
    assert.match(result.summary, /^ThreatFox: botnet_cc for Cobalt Strike, confidence 100 \(2 IOCs\)$/);
    assert.equal(result.fetchedAt, new Date(clock.now()).toISOString());
    assert.doesNotThrow(() => JSON.stringify(result));
  });

  it('sends the documented request: POST /api/v1/, Auth-Key header, {query:"search_ioc", search_term}', async () => {
    await provider.lookup({ type: 'domain', value: 'c2.example.net' });
    assert.deepEqual(fake.violations, []);
    const [request] = fake.searches;
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/api/v1/');
    assert.equal(request.headers['auth-key'], API_KEY);
    assert.match(request.headers['content-type'], /application\/json/);
    assert.deepEqual(request.json, { query: 'search_ioc', search_term: 'c2.example.net' });
  });

  it('only low-confidence hits make the indicator suspicious (threshold configurable)', async () => {
    fake.answer('http://203.0.113.50/load.bin', [
      threatFoxIoc({ ioc: 'http://203.0.113.50/load.bin', ioc_type: 'url', threat_type: 'payload_delivery', confidence_level: 25 }),
    ]);
    const result = await provider.lookup({ type: 'url', value: 'http://203.0.113.50/load.bin' });
    assert.equal(result.level, 'suspicious');
    assert.equal(result.confidence, 25);

    await provider.close?.();
    provider = make({ maliciousConfidence: 20 });
    assert.equal((await provider.lookup({ type: 'url', value: 'http://203.0.113.50/load.bin' })).level, 'malicious');
  });

  it('"no_result" is an unknown indicator, not an error', async () => {
    const result = await provider.lookup({ type: 'sha256', value: 'a'.repeat(64) });
    assert.equal(result.level, 'unknown');
    assert.equal(result.found, false);
    assert.equal(result.confidence, undefined);
    assert.match(result.summary, /not listed/);
    assert.match(result.link ?? '', /^https:\/\/threatfox\.abuse\.ch\/browse\.php\?search=ioc%3Aa{64}$/);
  });

  it('an IP hit whose IOC is a different address (substring match) does not count', async () => {
    fake.answer('198.51.100.2', [threatFoxIoc({ ioc: '198.51.100.23:443' })]);
    const result = await provider.lookup({ type: 'ipv4', value: '198.51.100.2' });
    assert.equal(result.level, 'unknown');
    assert.equal(result.found, false);
  });

  it('a wrong Auth-Key (query_status unknown_auth_key on HTTP 200) is AUTH and the key appears nowhere', async () => {
    await provider.close?.();
    provider = make({ apiKey: `${API_KEY}-wrong` });
    const error = await provider.lookup({ type: 'ipv4', value: '198.51.100.23' }).then(
      () => assert.fail('expected a rejection'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof ProviderError);
    assert.equal(error.code, 'AUTH');
    assert.equal(error.vendorCode, 'unknown_auth_key');
    assert.equal(error.retryable, false);
    assert.equal(fake.server.count(), 1, 'an auth failure is not retried');
    for (const text of [error.message, error.stack ?? '', JSON.stringify(error), inspect(error, { depth: 5 })]) {
      assert.ok(!text.includes(`${API_KEY}-wrong`), 'wrong key leaked');
    }
  });

  it('the same auth failure sent as HTTP 401 is AUTH too', async () => {
    await fake.close();
    fake = await startThreatFoxFake({ apiKey: 'another-key-entirely-0000', now: clock.now, authFailureStatus: 401 });
    await provider.close?.();
    provider = make();
    await assert.rejects(provider.lookup({ type: 'ipv4', value: '198.51.100.23' }), (error: unknown) => {
      assert.ok(error instanceof ProviderError);
      assert.equal(error.code, 'AUTH');
      assert.equal(error.status, 401);
      assertKeyAbsent(error);
      return true;
    });
  });

  it('query_status illegal_search_term on HTTP 200 is a BAD_REQUEST, not a miss', async () => {
    await assert.rejects(provider.lookup({ type: 'domain', value: 'x' }), (error: unknown) => {
      assert.ok(error instanceof ProviderError);
      assert.equal(error.code, 'BAD_REQUEST');
      assert.equal(error.status, 200);
      assert.equal(error.vendorCode, 'illegal_search_term');
      assert.match(error.message, /illegal_search_term/);
      return true;
    });
    assert.equal(fake.server.count(), 1);
  });

  it('an unexpected query_status is a BODY_ERROR', async () => {
    fake.queue({ status: 200, body: { query_status: 'server_busy_try_later' } });
    await assert.rejects(
      provider.lookup({ type: 'ipv4', value: '198.51.100.23' }),
      (error: ProviderError) => error.code === 'BODY_ERROR' && error.vendorCode === 'server_busy_try_later',
    );
  });

  it('429 with Retry-After: waits exactly that long (virtual time), then answers', async () => {
    fake.answer('198.51.100.23', [threatFoxIoc({ ioc: '198.51.100.23:443' })]);
    fake.queue({ status: 429, headers: { 'retry-after': '12' }, body: { query_status: 'rate_limited' } });
    const result = await provider.lookup({ type: 'ipv4', value: '198.51.100.23' });
    assert.equal(result.level, 'malicious');
    const [first, second] = fake.searches;
    assert.equal(fake.searches.length, 2);
    assert.equal(second.at - first.at, 12_000);
  });

  it('a 429 that reports a used-up daily quota pauses the source: fail fast, no further requests', async () => {
    fake.queue({ status: 429, body: { query_status: 'error', message: 'Daily quota exceeded' } });
    await assert.rejects(
      provider.lookup({ type: 'ipv4', value: '198.51.100.23' }),
      (error: ProviderError) => error.code === 'QUOTA_EXHAUSTED' && error.resumeAt !== undefined,
    );
    assert.equal(fake.server.count(), 1);
    await assert.rejects(
      provider.lookup({ type: 'domain', value: 'c2.example.net' }),
      (error: ProviderError) => error.code === 'QUOTA_EXHAUSTED' && error.attempts === 0,
    );
    assert.equal(fake.server.count(), 1, 'paused: the vendor saw nothing more');
    assert.ok(provider.budgetState?.().pausedUntil, 'budget state shows the pause');
  });

  it('5xx is retried (the search is read-only) and then succeeds', async () => {
    fake.answer('c2.example.net', [threatFoxIoc({ ioc: 'c2.example.net', ioc_type: 'domain' })]);
    fake.queue({ status: 502, body: 'Bad Gateway' }, { status: 500, body: 'oops' });
    const result = await provider.lookup({ type: 'domain', value: 'c2.example.net' });
    assert.equal(result.level, 'malicious');
    assert.equal(fake.searches.length, 3);
  });

  it('a reply slower than timeoutMs is a TIMEOUT', async () => {
    await provider.close?.();
    provider = make({ timeoutMs: 100 });
    fake.queue(...Array.from({ length: 4 }, () => ({ delayMs: 3_000, body: { query_status: 'no_result' } })));
    await assert.rejects(provider.lookup({ type: 'ipv4', value: '198.51.100.23' }), (error: ProviderError) => {
      assert.equal(error.code, 'TIMEOUT');
      assert.equal(error.attempts, 4);
      return true;
    });
  });

  it('refuses indicator types ThreatFox has no data for, without a request', async () => {
    await assert.rejects(provider.lookup({ type: 'cve', value: 'CVE-2024-3400' }), (error: ProviderError) => error.code === 'BAD_REQUEST');
    assert.equal(fake.server.count(), 0);
  });

  it('needs an Auth-Key', () => {
    assert.throws(() => createThreatFox({ baseURL: fake.baseURL }), /Auth-Key/);
  });
});
