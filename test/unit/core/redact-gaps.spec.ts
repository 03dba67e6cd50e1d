/** Redaction cases a planted-bug run found uncaught: secrets in text/HTML error bodies, `sig=` URL parameters. */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { createHttpClient, ProviderError } from '../../../lib/core/http';
import { redact, REDACTED, redactValue } from '../../../lib/core/redact';
import { ManualClock, startFakeServer, type FakeServer } from '../../helpers/fake-server';

const KEY = 'k3y-7c1d9e0f2a3b4c5d6e7f8091a2b3c4d5';

describe('redaction gaps', () => {
  it('redactValue redacts a secret inside a string (HTML or plain text) body, and a Buffer body', () => {
    const html = `<html><body><h1>401</h1><p>Invalid API key ${KEY} for /v3/lookup</p></body></html>`;
    assert.equal(redactValue(html, [KEY]), `<html><body><h1>401</h1><p>Invalid API key ${REDACTED} for /v3/lookup</p></body></html>`);
    assert.equal(redactValue(`bad key: ${KEY}`, [KEY]), `bad key: ${REDACTED}`);
    assert.equal(redactValue(Buffer.from(`bad key: ${KEY}`), [KEY]), `bad key: ${REDACTED}`);
    // Truncation happens after redaction: a secret across the cut is not half left.
    const long = redactValue(`${'x'.repeat(90)}${KEY}${'y'.repeat(100)}`, [KEY], 100) as string;
    assert.ok(!long.includes(KEY.slice(0, 10)), long);
  });

  it('redacts sig= and signature= URL parameters (pre-signed URLs) whatever their value', () => {
    const url = 'https://blob.example/c/report.json?sv=2022-11-02&se=2026-12-01&sig=AbC%2Bd3f%3D&sp=r';
    assert.equal(redact(url, []), `https://blob.example/c/report.json?sv=2022-11-02&se=2026-12-01&sig=${REDACTED}&sp=r`);
    assert.equal(redact('GET /x?a=1&signature=deadbeef', []), `GET /x?a=1&signature=${REDACTED}`);
    assert.equal(redact('GET /x?SIG=deadbeef#frag', []), `GET /x?SIG=${REDACTED}#frag`);
    // Names that only contain "sig" are left alone.
    assert.equal(redact('GET /x?design=blue&sigma=2', []), 'GET /x?design=blue&sigma=2');
  });

  describe('http client error bodies', () => {
    let fake: FakeServer;
    let clock: ManualClock;
    beforeEach(async () => {
      clock = new ManualClock(undefined, true);
      fake = await startFakeServer({ now: clock.now });
    });
    afterEach(async () => {
      await fake.close();
    });

    it('a text/html error page echoing the key leaves no trace of it on the error', async () => {
      fake.route('GET', /.*/, (request) => ({
        status: 401,
        headers: { 'content-type': 'text/html' },
        body: `<html><body>Key ${String(request.headers['x-apikey'])} is not valid</body></html>`,
      }));
      const client = createHttpClient({ provider: 'demo', baseURL: fake.url, now: clock.now, sleep: clock.sleep, proxy: false, headers: { 'x-apikey': KEY } });
      let caught: unknown;
      try {
        await client.request({ url: '/lookup' });
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof ProviderError, `expected a ProviderError, got ${String(caught)}`);
      assert.equal(caught.code, 'AUTH');
      assert.equal(caught.body, `<html><body>Key ${REDACTED} is not valid</body></html>`);
      const everything = [JSON.stringify(caught), String(caught), caught.stack ?? '', inspect(caught, { depth: 10, showHidden: true })].join('\n');
      assert.ok(!everything.includes(KEY), everything);
    });

    it('a pre-signed URL (sig=) in a failed request does not appear in the error', async () => {
      fake.route('GET', /.*/, () => ({ status: 500, headers: { 'content-type': 'text/plain' }, body: 'boom' }));
      const client = createHttpClient({ provider: 'demo', baseURL: fake.url, now: clock.now, sleep: clock.sleep, proxy: false, retry: { maxAttempts: 1 } });
      let caught: unknown;
      try {
        await client.request({ url: '/blob', params: { sv: '2022', sig: 'S1gnatureValue' } });
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof ProviderError);
      const everything = [JSON.stringify(caught), String(caught), caught.stack ?? '', inspect(caught, { depth: 10, showHidden: true })].join('\n');
      assert.ok(!everything.includes('S1gnatureValue'), everything);
    });
  });
});
