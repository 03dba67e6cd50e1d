/**
 * The behaviour every tracker client owes the outbox, run against each vendor's contract fake:
 * create with the incident key in the vendor's field, find it again, comment, see it closed, and
 * the failure classes (permanent with the vendor's own message, transient with the vendor's retry
 * hint, never a secret in an error).
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { classifyTicketError } from '../../../lib/ticket/errors';
import type { TicketProvider, TicketProviderOptions } from '../../../lib/ticket/types';
import type { FakeReply, ManualClock } from '../../helpers/fake-server';
import { closeAfterContractCheck, rejection, startOnManualClock } from '../../helpers/provider-spec';
import type { FakeTicket, TrackerFake } from '../../fakes/ticket-kit';

export const START = Date.parse('2026-12-07T03:00:00Z');

export interface TrackerContract {
  name: string;
  start(options: { now: () => number }): Promise<TrackerFake>;
  /** The client against the fake; `secret` replaces the right credential when given. */
  build(fake: TrackerFake, tuning: TicketProviderOptions, secret?: string): TicketProvider;
  /** Every credential the client holds (none may appear in an error). */
  secrets: string[];
  /** The incident key is where the vendor keeps it. */
  holdsIncident(ticket: FakeTicket, incidentKey: string): boolean;
  /** The priority the fake recorded for severity 5 (critical). */
  criticalPriority: string;
  /** The vendor's answer to a create that misses a required field, and its words expected in the error. */
  validation: { reply: FakeReply; message: RegExp };
  /** The vendor's rate-limit answer (at clock time `now`) and the wait it asks for. */
  rateLimit(now: number): { reply: FakeReply; waitMs: number };
  /** What 5xx the vendor sends when down. */
  serverError?: FakeReply;
  /** The HTTP method of the search (TheHive queries with POST). Default GET. */
  findMethod?: string;
  /** Close a ticket in the fake as a person would. */
  closeTicket?(ticket: FakeTicket): void;
}

export function trackerContract(spec: TrackerContract): void {
  describe(`${spec.name}: tracker contract`, () => {
    let fake: TrackerFake;
    let clock: ManualClock;
    let provider: TicketProvider;
    const tuning = (): TicketProviderOptions => ({ now: clock.now, sleep: clock.sleep, name: spec.name });

    beforeEach(async () => {
      ({ clock, fake } = await startOnManualClock(spec.start, START));
      provider = spec.build(fake, tuning());
    });
    afterEach(async () => {
      provider.close();
      await closeAfterContractCheck(fake);
    });

    const input = (incidentKey = 'fp-3f2a9c1b7d4e', extra: Record<string, unknown> = {}) => ({
      title: 'sshd brute force from 203.0.113.7',
      body: 'Rule 5712 on web01\n\nIndicators: 203[.]0[.]113[.]7',
      severity: 5,
      incidentKey,
      observables: [{ type: 'ipv4', value: '203.0.113.7' }],
      ...extra,
    });

    it('creates one ticket with the incident key in the vendor field and the mapped priority', async () => {
      const ref = await provider.create(input());
      assert.equal(fake.tickets.length, 1);
      const [ticket] = fake.tickets;
      assert.ok(spec.holdsIncident(ticket, 'fp-3f2a9c1b7d4e'), `incident key not stored: ${inspect(ticket, { depth: 4 })}`);
      assert.equal(ticket.priority, spec.criticalPriority);
      assert.ok(ref.id && ref.key, inspect(ref));
      assert.match(ref.url, /^https?:\/\/[^/]+\/./);
    });

    it('finds the open ticket of an incident, and nothing for another incident', async () => {
      const ref = await provider.create(input());
      await provider.create(input('fp-other'));
      assert.deepEqual(await provider.findOpenByIncident('fp-3f2a9c1b7d4e'), ref);
      assert.equal(await provider.findOpenByIncident('fp-nothing'), undefined);
    });

    it('adds a comment to the ticket', async () => {
      const ref = await provider.create(input());
      await provider.comment(ref, 'Seen again at 03:04 from 203.0.113.7');
      assert.deepEqual(fake.tickets[0].comments.length, 1);
      assert.match(fake.tickets[0].comments[0], /Seen again at 03:04/);
    });

    it('reports open, then closed once the ticket is closed, and a closed ticket is not found as open', async () => {
      const ref = await provider.create(input());
      assert.equal((await provider.status(ref)).state, 'open');
      (spec.closeTicket ?? ((t: FakeTicket) => (t.closed = true)))(fake.tickets[0]);
      assert.equal((await provider.status(ref)).state, 'closed');
      assert.equal(await provider.findOpenByIncident('fp-3f2a9c1b7d4e'), undefined);
    });

    it('links the earlier ticket when a new one follows a closed one', async () => {
      const old = await provider.create(input());
      await provider.create(input('fp-3f2a9c1b7d4e', { linkTo: old }));
      assert.ok(fake.tickets[1].body.includes(old.key), `no link to ${old.key} in ${fake.tickets[1].body}`);
    });

    it('a validation error is permanent and carries the tracker own message', async () => {
      fake.script('POST', spec.validation.reply);
      const error = await rejection(provider.create(input()));
      const failure = classifyTicketError(error);
      assert.equal(failure.kind, 'permanent', error.message);
      assert.match(failure.message, spec.validation.message);
      assert.equal(fake.tickets.length, 0);
    });

    it('a rate limit is transient with the vendor hint', async () => {
      const limited = spec.rateLimit(clock.now());
      provider.close();
      provider = spec.build(fake, { ...tuning(), maxAttempts: 1 });
      fake.script(spec.findMethod ?? 'GET', limited.reply);
      const failure = classifyTicketError(await rejection(provider.findOpenByIncident('fp-x')));
      assert.equal(failure.kind, 'transient', failure.message);
      assert.equal(failure.code, 'RATE_LIMITED');
      assert.ok(
        failure.retryAfterMs !== undefined && Math.abs(failure.retryAfterMs - limited.waitMs) <= 1000,
        `hint ${failure.retryAfterMs} vs ${limited.waitMs}`,
      );
    });

    it('a 5xx on create is transient and is not retried blindly (the ticket may exist)', async () => {
      fake.script('POST', spec.serverError ?? { status: 503, body: 'Service Unavailable' });
      const failure = classifyTicketError(await rejection(provider.create(input())));
      assert.equal(failure.kind, 'transient', failure.message);
      assert.equal(fake.server.count('POST'), 1);
    });

    it('a 5xx on a read is retried and then succeeds', async () => {
      await provider.create(input());
      fake.script(spec.findMethod ?? 'GET', spec.serverError ?? { status: 502, body: 'Bad Gateway' });
      const before = fake.server.count();
      assert.ok(await provider.findOpenByIncident('fp-3f2a9c1b7d4e'));
      assert.equal(fake.server.count() - before, 2, 'one failed and one retried search');
    });

    it('an unreachable tracker is transient', async () => {
      const url = fake.url;
      await fake.close();
      const down = spec.build({ ...fake, url }, { ...tuning(), maxAttempts: 1 });
      const failure = classifyTicketError(await rejection(down.findOpenByIncident('fp-x')));
      assert.equal(failure.kind, 'transient');
      assert.equal(failure.code, 'NETWORK');
      down.close();
      ({ fake } = await startOnManualClock(spec.start, START)); // for afterEach
    });

    it('a wrong credential is permanent, and no secret appears in any error', async () => {
      provider.close();
      provider = spec.build(fake, tuning(), 'wrong-credential-Qx81');
      const errors = [await rejection(provider.create(input())), await rejection(provider.comment({ id: '1', key: '#1', url: '' }, 'x'))];
      for (const error of errors) {
        const failure = classifyTicketError(error);
        assert.equal(failure.kind, 'permanent', error.message);
        const text = `${error.message} ${inspect(error, { depth: 6 })} ${JSON.stringify(error)} ${JSON.stringify(failure)}`;
        for (const secret of [...spec.secrets, 'wrong-credential-Qx81']) assert.ok(!text.includes(secret), `secret in ${text}`);
      }
    });

    it('a body over the limit is cut with a note, and an empty title is refused before sending', async () => {
      await provider.create(input('fp-long', { body: 'x'.repeat(provider.limits.body + 5000) }));
      const body = fake.tickets[0].body;
      assert.ok(body.length <= provider.limits.body + 200, `body ${body.length}`);
      assert.match(body, /cut by SOAR/);
      const before = fake.server.count('POST');
      const failure = classifyTicketError(await rejection(provider.create(input('fp-x', { title: '  ' }))));
      assert.equal(failure.kind, 'permanent');
      assert.match(failure.message, /title is empty/);
      assert.equal(fake.server.count('POST'), before);
    });

    it('maps every severity 0..6 to a priority', () => {
      const names = [0, 1, 2, 3, 4, 5, 6].map((s) => provider.priorityFor(s));
      assert.ok(
        names.every((n) => typeof n === 'string' && n !== ''),
        inspect(names),
      );
      assert.equal(provider.priorityFor(99), provider.priorityFor(0));
    });
  });
}
