#!/usr/bin/env node
// Benchmark of the approval engine (compiled code: build first with `npm run build`).
//   node bench/approvals.js          prints the numbers
//   require("./bench/approvals").run() returns them
// Runs in a child process with --expose-gc so heap figures are taken after a full collection.
// - memory: heap and RSS of an idle engine, then with 1,000 pending approvals (each holding a
//   ~1.5 KB alert message and two page links per approver), as deltas and ratios to the idle figure;
// - restart: store open + engine start with the 1,000 pending, against the same with an empty store;
// - decision latency through the page handler over real HTTP on 127.0.0.1 (sequential POSTs of
//   approve links, quorum 1): request→response and request→"resolved" event, p50/p99, against a
//   handler that answers 200 at once on the same server (the HTTP floor).
// Wired as the node wires it: every request, and the outcome, also goes out through a webhook
// approval channel (lib/approval/channels/webhook.ts, real HTTP POSTs to a sink on 127.0.0.1), so
// the held figures include the stored message references (approvals:refs).
// State store and audit log are real files with real fdatasync unless BENCH_FSYNC=0.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');

const dist = process.env.SOAR_DIST ? path.resolve(process.env.SOAR_DIST) : path.join(__dirname, '..', 'dist');
const COUNT = Number(process.env.BENCH_APPROVALS || 1000);

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function ms(start) {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function memory() {
  global.gc();
  global.gc();
  const m = process.memoryUsage();
  return { heapMiB: m.heapUsed / 1048576, rssMiB: m.rss / 1048576 };
}

function round(value, digits = 2) {
  return Number(value.toFixed(digits));
}

function sampleMessage(i) {
  const ip = `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}`;
  return {
    _msgid: `m${i}`,
    topic: 'alert',
    alert: {
      schema: 'soar.alert/1',
      id: `a${i}`,
      title: `SSH brute force from ${ip}`,
      severity: 3,
      severity_label: 'high',
      source: { ip, port: 40000 + (i % 1000) },
      destination: { ip: '192.0.2.10', port: 22 },
      rule: { id: '5712', name: 'sshd: brute force', mitre: ['T1110'] },
      tags: ['ssh', 'auth'],
      raw: { full_log: 'x'.repeat(600) },
    },
    enrichment: { verdict: 'malicious', score: 90, why: ['abuseipdb: 100% confidence', 'greynoise: malicious'] },
  };
}

const POLICY = {
  approvers: [
    { name: 'Ana', identities: ['email:ana@example.org', 'slack:U0ANA'] },
    { name: 'Ben', identities: ['email:ben@example.org', 'telegram:1001'] },
  ],
  quorum: 1,
  timeoutMs: 24 * 3600_000,
};

function post(port, urlPath, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        method: 'POST',
        agent: keepAlive,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });

async function child() {
  const { FileStateStore } = require(path.join(dist, 'lib', 'core', 'file-store.js'));
  const { AuditLog } = require(path.join(dist, 'lib', 'core', 'audit.js'));
  const { ApprovalEngine, ApprovalLinks, createApprovalPageHandler } = require(path.join(dist, 'lib', 'approval', 'index.js'));
  const { ApprovalDispatch } = require(path.join(dist, 'lib', 'approval', 'dispatch.js'));
  const { createWebhookChannel } = require(path.join(dist, 'lib', 'approval', 'channels', 'webhook.js'));
  const fsync = process.env.BENCH_FSYNC !== '0';
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-bench-approvals-'));
  // A real hash-chained audit log: every request, vote and decision is a durable record.
  const audit = await AuditLog.open(path.join(root, 'audit.jsonl'), { fsync });
  // The webhook channel's receiver: counts the notices and outcome updates it gets.
  const sink = { request: 0, decided: 0 };
  const sinkServer = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const kind = JSON.parse(Buffer.concat(chunks).toString('utf8')).kind;
      if (kind in sink) sink[kind] += 1;
      res.end('{}');
    });
  });
  await new Promise((resolve) => sinkServer.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${sinkServer.address().port}/hook`;
  const open = async (dir) => {
    const store = await FileStateStore.open(dir, { fsync });
    const engine = new ApprovalEngine({ store, audit });
    const links = new ApprovalLinks({ store, engine });
    const channel = createWebhookChannel({ url: hookUrl, secret: 'bench-webhook-secret' }, { name: 'bench hook' });
    const endpoint = { id: 'hook1', label: 'bench hook', kind: 'webhook', channel, supports: { inbound: false, updates: true, links: true } };
    const dispatch = new ApprovalDispatch({
      store,
      audit,
      links,
      pageBase: 'http://127.0.0.1/soar/approval/',
      endpoints: () => [endpoint],
      warn: (m) => console.error(m),
    });
    // As nodes/wait-approval.ts: the outcome is written to the channel when the engine resolves.
    engine.on('resolved', ({ record }) => void dispatch.resolved(record));
    await engine.start();
    return { store, engine, links, dispatch };
  };
  const close = async ({ store, engine, dispatch }) => {
    await engine.stop();
    await dispatch.idle();
    await store.close();
  };
  try {
    // Idle engine, then the same engine holding COUNT pending approvals.
    const dir = path.join(root, 'held');
    let running = await open(dir);
    const idle = memory();
    const ids = [];
    for (let i = 0; i < COUNT; i += 1) {
      const record = await running.engine.request({ msg: sampleMessage(i), policy: POLICY, action: 'block IP' });
      // The webhook carries a page link pair per approver (minted by the dispatch), as the node sends it.
      await running.dispatch.requested(record);
      ids.push(record.id);
    }
    if (sink.request !== COUNT) throw new Error(`the webhook got ${sink.request} requests, expected ${COUNT}`);
    const held = memory();
    await close(running);

    // Restart with them pending, against an empty store.
    const emptyDir = path.join(root, 'empty');
    await close(await open(emptyDir));
    const restartRuns = { held: [], empty: [] };
    for (let r = 0; r < 5; r += 1) {
      let start = process.hrtime.bigint();
      const e = await open(emptyDir);
      restartRuns.empty.push(ms(start));
      await close(e);
      start = process.hrtime.bigint();
      const h = await open(dir);
      restartRuns.held.push(ms(start));
      if (h.engine.pendingCount !== COUNT) throw new Error(`restart found ${h.engine.pendingCount} pending, expected ${COUNT}`);
      await close(h);
    }
    const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

    // Decision latency through the page over real HTTP.
    running = await open(dir);
    const pageLinks = running.links;
    const tokens = [];
    for (const id of ids) {
      const record = await running.engine.get(id);
      const [approve] = await pageLinks.mint(record, '/soar/approval/', ['email:ana@example.org']);
      tokens.push(approve.url);
    }
    const handler = createApprovalPageHandler({ links: pageLinks });
    const server = http.createServer((req, res) => {
      if (req.url === '/floor') {
        req.resume();
        req.on('end', () => res.end('ok'));
        return;
      }
      void handler(req, res);
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = server.address().port;
    let resolvedAt = 0;
    running.engine.on('resolved', () => (resolvedAt = process.hrtime.bigint()));
    const floor = [];
    for (let i = 0; i < COUNT; i += 1) {
      const start = process.hrtime.bigint();
      await post(port, '/floor', 'comment=x');
      floor.push(ms(start));
    }
    const response = [];
    const output = [];
    for (const url of tokens) {
      const start = process.hrtime.bigint();
      const status = await post(port, url, 'comment=approved+in+the+benchmark');
      response.push(ms(start));
      if (status !== 200) throw new Error(`decision POST answered ${status}`);
      output.push(Number(resolvedAt - start) / 1e6);
    }
    server.close();
    keepAlive.destroy();
    if (running.engine.pendingCount !== 0) throw new Error(`${running.engine.pendingCount} approvals still pending after the decisions`);
    await close(running);
    if (sink.decided !== COUNT) throw new Error(`the webhook got ${sink.decided} outcomes, expected ${COUNT}`);
    sinkServer.close();
    await audit.close();
    for (const xs of [floor, response, output]) xs.sort((a, b) => a - b);
    return {
      approvals: COUNT,
      fsync,
      channel: { kind: 'webhook', requests: sink.request, outcomes: sink.decided },
      memory: {
        idleHeapMiB: round(idle.heapMiB),
        idleRssMiB: round(idle.rssMiB),
        heldHeapMiB: round(held.heapMiB),
        heldRssMiB: round(held.rssMiB),
        heapPerApprovalKiB: round(((held.heapMiB - idle.heapMiB) * 1024) / COUNT),
        heapRatio: round(held.heapMiB / idle.heapMiB),
        rssRatio: round(held.rssMiB / idle.rssMiB),
      },
      restart: {
        emptyMs: round(median(restartRuns.empty)),
        heldMs: round(median(restartRuns.held)),
        ratio: round(median(restartRuns.held) / median(restartRuns.empty)),
      },
      decision: {
        floorP50Ms: round(percentile(floor, 50), 3),
        floorP99Ms: round(percentile(floor, 99), 3),
        responseP50Ms: round(percentile(response, 50), 3),
        responseP99Ms: round(percentile(response, 99), 3),
        outputP50Ms: round(percentile(output, 50), 3),
        outputP99Ms: round(percentile(output, 99), 3),
        responseP50VsFloor: round(percentile(response, 50) / percentile(floor, 50)),
      },
    };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

function run() {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--expose-gc', __filename, '--child'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (code !== 0) return reject(new Error(`approvals benchmark child exited with ${code}`));
      try {
        resolve(JSON.parse(out));
      } catch (err) {
        reject(new Error(`approvals benchmark printed no result: ${err.message}`));
      }
    });
  });
}

module.exports = { run };

if (require.main === module) {
  if (process.argv.includes('--child')) {
    child().then(
      (result) => process.stdout.write(JSON.stringify(result)),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  } else {
    run().then(
      (r) => console.log(JSON.stringify(r, null, 2)),
      (err) => {
        console.error(err.message);
        process.exit(1);
      },
    );
  }
}
