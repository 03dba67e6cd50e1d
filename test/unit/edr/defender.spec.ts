import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { DefenderEdr, type DefenderOptions } from '../../../lib/edr/defender';
import { followUntilDone } from '../../../lib/edr/follow';
import type { ManualClock } from '../../helpers/fake-server';
import { closeAfterContractCheck, rejectsWith, startOnManualClock } from '../../helpers/provider-spec';
import { MDE_CLIENT_ID, MDE_CLIENT_SECRET, MDE_TENANT, startDefenderFake, type DefenderFake } from '../../fakes/defender';

describe('DefenderEdr against the Defender for Endpoint contract fake', () => {
  let fake: DefenderFake;
  let clock: ManualClock;
  let logs: string[];
  let web01: string;

  const provider = (overrides: Partial<DefenderOptions> = {}) =>
    new DefenderEdr({
      name: 'mde1',
      tenantId: MDE_TENANT,
      clientId: MDE_CLIENT_ID,
      clientSecret: MDE_CLIENT_SECRET,
      apiUrl: fake.url,
      loginUrl: fake.url,
      http: { now: clock.now, sleep: clock.sleep, random: () => 0.5 },
      log: (line) => logs.push(line),
      ...overrides,
    });
  const follow = (edr: DefenderEdr, handle: Parameters<typeof followUntilDone>[1], timeoutMs = 600_000) =>
    followUntilDone(edr, handle, { timeoutMs, pollMs: 10_000, now: clock.now, sleep: clock.sleep });
  const posts = () => fake.server.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/api/'));

  beforeEach(async () => {
    ({ clock, fake } = await startOnManualClock(startDefenderFake, Date.UTC(2026, 0, 15, 12, 0, 0)));
    logs = [];
    web01 = fake.addMachine({ computerDnsName: 'web01.corp.example', lastIpAddress: '198.18.0.21' }).id;
    fake.addMachine({ computerDnsName: 'web010.corp.example', lastIpAddress: '198.18.0.22' });
  });
  afterEach(() => closeAfterContractCheck(fake));

  it('isolates (Pending → InProgress → Succeeded) with Comment and IsolationType, then releases', async () => {
    const edr = provider({ isolationType: 'Selective' });
    const device = await edr.resolve('WEB01');
    assert.equal(device.id, web01, 'web010 is not web01');
    const token = fake.server.requestsTo('POST', `/${MDE_TENANT}/oauth2/v2.0/token`)[0];
    assert.deepEqual(token.form, {
      grant_type: 'client_credentials',
      client_id: MDE_CLIENT_ID,
      client_secret: MDE_CLIENT_SECRET,
      scope: 'https://api.securitycenter.microsoft.com/.default',
    });
    const result = await edr.isolate(device, { comment: 'INC-42 ransomware' });
    assert.equal(result.outcome, 'requested');
    assert.equal(result.handle!.actionId, fake.actions[0].id);
    assert.deepEqual(posts()[0].json, { Comment: 'INC-42 ransomware', IsolationType: 'Selective' });
    assert.equal(posts()[0].path, `/api/machines/${web01}/isolate`);
    const seen: string[] = [];
    const done = await followUntilDone(edr, result.handle!, {
      timeoutMs: 600_000,
      pollMs: 10_000,
      now: clock.now,
      sleep: clock.sleep,
      onPoll: (s) => seen.push(s.raw!),
    });
    assert.deepEqual(seen, ['Isolate InProgress', 'Isolate Succeeded']);
    assert.equal(done.status.state, 'isolated');
    assert.equal((await edr.status(web01)).state, 'isolated');
    assert.equal((await edr.isolate(device)).outcome, 'already-isolated');

    await clock.advance(1000);
    const release = await edr.release(await edr.resolve('198.18.0.21'), { comment: 'INC-42 clean' });
    assert.equal(release.outcome, 'requested');
    assert.deepEqual(posts()[1].json, { Comment: 'INC-42 clean' });
    assert.equal(posts()[1].path, `/api/machines/${web01}/unisolate`);
    assert.equal((await follow(edr, release.handle!)).status.state, 'normal');
    assert.equal((await edr.release(device)).outcome, 'not-isolated');
    assert.equal(posts().length, 2);
  });

  it('reports Failed / TimeOut / Cancelled with the reason, and an unknown or ambiguous host before any action', async () => {
    const edr = provider();
    fake.nextOutcome = 'Failed';
    const { handle } = await edr.isolate(await edr.resolve(web01));
    await rejectsWith(follow(edr, handle!), 'BODY_ERROR', /isolate of web01\.corp\.example .* failed: machine action .* Failed/);
    await rejectsWith(edr.resolve('ghost'), 'NOT_FOUND', /unknown host/);
    fake.addMachine({ computerDnsName: 'web01.other.example', lastIpAddress: '198.18.0.21' });
    await rejectsWith(edr.resolve('web01'), 'CONFLICT', /ambiguous host "web01": 2 devices match: web01\.corp\.example .*web01\.other\.example/);
    await rejectsWith(edr.resolve('198.18.0.21'), 'CONFLICT');
    assert.equal(posts().length, 1);
  });

  it('an isolate already pending (400 ActiveRequestAlreadyExists) is found and followed', async () => {
    const edr = provider();
    const device = await edr.resolve('web01');
    await edr.isolate(device);
    // A second provider instance (another flow, or after a restart) asks again.
    const other = provider();
    const again = await other.isolate(device);
    assert.equal(again.outcome, 'in-progress', 'the pre-check already sees the pending action');
    assert.equal(again.handle!.actionId, fake.actions[0].id);
    assert.equal(posts().length, 1);

    // Now the pre-check misses it: the list answers empty once, the POST gets the 400.
    fake.script('GET', { body: { value: [] } });
    const raced = await other.isolate(device);
    assert.equal(raced.outcome, 'in-progress');
    assert.equal(raced.handle!.actionId, fake.actions[0].id);
    assert.equal(posts().length, 2);
    assert.ok(logs.some((l) => /already pending/.test(l)));
    assert.equal((await follow(other, raced.handle!)).status.state, 'isolated');
  });

  it('refreshes an expired token once (401) and waits out a 429 Retry-After', async () => {
    const edr = provider();
    const device = await edr.resolve('web01');
    fake.expireTokens();
    fake.script('POST', null, {
      status: 429,
      headers: { 'retry-after': '30' },
      body: { error: { code: 'TooManyRequests', message: 'Rate limit is exceeded. Try again in 30 seconds.' } },
    });
    const result = await edr.isolate(device);
    assert.equal(result.outcome, 'requested');
    assert.equal(fake.tokensIssued.length, 2);
    const isolates = fake.server.requestsTo('POST', `/api/machines/${web01}/isolate`);
    assert.equal(isolates.length, 2);
    assert.ok(isolates[1].at - isolates[0].at >= 30_000);
    assert.equal(fake.actions.length, 1);
  });

  it('an action that never finishes times out, counted from when it was requested (also after a restart)', async () => {
    fake.pendingReads = Infinity;
    const edr = provider();
    const { handle } = await edr.isolate(await edr.resolve('web01'));
    await clock.advance(50_000);
    const error = await rejectsWith(follow(provider(), JSON.stringify(handle), 60_000), 'TIMEOUT', /last state pending-isolate \(Isolate InProgress\)/);
    assert.ok(error.attempts! <= 3, `polled ${error.attempts} times: the allowance was not reset`);
  });

  it('keeps the client secret and tokens out of errors and log lines', async () => {
    const wrong = await rejectsWith(provider({ clientSecret: 'wrong' + MDE_CLIENT_SECRET }).resolve('web01'), 'AUTH', /invalid_client/);
    const edr = provider();
    await edr.resolve('web01');
    fake.script('POST', { status: 400, body: { error: { code: 'BadRequest', message: `token ${fake.tokensIssued.at(-1)} / ${MDE_CLIENT_SECRET}` } } });
    const echoed = await rejectsWith(edr.isolate({ id: web01 }), 'BAD_REQUEST');
    const text = [inspect(wrong), JSON.stringify(wrong), inspect(echoed), JSON.stringify(echoed), ...logs].join('\n');
    for (const secret of [MDE_CLIENT_SECRET, ...fake.tokensIssued]) assert.ok(!text.includes(secret), `secret leaked: ${secret.slice(0, 12)}…`);
    assert.match(text, /\[REDACTED\]/);
  });
});
