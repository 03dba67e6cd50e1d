#!/usr/bin/env node
// Benchmark of the durable state store and the audit log (compiled code: build first with `npx tsc -p .`).
//   node bench/store.js            prints a table
//   require("./bench/store").run() returns the numbers
// Measures audit appends/s with 1 and 64 concurrent writers (the ratio shows what group commit buys:
// with 64 writers one write+fdatasync carries many records), store sets/s (1 and 64 writers), gets/s,
// and chain verification speed. Real fdatasync unless { fsync: false }.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

// SOAR_DIST lets the benchmark run against a build elsewhere (default: ../dist).
const dist = process.env.SOAR_DIST ? path.resolve(process.env.SOAR_DIST) : path.join(__dirname, '..', 'dist');
const { AuditLog, verifyAudit } = require(path.join(dist, 'lib', 'core', 'audit.js'));
const { FileStateStore } = require(path.join(dist, 'lib', 'core', 'file-store.js'));

// A normalised alert of typical size (~0.6 KB), as the intake records it.
const SAMPLE_ALERT = {
  id: 'suricata:2024-06-01T12:00:00.123456Z:1:2019401:3',
  source: 'suricata',
  receivedAt: '2024-06-01T12:00:00.200Z',
  severity: 'high',
  title: 'ET POLICY Suspicious inbound to mySQL port 3306',
  category: 'network',
  observables: [
    { type: 'ip', value: '198.18.0.23', role: 'src' },
    { type: 'ip', value: '198.18.0.5', role: 'dst' },
    { type: 'port', value: '3306' },
  ],
  rule: { id: '2019401', name: 'ET POLICY Suspicious inbound to mySQL port 3306', revision: 3 },
  host: { name: 'gateway', ip: '198.18.0.1' },
  tags: ['policy', 'database'],
  fingerprint: 'b1946ac92492d2347c6235b4d2611184b1946ac92492d2347c6235b4d2611184',
};

function secondsSince(start) {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Run `writers` loops, each awaiting `operation(i)` back to back until the time is up. */
async function drive(writers, durationMs, operation) {
  let count = 0;
  const deadline = Date.now() + durationMs;
  const start = process.hrtime.bigint();
  const loop = async () => {
    while (Date.now() < deadline) {
      await operation(count++);
    }
  };
  await Promise.all(Array.from({ length: writers }, loop));
  return { count, seconds: secondsSince(start) };
}

async function benchAudit(dir, writers, durationMs, fsync) {
  const file = path.join(dir, `audit-${writers}.jsonl`);
  const log = await AuditLog.open(file, { fsync });
  const { count, seconds } = await drive(writers, durationMs, () => log.append('alert.received', { alert: SAMPLE_ALERT }));
  const stats = log.stats();
  await log.close();
  return {
    file,
    row: {
      case: `audit append, ${writers} writer${writers === 1 ? '' : 's'}`,
      opsPerSec: Math.round(count / seconds),
      ops: count,
      batches: stats.batches,
      perBatch: +(count / Math.max(1, stats.batches)).toFixed(1),
    },
  };
}

async function benchStoreSets(dir, writers, durationMs, fsync) {
  const store = await FileStateStore.open(path.join(dir, `state-${writers}`), { fsync });
  const value = { alertId: SAMPLE_ALERT.id, firstSeen: SAMPLE_ALERT.receivedAt, count: 1 };
  const { count, seconds } = await drive(writers, durationMs, (i) => store.set('dedup:bench', `key-${i % 50000}`, value, { ttlMs: 600000 }));
  const stats = store.stats();
  await store.close();
  return {
    case: `store set, ${writers} writer${writers === 1 ? '' : 's'}`,
    opsPerSec: Math.round(count / seconds),
    ops: count,
    batches: stats.batches,
    perBatch: +(count / Math.max(1, stats.batches)).toFixed(1),
  };
}

async function benchStoreGets(dir, durationMs) {
  const store = await FileStateStore.open(path.join(dir, 'state-get'), { fsync: false });
  const keys = 10000;
  await Promise.all(Array.from({ length: keys }, (_, i) => store.set('leases', `lease-${i}`, { target: '198.18.0.9', expiresAt: i })));
  const { count, seconds } = await drive(1, durationMs, (i) => store.get('leases', `lease-${i % keys}`));
  await store.close();
  return { case: 'store get (10k keys)', opsPerSec: Math.round(count / seconds), ops: count, batches: '', perBatch: '' };
}

async function benchVerify(file) {
  const start = process.hrtime.bigint();
  const result = await verifyAudit(file);
  const seconds = secondsSince(start);
  const megabytes = fs.statSync(file).size / (1024 * 1024);
  return {
    case: `audit verify (${megabytes.toFixed(1)} MB)`,
    opsPerSec: Math.round(result.records / seconds),
    ops: result.records,
    batches: '',
    perBatch: '',
    ok: result.ok,
  };
}

/**
 * @param {{durationMs?: number, fsync?: boolean}} [options]
 * @returns {Promise<{rows: object[], groupCommitRatio: number, fsync: boolean, durationMs: number}>}
 */
async function run(options = {}) {
  const durationMs = options.durationMs ?? Number(process.env.BENCH_DURATION_MS || 2000);
  const fsync = options.fsync ?? process.env.BENCH_FSYNC !== '0';
  const dir = fs.mkdtempSync(path.join(options.dir ?? os.tmpdir(), 'soar-bench-store-'));
  try {
    const audit1 = await benchAudit(dir, 1, durationMs, fsync);
    const audit64 = await benchAudit(dir, 64, durationMs, fsync);
    const rows = [
      audit1.row,
      audit64.row,
      await benchStoreSets(dir, 1, durationMs, fsync),
      await benchStoreSets(dir, 64, durationMs, fsync),
      await benchStoreGets(dir, durationMs),
      await benchVerify(audit64.file),
    ];
    return {
      rows,
      // How many times more appends/s 64 concurrent writers get than one: the group commit gain.
      groupCommitRatio: +(audit64.row.opsPerSec / Math.max(1, audit1.row.opsPerSec)).toFixed(1),
      fsync,
      durationMs,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { run };

if (require.main === module) {
  run().then(
    (result) => {
      console.log(`state store / audit log (fsync ${result.fsync ? 'on' : 'off'}, ${result.durationMs} ms per case)`);
      console.table(result.rows.map(({ ok, ...row }) => row));
      console.log(`group commit: 64 writers get ${result.groupCommitRatio}x the appends/s of 1 writer`);
    },
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
