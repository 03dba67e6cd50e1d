import assert from 'node:assert/strict';
import { ProviderError } from '../../../lib/core/errors';
import { createVirusTotal, levelFromStats, virusTotalUrlId } from '../../../lib/intel/providers/virustotal';
import type { IntelProvider, IntelProviderOptions } from '../../../lib/intel/types';
import { ManualClock } from '../../helpers/fake-server';
import { startVirusTotalFake, vtHang, vtQuotaExceeded, vtTooManyRequests, vtTransient, type VirusTotalFake } from '../../fakes/virustotal';

const START = Date.UTC(2026, 0, 15, 12, 0, 0);
const NEXT_MIDNIGHT = Date.UTC(2026, 0, 16, 0, 0, 0);
const BAD_IP = '203.0.113.66';
const SHA256 = 'a'.repeat(64);
const MD5 = 'b'.repeat(32);
const SHA1 = 'c'.repeat(40);

function assertKeyAbsent(error: unknown, key: string): void {
  const err = error as ProviderError;
  for (const text of [err.message, err.stack ?? '', JSON.stringify(err), JSON.stringify(err.body ?? null), String(err.vendorCode)]) {
    assert.ok(!text.includes(key), `the API key leaked into: ${text.slice(0, 200)}`);
  }
}

describe('intel provider: VirusTotal v3 (contract fake)', () => {
  let fake: VirusTotalFake;
  let clock: ManualClock;
  let vt: IntelProvider;

  async function setUp(autoAdvance: boolean, extra: Partial<IntelProviderOptions> = {}) {
    clock = new ManualClock(START, autoAdvance);
    fake = await startVirusTotalFake({ now: clock.now });
    fake.addIp(BAD_IP, {
      stats: { malicious: 12, suspicious: 1, harmless: 50, undetected: 9 },
      attributes: { as_owner: 'Bad Hosting', asn: 64500, country: 'NL', network: '203.0.113.0/24' },
    });
    fake.addIp('198.51.100.1', { stats: { malicious: 1, harmless: 60, undetected: 10 } });
    fake.addIp('2001:db8::7', { stats: { malicious: 4, harmless: 20 } });
    fake.addDomain('example.org', {
      stats: { harmless: 65, undetected: 7 },
      attributes: { registrar: 'Example Registrar', categories: { a: 'education', b: 'education', c: 'reference' } },
    });
    fake.addDomain('odd.example', { stats: { suspicious: 2, harmless: 30 } });
    fake.addFile(
      { md5: MD5, sha1: SHA1, sha256: SHA256 },
      {
        stats: { malicious: 40, undetected: 20 },
        attributes: {
          meaningful_name: 'invoice.exe',
          type_description: 'Win32 EXE',
          popular_threat_classification: { suggested_threat_label: 'trojan.emotet/heodo' },
        },
      },
    );
    fake.addFile({ sha256: 'd'.repeat(64) }, { stats: { undetected: 60 } });
    fake.addUrl('http://malware.example/payload.exe?x=1', { stats: { malicious: 8, harmless: 60 } });
    vt = createVirusTotal({ baseURL: fake.baseURL, apiKey: fake.apiKey, now: clock.now, sleep: clock.sleep, ...extra });
  }

  afterEach(async () => {
    await vt?.close?.();
    await fake?.close();
  });

  describe('answers (manual clock)', () => {
    beforeEach(() => setUp(false));

    it('maps a flagged IP to malicious, keeps small evidence, and sends the documented request', async () => {
      const result = await vt.lookup({ type: 'ipv4', value: BAD_IP });
      assert.equal(result.level, 'malicious');
      assert.equal(result.found, true);
      assert.equal(result.provider, 'virustotal');
      assert.equal(result.source, 'VirusTotal');
      assert.equal(result.confidence, undefined);
      assert.equal(result.summary, 'VirusTotal: 12 of 72 engines say malicious, 1 suspicious');
      assert.equal(result.link, `https://www.virustotal.com/gui/ip-address/${BAD_IP}`);
      assert.equal(result.fetchedAt, new Date(START).toISOString());
      assert.deepEqual(result.evidence, {
        malicious: 12,
        suspicious: 1,
        harmless: 50,
        undetected: 9,
        timeout: 0,
        engines: 72,
        reputation: 0,
        lastAnalysisDate: '2026-01-01T00:00:00.000Z',
        asOwner: 'Bad Hosting',
        asn: 64500,
        country: 'NL',
        network: '203.0.113.0/24',
      });

      assert.deepEqual(fake.violations, []);
      assert.equal(fake.requests.length, 1);
      const request = fake.requests[0];
      assert.equal(request.method, 'GET');
      assert.equal(request.path, `/api/v3/ip_addresses/${BAD_IP}`);
      assert.equal(request.headers['x-apikey'], fake.apiKey);
    });

    it('maps the thresholds: 1 malicious or 2 suspicious → suspicious, harmless only → benign, only undetected → unknown but found', async () => {
      const one = await vt.lookup({ type: 'ipv4', value: '198.51.100.1' });
      assert.equal(one.level, 'suspicious');
      const odd = await vt.lookup({ type: 'domain', value: 'odd.example' });
      assert.equal(odd.level, 'suspicious');
      assert.equal(odd.summary, 'VirusTotal: 0 of 32 engines say malicious, 2 suspicious');

      const clean = await vt.lookup({ type: 'domain', value: 'example.org' });
      assert.equal(clean.level, 'benign');
      assert.equal(clean.summary, 'VirusTotal: 0 of 72 engines say malicious (65 harmless)');
      assert.deepEqual(clean.evidence.categories, ['education', 'reference']);
      assert.equal(clean.evidence.registrar, 'Example Registrar');
      assert.equal(clean.link, 'https://www.virustotal.com/gui/domain/example.org');

      const undetected = await vt.lookup({ type: 'sha256', value: 'd'.repeat(64) });
      assert.equal(undetected.level, 'unknown');
      assert.equal(undetected.found, true);

      assert.equal(levelFromStats({ malicious: 3, suspicious: 0, harmless: 0, undetected: 0, timeout: 0 }), 'malicious');
      assert.equal(levelFromStats({ malicious: 2, suspicious: 0, harmless: 70, undetected: 0, timeout: 0 }), 'suspicious');
      assert.equal(levelFromStats({ malicious: 0, suspicious: 1, harmless: 70, undetected: 0, timeout: 0 }), 'benign');
      assert.deepEqual(fake.violations, []);
    });

    it('looks files up by md5, sha1 and sha256 under /files/, with the threat label in the summary', async () => {
      for (const [type, value] of [
        ['md5', MD5],
        ['sha1', SHA1],
        ['sha256', SHA256],
      ] as const) {
        const result = await vt.lookup({ type, value });
        assert.equal(result.level, 'malicious');
        assert.equal(result.evidence.threatLabel, 'trojan.emotet/heodo');
        assert.equal(result.evidence.meaningfulName, 'invoice.exe');
        assert.equal(result.summary, 'VirusTotal: 40 of 60 engines say malicious (trojan.emotet/heodo)');
        assert.equal(result.link, `https://www.virustotal.com/gui/file/${value}`);
      }
      assert.deepEqual(
        fake.requests.map((request) => request.path),
        [`/api/v3/files/${MD5}`, `/api/v3/files/${SHA1}`, `/api/v3/files/${SHA256}`],
      );
    });

    it('addresses URLs by unpadded base64url and links to the GUI page of the id VirusTotal returns', async () => {
      const url = 'http://malware.example/payload.exe?x=1';
      const id = virusTotalUrlId(url);
      assert.ok(!id.includes('='), 'no padding');
      assert.equal(Buffer.from(id, 'base64url').toString(), url);
      const result = await vt.lookup({ type: 'url', value: url });
      assert.equal(result.level, 'malicious');
      assert.equal(fake.requests[0].path, `/api/v3/urls/${id}`);
      assert.match(result.link ?? '', /^https:\/\/www\.virustotal\.com\/gui\/url\/[0-9a-f]{64}$/);
      assert.deepEqual(fake.violations, []);
    });

    it('looks IPv6 addresses up under /ip_addresses/', async () => {
      const result = await vt.lookup({ type: 'ipv6', value: '2001:db8::7' });
      assert.equal(result.level, 'malicious');
      assert.equal(fake.requests[0].path, '/api/v3/ip_addresses/2001:db8::7');
    });

    it('NotFoundError is an answer: found false, level unknown, with a link', async () => {
      const result = await vt.lookup({ type: 'domain', value: 'never-seen.example' });
      assert.equal(result.found, false);
      assert.equal(result.level, 'unknown');
      assert.deepEqual(result.evidence, {});
      assert.equal(result.summary, 'VirusTotal: this domain is not in VirusTotal');
      assert.equal(result.link, 'https://www.virustotal.com/gui/domain/never-seen.example');
    });

    it('a bare 404 from a wrong base URL stays an error, not "unknown"', async () => {
      const wrong = createVirusTotal({ baseURL: fake.server.url + '/wrong', apiKey: fake.apiKey, now: clock.now, sleep: clock.sleep });
      fake.server.route('GET', /^\/wrong\//, { status: 404, body: 'Not Found' });
      await assert.rejects(wrong.lookup({ type: 'domain', value: 'example.org' }), (error: ProviderError) => error.code === 'NOT_FOUND');
      await wrong.close?.();
    });

    it('a 200 that is not a VirusTotal object (captive portal) is a BODY_ERROR', async () => {
      fake.script({ status: 200, body: '<html>Please log in to the hotel Wi-Fi</html>', headers: { 'content-type': 'text/html' } });
      await assert.rejects(vt.lookup({ type: 'domain', value: 'example.org' }), (error: ProviderError) => error.code === 'BODY_ERROR');
    });

    it('bad key: AUTH with the vendor code, and the key appears nowhere in the error', async () => {
      const wrongKey = 'wrong-key-9f8e7d6c5b4a39281706f5e4d3c2b1a0';
      const bad = createVirusTotal({ baseURL: fake.baseURL, apiKey: wrongKey, now: clock.now, sleep: clock.sleep });
      const error = await bad.lookup({ type: 'ipv4', value: BAD_IP }).then(
        () => assert.fail('expected a rejection'),
        (reason: unknown) => reason,
      );
      assert.ok(error instanceof ProviderError);
      assert.equal(error.code, 'AUTH');
      assert.equal(error.status, 401);
      assert.equal(error.vendorCode, 'WrongCredentialsError');
      assert.equal(error.attempts, 1, 'no retry on a bad key');
      assertKeyAbsent(error, wrongKey);
      assert.match(JSON.stringify(error.body), /Wrong API key/, 'the fake did echo the key, so redaction was exercised');
      await bad.close?.();
    });

    it('403 ForbiddenError → FORBIDDEN', async () => {
      fake.script({ status: 403, body: { error: { code: 'ForbiddenError', message: 'You are not allowed to perform the requested operation' } } });
      await assert.rejects(
        vt.lookup({ type: 'ipv4', value: BAD_IP }),
        (error: ProviderError) => error.code === 'FORBIDDEN' && error.vendorCode === 'ForbiddenError',
      );
    });

    it('refuses types it cannot answer, and a missing key, without touching the network', async () => {
      await assert.rejects(vt.lookup({ type: 'cve', value: 'CVE-2024-3094' }), (error: ProviderError) => error.code === 'BAD_REQUEST' && error.attempts === 0);
      const keyless = createVirusTotal({ baseURL: fake.baseURL, now: clock.now, sleep: clock.sleep });
      await assert.rejects(keyless.lookup({ type: 'ipv4', value: BAD_IP }), (error: ProviderError) => error.code === 'AUTH' && error.attempts === 0);
      assert.equal(fake.server.requests.length, 0);
      assert.deepEqual([...vt.types].sort(), ['domain', 'ipv4', 'ipv6', 'md5', 'sha1', 'sha256', 'url']);
      assert.equal(vt.external, true);
    });

    it('TooManyRequestsError with Retry-After: waits the hint on the virtual clock, then succeeds', async () => {
      fake.script(vtTooManyRequests(30));
      const pending = vt.lookup({ type: 'ipv4', value: BAD_IP });
      await fake.server.waitForRequests(1);
      await clock.advance(29_000);
      assert.equal(fake.server.requests.length, 1, 'nothing is sent before the hint passes');
      await clock.advance(1_000);
      const result = await pending;
      assert.equal(result.level, 'malicious');
      assert.equal(fake.server.requests.length, 2);
      assert.equal(fake.server.requests[1].at - fake.server.requests[0].at, 30_000);
    });

    it('QuotaExceededError: QUOTA_EXHAUSTED until 00:00 UTC, later lookups fail fast and the vendor sees nothing more', async () => {
      fake.script(vtQuotaExceeded());
      const first = await vt.lookup({ type: 'ipv4', value: BAD_IP }).then(
        () => assert.fail('expected a rejection'),
        (reason: unknown) => reason as ProviderError,
      );
      assert.equal(first.code, 'QUOTA_EXHAUSTED');
      assert.equal(first.vendorCode, 'QuotaExceededError');
      assert.equal(first.resumeAt?.getTime(), NEXT_MIDNIGHT);
      assert.equal(vt.budgetState?.().pausedUntil?.getTime(), NEXT_MIDNIGHT);

      for (const value of ['198.51.100.1', 'example.org']) {
        await assert.rejects(
          vt.lookup({ type: value.includes('.org') ? 'domain' : 'ipv4', value }),
          (error: ProviderError) => error.code === 'QUOTA_EXHAUSTED' && error.attempts === 0 && error.resumeAt?.getTime() === NEXT_MIDNIGHT,
        );
      }
      await clock.advance(NEXT_MIDNIGHT - START - 1_000);
      await assert.rejects(vt.lookup({ type: 'ipv4', value: BAD_IP }), (error: ProviderError) => error.code === 'QUOTA_EXHAUSTED');
      assert.equal(fake.server.requests.length, 1, 'no request reached the vendor while paused');

      await clock.advance(1_000);
      const after = await vt.lookup({ type: 'ipv4', value: BAD_IP });
      assert.equal(after.level, 'malicious');
      assert.equal(fake.server.requests.length, 2);
    });

    it("the caller's AbortSignal cancels a lookup in flight (CANCELLED, not retried)", async () => {
      fake.script(vtHang());
      const controller = new AbortController();
      const pending = vt.lookup({ type: 'ipv4', value: BAD_IP }, controller.signal);
      await fake.server.waitForRequests(1);
      controller.abort();
      await assert.rejects(pending, (error: ProviderError) => error.code === 'CANCELLED');
      assert.equal(fake.server.requests.length, 1);
    });

    it('budget: with the default 4/min the vendor never sees a 5th request inside a minute of virtual time', async () => {
      const state = vt.budgetState?.();
      assert.deepEqual(
        state?.windows.map((window) => [window.window, window.limit]),
        [
          ['minute', 4],
          ['day', 500],
        ],
      );
      const lookups = ['198.51.100.1', BAD_IP, '198.51.100.1', BAD_IP, '198.51.100.1', BAD_IP].map((value) => vt.lookup({ type: 'ipv4', value }));
      await fake.server.waitForRequests(4);
      await Promise.all(lookups.slice(0, 4));
      await clock.advance(59_999);
      assert.equal(fake.server.requests.length, 4, 'the 5th waits for the minute to pass');
      assert.equal(vt.budgetState?.().queued, 2);
      await clock.advance(1);
      const results = await Promise.all(lookups);
      assert.equal(results.length, 6);
      assert.equal(fake.server.requests.length, 6);
      const times = fake.server.requests.map((request) => request.at);
      for (let i = 4; i < times.length; i++) assert.ok(times[i] - times[i - 4] >= 60_000, `request ${i + 1} came within a minute of request ${i - 3}`);
    });
  });

  describe('retries (auto-advancing clock)', () => {
    it('TooManyRequestsError without a hint and 503 TransientError are retried, then succeed', async () => {
      await setUp(true);
      fake.script(vtTooManyRequests(), vtTransient(), vtTransient());
      const result = await vt.lookup({ type: 'ipv4', value: BAD_IP });
      assert.equal(result.level, 'malicious');
      assert.equal(fake.server.requests.length, 4);
      assert.deepEqual(fake.violations, []);
    });

    it('a reply slower than timeoutMs → TIMEOUT after the retries', async () => {
      await setUp(true, { timeoutMs: 100 });
      fake.script(vtHang(), vtHang(), vtHang(), vtHang());
      await assert.rejects(vt.lookup({ type: 'ipv4', value: BAD_IP }), (error: ProviderError) => error.code === 'TIMEOUT' && error.attempts === 4);
      assert.equal(fake.server.requests.length, 4);
    });
  });
});
