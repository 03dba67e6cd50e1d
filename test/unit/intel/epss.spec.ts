/**
 * EPSS provider. Fixtures follow the FIRST daily scores CSV (https://www.first.org/epss/data_stats,
 * https://epss.cyentia.com/epss_scores-YYYY-MM-DD.csv.gz): a `#model_version:...,score_date:...`
 * comment, a `cve,epss,percentile` header, then rows. Facts: docs/vendor-facts.md §B.11.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { createEpss, parseEpss, type EpssOptions } from '../../../lib/intel/providers/epss';
import type { LocalFeedProvider } from '../../../lib/intel/providers/feed';

const FIXTURE = path.join(__dirname, '../../fixtures/feeds/epss.csv');
const DEMO = path.join(__dirname, '../../../feeds/demo-epss.csv');

describe('EPSS provider', () => {
  const providers: LocalFeedProvider[] = [];
  const open = (opts: Partial<EpssOptions> = {}) => {
    const epss = createEpss({ source: { file: FIXTURE }, ...opts });
    providers.push(epss);
    return epss;
  };
  afterEach(async () => {
    await Promise.all(providers.splice(0).map((provider) => provider.close()));
  });

  it('parses the scores CSV: model comment, header, malformed rows counted', async () => {
    const parsed = await parseEpss({ text: readFileSync(FIXTURE, 'utf8') });
    assert.equal(parsed.entries, 11);
    assert.equal(parsed.skipped, 3, 'epss above 1, a broken CVE id, a non-number');
    assert.deepEqual(parsed.info, { modelVersion: 'v2023.03.01', scoreDate: '2024-05-01T00:00:00.000Z' });
    assert.deepEqual(parsed.data.get('CVE-2021-44228'), { epss: 0.97565, percentile: 0.99995 });
  });

  it('header order is read from the header; without percentile; without any header', async () => {
    const reordered = await parseEpss({ text: 'percentile,cve,epss\n0.5,CVE-2024-0001,0.25\n' });
    assert.deepEqual(reordered.data.get('CVE-2024-0001'), { epss: 0.25, percentile: 0.5 });
    const noPercentile = await parseEpss({ text: 'cve,epss\nCVE-2024-0002,0.3\n' });
    assert.deepEqual(noPercentile.data.get('CVE-2024-0002'), { epss: 0.3 });
    const headerless = await parseEpss({ text: 'CVE-2024-0003,0.4,0.9\r\nCVE-2024-0004,0.1,0.7\r\n' });
    assert.equal(headerless.entries, 2);
    assert.deepEqual(headerless.data.get('CVE-2024-0003'), { epss: 0.4, percentile: 0.9 });
    await assert.rejects(parseEpss({ text: 'cve,score\nCVE-2024-0005,0.1\n' }), /no "epss" column/);
    const separateComments = await parseEpss({
      text: '#model_version:v2025.03.14\n#score_date:2025-12-19\ncve,epss,percentile\nCVE-2022-27225,0.001870000,0.401290000\n',
    });
    assert.deepEqual(separateComments.info, { modelVersion: 'v2025.03.14', scoreDate: '2025-12-19T00:00:00.000Z' });
    assert.deepEqual(separateComments.data.get('CVE-2022-27225'), { epss: 0.00187, percentile: 0.40129 });
  });

  it('a large file is parsed in slices without losing rows', async () => {
    const rows = ['cve,epss,percentile'];
    for (let i = 0; i < 25_000; i++) rows.push(`CVE-2024-${String(10000 + i)},${(i / 25_000).toFixed(5)},${(i / 25_000).toFixed(5)}`);
    const parsed = await parseEpss({ text: rows.join('\n') });
    assert.equal(parsed.entries, 25_000);
    assert.deepEqual(parsed.data.get('CVE-2024-34999'), { epss: 0.99996, percentile: 0.99996 });
  });

  it('a high score is malicious, with the probability and percentile in the summary', async () => {
    const epss = open();
    await epss.ready();
    assert.equal(epss.kind, 'epss');
    assert.equal(epss.external, false);
    assert.deepEqual([...epss.types], ['cve']);
    const result = await epss.lookup({ type: 'cve', value: 'CVE-2021-44228' });
    assert.equal(result.found, true);
    assert.equal(result.level, 'malicious');
    assert.equal(result.summary, 'EPSS: 97.6% probability of exploitation in 30 days (percentile 99.9)');
    assert.deepEqual(result.evidence, { epss: 0.97565, percentile: 0.99995, scoreDate: '2024-05-01T00:00:00.000Z', modelVersion: 'v2023.03.01' });
  });

  it('default thresholds: >= 0.5 malicious, >= 0.1 suspicious, below that found with level unknown', async () => {
    const epss = open();
    const levels: Record<string, string> = {};
    for (const cve of ['CVE-2023-0002', 'CVE-2022-22965', 'CVE-2021-3156', 'CVE-2023-0001', 'CVE-2019-11043', 'CVE-2020-9999']) {
      const result = await epss.lookup({ type: 'cve', value: cve });
      assert.equal(result.found, true, cve);
      levels[cve] = result.level;
    }
    assert.deepEqual(levels, {
      'CVE-2023-0002': 'malicious', // exactly 0.5
      'CVE-2022-22965': 'suspicious',
      'CVE-2021-3156': 'suspicious',
      'CVE-2023-0001': 'suspicious', // exactly 0.1
      'CVE-2019-11043': 'unknown',
      'CVE-2020-9999': 'unknown',
    });
    const tiny = await epss.lookup({ type: 'cve', value: 'CVE-2020-9999' });
    assert.equal(tiny.summary, 'EPSS: 0.043% probability of exploitation in 30 days (percentile 9.5)');
  });

  it('custom thresholds; invalid thresholds are refused', async () => {
    const strict = open({ suspiciousAt: 0.02, maliciousAt: 0.3, name: 'EPSS strict' });
    assert.equal((await strict.lookup({ type: 'cve', value: 'CVE-2019-11043' })).level, 'suspicious');
    assert.equal((await strict.lookup({ type: 'cve', value: 'CVE-2022-22965' })).level, 'malicious');
    assert.match((await strict.lookup({ type: 'cve', value: 'CVE-2022-22965' })).summary, /^EPSS strict: 33\.2% /);
    assert.throws(() => createEpss({ source: { file: FIXTURE }, suspiciousAt: 0.6, maliciousAt: 0.5 }), /thresholds/);
    assert.throws(() => createEpss({ source: { file: FIXTURE }, maliciousAt: 1.5 }), /thresholds/);
  });

  it('a CVE without a score is found:false', async () => {
    const epss = open();
    const result = await epss.lookup({ type: 'cve', value: 'CVE-2099-1234' });
    assert.deepEqual([result.found, result.level, result.summary], [false, 'unknown', 'EPSS: no score']);
  });

  it('the demo scores load, also gzipped as FIRST publishes them', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'soar-epss-'));
    try {
      const gz = path.join(dir, 'epss_scores-2024-05-01.csv.gz');
      writeFileSync(gz, gzipSync(readFileSync(DEMO)));
      for (const file of [DEMO, gz]) {
        const epss = open({ source: { file } });
        await epss.ready();
        assert.equal(epss.stats().entries, 10, file);
        assert.equal(epss.stats().info?.scoreDate, '2024-05-01T00:00:00.000Z');
        assert.equal((await epss.lookup({ type: 'cve', value: 'CVE-2024-3400' })).level, 'malicious');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
