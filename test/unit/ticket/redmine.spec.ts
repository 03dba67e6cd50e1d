import assert from 'node:assert/strict';
import { createRedmine, redmineMarker } from '../../../lib/ticket/redmine';
import { REDMINE_KEY, REDMINE_PROJECT, startRedmineFake } from '../../fakes/redmine';
import { closeAfterContractCheck, startOnManualClock } from '../../helpers/provider-spec';
import { START, trackerContract } from './contract';

trackerContract({
  name: 'Redmine',
  start: startRedmineFake,
  build: (fake, tuning, secret) => createRedmine({ ...tuning, baseURL: fake.url, apiKey: secret ?? REDMINE_KEY, project: REDMINE_PROJECT }),
  secrets: [REDMINE_KEY],
  holdsIncident: (t, key) => t.body.endsWith(redmineMarker(key)),
  criticalPriority: '4',
  validation: {
    reply: { status: 422, body: { errors: ['Tracker cannot be blank', 'Subject cannot be blank'] } },
    message: /Tracker cannot be blank; Subject cannot be blank/,
  },
  rateLimit: () => ({ reply: { status: 429, headers: { 'retry-after': '30' }, body: 'Too Many Requests' }, waitMs: 30_000 }),
});

describe('Redmine specifics', () => {
  it('keeps the incident key in a custom field and searches it with cf_<id> when one is configured', async () => {
    const { clock, fake } = await startOnManualClock(startRedmineFake, START);
    const redmine = createRedmine({ baseURL: fake.url, apiKey: REDMINE_KEY, project: REDMINE_PROJECT, customFieldId: 7, now: clock.now, sleep: clock.sleep });
    try {
      const ref = await redmine.create({ title: 't', body: 'b', severity: 3, incidentKey: '203.0.113.7' });
      assert.deepEqual((fake.tickets[0].created as { custom_fields: unknown }).custom_fields, [{ id: 7, value: '203.0.113.7' }]);
      assert.deepEqual(await redmine.findOpenByIncident('203.0.113.7'), ref);
      assert.equal(fake.server.requestsTo('GET', '/issues.json')[0].query.cf_7, '203.0.113.7');
    } finally {
      redmine.close();
      await closeAfterContractCheck(fake);
    }
  });

  it('does not take a LIKE near-miss for the incident (_ matches any character in SQL)', async () => {
    const { clock, fake } = await startOnManualClock(startRedmineFake, START);
    const redmine = createRedmine({ baseURL: fake.url, apiKey: REDMINE_KEY, project: REDMINE_PROJECT, now: clock.now, sleep: clock.sleep });
    try {
      fake.addTicket({ title: 'other', body: `x\n\n${redmineMarker('web-01')}` });
      // The fake matches like SQL LIKE would for this case: it is told to return the near-miss.
      fake.script('GET', { status: 200, body: { issues: [{ id: 1, description: `x\n\n${redmineMarker('web-01')}` }], total_count: 1 } });
      assert.equal(await redmine.findOpenByIncident('web_01'), undefined);
    } finally {
      redmine.close();
      await closeAfterContractCheck(fake);
    }
  });

  it('refuses a URL without a scheme at construction', () => {
    assert.throws(() => createRedmine({ baseURL: 'redmine.example.org', apiKey: 'k', project: 'p' }), /must start with http/);
  });
});
