import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpClient, ProviderError, type HttpClientOptions } from '../../../lib/core/http';
import { ManualClock, startFakeServer, type FakeServer } from '../../helpers/fake-server';

describe('http client: requests, status mapping, timeouts, cancel', () => {
  let fake: FakeServer;
  let clock: ManualClock;

  beforeEach(async () => {
    fake = await startFakeServer();
    clock = new ManualClock(undefined, true);
  });
  afterEach(async () => {
    await fake.close();
  });

  const client = (extra: Partial<HttpClientOptions> = {}) =>
    createHttpClient({ provider: 'test', baseURL: fake.url + '/api', now: clock.now, sleep: clock.sleep, proxy: false, ...extra });

  it('sends method, path, params, headers and JSON body; returns status, parsed data and lower-cased headers', async () => {
    fake.route('POST', '/api/things', (request) => ({
      status: 201,
      headers: { 'X-Request-Id': 'abc', 'Set-Cookie': ['a=1', 'b=2'] },
      body: { echoed: request.json, q: request.query },
    }));
    const result = await client({ headers: { 'X-Default': 'd' } }).request<{ echoed: unknown; q: unknown }>({
      method: 'POST',
      url: '/things',
      params: { ip: '2001:db8::1', n: 3 },
      data: { name: 'x' },
      headers: { 'X-Extra': 'e' },
    });
    assert.equal(result.status, 201);
    assert.deepEqual(result.data, { echoed: { name: 'x' }, q: { ip: '2001:db8::1', n: '3' } });
    assert.equal(result.headers['x-request-id'], 'abc');
    assert.equal(result.headers['set-cookie'], 'a=1, b=2');
    assert.ok(Object.keys(result.headers).every((name) => name === name.toLowerCase()));
    assert.ok(Object.values(result.headers).every((value) => typeof value === 'string'));
    const seen = fake.requests[0];
    assert.equal(seen.headers['x-default'], 'd');
    assert.equal(seen.headers['x-extra'], 'e');
  });

  const statusTable: [number, string][] = [
    [400, 'BAD_REQUEST'],
    [422, 'BAD_REQUEST'],
    [401, 'AUTH'],
    [403, 'FORBIDDEN'],
    [404, 'NOT_FOUND'],
    [409, 'CONFLICT'],
    [501, 'SERVER'],
  ];
  for (const [status, code] of statusTable) {
    it(`maps HTTP ${status} to ${code}, not retryable, one request only`, async () => {
      fake.route('GET', '/api/x', { status, body: { error: { code: 'VendorName', message: 'vendor says no' } } });
      await assert.rejects(client().request({ url: '/x' }), (error: unknown) => {
        assert.ok(error instanceof ProviderError);
        assert.equal(error.code, code);
        assert.equal(error.status, status);
        assert.equal(error.retryable, false);
        assert.equal(error.provider, 'test');
        assert.equal(error.vendorCode, 'VendorName');
        assert.match(error.message, /vendor says no/);
        assert.equal(error.attempts, 1);
        return true;
      });
      assert.equal(fake.count(), 1);
    });
  }

  it('refuses an absolute URL to another origin without sending anything', async () => {
    for (const url of ['http://127.0.0.2:9/steal', '//127.0.0.2:9/steal']) {
      await assert.rejects(client({ headers: { 'x-apikey': 'k' } }).request({ url }), (error: ProviderError) => error.code === 'BAD_REQUEST');
    }
    assert.equal(fake.count(), 0);
    fake.route('GET', '/api/next', { status: 200, body: { ok: 1 } });
    const sameOrigin = await client().request({ url: fake.url + '/api/next?page=2' });
    assert.deepEqual(sameOrigin.data, { ok: 1 });
  });

  it('does not follow redirects (credentials stay put) and says to check the base URL', async () => {
    fake.route('GET', '/api/moved', { status: 301, headers: { location: 'https://127.0.0.1/elsewhere' } });
    await assert.rejects(client().request({ url: '/moved' }), (error: ProviderError) => {
      assert.equal(error.code, 'BAD_REQUEST');
      assert.match(error.message, /redirect.*check the base URL/);
      return true;
    });
    assert.equal(fake.count(), 1);
  });

  it('times out a response that never comes: TIMEOUT, retried for GET', async () => {
    fake.route('GET', '/api/slow', { hang: true });
    await assert.rejects(client({ timeoutMs: 80, retry: { maxAttempts: 2 } }).request({ url: '/slow' }), (error: ProviderError) => {
      assert.equal(error.code, 'TIMEOUT');
      assert.equal(error.retryable, true);
      assert.equal(error.attempts, 2);
      return true;
    });
    assert.equal(fake.count(), 2);
  });

  it('times out a body that trickles too slowly (deadline covers the whole answer)', async () => {
    fake.route('GET', '/api/drip', { status: 200, body: { late: true }, bodyDelayMs: 2_000 });
    await assert.rejects(client({ timeoutMs: 100, retry: { maxAttempts: 1 } }).request({ url: '/drip' }), (error: ProviderError) => error.code === 'TIMEOUT');
  });

  it('does not retry a timed-out POST without dedup key (it may have been applied)', async () => {
    fake.route('POST', '/api/write', { hang: true });
    await assert.rejects(client({ timeoutMs: 80 }).request({ method: 'POST', url: '/write', data: {} }), (error: ProviderError) => {
      assert.equal(error.code, 'TIMEOUT');
      assert.equal(error.retryable, false);
      return true;
    });
    assert.equal(fake.count(), 1);
  });

  it('per-request timeoutMs overrides the client default', async () => {
    fake.route('GET', '/api/slowish', { status: 200, body: { ok: true }, delayMs: 150 });
    const slowClient = client({ timeoutMs: 50, retry: { maxAttempts: 1 } });
    await assert.rejects(slowClient.request({ url: '/slowish' }), (error: ProviderError) => error.code === 'TIMEOUT');
    const result = await slowClient.request({ url: '/slowish', timeoutMs: 5_000 });
    assert.deepEqual(result.data, { ok: true });
  });

  it('aborting via signal mid-request gives CANCELLED and no retry', async () => {
    fake.route('GET', '/api/wait', { hang: true });
    const controller = new AbortController();
    const pending = client().request({ url: '/wait', signal: controller.signal });
    await fake.waitForRequests(1);
    controller.abort();
    await assert.rejects(pending, (error: ProviderError) => error.code === 'CANCELLED' && error.retryable === false);
    assert.equal(fake.count(), 1);
  });

  it('an already aborted signal sends nothing', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(client().request({ url: '/x', signal: controller.signal }), (error: ProviderError) => error.code === 'CANCELLED');
    assert.equal(fake.count(), 0);
  });

  it('a refused connection is NETWORK, retried for GET up to maxAttempts', async () => {
    // A port that was just free: listen, note it, close.
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const refused = createHttpClient({
      provider: 'test',
      baseURL: `http://127.0.0.1:${port}`,
      now: clock.now,
      sleep: clock.sleep,
      proxy: false,
      retry: { maxAttempts: 3 },
    });
    await assert.rejects(refused.request({ url: '/' }), (error: ProviderError) => {
      assert.equal(error.code, 'NETWORK');
      assert.equal(error.attempts, 3);
      assert.match(error.message, /ECONNREFUSED/);
      return true;
    });
    assert.equal(clock.sleeps.length, 2, 'two backoff waits between three attempts');
  });

  it('a dropped connection is NETWORK', async () => {
    fake.route('GET', '/api/drop', { destroy: true });
    await assert.rejects(client({ retry: { maxAttempts: 2 } }).request({ url: '/drop' }), (error: ProviderError) => error.code === 'NETWORK');
    assert.equal(fake.count(), 2);
  });

  it('rejects an oversized body with BODY_ERROR', async () => {
    fake.route('GET', '/api/big', { status: 200, body: 'x'.repeat(5_000) });
    await assert.rejects(client({ maxBodyBytes: 1_000 }).request({ url: '/big' }), (error: ProviderError) => error.code === 'BODY_ERROR');
    assert.equal(fake.count(), 1);
  });

  it('keeps non-JSON bodies as text', async () => {
    fake.route('GET', '/api/text', { status: 200, body: 'plain words' });
    const result = await client().request({ url: '/text' });
    assert.equal(result.data, 'plain words');
    assert.equal(result.headers['content-type'], 'text/plain; charset=utf-8');
  });
});
