#!/usr/bin/env node
// IOC extraction quality on the labelled corpus, ours vs the npm package ioc-extractor, side by side.
// Runs the compiled code: build first with `npx tsc -p .`.
// Usage: node scripts/ioc-quality.js [--json] [--errors] [--corpus DIR]
//   --json    print the full comparison (per-type scores, macro/micro F1, every miss) as JSON
//   --errors  after the table, list each false positive / negative of both extractors
// Exit code 1 when ours is worse than ioc-extractor on a type or not better on macro F1.
'use strict';
const path = require('path');

const root = path.resolve(__dirname, '..');
let quality;
try {
  quality = require(path.join(root, 'dist', 'lib', 'ioc', 'quality.js'));
} catch (error) {
  console.error('dist/lib/ioc/quality.js is missing: build with `npx tsc -p .` first (' + error.message + ')');
  process.exit(2);
}
const { extractIOC } = require('ioc-extractor');

function parseArgs(argv) {
  const options = { json: false, errors: false, corpus: path.join(root, 'test', 'fixtures', 'ioc-corpus') };
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    if (arg === '--json') options.json = true;
    else if (arg === '--errors') options.errors = true;
    else if (arg === '--corpus') options.corpus = path.resolve(argv[++index]);
    else {
      console.error(`unknown argument ${arg}`);
      process.exit(2);
    }
  }
  return options;
}

function main() {
  const options = parseArgs(process.argv.slice(2));
  const cases = quality.loadCorpus(options.corpus);
  const comparison = quality.compareExtractors(cases, quality.ourExtractor, quality.iocExtractorAdapter(extractIOC));
  const verdict = {
    atLeastAsGoodOnEveryType: comparison.worseTypes.length === 0,
    betterOverall: comparison.ours.macroF1 > comparison.theirs.macroF1,
  };
  if (options.json) {
    console.log(JSON.stringify({ corpus: options.corpus, cases: cases.length, ...comparison, verdict }, null, 2));
  } else {
    console.log(`IOC extraction quality on ${cases.length} labelled cases (${path.relative(process.cwd(), options.corpus) || '.'})`);
    console.log('P = precision, R = recall, per type over all cases; ioc-extractor run with refang: true\n');
    console.log(quality.formatComparisonTable(comparison));
    console.log(`\nat least as good on every type: ${verdict.atLeastAsGoodOnEveryType ? 'yes' : 'no (' + comparison.worseTypes.join(', ') + ')'}`);
    console.log(`better overall (macro F1): ${verdict.betterOverall ? 'yes' : 'no'}`);
    if (options.errors) {
      for (const [name, report] of [
        ['ours', comparison.ours],
        ['ioc-extractor', comparison.theirs],
      ]) {
        console.log(`\n${name}: ${report.errors.length} errors`);
        for (const error of report.errors) console.log(`  ${error.id.padEnd(10)} ${error.type.padEnd(7)} ${error.kind.padEnd(15)} ${error.value}`);
      }
    }
  }
  process.exitCode = verdict.atLeastAsGoodOnEveryType && verdict.betterOverall ? 0 : 1;
}

main();
