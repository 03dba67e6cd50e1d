import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { createHttpClient, ProviderError, type HttpClientOptions, type RequestSpec } from '../../../lib/core/http';
import { redact, REDACTED, redactValue, secretsFromHeaders } from '../../../lib/core/redact';
import { ManualClock, startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../../helpers/fake-server';

const API_KEY = 'vt-KEY-5f1e2d3c4b5a69788796a5b4c3d2e1f0';

describe('redact()', () => {
  it('replaces every occurrence of every secret, longest first', () => {
    assert.equal(redact('key abc123 and abc123xyz', ['abc123', 'abc123xyz']), `key ${REDACTED} and ${REDACTED}`);
  });

  it('catches URL-encoded, form-encoded and JSON-escaped forms of a secret', () => {
    const secret = 'p@ss w/"rd+=';
    const forms = [encodeURIComponent(secret), encodeURIComponent(secret).replace(/%20/g, '+'), JSON.stringify(secret).slice(1, -1)];
    for (const form of forms) assert.equal(redact(`x=${form};`, [secret]), `x=${REDACTED};`);
  });

  it('removes URL userinfo and credential query parameters even for unregistered values', () => {
    const text = 'GET https://admin:hunter2@fw.example/api?apikey=zzz&ip=198.51.100.1&token=ttt&Key=kkk#x';
    const clean = redact(text, []);
    assert.equal(clean, `GET https://${REDACTED}@fw.example/api?apikey=${REDACTED}&ip=198.51.100.1&token=${REDACTED}&Key=${REDACTED}#x`);
  });

  it('ignores empty secrets instead of mangling the text', () => {
    assert.equal(redact('nothing secret here', ['', 'absent']), 'nothing secret here');
  });

  it('redactValue keeps structure, redacts strings inside, and caps size', () => {
    assert.deepEqual(redactValue({ echo: `key=${API_KEY}`, n: 1 }, [API_KEY]), { echo: `key=${REDACTED}`, n: 1 });
    const big = redactValue({ blob: 'x'.repeat(10_000) }, [], 100) as string;
    assert.equal(typeof big, 'string');
    assert.ok(big.length <= 101);
  });

  it('secretsFromHeaders finds credential headers, the token after a scheme and Basic user:password', () => {
    const basic = 'Basic ' + Buffer.from('soar:s3cret-pass').toString('base64');
    const found = secretsFromHeaders({
      'x-apikey': 'k1',
      Authorization: 'Bearer tok-123',
      'Auth-Key': 'k2',
      Accept: 'application/json',
      'Proxy-Authorization': basic,
    });
    for (const expected of ['k1', 'tok-123', 'k2', 's3cret-pass', 'soar:s3cret-pass']) assert.ok(found.includes(expected), expected);
    assert.ok(!found.includes('application/json'));
  });
});

describe('http client: secrets never leave in errors', () => {
  let fake: FakeServer;
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock(undefined, true);
    fake = await startFakeServer({ now: clock.now });
  });
  afterEach(async () => {
    await fake.close();
  });

  /** Echoes everything the client sent: headers, full URL, body. */
  const echo =
    (status: number): ((request: FakeRequest) => FakeReply) =>
    (request) => ({
      status,
      body: {
        error: { code: 'Echo', message: `you sent ${request.url} ${JSON.stringify(request.headers)} ${request.body}` },
        headers: request.headers,
        url: request.url,
      },
    });

  function everythingAbout(error: unknown): string {
    const asError = error as Error;
    return [JSON.stringify(error), String(error), asError.stack ?? '', asError.message, inspect(error, { depth: 10, showHidden: true })].join('\n');
  }

  async function failureOf(options: Partial<HttpClientOptions>, spec: RequestSpec): Promise<ProviderError> {
    const client = createHttpClient({
      provider: 'vt',
      baseURL: fake.url,
      now: clock.now,
      sleep: clock.sleep,
      proxy: false,
      retry: { maxAttempts: 2 },
      ...options,
    });
    try {
      await client.request(spec);
    } catch (error) {
      assert.ok(error instanceof ProviderError, `expected a ProviderError, got ${String(error)}`);
      return error;
    }
    assert.fail('the request should have failed');
  }

  function assertClean(error: ProviderError, secrets: string[]) {
    const text = everythingAbout(error);
    for (const secret of secrets) assert.ok(!text.includes(secret), `secret ${secret.slice(0, 6)}… leaked:\n${text}`);
    for (const property of ['config', 'request', 'response', 'cause', 'toJSON_raw']) {
      assert.equal(Object.prototype.hasOwnProperty.call(error, property), false, `error carries ${property}`);
    }
  }

  it('401 echoing the x-apikey header (auto-detected, no secrets option needed)', async () => {
    fake.route('GET', /.*/, echo(401));
    const error = await failureOf({ headers: { 'x-apikey': API_KEY } }, { url: '/ip_addresses/198.51.100.1' });
    assert.equal(error.code, 'AUTH');
    assert.match(JSON.stringify(error.body), /REDACTED/, 'the echoed key was there and got redacted');
    assertClean(error, [API_KEY]);
  });

  it('500 echoing a custom header registered through `secrets`', async () => {
    fake.route('GET', /.*/, echo(500));
    const error = await failureOf({ headers: { 'X-Vendor-Thing': API_KEY }, secrets: [API_KEY] }, { url: '/x' });
    assert.equal(error.code, 'SERVER');
    assert.equal(fake.count(), 2);
    assertClean(error, [API_KEY]);
  });

  it('a key sent as a query parameter (apikey=) is redacted from the echoed URL', async () => {
    fake.route('GET', /.*/, echo(403));
    const error = await failureOf({}, { url: '/search', params: { apikey: API_KEY, q: 'evil.example' } });
    assert.equal(error.code, 'FORBIDDEN');
    assertClean(error, [API_KEY]);
    assert.match(error.message, /evil\.example/, 'non-secret context survives');
  });

  it('basic-auth userinfo in the base URL, and the Authorization header it produces', async () => {
    const password = 'Fw-Pa55-9f8e7d6c';
    fake.route('GET', /.*/, echo(401));
    const baseURL = fake.url.replace('http://', `http://opnsense-api:${password}@`);
    const error = await failureOf({ baseURL }, { url: '/api/core/firmware/status' });
    assert.equal(error.code, 'AUTH');
    const sentAuthorization = fake.requests[0].headers.authorization ?? '';
    assert.ok(sentAuthorization.startsWith('Basic '), 'axios turned the userinfo into Basic auth');
    assertClean(error, [password, sentAuthorization.slice('Basic '.length)]);
  });

  it('a Bearer token, a token in the URL path (Telegram) and a secret with special characters', async () => {
    const botToken = '123456:AAE-telegram-bot-token_xyz';
    const odd = 'p@ss w/"rd+=&';
    fake.route('POST', /.*/, echo(404));
    const error = await failureOf(
      { headers: { Authorization: `Bearer ${API_KEY}` }, secrets: [botToken, odd] },
      { method: 'POST', url: `/bot${botToken}/sendMessage`, data: { note: odd, text: 'hi' } },
    );
    assert.equal(error.code, 'NOT_FOUND');
    assertClean(error, [API_KEY, botToken, odd, encodeURIComponent(botToken)]);
  });

  it('a timeout with the key in headers, query and path', async () => {
    fake.route('GET', /.*/, { hang: true });
    const error = await failureOf({ headers: { 'x-apikey': API_KEY }, timeoutMs: 60, secrets: [API_KEY] }, { url: `/k/${API_KEY}`, params: { key: API_KEY } });
    assert.equal(error.code, 'TIMEOUT');
    assertClean(error, [API_KEY]);
  });

  it('a network error with the key in the URL', async () => {
    fake.route('GET', /.*/, { destroy: true });
    const error = await failureOf({ secrets: [API_KEY] }, { url: `/k/${API_KEY}`, params: { token: API_KEY } });
    assert.equal(error.code, 'NETWORK');
    assertClean(error, [API_KEY]);
  });

  it('setSecrets() covers a key that rotates after the client was created', async () => {
    const rotated = 'rotated-KEY-0a1b2c3d4e5f';
    fake.route('GET', /.*/, echo(401));
    const client = createHttpClient({ provider: 'vt', baseURL: fake.url, now: clock.now, sleep: clock.sleep, proxy: false });
    client.setSecrets([rotated]);
    const error = await client.request({ url: '/x', headers: { 'X-Vendor-Thing': rotated } }).catch((e: unknown) => e as ProviderError);
    assert.ok(error instanceof ProviderError);
    assertClean(error, [rotated]);
  });

  it('per-request credential headers are redacted too', async () => {
    fake.route('GET', /.*/, echo(401));
    const error = await failureOf({}, { url: '/x', headers: { 'Auth-Key': API_KEY } });
    assertClean(error, [API_KEY]);
  });
});
