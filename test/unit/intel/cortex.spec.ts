import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ProviderError } from '../../../lib/core/http';
import { createCortex, type CortexOptions } from '../../../lib/intel/providers/cortex';
import type { IntelProvider } from '../../../lib/intel/types';
import { ManualClock } from '../../helpers/fake-server';
import { startCortexFake, type CortexFake } from '../../fakes/cortex';

const API_KEY = 'cortexKey+9f8e7d6c5b4a39281706f5e4d3c2b1a0';

const VT = { id: 'vt01', name: 'VirusTotal_GetReport_3_1' };
const ABUSE = { id: 'ab01', name: 'AbuseIPDB_1_0' };

describe('Cortex provider (contract fake)', () => {
  let clock: ManualClock;
  let fake: CortexFake;
  let provider: IntelProvider;

  function make(overrides: Partial<CortexOptions> = {}): IntelProvider {
    return createCortex({
      baseURL: fake.baseURL,
      apiKey: API_KEY,
      analyzers: [VT.name, ABUSE.id, 'Fqdn_Checker_1_0', 'EmailRep_1_0'],
      pollIntervalMs: 1_000,
      maxWaitMs: 30_000,
      now: clock.now,
      sleep: clock.sleep,
      ...overrides,
    });
  }

  beforeEach(async () => {
    clock = new ManualClock(Date.UTC(2026, 2, 3, 9, 0, 0), true);
    fake = await startCortexFake({ apiKey: API_KEY, now: clock.now });
    fake.addAnalyzer({
      ...VT,
      dataTypeList: ['ip', 'domain', 'url', 'hash'],
      outcomes: {
        '203.0.113.9': { pollsToFinish: 3, taxonomies: [{ level: 'malicious', namespace: 'VT', predicate: 'GetReport', value: '12/72' }] },
        '203.0.113.66': { never: true },
        '203.0.113.13': { failure: 'Invalid API key for VirusTotal' },
        '198.51.100.7': { taxonomies: [{ level: 'info', namespace: 'VT', predicate: 'GetReport', value: '0/72' }] },
      },
      default: { taxonomies: [{ level: 'safe', namespace: 'VT', predicate: 'GetReport', value: '0/72' }] },
    });
    fake.addAnalyzer({
      ...ABUSE,
      dataTypeList: ['ip'],
      outcomes: {
        '203.0.113.9': { taxonomies: [{ level: 'suspicious', namespace: 'AbuseIPDB', predicate: 'Score', value: 55 }] },
        '203.0.113.13': { failure: 'AbuseIPDB: rate limit reached' },
        '198.51.100.7': { taxonomies: [{ level: 'info', namespace: 'AbuseIPDB', predicate: 'Reports', value: 0 }] },
      },
      default: { taxonomies: [{ level: 'safe', namespace: 'AbuseIPDB', predicate: 'Score', value: 0 }] },
    });
    fake.addAnalyzer({
      id: 'sh01',
      name: 'Shodan_Host_1_0',
      dataTypeList: ['ip'],
      default: { taxonomies: [{ level: 'info', namespace: 'Shodan', predicate: 'Ports', value: 3 }] },
    });
    fake.addAnalyzer({
      id: 'fq01',
      name: 'Fqdn_Checker_1_0',
      dataTypeList: ['fqdn'],
      default: { taxonomies: [{ level: 'suspicious', namespace: 'FQDN', predicate: 'Age', value: '2 days' }] },
    });
    fake.addAnalyzer({
      id: 'em01',
      name: 'EmailRep_1_0',
      dataTypeList: ['mail'],
      default: { taxonomies: [{ level: 'safe', namespace: 'EmailRep', predicate: 'Reputation', value: 'high' }] },
    });
    provider = make();
  });

  afterEach(async () => {
    await provider.close?.();
    await fake.close();
  });

  it('is internal by default (your own server), with the types Cortex has data types for', async () => {
    assert.equal(provider.kind, 'cortex');
    assert.equal(provider.name, 'Cortex');
    assert.equal(provider.external, false);
    assert.deepEqual([...provider.types].sort(), ['domain', 'email', 'ipv4', 'ipv6', 'md5', 'sha1', 'sha256', 'sha512', 'url']);
    const narrowed = make({ types: ['ipv4', 'cve'], external: true });
    assert.deepEqual(narrowed.types, ['ipv4'], 'types without a Cortex data type are dropped');
    assert.equal(narrowed.external, true);
    await narrowed.close?.();
  });

  it('runs the configured analyzers and the worst taxonomy level wins (malicious over suspicious)', async () => {
    const result = await provider.lookup({ type: 'ipv4', value: '203.0.113.9' });
    assert.equal(result.level, 'malicious');
    assert.equal(result.found, true);
    const analyzers = result.evidence.analyzers as { analyzer: string; jobId: string; level: string; taxonomies: string[] }[];
    assert.deepEqual(
      analyzers.map(({ analyzer, level, taxonomies }) => ({ analyzer, level, taxonomies })),
      [
        { analyzer: VT.name, level: 'malicious', taxonomies: ['VT:GetReport="12/72" (malicious)'] },
        { analyzer: ABUSE.name, level: 'suspicious', taxonomies: ['AbuseIPDB:Score="55" (suspicious)'] },
      ],
    );
    const vtJob = fake.jobs.find((job) => job.analyzer.id === VT.id)!;
    assert.equal(analyzers[0].jobId, vtJob.id);
    assert.equal(result.link, `${fake.baseURL}/index.html#!/jobs/${vtJob.id}`);
    assert.equal(
      result.summary,
      'Cortex: malicious — VirusTotal_GetReport_3_1: VT:GetReport="12/72" (malicious); AbuseIPDB_1_0: AbuseIPDB:Score="55" (suspicious)',
    );
    assert.ok(!JSON.stringify(result).includes(API_KEY));
  });

  it('sends the documented requests: Bearer key, analyzer list per data type, run body, waitreport with atMost', async () => {
    await provider.lookup({ type: 'ipv4', value: '203.0.113.9' });
    assert.deepEqual(fake.violations, []);
    for (const request of fake.server.requests) assert.equal(request.headers.authorization, `Bearer ${API_KEY}`);

    const listing = fake.requestsTo(/^\/api\/analyzer\/type\//);
    assert.deepEqual(
      listing.map((request) => `${request.method} ${request.path}`),
      ['GET /api/analyzer/type/ip'],
    );

    const runs = fake.requestsTo(/\/run$/);
    assert.deepEqual(
      runs.map((request) => request.path).sort(),
      ['/api/analyzer/ab01/run', '/api/analyzer/vt01/run'],
      'Shodan is enabled but not configured: not run',
    );
    for (const run of runs) {
      assert.equal(run.method, 'POST');
      assert.deepEqual(run.json, { data: '203.0.113.9', dataType: 'ip', tlp: 2, message: 'node-red-contrib-soar IOC lookup' });
    }
    const waits = fake.requestsTo(/\/waitreport$/);
    assert.ok(waits.length >= 2);
    assert.equal(waits[0].query.atMost, '10second', 'one long-poll round is capped at longPollMs (10 s)');
  });

  it('waits for a job over several polls, pollIntervalMs apart', async () => {
    await provider.close?.();
    provider = make({ analyzers: [VT.id] });
    const started = clock.now();
    const result = await provider.lookup({ type: 'ipv4', value: '203.0.113.9' });
    assert.equal(result.level, 'malicious');
    const polls = fake.requestsTo(/\/waitreport$/);
    assert.equal(polls.length, 3, 'Waiting → InProgress → InProgress → Success on the third poll');
    assert.deepEqual(
      polls.map((poll) => poll.at - started),
      [0, 1_000, 2_000],
    );
  });

  it('a job that never finishes within maxWaitMs is a TIMEOUT with a clear message, after a bounded number of polls', async () => {
    await provider.close?.();
    provider = make({ analyzers: [VT.id], maxWaitMs: 5_000 });
    const started = clock.now();
    await assert.rejects(provider.lookup({ type: 'ipv4', value: '203.0.113.66' }), (error: unknown) => {
      assert.ok(error instanceof ProviderError);
      assert.equal(error.code, 'TIMEOUT');
      assert.match(error.message, /job AZ0+1 of VirusTotal_GetReport_3_1 not finished after 5000 ms \(status InProgress\)/);
      return true;
    });
    const polls = fake.requestsTo(/\/waitreport$/);
    assert.equal(polls.length, 5);
    assert.deepEqual(
      polls.map((poll) => poll.query.atMost),
      ['5second', '4second', '3second', '2second', '1second'],
      'never asks the server to hold past the deadline',
    );
    assert.equal(clock.now() - started, 5_000);
  });

  it("the caller's abort signal stops the wait: CANCELLED, no more polls", async () => {
    await provider.close?.();
    provider = make({ analyzers: [VT.id], maxWaitMs: 3_600_000 });
    const controller = new AbortController();
    const pending = provider.lookup({ type: 'ipv4', value: '203.0.113.66' }, controller.signal);
    await fake.server.waitForRequests(4);
    controller.abort();
    await assert.rejects(pending, (error: ProviderError) => error.code === 'CANCELLED');
    const pollsOfJob = () => fake.requestsTo(new RegExp(`^/api/job/${fake.jobs[0].id}/waitreport$`)).length;
    const pollsAtAbort = pollsOfJob();
    // Another lookup takes several real round trips: time enough for a loop that ignored the abort to poll again.
    assert.equal((await provider.lookup({ type: 'ipv4', value: '198.51.100.5' })).level, 'benign');
    assert.equal(pollsOfJob(), pollsAtAbort);
  });

  it('all safe taxonomies make the indicator benign', async () => {
    const result = await provider.lookup({ type: 'ipv4', value: '198.51.100.5' });
    assert.equal(result.level, 'benign');
    assert.equal(result.found, true);
  });

  it('only info taxonomies: unknown and found:false, with the taxonomies kept as evidence', async () => {
    const result = await provider.lookup({ type: 'ipv4', value: '198.51.100.7' });
    assert.equal(result.level, 'unknown');
    assert.equal(result.found, false);
    const analyzers = result.evidence.analyzers as { taxonomies: string[] }[];
    assert.deepEqual(
      analyzers.map((entry) => entry.taxonomies[0]),
      ['VT:GetReport="0/72" (info)', 'AbuseIPDB:Reports="0" (info)'],
    );
  });

  it('a job with status Failure on HTTP 200 is an error (checkBody) carrying the analyzer errorMessage', async () => {
    await provider.close?.();
    provider = make({ analyzers: [VT.id] });
    await assert.rejects(provider.lookup({ type: 'ipv4', value: '203.0.113.13' }), (error: unknown) => {
      assert.ok(error instanceof ProviderError);
      assert.equal(error.code, 'BODY_ERROR');
      assert.equal(error.status, 200);
      assert.equal(error.vendorCode, 'JobFailure');
      assert.match(error.message, /VirusTotal_GetReport_3_1 failed: Invalid API key for VirusTotal/);
      return true;
    });
  });

  it('when one analyzer fails and another answers, the answer stands and the failure is listed', async () => {
    fake.addAnalyzer({
      id: 'gn01',
      name: 'GreyNoise_3_2',
      dataTypeList: ['ip'],
      default: { taxonomies: [{ level: 'suspicious', namespace: 'GreyNoise', predicate: 'Class', value: 'unknown' }] },
    });
    await provider.close?.();
    provider = make({ analyzers: [VT.id, 'GreyNoise_3_2'] });
    const result = await provider.lookup({ type: 'ipv4', value: '203.0.113.13' });
    assert.equal(result.level, 'suspicious');
    assert.deepEqual(
      (result.evidence.analyzers as { analyzer: string }[]).map((entry) => entry.analyzer),
      ['GreyNoise_3_2'],
    );
    const failed = result.evidence.failed as { analyzer: string; code: string; message: string }[];
    assert.equal(failed.length, 1);
    assert.equal(failed[0].analyzer, VT.name);
    assert.equal(failed[0].code, 'BODY_ERROR');
    assert.match(result.summary, /1 failed$/);
  });

  it('all analyzers failing rejects with the first failure', async () => {
    await assert.rejects(
      provider.lookup({ type: 'ipv4', value: '203.0.113.13' }),
      (error: ProviderError) => error.code === 'BODY_ERROR' && /Invalid API key for VirusTotal/.test(error.message),
    );
  });

  it('a wrong key (401 AuthenticationError) is AUTH, not retried, and the key appears nowhere', async () => {
    await provider.close?.();
    const wrongKey = `${API_KEY}x`;
    provider = make({ apiKey: wrongKey });
    await assert.rejects(provider.lookup({ type: 'ipv4', value: '203.0.113.9' }), (error: unknown) => {
      assert.ok(error instanceof ProviderError);
      assert.equal(error.code, 'AUTH');
      assert.equal(error.vendorCode, 'AuthenticationError');
      for (const text of [error.message, error.stack ?? '', JSON.stringify(error), inspect(error, { depth: 5 })]) {
        assert.ok(!text.includes(wrongKey) && !text.includes(API_KEY), 'key leaked');
      }
      return true;
    });
    assert.equal(fake.server.count(), 1);
  });

  it('429 with Retry-After on the job submission: waits, resubmits once, one job', async () => {
    await provider.close?.();
    provider = make({ analyzers: [ABUSE.id] });
    fake.queue(/\/run$/, { status: 429, headers: { 'retry-after': '8' }, body: { type: 'RateLimitExceeded', message: 'too many jobs' } });
    const result = await provider.lookup({ type: 'ipv4', value: '203.0.113.9' });
    assert.equal(result.level, 'suspicious');
    const runs = fake.requestsTo(/\/run$/);
    assert.equal(runs.length, 2);
    assert.equal(runs[1].at - runs[0].at, 8_000);
    assert.equal(fake.jobs.length, 1);
  });

  it('a 5xx while waiting is retried, then the report arrives', async () => {
    await provider.close?.();
    provider = make({ analyzers: [ABUSE.id] });
    fake.queue(/\/waitreport$/, { status: 503, body: 'Service Unavailable' }, { status: 502 });
    assert.equal((await provider.lookup({ type: 'ipv4', value: '203.0.113.9' })).level, 'suspicious');
    assert.equal(fake.requestsTo(/\/waitreport$/).length, 3);
  });

  it('a reply slower than timeoutMs is a TIMEOUT', async () => {
    await provider.close?.();
    provider = make({ timeoutMs: 100 });
    fake.queue(/^\/api\/analyzer\/type\//, ...Array.from({ length: 4 }, () => ({ delayMs: 3_000, body: [] })));
    await assert.rejects(provider.lookup({ type: 'ipv4', value: '203.0.113.9' }), (error: ProviderError) => error.code === 'TIMEOUT' && error.attempts === 4);
  });

  it('maps indicator types to Cortex data types (domain → the first of domain/fqdn an analyzer takes; hashes → hash; email → mail)', async () => {
    const domain = await provider.lookup({ type: 'domain', value: 'c2.example.net' });
    assert.equal(domain.level, 'suspicious', 'Fqdn_Checker (fqdn) says suspicious, VirusTotal (domain) safe');
    const runFor = (analyzerId: string) =>
      fake.requestsTo(new RegExp(`^/api/analyzer/${analyzerId}/run$`)).map((request) => (request.json as { dataType: string }).dataType);
    assert.deepEqual(runFor('vt01'), ['domain']);
    assert.deepEqual(runFor('fq01'), ['fqdn']);

    await provider.lookup({ type: 'sha256', value: 'f'.repeat(64) });
    assert.deepEqual(runFor('vt01'), ['domain', 'hash']);
    const mail = await provider.lookup({ type: 'email', value: 'ceo@example.net' });
    assert.equal(mail.level, 'benign');
    assert.deepEqual(runFor('em01'), ['mail']);
    assert.deepEqual(fake.violations, []);
  });

  it('no configured analyzer for the data type: unknown with a note, no job submitted', async () => {
    await provider.close?.();
    provider = make({ analyzers: [ABUSE.id] });
    const result = await provider.lookup({ type: 'url', value: 'http://203.0.113.9/x' });
    assert.equal(result.level, 'unknown');
    assert.equal(result.found, false);
    assert.match(String(result.evidence.note), /none of ab01 accepts url/);
    assert.equal(fake.requestsTo(/\/run$/).length, 0);
  });

  it('reuses the analyzer list per data type between lookups', async () => {
    await provider.lookup({ type: 'ipv4', value: '198.51.100.5' });
    await provider.lookup({ type: 'ipv4', value: '198.51.100.6' });
    assert.equal(fake.requestsTo(/^\/api\/analyzer\/type\/ip$/).length, 1);
  });

  it('needs a key, a base URL and at least one analyzer', () => {
    assert.throws(() => createCortex({ baseURL: fake.baseURL, analyzers: ['x'] }), /API key/);
    assert.throws(() => createCortex({ apiKey: API_KEY, analyzers: ['x'] }), /base URL/);
    assert.throws(() => createCortex({ baseURL: fake.baseURL, apiKey: API_KEY, analyzers: [' '] }), /analyzer/);
  });
});
