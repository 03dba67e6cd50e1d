import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { followUntilDone } from '../../../lib/edr/follow';
import { SentinelOneEdr } from '../../../lib/edr/sentinelone';
import type { ManualClock } from '../../helpers/fake-server';
import { closeAfterContractCheck, rejectsWith, startOnManualClock } from '../../helpers/provider-spec';
import { S1_TOKEN, startSentinelOneFake, type S1FakeAgent, type SentinelOneFake } from '../../fakes/sentinelone';

describe('SentinelOneEdr against the Management API v2.1 contract fake', () => {
  let fake: SentinelOneFake;
  let clock: ManualClock;
  let logs: string[];
  let web01: S1FakeAgent;
  const DISCONNECT = '/web/api/v2.1/agents/actions/disconnect';
  const CONNECT = '/web/api/v2.1/agents/actions/connect';

  const provider = (token = S1_TOKEN) =>
    new SentinelOneEdr({
      name: 's1',
      url: fake.url,
      apiToken: token,
      http: { now: clock.now, sleep: clock.sleep, random: () => 0.5 },
      log: (l) => logs.push(l),
    });
  const follow = (edr: SentinelOneEdr, handle: Parameters<typeof followUntilDone>[1], timeoutMs = 300_000) =>
    followUntilDone(edr, handle, { timeoutMs, pollMs: 5_000, now: clock.now, sleep: clock.sleep });

  beforeEach(async () => {
    ({ clock, fake } = await startOnManualClock(startSentinelOneFake, Date.UTC(2026, 0, 15, 12, 0, 0)));
    logs = [];
    web01 = fake.addAgent({ computerName: 'WEB01', ip: '198.18.0.31' });
    fake.addAgent({ computerName: 'web02', ip: '198.18.0.3' });
  });
  afterEach(() => closeAfterContractCheck(fake));

  it('disconnects (disconnecting → disconnected) and reconnects by agent id with a filter body', async () => {
    const edr = provider();
    const device = await edr.resolve('web01');
    assert.equal(device.id, web01.id);
    assert.equal(fake.server.requests[0].headers.authorization, `ApiToken ${S1_TOKEN}`);
    const result = await edr.isolate(device);
    assert.equal(result.outcome, 'requested');
    assert.deepEqual(fake.server.requestsTo('POST', DISCONNECT)[0].json, { filter: { ids: [web01.id] } });
    const seen: string[] = [];
    const done = await followUntilDone(edr, result.handle!, {
      timeoutMs: 300_000,
      pollMs: 5_000,
      now: clock.now,
      sleep: clock.sleep,
      onPoll: (s) => seen.push(s.raw!),
    });
    assert.deepEqual(seen, ['disconnecting', 'disconnected']);
    assert.equal(done.status.state, 'isolated');
    assert.equal((await edr.isolate(device)).outcome, 'already-isolated');
    const release = await edr.release(await edr.resolve('198.18.0.31'));
    assert.deepEqual(fake.server.requestsTo('POST', CONNECT)[0].json, { filter: { ids: [web01.id] } });
    assert.equal((await follow(edr, release.handle!)).status.state, 'normal');
    assert.equal((await edr.release(device)).outcome, 'not-isolated');
    assert.equal(fake.server.count('POST'), 2);
  });

  it('resolves by id, uuid and exact IP (198.18.0.3 is not 198.18.0.31); unknown and ambiguous hosts are refused', async () => {
    const edr = provider();
    assert.equal((await edr.resolve(web01.id)).name, 'WEB01');
    assert.equal((await edr.resolve(web01.uuid)).id, web01.id);
    assert.equal((await edr.resolve('198.18.0.3')).name, 'web02');
    await rejectsWith(edr.resolve('198.18.0.9'), 'NOT_FOUND', /unknown host/);
    fake.addAgent({ computerName: 'web01', ip: '198.18.0.32' });
    const error = await rejectsWith(edr.resolve('WEB01'), 'CONFLICT', /ambiguous host "WEB01": 2 devices/);
    assert.match(error.message, new RegExp(web01.id));
    assert.equal(fake.server.count('POST'), 0);
  });

  it('affected: 0 is a failure, not a success', async () => {
    const edr = provider();
    fake.affectNothing = true;
    await rejectsWith(edr.isolate(await edr.resolve('web01')), 'BODY_ERROR', /affected 0/);
  });

  it('a disconnect already under way is followed, not sent again; one that never ends times out', async () => {
    web01.networkStatus = 'disconnecting';
    fake.pendingReads = Infinity;
    const edr = provider();
    const result = await edr.isolate(await edr.resolve('web01'));
    assert.equal(result.outcome, 'in-progress');
    assert.equal(fake.server.count('POST'), 0);
    await rejectsWith(follow(edr, result.handle!, 30_000), 'TIMEOUT', /last state pending-isolate \(disconnecting\)/);
  });

  it('waits out a 429 Retry-After on disconnect; a revoked API token is AUTH (no refresh exists), and no token leaks', async () => {
    const edr = provider();
    const device = await edr.resolve('web01');
    fake.script('POST', {
      status: 429,
      headers: { 'retry-after': '20' },
      body: { errors: [{ code: 4290010, title: 'Too Many Requests', detail: 'rate limit' }] },
    });
    assert.equal((await edr.isolate(device)).outcome, 'requested');
    const posts = fake.server.requestsTo('POST', DISCONNECT);
    assert.equal(posts.length, 2);
    assert.ok(posts[1].at - posts[0].at >= 20_000);

    fake.script('GET', { status: 400, body: { errors: [{ code: 4000010, title: 'Validation Error', detail: `ApiToken ${S1_TOKEN} is malformed` }] } });
    const echoed = await rejectsWith(edr.status(device.id), 'BAD_REQUEST');
    fake.revokeToken();
    const refused = await rejectsWith(edr.status(device.id), 'AUTH', /HTTP 401 AUTH/);
    const text = [inspect(echoed), JSON.stringify(echoed), inspect(refused), JSON.stringify(refused), ...logs].join('\n');
    assert.ok(!text.includes(S1_TOKEN), text);
    assert.match(text, /\[REDACTED\]/);
    assert.ok(logs.some((l) => /do not refresh/.test(l)));
  });
});
