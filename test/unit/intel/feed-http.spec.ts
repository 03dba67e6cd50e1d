/**
 * The HTTP client behaviour feed refreshes rely on: a 304 Not Modified answer to a conditional GET
 * is a normal response (lib/core/http.ts treats 2xx and 304 as success), not a redirect error.
 */
import assert from 'node:assert/strict';
import { createHttpClient, ProviderError } from '../../../lib/core/http';
import { startFakeServer, type FakeServer } from '../../helpers/fake-server';

describe('http client: conditional GET for feeds', () => {
  let fake: FakeServer;
  beforeEach(async () => {
    fake = await startFakeServer();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('304 Not Modified resolves with status 304, the validators and no body, after one attempt', async () => {
    fake.route('GET', '/list.txt', (request) =>
      request.headers['if-none-match'] === '"abc"'
        ? { status: 304, headers: { etag: '"abc"' } }
        : { status: 200, headers: { etag: '"abc"' }, body: '203.0.113.1\n' },
    );
    const client = createHttpClient({ provider: 'feed', baseURL: fake.url, proxy: false });
    const full = await client.request<string>({ url: '/list.txt' });
    assert.equal(full.status, 200);
    assert.equal(full.data, '203.0.113.1\n');
    const conditional = await client.request<string>({ url: '/list.txt', headers: { 'If-None-Match': full.headers.etag } });
    assert.equal(conditional.status, 304);
    assert.equal(conditional.headers.etag, '"abc"');
    assert.equal(conditional.data, '', 'a 304 has no body');
    assert.equal(fake.count('GET', '/list.txt'), 2);
  });

  it('other 3xx answers are still refused (redirects are not followed)', async () => {
    fake.route('GET', '/moved', { status: 301, headers: { location: 'http://elsewhere.invalid/' } });
    const client = createHttpClient({ provider: 'feed', baseURL: fake.url, proxy: false });
    await assert.rejects(client.request({ url: '/moved' }), (error: unknown) => error instanceof ProviderError && error.code === 'BAD_REQUEST');
  });
});
