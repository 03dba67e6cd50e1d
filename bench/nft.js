#!/usr/bin/env node
/**
 * nftables benchmark, in a fresh network namespace created and deleted here (the host's ruleset is
 * never touched). Needs root, nft and ip, and the compiled provider: `npx tsc -p .` first.
 *
 *   1. 10,000 addresses from 198.18.0.0/15 blocked in ONE batch (one `nft -f -` transaction),
 *   2. the same done one address per call (one nft process each): by default 1,000 calls, measured
 *      per address (SOAR_BENCH_SINGLE_CALLS=10000 runs all 10,000), and the ratio of the two rates,
 *   3. 1,000 more addresses added to a set that already holds 100,000, plus the cost of list() there
 *      (what reconciliation pays).
 *
 * Every call goes through `ip netns exec`, the same in all rows, so the ratio compares like with like.
 * Usage: node bench/nft.js          (or require('./bench/nft').run())
 */
'use strict';
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');

const DIST = process.env.SOAR_DIST ? path.resolve(process.env.SOAR_DIST) : path.join(__dirname, '..', 'dist');

const BATCH_SIZE = 10_000;
const FILL_SIZE = 100_000;
const EXTRA_SIZE = 1_000;
const TTL_SECONDS = 3600;

/** The n-th address of 198.18.0.0/15 (131,072 addresses; n starts at 1 to skip the network address). */
function benchAddress(n) {
  const value = 0xc6120000 + n;
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

function targets(from, count) {
  return Array.from({ length: count }, (_, i) => ({ address: benchAddress(from + i), ttlSeconds: TTL_SECONDS }));
}

async function timed(work) {
  const start = process.hrtime.bigint();
  const result = await work();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, result };
}

function unsupportedReason() {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (network namespaces, nftables)';
  for (const [command, args, hint] of [
    ['nft', ['--version'], 'apt-get install nftables'],
    ['ip', ['-V'], 'apt-get install iproute2'],
  ]) {
    try {
      execFileSync(command, args, { stdio: 'ignore' });
    } catch {
      return `${command} is not available (${hint})`;
    }
  }
  try {
    require.resolve(path.join(DIST, 'lib', 'firewall', 'nftables.js'));
  } catch {
    return `compiled provider not found under ${DIST} (run npx tsc -p . first)`;
  }
  return undefined;
}

function formatRate(perSecond) {
  return perSecond >= 100 ? Math.round(perSecond).toLocaleString('en-US') : perSecond.toFixed(1);
}

function printTable(rows) {
  const header = ['measurement', 'addresses', 'total ms', 'per address ms', 'addresses/s'];
  const lines = rows.map((r) => [r.name, r.count.toLocaleString('en-US'), r.ms.toFixed(0), (r.ms / r.count).toFixed(3), formatRate((r.count * 1000) / r.ms)]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(format(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(format(line));
}

async function run(options = {}) {
  const reason = unsupportedReason();
  if (reason) {
    console.log(`nft benchmark skipped: ${reason}`);
    return { skipped: reason };
  }
  const { NftablesFirewall, execRunner } = require(path.join(DIST, 'lib', 'firewall', 'nftables.js'));
  const singleCalls = Math.min(BATCH_SIZE, Number(options.singleCalls ?? process.env.SOAR_BENCH_SINGLE_CALLS ?? 1000));
  const ns = `soar-bench-${randomBytes(4).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  const runner = execRunner('ip', ['netns', 'exec', ns, 'nft'], { timeoutMs: 300_000 });
  const rows = [];
  try {
    const fw = new NftablesFirewall({ runner, chains: ['input'] });
    await fw.ensureReady();
    const flush = async () => {
      const result = await runner(['flush', 'set', 'inet', fw.table, 'blocked4']);
      if (result.code !== 0) throw new Error(`flush failed: ${result.stderr}`);
    };

    // 1. one batch
    const batch = await timed(() => fw.block(targets(1, BATCH_SIZE)));
    rows.push({ name: 'block(): one batch, one nft -f', count: BATCH_SIZE, ms: batch.ms });
    const held = (await fw.list()).length;
    if (held !== BATCH_SIZE) throw new Error(`expected ${BATCH_SIZE} elements after the batch, found ${held}`);
    const unblockBatch = await timed(() => fw.unblock(targets(1, BATCH_SIZE).map((t) => t.address)));
    rows.push({ name: 'unblock(): one batch', count: BATCH_SIZE, ms: unblockBatch.ms });

    // 2. one nft call per address
    const single = await timed(async () => {
      for (const target of targets(1, singleCalls)) await fw.block([target]);
    });
    rows.push({ name: `block(): one call per address (${singleCalls.toLocaleString('en-US')} calls)`, count: singleCalls, ms: single.ms });
    await flush();

    // 3. a big set
    const fill = await timed(() => fw.block(targets(1, FILL_SIZE)));
    rows.push({ name: 'fill: 100,000 in one batch', count: FILL_SIZE, ms: fill.ms });
    const extra = await timed(() => fw.block(targets(FILL_SIZE + 1, EXTRA_SIZE)));
    rows.push({ name: 'add 1,000 to a set holding 100,000', count: EXTRA_SIZE, ms: extra.ms });
    const listing = await timed(() => fw.list());
    if (listing.result.length !== FILL_SIZE + EXTRA_SIZE) throw new Error(`expected ${FILL_SIZE + EXTRA_SIZE} elements, found ${listing.result.length}`);
    rows.push({ name: 'list(): read back 101,000', count: listing.result.length, ms: listing.ms });
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }

  const perAddressBatch = rows[0].ms / rows[0].count;
  const perAddressSingle = rows[2].ms / rows[2].count;
  const ratio = perAddressSingle / perAddressBatch;
  console.log(`\nnftables (${execFileSync('nft', ['--version']).toString().trim()}), in namespace ${ns}\n`);
  printTable(rows);
  console.log(
    `\nbatch vs one call per address: ${ratio.toFixed(0)}x faster per address` +
      (singleCalls < BATCH_SIZE
        ? ` (single calls measured on ${singleCalls.toLocaleString('en-US')} addresses; 10,000 would take ~${((perAddressSingle * BATCH_SIZE) / 1000).toFixed(0)} s)`
        : ''),
  );
  return { rows, ratio };
}

module.exports = { run };

if (require.main === module) {
  run().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
