import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileStateStore } from '../../../lib/core/file-store';
import { TicketOutbox, type OutboxEvent, type OutboxOptions, type TicketRequest } from '../../../lib/ticket/outbox';
import { classify, failure, FakeTracker } from './fake-tracker';

const MIN = 60_000;

describe('ticket outbox (incident ledger)', () => {
  let dir: string;
  let store: FileStateStore;
  let clock: number;
  const now = () => clock;
  const engines: TicketOutbox[] = [];

  function engine(tracker: FakeTracker, extra: Partial<OutboxOptions> = {}, on: FileStateStore = store): TicketOutbox {
    const outbox = new TicketOutbox({ store: on, provider: tracker, classify, now, random: () => 0.5, autoRun: false, tracker: 'fake:t', ...extra });
    engines.push(outbox);
    return outbox;
  }

  const alert = (incident: string, n = 0, iocs: string[] = []): TicketRequest => ({
    incidentKey: incident,
    title: `sshd brute force ${incident}`,
    body: `alert ${n} of ${incident}`,
    severity: 4,
    summary: `rule 5712 on web01`,
    observables: iocs.map((value) => ({ type: 'ipv4', value })),
  });

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-outbox-'));
    clock = Date.parse('2026-12-07T03:00:00Z');
    store = await FileStateStore.open(dir, { fsync: false, now, sweepIntervalMs: 0, compactIntervalMs: 0 });
  });

  afterEach(async () => {
    for (const e of engines.splice(0)) e.stop();
    await store.close().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates one ticket for a new incident and stores the incident key in the tracker', async () => {
    const tracker = new FakeTracker();
    const outcome = await engine(tracker).submit(alert('fp-1', 0, ['203.0.113.7']));
    assert.equal(outcome.status, 'created');
    assert.equal(outcome.key, '#1');
    assert.equal(outcome.incident, 'fp-1');
    assert.equal(tracker.tickets.length, 1);
    assert.equal(tracker.tickets[0].input.incidentKey, 'fp-1');
    assert.deepEqual(tracker.tickets[0].input.observables, [{ type: 'ipv4', value: '203.0.113.7' }]);
  });

  it('two engines on one store racing for one incident open one ticket; the rest become sightings', async () => {
    const tracker = new FakeTracker();
    tracker.delayMs = 15;
    const a = engine(tracker);
    const b = engine(tracker);
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).submit(alert('fp-race', i))));
    assert.equal(tracker.calls.create, 1);
    assert.equal(tracker.tickets.length, 1);
    assert.equal(outcomes.filter((o) => o.status === 'created').length, 1);
    assert.equal(outcomes.filter((o) => o.status === 'updated' && o.coalesced).length, 19);
    assert.ok(outcomes.every((o) => o.key === '#1'));
    // The 19 repeats come out as one comment once the window has passed.
    clock += 5 * MIN;
    await a.runDue();
    await b.runDue();
    assert.equal(tracker.commentCount, 1);
    assert.match(tracker.tickets[0].comments[0].text, /seen 19 more times/);
  });

  it('1,000 alerts of 10 incidents in 10 s give 10 tickets and at most one comment per ticket per window', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker);
    const b = engine(tracker);
    for (let batch = 0; batch < 10; batch += 1) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => {
          clock += 10; // 1,000 alerts over 10 s
          const n = batch * 100 + i;
          return (n % 3 ? a : b).submit(alert(`fp-${n % 10}`, n, [`198.51.100.${n % 10}`, `203.0.113.${n % 7}`]));
        }),
      );
    }
    assert.equal(tracker.calls.create, 10);
    assert.equal(tracker.commentCount, 0, 'no comment inside the first window');
    clock += 5 * MIN;
    await a.runDue();
    await b.runDue();
    assert.equal(tracker.commentCount, 10);
    for (const ticket of tracker.tickets) {
      assert.equal(ticket.comments.length, 1);
      assert.match(ticket.comments[0].text, /seen 99 more times between /);
      // Indicators already on the ticket are not repeated as new.
      const fresh = (ticket.comments[0].options?.observables ?? []).map((o) => o.value);
      for (const known of (ticket.input.observables ?? []).map((o) => o.value)) assert.ok(!fresh.includes(known));
    }
    // A further storm in the next window: still one comment per ticket.
    for (let n = 0; n < 200; n += 1) {
      clock += 10;
      await a.submit(alert(`fp-${n % 10}`, n));
    }
    assert.equal(tracker.commentCount, 10);
    clock += 5 * MIN;
    await a.runDue();
    assert.equal(tracker.commentCount, 20);
    assert.equal(tracker.calls.create, 10);
  });

  it('a repeat after the window is posted at once, naming only new indicators, defanged', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker);
    await a.submit(alert('fp-2', 0, ['203.0.113.7']));
    clock += 6 * MIN;
    const outcome = await a.submit(alert('fp-2', 1, ['203.0.113.7', '198.51.100.9']));
    assert.equal(outcome.status, 'updated');
    assert.equal(outcome.coalesced, undefined);
    assert.equal(tracker.commentCount, 1);
    const comment = tracker.tickets[0].comments[0];
    assert.match(comment.text, /198\[\.\]51\[\.\]100\[\.\]9/);
    assert.doesNotMatch(comment.text, /203\[\.\]0\[\.\]113\[\.\]7/);
    assert.deepEqual(comment.options?.observables, [{ type: 'ipv4', value: '198.51.100.9' }]);
  });

  it('tracker down: queued at once, kept across a restart, delivered exactly once when it is back', async () => {
    const tracker = new FakeTracker();
    tracker.down = true;
    const events: OutboxEvent[] = [];
    const first = engine(tracker, { backoff: { baseMs: 1_000, maxMs: 60_000 } });
    first.on('delivery', (e: OutboxEvent) => events.push(e));
    const outcomes = await Promise.all([first.submit(alert('fp-a', 0)), first.submit(alert('fp-b', 0)), first.submit(alert('fp-a', 1))]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['queued', 'queued', 'queued'],
    );
    assert.equal(outcomes[0].failure?.code, 'NETWORK');
    assert.equal(tracker.tickets.length, 0);
    assert.ok(events.some((e) => e.type === 'queued'));
    // A retry while still down: one probe, not one request per queued ticket.
    clock += 2 * MIN;
    const callsBefore = tracker.calls.find;
    await first.runDue();
    assert.equal(tracker.calls.find - callsBefore, 1);
    assert.deepEqual(await first.pending(), { creating: 2, sightings: 1, open: 0 });

    // Restart: a new store object and a new engine on the same directory (as after a hub restart).
    first.stop();
    await store.close();
    store = await FileStateStore.open(dir, { fsync: false, now, sweepIntervalMs: 0, compactIntervalMs: 0 });
    const second = engine(tracker, { bootId: 'after-restart' });
    const later: OutboxEvent[] = [];
    second.on('delivery', (e: OutboxEvent) => later.push(e));
    tracker.down = false;
    clock += 30 * MIN;
    await second.start();
    await second.runDue();
    assert.equal(tracker.calls.create, 2);
    assert.deepEqual(tracker.tickets.map((t) => t.input.incidentKey).sort(), ['fp-a', 'fp-b']);
    const created = later.filter((e) => e.type === 'created');
    assert.equal(created.length, 2);
    assert.ok(
      created.every((e) => e.deferred),
      'deliveries after a queued answer are marked deferred',
    );
    // Nothing delivered twice on further runs.
    clock += 60 * MIN;
    await second.runDue();
    assert.equal(tracker.calls.create, 2);
    assert.equal(tracker.tickets.find((t) => t.input.incidentKey === 'fp-a')!.comments.length, 1, 'the repeat queued while down becomes a comment');
    assert.equal((await second.pending()).creating, 0);
  });

  it('while the tracker is known to be down, new incidents queue without a request each', async () => {
    const tracker = new FakeTracker();
    tracker.down = true;
    const a = engine(tracker, { backoff: { baseMs: 60_000 } });
    assert.equal((await a.submit(alert('fp-p0', 0))).status, 'queued');
    const calls = tracker.calls.find;
    for (let i = 1; i <= 50; i += 1) assert.equal((await a.submit(alert(`fp-p${i}`, 0))).status, 'queued');
    assert.equal(tracker.calls.find, calls, 'no request while paused');
    tracker.down = false;
    clock += 2 * MIN;
    await a.runDue();
    assert.equal(tracker.tickets.length, 51);
    assert.equal(tracker.calls.create, 51);
  });

  it('a crash between claim and create: the restarted engine finds the ticket by key instead of creating it twice', async () => {
    const tracker = new FakeTracker();
    let release!: () => void;
    tracker.afterCreate = () => new Promise<void>((resolve) => (release = resolve)); // the answer never arrives
    const doomed = engine(tracker);
    const lost = doomed.submit(alert('fp-crash', 0)).catch((err: Error) => err);
    while (tracker.calls.create === 0) await new Promise((r) => setTimeout(r, 2));
    doomed.stop();
    await store.close(); // the process dies here; its lock and the "creating" record stay in the store
    store = await FileStateStore.open(dir, { fsync: false, now, sweepIntervalMs: 0, compactIntervalMs: 0 });
    tracker.afterCreate = undefined;
    const revived = engine(tracker, { bootId: 'after-crash' });
    await revived.runDue();
    assert.equal(tracker.calls.create, 1, 'not created a second time');
    assert.equal((await revived.lookup('fp-crash'))?.state, 'open');
    assert.equal((await revived.lookup('fp-crash'))?.ref?.key, '#1');
    const repeat = await revived.submit(alert('fp-crash', 1));
    assert.equal(repeat.status, 'updated');
    assert.equal(repeat.key, '#1');
    release();
    await lost;
  });

  it("after a crash, the dead process's lock is broken at once; two engines of the new process still open one ticket", async () => {
    const tracker = new FakeTracker();
    tracker.down = true;
    await engine(tracker, { bootId: 'old-process' }).submit(alert('fp-stale', 0));
    // Leave a lock of the dead process behind, as a kill -9 in the middle of a delivery does.
    await store.set('ticket:locks:fake:t', 'fp-stale', { boot: 'old-process', engine: 'x', at: clock }, { ttlMs: 3_600_000 });
    tracker.down = false;
    tracker.delayMs = 10;
    clock += 10 * MIN;
    const [a, b] = [engine(tracker, { bootId: 'new-process' }), engine(tracker, { bootId: 'new-process' })];
    await Promise.all([a.runDue(), b.runDue(), a.runDue(true), b.runDue(true)]);
    assert.equal(tracker.calls.create, 1);
    assert.equal((await a.lookup('fp-stale'))?.state, 'open');
  });

  it('a coalesced comment posted later is reported as a deferred delivery with its sighting count', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker);
    const events: OutboxEvent[] = [];
    a.on('delivery', (e: OutboxEvent) => events.push(e));
    await a.submit(alert('fp-ev', 0));
    await a.submit(alert('fp-ev', 1));
    await a.submit(alert('fp-ev', 2));
    clock += 5 * MIN;
    await a.runDue();
    assert.deepEqual(
      events.map((e) => [e.type, e.deferred, e.sightings]),
      [
        ['created', false, undefined],
        ['updated', true, 2],
      ],
    );
  });

  it('forgets a quiet incident after retainMs; a later alert finds its open ticket by searching the tracker', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker, { retainMs: 24 * 60 * MIN });
    await a.submit(alert('fp-old', 0));
    clock += 25 * 60 * MIN;
    assert.equal(await a.lookup('fp-old'), undefined, 'record expired');
    const outcome = await a.submit(alert('fp-old', 1, ['192.0.2.44']));
    assert.equal(outcome.status, 'updated');
    assert.equal(outcome.key, '#1');
    assert.equal(tracker.calls.create, 1);
    clock += 5 * MIN;
    await a.runDue();
    assert.equal(tracker.commentCount, 1, 'the alert that found it is posted as a sighting');
    assert.match(tracker.tickets[0].comments[0].text, /192\[\.\]0\[\.\]2\[\.\]44/);
  });

  it("search lag after a crash is covered by the tracker's duplicate answer (unique key trackers)", async () => {
    const tracker = new FakeTracker();
    tracker.searchBlind = true;
    tracker.failures.create.push(failure('CONFLICT', 'fake: sourceRef already exists', { status: 400 }));
    const outcome = await engine(tracker).submit(alert('fp-dup', 0));
    assert.equal(outcome.status, 'queued', 'the tracker has it but cannot say where yet: try again later');
    tracker.searchBlind = false;
    tracker.tickets.push({ ref: { id: '77', key: '#77', url: '' }, input: { ...alert('fp-dup'), incidentKey: 'fp-dup' }, state: 'open', comments: [] });
    clock += 10 * MIN;
    await engines[0].runDue();
    assert.equal((await engines[0].lookup('fp-dup'))?.ref?.key, '#77');
  });

  it("a permanent error is reported with the tracker's message and not retried", async () => {
    const tracker = new FakeTracker();
    tracker.failures.create.push(failure('BAD_REQUEST', 'Jira: customfield_10010 is required', { status: 400 }));
    const events: OutboxEvent[] = [];
    const a = engine(tracker, { failedHoldMs: 60_000 });
    a.on('delivery', (e: OutboxEvent) => events.push(e));
    const outcome = await a.submit(alert('fp-bad', 0));
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.failure?.message, 'Jira: customfield_10010 is required');
    assert.equal(outcome.failure?.kind, 'permanent');
    // Further alerts within the hold get the same answer without a call.
    const again = await a.submit(alert('fp-bad', 1));
    assert.equal(again.status, 'failed');
    assert.equal(again.failure?.message, 'Jira: customfield_10010 is required');
    clock += 30 * MIN;
    await a.runDue();
    assert.equal(tracker.calls.create, 1, 'nothing retried');
    assert.equal(events.filter((e) => e.type === 'failed').length, 1);
    // Once the hold is over (the user may have fixed the setting) a new alert tries again.
    const fixed = await a.submit(alert('fp-bad', 2));
    assert.equal(fixed.status, 'created');
  });

  it("honours the tracker's Retry-After hint on 429", async () => {
    const tracker = new FakeTracker();
    tracker.failures.create.push(failure('RATE_LIMITED', 'fake: too many requests', { status: 429, retryAfterMs: 17 * MIN }));
    const a = engine(tracker, { backoff: { baseMs: 1_000, maxMs: 60_000 } });
    const outcome = await a.submit(alert('fp-429', 0));
    assert.equal(outcome.status, 'queued');
    assert.equal(outcome.nextAttemptAt, clock + 17 * MIN);
    clock += 16 * MIN;
    await a.runDue();
    assert.equal(tracker.calls.create, 1, 'not before the hint');
    clock += 2 * MIN;
    await a.runDue();
    assert.equal(tracker.calls.create, 2);
    assert.equal(tracker.tickets.length, 1);
  });

  it('backs off exponentially while the tracker stays down', async () => {
    const tracker = new FakeTracker();
    tracker.down = true;
    const a = engine(tracker, { backoff: { baseMs: 1_000, maxMs: 8_000 } });
    const waits: number[] = [];
    a.on('delivery', (e: OutboxEvent) => e.type === 'queued' && waits.push(e.nextAttemptAt! - clock));
    await a.submit(alert('fp-x', 0));
    for (let i = 0; i < 5; i += 1) {
      clock += 60_000;
      await a.runDue();
    }
    assert.deepEqual(waits, [1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
  });

  it('a closed ticket is not reopened: the next sighting opens a new ticket that links it', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker);
    await a.submit(alert('fp-c', 0));
    tracker.tickets[0].state = 'closed';
    clock += 10 * MIN;
    const outcome = await a.submit(alert('fp-c', 1, ['192.0.2.1']));
    assert.equal(outcome.status, 'created');
    assert.equal(outcome.key, '#2');
    assert.equal(outcome.linked?.key, '#1');
    assert.deepEqual(tracker.tickets[1].input.linkTo, tracker.tickets[0].ref);
    assert.equal(tracker.tickets[0].comments.length, 0);
    assert.deepEqual(
      (await a.lookup('fp-c'))?.previous?.map((r) => r.key),
      ['#1'],
    );
  });

  it('closedPolicy comment: a repeat comments on the closed ticket instead', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker, { closedPolicy: 'comment' });
    await a.submit(alert('fp-d', 0));
    tracker.tickets[0].state = 'closed';
    clock += 10 * MIN;
    const outcome = await a.submit(alert('fp-d', 1));
    assert.equal(outcome.status, 'updated');
    assert.equal(tracker.tickets.length, 1);
    assert.equal(tracker.tickets[0].comments.length, 1);
  });

  it('a comment that fails transiently is kept and posted later, once', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker, { backoff: { baseMs: 1_000, maxMs: 60_000 } });
    await a.submit(alert('fp-e', 0));
    clock += 10 * MIN;
    tracker.failures.comment.push(failure('SERVER', 'fake: 503', { status: 503 }));
    const outcome = await a.submit(alert('fp-e', 1));
    assert.equal(outcome.status, 'queued');
    assert.equal(tracker.commentCount, 0);
    clock += 2_000;
    await a.submit(alert('fp-e', 2));
    await a.runDue();
    assert.equal(tracker.commentCount, 1);
    assert.match(tracker.tickets[0].comments[0].text, /seen 2 more times/);
    clock += 10 * MIN;
    await a.runDue();
    assert.equal(tracker.commentCount, 1);
  });

  it('refuses a request without title or incident key, calling nothing', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker);
    assert.equal((await a.submit({ ...alert('fp-f'), title: '  ' })).failure?.message, 'the title is empty');
    assert.equal((await a.submit({ ...alert(''), incidentKey: '' })).failure?.message, 'the incident key is empty');
    assert.equal(tracker.calls.find + tracker.calls.create, 0);
  });
});
