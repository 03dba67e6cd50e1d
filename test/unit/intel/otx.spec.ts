import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ProviderError } from '../../../lib/core/http';
import { createOtx, type OtxOptions } from '../../../lib/intel/providers/otx';
import type { IntelProvider } from '../../../lib/intel/types';
import { ManualClock } from '../../helpers/fake-server';
import { startOtxFake, type OtxFake } from '../../fakes/otx';

const API_KEY = 'otx-0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0';

const emotetPulse = (name: string) => ({
  name,
  tags: ['emotet', 'c2'],
  modified: '2026-02-20T10:00:00.000000',
  malware_families: [{ id: 'Emotet', display_name: 'Emotet' }],
  adversary: 'TA542',
});

describe('AlienVault OTX provider (contract fake)', () => {
  let clock: ManualClock;
  let fake: OtxFake;
  let provider: IntelProvider;

  function make(overrides: Partial<OtxOptions> = {}): IntelProvider {
    return createOtx({ baseURL: fake.baseURL, apiKey: API_KEY, now: clock.now, sleep: clock.sleep, ...overrides });
  }

  beforeEach(async () => {
    clock = new ManualClock(Date.UTC(2026, 2, 3, 9, 0, 0), true);
    fake = await startOtxFake({ apiKey: API_KEY, now: clock.now });
    provider = make();
  });

  afterEach(async () => {
    await provider.close?.();
    await fake.close();
  });

  it('declares a SaaS source with the indicator types OTX has sections for', () => {
    assert.equal(provider.kind, 'otx');
    assert.equal(provider.name, 'AlienVault OTX');
    assert.equal(provider.external, true);
    assert.deepEqual([...provider.types].sort(), ['cve', 'domain', 'ipv4', 'ipv6', 'md5', 'sha1', 'sha256', 'url']);
  });

  it('an indicator in several pulses is malicious, with pulse evidence, a summary and the OTX page link', async () => {
    fake.set('IPv4', '203.0.113.9', {
      pulses: [
        emotetPulse('Emotet epoch 5 C2'),
        emotetPulse('Emotet spam wave'),
        { name: 'Scanner list', tags: ['scanner'], modified: '2026-03-01T08:00:00.000000' },
      ],
      reputation: 3,
      country_code: 'NL',
      asn: 'AS64500 Example Hosting',
    });
    const result = await provider.lookup({ type: 'ipv4', value: '203.0.113.9' });
    assert.equal(result.level, 'malicious');
    assert.equal(result.found, true);
    assert.equal(result.confidence, undefined, 'OTX has no score of its own');
    assert.equal(result.evidence.pulses, 3);
    assert.deepEqual(result.evidence.pulseNames, ['Emotet epoch 5 C2', 'Emotet spam wave', 'Scanner list']);
    assert.deepEqual(result.evidence.tags, ['emotet', 'c2', 'scanner']);
    assert.deepEqual(result.evidence.malwareFamilies, ['Emotet']);
    assert.deepEqual(result.evidence.adversaries, ['TA542']);
    assert.equal(result.evidence.lastPulse, '2026-03-01T08:00:00.000000');
    assert.equal(result.evidence.country, 'NL');
    assert.equal(result.summary, 'AlienVault OTX: in 3 pulses (Emotet)');
    assert.equal(result.link, 'https://otx.alienvault.com/indicator/ip/203.0.113.9');
    assert.ok(!result.link?.includes(API_KEY));
  });

  it('sends GET /api/v1/indicators/{section}/{value}/general with X-OTX-API-KEY, choosing the section per type', async () => {
    const lookups: [Parameters<IntelProvider['lookup']>[0], string][] = [
      [{ type: 'ipv4', value: '203.0.113.9' }, '/api/v1/indicators/IPv4/203.0.113.9/general'],
      [{ type: 'ipv6', value: '2001:db8::5' }, '/api/v1/indicators/IPv6/2001:db8::5/general'],
      [{ type: 'domain', value: 'example.net' }, '/api/v1/indicators/domain/example.net/general'],
      [{ type: 'domain', value: 'c2.files.example.co.uk' }, '/api/v1/indicators/hostname/c2.files.example.co.uk/general'],
      [{ type: 'url', value: 'http://203.0.113.9/a b?x=1&y=/z' }, '/api/v1/indicators/url/http%3A%2F%2F203.0.113.9%2Fa%20b%3Fx%3D1%26y%3D%2Fz/general'],
      [{ type: 'sha256', value: 'b'.repeat(64) }, `/api/v1/indicators/file/${'b'.repeat(64)}/general`],
      [{ type: 'md5', value: 'c'.repeat(32) }, `/api/v1/indicators/file/${'c'.repeat(32)}/general`],
      [{ type: 'cve', value: 'CVE-2024-3400' }, '/api/v1/indicators/cve/CVE-2024-3400/general'],
    ];
    for (const [indicator] of lookups) await provider.lookup(indicator);
    assert.deepEqual(fake.violations, []);
    assert.deepEqual(
      fake.server.requests.map((request) => request.path),
      lookups.map(([, path]) => path),
    );
    for (const request of fake.server.requests) {
      assert.equal(request.method, 'GET');
      assert.equal(request.headers['x-otx-api-key'], API_KEY);
    }
  });

  it('the URL reaches OTX intact (the fake decodes the path segment)', async () => {
    const url = 'http://203.0.113.9/a b?x=1&y=/z';
    fake.set('url', url, { pulses: [emotetPulse('payload')] });
    const result = await provider.lookup({ type: 'url', value: url });
    assert.equal(result.level, 'suspicious');
  });

  it('one or two pulses are suspicious; the malicious threshold is configurable', async () => {
    fake.set('domain', 'example.net', { pulses: [emotetPulse('one'), emotetPulse('two')] });
    assert.equal((await provider.lookup({ type: 'domain', value: 'example.net' })).level, 'suspicious');
    await provider.close?.();
    provider = make({ maliciousPulses: 2 });
    assert.equal((await provider.lookup({ type: 'domain', value: 'example.net' })).level, 'malicious');
  });

  it('validation entries (known good) make it benign even when pulses mention it', async () => {
    fake.set('domain', 'example.org', {
      pulses: [emotetPulse('a'), emotetPulse('b'), emotetPulse('c'), emotetPulse('d')],
      validation: [{ source: 'majestic', message: 'Whitelisted domain example.org', name: 'Whitelisted domain' }],
    });
    const result = await provider.lookup({ type: 'domain', value: 'example.org' });
    assert.equal(result.level, 'benign');
    assert.equal(result.found, true);
    assert.deepEqual(result.evidence.validation, ['Whitelisted domain example.org']);
    assert.match(result.summary, /known good \(Whitelisted domain example\.org\), in 4 pulses/);
  });

  it('an indicator in no pulse is unknown (found:false)', async () => {
    const result = await provider.lookup({ type: 'ipv4', value: '198.51.100.77' });
    assert.equal(result.level, 'unknown');
    assert.equal(result.found, false);
    assert.equal(result.summary, 'AlienVault OTX: in no pulse');
  });

  it('404 is an unknown indicator, not an error', async () => {
    fake.missing('file', 'd'.repeat(64));
    const result = await provider.lookup({ type: 'sha256', value: 'd'.repeat(64) });
    assert.equal(result.level, 'unknown');
    assert.equal(result.found, false);
    assert.equal(fake.server.count(), 1);
  });

  it('a wrong key (403 "Invalid API key") is AUTH, not retried, and the key appears nowhere', async () => {
    await provider.close?.();
    const wrongKey = `${API_KEY.slice(0, -4)}beef`;
    provider = make({ apiKey: wrongKey });
    await assert.rejects(provider.lookup({ type: 'ipv4', value: '203.0.113.9' }), (error: unknown) => {
      assert.ok(error instanceof ProviderError);
      assert.equal(error.code, 'AUTH');
      assert.equal(error.status, 403);
      assert.equal(error.retryable, false);
      for (const text of [error.message, error.stack ?? '', JSON.stringify(error), inspect(error, { depth: 5 })]) {
        assert.ok(!text.includes(wrongKey), 'key leaked');
      }
      return true;
    });
    assert.equal(fake.server.count(), 1);
  });

  it('a 403 that is not about credentials stays FORBIDDEN', async () => {
    fake.queue({ status: 403, body: { detail: 'Indicator access restricted for this region' } });
    await assert.rejects(provider.lookup({ type: 'ipv4', value: '203.0.113.9' }), (error: ProviderError) => error.code === 'FORBIDDEN');
  });

  it('429 with Retry-After: waits that long (virtual time), then answers', async () => {
    fake.set('IPv4', '203.0.113.9', { pulses: [emotetPulse('x')] });
    fake.queue({ status: 429, headers: { 'retry-after': '30' }, body: { detail: 'Request was throttled. Expected available in 30 seconds.' } });
    const result = await provider.lookup({ type: 'ipv4', value: '203.0.113.9' });
    assert.equal(result.level, 'suspicious');
    const [first, second] = fake.server.requests;
    assert.equal(second.at - first.at, 30_000);
  });

  it('a 429 reporting a daily quota pauses the source: fail fast, no further requests', async () => {
    fake.queue({ status: 429, body: { detail: 'Daily request quota exhausted' } });
    await assert.rejects(provider.lookup({ type: 'ipv4', value: '203.0.113.9' }), (error: ProviderError) => error.code === 'QUOTA_EXHAUSTED');
    await assert.rejects(
      provider.lookup({ type: 'domain', value: 'example.net' }),
      (error: ProviderError) => error.code === 'QUOTA_EXHAUSTED' && error.attempts === 0,
    );
    assert.equal(fake.server.count(), 1);
    assert.equal(provider.budgetState?.().pauseCode, 'QUOTA_EXHAUSTED');
  });

  it('5xx is retried, then succeeds', async () => {
    fake.set('IPv4', '203.0.113.9', { pulses: [emotetPulse('x'), emotetPulse('y'), emotetPulse('z')] });
    fake.queue({ status: 503, body: 'busy' }, { status: 504, body: 'gateway' });
    assert.equal((await provider.lookup({ type: 'ipv4', value: '203.0.113.9' })).level, 'malicious');
    assert.equal(fake.server.count(), 3);
  });

  it('a reply slower than timeoutMs is a TIMEOUT', async () => {
    await provider.close?.();
    provider = make({ timeoutMs: 100 });
    fake.queue(...Array.from({ length: 4 }, () => ({ delayMs: 3_000, body: {} })));
    await assert.rejects(provider.lookup({ type: 'ipv4', value: '203.0.113.9' }), (error: ProviderError) => error.code === 'TIMEOUT' && error.attempts === 4);
  });

  it('refuses types OTX has no section for, without a request', async () => {
    await assert.rejects(provider.lookup({ type: 'email', value: 'a@example.net' }), (error: ProviderError) => error.code === 'BAD_REQUEST');
    assert.equal(fake.server.count(), 0);
  });
});
