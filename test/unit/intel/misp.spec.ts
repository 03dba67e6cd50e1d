import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ProviderError } from '../../../lib/core/http';
import { createMisp, type MispOptions } from '../../../lib/intel/providers/misp';
import type { IntelProvider } from '../../../lib/intel/types';
import { ManualClock } from '../../helpers/fake-server';
import { startMispFake, type MispFake } from '../../fakes/misp';

const API_KEY = 'misp0AuthKey1234567890abcdefghijklmnopqrstu';

describe('MISP provider (contract fake)', () => {
  let clock: ManualClock;
  let fake: MispFake;
  let provider: IntelProvider;

  function make(overrides: Partial<MispOptions> = {}): IntelProvider {
    return createMisp({ baseURL: fake.baseURL, apiKey: API_KEY, now: clock.now, sleep: clock.sleep, ...overrides });
  }

  beforeEach(async () => {
    clock = new ManualClock(Date.UTC(2026, 2, 3, 9, 0, 0), true);
    fake = await startMispFake({ apiKey: API_KEY, now: clock.now });
    fake.addEvent({
      id: '42',
      info: 'Emotet C2 servers, March wave',
      threat_level_id: '1',
      tags: ['tlp:amber', 'misp-galaxy:malpedia="Emotet"'],
      attributes: [
        { type: 'ip-dst', value: '203.0.113.9', to_ids: true, timestamp: 1_772_000_000, tags: ['kill-chain:command-and-control'] },
        { type: 'domain|ip', value: 'c2.example.net|198.51.100.80', to_ids: true, timestamp: 1_771_000_000 },
      ],
    });
    fake.addEvent({
      id: '57',
      info: 'Phishing campaign infrastructure (context only)',
      threat_level_id: '3',
      tags: ['tlp:green'],
      attributes: [
        { type: 'ip-dst', value: '203.0.113.9', to_ids: false, category: 'External analysis', timestamp: 1_772_500_000 },
        { type: 'ip-src', value: '198.51.100.200', to_ids: false, timestamp: 1_770_000_000 },
        { type: 'text', value: '192.0.2.55', to_ids: true },
      ],
    });
    provider = make();
  });

  afterEach(async () => {
    await provider.close?.();
    await fake.close();
  });

  it('is internal by default (your own server: internal indicators may be sent), external on request', async () => {
    assert.equal(provider.kind, 'misp');
    assert.equal(provider.name, 'MISP');
    assert.equal(provider.external, false);
    assert.deepEqual([...provider.types].sort(), ['cve', 'domain', 'email', 'ipv4', 'ipv6', 'md5', 'sha1', 'sha256', 'sha512', 'url']);
    const community = make({ external: true, name: 'CIRCL MISP' });
    assert.equal(community.external, true);
    assert.equal(community.name, 'CIRCL MISP');
    await community.close?.();
  });

  it('an attribute flagged for IDS is malicious; evidence lists events, tags, threat level; link to the event', async () => {
    const result = await provider.lookup({ type: 'ipv4', value: '203.0.113.9' });
    assert.equal(result.level, 'malicious');
    assert.equal(result.found, true);
    assert.equal(result.evidence.attributes, 2);
    assert.equal(result.evidence.forIds, 1);
    assert.equal(result.evidence.eventCount, 2);
    assert.deepEqual(result.evidence.events, [
      { id: '57', info: 'Phishing campaign infrastructure (context only)' },
      { id: '42', info: 'Emotet C2 servers, March wave' },
    ]);
    assert.deepEqual(result.evidence.tags, ['kill-chain:command-and-control', 'tlp:amber', 'misp-galaxy:malpedia="Emotet"', 'tlp:green']);
    assert.equal(result.evidence.threatLevel, 'high');
    assert.equal(result.evidence.lastSeen, new Date(1_772_500_000 * 1000).toISOString());
    assert.deepEqual(result.evidence.types, ['ip-dst']);
    // The event to open is the one that flagged the indicator for detection.
    assert.equal(result.link, `${fake.baseURL}/events/view/42`);
    assert.equal(result.summary, 'MISP: 2 attributes in 2 events, 1 flagged for IDS — "Emotet C2 servers, March wave" (event 42)');
  });

  it('sends the documented restSearch: raw Authorization key, Accept JSON, returnFormat/value/type/includeEventTags/limit/page', async () => {
    await provider.lookup({ type: 'ipv4', value: '203.0.113.9' });
    await provider.lookup({ type: 'sha256', value: 'e'.repeat(64) });
    assert.deepEqual(fake.violations, []);
    const [ipSearch, hashSearch] = fake.server.requests;
    assert.equal(ipSearch.method, 'POST');
    assert.equal(ipSearch.path, '/attributes/restSearch');
    assert.equal(ipSearch.headers.authorization, API_KEY);
    assert.match(ipSearch.headers.accept, /application\/json/);
    assert.match(ipSearch.headers['content-type'], /application\/json/);
    assert.deepEqual(ipSearch.json, {
      returnFormat: 'json',
      value: '203.0.113.9',
      type: ['ip-src', 'ip-dst', 'ip-src|port', 'ip-dst|port', 'domain|ip'],
      includeEventTags: 1,
      limit: 50,
      page: 1,
    });
    assert.deepEqual((hashSearch.json as { type: string[] }).type, ['sha256', 'filename|sha256']);
  });

  it('toIdsOnly sends to_ids:1 and then only IDS attributes come back', async () => {
    await provider.close?.();
    provider = make({ toIdsOnly: true });
    const result = await provider.lookup({ type: 'ipv4', value: '203.0.113.9' });
    assert.equal((fake.server.requests[0].json as { to_ids?: number }).to_ids, 1);
    assert.equal(result.evidence.attributes, 1);
    assert.equal(result.level, 'malicious');
  });

  it('hits without to_ids are suspicious', async () => {
    const result = await provider.lookup({ type: 'ipv4', value: '198.51.100.200' });
    assert.equal(result.level, 'suspicious');
    assert.equal(result.found, true);
    assert.equal(result.evidence.threatLevel, 'low');
    assert.equal(result.link, `${fake.baseURL}/events/view/57`);
  });

  it('a composite attribute (domain|ip) matches on either part', async () => {
    assert.equal((await provider.lookup({ type: 'domain', value: 'c2.example.net' })).level, 'malicious');
    assert.equal((await provider.lookup({ type: 'ipv4', value: '198.51.100.80' })).level, 'malicious');
  });

  it('a value only present as a free-text attribute does not count (type filter)', async () => {
    const result = await provider.lookup({ type: 'ipv4', value: '192.0.2.55' });
    assert.equal(result.level, 'unknown');
  });

  it('an empty {"response":{"Attribute":[]}} is unknown (found:false), without a link', async () => {
    const result = await provider.lookup({ type: 'url', value: 'http://never.example/seen' });
    assert.equal(result.level, 'unknown');
    assert.equal(result.found, false);
    assert.equal(result.link, undefined);
    assert.equal(result.summary, 'MISP: no matching attribute');
  });

  it('a wrong key (403 "Authentication failed") is AUTH, not retried, and the key appears nowhere', async () => {
    await provider.close?.();
    const wrongKey = `${API_KEY.slice(0, -3)}zzz`;
    provider = make({ apiKey: wrongKey });
    await assert.rejects(provider.lookup({ type: 'ipv4', value: '203.0.113.9' }), (error: unknown) => {
      assert.ok(error instanceof ProviderError);
      assert.equal(error.code, 'AUTH');
      assert.equal(error.status, 403);
      for (const text of [error.message, error.stack ?? '', JSON.stringify(error), inspect(error, { depth: 5 })]) {
        assert.ok(!text.includes(wrongKey), 'key leaked');
      }
      return true;
    });
    assert.equal(fake.server.count(), 1);
  });

  it('an HTML page on HTTP 200 (wrong base URL, login page) is a BODY_ERROR, not a miss', async () => {
    fake.queue({ status: 200, headers: { 'content-type': 'text/html' }, body: '<html><title>Users - MISP</title></html>' });
    await assert.rejects(
      provider.lookup({ type: 'ipv4', value: '203.0.113.9' }),
      (error: ProviderError) => error.code === 'BODY_ERROR' && /base URL/.test(error.message),
    );
  });

  it('429 with Retry-After (a proxy in front of MISP): waits, then answers', async () => {
    fake.queue({ status: 429, headers: { 'retry-after': '5' } });
    assert.equal((await provider.lookup({ type: 'ipv4', value: '203.0.113.9' })).level, 'malicious');
    const [first, second] = fake.server.requests;
    assert.equal(second.at - first.at, 5_000);
  });

  it('5xx is retried (restSearch is read-only), then succeeds', async () => {
    fake.queue({ status: 500, body: { name: 'Internal Server Error', message: 'An Internal Error Has Occurred.' } }, { status: 502 });
    assert.equal((await provider.lookup({ type: 'ipv4', value: '203.0.113.9' })).level, 'malicious');
    assert.equal(fake.server.count(), 3);
  });

  it('a reply slower than timeoutMs is a TIMEOUT', async () => {
    await provider.close?.();
    provider = make({ timeoutMs: 100 });
    fake.queue(...Array.from({ length: 4 }, () => ({ delayMs: 3_000, body: { response: { Attribute: [] } } })));
    await assert.rejects(provider.lookup({ type: 'ipv4', value: '203.0.113.9' }), (error: ProviderError) => error.code === 'TIMEOUT');
  });

  it('needs a key and a base URL', () => {
    assert.throws(() => createMisp({ baseURL: fake.baseURL }), /auth key/);
    assert.throws(() => createMisp({ apiKey: API_KEY }), /base URL/);
  });

  describe('TLS to a self-hosted instance with a self-signed certificate', () => {
    let dir: string;
    let server: https.Server | undefined;
    let baseURL: string;

    before(function () {
      dir = mkdtempSync(join(tmpdir(), 'misp-tls-'));
      try {
        execFileSync(
          'openssl',
          [
            'req',
            '-x509',
            '-newkey',
            'ec',
            '-pkeyopt',
            'ec_paramgen_curve:P-256',
            '-nodes',
            '-days',
            '1',
            '-subj',
            '/CN=127.0.0.1',
            '-addext',
            'subjectAltName=IP:127.0.0.1',
            '-keyout',
            join(dir, 'key.pem'),
            '-out',
            join(dir, 'cert.pem'),
          ],
          { stdio: 'ignore' },
        );
      } catch (error) {
        console.log(`      skipped: openssl could not make a test certificate (${(error as Error).message})`);
        this.skip();
      }
    });

    beforeEach(async () => {
      const tlsServer = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (request, response) => {
        request.resume();
        request.on('end', () => {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ response: { Attribute: [] } }));
        });
      });
      await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
      server = tlsServer;
      baseURL = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}`;
    });

    afterEach(async () => {
      const tlsServer = server;
      server = undefined;
      tlsServer?.closeAllConnections();
      if (tlsServer) await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
    });

    after(() => rmSync(dir, { recursive: true, force: true }));

    it('refuses the certificate by default and accepts it with verifyTls:false', async () => {
      const strict = createMisp({ baseURL, apiKey: API_KEY, now: clock.now, sleep: clock.sleep });
      await assert.rejects(
        strict.lookup({ type: 'ipv4', value: '203.0.113.9' }),
        (error: ProviderError) => error.code === 'NETWORK' && /self[- ]signed/i.test(error.message),
      );
      await strict.close?.();

      const relaxed = createMisp({ baseURL, apiKey: API_KEY, verifyTls: false, now: clock.now, sleep: clock.sleep });
      const result = await relaxed.lookup({ type: 'ipv4', value: '203.0.113.9' });
      assert.equal(result.level, 'unknown');
      await relaxed.close?.();
    });
  });
});
