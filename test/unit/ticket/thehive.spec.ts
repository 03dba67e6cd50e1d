import assert from 'node:assert/strict';
import { classifyTicketError, TicketDuplicateError } from '../../../lib/ticket/errors';
import { caseTag, createTheHive } from '../../../lib/ticket/thehive';
import { startTheHiveFake, THEHIVE_KEY } from '../../fakes/thehive';
import type { TrackerFake } from '../../fakes/ticket-kit';
import type { ManualClock } from '../../helpers/fake-server';
import { closeAfterContractCheck, rejection, startOnManualClock } from '../../helpers/provider-spec';
import { START, trackerContract } from './contract';

for (const mode of ['alert', 'case'] as const) {
  trackerContract({
    name: `TheHive ${mode}`,
    start: startTheHiveFake,
    build: (fake, tuning, secret) => createTheHive({ ...tuning, baseURL: fake.url, apiKey: secret ?? THEHIVE_KEY, mode }),
    secrets: [THEHIVE_KEY],
    holdsIncident: (t, key) => (mode === 'alert' ? t.labels[0] === key : (t.extra.tags as string[]).includes(caseTag(key))),
    criticalPriority: '4',
    findMethod: 'POST',
    validation: {
      reply: { status: 400, body: { type: 'BadRequest', message: 'Invalid format for alert: customFields.team: missing' } },
      message: /customFields\.team: missing/,
    },
    rateLimit: () => ({
      reply: { status: 429, headers: { 'retry-after': '5' }, body: { type: 'TooManyRequests', message: 'Too many requests' } },
      waitMs: 5_000,
    }),
  });
}

describe('TheHive specifics', () => {
  let fake: TrackerFake;
  let clock: ManualClock;
  beforeEach(async () => {
    ({ clock, fake } = await startOnManualClock(startTheHiveFake, START));
  });
  afterEach(() => closeAfterContractCheck(fake));

  it('a second alert for the same sourceRef is refused as a duplicate that names the existing alert', async () => {
    const hive = createTheHive({ baseURL: fake.url, apiKey: THEHIVE_KEY, now: clock.now, sleep: clock.sleep });
    try {
      const first = await hive.create({ title: 't', body: 'b', severity: 4, incidentKey: 'fp-1' });
      const error = await rejection(hive.create({ title: 't', body: 'b', severity: 4, incidentKey: 'fp-1' }));
      assert.ok(error instanceof TicketDuplicateError);
      const failure = classifyTicketError(error);
      assert.equal(failure.kind, 'duplicate');
      assert.deepEqual(failure.existing, first);
      assert.match(failure.message, /already exists/);
      assert.equal(fake.tickets.length, 1);
    } finally {
      hive.close();
    }
  });

  it('sends indicators as observables with TheHive data types, on create and with a comment', async () => {
    const hive = createTheHive({ baseURL: fake.url, apiKey: THEHIVE_KEY, now: clock.now, sleep: clock.sleep, mode: 'case' });
    try {
      const ref = await hive.create({
        title: 't',
        body: 'b',
        severity: 3,
        incidentKey: 'fp-2',
        observables: [
          { type: 'ipv4', value: '203.0.113.7' },
          { type: 'sha256', value: 'a'.repeat(64) },
        ],
      });
      assert.equal(ref.type, 'case');
      assert.match(ref.key, /^#\d+$/);
      await hive.comment(ref, 'again', {
        observables: [
          { type: 'ipv4', value: '203.0.113.7' },
          { type: 'domain', value: 'evil.example' },
        ],
      });
      const observables = (fake.tickets[0].extra.observables as { dataType: string; data: string }[]).map((o) => `${o.dataType}:${o.data}`);
      assert.deepEqual(observables, ['ip:203.0.113.7', `hash:${'a'.repeat(64)}`, 'domain:evil.example']);
      assert.deepEqual(fake.tickets[0].comments, ['again']);
    } finally {
      hive.close();
    }
  });

  it('a follow-up after a closed alert gets its own sourceRef and links the old one', async () => {
    const hive = createTheHive({ baseURL: fake.url, apiKey: THEHIVE_KEY, now: clock.now, sleep: clock.sleep });
    try {
      const old = await hive.create({ title: 't', body: 'b', severity: 4, incidentKey: 'fp-3' });
      fake.tickets[0].closed = true;
      const next = await hive.create({ title: 't', body: 'b', severity: 4, incidentKey: 'fp-3', linkTo: old });
      assert.notEqual(next.id, old.id);
      assert.match(fake.tickets[1].body, new RegExp(old.key));
      assert.deepEqual(await hive.findOpenByIncident('fp-3'), next, 'the follow-up is found by its suffixed sourceRef');
      assert.equal(await hive.findOpenByIncident('fp'), undefined, 'a key that is only a prefix finds nothing');
    } finally {
      hive.close();
    }
  });
});
