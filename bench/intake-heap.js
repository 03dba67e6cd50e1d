#!/usr/bin/env node
// 100,000 Wazuh-sized alerts (BENCH_ALERTS) into one Node-RED running the intake, from 20 concurrent
// senders (BENCH_SENDERS): alerts/s, non-202 answers and peak RSS of the Node-RED process, once with
// --max-old-space-size=128 (the README's advice for small boards) and once without a heap cap, in the
// same invocation; the figures that matter are the ratios. Every alert has its own source address,
// which the fingerprint covers, so dedup drops none of them.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const { spawn } = require('child_process');
const { writeCredentials } = require('../scripts/start');

const root = path.resolve(__dirname, '..');
const TOKEN = 'bench-token-0123456789abcdef';
const SAMPLES = fs
  .readdirSync(path.join(root, 'test/fixtures/samples/wazuh'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => fs.readFileSync(path.join(root, 'test/fixtures/samples/wazuh', f), 'utf8'));

// 198.18.0.0/15 has 131,072 addresses: one per alert up to that count.
const addr = (i) => `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}`;

function alertBody(i, run) {
  const text = SAMPLES[i % SAMPLES.length];
  const a = JSON.parse(text);
  const ip = addr(i);
  if (a.data && typeof a.data === 'object') a.data.srcip = ip;
  else a.data = { srcip: ip };
  a.id = `${run}.${i}`;
  if (typeof a.full_log === 'string') a.full_log = `${a.full_log} [${ip}]`;
  return JSON.stringify(a);
}

function vm(pid, field) {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function startNodeRed(nodeArgs) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-bench-heap-'));
  const port = 20000 + Math.floor(Math.random() * 5000);
  const settings = {
    uiHost: '127.0.0.1',
    uiPort: port,
    httpAdminRoot: '/admin',
    userDir: home,
    flowFile: 'flows.json',
    credentialSecret: 'bench-secret',
    nodesDir: [root],
    editorTheme: { tours: false, palette: { catalogues: [] } },
    telemetry: { enabled: false },
    diagnostics: { enabled: false },
    logging: { console: { level: 'warn' } },
  };
  fs.writeFileSync(path.join(home, 'settings.js'), `module.exports = ${JSON.stringify(settings)};`);
  fs.writeFileSync(
    path.join(home, 'flows.json'),
    JSON.stringify([
      { id: 't', type: 'tab', label: 'bench' },
      {
        id: 'intake',
        z: 't',
        type: 'soar-alert-intake',
        path: '/soar/alerts',
        authType: 'bearer',
        format: 'auto',
        dedupWindow: 300,
        duplicateMode: 'suppress',
        maxBodyKb: 1024,
        maxBacklog: 100000,
        bodyTimeout: 10,
        wires: [['sink']],
      },
      { id: 'sink', z: 't', type: 'debug', active: false, tosidebar: true, complete: 'alert', targetType: 'msg', wires: [] },
    ]),
  );
  writeCredentials(path.join(home, 'flows_cred.json'), 'bench-secret', { intake: { token: TOKEN } });
  const child = spawn(process.execPath, [...nodeArgs, require.resolve('node-red/red.js'), '-u', home, '-s', path.join(home, 'settings.js')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    fs.rmSync(home, { recursive: true, force: true });
  };
  return { child, port, home, log: () => log, stop };
}

function post(agent, port, body) {
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/soar/alerts',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.setTimeout(30000, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve('error'));
    req.end(body);
  });
}

async function measure(label, nodeArgs, alerts, senders) {
  const nr = await startNodeRed(nodeArgs);
  const agent = new http.Agent({ keepAlive: true, maxSockets: senders });
  const run = `${label}-${Date.now()}`;
  try {
    for (let t = 0; ; t++) {
      if (nr.child.exitCode !== null) throw new Error(`Node-RED exited:\n${nr.log()}`);
      if ((await post(agent, nr.port, alertBody(alerts + 1, run))) === 202) break;
      if (t > 240) throw new Error(`Node-RED did not start:\n${nr.log()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    let next = 0;
    const answers = {};
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, vm(nr.child.pid, 'VmRSS') ?? 0)), 100);
    const start = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: senders }, async () => {
        while (next < alerts) {
          const status = await post(agent, nr.port, alertBody(next++, run));
          answers[status] = (answers[status] ?? 0) + 1;
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    clearInterval(sampler);
    const hwm = vm(nr.child.pid, 'VmHWM');
    const alive = nr.child.exitCode === null && nr.child.signalCode === null;
    return {
      label,
      nodeArgs: nodeArgs.join(' ') || '(none)',
      alerts,
      senders,
      alertsPerS: Math.round(alerts / seconds),
      seconds: Number(seconds.toFixed(1)),
      accepted: answers[202] ?? 0,
      non202: alerts - (answers[202] ?? 0),
      answers,
      peakRssMb: Math.round(Math.max(hwm ?? 0, peakRss)),
      alive,
    };
  } finally {
    agent.destroy();
    await nr.stop();
  }
}

async function run({ alerts = Number(process.env.BENCH_ALERTS) || 100000, senders = Number(process.env.BENCH_SENDERS) || 20 } = {}) {
  const capped = await measure('heap 128 MB', ['--max-old-space-size=128'], alerts, senders);
  const free = await measure('no heap cap', [], alerts, senders);
  return {
    capped,
    uncapped: free,
    ratio: { alertsPerS: Number((capped.alertsPerS / free.alertsPerS).toFixed(2)), peakRss: Number((capped.peakRssMb / free.peakRssMb).toFixed(2)) },
  };
}

module.exports = { run };
if (require.main === module) {
  run()
    .then((r) => {
      for (const m of [r.capped, r.uncapped]) {
        console.log(
          `${m.label.padEnd(12)}: ${m.alerts} alerts, ${m.senders} senders, ${m.alertsPerS} alerts/s (${m.seconds} s), ${m.accepted} answered 202, ${m.non202} not ${JSON.stringify(m.answers)}, Node-RED peak RSS ${m.peakRssMb} MB${m.alive ? '' : ', NODE-RED DIED'}`,
        );
      }
      console.log(`capped / uncapped: alerts/s ${r.ratio.alertsPerS}, peak RSS ${r.ratio.peakRss}`);
    })
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
