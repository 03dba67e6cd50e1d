import assert from 'node:assert/strict';
import type { EnrichmentOutcome, SourceNote } from '../../../lib/intel/broker';
import type { IntelLevel, IntelResult } from '../../../lib/intel/types';
import {
  computeVerdict,
  DEFAULT_THRESHOLDS,
  LEVEL_POINTS,
  resultPoints,
  verdictStatus,
  type Enrichment,
  type VerdictOptions,
} from '../../../lib/intel/verdict';

const FETCHED = '2026-01-15T12:00:00.000Z';

function said(source: string, value: string, level: IntelLevel, extra: Partial<IntelResult> = {}): IntelResult {
  const found = extra.found ?? level !== 'unknown';
  return {
    source,
    provider: source.toLowerCase(),
    indicator: { type: value.includes('.') && /^\d/.test(value) ? 'ipv4' : 'domain', value },
    level,
    found,
    evidence: {},
    summary: found ? `${source}: says ${level}` : `${source}: never seen`,
    fetchedAt: FETCHED,
    ...extra,
  };
}

function outcome(results: IntelResult[], notes: SourceNote[] = []): EnrichmentOutcome {
  return { results, notes, lookups: { requested: results.length, cached: 0, shared: 0 } };
}

/**
 * Reads `why` ALONE (no access to results, weights or thresholds) and checks that it explains the
 * verdict: every counted term in the final line's arithmetic is backed by a source line with that
 * weight and those points, the arithmetic adds up to the score, and the comparison with the stated
 * threshold gives the verdict. Returns what it read.
 */
function explainFromWhy(enrichment: Enrichment): { score: number; verdict: string } {
  const why = enrichment.why;
  const final = why[why.length - 1];
  const sourceLines = why.filter((line) => / \(weight [\d.]+\) on /.test(line));

  const unknownRule = /: unknown$/.exec(final);
  if (unknownRule && !final.startsWith('score ')) {
    assert.equal(sourceLines.filter((line) => / points/.test(line) && !/not counted/.test(line)).length, 0, 'no counted source line');
    return { score: 0, verdict: 'unknown' };
  }

  const head =
    /^score (\d+) (≥|<) (\d+) \((malicious|suspicious) threshold\)(?: and < (\d+) \(malicious threshold\))? from (\S+): (.+?) \/ ([\d.]+) = (\d+)/.exec(final);
  assert.ok(head, `final line states the rule: ${final}`);
  const [, scoreText, comparison, thresholdText, thresholdName, , indicator, products, weightSumText, resultText] = head;
  const score = Number(scoreText);
  assert.equal(Number(resultText), score, 'the arithmetic ends in the score');

  // Each "w×p" term has a source line on that indicator with weight w and p points.
  const terms = [...products.matchAll(/([\d.]+)×(\d+)/g)].map((match) => ({ weight: Number(match[1]), points: Number(match[2]) }));
  let weighted = 0;
  let weights = 0;
  const available = sourceLines.filter((line) => line.includes(` on ${indicator}: `) && / \(\d+ points/.test(line));
  assert.equal(terms.length, available.length, 'every counted source line on the worst indicator is in the arithmetic');
  for (const term of terms) {
    const backing = available.find((line) => line.includes(`(weight ${term.weight}) on ${indicator}:`) && line.includes(`(${term.points} points`));
    assert.ok(backing, `a source line backs ${term.weight}×${term.points}`);
    available.splice(available.indexOf(backing), 1);
    weighted += term.weight * term.points;
    weights += term.weight;
  }
  assert.equal(Number(weightSumText), Number(weights.toFixed(2)));
  assert.equal(Math.round(weighted / weights), score);

  const threshold = Number(thresholdText);
  let verdict: string;
  if (comparison === '≥') {
    assert.ok(score >= threshold);
    verdict = thresholdName;
  } else {
    assert.ok(score < threshold);
    verdict = /benign because .+ said benign/.test(final) ? 'benign' : 'unknown';
    if (verdict === 'benign')
      assert.ok(
        sourceLines.some((line) => /: benign/.test(line)),
        'a source line says benign',
      );
  }
  return { score, verdict };
}

function assertExplained(enrichment: Enrichment): void {
  const read = explainFromWhy(enrichment);
  assert.equal(read.score, enrichment.score);
  assert.equal(read.verdict, enrichment.verdict);
}

describe('verdict', () => {
  describe('points per result', () => {
    it('maps levels to the documented points and scales by the source confidence', () => {
      assert.deepEqual(LEVEL_POINTS, { malicious: 100, suspicious: 60, benign: 0 });
      assert.deepEqual(DEFAULT_THRESHOLDS, { malicious: 70, suspicious: 40 });
      assert.equal(resultPoints(said('VT', '203.0.113.1', 'malicious')), 100);
      assert.equal(resultPoints(said('VT', '203.0.113.1', 'suspicious')), 60);
      assert.equal(resultPoints(said('VT', '203.0.113.1', 'benign')), 0);
      assert.equal(resultPoints(said('VT', '203.0.113.1', 'unknown', { found: true })), undefined);
      assert.equal(resultPoints(said('VT', '203.0.113.1', 'malicious', { found: false })), undefined);
      assert.equal(resultPoints(said('Abuse', '203.0.113.1', 'malicious', { confidence: 85 })), 85);
      assert.equal(resultPoints(said('Abuse', '203.0.113.1', 'suspicious', { confidence: 50 })), 30);
      assert.equal(resultPoints(said('Abuse', '203.0.113.1', 'malicious', { confidence: 250 })), 100, 'confidence is clamped to 0..100');
    });
  });

  describe('score and verdict', () => {
    it('weighted mean over the sources that know the indicator → malicious', () => {
      const enrichment = computeVerdict(
        outcome([
          said('VirusTotal', '203.0.113.44', 'malicious', { summary: 'VirusTotal: 12 of 72 engines say malicious' }),
          said('AbuseIPDB', '203.0.113.44', 'malicious', { confidence: 76, summary: 'abuse confidence 76%, 40 reports' }),
          said('GreyNoise', '203.0.113.44', 'unknown', { found: false, summary: 'GreyNoise: not observed' }),
        ]),
        { weights: { AbuseIPDB: 2 } },
      );
      assert.equal(enrichment.verdict, 'malicious');
      assert.equal(enrichment.score, 84); // (1×100 + 2×76) / 3 = 84
      assert.deepEqual(enrichment.why, [
        'VirusTotal (weight 1) on 203.0.113.44: malicious — 12 of 72 engines say malicious (100 points)',
        'AbuseIPDB (weight 2) on 203.0.113.44: malicious, confidence 76 — abuse confidence 76%, 40 reports (76 points)',
        'GreyNoise (weight 1) on 203.0.113.44: unknown — not observed (not counted)',
        'score 84 ≥ 70 (malicious threshold) from 203.0.113.44: (1×100 + 2×76) / 3 = 84',
      ]);
      assert.deepEqual(Object.keys(enrichment.results), ['203.0.113.44']);
      assert.equal(enrichment.results['203.0.113.44'].length, 3, 'misses are kept in results');
      assertExplained(enrichment);
    });

    it('a benign source pulls the mean down → suspicious', () => {
      const enrichment = computeVerdict(
        outcome([
          said('VirusTotal', '203.0.113.7', 'malicious'),
          said('GreyNoise', '203.0.113.7', 'benign', { summary: 'GreyNoise: RIOT, Google Public DNS' }),
        ]),
      );
      assert.equal(enrichment.score, 50);
      assert.equal(enrichment.verdict, 'suspicious');
      assert.equal(enrichment.why.at(-1), 'score 50 ≥ 40 (suspicious threshold) and < 70 (malicious threshold) from 203.0.113.7: (1×100 + 1×0) / 2 = 50');
      assertExplained(enrichment);
    });

    it('the worst indicator decides the message score', () => {
      const enrichment = computeVerdict(
        outcome([
          said('VirusTotal', '198.51.100.1', 'benign'),
          said('VirusTotal', 'evil.example', 'suspicious'),
          said('OTX', 'evil.example', 'suspicious'),
          said('VirusTotal', '198.51.100.2', 'unknown', { found: false }),
        ]),
      );
      assert.equal(enrichment.score, 60);
      assert.equal(enrichment.verdict, 'suspicious');
      assert.match(enrichment.why.at(-1) ?? '', /from evil\.example: \(1×60 \+ 1×60\) \/ 2 = 60, the worst of 2 scored indicators$/);
      assert.deepEqual(Object.keys(enrichment.results), ['198.51.100.1', 'evil.example', '198.51.100.2']);
      assertExplained(enrichment);
    });

    it('below the thresholds with a benign answer → benign, naming who vouched', () => {
      const enrichment = computeVerdict(
        outcome([said('VirusTotal', '192.0.2.53', 'benign', { summary: 'VirusTotal: 0 of 90 engines say malicious (70 harmless)' })]),
      );
      assert.equal(enrichment.verdict, 'benign');
      assert.equal(enrichment.score, 0);
      assert.equal(
        enrichment.why.at(-1),
        'score 0 < 40 (suspicious threshold) from 192.0.2.53: 1×0 / 1 = 0; benign because VirusTotal on 192.0.2.53 said benign',
      );
      assertExplained(enrichment);
    });

    it('weak suspicion and nobody vouching → unknown, not benign', () => {
      const enrichment = computeVerdict(outcome([said('AbuseIPDB', '203.0.113.9', 'suspicious', { confidence: 30 })]));
      assert.equal(enrichment.score, 18);
      assert.equal(enrichment.verdict, 'unknown');
      assert.equal(enrichment.why.at(-1), 'score 18 < 40 (suspicious threshold) from 203.0.113.9: 1×18 / 1 = 18; unknown because no source said benign');
      assertExplained(enrichment);
    });

    it('nobody knows anything → unknown with score 0', () => {
      const misses = computeVerdict(
        outcome([said('VirusTotal', '203.0.113.10', 'unknown', { found: false }), said('OTX', '203.0.113.11', 'unknown', { found: false })]),
      );
      assert.equal(misses.verdict, 'unknown');
      assert.equal(misses.score, 0);
      assert.equal(misses.why.at(-1), 'no source knows any of the 2 indicators it was asked about: unknown');
      assertExplained(misses);

      const nothing = computeVerdict(outcome([]));
      assert.deepEqual(nothing, { verdict: 'unknown', score: 0, why: ['no source answered about any indicator: unknown'], results: {}, indicators: {} });
    });

    it("gives each indicator its own verdict, so an action can act on what was accused and not on the message's other indicators", () => {
      const enrichment = computeVerdict(
        outcome([
          said('demo feed', '198.51.100.200', 'malicious'),
          said('demo feed', '198.51.100.10', 'unknown', { found: false }),
          said('VirusTotal', '198.51.100.10', 'benign'),
          said('AbuseIPDB', '203.0.113.50', 'suspicious'),
          said('noisy feed', '203.0.113.60', 'malicious'),
          said('quiet feed', '203.0.113.70', 'suspicious', { confidence: 20 }),
        ]),
        { weights: { 'noisy feed': 0 } },
      );
      assert.equal(enrichment.verdict, 'malicious');
      assert.deepEqual(enrichment.indicators, {
        '198.51.100.200': { verdict: 'malicious', score: 100 },
        '198.51.100.10': { verdict: 'benign', score: 0 },
        '203.0.113.50': { verdict: 'suspicious', score: 60 },
        // weight 0: the only source that spoke does not count, so nothing was said about it
        '203.0.113.60': { verdict: 'unknown' },
        // 60 x 20% = 12 points, below suspicious, and nobody said benign
        '203.0.113.70': { verdict: 'unknown', score: 12 },
      });
    });

    it('weights are source reliability: 0 switches a source off, larger counts more', () => {
      const results = [said('noisy feed', '203.0.113.20', 'malicious'), said('VirusTotal', '203.0.113.20', 'benign')];
      const off = computeVerdict(outcome(results), { weights: { 'noisy feed': 0 } });
      assert.equal(off.verdict, 'benign');
      assert.equal(off.why[0], 'noisy feed (weight 0) on 203.0.113.20: malicious — says malicious (weight 0, not counted)');
      assertExplained(off);

      const trusted = computeVerdict(outcome(results), { weights: { 'noisy feed': 3 } });
      assert.equal(trusted.score, 75);
      assert.equal(trusted.verdict, 'malicious');
      assertExplained(trusted);

      const half = computeVerdict(outcome(results), { weights: { VirusTotal: 0.5 } });
      assert.equal(half.score, 67); // (1×100 + 0.5×0) / 1.5
      assert.equal(half.verdict, 'suspicious');
      assertExplained(half);
    });

    it('honours configured thresholds and refuses inconsistent ones', () => {
      const results = [said('VirusTotal', '203.0.113.30', 'suspicious')];
      const strict: VerdictOptions = { thresholds: { malicious: 60, suspicious: 20 } };
      const enrichment = computeVerdict(outcome(results), strict);
      assert.equal(enrichment.verdict, 'malicious');
      assert.equal(enrichment.why.at(-1), 'score 60 ≥ 60 (malicious threshold) from 203.0.113.30: 1×60 / 1 = 60');
      assertExplained(enrichment);

      assert.throws(() => computeVerdict(outcome(results), { thresholds: { malicious: 30, suspicious: 50 } }), RangeError);
      assert.throws(() => computeVerdict(outcome(results), { thresholds: { malicious: 101 } }), RangeError);
      assert.throws(() => computeVerdict(outcome(results), { thresholds: { suspicious: Number.NaN } }), RangeError);
    });
  });

  describe('why', () => {
    it('lists source lines, then the notes that matter folded per story, then the rule', () => {
      const v4 = (value: string) => ({ type: 'ipv4' as const, value });
      const notes: SourceNote[] = [
        {
          source: 'VirusTotal',
          indicator: v4('203.0.113.44'),
          status: 'quota',
          detail: 'VirusTotal: quota exhausted, paused until 2026-01-16 00:00Z (12 h from now); not asked, the verdict uses the other sources',
        },
        { source: 'AbuseIPDB', indicator: v4('203.0.113.44'), status: 'answered', detail: 'AbuseIPDB: answered' },
        {
          source: 'VirusTotal',
          indicator: v4('10.0.0.5'),
          status: 'skipped-internal',
          detail: 'VirusTotal: internal indicator, not sent to an outside service',
        },
        { source: 'AbuseIPDB', indicator: v4('10.0.0.5'), status: 'skipped-internal', detail: 'AbuseIPDB: internal indicator, not sent to an outside service' },
        { source: 'OTX', indicator: v4('203.0.113.44'), status: 'deadline', detail: 'OTX: no answer within 10 s, still queued; the answer will be cached' },
        { source: 'OTX', indicator: v4('198.51.100.9'), status: 'deadline', detail: 'OTX: no answer within 10 s, still queued; the answer will be cached' },
        {
          source: 'AbuseIPDB',
          indicator: { type: 'domain', value: 'evil.example' },
          status: 'skipped-type',
          detail: 'AbuseIPDB: does not look up domain indicators',
        },
        { source: 'MISP', indicator: v4('203.0.113.44'), status: 'error', detail: 'MISP: lookup failed: misp: HTTP 401 (check the API key)' },
        { source: 'feed', indicator: v4('203.0.113.44'), status: 'cached', detail: 'feed: from the cache (answered 2026-01-15T11:00:00.000Z)' },
      ];
      const enrichment = computeVerdict(
        outcome(
          [
            said('AbuseIPDB', '203.0.113.44', 'malicious', { confidence: 92, summary: 'AbuseIPDB: abuse confidence 92%' }),
            said('feed', '203.0.113.44', 'malicious', { summary: 'listed', fetchedAt: '2026-01-15T11:00:00.000Z' }),
          ],
          notes,
        ),
      );
      assert.deepEqual(enrichment.why, [
        'AbuseIPDB (weight 1) on 203.0.113.44: malicious, confidence 92 — abuse confidence 92% (92 points)',
        'feed (weight 1) on 203.0.113.44: malicious — listed (100 points, cached 2026-01-15T11:00:00.000Z)',
        'VirusTotal: quota exhausted, paused until 2026-01-16 00:00Z (12 h from now); not asked, the verdict uses the other sources — about 203.0.113.44',
        'VirusTotal: internal indicator, not sent to an outside service — about 10.0.0.5',
        'AbuseIPDB: internal indicator, not sent to an outside service — about 10.0.0.5',
        'OTX: no answer within 10 s, still queued; the answer will be cached — about 203.0.113.44, 198.51.100.9',
        'MISP: lookup failed: misp: HTTP 401 (check the API key) — about 203.0.113.44',
        'score 96 ≥ 70 (malicious threshold) from 203.0.113.44: (1×92 + 1×100) / 2 = 96',
      ]);
      assertExplained(enrichment);
    });

    it('explains itself in every case of a table of mixed answers', () => {
      const levels: IntelLevel[] = ['malicious', 'suspicious', 'benign', 'unknown'];
      const confidences = [undefined, 20, 55, 100];
      let cases = 0;
      const seen = new Set<string>();
      for (const first of levels) {
        for (const second of levels) {
          for (const confidence of confidences) {
            for (const weight of [0, 0.5, 1, 3]) {
              const enrichment = computeVerdict(
                outcome([
                  said('VirusTotal', '203.0.113.1', first),
                  said('AbuseIPDB', '203.0.113.1', second, confidence === undefined ? {} : { confidence }),
                  said('OTX', '198.51.100.1', second),
                ]),
                { weights: { AbuseIPDB: weight } },
              );
              assertExplained(enrichment);
              seen.add(enrichment.verdict);
              cases++;
            }
          }
        }
      }
      assert.equal(cases, 256);
      assert.deepEqual([...seen].sort(), ['benign', 'malicious', 'suspicious', 'unknown']);
    });
  });

  it('status text: last verdict and tightest budget', () => {
    assert.equal(verdictStatus({ verdict: 'malicious', score: 92 }, 'VirusTotal 3/4 min'), 'malicious 92 · VirusTotal 3/4 min');
    assert.equal(verdictStatus(undefined, 'VirusTotal 3/4 min'), 'VirusTotal 3/4 min');
    assert.equal(verdictStatus({ verdict: 'unknown', score: 0 }), 'unknown 0');
  });
});
