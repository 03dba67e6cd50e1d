import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ProviderError } from '../../../lib/core/errors';
import { WazuhEdr, type WazuhEdrOptions } from '../../../lib/edr/wazuh';
import type { ManualClock } from '../../helpers/fake-server';
import { closeAfterContractCheck, rejectsWith, startOnManualClock } from '../../helpers/provider-spec';
import { startWazuhFake, WAZUH_PASSWORD, WAZUH_USER, type WazuhFake } from '../../fakes/wazuh';

describe('WazuhEdr against the Wazuh manager API contract fake', () => {
  let fake: WazuhFake;
  let clock: ManualClock;
  let logs: string[];

  const provider = (overrides: Partial<WazuhEdrOptions> = {}) =>
    new WazuhEdr({
      name: 'wz',
      url: fake.url,
      username: WAZUH_USER,
      password: WAZUH_PASSWORD,
      allow: ['198.18.0.2'],
      http: { now: clock.now, sleep: clock.sleep, random: () => 0.5 },
      log: (l) => logs.push(l),
      ...overrides,
    });
  const puts = () => fake.server.requestsTo('PUT', '/active-response');

  beforeEach(async () => {
    ({ clock, fake } = await startOnManualClock(startWazuhFake, Date.UTC(2026, 0, 15, 12, 0, 0)));
    logs = [];
    fake.agents.push(
      { id: '001', name: 'web01', ip: '198.18.0.41', status: 'active' },
      { id: '002', name: 'db01', ip: '198.18.0.42', status: 'active' },
      { id: '009', name: 'laptop9', ip: '198.18.0.49', status: 'disconnected' },
    );
  });
  afterEach(() => closeAfterContractCheck(fake));

  it('logs in with Basic, resolves the agent and runs the command with the action and allow list; status is unknown', async () => {
    const edr = provider();
    assert.equal(edr.capabilities.status, false);
    const device = await edr.resolve('web01');
    assert.equal(device.id, '001');
    const login = fake.server.requestsTo('POST', '/security/user/authenticate')[0];
    assert.equal(login.headers.authorization, `Basic ${Buffer.from(`${WAZUH_USER}:${WAZUH_PASSWORD}`).toString('base64')}`);
    const result = await edr.isolate(device, { comment: 'INC-7' });
    assert.equal(result.outcome, 'sent');
    assert.equal(result.status.state, 'unknown');
    assert.equal(result.handle, undefined, 'nothing to follow');
    assert.equal(puts()[0].query.agents_list, '001');
    assert.match(puts()[0].headers.authorization, /^Bearer eyJ/);
    assert.deepEqual(puts()[0].json, {
      command: 'soar-isolate',
      arguments: [],
      alert: { data: { soar_action: 'isolate', allow: ['198.18.0.2'], comment: 'INC-7' } },
    });
    assert.equal((await edr.release(await edr.resolve('198.18.0.41'))).outcome, 'sent');
    assert.deepEqual(
      fake.runs.map((r) => [r.agent, (r.alert as { data: { soar_action: string } }).data.soar_action]),
      [
        ['001', 'isolate'],
        ['001', 'release'],
      ],
    );
    assert.deepEqual(await edr.status('001'), { deviceId: '001', state: 'unknown' });
    assert.equal((await edr.resolve('2')).name, 'db01');
  });

  it('unknown and ambiguous agents are refused before any command; the manager (000) is never a target', async () => {
    const edr = provider();
    await rejectsWith(edr.resolve('ghost'), 'NOT_FOUND', /unknown host "ghost"/);
    fake.agents.push({ id: '010', name: 'web01', ip: '198.18.0.50', status: 'active' });
    await rejectsWith(edr.resolve('web01'), 'CONFLICT', /ambiguous host "web01": 2 devices match: web01 \(001\), web01 \(010\)/);
    await rejectsWith(edr.resolve('wazuh-manager'), 'BAD_REQUEST', /manager itself/);
    await rejectsWith(edr.dispatch('isolate', ['001', '000']), 'BAD_REQUEST');
    assert.equal(puts().length, 0);
  });

  it('a failed agent in an HTTP 200 body is a failure; several agents report which took it and which did not', async () => {
    const edr = provider();
    await rejectsWith(edr.isolate({ id: '009', name: 'laptop9' }), 'BODY_ERROR', /failed for agent\(s\) 009 \(1651 Active response - Agent is not active\)/);
    const error = await rejectsWith(edr.dispatch('isolate', ['001', '009', '077', '002']), 'BODY_ERROR');
    assert.match(error.message, /009 \(1651[^)]*\), 077 \(1701 Agent does not exist\); taken by 001, 002/);
    assert.deepEqual((error.body as { affected: string[] }).affected, ['001', '002']);
    assert.deepEqual(
      fake.runs.map((r) => r.agent),
      ['001', '002'],
    );
    // error 2 with failed_items missing: an agent that is not in affected_items still fails.
    fake.script('PUT', { body: { data: { affected_items: ['001'], total_affected_items: 1, total_failed_items: 1, failed_items: [] }, error: 2 } });
    await rejectsWith(edr.dispatch('release', ['001', '002']), 'BODY_ERROR', /002 \(\? not in affected_items \(error 2\)\)/);
  });

  it('logs in again once when the JWT expires mid-run (401), and before its 900 s are up', async () => {
    const edr = provider();
    const device = await edr.resolve('web01');
    fake.expireTokens();
    await edr.isolate(device);
    assert.equal(fake.tokensIssued.length, 2);
    await clock.advance(860_000);
    await edr.release(device);
    assert.equal(fake.tokensIssued.length, 3);
    assert.equal(puts().length, 3, 'the PUT refused with 401 is sent once more');
    assert.equal(fake.runs.length, 2, 'each command taken once');
  });

  it('a 429 (too many requests per minute) is retried with backoff and then succeeds', async () => {
    const edr = provider();
    const device = await edr.resolve('web01');
    fake.script('PUT', fake.rateLimited());
    assert.equal((await edr.isolate(device)).outcome, 'sent');
    assert.equal(puts().length, 2);
    assert.ok(logs.some((l) => /retry 1 after RATE_LIMITED \(HTTP 429\)/.test(l)));
  });

  it('keeps the password, the Basic credentials and the JWT out of errors and log lines', async () => {
    const wrong = await rejection(provider({ password: 'not-' + WAZUH_PASSWORD }).resolve('web01'));
    assert.equal(wrong.code, 'AUTH');
    const edr = provider();
    await edr.resolve('web01');
    fake.script('PUT', { status: 400, body: { title: 'Bad Request', detail: `token ${fake.tokensIssued.at(-1)} password ${WAZUH_PASSWORD}` } });
    const echoed = await rejection(edr.isolate({ id: '001' }));
    const basic = Buffer.from(`${WAZUH_USER}:${WAZUH_PASSWORD}`).toString('base64');
    const text = [inspect(wrong), JSON.stringify(wrong), inspect(echoed), JSON.stringify(echoed), ...logs].join('\n');
    for (const secret of [WAZUH_PASSWORD, basic, ...fake.tokensIssued]) assert.ok(!text.includes(secret), `secret leaked: ${secret.slice(0, 8)}…`);
    assert.match(text, /\[REDACTED\]/);
  });
});

async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ProviderError, String(error));
    return error;
  }
  assert.fail('expected a rejection');
}
