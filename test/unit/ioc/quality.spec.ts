/**
 * Quality measured on the labelled corpus (test/fixtures/ioc-corpus), side by side with the npm
 * package ioc-extractor, using the same scoring code as scripts/ioc-quality.js.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { IOC_TYPES } from '../../../lib/ioc';
import {
  canonicalForScoring,
  compareExtractors,
  iocExtractorAdapter,
  loadCorpus,
  ourExtractor,
  scoreExtractor,
  type CorpusCase,
} from '../../../lib/ioc/quality';

import { extractIOC as iocExtractorExtract } from 'ioc-extractor';

const extractIOC = (text: string, options?: Record<string, unknown>): Record<string, string[]> =>
  iocExtractorExtract(text, options) as unknown as Record<string, string[]>;

const CORPUS_DIR = path.join(__dirname, '..', '..', 'fixtures', 'ioc-corpus');

describe('ioc quality scoring', () => {
  const cases: CorpusCase[] = [
    { id: 'a', text: 'x', expected: { ipv4: ['1.1.1.1', '2.2.2.2'], md5: ['AA'.repeat(16)] } },
    { id: 'b', text: 'y', expected: {} },
  ];

  it('counts true and false positives and negatives per type', () => {
    const report = scoreExtractor(cases, (text) => (text === 'x' ? { ipv4: ['1.1.1.1', '3.3.3.3'], md5: ['aa'.repeat(16)] } : { cve: ['cve-2020-1234'] }));
    assert.deepEqual([report.perType.ipv4.truePositives, report.perType.ipv4.falsePositives, report.perType.ipv4.falseNegatives], [1, 1, 1]);
    assert.equal(report.perType.ipv4.precision, 0.5);
    assert.equal(report.perType.ipv4.recall, 0.5);
    assert.equal(report.perType.md5.f1, 1, 'spelling does not count');
    assert.equal(report.perType.cve.precision, 0);
    assert.equal(report.perType.cve.f1, 0);
    assert.equal(report.perType.sha1.f1, 1, 'nothing expected, nothing found');
    assert.deepEqual(
      report.errors.map((error) => `${error.id}:${error.type}:${error.kind}:${error.value}`),
      ['a:ipv4:false-positive:3.3.3.3', 'a:ipv4:false-negative:2.2.2.2', 'b:cve:false-positive:CVE-2020-1234'],
    );
  });

  it('canonicalises values of both extractors the same way', () => {
    assert.equal(canonicalForScoring('ipv6', '::ffff:198.51.100.1'), '::ffff:c633:6401');
    assert.equal(canonicalForScoring('url', 'HTTPS://Evil.COM/Path'), 'https://evil.com/Path');
    assert.equal(canonicalForScoring('cve', 'cve-2021-44228'), 'CVE-2021-44228');
  });
});

describe('ioc quality on the corpus', () => {
  const corpus = loadCorpus(CORPUS_DIR);

  it('has at least 60 well-formed cases covering every type, traps included', () => {
    assert.ok(corpus.length >= 60, `only ${corpus.length} cases`);
    const ids = new Set<string>();
    for (const corpusCase of corpus) {
      assert.equal(typeof corpusCase.text, 'string', corpusCase.id);
      assert.ok(!ids.has(corpusCase.id), `duplicate id ${corpusCase.id}`);
      ids.add(corpusCase.id);
      for (const type of Object.keys(corpusCase.expected)) assert.ok((IOC_TYPES as readonly string[]).includes(type), `${corpusCase.id}: unknown type ${type}`);
    }
    for (const type of IOC_TYPES) {
      const count = corpus.reduce((sum, corpusCase) => sum + (corpusCase.expected[type]?.length ?? 0), 0);
      assert.ok(count >= 2, `type ${type} has ${count} labelled values`);
    }
    const traps = corpus.filter((corpusCase) => Object.keys(corpusCase.expected).length === 0);
    assert.ok(traps.length >= 15, `only ${traps.length} cases that must yield nothing`);
  });

  it('labels values in their normalised form', () => {
    for (const corpusCase of corpus) {
      for (const type of IOC_TYPES) {
        for (const value of corpusCase.expected[type] ?? []) {
          assert.equal(canonicalForScoring(type, value), value, `${corpusCase.id} ${type}`);
        }
      }
    }
  });

  it('is at least as good as ioc-extractor on every type and better overall', () => {
    const comparison = compareExtractors(corpus, ourExtractor, iocExtractorAdapter(extractIOC));
    for (const type of IOC_TYPES) {
      assert.ok(
        comparison.ours.perType[type].f1 >= comparison.theirs.perType[type].f1,
        `${type}: ours F1 ${comparison.ours.perType[type].f1.toFixed(3)} < ioc-extractor ${comparison.theirs.perType[type].f1.toFixed(3)}`,
      );
    }
    assert.deepEqual(comparison.worseTypes, []);
    assert.ok(comparison.ours.macroF1 > comparison.theirs.macroF1, `macro F1 ${comparison.ours.macroF1} vs ${comparison.theirs.macroF1}`);
  });

  it('stays above a floor of its own (so a regression shows even if ioc-extractor gets worse)', () => {
    const report = scoreExtractor(corpus, ourExtractor);
    for (const type of IOC_TYPES) {
      assert.ok(report.perType[type].precision >= 0.95, `${type} precision ${report.perType[type].precision}`);
      assert.ok(report.perType[type].recall >= 0.9, `${type} recall ${report.perType[type].recall}`);
    }
  });
});
