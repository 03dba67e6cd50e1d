#!/usr/bin/env node
// `npm run bench`: every benchmark, one after another, on the compiled build. Each compares with a
// baseline measured in the same run (ratios), because these machines are noisy.
// Results are printed and kept in bench/results/<date>.json (not committed).
//   node bench/run.js [name ...]     names: normalise store audit extract intel leases intake intake-heap nft outbox isolate-ssh approvals
'use strict';
const fs = require('fs');
const path = require('path');

const ALL = ['normalise', 'store', 'audit', 'extract', 'intel', 'leases', 'intake', 'intake-heap', 'nft', 'outbox', 'isolate-ssh', 'approvals'];
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : ALL;

async function main() {
  const results = { date: new Date().toISOString(), node: process.version, cpus: require('os').cpus().length };
  for (const name of chosen) {
    const file = path.join(__dirname, `${name}.js`);
    if (!fs.existsSync(file)) continue;
    console.log(`\n=== ${name}`);
    const mod = require(file);
    try {
      results[name] = await mod.run({ print: true });
      console.log(JSON.stringify(results[name], null, 2));
    } catch (err) {
      results[name] = { error: err.message };
      console.log(`  failed: ${err.message}`);
    }
  }
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const out = path.join(dir, `${results.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(out, JSON.stringify(results, null, 2));
  console.log(`\nresults written to ${path.relative(process.cwd(), out)}`);
}

main();
