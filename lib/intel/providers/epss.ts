/**
 * FIRST EPSS (Exploit Prediction Scoring System) scores as a local feed: a CVE indicator is looked
 * up in the daily scores CSV (a file, or a URL refreshed on a schedule; see FeedLoader in ./feed).
 *
 * CSV shape (https://www.first.org/epss/data_stats; daily https://epss.cyentia.com/epss_scores-YYYY-MM-DD.csv.gz,
 * also epss_scores-current.csv.gz):
 *   #model_version:v2023.03.01,score_date:2024-05-01T00:00:00+0000
 *   cve,epss,percentile
 *   CVE-2021-44228,0.97565,0.99995
 * `epss` is the probability (0..1) of exploitation activity in the next 30 days, `percentile` the
 * share of scored CVEs at or below it. The comment line and the percentile column are optional;
 * model_version and score_date may also come on separate `#` lines.
 * The published file is gzipped: a .gz file source is decompressed; a URL must serve plain CSV
 * (or gzip as Content-Encoding, which the HTTP stack undoes).
 *
 * Mapping: epss >= maliciousAt (default 0.5) is "malicious", >= suspiciousAt (default 0.1)
 * "suspicious". Below that the CVE is found with level "unknown", not "benign": a low probability
 * of exploitation in general says nothing about the alert at hand, and must not calm a verdict.
 * A CVE without a score is found:false.
 */
import type { IocType } from '../../ioc';
import { normaliseCve, type FeedBody } from '../feed-parse';
import type { IntelLevel, IntelProviderOptions } from '../types';
import { FeedLoader, localFeedProvider, type FeedSource, type FeedTransportOptions, type LoadedCopy, type LocalFeedProvider } from './feed';

export interface EpssOptions extends IntelProviderOptions, FeedTransportOptions {
  /** Default "EPSS". */
  name?: string;
  source: FeedSource;
  /** EPSS probability from which a CVE is "suspicious". Default 0.1. */
  suspiciousAt?: number;
  /** EPSS probability from which a CVE is "malicious". Default 0.5. */
  maliciousAt?: number;
}

export interface EpssScore {
  epss: number;
  percentile?: number;
}

/** Scores by CVE, kept as plain number arrays: the full file has about 250,000 rows. */
export class EpssTable {
  private readonly rowByCve = new Map<string, number>();
  private readonly probabilities: number[] = [];
  private readonly percentiles: number[] = [];
  modelVersion?: string;
  scoreDate?: string;

  /** Adds a row; false when the CVE was already scored (the later row wins). */
  set(cve: string, score: EpssScore): boolean {
    const existing = this.rowByCve.get(cve);
    const row = existing ?? this.probabilities.length;
    this.probabilities[row] = score.epss;
    this.percentiles[row] = score.percentile ?? Number.NaN;
    if (existing === undefined) this.rowByCve.set(cve, row);
    return existing === undefined;
  }

  get(cve: string): EpssScore | undefined {
    const row = this.rowByCve.get(cve);
    if (row === undefined) return undefined;
    const percentile = this.percentiles[row];
    return Number.isNaN(percentile) ? { epss: this.probabilities[row] } : { epss: this.probabilities[row], percentile };
  }

  get size(): number {
    return this.rowByCve.size;
  }
}

const EPSS_TYPES: readonly IocType[] = ['cve'];

/** `2024-05-01T00:00:00+0000` (EPSS writes the offset without a colon) as ISO-8601 UTC; other text as given. */
function normaliseScoreDate(value: string): string {
  const withColon = value.trim().replace(/([+-]\d\d)(\d\d)$/, '$1:$2');
  const epochMs = Date.parse(withColon);
  return Number.isNaN(epochMs) ? value.trim() : new Date(epochMs).toISOString();
}

function probability(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const value = Number(text);
  return Number.isFinite(value) && value >= 0 && value <= 1 ? value : undefined;
}

/** Rows parsed between two yields to the event loop: the full file has about 250,000. */
const ROWS_PER_SLICE = 10_000;

/** Parses an EPSS scores CSV; malformed rows are counted and skipped. Yields to the event loop between slices. */
export async function parseEpss(body: FeedBody): Promise<LoadedCopy<EpssTable>> {
  if (body.text === undefined) throw new Error('EPSS scores must be CSV text');
  const table = new EpssTable();
  let skipped = 0;
  let duplicates = 0;
  const skippedExamples: string[] = [];
  const skip = (line: string) => {
    skipped++;
    if (skippedExamples.length < 5) skippedExamples.push(line.slice(0, 80));
  };
  // Column positions; the documented order until a header says otherwise.
  let cveColumn = 0;
  let epssColumn = 1;
  let percentileColumn = 2;
  let headerSeen = false;
  let inSlice = 0;
  for (const rawLine of body.text.split('\n')) {
    if (++inSlice >= ROWS_PER_SLICE) {
      inSlice = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const line = rawLine.trim().replace(/^\ufeff/, '');
    if (line === '') continue;
    if (line.startsWith('#')) {
      // #model_version:v2023.03.01,score_date:2024-05-01T00:00:00+0000
      for (const pair of line.slice(1).split(',')) {
        const colon = pair.indexOf(':');
        if (colon < 0) continue;
        const key = pair.slice(0, colon).trim().toLowerCase();
        const value = pair.slice(colon + 1).trim();
        if (key === 'model_version' && value) table.modelVersion = value.slice(0, 60);
        if (key === 'score_date' && value) table.scoreDate = normaliseScoreDate(value.slice(0, 60));
      }
      continue;
    }
    const cells = line.split(',').map((cell) => cell.trim().replace(/^"(.*)"$/, '$1'));
    if (!headerSeen && table.size === 0 && skipped === 0) {
      const names = cells.map((cell) => cell.toLowerCase());
      if (names.includes('cve')) {
        cveColumn = names.indexOf('cve');
        epssColumn = names.indexOf('epss');
        percentileColumn = names.indexOf('percentile');
        if (epssColumn < 0) throw new Error('EPSS CSV header has no "epss" column');
        headerSeen = true;
        continue;
      }
    }
    const cve = normaliseCve(cells[cveColumn] ?? '');
    const epss = probability(cells[epssColumn]);
    const percentileText = percentileColumn >= 0 ? cells[percentileColumn] : undefined;
    const percentile = probability(percentileText);
    if (!cve || epss === undefined || (percentileText !== undefined && percentileText !== '' && percentile === undefined)) {
      skip(line);
      continue;
    }
    if (!table.set(cve, percentile === undefined ? { epss } : { epss, percentile })) duplicates++;
  }
  const info: Record<string, string> = {};
  if (table.modelVersion) info.modelVersion = table.modelVersion;
  if (table.scoreDate) info.scoreDate = table.scoreDate;
  return { data: table, entries: table.size, byType: { cve: table.size }, skipped, skippedExamples, duplicates, info };
}

/** 97.6 for 0.97565; small values keep two significant digits (0.043 for 0.00043) instead of showing 0.0. */
function formatPercent(value: number): string {
  const percent = value * 100;
  if (percent >= 1 || percent === 0) return percent.toFixed(1);
  return String(Number(percent.toPrecision(2)));
}

/** Percentile rounded down, so the top score reads 99.9 and never claims 100. */
function formatPercentile(value: number): string {
  return (Math.floor(value * 1000 + 1e-9) / 10).toFixed(1);
}

/** EPSS scores as an IntelProvider for CVE indicators. */
export function createEpss(opts: EpssOptions): LocalFeedProvider {
  const name = opts.name ?? 'EPSS';
  const suspiciousAt = opts.suspiciousAt ?? 0.1;
  const maliciousAt = opts.maliciousAt ?? 0.5;
  const inRange = (value: number) => typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 1;
  if (!inRange(suspiciousAt) || !inRange(maliciousAt) || suspiciousAt > maliciousAt) {
    throw new TypeError('createEpss: thresholds must satisfy 0 <= suspiciousAt <= maliciousAt <= 1');
  }
  const now = opts.now ?? Date.now;
  const loader = new FeedLoader<EpssTable>({ ...opts, kind: 'epss', name, parse: parseEpss });
  return localFeedProvider(loader, {
    kind: 'epss',
    name,
    now,
    types: () => EPSS_TYPES,
    answer: (copy, indicator) => {
      const cve = indicator.type === 'cve' ? normaliseCve(indicator.value) : undefined;
      const score = cve ? copy.data.get(cve) : undefined;
      if (!cve || !score) return { level: 'unknown', found: false, evidence: {}, summary: `${name}: no score` };
      const level: IntelLevel = score.epss >= maliciousAt ? 'malicious' : score.epss >= suspiciousAt ? 'suspicious' : 'unknown';
      const evidence: Record<string, unknown> = { epss: score.epss };
      if (score.percentile !== undefined) evidence.percentile = score.percentile;
      if (copy.data.scoreDate) evidence.scoreDate = copy.data.scoreDate;
      if (copy.data.modelVersion) evidence.modelVersion = copy.data.modelVersion;
      const percentile = score.percentile !== undefined ? ` (percentile ${formatPercentile(score.percentile)})` : '';
      return {
        level,
        found: true,
        evidence,
        summary: `${name}: ${formatPercent(score.epss)}% probability of exploitation in 30 days${percentile}`,
        link: `https://api.first.org/data/v1/epss?cve=${cve}`,
      };
    },
  });
}
