/**
 * The broker in front of the real VirusTotal provider (HTTP client, budget, quota pause) talking to
 * the VirusTotal contract fake, on a virtual clock shared by client, fake, store and deadline.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileStateStore } from '../../../lib/core/file-store';
import type { Ioc } from '../../../lib/ioc';
import { IntelBroker } from '../../../lib/intel/broker';
import { createVirusTotal } from '../../../lib/intel/providers/virustotal';
import type { Indicator, IntelProvider, IntelResult } from '../../../lib/intel/types';
import { computeVerdict } from '../../../lib/intel/verdict';
import { ManualClock, settle } from '../../helpers/fake-server';
import { startVirusTotalFake, vtQuotaExceeded, type VirusTotalFake } from '../../fakes/virustotal';

const START = Date.UTC(2026, 0, 15, 12, 0, 0);
const ip = (value: string): Ioc => ({ type: 'ipv4', value, internal: false });

/** Wraps a provider so a test can await "n lookups have settled" instead of sleeping. */
function counted(provider: IntelProvider) {
  let settled = 0;
  const waiters: { count: number; resolve: () => void }[] = [];
  const wrapped: IntelProvider = {
    kind: provider.kind,
    name: provider.name,
    types: provider.types,
    external: provider.external,
    budgetState: provider.budgetState?.bind(provider),
    close: provider.close?.bind(provider),
    lookup: (indicator: Indicator, signal?: AbortSignal) =>
      provider.lookup(indicator, signal).finally(() => {
        settled++;
        for (const waiter of waiters.filter((w) => settled >= w.count)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }),
  };
  const lookupsSettled = (count: number) => (settled >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve })));
  return { wrapped, lookupsSettled };
}

/** Most requests the fake saw within any 60 s span (half-open, like the vendor's sliding count). */
function maxPerMinute(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i] - sorted[j] >= 60_000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('intel broker + VirusTotal provider (contract fake, virtual clock)', () => {
  let root: string;
  let clock: ManualClock;
  let store: FileStateStore;
  let fake: VirusTotalFake;
  let broker: IntelBroker | undefined;

  beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-broker-vt-'));
    clock = new ManualClock(START);
    store = await FileStateStore.open(path.join(root, 'state'), { fsync: false, now: clock.now, sweepIntervalMs: 0, compactIntervalMs: 0 });
    fake = await startVirusTotalFake({ now: clock.now });
    for (let i = 1; i <= 6; i++) fake.addIp(`203.0.113.${i}`, { stats: { malicious: i * 2, harmless: 60, undetected: 10 } });
  });

  /** Lets the broker finish with answers already received: their cache writes, then its bookkeeping. */
  async function cacheWritesDone(): Promise<void> {
    await settle();
    await store.flush();
    await settle();
  }

  afterEach(async () => {
    await broker?.close();
    broker = undefined;
    await store.close();
    await fake.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('queues lookups over 4/min instead of failing them, goes on at the deadline, and caches the late answers', async () => {
    const vt = createVirusTotal({ baseURL: fake.baseURL, apiKey: fake.apiKey, now: clock.now, sleep: clock.sleep });
    const { wrapped, lookupsSettled } = counted(vt);
    broker = new IntelBroker({ providers: [wrapped], store, now: clock.now, sleep: clock.sleep });
    const six = [1, 2, 3, 4, 5, 6].map((n) => ip(`203.0.113.${n}`));

    const pending = broker.enrich(six, { deadlineMs: 10_000 });
    await lookupsSettled(4);
    await cacheWritesDone();
    assert.equal(broker.tightestBudget(), 'VirusTotal 0/4 min · 2 queued');
    await clock.advance(10_000);
    const outcome = await pending;

    assert.equal(outcome.results.length, 4);
    assert.deepEqual(
      outcome.notes.filter((note) => note.status === 'deadline').map((note) => [note.indicator?.value, note.detail]),
      [
        ['203.0.113.5', 'VirusTotal: no answer within 10 s, still queued; the answer will be cached'],
        ['203.0.113.6', 'VirusTotal: no answer within 10 s, still queued; the answer will be cached'],
      ],
    );
    const enrichment = computeVerdict(outcome);
    assert.equal(enrichment.verdict, 'malicious');
    assert.ok(enrichment.why.includes('VirusTotal: no answer within 10 s, still queued; the answer will be cached — about 203.0.113.5, 203.0.113.6'));

    // A minute later the queued two go out (never more than 4 in any minute) and land in the cache.
    await clock.advance(50_000);
    await lookupsSettled(6);
    await cacheWritesDone();
    assert.equal(fake.requests.length, 6);
    assert.ok(maxPerMinute(fake.requests.map((request) => request.at)) <= 4);
    assert.deepEqual(fake.violations, []);
    const late = await store.get<IntelResult>('intel:VirusTotal', 'ipv4:203.0.113.6');
    assert.equal(late?.summary, 'VirusTotal: 12 of 82 engines say malicious');

    // The next message with the same indicators costs no request at all.
    const again = await broker.enrich(six, { deadlineMs: 10_000 });
    assert.deepEqual(again.lookups, { requested: 0, cached: 6, shared: 0 });
    assert.equal(fake.requests.length, 6);
  });

  it('a used-up quota pauses VirusTotal until 00:00 UTC; the verdict comes from the other source, marked in why', async () => {
    const vt = createVirusTotal({ baseURL: fake.baseURL, apiKey: fake.apiKey, now: clock.now, sleep: clock.sleep });
    const feed: IntelProvider = {
      kind: 'feed',
      name: 'blocklist feed',
      types: ['ipv4'],
      external: false,
      lookup: async (indicator) => ({
        source: 'blocklist feed',
        provider: 'feed',
        indicator,
        level: 'malicious',
        found: true,
        evidence: { list: 'blocklist.de' },
        summary: 'listed on blocklist.de',
        fetchedAt: new Date(clock.now()).toISOString(),
      }),
    };
    broker = new IntelBroker({ providers: [vt, feed], store, now: clock.now, sleep: clock.sleep });

    fake.script(vtQuotaExceeded());
    const first = await broker.enrich([ip('203.0.113.1')]);
    assert.equal(first.notes[0].status, 'quota');
    assert.equal(
      first.notes[0].detail,
      'VirusTotal: quota exhausted, paused until 2026-01-16 00:00Z (12 h from now); not asked, the verdict uses the other sources',
    );
    assert.equal(broker.tightestBudget(), 'VirusTotal quota exhausted until 2026-01-16T00:00Z');

    // While paused, the next message's lookups fail fast without touching the network.
    const seen = fake.server.requests.length;
    const second = await broker.enrich([ip('203.0.113.2'), ip('203.0.113.3')]);
    assert.equal(fake.server.requests.length, seen);
    const enrichment = computeVerdict(second);
    assert.equal(enrichment.verdict, 'malicious');
    assert.deepEqual(enrichment.why, [
      'blocklist feed (weight 1) on 203.0.113.2: malicious — listed on blocklist.de (100 points)',
      'blocklist feed (weight 1) on 203.0.113.3: malicious — listed on blocklist.de (100 points)',
      'VirusTotal: quota exhausted, paused until 2026-01-16 00:00Z (12 h from now); not asked, the verdict uses the other sources — about 203.0.113.2, 203.0.113.3',
      'score 100 ≥ 70 (malicious threshold) from 203.0.113.2: 1×100 / 1 = 100, the worst of 2 scored indicators',
    ]);

    // After the reset VirusTotal is asked again (nothing of the refusal was cached).
    await clock.advanceTo(Date.UTC(2026, 0, 16, 0, 0, 1));
    const third = await broker.enrich([ip('203.0.113.2')]);
    assert.equal(third.results.find((result) => result.source === 'VirusTotal')?.level, 'malicious');
  });
});
