/**
 * Extraction quality on a labelled corpus: per-type precision, recall and F1, and a side-by-side
 * comparison of two extractors. Shared by test/unit/ioc/quality.spec.ts, scripts/ioc-quality.js
 * and bench/extract.js, so all three measure the same thing.
 *
 * Both extractors' outputs go through the same canonical form before counting (lower-case hashes,
 * domains and e-mails, upper-case CVE ids, ipaddr.js IPv6 text, lower-case URL scheme and host):
 * the score measures what was found, not how it was spelled.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canonicalIp } from './classify';
import { extractFromText } from './extract';
import { IOC_TYPES, type IocType } from './types';

export type IocsByType = Partial<Record<IocType, string[]>>;

export interface CorpusCase {
  id: string;
  text: string;
  expected: IocsByType;
  note?: string;
  /** File the case came from (set by loadCorpus). */
  file?: string;
}

/** A function from text to indicators grouped by our type names. */
export type Extractor = (text: string) => IocsByType;

export interface TypeScore {
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  precision: number;
  recall: number;
  f1: number;
}

export interface CaseError {
  id: string;
  type: IocType;
  kind: 'false-positive' | 'false-negative';
  value: string;
}

export interface QualityReport {
  perType: Record<IocType, TypeScore>;
  /** Mean of the per-type F1 scores. */
  macroF1: number;
  /** F1 over all indicators of all types pooled. */
  microF1: number;
  errors: CaseError[];
}

/** Reads every *.json file of `dir` (each an array of cases), in file-name order. */
export function loadCorpus(dir: string): CorpusCase[] {
  const files = fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort();
  const cases: CorpusCase[] = [];
  for (const file of files) {
    const parsed: unknown = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    if (!Array.isArray(parsed)) throw new Error(`${file}: a corpus file must hold an array of cases`);
    for (const item of parsed as CorpusCase[]) cases.push({ ...item, file });
  }
  return cases;
}

/** The spelling-independent form used for counting (see the module comment). */
export function canonicalForScoring(type: IocType, value: string): string {
  const trimmed = value.trim();
  switch (type) {
    case 'ipv4':
    case 'ipv6':
      return canonicalIp(trimmed)?.value ?? trimmed.toLowerCase();
    case 'cve':
      return trimmed.toUpperCase();
    case 'url': {
      const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(trimmed);
      return match ? match[1].toLowerCase() + match[2].toLowerCase() + match[3] : trimmed;
    }
    default:
      return trimmed.toLowerCase();
  }
}

function ratio(numerator: number, denominator: number): number {
  return denominator === 0 ? 1 : numerator / denominator;
}

function scoreFrom(truePositives: number, falsePositives: number, falseNegatives: number): TypeScore {
  const precision = ratio(truePositives, truePositives + falsePositives);
  const recall = ratio(truePositives, truePositives + falseNegatives);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { truePositives, falsePositives, falseNegatives, precision, recall, f1 };
}

/** Scores `extractor` on `cases`: per type, each distinct canonical value of a case counts once. */
export function scoreExtractor(cases: readonly CorpusCase[], extractor: Extractor): QualityReport {
  const counts = new Map<IocType, { tp: number; fp: number; fn: number }>(IOC_TYPES.map((type) => [type, { tp: 0, fp: 0, fn: 0 }]));
  const errors: CaseError[] = [];
  for (const corpusCase of cases) {
    const found = extractor(corpusCase.text);
    for (const type of IOC_TYPES) {
      const expected = new Set((corpusCase.expected[type] ?? []).map((value) => canonicalForScoring(type, value)));
      const actual = new Set((found[type] ?? []).map((value) => canonicalForScoring(type, value)));
      const count = counts.get(type)!;
      for (const value of actual) {
        if (expected.has(value)) count.tp++;
        else {
          count.fp++;
          errors.push({ id: corpusCase.id, type, kind: 'false-positive', value });
        }
      }
      for (const value of expected) {
        if (!actual.has(value)) {
          count.fn++;
          errors.push({ id: corpusCase.id, type, kind: 'false-negative', value });
        }
      }
    }
  }
  const perType = {} as Record<IocType, TypeScore>;
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const type of IOC_TYPES) {
    const count = counts.get(type)!;
    perType[type] = scoreFrom(count.tp, count.fp, count.fn);
    tp += count.tp;
    fp += count.fp;
    fn += count.fn;
  }
  const macroF1 = IOC_TYPES.reduce((sum, type) => sum + perType[type].f1, 0) / IOC_TYPES.length;
  return { perType, macroF1, microF1: scoreFrom(tp, fp, fn).f1, errors };
}

/** Our extractor in the grouped shape scoring uses. */
export const ourExtractor: Extractor = (text) => {
  const grouped: IocsByType = {};
  for (const ioc of extractFromText(text)) (grouped[ioc.type] ??= []).push(ioc.value);
  return grouped;
};

/** ioc-extractor's output keys for our types (its other keys — asns, btcs, macAddresses... — are ignored). */
export const IOC_EXTRACTOR_KEYS: Record<IocType, string> = {
  ipv4: 'ipv4s',
  ipv6: 'ipv6s',
  domain: 'domains',
  url: 'urls',
  email: 'emails',
  md5: 'md5s',
  sha1: 'sha1s',
  sha256: 'sha256s',
  sha512: 'sha512s',
  cve: 'cves',
};

/**
 * Wraps ioc-extractor's `extractIOC` (passed in, since that package is a dev dependency and this
 * module ships) with refang on, as its README documents the option.
 */
export function iocExtractorAdapter(extractIOC: (text: string, options?: Record<string, unknown>) => Record<string, string[]>): Extractor {
  return (text) => {
    const output = extractIOC(text, { refang: true, sort: false });
    const grouped: IocsByType = {};
    for (const type of IOC_TYPES) grouped[type] = output[IOC_EXTRACTOR_KEYS[type]] ?? [];
    return grouped;
  };
}

export interface Comparison {
  ours: QualityReport;
  theirs: QualityReport;
  /** Types where our F1 is below theirs (should be empty). */
  worseTypes: IocType[];
}

export function compareExtractors(cases: readonly CorpusCase[], ours: Extractor, theirs: Extractor): Comparison {
  const oursReport = scoreExtractor(cases, ours);
  const theirsReport = scoreExtractor(cases, theirs);
  const worseTypes = IOC_TYPES.filter((type) => oursReport.perType[type].f1 < theirsReport.perType[type].f1);
  return { ours: oursReport, theirs: theirsReport, worseTypes };
}

function formatNumber(value: number): string {
  return value.toFixed(3);
}

/** Side-by-side text table: P/R/F1 per type for both extractors, then macro and micro F1. */
export function formatComparisonTable(comparison: Comparison, names: [string, string] = ['ours', 'ioc-extractor']): string {
  const header = ['type', `${names[0]} P`, 'R', 'F1', `${names[1]} P`, 'R', 'F1', 'TP/FP/FN ours', 'TP/FP/FN theirs'];
  const rows: string[][] = [header];
  for (const type of IOC_TYPES) {
    const ours = comparison.ours.perType[type];
    const theirs = comparison.theirs.perType[type];
    rows.push([
      type,
      formatNumber(ours.precision),
      formatNumber(ours.recall),
      formatNumber(ours.f1),
      formatNumber(theirs.precision),
      formatNumber(theirs.recall),
      formatNumber(theirs.f1),
      `${ours.truePositives}/${ours.falsePositives}/${ours.falseNegatives}`,
      `${theirs.truePositives}/${theirs.falsePositives}/${theirs.falseNegatives}`,
    ]);
  }
  rows.push(['macro F1', '', '', formatNumber(comparison.ours.macroF1), '', '', formatNumber(comparison.theirs.macroF1), '', '']);
  rows.push(['micro F1', '', '', formatNumber(comparison.ours.microF1), '', '', formatNumber(comparison.theirs.microF1), '', '']);
  const widths = header.map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
