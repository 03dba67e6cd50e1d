import assert from 'node:assert/strict';
import { classifyTicketError } from '../../../lib/ticket/errors';
import { createGitHub } from '../../../lib/ticket/github';
import { incidentLabel } from '../../../lib/ticket/common';
import { GITHUB_REPO, GITHUB_TOKEN, startGitHubFake } from '../../fakes/github';
import { closeAfterContractCheck, rejection, startOnManualClock } from '../../helpers/provider-spec';
import { START, trackerContract } from './contract';

trackerContract({
  name: 'GitHub',
  start: startGitHubFake,
  build: (fake, tuning, secret) => createGitHub({ ...tuning, baseURL: fake.url, token: secret ?? GITHUB_TOKEN, repository: GITHUB_REPO }),
  secrets: [GITHUB_TOKEN],
  holdsIncident: (t, key) => t.labels.includes(incidentLabel(key)) && t.body.includes(`<!-- soar-incident: ${key} -->`),
  criticalPriority: 'severity:critical',
  validation: {
    reply: {
      status: 422,
      body: {
        message: 'Validation Failed',
        errors: [{ resource: 'Issue', code: 'custom', field: 'body', message: 'body is too long (maximum is 65536 characters)' }],
      },
    },
    message: /HTTP 422.*body is too long \(maximum is 65536 characters\)/,
  },
  // Primary limit: 403 with remaining 0 and the reset as epoch seconds.
  rateLimit: (now) => ({
    reply: {
      status: 403,
      headers: { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(now / 1000) + 900) },
      body: { message: 'API rate limit exceeded for user ID 1.' },
    },
    waitMs: 900_000,
  }),
});

describe('GitHub specifics', () => {
  it('a secondary limit (429 + retry-after) is transient with that wait; without a hint, one minute', async () => {
    const { clock, fake } = await startOnManualClock(startGitHubFake, START);
    const github = createGitHub({ baseURL: fake.url, token: GITHUB_TOKEN, repository: GITHUB_REPO, now: clock.now, sleep: clock.sleep, maxAttempts: 1 });
    try {
      fake.script('POST', { status: 429, headers: { 'retry-after': '45' }, body: { message: 'You have exceeded a secondary rate limit.' } });
      const first = classifyTicketError(await rejection(github.create({ title: 't', body: 'b', severity: 1, incidentKey: 'k' })));
      assert.deepEqual([first.kind, first.retryAfterMs], ['transient', 45_000]);
      await clock.advance(46_000);
      fake.script('POST', { status: 403, headers: { 'x-ratelimit-remaining': '12' }, body: { message: 'You have exceeded a secondary rate limit.' } });
      const second = classifyTicketError(await rejection(github.create({ title: 't', body: 'b', severity: 1, incidentKey: 'k' })));
      assert.deepEqual([second.kind, second.code, second.retryAfterMs], ['transient', 'RATE_LIMITED', 60_000]);
      fake.script('POST', { status: 403, body: { message: 'Resource not accessible by personal access token' } });
      const third = classifyTicketError(await rejection(github.create({ title: 't', body: 'b', severity: 1, incidentKey: 'k' })));
      assert.deepEqual([third.kind, third.code], ['permanent', 'FORBIDDEN']);
    } finally {
      github.close();
      await closeAfterContractCheck(fake);
    }
  });

  it('skips pull requests carrying the label', async () => {
    const { clock, fake } = await startOnManualClock(startGitHubFake, START);
    const github = createGitHub({ baseURL: fake.url, token: GITHUB_TOKEN, repository: GITHUB_REPO, now: clock.now, sleep: clock.sleep });
    try {
      fake.addTicket({ title: 'pr', labels: [incidentLabel('k')], extra: { pr: true } });
      assert.equal(await github.findOpenByIncident('k'), undefined);
    } finally {
      github.close();
      await closeAfterContractCheck(fake);
    }
  });
});
