/**
 * Refusals the intake answers before it has read the body (bad credentials, a declared or counted
 * size over the limit, a content type it does not read, a body that stalls): the sender, still
 * writing, must get the status and the JSON reason, not a connection reset. The client here sends
 * its whole body before it reads anything, as Python's http.client (and so `requests`) does, so a
 * server that closes while body bytes are still arriving resets it and the answer is lost.
 * And the drain that makes this possible is bounded in bytes and in time.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { PassThrough } from 'node:stream';
import { IntakeAuthenticator } from '../../../lib/intake/auth';
import { createIntakeHandler, createMethodNotAllowedHandler, type HttpIntakeOptions } from '../../../lib/intake/http';
import type { IntakePipeline } from '../../../lib/intake/pipeline';

const TOKEN = 'early-refusal-token-0123456789';

interface Exchange {
  status?: number;
  headers: Record<string, string>;
  body: string;
  /** The client's socket error (ECONNRESET, EPIPE), if any. */
  error?: string;
  /** Body bytes the client managed to hand to its socket. */
  written: number;
  /** From the first byte sent until the connection closed. */
  ms: number;
}

function unchunk(text: string): string {
  let out = '';
  for (let at = 0; ;) {
    const eol = text.indexOf('\r\n', at);
    const size = eol < 0 ? 0 : parseInt(text.slice(at, eol), 16);
    if (!size) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

/**
 * Send the head, then `total` body bytes in `piece`-sized writes `gapMs` apart, each write waited
 * for, and read the answer only once everything was sent (or `stopAfter` bytes: a stalled sender).
 */
function sendThenRead(
  port: number,
  head: Record<string, string>,
  opts: { total: number; piece?: number; gapMs?: number; chunked?: boolean; stopAfter?: number; method?: string },
): Promise<Exchange> {
  const piece = opts.piece ?? 32 * 1024;
  return new Promise((resolve) => {
    const began = Date.now();
    const sock = net.connect(port, '127.0.0.1');
    sock.pause();
    let got = Buffer.alloc(0);
    let error: string | undefined;
    let written = 0;
    let closed = false;
    sock.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    sock.on('error', (err: NodeJS.ErrnoException) => (error ??= err.code ?? err.message));
    sock.on('close', () => {
      closed = true;
      const text = got.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      const [top, ...rest] = text.split('\r\n\r\n');
      const headers: Record<string, string> = {};
      for (const line of top.split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      let body = rest.join('\r\n\r\n');
      if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = unchunk(body);
      resolve({ status: m ? Number(m[1]) : undefined, headers, body, error, written, ms: Date.now() - began });
    });
    const lines = Object.entries({ host: `127.0.0.1:${port}`, ...head }).map(([k, v]) => `${k}: ${v}\r\n`);
    if (opts.chunked) lines.push('transfer-encoding: chunked\r\n');
    const write = (b: Buffer) =>
      new Promise<boolean>((ok) => {
        if (closed || sock.destroyed) return ok(false);
        sock.write(b, (err) => ok(!err));
      });
    sock.on('connect', async () => {
      if (!(await write(Buffer.from(`${opts.method ?? 'POST'} /alerts HTTP/1.1\r\n${lines.join('')}\r\n`, 'latin1')))) return;
      const until = opts.stopAfter ?? opts.total;
      while (written < until) {
        const n = Math.min(piece, until - written);
        const data = Buffer.alloc(n, 0x20);
        const ok = await write(opts.chunked ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), data, Buffer.from('\r\n')]) : data);
        if (!ok) break;
        written += n;
        if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
      if (opts.chunked && written === opts.total) await write(Buffer.from('0\r\n\r\n'));
      // Only now read, as a client that sends its request before it looks at the answer.
      sock.resume();
    });
  });
}

describe('intake HTTP handler: refusals before the body is read close gracefully', function () {
  this.timeout(20_000);
  let server: http.Server;
  let port: number;
  let ingested: number;
  let rejected: number[];
  const open = new Set<net.Socket>();

  const start = async (extra: Partial<HttpIntakeOptions> = {}, methodNotAllowed = false) => {
    ingested = 0;
    rejected = [];
    const pipeline = {
      ingest: async (items: unknown[]) => {
        ingested += items.length;
        return { alerts: items, duplicates: 0, ids: items.map((_, i) => `id${i}`), ignored: [] };
      },
    } as unknown as IntakePipeline;
    const handler = createIntakeHandler({
      auth: new IntakeAuthenticator({ type: 'bearer', token: TOKEN }),
      pipeline,
      limitBytes: 64 * 1024,
      bodyTimeoutMs: 5000,
      onAccepted: () => undefined,
      onRejected: (status) => rejected.push(status),
      ...extra,
    });
    const other = createMethodNotAllowedHandler({ onRejected: (status) => rejected.push(status) });
    server = http.createServer((req, res) => {
      if (methodNotAllowed && req.method !== 'POST') return other(req, res);
      void handler(req, res);
    });
    server.on('connection', (s: net.Socket) => {
      open.add(s);
      s.on('close', () => open.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  };

  afterEach(async () => {
    server.closeAllConnections();
    for (const s of open) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  const json = { 'content-type': 'application/json' };
  const big = { total: 512 * 1024, gapMs: 5 };

  for (const connection of ['close', 'keep-alive']) {
    describe(`client sends Connection: ${connection}`, function () {
      it('bad token while a large body streams in: 401 with its reason, no reset', async () => {
        await start();
        const ans = await sendThenRead(port, { ...json, connection, authorization: 'Bearer wrong', 'content-length': String(big.total) }, big);
        assert.equal(ans.error, undefined, `the client saw ${ans.error} after writing ${ans.written} bytes`);
        assert.equal(ans.status, 401);
        assert.deepEqual(JSON.parse(ans.body), { error: 'invalid bearer token' });
        assert.equal(ans.headers['www-authenticate'], 'Bearer realm="soar"');
        assert.equal(ans.headers.connection, 'close');
        assert.equal(ans.headers['content-type'], 'application/json; charset=utf-8');
        assert.equal(ans.headers['cache-control'], 'no-store');
        assert.equal(ans.headers['content-length'], String(Buffer.byteLength(ans.body)));
        assert.equal(ans.written, big.total, 'the whole body could be sent');
        assert.deepEqual(rejected, [401]);
        assert.equal(ingested, 0);
      });

      it('declared size over the limit: 413 with its reason, no reset', async () => {
        await start();
        const ans = await sendThenRead(port, { ...json, connection, authorization: `Bearer ${TOKEN}`, 'content-length': String(big.total) }, big);
        assert.equal(ans.error, undefined, `the client saw ${ans.error} after writing ${ans.written} bytes`);
        assert.equal(ans.status, 413);
        assert.deepEqual(JSON.parse(ans.body), { error: `body of ${big.total} bytes is over the limit of 65536 bytes` });
        assert.deepEqual(rejected, [413]);
      });

      it('chunked body that grows over the limit: 413 with its reason, no reset', async () => {
        await start();
        const ans = await sendThenRead(port, { ...json, connection, authorization: `Bearer ${TOKEN}` }, { ...big, chunked: true });
        assert.equal(ans.error, undefined, `the client saw ${ans.error} after writing ${ans.written} bytes`);
        assert.equal(ans.status, 413);
        assert.deepEqual(JSON.parse(ans.body), { error: 'body is over the limit of 65536 bytes' });
        assert.equal(ingested, 0);
      });

      it('a content type the intake does not read: 415 before the body is read, no reset', async () => {
        await start();
        const ans = await sendThenRead(
          port,
          { connection, authorization: `Bearer ${TOKEN}`, 'content-type': 'application/xml', 'content-length': String(big.total) },
          big,
        );
        assert.equal(ans.error, undefined, `the client saw ${ans.error} after writing ${ans.written} bytes`);
        assert.equal(ans.status, 415, ans.body);
        assert.match(JSON.parse(ans.body).error, /content type application\/xml is not supported/);
        assert.deepEqual(rejected, [415]);
      });

      it('a method other than POST with a body: 405 with its reason, no reset', async () => {
        await start({}, true);
        const ans = await sendThenRead(port, { ...json, connection, 'content-length': String(big.total) }, { ...big, method: 'PUT' });
        assert.equal(ans.error, undefined, `the client saw ${ans.error} after writing ${ans.written} bytes`);
        assert.equal(ans.status, 405);
        assert.equal(ans.headers.allow, 'POST');
        assert.match(JSON.parse(ans.body).error, /method PUT is not allowed/);
      });
    });
  }

  it('the answer comes before the body is read: a sender reading as it writes sees it early', async () => {
    await start();
    const answer = await new Promise<{ status: number; body: string; sentBefore: number }>((resolve, reject) => {
      let sent = 0;
      const req = http.request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/alerts',
        agent: false,
        headers: { ...json, authorization: 'Bearer wrong', 'content-length': String(big.total) },
      });
      req.on('response', (res) => {
        const sentBefore = sent;
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body, sentBefore }));
      });
      req.on('error', reject);
      const next = () => {
        if (sent >= big.total) return void req.end();
        req.write(Buffer.alloc(32 * 1024, 0x20));
        sent += 32 * 1024;
        setTimeout(next, 20);
      };
      next();
    });
    assert.equal(answer.status, 401);
    assert.deepEqual(JSON.parse(answer.body), { error: 'invalid bearer token' });
    assert.ok(answer.sentBefore < big.total, `the answer came only after all ${answer.sentBefore} bytes`);
  });

  it('the drain is bounded in bytes: a sender that keeps going is cut off, its socket closed', async () => {
    await start({ drainLimitBytes: 256 * 1024 });
    const ans = await sendThenRead(
      port,
      { ...json, authorization: 'Bearer wrong', 'content-length': String(4 * 1024 * 1024) },
      { total: 4 * 1024 * 1024, piece: 64 * 1024 },
    );
    assert.ok(ans.written < 4 * 1024 * 1024, `the server took all ${ans.written} bytes`);
    assert.ok(ans.error, 'the connection was cut');
    assert.equal(open.size, 0, 'no connection is left open on the server');
  });

  it('the drain is bounded in time: a sender that keeps trickling is cut off at the deadline', async () => {
    await start({ drainTimeoutMs: 600 });
    const ans = await sendThenRead(
      port,
      { ...json, authorization: 'Bearer wrong', 'content-length': String(big.total) },
      { total: big.total, piece: 1024, gapMs: 50 },
    );
    assert.ok(ans.ms < 2500, `the connection lived ${ans.ms} ms`);
    assert.ok(ans.written < big.total);
    assert.equal(open.size, 0, 'no connection is left open on the server');
  });

  it('a sender that stalls after a refusal is closed once it stays silent, with the answer delivered', async () => {
    await start({ drainTimeoutMs: 10_000 });
    const chunks: Buffer[] = [];
    const began = Date.now();
    const closedAfter = await new Promise<number>((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.on('data', (d: Buffer) => chunks.push(d));
      sock.on('error', () => undefined);
      sock.on('close', () => resolve(Date.now() - began));
      sock.write(`POST /alerts HTTP/1.1\r\nhost: x\r\nauthorization: Bearer wrong\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{"a":`);
    });
    assert.match(Buffer.concat(chunks).toString('latin1'), /^HTTP\/1\.1 401 [^]*invalid bearer token/);
    assert.ok(closedAfter < 5000, `closed after ${closedAfter} ms, not at the idle bound`);
  });

  it('a refusal after the whole body was read keeps the connection for the next request', async () => {
    await start();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const post = (body: string) =>
      new Promise<{ status: number; body: string; socket: net.Socket }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/alerts', agent, headers: { ...json, authorization: `Bearer ${TOKEN}` } });
        req.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode!, body: text, socket: req.socket! }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const bad = await post('{not json');
    assert.equal(bad.status, 400);
    const good = await post(JSON.stringify({ title: 'x', severity: 'high' }));
    assert.equal(good.status, 202, good.body);
    assert.equal(good.socket, bad.socket, 'the same connection served both');
    agent.destroy();
  });

  it('hands the declared content type to the parser (a one-line NDJSON array is one item) and a 503 is no rejection', async () => {
    let failing = false;
    const items: number[] = [];
    const pipeline = {
      ingest: async (batch: unknown[]) => {
        if (failing) throw new Error('disk full');
        items.push(batch.length);
        return { alerts: batch, duplicates: 0, ids: batch.map((_, i) => `id${i}`), ignored: [] };
      },
    } as unknown as IntakePipeline;
    await start({ pipeline, onFailure: () => undefined });
    const post = (type: string | undefined) =>
      new Promise<number>((resolve, reject) => {
        const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
        if (type) headers['content-type'] = type;
        const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/alerts', agent: false, headers }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end('[{"title":"a","severity":"high"},{"title":"b","severity":"low"}]');
      });
    assert.equal(await post('application/x-ndjson'), 202);
    assert.equal(await post(undefined), 202);
    assert.deepEqual(items, [1, 2]);
    failing = true;
    assert.equal(await post('application/json'), 503);
    assert.deepEqual(rejected, [], "a failure to record is not the sender's fault");
  });

  it('the 405 handler leaves a method another route serves to it, when it can pass it on', () => {
    const passed: string[] = [];
    const statuses: number[] = [];
    const handler = createMethodNotAllowedHandler({ hasOtherRoute: (method) => method === 'GET' });
    const call = (method: string, withNext: boolean) => {
      const req = Object.assign(new PassThrough(), { method, complete: true, socket: { remoteAddress: '127.0.0.1' }, headers: {} });
      const res = { headersSent: false, writeHead: (status: number) => statuses.push(status), end: () => undefined } as unknown as http.ServerResponse;
      handler(req as unknown as http.IncomingMessage, res, withNext ? () => passed.push(method) : undefined);
    };
    call('GET', true);
    call('PUT', true);
    call('GET', false);
    assert.deepEqual(passed, ['GET']);
    assert.deepEqual(statuses, [405, 405]);
  });
});
