import assert from 'node:assert/strict';
import { createUrlhaus, levelForHost } from '../../../lib/intel/providers/urlhaus';
import type { IntelProvider, IntelProviderOptions } from '../../../lib/intel/types';
import { ManualClock } from '../../helpers/fake-server';
import { rejection } from '../../helpers/provider-spec';
import { startUrlhausFake, urlhausHang, urlhausServerError, urlhausThrottled, type UrlhausFake } from '../../fakes/urlhaus';

const START = Date.UTC(2026, 0, 15, 12, 0, 0);
const MD5 = '0123456789abcdef0123456789abcdef';
const SHA256 = 'f'.repeat(64);

describe('intel provider: abuse.ch URLhaus (contract fake)', () => {
  let fake: UrlhausFake;
  let clock: ManualClock;
  let urlhaus: IntelProvider;

  async function setUp(autoAdvance: boolean, extra: Partial<IntelProviderOptions> = {}) {
    clock = new ManualClock(START, autoAdvance);
    fake = await startUrlhausFake({ now: clock.now });
    fake.addUrl('http://203.0.113.7/bins/mozi.m', { url_status: 'online', tags: ['elf', 'Mozi'], date_added: '2026-01-12 06:00:01 UTC' });
    fake.addUrl('https://dl.bad.example/invoice.zip', { url_status: 'offline', threat: 'malware_download' });
    fake.addHost('bad.example', {
      urls: [
        { url: 'https://bad.example/a.exe', url_status: 'online', tags: ['exe'] },
        { url: 'https://bad.example/b.exe', url_status: 'offline' },
      ],
    });
    fake.addHost('203.0.113.7', { urls: [{ url: 'http://203.0.113.7/bins/mozi.m', url_status: 'online', tags: ['elf', 'Mozi'] }] });
    fake.addHost('shared-cms.example', { spamhaus_dbl: 'abused_legit_malware', urls: [{ url: 'https://shared-cms.example/wp/x.exe', url_status: 'online' }] });
    fake.addHost('old.example', { firstseen: '2024-03-01 00:00:00 UTC', urls: [{ url: 'http://old.example/x', url_status: 'offline' }] });
    fake.addPayload({ md5: MD5, sha256: SHA256, file_type: 'exe', file_size: 656896, signature: 'Emotet', url_count: 5 });
    urlhaus = createUrlhaus({ baseURL: fake.baseURL, apiKey: fake.apiKey, now: clock.now, sleep: clock.sleep, ...extra });
  }

  afterEach(async () => {
    await urlhaus?.close?.();
    await fake?.close();
  });

  describe('answers (manual clock)', () => {
    beforeEach(() => setUp(false, { budget: { perSecond: 1000 } }));

    it('a listed URL → malicious, via a form POST to /v1/url/ with the Auth-Key header', async () => {
      const url = 'http://203.0.113.7/bins/mozi.m';
      const result = await urlhaus.lookup({ type: 'url', value: url });
      assert.equal(result.level, 'malicious');
      assert.equal(result.found, true);
      assert.equal(result.provider, 'urlhaus');
      assert.equal(result.summary, 'URLhaus: listed malware URL (malware_download), online, added 2026-01-12, tags: elf, Mozi');
      assert.match(result.link ?? '', /^https:\/\/urlhaus\.abuse\.ch\/url\/\d+\/$/);
      assert.deepEqual(result.evidence, {
        id: result.evidence.id,
        urlStatus: 'online',
        threat: 'malware_download',
        dateAdded: '2026-01-12 06:00:01 UTC',
        tags: ['elf', 'Mozi'],
        blacklists: { spamhaus_dbl: 'not listed', surbl: 'not listed' },
        payloads: 0,
      });
      assert.match(String(result.evidence.id), /^\d+$/);

      assert.deepEqual(fake.violations, []);
      const request = fake.answered[0];
      assert.equal(request.method, 'POST');
      assert.equal(request.path, '/v1/url/');
      assert.equal(request.headers['auth-key'], fake.apiKey);
      assert.match(request.headers['content-type'], /application\/x-www-form-urlencoded/);
      assert.deepEqual(request.form, { url });
    });

    it('an offline listed URL is still malicious, with the status in the evidence', async () => {
      const result = await urlhaus.lookup({ type: 'url', value: 'https://dl.bad.example/invoice.zip' });
      assert.equal(result.level, 'malicious');
      assert.equal(result.evidence.urlStatus, 'offline');
    });

    it('hosts: online URLs → malicious; only offline, or an abused legitimate site → suspicious; IPv4 hosts too', async () => {
      const live = await urlhaus.lookup({ type: 'domain', value: 'bad.example' });
      assert.equal(live.level, 'malicious');
      assert.equal(live.summary, 'URLhaus: host served 2 malware URLs (1 online), first seen 2025-11-02');
      assert.equal(live.link, 'https://urlhaus.abuse.ch/host/bad.example/');
      assert.deepEqual(live.evidence.tags, ['exe']);

      const ip = await urlhaus.lookup({ type: 'ipv4', value: '203.0.113.7' });
      assert.equal(ip.level, 'malicious');

      const abused = await urlhaus.lookup({ type: 'domain', value: 'shared-cms.example' });
      assert.equal(abused.level, 'suspicious');
      assert.match(abused.summary, /compromised legitimate site/);

      const old = await urlhaus.lookup({ type: 'domain', value: 'old.example' });
      assert.equal(old.level, 'suspicious');
      assert.equal(old.evidence.onlineUrls, 0);

      assert.deepEqual(
        fake.answered.map((request) => [request.path, request.form]),
        [
          ['/v1/host/', { host: 'bad.example' }],
          ['/v1/host/', { host: '203.0.113.7' }],
          ['/v1/host/', { host: 'shared-cms.example' }],
          ['/v1/host/', { host: 'old.example' }],
        ],
      );
      assert.equal(levelForHost(3, 'not listed'), 'malicious');
      assert.equal(levelForHost(3, 'abused_legit_phishing'), 'suspicious');
      assert.equal(levelForHost(0, undefined), 'suspicious');
    });

    it('payloads by md5 and sha256 → malicious, with the signature', async () => {
      const byMd5 = await urlhaus.lookup({ type: 'md5', value: MD5 });
      const bySha = await urlhaus.lookup({ type: 'sha256', value: SHA256 });
      for (const result of [byMd5, bySha]) {
        assert.equal(result.level, 'malicious');
        assert.equal(result.summary, 'URLhaus: malware sample (Emotet, exe), seen on 5 URLs');
        assert.equal(result.evidence.fileSize, 656896);
        assert.equal(result.evidence.sha256, SHA256);
      }
      assert.deepEqual(
        fake.answered.map((request) => [request.path, request.form]),
        [
          ['/v1/payload/', { md5_hash: MD5 }],
          ['/v1/payload/', { sha256_hash: SHA256 }],
        ],
      );
      assert.deepEqual(fake.violations, []);
    });

    it('no_results → found false, unknown, with a search link', async () => {
      const result = await urlhaus.lookup({ type: 'url', value: 'https://clean.example/' });
      assert.equal(result.found, false);
      assert.equal(result.level, 'unknown');
      assert.equal(result.summary, 'URLhaus: not listed');
      assert.equal(result.link, 'https://urlhaus.abuse.ch/browse.php?search=https%3A%2F%2Fclean.example%2F');
    });

    it('bad key: unknown_auth_key with HTTP 200 and with HTTP 401 are both AUTH; the key appears nowhere', async () => {
      const wrongKey = 'wrong-urlhaus-key-1a2b3c4d5e6f7a8b9c0d';
      const bad = createUrlhaus({ baseURL: fake.baseURL, apiKey: wrongKey, now: clock.now, sleep: clock.sleep, budget: { perSecond: 1000 } });
      for (const status of [200, 401]) {
        fake.authFailureStatus = status;
        const error = await rejection(bad.lookup({ type: 'domain', value: 'bad.example' }));
        assert.equal(error.code, 'AUTH');
        assert.equal(error.status, status);
        assert.equal(error.attempts, 1, 'not retried');
        if (status === 200) assert.equal(error.vendorCode, 'unknown_auth_key');
        for (const text of [error.message, error.stack ?? '', JSON.stringify(error)]) assert.ok(!text.includes(wrongKey));
      }
      await bad.close?.();
    });

    it('200 with invalid_* / http_post_expected in the body → BAD_REQUEST; an unknown query_status → BODY_ERROR; none retried', async () => {
      const badUrl = await rejection(urlhaus.lookup({ type: 'url', value: 'not a url' }));
      assert.equal(badUrl.code, 'BAD_REQUEST');
      assert.equal(badUrl.vendorCode, 'invalid_url');
      assert.equal(badUrl.status, 200);
      const badHash = await rejection(urlhaus.lookup({ type: 'md5', value: 'xyz' }));
      assert.equal(badHash.vendorCode, 'invalid_md5');
      const badHost = await rejection(urlhaus.lookup({ type: 'domain', value: '-' }));
      assert.equal(badHost.vendorCode, 'invalid_host');

      fake.script({ status: 200, body: { query_status: 'http_post_expected' } });
      const notPost = await rejection(urlhaus.lookup({ type: 'domain', value: 'bad.example' }));
      assert.equal(notPost.code, 'BAD_REQUEST');
      assert.equal(notPost.vendorCode, 'http_post_expected');

      fake.script({ status: 200, body: { query_status: 'maintenance' } });
      const odd = await rejection(urlhaus.lookup({ type: 'domain', value: 'bad.example' }));
      assert.equal(odd.code, 'BODY_ERROR');
      assert.equal(fake.server.requests.length, 5, 'no retries for answers in the body');
    });

    it('refuses unsupported types and a missing key without a request', async () => {
      assert.deepEqual([...urlhaus.types].sort(), ['domain', 'ipv4', 'md5', 'sha256', 'url']);
      assert.equal(urlhaus.external, true);
      assert.equal((await rejection(urlhaus.lookup({ type: 'sha1', value: 'c'.repeat(40) }))).code, 'BAD_REQUEST');
      const keyless = createUrlhaus({ baseURL: fake.baseURL, now: clock.now, sleep: clock.sleep });
      assert.equal((await rejection(keyless.lookup({ type: 'domain', value: 'bad.example' }))).code, 'AUTH');
      assert.equal(fake.server.requests.length, 0);
    });

    it('429 with Retry-After is waited out, then succeeds', async () => {
      fake.script(urlhausThrottled(20));
      const pending = urlhaus.lookup({ type: 'domain', value: 'bad.example' });
      await fake.server.waitForRequests(1);
      await clock.advance(19_999);
      assert.equal(fake.server.requests.length, 1);
      await clock.advance(1);
      assert.equal((await pending).level, 'malicious');
      assert.equal(fake.server.requests.length, 2);
    });
  });

  describe('defaults and retries', () => {
    it('budget default: 2 requests per second', async () => {
      await setUp(false);
      assert.deepEqual(
        urlhaus.budgetState?.().windows.map((window) => [window.window, window.limit]),
        [['second', 2]],
      );
      const lookups = ['bad.example', 'old.example', 'shared-cms.example'].map((value) => urlhaus.lookup({ type: 'domain', value }));
      await fake.server.waitForRequests(2);
      await Promise.all(lookups.slice(0, 2));
      await clock.advance(999);
      assert.equal(fake.server.requests.length, 2);
      await clock.advance(1);
      await Promise.all(lookups);
      assert.equal(fake.server.requests[2].at, START + 1_000);
    });

    it('5xx is retried (a lookup POST is safe to repeat), then succeeds', async () => {
      await setUp(true);
      fake.script(urlhausServerError(502), urlhausServerError(500));
      assert.equal((await urlhaus.lookup({ type: 'domain', value: 'bad.example' })).level, 'malicious');
      assert.equal(fake.server.requests.length, 3);
    });

    it('a reply slower than timeoutMs → TIMEOUT', async () => {
      await setUp(true, { timeoutMs: 100 });
      fake.script(urlhausHang(), urlhausHang(), urlhausHang(), urlhausHang());
      assert.equal((await rejection(urlhaus.lookup({ type: 'domain', value: 'bad.example' }))).code, 'TIMEOUT');
      assert.equal(fake.server.requests.length, 4);
    });
  });
});
