#!/usr/bin/env node
// IOC extraction throughput, ours vs the npm package ioc-extractor, on the labelled corpus
// (test/fixtures/ioc-corpus), in the same process and run. Each corpus text stands for one alert's
// text, so texts/s reads as alerts/s. MB = 10^6 bytes of UTF-8 input. Our caches (IP analyses,
// public-suffix verdicts) are emptied before every pass, so repeating the corpus does not flatter us.
// Runs the compiled code: build first with `npx tsc -p .`.
// Usage: node bench/extract.js [--duration-ms N] [--json]
'use strict';
const path = require('path');

const root = path.resolve(__dirname, '..');

function loadModules() {
  const ioc = require(path.join(root, 'dist', 'lib', 'ioc', 'index.js'));
  const quality = require(path.join(root, 'dist', 'lib', 'ioc', 'quality.js'));
  const { extractIOC } = require('ioc-extractor');
  return { ioc, quality, extractIOC };
}

/** Seconds one pass of `extract` over all texts takes. */
function timePass(extract, texts, beforePass) {
  beforePass();
  const started = process.hrtime.bigint();
  for (const text of texts) extract(text);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/**
 * Times both extractors pass by pass, alternating (ours, theirs, ours, ...) until each has run for
 * `durationMs`: the machine is shared, and alternating puts any load change on both sides alike.
 * One warm-up pass each first. `beforePass` runs before each pass, outside the timing.
 */
function measurePair(contenders, texts, totalBytes, durationMs) {
  const state = contenders.map((contender) => {
    timePass(contender.extract, texts, contender.beforePass);
    return { ...contender, passes: 0, seconds: 0 };
  });
  const budget = durationMs / 1000;
  while (state.some((entry) => entry.seconds < budget)) {
    for (const entry of state) {
      if (entry.seconds >= budget) continue;
      entry.seconds += timePass(entry.extract, texts, entry.beforePass);
      entry.passes++;
    }
  }
  return state.map((entry) => ({
    name: entry.name,
    passes: entry.passes,
    seconds: entry.seconds,
    texts: entry.passes * texts.length,
    bytes: entry.passes * totalBytes,
    mbPerSec: (entry.passes * totalBytes) / 1e6 / entry.seconds,
    textsPerSec: (entry.passes * texts.length) / entry.seconds,
  }));
}

/**
 * Measures both extractors; resolves to {corpus, ours, iocExtractor, ratio} where ratio is ours/theirs
 * (above 1 means ours is faster). ioc-extractor runs with refang on, as in the quality comparison.
 */
async function run(options = {}) {
  const durationMs = options.durationMs ?? 1000;
  const { ioc, quality, extractIOC } = loadModules();
  const cases = quality.loadCorpus(path.join(root, 'test', 'fixtures', 'ioc-corpus'));
  const texts = cases.map((corpusCase) => corpusCase.text);
  const totalBytes = texts.reduce((sum, text) => sum + Buffer.byteLength(text, 'utf8'), 0);

  const [ours, theirs] = measurePair(
    [
      // Our caches are emptied before every pass, so repeating the corpus does not flatter us.
      { name: 'ours (extractFromText)', extract: (text) => ioc.extractFromText(text), beforePass: ioc.clearExtractionCaches },
      { name: 'ioc-extractor (extractIOC, refang)', extract: (text) => extractIOC(text, { refang: true, sort: false }), beforePass: () => {} },
    ],
    texts,
    totalBytes,
    durationMs,
  );
  return {
    corpus: { texts: texts.length, bytes: totalBytes },
    ours,
    iocExtractor: theirs,
    ratio: { mbPerSec: ours.mbPerSec / theirs.mbPerSec, textsPerSec: ours.textsPerSec / theirs.textsPerSec },
  };
}

function format(result) {
  const line = (row) =>
    `${row.name.padEnd(36)} ${row.mbPerSec.toFixed(2).padStart(8)} MB/s ${Math.round(row.textsPerSec).toString().padStart(9)} texts/s  (${row.passes} passes, ${row.seconds.toFixed(2)} s timed)`;
  return [
    `IOC extraction throughput on ${result.corpus.texts} corpus texts (${result.corpus.bytes} bytes per pass)`,
    line(result.ours),
    line(result.iocExtractor),
    `ratio ours/ioc-extractor: ${result.ratio.mbPerSec.toFixed(2)}x (MB/s and texts/s alike)`,
  ].join('\n');
}

module.exports = { run, format };

if (require.main === module) {
  const argv = process.argv.slice(2);
  const durationIndex = argv.indexOf('--duration-ms');
  const durationMs = durationIndex === -1 ? 1000 : Number(argv[durationIndex + 1]);
  run({ durationMs })
    .then((result) => console.log(argv.includes('--json') ? JSON.stringify(result, null, 2) : format(result)))
    .catch((error) => {
      console.error(error.message);
      process.exitCode = 1;
    });
}
