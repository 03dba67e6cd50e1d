/**
 * The explainable verdict: combines what the sources said about a message's indicators into
 * `msg.enrichment = { verdict, score, why, results }`. Node-RED-free, pure (no clock, no I/O).
 *
 * The rule, exactly (the defaults are exported below):
 *
 *  1. Points per source result. Each source already mapped its answer to the common scale:
 *       malicious 100 · suspicious 60 · benign 0 · unknown, or found:false → no points (not counted).
 *     When the source states its own `confidence` (0..100), the points are scaled by it and rounded:
 *     AbuseIPDB "malicious" at confidence 85 gives 85 points. Benign stays 0 whatever the confidence.
 *  2. Score per indicator: the weighted mean of the points of the sources that counted, weights by
 *     source name (`weights`, default 1; a weight of 0 switches a source off). An indicator no source
 *     counted for has no score.
 *  3. Message score: the highest indicator score, rounded (the worst indicator decides; on a tie the
 *     first indicator). No scored indicator → score 0.
 *  4. Verdict: score ≥ 70 → malicious; score ≥ 40 → suspicious; otherwise benign when at least one
 *     counted source said benign about some indicator, else unknown (nobody vouched for anything).
 *
 * `indicators` gives each indicator a source answered about its own verdict by the same thresholds
 * (its score; benign only when a counted source said benign about that indicator), so an action
 * can act on what was accused and not on every indicator of an accused message.
 *
 * `why`, in this order, so that it alone explains the outcome:
 *   - one line per source result: "VirusTotal (weight 1) on 203.0.113.44: malicious — 12 of 72 engines
 *     say malicious (100 points)";
 *   - one line per note that matters (quota, rate-limited, deadline, error, skipped-internal); the same
 *     note about several indicators is one line: "VirusTotal: no answer within 10 s, still queued; the
 *     answer will be cached — about 203.0.113.5, 203.0.113.6";
 *   - a final line with the rule applied and its arithmetic: "score 84 ≥ 70 (malicious threshold) from
 *     203.0.113.44: (1×100 + 2×76) / 3 = 84".
 */
import type { EnrichmentOutcome, SourceNote } from './broker';
import type { IntelLevel, IntelResult } from './types';

export interface VerdictThresholds {
  /** Score at or above which the verdict is malicious. Default 70. */
  malicious?: number;
  /** Score at or above which the verdict is suspicious. Default 40. */
  suspicious?: number;
}

export interface VerdictOptions {
  /** Source reliability by source name; default 1, 0 ignores the source. */
  weights?: Record<string, number>;
  thresholds?: VerdictThresholds;
}

export interface Enrichment {
  verdict: IntelLevel;
  score: number;
  why: string[];
  /** Every source result, by indicator value, misses included. */
  results: Record<string, IntelResult[]>;
  /** Per indicator value (each one in `results`): its own verdict and score (no score: no source counted). */
  indicators: Record<string, IndicatorVerdict>;
}

export interface IndicatorVerdict {
  verdict: IntelLevel;
  score?: number;
}

/** Points a level is worth before the source's confidence scales it; unknown counts for nothing. */
export const LEVEL_POINTS: Readonly<Record<Exclude<IntelLevel, 'unknown'>, number>> = Object.freeze({
  malicious: 100,
  suspicious: 60,
  benign: 0,
});

export const DEFAULT_THRESHOLDS: Readonly<Required<VerdictThresholds>> = Object.freeze({ malicious: 70, suspicious: 40 });

export const DEFAULT_WEIGHT = 1;

/** Notes shown in `why`: the ones that change what the verdict could see. */
const NOTES_IN_WHY: ReadonlySet<SourceNote['status']> = new Set<SourceNote['status']>(['quota', 'rate-limited', 'deadline', 'error', 'skipped-internal']);

/** Points of one result, or undefined when it does not count (miss, unknown, weight 0 is decided elsewhere). */
export function resultPoints(result: IntelResult): number | undefined {
  if (!result.found || result.level === 'unknown') return undefined;
  const base = LEVEL_POINTS[result.level];
  if (base === undefined) return undefined;
  if (typeof result.confidence !== 'number' || !Number.isFinite(result.confidence)) return base;
  const confidence = Math.min(100, Math.max(0, result.confidence));
  return Math.round((base * confidence) / 100);
}

function resolveThresholds(thresholds: VerdictThresholds | undefined): Required<VerdictThresholds> {
  const malicious = thresholds?.malicious ?? DEFAULT_THRESHOLDS.malicious;
  const suspicious = thresholds?.suspicious ?? DEFAULT_THRESHOLDS.suspicious;
  for (const [name, value] of [
    ['malicious', malicious],
    ['suspicious', suspicious],
  ] as const) {
    if (!Number.isFinite(value) || value < 0 || value > 100) throw new RangeError(`${name} threshold must be 0..100, got ${value}`);
  }
  if (suspicious > malicious) throw new RangeError(`suspicious threshold (${suspicious}) must not exceed the malicious threshold (${malicious})`);
  return { malicious, suspicious };
}

function weightOf(weights: Record<string, number> | undefined, source: string): number {
  const weight = weights && Object.prototype.hasOwnProperty.call(weights, source) ? weights[source] : DEFAULT_WEIGHT;
  if (typeof weight !== 'number' || Number.isNaN(weight)) return DEFAULT_WEIGHT;
  return Math.max(0, Math.min(weight, Number.MAX_SAFE_INTEGER));
}

/** "1", "0.5", "2.25" — weights as a person typed them. */
function number(value: number): string {
  return String(Number(value.toFixed(2)));
}

/** "VirusTotal: 12 of 72 ..." → "12 of 72 ..." (the line already names the source). */
function summaryText(result: IntelResult): string {
  const summary = (result.summary ?? '').trim();
  const prefix = `${result.source}:`;
  const text = summary.toLowerCase().startsWith(prefix.toLowerCase()) ? summary.slice(prefix.length).trim() : summary;
  return text || (result.found ? 'no details' : 'not known to this source');
}

interface Term {
  source: string;
  weight: number;
  points: number;
}

interface IndicatorScore {
  value: string;
  terms: Term[];
  mean: number;
}

function arithmetic(score: IndicatorScore): string {
  const sumOfWeights = score.terms.reduce((sum, term) => sum + term.weight, 0);
  const products = score.terms.map((term) => `${number(term.weight)}×${term.points}`).join(' + ');
  const numerator = score.terms.length > 1 ? `(${products})` : products;
  return `${numerator} / ${number(sumOfWeights)} = ${Math.round(score.mean)}`;
}

function noteLines(notes: SourceNote[]): string[] {
  // Same story about several indicators ("VirusTotal: quota exhausted ...") becomes one line.
  const groups = new Map<string, { detail: string; indicators: string[] }>();
  for (const note of notes) {
    if (!NOTES_IN_WHY.has(note.status)) continue;
    const key = `${note.status}\u0000${note.detail}`;
    let group = groups.get(key);
    if (!group) {
      group = { detail: note.detail, indicators: [] };
      groups.set(key, group);
    }
    if (note.indicator && !group.indicators.includes(note.indicator.value)) group.indicators.push(note.indicator.value);
  }
  return [...groups.values()].map((group) => (group.indicators.length ? `${group.detail} — about ${group.indicators.join(', ')}` : group.detail));
}

export function computeVerdict(outcome: EnrichmentOutcome, opts: VerdictOptions = {}): Enrichment {
  const thresholds = resolveThresholds(opts.thresholds);
  const cachedPairs = new Set(
    outcome.notes.filter((note) => note.status === 'cached' && note.indicator).map((note) => `${note.source}\u0000${note.indicator?.value}`),
  );

  const results: Record<string, IntelResult[]> = {};
  const scores = new Map<string, IndicatorScore>();
  const resultLines: string[] = [];
  const benignSayers: string[] = [];

  for (const result of outcome.results) {
    const value = result.indicator.value;
    (results[value] ??= []).push(result);
    const weight = weightOf(opts.weights, result.source);
    const points = resultPoints(result);

    const confidence = typeof result.confidence === 'number' ? `, confidence ${number(result.confidence)}` : '';
    const counted = points === undefined ? 'not counted' : weight === 0 ? 'weight 0, not counted' : `${points} points`;
    const cached = cachedPairs.has(`${result.source}\u0000${value}`) ? `, cached ${result.fetchedAt}` : '';
    resultLines.push(`${result.source} (weight ${number(weight)}) on ${value}: ${result.level}${confidence} — ${summaryText(result)} (${counted}${cached})`);

    if (points === undefined || weight === 0) continue;
    let score = scores.get(value);
    if (!score) {
      score = { value, terms: [], mean: 0 };
      scores.set(value, score);
    }
    score.terms.push({ source: result.source, weight, points });
    if (result.level === 'benign') benignSayers.push(`${result.source} on ${value}`);
  }

  for (const score of scores.values()) {
    const sumOfWeights = score.terms.reduce((sum, term) => sum + term.weight, 0);
    score.mean = score.terms.reduce((sum, term) => sum + term.weight * term.points, 0) / sumOfWeights;
  }

  // The worst indicator decides; Map order is first-seen order, so a tie keeps the first indicator.
  let worst: IndicatorScore | undefined;
  for (const score of scores.values()) {
    if (!worst || Math.round(score.mean) > Math.round(worst.mean)) worst = score;
  }

  const score = worst ? Math.round(worst.mean) : 0;
  let verdict: IntelLevel;
  let rule: string;
  const indicatorCount = new Set(outcome.results.map((result) => result.indicator.value)).size;
  if (!worst) {
    verdict = 'unknown';
    rule =
      outcome.results.length === 0
        ? 'no source answered about any indicator: unknown'
        : `no source knows any of the ${indicatorCount} indicator${indicatorCount === 1 ? '' : 's'} it was asked about: unknown`;
  } else {
    const from = `from ${worst.value}: ${arithmetic(worst)}${scores.size > 1 ? `, the worst of ${scores.size} scored indicators` : ''}`;
    if (score >= thresholds.malicious) {
      verdict = 'malicious';
      rule = `score ${score} ≥ ${thresholds.malicious} (malicious threshold) ${from}`;
    } else if (score >= thresholds.suspicious) {
      verdict = 'suspicious';
      rule = `score ${score} ≥ ${thresholds.suspicious} (suspicious threshold) and < ${thresholds.malicious} (malicious threshold) ${from}`;
    } else if (benignSayers.length > 0) {
      verdict = 'benign';
      rule = `score ${score} < ${thresholds.suspicious} (suspicious threshold) ${from}; benign because ${benignSayers.join(', ')} said benign`;
    } else {
      verdict = 'unknown';
      rule = `score ${score} < ${thresholds.suspicious} (suspicious threshold) ${from}; unknown because no source said benign`;
    }
  }

  const indicators: Record<string, IndicatorVerdict> = {};
  for (const value of Object.keys(results)) {
    const scored = scores.get(value);
    if (!scored) {
      indicators[value] = { verdict: 'unknown' };
      continue;
    }
    const own = Math.round(scored.mean);
    const level: IntelLevel =
      own >= thresholds.malicious
        ? 'malicious'
        : own >= thresholds.suspicious
          ? 'suspicious'
          : results[value].some((r) => r.level === 'benign' && resultPoints(r) !== undefined && weightOf(opts.weights, r.source) > 0)
            ? 'benign'
            : 'unknown';
    indicators[value] = { verdict: level, score: own };
  }

  return { verdict, score, why: [...resultLines, ...noteLines(outcome.notes), rule], results, indicators };
}

/** Node status text: "malicious 92 · VirusTotal 3/4 min" (either part may be missing). */
export function verdictStatus(enrichment: Pick<Enrichment, 'verdict' | 'score'> | undefined, tightestBudget?: string): string {
  const parts: string[] = [];
  if (enrichment) parts.push(`${enrichment.verdict} ${enrichment.score}`);
  if (tightestBudget) parts.push(tightestBudget);
  return parts.join(' · ');
}
