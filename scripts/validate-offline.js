#!/usr/bin/env node
// `npm run validate`: the Flow Library scorecard (node-red-dev validate) on this package, run
// without the Flow Library catalogue (the one host it needs besides the npm registry). The
// catalogue answers with no modules, so N01/P08 (name clashes with other modules) are checked
// against an empty list; every other check runs as the Flow Library runs it.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const out = path.join(os.tmpdir(), `soar-scorecard-${process.pid}.json`);
const devRoot = path.dirname(require.resolve('node-red-dev/package.json'));
const axios = require(require.resolve('axios', { paths: [devRoot] }));
const realGet = axios.get.bind(axios);
axios.get = (url, ...rest) => (String(url).startsWith('https://catalogue.nodered.org/') ? Promise.resolve({ data: { modules: [] } }) : realGet(url, ...rest));

// Checks the Flow Library grades as failures, plus those we hold ourselves to.
const REQUIRED = ['P01', 'P03', 'P04', 'P06', 'P07', 'N01', 'N02', 'D01', 'D02', 'D03'];

async function main() {
  const Validate = require(path.join(devRoot, 'src/commands/validate'));
  await Validate.run(['-p', root, '-o', out, '-e', '1']);
  const card = JSON.parse(fs.readFileSync(out, 'utf8'));
  fs.rmSync(out, { force: true });
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  // P05 in node-red-dev 0.1.6 records true even without the keyword; check it here.
  card.P05 = { test: Array.isArray(pkg.keywords) && pkg.keywords.includes('node-red') };
  const failed = [];
  console.log('\nscorecard:');
  for (const [id, result] of Object.entries(card)) {
    if (!/^[PND]\d\d$/.test(id)) continue;
    const ok = result && result.test === true;
    console.log(`  ${id} ${ok ? 'pass' : 'FAIL'}`);
    if (!ok && (REQUIRED.includes(id) || id === 'P05')) failed.push(id);
  }
  const missing = REQUIRED.filter((id) => !(id in card));
  if (missing.length) failed.push(...missing.map((id) => `${id} (not run)`));
  if (failed.length) {
    console.error(`scorecard: failing checks: ${failed.join(', ')}`);
    process.exit(1);
  }
  console.log('scorecard: all checks pass');
}

main().catch((err) => {
  console.error(`scorecard could not run: ${err.message}`);
  process.exit(2);
});
