import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Budget } from '../../../lib/core/budget';
import { ProviderError } from '../../../lib/core/errors';
import { FileStateStore } from '../../../lib/core/file-store';
import type { StateStore } from '../../../lib/core/types';
import type { Ioc, IocType } from '../../../lib/ioc';
import { IntelBroker, type BrokerOptions, type EnrichmentOutcome, type SourceNote } from '../../../lib/intel/broker';
import { computeVerdict } from '../../../lib/intel/verdict';
import type { Indicator, IntelLevel, IntelProvider, IntelResult } from '../../../lib/intel/types';
import type { BudgetState } from '../../../lib/core/budget';
import { ManualClock, settle } from '../../helpers/fake-server';

const START = Date.UTC(2026, 0, 15, 12, 0, 0);
const HOUR = 3_600_000;

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

type Answer = (indicator: Indicator, signal?: AbortSignal) => Promise<IntelResult> | IntelResult;

/** An IntelProvider whose answers the test scripts; it records every lookup it is asked. */
class FakeSource implements IntelProvider {
  readonly kind: string;
  readonly calls: Indicator[] = [];
  readonly signals: (AbortSignal | undefined)[] = [];
  closed = false;
  state?: BudgetState;

  constructor(
    readonly name: string,
    readonly types: readonly IocType[],
    readonly external: boolean,
    public answer: Answer,
  ) {
    this.kind = name.toLowerCase();
  }

  async lookup(indicator: Indicator, signal?: AbortSignal): Promise<IntelResult> {
    this.calls.push(indicator);
    this.signals.push(signal);
    return this.answer(indicator, signal);
  }

  budgetState?(): BudgetState;

  async close(): Promise<void> {
    this.closed = true;
  }
}

function resultFor(source: string, indicator: Indicator, level: IntelLevel, extra: Partial<IntelResult> = {}): IntelResult {
  const found = extra.found ?? level !== 'unknown';
  return {
    source,
    provider: source.toLowerCase(),
    indicator: { ...indicator },
    level,
    found,
    evidence: { said: level },
    summary: found ? `${source}: says ${level}` : `${source}: never seen`,
    fetchedAt: new Date(START).toISOString(),
    ...extra,
  };
}

/** A source that says `level` about everything it is asked. */
function saying(name: string, level: IntelLevel, types: IocType[] = ['ipv4', 'domain'], external = true): FakeSource {
  return new FakeSource(name, types, external, (indicator) => resultFor(name, indicator, level));
}

const ip = (value: string, internal = false): Ioc => ({ type: 'ipv4', value, internal });
const domain = (value: string): Ioc => ({ type: 'domain', value });

function notesOf(outcome: EnrichmentOutcome, status: SourceNote['status']): SourceNote[] {
  return outcome.notes.filter((note) => note.status === status);
}

describe('intel broker', () => {
  let root: string;
  let clock: ManualClock;
  let store: FileStateStore;
  const brokers: IntelBroker[] = [];

  const openStore = () => FileStateStore.open(path.join(root, 'state'), { fsync: false, now: clock.now, sweepIntervalMs: 0, compactIntervalMs: 0 });
  const newBroker = (options: Partial<BrokerOptions> & Pick<BrokerOptions, 'providers'>) => {
    const broker = new IntelBroker({ store, now: clock.now, sleep: clock.sleep, ...options });
    brokers.push(broker);
    return broker;
  };

  beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-broker-'));
    clock = new ManualClock(START);
    store = await openStore();
  });

  afterEach(async () => {
    for (const broker of brokers.splice(0)) await broker.close();
    await store.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  describe('who is asked what', () => {
    it('never gives internal indicators to external sources, and asks sources only about their types', async () => {
      const vt = saying('VirusTotal', 'malicious', ['ipv4', 'domain']);
      const abuse = saying('AbuseIPDB', 'suspicious', ['ipv4']);
      const localFeed = saying('local feed', 'malicious', ['ipv4'], false);
      const broker = newBroker({ providers: [vt, abuse, localFeed] });

      const outcome = await broker.enrich([ip('10.1.2.3', true), ip('203.0.113.44'), domain('evil.example')]);

      assert.deepEqual(vt.calls, [
        { type: 'ipv4', value: '203.0.113.44' },
        { type: 'domain', value: 'evil.example' },
      ]);
      assert.deepEqual(abuse.calls, [{ type: 'ipv4', value: '203.0.113.44' }]);
      // A source on this machine may see internal addresses.
      assert.deepEqual(localFeed.calls, [
        { type: 'ipv4', value: '10.1.2.3' },
        { type: 'ipv4', value: '203.0.113.44' },
      ]);
      assert.deepEqual(
        notesOf(outcome, 'skipped-internal').map((note) => [note.source, note.indicator?.value]),
        [
          ['VirusTotal', '10.1.2.3'],
          ['AbuseIPDB', '10.1.2.3'],
        ],
      );
      assert.deepEqual(
        notesOf(outcome, 'skipped-type').map((note) => [note.source, note.indicator?.value]),
        [
          ['AbuseIPDB', 'evil.example'],
          ['local feed', 'evil.example'],
        ],
      );
      assert.equal(outcome.results.length, 5);
      assert.deepEqual(outcome.lookups, { requested: 5, cached: 0, shared: 0 });
    });

    it('treats an indicator as internal when any copy of it says so, and asks about it once', async () => {
      const vt = saying('VirusTotal', 'malicious');
      const broker = newBroker({ providers: [vt] });
      const outcome = await broker.enrich([ip('198.18.0.9'), ip('198.18.0.9', true), ip('198.18.0.9')]);
      assert.deepEqual(vt.calls, []);
      assert.equal(notesOf(outcome, 'skipped-internal').length, 1);
    });

    it('asks only the named sources and reports a name that is not configured', async () => {
      const vt = saying('VirusTotal', 'malicious');
      const abuse = saying('AbuseIPDB', 'benign');
      const broker = newBroker({ providers: [vt, abuse] });
      const outcome = await broker.enrich([ip('203.0.113.5')], { sources: ['AbuseIPDB', 'Shodan'] });
      assert.equal(vt.calls.length, 0);
      assert.equal(abuse.calls.length, 1);
      assert.deepEqual(notesOf(outcome, 'error'), [{ source: 'Shodan', status: 'error', detail: 'Shodan: no source of that name is configured' }]);
    });

    it('refuses two sources with the same name (the name keys the cache)', () => {
      assert.throws(() => newBroker({ providers: [saying('VT', 'benign'), saying('VT', 'malicious')] }), /named "VT"/);
    });
  });

  describe('cache', () => {
    it('keeps answers in the state store under intel:<source> / <type>:<value> and reuses them', async () => {
      const vt = saying('VirusTotal', 'malicious');
      const broker = newBroker({ providers: [vt] });
      const first = await broker.enrich([ip('203.0.113.44')]);
      assert.deepEqual(first.lookups, { requested: 1, cached: 0, shared: 0 });
      assert.equal(notesOf(first, 'answered').length, 1);

      const stored = await store.get<IntelResult>('intel:VirusTotal', 'ipv4:203.0.113.44');
      assert.equal(stored?.level, 'malicious');
      assert.deepEqual(stored, first.results[0]);

      const second = await broker.enrich([ip('203.0.113.44')]);
      assert.equal(vt.calls.length, 1, 'the second ask costs no lookup');
      assert.deepEqual(second.lookups, { requested: 0, cached: 1, shared: 0 });
      assert.deepEqual(second.results, first.results);
      assert.equal(notesOf(second, 'cached')[0].detail, `VirusTotal: from the cache (answered ${new Date(START).toISOString()})`);
    });

    it('answers from the cache after a restart, with zero provider calls', async () => {
      const vt = saying('VirusTotal', 'malicious');
      const feed = saying('feed', 'unknown', ['ipv4'], false); // a miss is cached too
      await newBroker({ providers: [vt, feed] }).enrich([ip('203.0.113.44'), ip('198.51.100.7')]);
      assert.equal(vt.calls.length + feed.calls.length, 4);

      for (const broker of brokers.splice(0)) await broker.close();
      await store.close();
      store = await openStore();

      const vtAfter = saying('VirusTotal', 'benign');
      const feedAfter = saying('feed', 'malicious', ['ipv4'], false);
      const outcome = await newBroker({ providers: [vtAfter, feedAfter] }).enrich([ip('203.0.113.44'), ip('198.51.100.7')]);
      assert.equal(vtAfter.calls.length + feedAfter.calls.length, 0);
      assert.deepEqual(outcome.lookups, { requested: 0, cached: 4, shared: 0 });
      // The answers are the ones given before the restart, not what the new providers would say.
      assert.deepEqual(
        outcome.results.map((result) => [result.source, result.indicator.value, result.level, result.found]),
        [
          ['VirusTotal', '203.0.113.44', 'malicious', true],
          ['feed', '203.0.113.44', 'unknown', false],
          ['VirusTotal', '198.51.100.7', 'malicious', true],
          ['feed', '198.51.100.7', 'unknown', false],
        ],
      );
    });

    it('keeps hits for hitTtlMs and misses for missTtlMs', async () => {
      const known = '203.0.113.1';
      const unknown = '203.0.113.2';
      const vt = new FakeSource('VirusTotal', ['ipv4'], true, (indicator) =>
        resultFor('VirusTotal', indicator, indicator.value === known ? 'malicious' : 'unknown'),
      );
      const broker = newBroker({ providers: [vt], cache: { hitTtlMs: 24 * HOUR, missTtlMs: HOUR } });
      const askBoth = () => broker.enrich([ip(known), ip(unknown)]);

      await askBoth();
      assert.equal(vt.calls.length, 2);
      await clock.advance(HOUR - 1);
      await askBoth();
      assert.equal(vt.calls.length, 2, 'both still cached just before the miss TTL');
      await clock.advance(1);
      await askBoth();
      assert.deepEqual(vt.calls.slice(2), [{ type: 'ipv4', value: unknown }], 'only the miss expired');
      await clock.advance(23 * HOUR - 1);
      await askBoth();
      assert.deepEqual(
        vt.calls.slice(3).map((call) => call.value),
        [unknown],
        'just before 24 h: the re-cached miss expired again, the hit did not',
      );
      await clock.advance(1);
      await askBoth();
      assert.deepEqual(
        vt.calls.slice(4).map((call) => call.value),
        [known],
        'the hit expires after 24 h',
      );
    });

    it('does not cache failures: the next message asks again', async () => {
      let failing = true;
      const vt = new FakeSource('VirusTotal', ['ipv4'], true, (indicator) => {
        if (failing) throw new ProviderError({ provider: 'virustotal', code: 'SERVER', message: 'virustotal: HTTP 503 TransientError' });
        return resultFor('VirusTotal', indicator, 'benign');
      });
      const broker = newBroker({ providers: [vt] });
      const first = await broker.enrich([ip('203.0.113.9')]);
      assert.deepEqual(
        notesOf(first, 'error').map((note) => note.detail),
        ['VirusTotal: lookup failed: virustotal: HTTP 503 TransientError'],
      );
      assert.deepEqual(first.results, []);
      assert.equal(await store.get('intel:VirusTotal', 'ipv4:203.0.113.9'), undefined);

      failing = false;
      const second = await broker.enrich([ip('203.0.113.9')]);
      assert.equal(vt.calls.length, 2);
      assert.equal(second.results[0].level, 'benign');
    });

    it('does not cache when the TTL is 0, and treats a malformed cache entry as a miss', async () => {
      const vt = saying('VirusTotal', 'malicious');
      const broker = newBroker({ providers: [vt], cache: { hitTtlMs: 0 } });
      await broker.enrich([ip('203.0.113.10')]);
      await broker.enrich([ip('203.0.113.10')]);
      assert.equal(vt.calls.length, 2);

      await store.set('intel:VirusTotal', 'ipv4:203.0.113.11', { not: 'a result' });
      const outcome = await broker.enrich([ip('203.0.113.11')]);
      assert.equal(vt.calls.length, 3);
      assert.equal(outcome.results[0].level, 'malicious');
    });

    it('still answers when the cache cannot be written, and says so', async () => {
      const vt = saying('VirusTotal', 'malicious');
      const brokenStore: StateStore = {
        get: async () => undefined,
        set: async () => {
          throw new Error('store stopped: earlier write failed');
        },
        setIfAbsent: async () => false,
        delete: async () => false,
        list: async () => [],
        close: async () => undefined,
      };
      const broker = newBroker({ providers: [vt], store: brokenStore });
      const outcome = await broker.enrich([ip('203.0.113.12')]);
      assert.equal(outcome.results[0].level, 'malicious');
      assert.equal(notesOf(outcome, 'answered')[0].detail, 'VirusTotal: answered; not cached (store stopped: earlier write failed)');
    });

    it('rejects nonsense TTLs', () => {
      assert.throws(() => newBroker({ providers: [], cache: { hitTtlMs: -1 } }), RangeError);
      assert.throws(() => newBroker({ providers: [], cache: { missTtlMs: Number.NaN } }), RangeError);
    });
  });

  describe('single flight', () => {
    it('lets concurrent asks for the same indicator share one lookup', async () => {
      const answer = deferred<IntelResult>();
      const vt = new FakeSource('VirusTotal', ['ipv4'], true, () => answer.promise);
      const broker = newBroker({ providers: [vt] });

      const asks = Array.from({ length: 5 }, () => broker.enrich([ip('203.0.113.44')]));
      await settle();
      assert.equal(vt.calls.length, 1);
      answer.resolve(resultFor('VirusTotal', { type: 'ipv4', value: '203.0.113.44' }, 'malicious'));
      const outcomes = await Promise.all(asks);

      assert.equal(vt.calls.length, 1);
      for (const outcome of outcomes) assert.equal(outcome.results[0].level, 'malicious');
      const total = outcomes.reduce(
        (sum, outcome) => ({
          requested: sum.requested + outcome.lookups.requested,
          shared: sum.shared + outcome.lookups.shared,
          cached: sum.cached + outcome.lookups.cached,
        }),
        { requested: 0, shared: 0, cached: 0 },
      );
      assert.deepEqual(total, { requested: 1, shared: 4, cached: 0 });
      assert.match(notesOf(outcomes[4], 'answered')[0].detail, /shared with a concurrent lookup/);
      outcomes[0].results[0].evidence.changedByAFlow = true;
      assert.equal(outcomes[1].results[0].evidence.changedByAFlow, undefined, 'messages do not share result objects');
    });

    it('shares flights between brokers on the same store, and shares failures too', async () => {
      const answer = deferred<IntelResult>();
      const first = new FakeSource('VirusTotal', ['ipv4'], true, () => answer.promise);
      const second = new FakeSource('VirusTotal', ['ipv4'], true, () => answer.promise);
      const one = newBroker({ providers: [first] });
      const two = newBroker({ providers: [second] });

      const asks = [one.enrich([ip('203.0.113.50')]), two.enrich([ip('203.0.113.50')])];
      await settle();
      answer.reject(new ProviderError({ provider: 'virustotal', code: 'AUTH', message: 'virustotal: HTTP 401 WrongCredentialsError' }));
      const outcomes = await Promise.all(asks);
      assert.equal(first.calls.length + second.calls.length, 1);
      for (const outcome of outcomes) assert.equal(notesOf(outcome, 'error').length, 1);
    });

    it('a concurrent ask that arrives while the cache is being read joins instead of asking again', async () => {
      const vt = saying('VirusTotal', 'suspicious');
      const broker = newBroker({ providers: [vt] });
      // Not awaited one by one: the second starts while the first is reading the cache.
      const [a, b] = await Promise.all([broker.enrich([ip('203.0.113.60')]), broker.enrich([ip('203.0.113.60')])]);
      assert.equal(vt.calls.length, 1);
      assert.equal(a.lookups.requested + b.lookups.requested, 1);
      assert.equal(a.lookups.shared + b.lookups.shared, 1);
    });
  });

  describe('deadline', () => {
    let unhandled: unknown[];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    beforeEach(() => {
      unhandled = [];
      process.on('unhandledRejection', onUnhandled);
    });
    afterEach(() => {
      process.off('unhandledRejection', onUnhandled);
    });

    it('goes on with what is known at the deadline; the slow answer is cached when it arrives', async () => {
      const slow = deferred<IntelResult>();
      const vt = new FakeSource('VirusTotal', ['ipv4'], true, () => slow.promise);
      const abuse = saying('AbuseIPDB', 'suspicious', ['ipv4']);
      const broker = newBroker({ providers: [vt, abuse] });

      let settled = false;
      const pending = broker.enrich([ip('203.0.113.44')], { deadlineMs: 10_000 }).finally(() => {
        settled = true;
      });
      await clock.advance(9_999);
      assert.equal(settled, false, 'waits for the slow source until the deadline');
      // AbuseIPDB's answer is being cached meanwhile; let that write finish before the deadline.
      await store.flush();
      await settle();
      await clock.advance(1);
      const outcome = await pending;

      assert.deepEqual(
        outcome.results.map((result) => result.source),
        ['AbuseIPDB'],
      );
      assert.deepEqual(notesOf(outcome, 'deadline'), [
        {
          source: 'VirusTotal',
          indicator: { type: 'ipv4', value: '203.0.113.44' },
          status: 'deadline',
          detail: 'VirusTotal: no answer within 10 s, still waiting for it; the answer will be cached',
        },
      ]);
      assert.ok(
        computeVerdict(outcome).why.includes('VirusTotal: no answer within 10 s, still waiting for it; the answer will be cached — about 203.0.113.44'),
      );

      // The lookup carries on in the background and fills the cache.
      slow.resolve(resultFor('VirusTotal', { type: 'ipv4', value: '203.0.113.44' }, 'malicious'));
      await settle();
      const cached = await store.get<IntelResult>('intel:VirusTotal', 'ipv4:203.0.113.44');
      assert.equal(cached?.level, 'malicious');
      const next = await broker.enrich([ip('203.0.113.44')]);
      assert.equal(vt.calls.length, 1);
      assert.deepEqual(
        next.results.map((result) => [result.source, result.level]),
        [
          ['VirusTotal', 'malicious'],
          ['AbuseIPDB', 'suspicious'],
        ],
      );
      assert.deepEqual(unhandled, []);
    });

    it('says "still queued" when the source has lookups waiting for budget', async () => {
      const slow = deferred<IntelResult>();
      const vt = new FakeSource('VirusTotal', ['ipv4'], true, () => slow.promise);
      vt.budgetState = () => ({ windows: [{ window: 'minute', limit: 4, used: 4, remaining: 0 }], queued: 3 });
      const broker = newBroker({ providers: [vt] });
      const pending = broker.enrich([ip('203.0.113.70')], { deadlineMs: 2_500 });
      await clock.advance(2_500);
      const outcome = await pending;
      assert.equal(notesOf(outcome, 'deadline')[0].detail, 'VirusTotal: no answer within 2.5 s, still queued; the answer will be cached');
      slow.resolve(resultFor('VirusTotal', { type: 'ipv4', value: '203.0.113.70' }, 'benign'));
    });

    it('swallows a failure that arrives after the deadline (no unhandled rejection, nothing cached)', async () => {
      const slow = deferred<IntelResult>();
      const vt = new FakeSource('VirusTotal', ['ipv4'], true, () => slow.promise);
      const broker = newBroker({ providers: [vt] });
      const pending = broker.enrich([ip('203.0.113.71')], { deadlineMs: 1_000 });
      await clock.advance(1_000);
      const outcome = await pending;
      assert.equal(notesOf(outcome, 'deadline').length, 1);

      slow.reject(new ProviderError({ provider: 'virustotal', code: 'TIMEOUT', message: 'virustotal: no complete answer within 15000 ms' }));
      await settle();
      await settle();
      assert.deepEqual(unhandled, []);
      assert.equal(await store.get('intel:VirusTotal', 'ipv4:203.0.113.71'), undefined);
      assert.deepEqual(
        outcome.notes.map((note) => note.status),
        ['deadline'],
        'the outcome already returned is not changed',
      );
    });

    it('leaves no deadline timer behind when every source answers in time', async () => {
      const broker = newBroker({ providers: [saying('VirusTotal', 'benign')] });
      await broker.enrich([ip('203.0.113.72')]);
      assert.equal(clock.pending, 0);
    });

    it('rejects when the caller aborts, and the lookup still fills the cache', async () => {
      const slow = deferred<IntelResult>();
      const vt = new FakeSource('VirusTotal', ['ipv4'], true, () => slow.promise);
      const broker = newBroker({ providers: [vt] });
      const controller = new AbortController();
      const pending = broker.enrich([ip('203.0.113.73')], { signal: controller.signal });
      await settle();
      controller.abort(new Error('message dropped'));
      await assert.rejects(pending, /message dropped/);
      slow.resolve(resultFor('VirusTotal', { type: 'ipv4', value: '203.0.113.73' }, 'malicious'));
      await settle();
      assert.equal((await store.get<IntelResult>('intel:VirusTotal', 'ipv4:203.0.113.73'))?.level, 'malicious');
      assert.deepEqual(unhandled, []);
    });
  });

  describe('quota, rate limits and errors', () => {
    const resumeAt = new Date(Date.UTC(2026, 0, 16, 0, 0, 0));

    it('notes a used-up quota with its resume time and lets the verdict use the other sources', async () => {
      const vt = new FakeSource('VirusTotal', ['ipv4'], true, () => {
        throw new ProviderError({
          provider: 'virustotal',
          code: 'QUOTA_EXHAUSTED',
          message: 'virustotal: quota exhausted (local daily budget of 500 used up); paused until 2026-01-16T00:00:00.000Z, request not sent',
          resumeAt,
          retryable: true,
        });
      });
      const abuse = new FakeSource('AbuseIPDB', ['ipv4'], true, (indicator) => resultFor('AbuseIPDB', indicator, 'malicious', { confidence: 90 }));
      const broker = newBroker({ providers: [vt, abuse] });
      const outcome = await broker.enrich([ip('203.0.113.80'), ip('203.0.113.81')]);

      const quota = notesOf(outcome, 'quota');
      assert.equal(quota.length, 2);
      assert.equal(
        quota[0].detail,
        'VirusTotal: quota exhausted, paused until 2026-01-16 00:00Z (12 h from now); not asked, the verdict uses the other sources',
      );
      assert.deepEqual(await store.list('intel:VirusTotal'), [], 'a quota refusal is not a cache entry');

      const enrichment = computeVerdict(outcome);
      assert.equal(enrichment.verdict, 'malicious');
      assert.equal(enrichment.score, 90);
      assert.ok(
        enrichment.why.includes(
          'VirusTotal: quota exhausted, paused until 2026-01-16 00:00Z (12 h from now); not asked, the verdict uses the other sources — about 203.0.113.80, 203.0.113.81',
        ),
        enrichment.why.join('\n'),
      );

      // Not cached, so the next message asks again (the HTTP client fails those fast while paused).
      await broker.enrich([ip('203.0.113.80')]);
      assert.equal(vt.calls.length, 3);
    });

    it('notes a rate limit too long to wait out, and other failures with their (redacted) message', async () => {
      const vt = new FakeSource('VirusTotal', ['ipv4'], true, () => {
        throw new ProviderError({ provider: 'virustotal', code: 'RATE_LIMITED', message: 'virustotal: rate limited', retryAfterMs: 600_000 });
      });
      const otx = new FakeSource('OTX', ['ipv4'], true, () => {
        throw new ProviderError({ provider: 'otx', code: 'AUTH', message: 'otx: HTTP 401 (check the API key)' });
      });
      const buggy = new FakeSource('buggy', ['ipv4'], false, () => {
        throw new TypeError('x'.repeat(1_000));
      });
      const broker = newBroker({ providers: [vt, otx, buggy] });
      const outcome = await broker.enrich([ip('203.0.113.90')]);
      assert.deepEqual(
        outcome.notes.slice(0, 2).map((note) => [note.status, note.detail]),
        [
          ['rate-limited', 'VirusTotal: rate limited for 10 min; not asked, the verdict uses the other sources'],
          ['error', 'OTX: lookup failed: otx: HTTP 401 (check the API key)'],
        ],
      );
      assert.equal(outcome.notes[2].status, 'error');
      assert.ok(outcome.notes[2].detail.startsWith(`buggy: lookup failed: ${'x'.repeat(100)}`));
      assert.ok(outcome.notes[2].detail.length < 400, 'long messages are cut short');
    });
  });

  describe('tightest budget', () => {
    function sourceWithBudget(name: string, budget: Budget): FakeSource {
      const source = saying(name, 'benign');
      source.budgetState = () => budget.state();
      return source;
    }

    it('reports the window with the least remaining fraction over all sources', async () => {
      const vtBudget = new Budget({ provider: 'virustotal', limits: { perMinute: 4, perDay: 500 }, now: clock.now, sleep: clock.sleep });
      const abuseBudget = new Budget({ provider: 'abuseipdb', limits: { perDay: 1000 }, now: clock.now, sleep: clock.sleep });
      const broker = newBroker({
        providers: [saying('no budget', 'benign'), sourceWithBudget('VirusTotal', vtBudget), sourceWithBudget('AbuseIPDB', abuseBudget)],
      });

      assert.equal(broker.tightestBudget(), 'VirusTotal 4/4 min', 'on a tie the shorter window is shown');
      await vtBudget.acquire();
      assert.equal(broker.tightestBudget(), 'VirusTotal 3/4 min');
      for (let i = 0; i < 3; i++) await vtBudget.acquire();
      const queued = vtBudget.acquire();
      assert.equal(broker.tightestBudget(), 'VirusTotal 0/4 min · 1 queued');
      await clock.advance(60_000);
      await queued;
      assert.equal(broker.tightestBudget(), 'VirusTotal 3/4 min');

      for (let i = 0; i < 996; i++) await abuseBudget.acquire();
      assert.equal(broker.tightestBudget(), 'AbuseIPDB 4/1000 day');

      vtBudget.pause(new Date(Date.UTC(2026, 0, 16)), 'QUOTA_EXHAUSTED', 'QuotaExceededError');
      assert.equal(broker.tightestBudget(), 'VirusTotal quota exhausted until 2026-01-16T00:00Z');
    });

    it('is undefined when no source has a budget', () => {
      assert.equal(newBroker({ providers: [saying('feed', 'benign')] }).tightestBudget(), undefined);
    });
  });

  describe('close', () => {
    it('closes the providers it owns, cancels its lookups and refuses new work', async () => {
      const vt = new FakeSource('VirusTotal', ['ipv4'], true, (_indicator, signal) => {
        return new Promise<IntelResult>((_resolve, reject) => {
          signal?.addEventListener('abort', () => reject(new ProviderError({ provider: 'virustotal', code: 'CANCELLED', message: 'virustotal: cancelled' })));
        });
      });
      const broker = newBroker({ providers: [vt] });
      const pending = broker.enrich([ip('203.0.113.100')], { deadlineMs: Infinity });
      await settle();
      await broker.close();
      const outcome = await pending;
      assert.equal(notesOf(outcome, 'error')[0].detail, 'VirusTotal: lookup failed: virustotal: cancelled');
      assert.equal(vt.closed, true);
      await assert.rejects(broker.enrich([ip('203.0.113.100')]), /closed/);
    });

    it('leaves providers open when it does not own them', async () => {
      const vt = saying('VirusTotal', 'benign');
      await newBroker({ providers: [vt], ownsProviders: false }).close();
      assert.equal(vt.closed, false);
    });
  });
});
