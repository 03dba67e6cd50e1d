/**
 * Edges of the intake's auth, body reader and HTTP handler that mutation testing showed unchecked:
 * anchors of the header patterns, single-address allowlist entries, exact limits, error and abort
 * events, the status codes and headers of every refusal, and what the 202 body counts.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { AlertInputError } from '../../../lib/alert';
import { IntakeAuthenticator, addressAllowed, parseAllowlist } from '../../../lib/intake/auth';
import { BodyError, readBody } from '../../../lib/intake/body';
import { createIntakeHandler } from '../../../lib/intake/http';
import { BacklogFullError, type IngestContext, type IntakePipeline } from '../../../lib/intake/pipeline';

const fakeRequest = (headers: Record<string, string> = {}) => Object.assign(new PassThrough(), { headers }) as unknown as IncomingMessage & PassThrough;

describe('intake edges', function () {
  describe('auth', function () {
    it('allowlist: trims entries, skips blanks, single addresses match only themselves (IPv4 and IPv6)', function () {
      const ranges = parseAllowlist(['  198.18.0.7 ', '', '   ', '2001:db8::1']);
      assert.equal(ranges.length, 2);
      assert.equal(addressAllowed('198.18.0.7', ranges), true);
      assert.equal(addressAllowed('198.18.0.8', ranges), false);
      assert.equal(addressAllowed('2001:db8::1', ranges), true);
      assert.equal(addressAllowed('2001:db8::2', ranges), false);
      assert.equal(addressAllowed('not an address', ranges), false);
      assert.equal(addressAllowed('', ranges), false);
    });

    it("403 names the refused source address (or 'unknown')", function () {
      const auth = new IntakeAuthenticator({ type: 'none', allowFrom: ['198.18.0.0/15'] });
      assert.deepEqual(auth.checkBeforeBody({ headers: {}, remoteAddress: '203.0.113.1' }), {
        ok: false,
        status: 403,
        reason: 'source address 203.0.113.1 is not in the allowlist',
      });
      const unknown = auth.checkBeforeBody({ headers: {} });
      assert.equal(!unknown.ok && unknown.reason, 'source address unknown is not in the allowlist');
      assert.equal(auth.needsRawBody, false);
      assert.equal(new IntakeAuthenticator({ type: 'bearer', token: 't' }).needsRawBody, false);
    });

    it('bearer: the scheme must start the header; surrounding blanks around the token are ignored', function () {
      const auth = new IntakeAuthenticator({ type: 'bearer', token: 't0ken' });
      assert.deepEqual(auth.check({ headers: { authorization: 'Bearer t0ken  ' } }), { ok: true });
      assert.deepEqual(auth.check({ headers: { authorization: 'Bearer\tt0ken' } }), { ok: true });
      assert.equal(auth.check({ headers: { authorization: 'XBearer t0ken' } }).ok, false);
      assert.equal(auth.check({ headers: { authorization: 'Bearert0ken' } }).ok, false);
      const wrong = auth.check({ headers: { authorization: 'Bearer other' } });
      assert.deepEqual(wrong, { ok: false, status: 401, reason: 'invalid bearer token' });
    });

    it('basic: missing header, other schemes, a value without a colon', function () {
      const auth = new IntakeAuthenticator({ type: 'basic', basicUser: 'wazuh', basicPassword: 'pw' });
      const b64 = (s: string) => Buffer.from(s).toString('base64');
      assert.deepEqual(auth.check({ headers: {} }), { ok: false, status: 401, reason: 'missing basic credentials (Authorization: Basic ...)' });
      assert.equal(auth.check({ headers: { authorization: `XBasic ${b64('wazuh:pw')}` } }).ok, false);
      assert.equal(auth.check({ headers: { authorization: `Basic ${b64('wazuh:pw')}!` } }).ok, false);
      assert.deepEqual(auth.check({ headers: { authorization: `Basic ${b64('wazuhpw')}` } }), { ok: false, status: 401, reason: 'invalid basic credentials' });
      assert.deepEqual(auth.check({ headers: { authorization: `basic   ${b64('wazuh:pw')}` } }), { ok: true });
    });

    it('hmac: missing and malformed signature headers are refused before the body; a short signature never throws', function () {
      const auth = new IntakeAuthenticator({ type: 'hmac', hmacSecret: 's' });
      const body = Buffer.from('{}');
      const good = 'sha256=' + createHmac('sha256', 's').update(body).digest('hex');
      assert.deepEqual(auth.checkBeforeBody({ headers: {} }), { ok: false, status: 401, reason: 'missing signature header x-hub-signature-256' });
      for (const bad of [`x${good}`, `${good}0`, good.slice(0, -1)]) {
        assert.deepEqual(auth.checkBeforeBody({ headers: { 'x-hub-signature-256': bad } }), {
          ok: false,
          status: 401,
          reason: 'signature header x-hub-signature-256 must be sha256=<64 hex digits>',
        });
      }
      assert.deepEqual(auth.checkBeforeBody({ headers: { 'x-hub-signature-256': ` ${good} ` } }), { ok: true });
      assert.deepEqual(auth.checkBody({ headers: { 'x-hub-signature-256': ` ${good} ` }, rawBody: body }), { ok: true });
      assert.deepEqual(auth.checkBody({ headers: { 'x-hub-signature-256': 'sha256=abcd' }, rawBody: body }), {
        ok: false,
        status: 401,
        reason: 'signature does not match the body',
      });
    });
  });

  describe('readBody', function () {
    it('refuses a declared Content-Length over the limit at once, without reading', async function () {
      const req = fakeRequest({ 'content-length': '1001' });
      await assert.rejects(readBody(req, { limitBytes: 1000, timeoutMs: 5000 }), (err: unknown) => {
        assert.ok(err instanceof BodyError);
        assert.equal(err.status, 413);
        assert.equal(err.message, 'body of 1001 bytes is over the limit of 1000 bytes');
        return true;
      });
    });

    it('a body of exactly the limit is accepted, declared or not; several chunks come back joined', async function () {
      const declared = fakeRequest({ 'content-length': '10' });
      const reading = readBody(declared, { limitBytes: 10, timeoutMs: 5000 });
      declared.end(Buffer.from('0123456789'));
      assert.equal((await reading).toString(), '0123456789');

      const chunked = fakeRequest();
      const joined = readBody(chunked, { limitBytes: 10, timeoutMs: 5000 });
      chunked.write('01234');
      chunked.write('5678');
      chunked.end('9');
      assert.equal((await joined).toString(), '0123456789');
      assert.equal(chunked.listenerCount('data'), 0, 'listeners are removed once done');
      assert.equal(chunked.listenerCount('end'), 0);
      assert.equal(chunked.listenerCount('error'), 0);
      assert.equal(chunked.listenerCount('aborted'), 0);

      const over = fakeRequest();
      const refused = readBody(over, { limitBytes: 10, timeoutMs: 5000 });
      over.end('0123456789A');
      await assert.rejects(refused, /body is over the limit of 10 bytes/);
    });

    it('a stream error and an aborted request are 400 with their reason; the deadline is 408', async function () {
      const broken = fakeRequest();
      const reading = readBody(broken, { limitBytes: 100, timeoutMs: 5000 });
      broken.emit('error', new Error('socket hang up'));
      await assert.rejects(
        reading,
        (err: unknown) => err instanceof BodyError && err.status === 400 && err.message === 'request body could not be read: socket hang up',
      );

      const aborted = fakeRequest();
      const abortedReading = readBody(aborted, { limitBytes: 100, timeoutMs: 5000 });
      aborted.emit('aborted');
      await assert.rejects(abortedReading, (err: unknown) => err instanceof BodyError && err.status === 400 && err.message === 'client aborted the request');
      // Only the first outcome counts: a later end does not resolve it.
      aborted.end('late');

      const slow = fakeRequest();
      await assert.rejects(
        readBody(slow, { limitBytes: 100, timeoutMs: 600 }),
        (err: unknown) => err instanceof BodyError && err.status === 408 && err.message === 'body not received within 1 s',
      );
    });
  });

  describe('HTTP handler answers', function () {
    let server: http.Server;
    let port: number;
    let contexts: IngestContext[];
    let failures: Error[];
    let behaviour: (items: unknown[]) => Promise<unknown>;

    const start = async (auth: IntakeAuthenticator, extra: { preParsed?: unknown; mapper?: boolean } = {}) => {
      contexts = [];
      failures = [];
      const pipeline = {
        ingest: (items: unknown[], ctx: IngestContext) => {
          contexts.push(ctx);
          return behaviour(items);
        },
      } as unknown as IntakePipeline;
      const handler = createIntakeHandler({
        auth,
        pipeline,
        limitBytes: 1000,
        bodyTimeoutMs: 300,
        onAccepted: () => undefined,
        onFailure: (err) => failures.push(err),
        ...(extra.mapper ? { prepareMapper: async () => (item: unknown) => ({ mapped: item }) } : {}),
      });
      server = http.createServer((req, res) => {
        if (extra.preParsed !== undefined) {
          req.resume();
          req.on('end', () => {
            Object.assign(req, { body: extra.preParsed, _body: true });
            void handler(req, res);
          });
        } else void handler(req, res);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    };
    afterEach(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    const post = (path: string, body: string | undefined, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; headers: http.IncomingHttpHeaders; json: Record<string, unknown> }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, json: JSON.parse(text) }));
        });
        req.on('error', reject);
        if (body === undefined) req.flushHeaders();
        else req.end(body);
      });

    const accepted = async (items: unknown[]) => ({
      alerts: items.map((_, i) => ({ alert: { id: `a${i}` }, duplicate: i === 0 })),
      toSend: [],
      ids: items.map((_, i) => `a${i}`),
      duplicates: 1,
      ignored: [{ index: 9, reason: 'not an alert' }],
    });

    it('202 counts accepted = alerts - duplicates, JSON with no-store; replay and the remote address reach the pipeline', async function () {
      behaviour = accepted;
      await start(new IntakeAuthenticator({ type: 'none' }), { mapper: true });
      const answer = await post('/soar/alerts?x=1&replay=1', JSON.stringify([{ a: 1 }, { a: 2 }, { a: 3 }]));
      assert.equal(answer.status, 202);
      assert.deepEqual(answer.json, { accepted: 2, ids: ['a0', 'a1', 'a2'], duplicates: 1, ignored: [{ index: 9, reason: 'not an alert' }] });
      assert.equal(answer.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(answer.headers['cache-control'], 'no-store');
      assert.equal(contexts[0].via, 'http');
      assert.equal(contexts[0].replay, true);
      assert.equal(contexts[0].remoteAddress, '127.0.0.1');
      assert.deepEqual(contexts[0].genericMapper?.({ a: 1 }), { mapped: { a: 1 } });
      for (const [query, replay] of [
        ['?replay=true', true],
        ['?replay=0', false],
        ['', false],
        ['?notreplay=1', false],
      ] as const) {
        await post(`/soar/alerts${query}`, '{}');
        assert.equal(contexts.at(-1)!.replay, replay, query);
      }
    });

    it('401 for a missing token carries WWW-Authenticate; 403 for a refused source does not', async function () {
      behaviour = accepted;
      await start(new IntakeAuthenticator({ type: 'bearer', token: 't0ken' }));
      const missing = await post('/', '{}');
      assert.equal(missing.status, 401);
      assert.equal(missing.headers['www-authenticate'], 'Bearer realm="soar"');
      assert.deepEqual(missing.json, { error: 'missing bearer token (Authorization: Bearer <token>)' });
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await start(new IntakeAuthenticator({ type: 'none', allowFrom: ['198.18.0.0/15'] }));
      const refused = await post('/', '{}');
      assert.equal(refused.status, 403);
      assert.equal(refused.headers['www-authenticate'], undefined);
      assert.deepEqual(contexts, []);
    });

    it('400 for bad input, 429 with Retry-After for a full backlog, 503 (and onFailure) for anything else', async function () {
      await start(new IntakeAuthenticator({ type: 'none' }));
      behaviour = async () => {
        throw new AlertInputError('no alert in there', 400);
      };
      assert.deepEqual(await post('/', '{}').then((a) => [a.status, a.json]), [400, { error: 'no alert in there' }]);
      behaviour = async () => {
        throw new BacklogFullError(3, 99);
      };
      const busy = await post('/', '{}');
      assert.equal(busy.status, 429);
      assert.equal(busy.headers['retry-after'], '3');
      behaviour = async () => {
        throw new Error('ENOSPC');
      };
      const failed = await post('/', '{}');
      assert.deepEqual([failed.status, failed.json], [503, { error: 'the alert could not be recorded durably; retry later' }]);
      assert.deepEqual(
        failures.map((err) => err.message),
        ['ENOSPC'],
      );
    });

    it('408 closes the connection', async function () {
      behaviour = accepted;
      await start(new IntakeAuthenticator({ type: 'none' }));
      const slow = await post('/', undefined, { 'content-length': '10' });
      assert.equal(slow.status, 408);
      assert.equal(slow.headers.connection, 'close');
    });

    it('a body parsed upstream (no HMAC) is used as it was parsed', async function () {
      let seen: unknown[] = [];
      behaviour = async (items) => {
        seen = items;
        return accepted(items);
      };
      await start(new IntakeAuthenticator({ type: 'none' }), { preParsed: { title: 'parsed upstream' } });
      assert.equal((await post('/', 'ignored')).status, 202);
      assert.deepEqual(seen, [{ title: 'parsed upstream' }]);
    });
  });
});
