#!/usr/bin/env node
// Intake throughput against a bare Node-RED `http in` -> `http response` flow, in one Node-RED
// process, same run, same machine: the figure that matters is the ratio (goal >= 0.8).
// Each request is a Wazuh-sized alert with its own source address, so nothing is deduplicated away:
// every request is authenticated, parsed, normalised, validated, fingerprinted, written to the
// audit log (group commit, fsync) and sent into the flow before its 202.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const autocannon = require('autocannon');
const { writeCredentials } = require('../scripts/start');

const root = path.resolve(__dirname, '..');
const TOKEN = 'bench-token-0123456789abcdef';
const SAMPLE = fs.readFileSync(path.join(root, 'test/fixtures/samples/wazuh/sshd-bruteforce.json'), 'utf8');

function settings(home, port) {
  return `module.exports = ${JSON.stringify({
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
  })};`;
}

const flows = [
  { id: 't', type: 'tab', label: 'bench' },
  { id: 'bareIn', z: 't', type: 'http in', url: '/bare', method: 'post', upload: false, wires: [['bareOut']] },
  { id: 'bareOut', z: 't', type: 'http response', statusCode: '202', headers: {}, wires: [] },
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
];

function alertBody(i) {
  const a = JSON.parse(SAMPLE);
  const ip = `203.0.${(i >> 8) & 255}.${i & 255}`;
  a.data.srcip = ip;
  a.id = `${Date.now()}.${i}`;
  a.full_log = a.full_log.replace('203.0.113.44', ip);
  return JSON.stringify(a);
}

function peakRssMb(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

async function cannon(url, headers, durationS, connections) {
  let i = 0;
  const result = await autocannon({
    url,
    method: 'POST',
    connections,
    duration: durationS,
    headers,
    requests: [{ setupRequest: (req) => ({ ...req, body: alertBody(i++) }) }],
  });
  const bad = result.non2xx + result.errors + result.timeouts;
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, requests: result.requests.total, failed: bad };
}

async function run({ durationS = Number(process.env.BENCH_SECONDS) || 8, connections = 32 } = {}) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-bench-'));
  const port = 18000 + Math.floor(Math.random() * 2000);
  fs.writeFileSync(path.join(home, 'settings.js'), settings(home, port));
  fs.writeFileSync(path.join(home, 'flows.json'), JSON.stringify(flows));
  writeCredentials(path.join(home, 'flows_cred.json'), 'bench-secret', { intake: { token: TOKEN } });
  const profile = process.env.BENCH_PROFILE ? [`--cpu-prof`, `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const nodeArgs = (process.env.BENCH_NODE_ARGS || '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, ...profile, require.resolve('node-red/red.js'), '-u', home, '-s', path.join(home, 'settings.js')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let t = 0; ; t++) {
      try {
        const r = await fetch(`${base}/soar/alerts`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: alertBody(999999) });
        if (r.status === 202) break;
      } catch {}
      if (t > 240) throw new Error('Node-RED did not start:\n' + log);
      await new Promise((r) => setTimeout(r, 250));
    }
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
    if (process.env.BENCH_ONLY_INTAKE) {
      const only = await cannon(`${base}/soar/alerts`, headers, durationS, connections);
      return { connections, durationS, intake: only };
    }
    await cannon(`${base}/bare`, headers, 2, connections); // warm-up both paths
    await cannon(`${base}/soar/alerts`, headers, 2, connections);
    const bare1 = await cannon(`${base}/bare`, headers, durationS, connections);
    const intake = await cannon(`${base}/soar/alerts`, headers, durationS, connections);
    const bare2 = await cannon(`${base}/bare`, headers, durationS, connections);
    const bareRps = (bare1.rps + bare2.rps) / 2;
    const auditLines = fs
      .readFileSync(path.join(home, 'soar', 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean).length;
    return {
      connections,
      durationS,
      bare: { rps: Math.round(bareRps), p50: bare1.p50, p99: Math.max(bare1.p99, bare2.p99) },
      intake: { rps: Math.round(intake.rps), p50: intake.p50, p99: intake.p99, failed: intake.failed, requests: intake.requests },
      ratio: Number((intake.rps / bareRps).toFixed(2)),
      auditRecords: auditLines,
      peakRssMb: peakRssMb(child.pid),
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    fs.rmSync(home, { recursive: true, force: true });
  }
}

module.exports = { run };
if (require.main === module) {
  run()
    .then((r) => {
      console.log(`intake vs bare http-in (${r.connections} connections, ${r.durationS} s each, Wazuh-sized alerts)`);
      console.log(`  bare http in -> http response : ${r.bare.rps} req/s  p50 ${r.bare.p50} ms  p99 ${r.bare.p99} ms`);
      console.log(`  soar-alert-intake (durable)   : ${r.intake.rps} req/s  p50 ${r.intake.p50} ms  p99 ${r.intake.p99} ms  (${r.intake.failed} non-2xx)`);
      console.log(`  ratio ${r.ratio}  (goal >= 0.8)   audit records ${r.auditRecords}   Node-RED peak RSS ${r.peakRssMb} MB`);
    })
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
