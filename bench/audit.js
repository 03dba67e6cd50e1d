#!/usr/bin/env node
// Benchmark of the keyed audit chain (HMAC-SHA256 per record + signed head checkpoint after every
// durable batch) against the unkeyed SHA-256 chain the previous version wrote, in the same run.
//   node bench/audit.js            prints a table (build first: npx tsc -p . or npm run build)
//   require("./bench/audit").run() returns the numbers
// Append throughput with 1 and 64 concurrent writers (real fdatasync unless BENCH_FSYNC=0), and
// verification speed over a log of BENCH_AUDIT_RECORDS records (default 50,000).
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");

const dist = process.env.SOAR_DIST ? path.resolve(process.env.SOAR_DIST) : path.join(__dirname, "..", "dist");
const { AuditLog, verifyAudit } = require(path.join(dist, "lib", "core", "audit.js"));

// A normalised alert of typical size, as the intake records it.
const SAMPLE_ALERT = {
  id: "suricata:2024-06-01T12:00:00.123456Z:1:2019401:3",
  source: "suricata",
  receivedAt: "2024-06-01T12:00:00.200Z",
  severity: "high",
  title: "ET POLICY Suspicious inbound to mySQL port 3306",
  observables: [
    { type: "ip", value: "198.18.0.23", role: "src" },
    { type: "ip", value: "198.18.0.5", role: "dst" },
  ],
  rule: { id: "2019401", name: "ET POLICY Suspicious inbound to mySQL port 3306", revision: 3 },
  fingerprint: "b1946ac92492d2347c6235b4d2611184b1946ac92492d2347c6235b4d2611184",
};

async function appendRate(dir, keyed, writers, durationMs, fsync) {
  const sub = fs.mkdtempSync(path.join(dir, keyed ? "keyed-" : "plain-"));
  const log = await AuditLog.open(path.join(sub, "audit.jsonl"), { fsync, keyed });
  let count = 0;
  const deadline = Date.now() + durationMs;
  const start = process.hrtime.bigint();
  const loop = async () => {
    while (Date.now() < deadline) {
      await log.append("alert.received", { alert: SAMPLE_ALERT });
      count += 1;
    }
  };
  await Promise.all(Array.from({ length: writers }, loop));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const batches = log.stats().batches;
  await log.close();
  return { perSec: Math.round(count / seconds), batches };
}

async function verifyRate(dir, keyed, records) {
  const sub = fs.mkdtempSync(path.join(dir, keyed ? "vkeyed-" : "vplain-"));
  const file = path.join(sub, "audit.jsonl");
  const log = await AuditLog.open(file, { fsync: false, keyed });
  for (let i = 0; i < records; i += 1000) {
    await log.appendMany(Array.from({ length: Math.min(1000, records - i) }, () => ({ type: "alert.received", fields: { alert: SAMPLE_ALERT } })));
  }
  await log.close();
  // Best of three: the machine is shared, the minimum is the least disturbed run.
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const start = process.hrtime.bigint();
    const result = await verifyAudit(file);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (!result.ok || result.records !== records) throw new Error(`verification of the ${keyed ? "keyed" : "unkeyed"} log failed: ${JSON.stringify(result)}`);
    best = Math.min(best, seconds);
  }
  return { perSec: Math.round(records / best), megabytes: +(fs.statSync(file).size / 1e6).toFixed(1) };
}

async function run({ print = false } = {}) {
  const durationMs = Number(process.env.BENCH_DURATION_MS) || 3000;
  const fsync = process.env.BENCH_FSYNC !== "0";
  const records = Number(process.env.BENCH_AUDIT_RECORDS) || 50000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "soar-bench-audit-"));
  const rows = [];
  try {
    for (const [index, writers] of [1, 64].entries()) {
      // Alternate the order so neither side always runs on a warmer (or busier) machine.
      let plain, keyed;
      if (index % 2 === 0) {
        plain = await appendRate(dir, false, writers, durationMs, fsync);
        keyed = await appendRate(dir, true, writers, durationMs, fsync);
      } else {
        keyed = await appendRate(dir, true, writers, durationMs, fsync);
        plain = await appendRate(dir, false, writers, durationMs, fsync);
      }
      rows.push({
        case: `append, ${writers} writer${writers === 1 ? "" : "s"}${fsync ? "" : " (no fsync)"}`,
        unkeyed: plain.perSec,
        keyed: keyed.perSec,
        ratio: +(keyed.perSec / plain.perSec).toFixed(2),
      });
    }
    const plainVerify = await verifyRate(dir, false, records);
    const keyedVerify = await verifyRate(dir, true, records);
    rows.push({
      case: `verify ${records} records (${keyedVerify.megabytes} MB), records/s`,
      unkeyed: plainVerify.perSec,
      keyed: keyedVerify.perSec,
      ratio: +(keyedVerify.perSec / plainVerify.perSec).toFixed(2),
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (print) console.table(rows);
  return { durationMs, fsync, rows };
}

module.exports = { run };

if (require.main === module) {
  run({ print: true }).catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
