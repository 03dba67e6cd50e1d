#!/usr/bin/env node
// Benchmark of the ticket outbox drain (compiled code: build first with `npm run build`).
//   node bench/outbox.js            prints the figures
//   require("./bench/outbox").run() returns them
// A fake tracker over HTTP on 127.0.0.1 (keep-alive, JSON; search + create + comment + status).
// 1. direct: 1,000 tickets created straight through the client (search then create, as the outbox
//    does), `concurrency` at a time: the baseline.
// 2. outbox drain: the tracker answers 503, 1,000 alerts of 1,000 incidents are submitted (each is
//    answered "queued"), the tracker comes back and the outbox drains its durable queue with the same
//    concurrency. Checked: every incident has exactly one ticket, every caller got "queued", every
//    ticket came out as one deferred "created" event.
// `drainVsDirect` = drain tickets/s / direct tickets/s: the cost of the durable ledger (FileStateStore
// writes per ticket: claim, attempt count, open) over bare delivery. Real fdatasync unless BENCH_FSYNC=0.
'use strict';
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');

const dist = process.env.SOAR_DIST ? path.resolve(process.env.SOAR_DIST) : path.join(__dirname, '..', 'dist');
const { FileStateStore } = require(path.join(dist, 'lib', 'core', 'file-store.js'));
const { ProviderError, codeForStatus } = require(path.join(dist, 'lib', 'core', 'errors.js'));
const { TicketOutbox } = require(path.join(dist, 'lib', 'ticket', 'outbox.js'));

/** The fake tracker: tickets in memory, incident key as a label; `down` makes every call a 503. */
function startTracker() {
  const state = { down: false, tickets: [], byIncident: new Map(), requests: 0 };
  const server = http.createServer((req, res) => {
    state.requests += 1;
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const send = (status, value) => {
        const text = JSON.stringify(value);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      if (state.down) return send(503, { error: 'maintenance' });
      const url = new URL(req.url, 'http://127.0.0.1');
      if (req.method === 'GET' && url.pathname === '/issues') {
        const id = state.byIncident.get(url.searchParams.get('label'));
        const t = id === undefined ? undefined : state.tickets[id - 1];
        return send(200, t && t.state === 'open' ? [t] : []);
      }
      if (req.method === 'POST' && url.pathname === '/issues') {
        const input = JSON.parse(body);
        const id = state.tickets.length + 1;
        const t = { id, title: input.title, label: input.label, state: 'open', comments: [] };
        state.tickets.push(t);
        state.byIncident.set(input.label, id);
        return send(201, t);
      }
      const m = /^\/issues\/(\d+)(\/comments)?$/.exec(url.pathname);
      const t = m && state.tickets[Number(m[1]) - 1];
      if (!t) return send(404, { error: 'not found' });
      if (req.method === 'POST' && m[2]) {
        t.comments.push(JSON.parse(body).text);
        return send(201, {});
      }
      return send(200, { state: t.state });
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, state, port: server.address().port })));
}

/** A minimal tracker client for the fake, rejecting with ProviderErrors as the real clients do. */
function client(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const call = (method, pathname, payload) =>
    new Promise((resolve, reject) => {
      const text = payload === undefined ? undefined : JSON.stringify(payload);
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method,
          path: pathname,
          agent,
          headers: text ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {},
        },
        (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => {
            if (res.statusCode >= 400)
              return reject(
                new ProviderError({
                  provider: 'bench',
                  code: codeForStatus(res.statusCode),
                  status: res.statusCode,
                  message: `bench tracker: ${res.statusCode}`,
                }),
              );
            resolve(JSON.parse(body));
          });
        },
      );
      req.on('error', (err) => reject(new ProviderError({ provider: 'bench', code: 'NETWORK', message: err.message })));
      req.end(text);
    });
  const ref = (t) => ({ id: String(t.id), key: `#${t.id}`, url: `http://127.0.0.1:${port}/issues/${t.id}` });
  return {
    agent,
    provider: {
      kind: 'bench',
      name: 'http',
      limits: { title: 255, body: 60000, comment: 60000 },
      findOpenByIncident: async (key) => {
        const found = await call('GET', `/issues?label=${encodeURIComponent(key)}`);
        return found.length ? ref(found[0]) : undefined;
      },
      create: async (input) => ref(await call('POST', '/issues', { title: input.title, body: input.body, label: input.incidentKey })),
      comment: async (r, text) => void (await call('POST', `/issues/${r.id}/comments`, { text })),
      status: async (r) => call('GET', `/issues/${r.id}`),
      priorityFor: (s) => String(s),
      budgetState: () => ({ windows: [], queued: 0 }),
      close: () => undefined,
    },
  };
}

const TRANSIENT = new Set(['NETWORK', 'TIMEOUT', 'RATE_LIMITED', 'QUOTA_EXHAUSTED', 'SERVER', 'CANCELLED']);
function classify(error) {
  if (error instanceof ProviderError)
    return { kind: TRANSIENT.has(error.code) ? 'transient' : 'permanent', code: error.code, message: error.message, status: error.status };
  return { kind: 'permanent', code: 'INTERNAL', message: String(error && error.message) };
}

function request(i, prefix) {
  return { incidentKey: `${prefix}-${i}`, title: `bench alert ${i}`, body: `alert ${i}\n`.repeat(20), severity: 3 };
}

async function pool(count, concurrency, fn) {
  let next = 0;
  const loop = async () => {
    for (let i = next++; i < count; i = next++) await fn(i);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, loop));
}

const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9;

async function run(options = {}) {
  const count = options.count ?? 1000;
  const concurrency = options.concurrency ?? 8;
  const fsync = options.fsync ?? process.env.BENCH_FSYNC !== '0';
  const tracker = await startTracker();
  const { provider, agent } = client(tracker.port);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-bench-outbox-'));
  try {
    // 1. Direct delivery (baseline), after a warm-up; measured again after the drain and averaged,
    //    so drift on a busy machine does not favour either side.
    const direct = async (prefix) => {
      const begin = process.hrtime.bigint();
      await pool(count, concurrency, async (i) => {
        const r = request(i, prefix);
        if (!(await provider.findOpenByIncident(r.incidentKey))) await provider.create(r);
      });
      return seconds(begin);
    };
    await pool(100, concurrency, async (i) => provider.create(request(i, 'warmup')));
    const directBefore = await direct('direct1');
    let start;

    // 2. Queue while down, then drain after it is back.
    let store = await FileStateStore.open(dir, { fsync });
    let outbox = new TicketOutbox({ store, provider, classify, autoRun: false, concurrency, backoff: { baseMs: 60_000 } });
    tracker.state.down = true;
    start = process.hrtime.bigint();
    const answers = [];
    await pool(count, concurrency, async (i) => answers.push((await outbox.submit(request(i, 'queued'))).status));
    const queueSeconds = seconds(start);
    const queued = answers.filter((s) => s === 'queued').length;
    const requestsWhileDown = tracker.state.requests - 2 * count - 100;

    // A restart in between: the queue must come from disk.
    outbox.stop();
    await store.close();
    store = await FileStateStore.open(dir, { fsync });
    outbox = new TicketOutbox({ store, provider, classify, autoRun: false, concurrency, bootId: 'bench-restart' });
    let deferredCreated = 0;
    outbox.on('delivery', (e) => {
      if (e.type === 'created' && e.deferred) deferredCreated += 1;
    });
    tracker.state.down = false;
    const ticketsBefore = tracker.state.tickets.length;
    start = process.hrtime.bigint();
    await outbox.runDue(true);
    const drainSeconds = seconds(start);
    await outbox.runDue(true); // a second pass must deliver nothing more
    const drained = tracker.state.tickets.slice(ticketsBefore);
    const labels = new Set(drained.map((t) => t.label));
    const left = await outbox.pending();
    outbox.stop();
    await store.close();
    const directAfter = await direct('direct2');
    const directSeconds = (directBefore + directAfter) / 2;

    const result = {
      tickets: count,
      directPerSecBeforeAfter: [Math.round(count / directBefore), Math.round(count / directAfter)],
      concurrency,
      fsync,
      directPerSec: Math.round(count / directSeconds),
      queuePerSec: Math.round(count / queueSeconds),
      drainPerSec: Math.round(count / drainSeconds),
      drainVsDirect: Number((directSeconds / drainSeconds).toFixed(3)),
      answeredQueued: queued,
      trackerRequestsWhileDown: requestsWhileDown,
      delivered: drained.length,
      distinctIncidents: labels.size,
      deferredCreatedEvents: deferredCreated,
      leftInOutbox: left.creating,
      exactlyOnce: drained.length === count && labels.size === count && deferredCreated === count && left.creating === 0 && queued === count,
    };
    if (options.print !== false) {
      console.log(
        `  direct: ${result.directPerSec} tickets/s; queue while down: ${result.queuePerSec}/s (${requestsWhileDown} tracker requests); drain after restart: ${result.drainPerSec} tickets/s`,
      );
      console.log(`  drain vs direct: ${result.drainVsDirect}; delivered ${drained.length} of ${count}, exactly once: ${result.exactlyOnce}`);
    }
    if (!result.exactlyOnce) throw new Error(`outbox drain not exactly once: ${JSON.stringify(result)}`);
    return result;
  } finally {
    agent.destroy();
    tracker.server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { run };

if (require.main === module) {
  run().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
