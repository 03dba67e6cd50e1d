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
  formatComparisonTable,
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
  it('prints the comparison as an aligned table: a row per type, then macro and micro F1', () => {
    const perfect = (text: string) => (text === 'x' ? { ipv4: ['1.1.1.1', '2.2.2.2'], md5: ['aa'.repeat(16)] } : {});
    const half = (text: string) => (text === 'x' ? { ipv4: ['1.1.1.1'], url: ['http://a.example/'] } : {});
    const cases: CorpusCase[] = [
      { id: 'a', text: 'x', expected: { ipv4: ['1.1.1.1', '2.2.2.2'], md5: ['aa'.repeat(16)] } },
      { id: 'b', text: 'y', expected: {} },
    ];
    const table = formatComparisonTable(compareExtractors(cases, perfect, half), ['mine', 'other']);
    const lines = table.split('\n');
    assert.equal(lines.length, IOC_TYPES.length + 3);
    // Column starts from the header; every row's cells sit under them.
    const header = lines[0];
    const starts = [0, ...[...header.matchAll(/ {2,}(?=\S)/g)].map((m) => m.index! + m[0].length)];
    const cells = (line: string) => starts.map((start, i) => line.slice(start, starts[i + 1]).trim());
    assert.deepEqual(cells(header), ['type', 'mine P', 'R', 'F1', 'other P', 'R', 'F1', 'TP/FP/FN ours', 'TP/FP/FN theirs']);
    const row = (name: string) => cells(lines.find((l) => l.startsWith(`${name} `))!);
    assert.deepEqual(row('ipv4'), ['ipv4', '1.000', '1.000', '1.000', '1.000', '0.500', '0.667', '2/0/0', '1/0/1']);
    assert.deepEqual(row('md5'), ['md5', '1.000', '1.000', '1.000', '1.000', '0.000', '0.000', '1/0/0', '0/0/1']);
    assert.deepEqual(row('url'), ['url', '1.000', '1.000', '1.000', '0.000', '1.000', '0.000', '0/0/0', '0/1/0']);
    // Types neither found nor expected score 1; "other" missed md5 (0) and found only a wrong url (0).
    const macroOther = (IOC_TYPES.length - 3 + 2 / 3) / IOC_TYPES.length;
    assert.deepEqual(cells(lines[lines.length - 2]), ['macro F1', '', '', '1.000', '', '', macroOther.toFixed(3), '', '']);
    // Over all types "other" has 1 true positive, 1 false positive, 2 false negatives: P 1/2, R 1/3, F1 0.4.
    assert.deepEqual(cells(lines[lines.length - 1]), ['micro F1', '', '', '1.000', '', '', '0.400', '', '']);
    assert.ok(
      lines.every((l) => l === l.trimEnd()),
      'no trailing blanks',
    );
    assert.match(formatComparisonTable(compareExtractors(cases, perfect, half)).split('\n')[0], /^type\s+ours P\s+R\s+F1\s+ioc-extractor P/);
  });
});
