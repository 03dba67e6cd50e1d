import assert from 'node:assert/strict';
import { createHttpClient, ProviderError, type BodyCheck, type HttpClientOptions } from '../../../lib/core/http';
import { ManualClock, startFakeServer, type FakeServer } from '../../helpers/fake-server';

// Vendor-shaped body checks, as a provider file would write them.
const urlhausCheck: BodyCheck = (data) => {
  const status = (data as { query_status?: string })?.query_status;
  if (status === 'ok' || status === 'no_results') return undefined; // no_results is an answer: "unknown"
  if (status === 'unknown_auth_key') return { code: 'AUTH', message: 'URLhaus rejected the Auth-Key', vendorCode: status };
  return { code: 'BAD_REQUEST', message: `URLhaus query_status ${status}`, vendorCode: status };
};

const slackCheck: BodyCheck = (data) => {
  const body = data as { ok?: boolean; error?: string };
  if (body?.ok !== false) return undefined;
  if (body.error === 'invalid_auth' || body.error === 'not_authed') return { code: 'AUTH', message: body.error, vendorCode: body.error };
  if (body.error === 'ratelimited') return { code: 'RATE_LIMITED', message: body.error, retryable: true, vendorCode: body.error };
  return { code: 'BODY_ERROR', message: `Slack error ${body.error}`, vendorCode: body.error };
};

const opnsenseCheck: BodyCheck = (data) => {
  const body = data as { status?: string };
  return body?.status === 'failed' ? { code: 'BODY_ERROR', message: 'OPNsense alias_util reported status failed' } : undefined;
};

describe('http client: checkBody (HTTP 200 with a failure in the body)', () => {
  let fake: FakeServer;
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock(undefined, true);
    fake = await startFakeServer({ now: clock.now });
  });
  afterEach(async () => {
    await fake.close();
  });

  const client = (checkBody: BodyCheck, extra: Partial<HttpClientOptions> = {}) =>
    createHttpClient({ provider: 'vendor', baseURL: fake.url, now: clock.now, sleep: clock.sleep, proxy: false, checkBody, ...extra });

  it('URLhaus: no_results is a normal answer, unknown_auth_key is AUTH', async () => {
    fake.route('POST', '/v1/host/', (request) =>
      request.form?.host === 'bad.example'
        ? { status: 200, body: { query_status: 'unknown_auth_key' } }
        : { status: 200, body: { query_status: 'no_results' } },
    );
    const urlhaus = client(urlhausCheck, { provider: 'urlhaus' });
    const form = (host: string) => ({
      method: 'POST' as const,
      url: '/v1/host/',
      data: new URLSearchParams({ host }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const miss = await urlhaus.request<{ query_status: string }>(form('clean.example'));
    assert.equal(miss.data.query_status, 'no_results');

    await assert.rejects(urlhaus.request(form('bad.example')), (error: ProviderError) => {
      assert.equal(error.code, 'AUTH');
      assert.equal(error.status, 200);
      assert.equal(error.vendorCode, 'unknown_auth_key');
      assert.equal(error.retryable, false);
      assert.match(error.message, /failure in body: URLhaus rejected the Auth-Key/);
      assert.deepEqual(error.body, { query_status: 'unknown_auth_key' });
      return true;
    });
    assert.equal(fake.count(), 2);
  });

  it('Slack ok:false becomes BODY_ERROR with the vendor code; ok:true passes', async () => {
    fake.route('POST', '/api/chat.postMessage', (request) =>
      (request.json as { channel?: string }).channel === 'C-gone'
        ? { status: 200, body: { ok: false, error: 'channel_not_found' } }
        : { status: 200, body: { ok: true, ts: '1.2' } },
    );
    const slack = client(slackCheck, { provider: 'slack' });
    const sent = await slack.request<{ ts: string }>({ method: 'POST', url: '/api/chat.postMessage', data: { channel: 'C1' } });
    assert.equal(sent.data.ts, '1.2');
    await assert.rejects(slack.request({ method: 'POST', url: '/api/chat.postMessage', data: { channel: 'C-gone' } }), (error: ProviderError) => {
      assert.equal(error.code, 'BODY_ERROR');
      assert.equal(error.vendorCode, 'channel_not_found');
      return true;
    });
  });

  it('a retryable body failure is retried for an idempotent call', async () => {
    fake.route('GET', '/api/conversations.info', [
      { status: 200, body: { ok: false, error: 'ratelimited' } },
      { status: 200, body: { ok: true } },
    ]);
    const result = await client(slackCheck).request({ url: '/api/conversations.info' });
    assert.deepEqual(result.data, { ok: true });
    assert.equal(fake.count(), 2);
  });

  it('OPNsense status:"failed" becomes BODY_ERROR and a write is not retried', async () => {
    fake.route('POST', '/api/firewall/alias_util/add/soar_block', { status: 200, body: { status: 'failed' } });
    await assert.rejects(
      client(opnsenseCheck).request({ method: 'POST', url: '/api/firewall/alias_util/add/soar_block', data: { address: '198.51.100.7' } }),
      (error: ProviderError) => error.code === 'BODY_ERROR' && /status failed/.test(error.message),
    );
    assert.equal(fake.count(), 1);
  });

  it('checkBody does not run on non-2xx answers', async () => {
    let checked = 0;
    fake.route('GET', '/missing', { status: 404, body: { ok: false } });
    await assert.rejects(
      client(() => {
        checked++;
        return undefined;
      }).request({ url: '/missing' }),
      (error: ProviderError) => error.code === 'NOT_FOUND',
    );
    assert.equal(checked, 0);
  });

  it('a throwing checkBody is reported as BODY_ERROR, not as a raw exception', async () => {
    fake.route('GET', '/odd', { status: 200, body: 'not an object' });
    const brokenCheck: BodyCheck = (data) => {
      (data as { a: { b: string } }).a.b.toString();
      return undefined;
    };
    await assert.rejects(client(brokenCheck).request({ url: '/odd' }), (error: ProviderError) => error instanceof ProviderError && error.code === 'BODY_ERROR');
  });
});
