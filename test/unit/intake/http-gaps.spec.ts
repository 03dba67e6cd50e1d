/**
 * The intake handler over a real HTTP connection, for bugs a planted-bug run found uncaught: bodies
 * without Content-Length, bodies that trickle in, and the HMAC check on a body parsed upstream.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { IntakeAuthenticator } from '../../../lib/intake/auth';
import { createIntakeHandler } from '../../../lib/intake/http';
import type { IntakePipeline } from '../../../lib/intake/pipeline';

const ALERT = { title: 'x', severity: 'high', source: { ip: '198.18.0.9' } };

interface Answer {
  status: number;
  body: string;
  ms: number;
}

describe('intake HTTP handler: limits and signatures', function () {
  this.timeout(10_000);
  let server: http.Server;
  let port: number;
  let ingested: unknown[][];
  let rejected: number[];

  const start = async (opts: { auth?: IntakeAuthenticator; limitBytes?: number; bodyTimeoutMs?: number; preParse?: boolean }) => {
    ingested = [];
    rejected = [];
    const pipeline = {
      ingest: async (items: unknown[]) => {
        ingested.push(items);
        return { alerts: items, duplicates: 0, ids: items.map((_, i) => `id${i}`), ignored: [] };
      },
    } as unknown as IntakePipeline;
    const handler = createIntakeHandler({
      auth: opts.auth ?? new IntakeAuthenticator({ type: 'none' }),
      pipeline,
      limitBytes: opts.limitBytes ?? 1024,
      bodyTimeoutMs: opts.bodyTimeoutMs ?? 5000,
      onAccepted: () => undefined,
      onRejected: (status) => rejected.push(status),
    });
    server = http.createServer((req, res) => {
      if (!opts.preParse) return void handler(req, res);
      // Like Node-RED's body parser running first: the body is consumed and parsed, raw bytes gone.
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        Object.assign(req, { body: JSON.parse(Buffer.concat(chunks).toString('utf8')), _body: true });
        void handler(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  };

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** POST with chunked transfer encoding (no Content-Length), writing `chunks` `gapMs` apart. */
  const postChunked = (chunks: Buffer[], gapMs = 0, headers: Record<string, string> = {}): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const began = Date.now();
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers: { 'content-type': 'application/json', ...headers } });
      let stopped = false;
      req.on('response', (res) => {
        stopped = true;
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body, ms: Date.now() - began }));
      });
      req.on('error', (err) => (stopped ? undefined : reject(err)));
      let i = 0;
      const next = () => {
        if (stopped) return;
        if (i === chunks.length) return void req.end();
        req.write(chunks[i++]);
        if (gapMs > 0) setTimeout(next, gapMs);
        else next();
      };
      next();
    });

  it('counts a chunked body without Content-Length against the limit (413), nothing ingested', async () => {
    await start({ limitBytes: 1000 });
    const answer = await postChunked([Buffer.alloc(5000, 0x20)]);
    assert.equal(answer.status, 413);
    assert.match(answer.body, /over the limit of 1000 bytes/);
    assert.deepEqual(ingested, []);
  });

  it('adds up every chunk, not just the last one', async () => {
    await start({ limitBytes: 1000 });
    // Each chunk alone is under the limit; together they are not.
    const answer = await postChunked([Buffer.alloc(600, 0x20), Buffer.alloc(600, 0x20), Buffer.from(JSON.stringify(ALERT))], 20);
    assert.equal(answer.status, 413);
    assert.deepEqual(ingested, []);
    // Just under the limit in three chunks is fine.
    const ok = await postChunked([Buffer.alloc(300, 0x20), Buffer.alloc(300, 0x20), Buffer.from(JSON.stringify(ALERT))], 20);
    assert.equal(ok.status, 202, ok.body);
    assert.equal(ingested.length, 1);
  });

  it('a body that trickles in does not reset the deadline: 408 at the deadline for the whole body', async () => {
    await start({ bodyTimeoutMs: 400 });
    const drips = Array.from({ length: 40 }, () => Buffer.from(' '));
    const answer = await postChunked(drips, 50);
    assert.equal(answer.status, 408);
    assert.ok(answer.ms < 1500, `answered after ${answer.ms} ms; a per-chunk timer would wait for the 2 s of drips`);
    assert.deepEqual(ingested, []);
  });

  it('HMAC: a body Node-RED parsed first is refused (401), even with a signature that matches it', async () => {
    const secret = 'hmac-s3cret';
    const text = JSON.stringify(ALERT);
    const sig = 'sha256=' + createHmac('sha256', secret).update(text).digest('hex');
    await start({ auth: new IntakeAuthenticator({ type: 'hmac', hmacSecret: secret }), preParse: true });
    const answer = await postChunked([Buffer.from(text)], 0, { 'x-hub-signature-256': sig });
    assert.equal(answer.status, 401);
    assert.match(answer.body, /parsed the request body/);
    assert.deepEqual(ingested, []);
    assert.deepEqual(rejected, [401]);
  });

  it('HMAC: the raw body is checked when the intake reads it itself', async () => {
    const secret = 'hmac-s3cret';
    const text = JSON.stringify(ALERT);
    const sig = 'sha256=' + createHmac('sha256', secret).update(text).digest('hex');
    await start({ auth: new IntakeAuthenticator({ type: 'hmac', hmacSecret: secret }) });
    assert.equal((await postChunked([Buffer.from(text)], 0, { 'x-hub-signature-256': sig })).status, 202);
    const forged = await postChunked([Buffer.from(text.replace('high', 'low'))], 0, { 'x-hub-signature-256': sig });
    assert.equal(forged.status, 401);
    assert.match(forged.body, /does not match/);
    assert.equal(ingested.length, 1);
  });
});
