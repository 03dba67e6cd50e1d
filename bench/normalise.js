#!/usr/bin/env node
// Alert normalisation throughput per input format, single core.
// Uses the COMPILED engine (build first: npx tsc -p .). Each format's samples are normalised in a
// loop for about a second (pre-parsed items), then parsed from the raw body and normalised (what
// the intake does per request) for half that. Prints a table, or JSON with --json.
//   node bench/normalise.js [--json] [--duration=1000] [--format=wazuh,suricata]
'use strict';
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const ENGINE = path.join(ROOT, 'dist', 'lib', 'alert', 'index.js');
const SAMPLE_DIRS = [path.join(ROOT, 'test', 'fixtures', 'samples'), path.join(ROOT, 'test', 'fixtures', 'samples-extra')];
const RECEIVED = new Date('2026-11-23T00:00:00.000Z');

function loadEngine() {
  if (!fs.existsSync(ENGINE)) throw new Error(`${path.relative(ROOT, ENGINE)} not found: build first (npx tsc -p .)`);
  return require(ENGINE);
}

/** format -> [{name, body}] from every sample directory, plus "soar" replays built from the others. */
function loadSamples(engine) {
  const byFormat = new Map();
  for (const dir of SAMPLE_DIRS) {
    if (!fs.existsSync(dir)) continue;
    for (const format of fs.readdirSync(dir).sort()) {
      const formatDir = path.join(dir, format);
      if (format === 'expected' || !fs.statSync(formatDir).isDirectory()) continue;
      for (const name of fs.readdirSync(formatDir).sort()) {
        if (!byFormat.has(format)) byFormat.set(format, []);
        byFormat.get(format).push({ name, body: fs.readFileSync(path.join(formatDir, name)) });
      }
    }
  }
  // Replays of already normalised alerts (audit log -> intake), from the Wazuh samples.
  const wazuh = byFormat.get('wazuh') || [];
  const replays = wazuh.map((s) => {
    const alerts = engine.normalise(engine.parseBody(s.body, 'application/json'), { received: RECEIVED }).alerts;
    return { name: `replay-${s.name}`, body: Buffer.from(JSON.stringify(alerts)) };
  });
  if (replays.length) byFormat.set('soar', replays);
  return byFormat;
}

function now() {
  return process.hrtime.bigint();
}

/** Calls fn() (which returns how many alerts it produced) until durationMs passes; alerts per second. */
function measure(fn, durationMs) {
  for (let i = 0; i < 200; i++) fn(); // warm-up: let the JIT settle
  const limit = BigInt(Math.round(durationMs * 1e6));
  const start = now();
  let alerts = 0;
  let elapsed = 0n;
  while (elapsed < limit) {
    for (let i = 0; i < 50; i++) alerts += fn();
    elapsed = now() - start;
  }
  const seconds = Number(elapsed) / 1e9;
  return { alerts, seconds, perSecond: alerts / seconds };
}

/**
 * Run the benchmark. Options: durationMs (per format, default 1000), formats (array), print (table to stdout).
 * Resolves to {node, engine, durationMs, results: [{format, samples, alertsPerBatch, normalisePerSec, parseAndNormalisePerSec, usPerAlert}]}.
 */
async function run(options = {}) {
  const durationMs = options.durationMs || 1000;
  const engine = loadEngine();
  const samples = loadSamples(engine);
  const results = [];
  // Warm the shared code paths on every format first, so the first format measured is not
  // penalised for compiling what the others then reuse.
  const warmUntil = Date.now() + Math.min(500, durationMs);
  while (Date.now() < warmUntil) {
    for (const list of samples.values()) for (const s of list) engine.normalise(engine.parseBody(s.body, 'application/json'), { received: RECEIVED });
  }
  for (const [format, list] of samples) {
    if (options.formats && !options.formats.includes(format)) continue;
    const opts = { format, received: RECEIVED };
    const parsed = list.map((s) => engine.parseBody(s.body, 'application/json'));
    const perBatch = parsed.reduce((n, items) => n + engine.normalise(items, opts).alerts.length, 0);
    let next = 0;
    const normaliseOnly = measure(() => {
      const items = parsed[next];
      next = (next + 1) % parsed.length;
      return engine.normalise(items, opts).alerts.length;
    }, durationMs);
    const withParse = measure(() => {
      const body = list[next].body;
      next = (next + 1) % list.length;
      return engine.normalise(engine.parseBody(body, 'application/json'), opts).alerts.length;
    }, durationMs / 2);
    results.push({
      format,
      samples: list.length,
      alertsPerBatch: perBatch,
      normalisePerSec: Math.round(normaliseOnly.perSecond),
      parseAndNormalisePerSec: Math.round(withParse.perSecond),
      usPerAlert: Number((1e6 / normaliseOnly.perSecond).toFixed(2)),
    });
    // Let other work (and a caller's progress output) run between formats.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const report = { node: process.version, engine: path.relative(ROOT, ENGINE), durationMs, results };
  if (options.print) process.stdout.write(`${table(report)}\n`);
  return report;
}

function table(report) {
  const head = ['format', 'samples', 'alerts/s normalise', 'alerts/s parse+normalise', 'µs/alert'];
  const rows = report.results.map((r) => [
    r.format,
    String(r.samples),
    r.normalisePerSec.toLocaleString('en-US'),
    r.parseAndNormalisePerSec.toLocaleString('en-US'),
    r.usPerAlert.toFixed(2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

module.exports = { run, table };

if (require.main === module) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const durationArg = args.find((a) => a.startsWith('--duration='));
  const formatArg = args.find((a) => a.startsWith('--format='));
  const options = {
    durationMs: durationArg ? Number(durationArg.split('=')[1]) : 1000,
    formats: formatArg ? formatArg.split('=')[1].split(',') : undefined,
  };
  run(options).then(
    (report) => {
      if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else process.stdout.write(`alert normalisation, single core, ${report.node}, ~${report.durationMs} ms per format\n\n${table(report)}\n`);
    },
    (err) => {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 1;
    },
  );
}
