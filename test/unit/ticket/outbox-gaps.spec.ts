/**
 * Outbox behaviour the first spec left open (found by mutation testing, `npm run mutate -- ticket`):
 * comment retries and permanent comment failures, status checks that fail, successors that carry
 * the rest of a storm, backoff jitter and pause hints, request checks, defaults, the comment text's
 * limits, claim waits, and delivery on timers (autoRun) after an outage.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileStateStore } from '../../../lib/core/file-store';
import { summaryText, TicketOutbox, type OutboxEvent, type OutboxOptions, type TicketRequest } from '../../../lib/ticket/outbox';
import type { TicketFailure } from '../../../lib/ticket/types';
import { classify, failure, FakeTracker } from './fake-tracker';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;

describe('ticket outbox: retries, failures, limits and timers', () => {
  let dir: string;
  let store: FileStateStore;
  let clock: number;
  const now = () => clock;
  const engines: TicketOutbox[] = [];

  function engine(tracker: FakeTracker, extra: Partial<OutboxOptions> = {}): TicketOutbox {
    const outbox = new TicketOutbox({ store, provider: tracker, classify, now, random: () => 0.5, autoRun: false, tracker: 'fake:t', ...extra });
    engines.push(outbox);
    return outbox;
  }

  function recorder(outbox: TicketOutbox): OutboxEvent[] {
    const events: OutboxEvent[] = [];
    outbox.on('delivery', (e: OutboxEvent) => events.push(e));
    return events;
  }

  const alert = (incident: string, n = 0, iocs: string[] = [], summary = 'rule 5712 on web01'): TicketRequest => ({
    incidentKey: incident,
    title: `sshd brute force ${incident}`,
    body: `alert ${n} of ${incident}`,
    severity: 4,
    summary,
    observables: iocs.map((value) => ({ type: 'ipv4', value })),
  });

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-outbox-gaps-'));
    clock = Date.parse('2026-12-07T03:00:00Z');
    store = await FileStateStore.open(dir, { fsync: false, now, sweepIntervalMs: 0, compactIntervalMs: 0 });
  });

  afterEach(async () => {
    for (const e of engines.splice(0)) e.stop();
    await store.close().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // ----- comments ---------------------------------------------------------------------------

  it('a comment that keeps failing transiently backs off per attempt and is not posted before it is due', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker, { backoff: { baseMs: 1_000, maxMs: 60_000 } });
    await a.submit(alert('fp-cb', 0));
    clock += 10 * MIN;
    tracker.failures.comment.push(failure('SERVER', 'fake: 503', { status: 503 }), failure('SERVER', 'fake: 503', { status: 503 }));
    const first = await a.submit(alert('fp-cb', 1));
    assert.equal(first.status, 'queued');
    assert.equal(first.key, '#1', 'the ticket the comment is for');
    assert.equal(first.nextAttemptAt, clock + 1_000);
    assert.equal(first.failure?.code, 'SERVER');
    clock += 500;
    await a.runDue();
    assert.equal(tracker.calls.comment, 1, 'not retried before the backoff');
    clock += 500;
    const events = recorder(a);
    await a.runDue();
    assert.equal(tracker.calls.comment, 2);
    assert.deepEqual(
      events.map((e) => [e.type, e.deferred, e.attempts, e.nextAttemptAt! - clock]),
      [['queued', false, 2, 2_000]],
      'the second failure waits twice as long',
    );
    clock += 2_000;
    await a.runDue();
    assert.equal(tracker.commentCount, 1);
    assert.match(tracker.tickets[0].comments[0].text, /seen again at/);
    assert.deepEqual(
      events.filter((e) => e.type === 'updated').map((e) => [e.deferred, e.sightings]),
      [[true, 1]],
      'the caller was answered "queued": the comment is the delivery it waits for',
    );
  });

  it('a comment the tracker refuses for good is reported with its message and dropped, not retried', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker);
    const events = recorder(a);
    await a.submit(alert('fp-cp', 0));
    await a.submit(alert('fp-cp', 1));
    clock += 5 * MIN;
    tracker.failures.comment.push(failure('FORBIDDEN', 'fake: no permission to comment', { status: 403 }));
    await a.runDue();
    const failed = events.filter((e) => e.type === 'failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0].failure?.message, 'fake: no permission to comment');
    assert.equal(failed[0].sightings, 1);
    assert.equal(failed[0].ref?.key, '#1');
    assert.deepEqual(await a.pending(), { creating: 0, sightings: 0, open: 1 });
    clock += 30 * MIN;
    await a.runDue();
    assert.equal(tracker.calls.comment, 1, 'not retried');
    // The incident still has its ticket: a later repeat is commented as usual.
    const later = await a.submit(alert('fp-cp', 2));
    assert.equal(later.status, 'updated');
    assert.equal(tracker.commentCount, 1);
  });

  it('a comment that was queued and is then refused for good is reported as a deferred failure', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker, { backoff: { baseMs: 1_000 } });
    const events = recorder(a);
    await a.submit(alert('fp-cq', 0));
    clock += 5 * MIN;
    tracker.failures.comment.push(failure('SERVER', 'fake: 503', { status: 503 }), failure('FORBIDDEN', 'fake: locked', { status: 403 }));
    assert.equal((await a.submit(alert('fp-cq', 1))).status, 'queued');
    clock += 1_000;
    await a.runDue();
    assert.deepEqual(
      events.filter((e) => e.type === 'failed').map((e) => [e.deferred, e.failure?.message]),
      [[true, 'fake: locked']],
    );
  });

  it('a repeat that is due is posted from submit; a repeat while a comment waits for its retry is not', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker, { backoff: { baseMs: 60_000, maxMs: 60_000 } });
    const events = recorder(a);
    await a.submit(alert('fp-due', 0));
    clock += 5 * MIN; // exactly one window later
    const at = await a.submit(alert('fp-due', 1));
    assert.equal(at.status, 'updated');
    assert.equal(at.coalesced, undefined, 'posted at once when the window has just ended');
    assert.deepEqual(
      events.filter((e) => e.type === 'updated').map((e) => [e.deferred, e.sightings]),
      [[false, 1]],
      'the caller got the answer itself: not a deferred delivery',
    );
    clock += MIN;
    await a.submit(alert('fp-due', 11)); // coalesced
    clock += 4 * MIN;
    await a.submit(alert('fp-due', 12)); // posts both
    assert.deepEqual(
      events.filter((e) => e.type === 'updated').map((e) => [e.deferred, e.sightings]),
      [
        [false, 1],
        [true, 2],
      ],
      'a comment that also carries an earlier, coalesced alert is a deferred delivery for it',
    );
    clock += 5 * MIN;
    tracker.failures.comment.push(failure('SERVER', 'fake: 502', { status: 502 }));
    assert.equal((await a.submit(alert('fp-due', 2))).status, 'queued');
    clock += 30_000;
    const waiting = await a.submit(alert('fp-due', 3));
    assert.equal(waiting.status, 'updated');
    assert.equal(waiting.coalesced, true);
    assert.equal(tracker.calls.comment, 3, 'no call while the retry is pending');
  });

  it('while the tracker is paused by another failure, a due repeat waits instead of calling it', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker, { backoff: { baseMs: MIN, maxMs: MIN } });
    await a.submit(alert('fp-open', 0));
    clock += 5 * MIN;
    tracker.down = true;
    assert.equal((await a.submit(alert('fp-new', 0))).status, 'queued');
    const calls = tracker.calls.status + tracker.calls.comment;
    const repeat = await a.submit(alert('fp-open', 1));
    assert.deepEqual([repeat.status, repeat.coalesced], ['updated', true]);
    assert.equal(tracker.calls.status + tracker.calls.comment, calls, 'no request while paused');
  });

  it('indicators named in one comment are not named again in the next', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker);
    await a.submit(alert('fp-seen', 0, ['192.0.2.1']));
    clock += 5 * MIN;
    await a.submit(alert('fp-seen', 1, ['198.51.100.9']));
    clock += 5 * MIN;
    await a.submit(alert('fp-seen', 2, ['198.51.100.9', '192.0.2.1']));
    assert.equal(tracker.commentCount, 2);
    const [first, second] = tracker.tickets[0].comments;
    assert.match(first.text, /198\[\.\]51\[\.\]100\[\.\]9/);
    assert.doesNotMatch(second.text, /New indicators|198\[\.\]51|192\[\.\]0/);
    assert.equal(second.options, undefined);
  });

  it('sighting summaries are one line each (a newline in an alert cannot start its own line in the comment)', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker);
    await a.submit(alert('fp-nl', 0));
    await a.submit(alert('fp-nl', 1, [], 'rule 5712\n\n# not a heading'));
    await a.submit(alert('fp-nl', 2, [], 'x'.repeat(400)));
    clock += 5 * MIN;
    await a.runDue();
    const lines = tracker.tickets[0].comments[0].text.split('\n');
    assert.ok(lines.includes('- rule 5712 # not a heading'), lines.join('\n'));
    assert.ok(lines.includes(`- ${'x'.repeat(300)}`), 'a long summary is cut at 300 characters');
  });

  it('a summary cut at 300 characters does not end in half an emoji', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker);
    await a.submit(alert('fp-emoji', 0));
    await a.submit(alert('fp-emoji', 1, [], `${'x'.repeat(299)}😀 after`));
    clock += 5 * MIN;
    await a.runDue();
    const lines = tracker.tickets[0].comments[0].text.split('\n');
    assert.ok(lines.includes(`- ${'x'.repeat(299)}`), lines.join('\n'));
  });

  // ----- status checks and successors -------------------------------------------------------

  it('a status check that fails transiently keeps the sightings; a ticket gone from the tracker gets a successor', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker, { backoff: { baseMs: 1_000, maxMs: 60_000 } });
    await a.submit(alert('fp-st', 0));
    clock += 5 * MIN;
    tracker.failures.status.push(failure('TIMEOUT', 'fake: timed out'));
    const queued = await a.submit(alert('fp-st', 1));
    assert.equal(queued.status, 'queued');
    assert.equal(queued.failure?.code, 'TIMEOUT');
    assert.equal(tracker.calls.comment, 0);
    clock += 1_000;
    await a.runDue();
    assert.equal(tracker.commentCount, 1);
    // Deleted in the tracker: counts as closed, the next sighting opens a new ticket linking it.
    tracker.tickets.splice(0, 1);
    clock += 5 * MIN;
    const next = await a.submit(alert('fp-st', 2));
    assert.equal(next.status, 'created');
    assert.equal(next.linked?.key, '#1');
  });

  it('a status check the tracker refuses for good drops the sightings with its message', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker);
    const events = recorder(a);
    await a.submit(alert('fp-sp', 0));
    clock += 5 * MIN;
    tracker.failures.status.push(failure('AUTH', 'fake: token expired', { status: 401 }));
    const outcome = await a.submit(alert('fp-sp', 1));
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.failure?.message, 'fake: token expired');
    assert.equal(events.at(-1)?.type, 'failed');
    assert.equal((await a.pending()).sightings, 0);
    assert.equal(tracker.tickets.length, 1, 'no new ticket for an unreadable one');
  });

  it('a successor carries the latest alert and a summary of the whole storm since the last comment', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker);
    await a.submit(alert('fp-sx', 0, ['192.0.2.1']));
    const events = recorder(a);
    await a.submit(alert('fp-sx', 1, ['198.51.100.1'], 'first kind'));
    clock += 1_000;
    await a.submit(alert('fp-sx', 2, ['198.51.100.1', '198.51.100.2'], 'second kind'));
    tracker.tickets[0].state = 'closed';
    clock += 5 * MIN;
    await a.runDue();
    assert.equal(tracker.tickets.length, 2);
    const input = tracker.tickets[1].input;
    assert.equal(input.title, 'sshd brute force fp-sx');
    assert.match(input.body, /^alert 2 of fp-sx\n\nSOAR: seen 2 more times between /);
    assert.match(input.body, /- first kind\n- second kind/);
    assert.deepEqual(
      input.observables?.map((o) => o.value),
      ['198.51.100.1', '198.51.100.2'],
    );
    assert.deepEqual(input.linkTo, tracker.tickets[0].ref);
    assert.deepEqual(
      events.filter((e) => e.type === 'created').map((e) => [e.ref?.key, e.linked?.key]),
      [['#2', '#1']],
    );
    // A single sighting: the successor is that alert as it was.
    tracker.tickets[1].state = 'closed';
    clock += 5 * MIN;
    await a.submit(alert('fp-sx', 3));
    assert.equal(tracker.tickets[2].input.body, 'alert 3 of fp-sx');
    assert.deepEqual(
      (await a.lookup('fp-sx'))?.previous?.map((r) => r.key),
      ['#1', '#2'],
    );
  });

  // ----- create failures --------------------------------------------------------------------

  it('a create refused for good after an outage drops the queued repeats and reports a deferred failure', async () => {
    const tracker = new FakeTracker();
    tracker.down = true;
    const a = engine(tracker, { backoff: { baseMs: 1_000, maxMs: 60_000 } });
    const events = recorder(a);
    assert.equal((await a.submit(alert('fp-pf', 0))).status, 'queued');
    assert.equal((await a.submit(alert('fp-pf', 1))).status, 'queued');
    tracker.down = false;
    tracker.failures.create.push(failure('BAD_REQUEST', 'fake: project SEC does not exist', { status: 400 }));
    clock += MIN;
    await a.runDue();
    const failed = events.filter((e) => e.type === 'failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0].deferred, true, 'the caller was told "queued": this is the outcome it waits for');
    assert.equal(failed[0].sightings, 1);
    assert.equal(failed[0].failure?.message, 'fake: project SEC does not exist');
    assert.deepEqual(await a.pending(), { creating: 0, sightings: 0, open: 0 });
  });

  it('the default failure hold is one minute', async () => {
    const tracker = new FakeTracker();
    tracker.failures.create.push(failure('BAD_REQUEST', 'fake: bad field', { status: 400 }));
    const a = engine(tracker);
    assert.equal((await a.submit(alert('fp-hold', 0))).status, 'failed');
    clock += 59_000;
    assert.equal((await a.submit(alert('fp-hold', 1))).status, 'failed');
    assert.equal(tracker.calls.create, 1);
    clock += 2_000;
    assert.equal((await a.submit(alert('fp-hold', 2))).status, 'created');
  });

  it('a duplicate answer naming the existing ticket opens the incident on it without a search', async () => {
    const tracker = new FakeTracker();
    const existing = { id: '41', key: '#41', url: 'http://127.0.0.1/fake/41' };
    tracker.failures.create.push(failure('CONFLICT', 'fake: exists'));
    const withExisting = (error: unknown): TicketFailure => {
      const out = classify(error);
      return out.kind === 'duplicate' ? { ...out, existing } : out;
    };
    const a = engine(tracker, { classify: withExisting });
    const outcome = await a.submit(alert('fp-ex', 0));
    assert.equal(outcome.key, '#41');
    assert.equal(tracker.calls.find, 1, 'only the search before create');
  });

  it('a duplicate the search cannot see yet is queued, saying so', async () => {
    const tracker = new FakeTracker();
    tracker.searchBlind = true;
    tracker.failures.create.push(failure('CONFLICT', 'fake: sourceRef already exists', { status: 400 }));
    const outcome = await engine(tracker).submit(alert('fp-lag', 0));
    assert.equal(outcome.status, 'queued');
    assert.equal(outcome.failure?.kind, 'transient');
    assert.equal(outcome.failure?.message, 'fake: sourceRef already exists (the tracker has it but search does not show it yet)');
  });

  it('after a crash mid-create, the ticket found by search is reported created and the alert is not commented again', async () => {
    const tracker = new FakeTracker();
    let release!: () => void;
    tracker.afterCreate = () => new Promise<void>((resolve) => (release = resolve));
    const doomed = engine(tracker);
    const lost = doomed.submit(alert('fp-cr', 0)).catch((err: Error) => err);
    while (tracker.calls.create === 0) await new Promise((r) => setTimeout(r, 2));
    doomed.stop();
    await store.close();
    store = await FileStateStore.open(dir, { fsync: false, now, sweepIntervalMs: 0, compactIntervalMs: 0 });
    tracker.afterCreate = undefined;
    const revived = engine(tracker, { bootId: 'after-crash' });
    const events = recorder(revived);
    await revived.runDue();
    assert.deepEqual(
      events.map((e) => [e.type, e.deferred]),
      [['created', false]],
      'nobody was told "queued" for it',
    );
    clock += 10 * MIN;
    await revived.runDue();
    assert.equal(tracker.commentCount, 0, 'the ticket already has that alert as its body');
    release();
    await lost;
  });

  // ----- backoff, pause and recovery --------------------------------------------------------

  it('backoff jitter spreads retries between 80 % and 120 % of the step', async () => {
    for (const [random, wait] of [
      [0, 800],
      [1, 1_200],
    ] as const) {
      const tracker = new FakeTracker();
      tracker.down = true;
      const a = engine(tracker, { backoff: { baseMs: 1_000 }, random: () => random, tracker: `fake:j${random}` });
      const outcome = await a.submit(alert('fp-j', 0));
      assert.equal(outcome.nextAttemptAt! - clock, wait);
    }
  });

  it("honours the tracker's pause (resumeAt), but never longer than maxHintMs", async () => {
    const pausedFor =
      (ms: number) =>
      (error: unknown): TicketFailure => ({ ...classify(error), resumeAt: new Date(clock + ms) });
    const tracker = new FakeTracker();
    tracker.down = true;
    const a = engine(tracker, { classify: pausedFor(40 * MIN), backoff: { baseMs: 1_000 } });
    assert.equal((await a.submit(alert('fp-r', 0))).nextAttemptAt, clock + 40 * MIN);
    const b = engine(tracker, { classify: pausedFor(3 * DAY), backoff: { baseMs: 1_000 }, maxHintMs: 2 * 3_600_000, tracker: 'fake:r2' });
    assert.equal((await b.submit(alert('fp-r', 0))).nextAttemptAt, clock + 2 * 3_600_000);
  });

  it('while paused, a new incident is queued until the pause ends and its later delivery is reported deferred', async () => {
    const tracker = new FakeTracker();
    tracker.down = true;
    const a = engine(tracker, { backoff: { baseMs: 60_000 } });
    const first = await a.submit(alert('fp-q0', 0));
    const events = recorder(a);
    const second = await a.submit(alert('fp-q1', 0));
    assert.equal(second.status, 'queued');
    assert.equal(second.nextAttemptAt, first.nextAttemptAt, 'due when the pause ends');
    assert.deepEqual(
      events.map((e) => [e.type, e.incident, e.deferred, e.nextAttemptAt]),
      [['queued', 'fp-q1', false, first.nextAttemptAt]],
    );
    // A repeat of the queued incident does not wait for a first attempt that already happened.
    const repeat = await a.submit(alert('fp-q1', 1));
    assert.equal(repeat.status, 'queued');
    assert.equal(repeat.nextAttemptAt, first.nextAttemptAt);
    tracker.down = false;
    clock += 2 * MIN;
    await a.runDue();
    const created = events.filter((e) => e.type === 'created');
    assert.deepEqual(created.map((e) => [e.incident, e.deferred]).sort(), [
      ['fp-q0', true],
      ['fp-q1', true],
    ]);
  });

  it('draining after an outage keeps at most `concurrency` requests in flight', async () => {
    const tracker = new FakeTracker();
    tracker.down = true;
    const a = engine(tracker, { concurrency: 2, backoff: { baseMs: 1_000 } });
    for (let i = 0; i < 8; i += 1) await a.submit(alert(`fp-c${i}`, 0));
    tracker.down = false;
    let inFlight = 0;
    let most = 0;
    const create = tracker.create.bind(tracker);
    tracker.create = async (input) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      try {
        await new Promise((r) => setTimeout(r, 5));
        return await create(input);
      } finally {
        inFlight -= 1;
      }
    };
    clock += MIN;
    assert.equal(await a.runDue(), 8);
    assert.equal(tracker.tickets.length, 8);
    assert.equal(most, 2);
  });

  it('runDue attempts only what is due and reports how many', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker);
    await a.submit(alert('fp-d1', 0));
    await a.submit(alert('fp-d1', 1)); // a sighting, due in 5 minutes
    // Another engine on the store queued a ticket during an outage, due in 10 minutes.
    tracker.down = true;
    await engine(tracker, { backoff: { baseMs: 10 * MIN, maxMs: 10 * MIN } }).submit(alert('fp-d0', 0));
    tracker.down = false;
    const calls = tracker.calls.find + tracker.calls.create + tracker.calls.comment;
    clock += MIN;
    assert.equal(await a.runDue(), 0, 'nothing due yet');
    assert.equal(tracker.calls.find + tracker.calls.create + tracker.calls.comment, calls);
    clock += 4 * MIN;
    assert.equal(await a.runDue(), 1, 'the comment');
    assert.equal(tracker.commentCount, 1);
    clock += 5 * MIN;
    assert.equal(await a.runDue(), 1, 'the queued create');
    assert.equal(tracker.tickets.length, 2);
  });

  it('a stopped engine delivers nothing until started again', async () => {
    const tracker = new FakeTracker();
    tracker.down = true;
    const a = engine(tracker, { backoff: { baseMs: 1_000 } });
    await a.submit(alert('fp-stop', 0));
    tracker.down = false;
    a.stop();
    clock += MIN;
    assert.equal(await a.runDue(), 0);
    assert.equal(tracker.calls.create, 0);
    await a.start();
    assert.equal(tracker.calls.create, 1);
  });

  it('with timers on, a queued ticket is delivered on its own after the backoff, exactly once', async () => {
    const tracker = new FakeTracker();
    tracker.down = true;
    const a = engine(tracker, { autoRun: undefined, now: Date.now, backoff: { baseMs: 40, maxMs: 40 } });
    const created = new Promise<OutboxEvent>((resolve) => a.on('delivery', (e: OutboxEvent) => e.type === 'created' && resolve(e)));
    assert.equal((await a.submit(alert('fp-auto', 0))).status, 'queued');
    setTimeout(() => (tracker.down = false), 100);
    const event = await created;
    assert.equal(event.deferred, true);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(tracker.calls.create, 1);
    assert.equal(tracker.tickets.length, 1);
  });

  it('with timers on, a delivery that gets through sends everything queued at once, not at its own backoff', async () => {
    const tracker = new FakeTracker();
    tracker.down = true;
    const a = engine(tracker, { autoRun: undefined, backoff: { baseMs: 10 * MIN, maxMs: 10 * MIN } });
    const delivered = new Promise<OutboxEvent>((resolve) => a.on('delivery', (e: OutboxEvent) => e.type === 'created' && e.incident === 'fp-w0' && resolve(e)));
    await a.submit(alert('fp-w0', 0));
    tracker.down = false;
    clock += 11 * MIN; // the pause is over for new alerts; fp-w0 is due too, but no timer of ours ran
    assert.equal((await a.submit(alert('fp-w1', 0))).status, 'created');
    await delivered;
    assert.equal(tracker.tickets.length, 2);
  });

  it('with timers on, a later comment window does not push back an earlier retry', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker, { autoRun: undefined, now: Date.now, backoff: { baseMs: 40, maxMs: 40 } });
    await a.submit(alert('fp-late', 0));
    tracker.down = true;
    const created = new Promise<OutboxEvent>((resolve) => a.on('delivery', (e: OutboxEvent) => e.type === 'created' && resolve(e)));
    assert.equal((await a.submit(alert('fp-soon', 0))).status, 'queued'); // retry in 40 ms
    assert.equal((await a.submit(alert('fp-late', 1))).coalesced, true); // a comment due in 5 minutes
    tracker.down = false;
    const timeout = new Promise<undefined>((r) => setTimeout(() => r(undefined), 1_000).unref());
    const event = await Promise.race([created, timeout]);
    assert.equal(event?.incident, 'fp-soon', 'delivered within a second, not after the comment window');
  });

  // ----- request checks, defaults -----------------------------------------------------------

  it('refuses malformed requests with a clear message, calling nothing', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker);
    const refused = async (request: unknown) => (await a.submit(request as TicketRequest)).failure;
    assert.deepEqual(await refused(undefined), { kind: 'permanent', code: 'BAD_REQUEST', message: 'no ticket request' });
    assert.equal((await a.submit(undefined as unknown as TicketRequest)).incident, '');
    assert.equal((await refused('fp'))?.message, 'no ticket request');
    assert.equal((await refused({ ...alert('   '), incidentKey: '   ' }))?.message, 'the incident key is empty');
    assert.equal((await refused({ ...alert('fp'), incidentKey: 7 }))?.message, 'the incident key is empty');
    assert.equal((await refused({ ...alert('fp'), title: 7 }))?.message, 'the title is empty');
    assert.equal((await refused({ ...alert('fp'), body: { text: 'x' } }))?.message, 'the body is not text');
    assert.equal((await refused({ ...alert('fp'), severity: '4' }))?.message, 'the severity is not a number');
    assert.equal((await refused({ ...alert('fp'), severity: Number.NaN }))?.message, 'the severity is not a number');
    const outcome = await a.submit({ ...alert('fp-bad'), body: 3 } as unknown as TicketRequest);
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.incident, 'fp-bad');
    assert.equal(tracker.calls.find + tracker.calls.create, 0);
  });

  it('the incident key is trimmed: " fp-1 " and "fp-1" are one incident', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker);
    assert.equal((await a.submit(alert(' fp-1 ', 0))).incident, 'fp-1');
    assert.equal(tracker.tickets[0].input.incidentKey, 'fp-1');
    assert.equal((await a.submit(alert('fp-1', 1))).status, 'updated');
    assert.equal(tracker.calls.create, 1);
  });

  it('the ledger is per tracker (default name kind:name): one incident gets a ticket in each tracker', async () => {
    const one = new FakeTracker('one');
    const two = new FakeTracker('two');
    const a = engine(one, { tracker: undefined });
    const b = engine(two, { tracker: undefined });
    const first = await a.submit(alert('fp-tr', 0));
    assert.equal(first.provider, 'fake:one');
    assert.equal((await b.submit(alert('fp-tr', 0))).status, 'created');
    assert.equal(two.tickets.length, 1);
    assert.deepEqual(await a.pending(), { creating: 0, sightings: 0, open: 1 });
    assert.deepEqual(await a.lookup('fp-tr'), { state: 'open', ref: one.tickets[0].ref, attempts: 1 });
  });

  it('an open incident is remembered for 30 days by default; a queued ticket is never forgotten', async () => {
    const tracker = new FakeTracker();
    const a = engine(tracker, { retainMs: undefined });
    await a.submit(alert('fp-keep', 0));
    clock += 29 * DAY;
    await a.submit(alert('fp-keep', 1));
    assert.equal(tracker.calls.find, 1, 'known from the ledger, no search');
    clock += 31 * DAY;
    assert.equal(await a.lookup('fp-keep'), undefined);

    tracker.down = true;
    const b = engine(tracker, { retainMs: DAY, backoff: { baseMs: 3 * DAY, maxMs: 3 * DAY }, tracker: 'fake:t2' });
    await b.submit(alert('fp-long', 0));
    clock += 2 * DAY;
    assert.equal((await b.lookup('fp-long'))?.state, 'creating');
    tracker.down = false;
    clock += 2 * DAY;
    await b.runDue();
    assert.equal((await b.lookup('fp-long'))?.state, 'open');
  });

  it('on a store shared with other processes, a dead holder’s lock runs out after lockTtlMs (default 5 minutes)', async () => {
    const tracker = new FakeTracker();
    tracker.down = true;
    const a = engine(tracker, { exclusiveStore: false, backoff: { baseMs: 1_000 } });
    await a.submit(alert('fp-lk', 0));
    await store.set('ticket:locks:fake:t', 'fp-lk', { boot: 'other-process', engine: 'x', at: clock }, { ttlMs: 5 * MIN });
    tracker.down = false;
    clock += MIN;
    await a.runDue();
    assert.equal(tracker.calls.create, 0, 'held by another process');
    clock += 5 * MIN;
    await a.runDue();
    assert.equal(tracker.calls.create, 1);
    // Our own lock carries the TTL too: a holder that dies leaves nothing that blocks for good.
    let release!: () => void;
    tracker.afterCreate = () => new Promise<void>((resolve) => (release = resolve));
    const hung = a.submit(alert('fp-lk2', 0));
    while (tracker.calls.create < 2) await new Promise((r) => setTimeout(r, 2));
    clock += 5 * MIN + 1;
    assert.equal(await store.get('ticket:locks:fake:t', 'fp-lk2'), undefined);
    release();
    await hung;
  });

  it('a repeat waits at most claimWaitMs for the first attempt, then is answered queued', async () => {
    const tracker = new FakeTracker();
    let release!: () => void;
    tracker.afterCreate = () => new Promise<void>((resolve) => (release = resolve)); // the create hangs until released
    const a = engine(tracker, { claimWaitMs: 50 });
    const first = a.submit(alert('fp-cw', 0));
    while (tracker.calls.create === 0) await new Promise((r) => setTimeout(r, 2));
    const repeat = await a.submit(alert('fp-cw', 1));
    assert.equal(repeat.status, 'queued', 'answered while the create still hangs');
    release();
    assert.equal((await first).status, 'created');
  });

  // ----- the comment text -------------------------------------------------------------------

  it('the coalesced comment names the window, caps kinds at 10 and new indicators at 50', () => {
    const sightings = Array.from({ length: 13 }, (_, i) => ({ time: i * 1_000, summary: `kind ${i}` }));
    const fresh = Array.from({ length: 53 }, (_, i) => ({ type: 'ipv4', value: `192.0.2.${i}` }));
    const text = summaryText('fp', sightings, fresh, 10 * MIN);
    const lines = text.split('\n');
    assert.equal(
      lines[0],
      'SOAR: seen 13 more times between 1970-01-01T00:00:00.000Z and 1970-01-01T00:00:12.000Z (incident fp; comments are combined, at most one every 10 min).',
    );
    assert.deepEqual(lines.slice(1, 12), [...Array.from({ length: 10 }, (_, i) => `- kind ${i}`), '- … and 3 other kinds']);
    assert.equal(lines[12], 'New indicators (defanged):');
    assert.equal(lines[13], '- ipv4 192[.]0[.]2[.]0');
    assert.equal(lines.length, 12 + 1 + 50 + 1);
    assert.equal(lines.at(-1), '- … and 3 more');
    // Exactly 10 kinds and 50 indicators: no "… and" line.
    const exact = summaryText('fp', sightings.slice(0, 10), fresh.slice(0, 50), 30_000).split('\n');
    assert.equal(exact.filter((l) => l.startsWith('- …')).length, 0);
    assert.match(exact[0], /at most one every 1 min\)\.$/, 'a window under a minute reads as 1 min');
  });
});
