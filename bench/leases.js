#!/usr/bin/env node
// Benchmark of the block-lease engine (compiled code: build first with `npx tsc -p .`).
//   node bench/leases.js            prints a table
//   require("./bench/leases").run() returns the numbers
// For 1,000 and 10,000 leases: blocks/s through LeaseManager.block with a no-op provider (guardrail
// check, cap, offence history, lease write, audit record: everything but the firewall), lease lookups/s,
// full list() calls/s, and as the baseline raw FileStateStore.set/s of a lease-sized value with the
// same concurrency in the same run. `blockVsRawSet` = block ops/s / raw set ops/s: the cost of the
// lease bookkeeping over the bare durable write (each block makes two durable store writes and one
// audit append). Real fdatasync unless { fsync: false } / BENCH_FSYNC=0.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

// SOAR_DIST lets the benchmark run against a build elsewhere (default: ../dist).
const dist = process.env.SOAR_DIST ? path.resolve(process.env.SOAR_DIST) : path.join(__dirname, '..', 'dist');
const { AuditLog } = require(path.join(dist, 'lib', 'core', 'audit.js'));
const { FileStateStore } = require(path.join(dist, 'lib', 'core', 'file-store.js'));
const { GuardrailPolicy } = require(path.join(dist, 'lib', 'core', 'guardrails.js'));
const { LeaseManager } = require(path.join(dist, 'lib', 'firewall', 'leases.js'));

/** A provider that accepts everything and does nothing: the benchmark measures the lease engine only. */
const noopProvider = {
  name: 'bench',
  kind: 'noop',
  ensureReady: async () => undefined,
  block: async () => undefined,
  unblock: async () => undefined,
  list: async () => [],
};

/** The i-th address of 198.18.0.0/15 (the benchmarking range; guardrails let it through). */
function targetFor(i) {
  return `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}`;
}

function secondsSince(start) {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Run `operation(i)` for i in [0, count) with `writers` concurrent loops. */
async function driveCount(count, writers, operation) {
  let next = 0;
  const start = process.hrtime.bigint();
  const loop = async () => {
    for (let i = next++; i < count; i = next++) await operation(i);
  };
  await Promise.all(Array.from({ length: Math.min(writers, count) }, loop));
  return secondsSince(start);
}

/** Repeat `operation` until durationMs passed (at least `minimum` times). */
async function driveFor(durationMs, minimum, operation) {
  let count = 0;
  const deadline = Date.now() + durationMs;
  const start = process.hrtime.bigint();
  while (count < minimum || Date.now() < deadline) await operation(count++);
  return { count, seconds: secondsSince(start) };
}

function leaseShapedValue(i) {
  const now = Date.now();
  return {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    kind: 'block',
    target: targetFor(i),
    provider: 'bench',
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + 3600_000).toISOString(),
    reason: 'benchmark',
    alertId: `bench-${i}`,
    by: 'bench',
    ttlSeconds: 3600,
    requestedTtlSeconds: 3600,
    offences: 1,
    lastBlockedAt: new Date(now).toISOString(),
    extensions: 0,
    status: 'active',
  };
}

async function benchSize(root, leases, options) {
  const { fsync, writers, durationMs } = options;
  // Baseline: the bare durable write the lease engine builds on.
  const rawStore = await FileStateStore.open(path.join(root, `raw-${leases}`), { fsync });
  const rawSeconds = await driveCount(leases, writers, (i) => rawStore.set('leases', `bench|${targetFor(i)}`, leaseShapedValue(i)));
  await rawStore.close();

  const store = await FileStateStore.open(path.join(root, `state-${leases}`), { fsync });
  const audit = await AuditLog.open(path.join(root, `audit-${leases}.jsonl`), { fsync });
  const policy = new GuardrailPolicy({ includeOwnAddresses: false, maxActionsPerHour: 1e9 });
  const manager = new LeaseManager({
    store,
    audit,
    guardrails: () => policy,
    simulate: () => false,
    providers: new Map([['bench', noopProvider]]),
    warn: (message) => console.warn(message),
  });
  await manager.start();
  try {
    let refusedOrFailed = 0;
    const blockSeconds = await driveCount(leases, writers, async (i) => {
      const outcome = await manager.block({ target: targetFor(i), provider: 'bench', ttlSeconds: 3600, reason: 'benchmark', alertId: `bench-${i}` });
      if (outcome.status !== 'blocked') refusedOrFailed += 1;
    });
    if (refusedOrFailed > 0) throw new Error(`${refusedOrFailed} benchmark blocks were not "blocked"`);

    const lookups = await driveFor(durationMs, 1000, (i) => manager.lookup(targetFor((i * 7919) % leases), 'bench'));
    const lists = await driveFor(durationMs, 3, async () => {
      const all = await manager.list();
      if (all.length !== leases) throw new Error(`list() returned ${all.length} of ${leases} leases`);
    });

    const rawPerSec = leases / rawSeconds;
    const blockPerSec = leases / blockSeconds;
    return {
      leases,
      rows: [
        { case: `raw store set (baseline), ${leases}`, opsPerSec: Math.round(rawPerSec), ops: leases },
        { case: `block (no-op provider), ${leases}`, opsPerSec: Math.round(blockPerSec), ops: leases },
        { case: `lookup, ${leases} leases`, opsPerSec: Math.round(lookups.count / lookups.seconds), ops: lookups.count },
        { case: `list() of ${leases} leases`, opsPerSec: +(lists.count / lists.seconds).toFixed(1), ops: lists.count },
      ],
      blockVsRawSet: +(blockPerSec / rawPerSec).toFixed(2),
      listLeasesPerSec: Math.round((lists.count * leases) / lists.seconds),
    };
  } finally {
    await manager.stop();
    await audit.close();
    await store.close();
  }
}

/**
 * @param {{sizes?: number[], writers?: number, durationMs?: number, fsync?: boolean, dir?: string}} [options]
 */
async function run(options = {}) {
  const sizes = options.sizes ?? [1000, 10000];
  const writers = options.writers ?? Number(process.env.BENCH_WRITERS || 64);
  const durationMs = options.durationMs ?? Number(process.env.BENCH_DURATION_MS || 2000);
  const fsync = options.fsync ?? process.env.BENCH_FSYNC !== '0';
  const root = fs.mkdtempSync(path.join(options.dir ?? os.tmpdir(), 'soar-bench-leases-'));
  try {
    const results = [];
    for (const leases of sizes) results.push(await benchSize(root, leases, { fsync, writers, durationMs }));
    return {
      rows: results.flatMap((r) => r.rows),
      // Block throughput as a fraction of raw durable set throughput, per size.
      blockVsRawSet: Object.fromEntries(results.map((r) => [r.leases, r.blockVsRawSet])),
      listLeasesPerSec: Object.fromEntries(results.map((r) => [r.leases, r.listLeasesPerSec])),
      writers,
      fsync,
      durationMs,
    };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

module.exports = { run };

if (require.main === module) {
  run().then(
    (result) => {
      console.log(`block leases (fsync ${result.fsync ? 'on' : 'off'}, ${result.writers} concurrent writers)`);
      console.table(result.rows);
      for (const [size, ratio] of Object.entries(result.blockVsRawSet)) {
        console.log(`${size} leases: block runs at ${ratio}x the rate of a raw store set; list() reads ${result.listLeasesPerSec[size]} leases/s`);
      }
    },
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
