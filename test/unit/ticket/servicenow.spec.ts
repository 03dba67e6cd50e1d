import assert from 'node:assert/strict';
import { correlationId, createServiceNow } from '../../../lib/ticket/servicenow';
import { SN_PASSWORD, SN_USER, startServiceNowFake } from '../../fakes/servicenow';
import { trackerContract } from './contract';

trackerContract({
  name: 'ServiceNow',
  start: startServiceNowFake,
  build: (fake, tuning, secret) => createServiceNow({ ...tuning, baseURL: fake.url, username: SN_USER, password: secret ?? SN_PASSWORD }),
  secrets: [SN_PASSWORD, Buffer.from(`${SN_USER}:${SN_PASSWORD}`).toString('base64')],
  holdsIncident: (t, key) => t.labels[0] === `soar:${key}` && (t.created as { correlation_display?: string }).correlation_display === 'SOAR',
  criticalPriority: '1/1',
  validation: {
    reply: { status: 403, body: { error: { message: 'Operation Failed', detail: 'Data Policy Exception: Assignment group is mandatory' }, status: 'failure' } },
    message: /Operation Failed: Data Policy Exception: Assignment group is mandatory/,
  },
  rateLimit: () => ({
    reply: {
      status: 429,
      headers: { 'retry-after': '9', 'x-ratelimit-limit': '100', 'x-ratelimit-remaining': '0' },
      body: { error: { message: 'Rate limit exceeded' }, status: 'failure' },
    },
    waitMs: 9_000,
  }),
});

describe('ServiceNow specifics', () => {
  it('keeps a key an encoded query cannot carry out of the query (hashed)', () => {
    assert.equal(correlationId('fp-1'), 'soar:fp-1');
    assert.match(correlationId('a^active=false'), /^soar:[0-9a-f]{32}$/);
    assert.match(correlationId('x'.repeat(120)), /^soar:[0-9a-f]{32}$/);
  });
});
