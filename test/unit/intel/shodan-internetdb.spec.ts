import assert from 'node:assert/strict';
import { createShodanInternetDb, levelFromTags } from '../../../lib/intel/providers/shodan-internetdb';
import type { IntelProvider, IntelProviderOptions } from '../../../lib/intel/types';
import { ManualClock } from '../../helpers/fake-server';
import { rejection } from '../../helpers/provider-spec';
import { internetDbHang, internetDbServerError, internetDbThrottled, startInternetDbFake, type InternetDbFake } from '../../fakes/shodan-internetdb';

const START = Date.UTC(2026, 0, 15, 12, 0, 0);

describe('intel provider: Shodan InternetDB (contract fake)', () => {
  let fake: InternetDbFake;
  let clock: ManualClock;
  let internetdb: IntelProvider;

  async function setUp(autoAdvance: boolean, extra: Partial<IntelProviderOptions> = {}) {
    clock = new ManualClock(START, autoAdvance);
    fake = await startInternetDbFake({ now: clock.now });
    fake.addIp('203.0.113.44', { ports: [22, 80, 4444], tags: ['c2', 'self-signed'], vulns: ['CVE-2021-44228'], hostnames: ['c2.bad.example'] });
    fake.addIp('198.51.100.80', {
      ports: [21, 22, 25, 80, 110, 143, 443, 993, 995, 3306],
      vulns: ['CVE-2019-0211', 'CVE-2021-41773', 'CVE-2021-42013'],
      tags: ['cloud'],
      cpes: ['cpe:/a:apache:http_server:2.4.49'],
    });
    internetdb = createShodanInternetDb({ baseURL: fake.baseURL, now: clock.now, sleep: clock.sleep, ...extra });
  }

  afterEach(async () => {
    await internetdb?.close?.();
    await fake?.close();
  });

  describe('answers (manual clock)', () => {
    beforeEach(() => setUp(false));

    it('a c2 tag → suspicious, with ports/CVEs/tags as evidence and the documented request', async () => {
      const result = await internetdb.lookup({ type: 'ipv4', value: '203.0.113.44' });
      assert.equal(result.level, 'suspicious');
      assert.equal(result.found, true);
      assert.equal(result.provider, 'shodan-internetdb');
      assert.equal(result.source, 'Shodan InternetDB');
      assert.deepEqual(result.evidence, {
        ports: [22, 80, 4444],
        vulnCount: 1,
        vulns: ['CVE-2021-44228'],
        tags: ['c2', 'self-signed'],
        hostnames: ['c2.bad.example'],
      });
      assert.equal(result.summary, 'Shodan InternetDB: open ports 22, 80, 4444; 1 known CVE; tags: c2, self-signed');
      assert.equal(result.link, 'https://www.shodan.io/host/203.0.113.44');
      assert.deepEqual(fake.violations, []);
      assert.equal(fake.answered[0].method, 'GET');
      assert.equal(fake.answered[0].path, '/203.0.113.44');
    });

    it('exposure without a bad tag is found but unknown (InternetDB is not a reputation source)', async () => {
      const result = await internetdb.lookup({ type: 'ipv4', value: '198.51.100.80' });
      assert.equal(result.level, 'unknown');
      assert.equal(result.found, true);
      assert.equal(result.summary, 'Shodan InternetDB: open ports 21, 22, 25, 80, 110, 143, 443, 993, …; 3 known CVEs; tags: cloud');
      assert.equal(levelFromTags(['malware']), 'suspicious');
      assert.equal(levelFromTags(['COMPROMISED']), 'suspicious');
      assert.equal(levelFromTags(['tor', 'vpn', 'honeypot']), 'unknown');
    });

    it('404 "No information available" → found false, unknown; a bare 404 page stays NOT_FOUND', async () => {
      const result = await internetdb.lookup({ type: 'ipv4', value: '198.51.100.1' });
      assert.equal(result.found, false);
      assert.equal(result.level, 'unknown');
      assert.deepEqual(result.evidence, {});

      const wrong = createShodanInternetDb({ baseURL: fake.baseURL + '/wrong', now: clock.now, sleep: clock.sleep });
      fake.server.route('GET', /^\/wrong\//, { status: 404, body: '<html>404</html>', headers: { 'content-type': 'text/html' } });
      assert.equal((await rejection(wrong.lookup({ type: 'ipv4', value: '198.51.100.1' }))).code, 'NOT_FOUND');
      await wrong.close?.();
    });

    it('sends no credential even when a key is configured; 403 → FORBIDDEN', async () => {
      const withKey = createShodanInternetDb({ baseURL: fake.baseURL, apiKey: 'unused-key-123456789', now: clock.now, sleep: clock.sleep });
      await withKey.lookup({ type: 'ipv4', value: '203.0.113.44' });
      assert.deepEqual(fake.violations, []);
      fake.script({ status: 403, body: { detail: 'Forbidden' } });
      const forbidden = rejection(withKey.lookup({ type: 'ipv4', value: '203.0.113.44' }));
      await clock.advance(1_000); // the 1/s budget holds the second lookup for a virtual second
      assert.equal((await forbidden).code, 'FORBIDDEN');
      await withKey.close?.();
    });

    it('asks IPv4 only', async () => {
      assert.deepEqual(internetdb.types, ['ipv4']);
      assert.equal(internetdb.external, true);
      assert.equal((await rejection(internetdb.lookup({ type: 'domain', value: 'example.org' }))).code, 'BAD_REQUEST');
      assert.equal(fake.server.requests.length, 0);
    });

    it('429 with Retry-After is waited out, then succeeds', async () => {
      fake.script(internetDbThrottled(3));
      const pending = internetdb.lookup({ type: 'ipv4', value: '203.0.113.44' });
      await fake.server.waitForRequests(1);
      await clock.advance(2_999);
      assert.equal(fake.server.requests.length, 1);
      await clock.advance(1);
      assert.equal((await pending).level, 'suspicious');
      assert.equal(fake.server.requests.length, 2);
    });

    it('budget default: a polite 1 request per second', async () => {
      assert.deepEqual(
        internetdb.budgetState?.().windows.map((window) => [window.window, window.limit]),
        [['second', 1]],
      );
      const lookups = ['203.0.113.44', '198.51.100.80', '198.51.100.1'].map((value) => internetdb.lookup({ type: 'ipv4', value }));
      await fake.server.waitForRequests(1);
      await lookups[0];
      await clock.advance(999);
      assert.equal(fake.server.requests.length, 1);
      await clock.advance(1);
      await fake.server.waitForRequests(2);
      await clock.advance(1_000);
      await Promise.all(lookups);
      const times = fake.server.requests.map((request) => request.at);
      assert.deepEqual(times, [START, START + 1_000, START + 2_000]);
    });
  });

  describe('retries (auto-advancing clock)', () => {
    it('429 without a hint is throttling, never a quota: retried with backoff, then succeeds', async () => {
      await setUp(true);
      fake.script({ ...internetDbThrottled(), body: { detail: 'daily limit reached' } }, internetDbThrottled());
      const result = await internetdb.lookup({ type: 'ipv4', value: '203.0.113.44' });
      assert.equal(result.level, 'suspicious');
      assert.equal(fake.server.requests.length, 3);
      assert.equal(internetdb.budgetState?.().pausedUntil, undefined);
    });

    it('5xx is retried, then succeeds', async () => {
      await setUp(true);
      fake.script(internetDbServerError(502), internetDbServerError(504));
      assert.equal((await internetdb.lookup({ type: 'ipv4', value: '203.0.113.44' })).level, 'suspicious');
      assert.equal(fake.server.requests.length, 3);
    });

    it('a reply slower than timeoutMs → TIMEOUT', async () => {
      await setUp(true, { timeoutMs: 100 });
      fake.script(internetDbHang(), internetDbHang(), internetDbHang(), internetDbHang());
      assert.equal((await rejection(internetdb.lookup({ type: 'ipv4', value: '203.0.113.44' }))).code, 'TIMEOUT');
      assert.equal(fake.server.requests.length, 4);
    });
  });
});
