import assert from 'node:assert/strict';
import { createGitLab } from '../../../lib/ticket/gitlab';
import { incidentLabel } from '../../../lib/ticket/common';
import { GITLAB_PROJECT, GITLAB_TOKEN, startGitLabFake } from '../../fakes/gitlab';
import { classifyTicketError } from '../../../lib/ticket/errors';
import { rejection, startOnManualClock } from '../../helpers/provider-spec';
import { START, trackerContract } from './contract';

trackerContract({
  name: 'GitLab',
  start: startGitLabFake,
  build: (fake, tuning, secret) => createGitLab({ ...tuning, baseURL: fake.url, token: secret ?? GITLAB_TOKEN, project: GITLAB_PROJECT }),
  secrets: [GITLAB_TOKEN],
  holdsIncident: (t, key) => t.labels.includes(incidentLabel(key)) && t.labels.includes('soar'),
  criticalPriority: 'severity::critical',
  validation: {
    reply: { status: 400, body: { message: { title: ["can't be blank"], labels: ['is invalid'] } } },
    message: /title: can't be blank; labels: is invalid/,
  },
  // GitLab: Retry-After seconds plus the RateLimit-* family (reset as epoch seconds).
  rateLimit: (now) => ({
    reply: {
      status: 429,
      headers: {
        'retry-after': '20',
        'ratelimit-limit': '2000',
        'ratelimit-observed': '2001',
        'ratelimit-remaining': '0',
        'ratelimit-reset': String(Math.floor(now / 1000) + 20),
        'ratelimit-resettime': new Date(now + 20_000).toUTCString(),
      },
      body: 'Retry later\n',
    },
    waitMs: 20_000,
  }),
});

describe('GitLab specifics', () => {
  it('takes the hint from RateLimit-Reset when Retry-After is missing', async () => {
    const { clock, fake } = await startOnManualClock(startGitLabFake, START);
    const gitlab = createGitLab({ baseURL: fake.url, token: GITLAB_TOKEN, project: '42', now: clock.now, sleep: clock.sleep, maxAttempts: 1 });
    try {
      fake.script('GET', {
        status: 429,
        headers: { 'ratelimit-remaining': '0', 'ratelimit-reset': String(Math.floor(START / 1000) + 33) },
        body: 'Retry later\n',
      });
      const failure = classifyTicketError(await rejection(gitlab.findOpenByIncident('k')));
      assert.equal(failure.kind, 'transient');
      assert.equal(failure.retryAfterMs, 33_000);
    } finally {
      gitlab.close();
      await fake.close();
    }
  });

  it('accepts an instance URL with or without /api/v4', () => {
    for (const url of ['https://gitlab.example.com', 'https://gitlab.example.com/api/v4/']) {
      assert.doesNotThrow(() => createGitLab({ baseURL: url, token: 't', project: '1' }).close());
    }
  });
});
