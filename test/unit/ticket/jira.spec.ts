import assert from 'node:assert/strict';
import { adfText, createJira, toAdf } from '../../../lib/ticket/jira';
import { incidentLabel } from '../../../lib/ticket/common';
import { classifyTicketError } from '../../../lib/ticket/errors';
import { rejection, startOnManualClock } from '../../helpers/provider-spec';
import { START } from './contract';
import { JIRA_EMAIL, JIRA_PROJECT, JIRA_TOKEN, startJiraFake } from '../../fakes/jira';
import { trackerContract } from './contract';

trackerContract({
  name: 'Jira',
  start: startJiraFake,
  build: (fake, tuning, secret) => createJira({ ...tuning, baseURL: fake.url, email: JIRA_EMAIL, apiToken: secret ?? JIRA_TOKEN, project: JIRA_PROJECT }),
  secrets: [JIRA_TOKEN, Buffer.from(`${JIRA_EMAIL}:${JIRA_TOKEN}`).toString('base64')],
  holdsIncident: (t, key) => t.labels.includes(incidentLabel(key)) && t.labels.includes('soar'),
  criticalPriority: 'Highest',
  validation: {
    reply: { status: 400, body: { errorMessages: [], errors: { customfield_10042: 'Team is required.' } } },
    message: /customfield_10042: Team is required\./,
  },
  rateLimit: (now) => ({
    reply: {
      status: 429,
      headers: { 'retry-after': '12', 'x-ratelimit-reset': new Date(now + 60_000).toISOString().slice(0, 16) + 'Z', 'ratelimit-reason': 'jira-burst-based' },
      body: '',
    },
    waitMs: 12_000,
  }),
});

describe('Jira ADF', () => {
  it('turns text into paragraphs and hard breaks and back', () => {
    const doc = toAdf('Rule 5712\non web01\n\nsecond');
    assert.deepEqual(doc, {
      type: 'doc',
      version: 1,
      content: [
        { type: 'paragraph', content: [{ type: 'text', text: 'Rule 5712' }, { type: 'hardBreak' }, { type: 'text', text: 'on web01' }] },
        { type: 'paragraph', content: [{ type: 'text', text: 'second' }] },
      ],
    });
    assert.equal(adfText(doc), 'Rule 5712\non web01\n\nsecond\n\n');
  });

  it('keeps a many-line description under the limit once serialised', async () => {
    const fake = await startJiraFake();
    const jira = createJira({ baseURL: fake.url, email: JIRA_EMAIL, apiToken: JIRA_TOKEN, project: JIRA_PROJECT });
    try {
      await jira.create({ title: 't', body: 'line\n'.repeat(20_000), severity: 2, incidentKey: 'k' });
      const description = (fake.tickets[0].created as { description: unknown }).description;
      assert.ok(JSON.stringify(description).length <= 32_767);
      assert.match(fake.tickets[0].body, /cut by SOAR/);
    } finally {
      jira.close();
      await fake.close();
    }
  });

  it('uses a hashed label for a key with spaces', () => {
    assert.match(incidentLabel('web01 sshd 5712'), /^soar-[0-9a-f]{16}$/);
    assert.equal(incidentLabel('203.0.113.7'), 'soar-203.0.113.7');
  });
});

describe('Jira rate limit without Retry-After', () => {
  it('waits until the ISO-8601 X-RateLimit-Reset', async () => {
    const { clock, fake } = await startOnManualClock(startJiraFake, START);
    const jira = createJira({
      baseURL: fake.url,
      email: JIRA_EMAIL,
      apiToken: JIRA_TOKEN,
      project: JIRA_PROJECT,
      now: clock.now,
      sleep: clock.sleep,
      maxAttempts: 1,
    });
    try {
      fake.script('GET', {
        status: 429,
        headers: { 'x-ratelimit-limit': '100', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '2026-12-07T03:01Z' },
        body: '',
      });
      const failure = classifyTicketError(await rejection(jira.findOpenByIncident('k')));
      assert.deepEqual([failure.kind, failure.retryAfterMs], ['transient', 60_000]);
    } finally {
      jira.close();
      await fake.close();
    }
  });
});
