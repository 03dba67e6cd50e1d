import assert from 'node:assert/strict';
import { parseHandle } from '../../../lib/edr/common';
import { CrowdStrikeEdr } from '../../../lib/edr/crowdstrike';
import { DefenderEdr } from '../../../lib/edr/defender';
import { followUntilDone } from '../../../lib/edr/follow';
import { SentinelOneEdr } from '../../../lib/edr/sentinelone';
import type { PendingAction } from '../../../lib/edr/types';
import type { ManualClock } from '../../helpers/fake-server';
import { closeAfterContractCheck, rejectsWith, startOnManualClock } from '../../helpers/provider-spec';
import { CS_CLIENT_ID, CS_CLIENT_SECRET, startCrowdStrikeFake, type CrowdStrikeFake } from '../../fakes/crowdstrike';
import { MDE_CLIENT_ID, MDE_CLIENT_SECRET, MDE_TENANT, startDefenderFake, type DefenderFake } from '../../fakes/defender';
import { S1_TOKEN, startSentinelOneFake } from '../../fakes/sentinelone';

const START = Date.UTC(2026, 0, 15, 12, 0, 0);

describe('pending action handles', () => {
  const handle: PendingAction = {
    v: 1,
    kind: 'defender',
    provider: 'n1',
    op: 'isolate',
    deviceId: 'd1',
    deviceName: 'web01',
    actionId: 'a1',
    requestedAt: '2026-01-15T12:00:00.000Z',
  };

  it('survive a JSON round trip unchanged, from text or from a stored object', () => {
    assert.deepEqual(parseHandle(JSON.stringify(handle)), handle);
    assert.deepEqual(parseHandle(JSON.parse(JSON.stringify(handle))), handle);
    const { actionId: _a, deviceName: _n, ...minimal } = handle;
    assert.deepEqual(parseHandle(JSON.stringify(minimal)), minimal);
  });

  it('refuse anything else with a clear BAD_REQUEST naming the bad fields', async () => {
    for (const [bad, why] of [
      ['{', /not JSON/],
      [null, /not an object/],
      [{ ...handle, v: 2 }, /v must be 1/],
      [{ ...handle, op: 'wipe' }, /op must be isolate or release/],
      [{ ...handle, deviceId: '', requestedAt: 'yesterday' }, /deviceId, requestedAt/],
    ] as const) {
      await rejectsWith(
        Promise.resolve().then(() => parseHandle(bad)),
        'BAD_REQUEST',
        why,
      );
    }
  });
});

describe('followUntilDone resumes from a stored handle after a restart', () => {
  let clock: ManualClock;

  it('CrowdStrike: a new provider instance follows the JSON handle to contained, without a second contain', async () => {
    let fake: CrowdStrikeFake;
    ({ clock, fake } = await startOnManualClock(startCrowdStrikeFake, START));
    try {
      fake.addDevice({ device_id: 'a'.repeat(32), hostname: 'web01', local_ip: '198.18.0.11' });
      fake.pendingReads = 3;
      const make = () =>
        new CrowdStrikeEdr({
          name: 'cs1',
          clientId: CS_CLIENT_ID,
          clientSecret: CS_CLIENT_SECRET,
          baseUrl: fake.baseUrl,
          http: { now: clock.now, sleep: clock.sleep },
        });
      const before = make();
      const { handle } = await before.isolate(await before.resolve('web01'));
      const stored = JSON.stringify(handle);
      await before.close(); // the "kill -9": nothing of the old instance is used again

      await clock.advance(20_000);
      const after = make();
      const done = await followUntilDone(after, JSON.parse(stored), { timeoutMs: 300_000, pollMs: 5_000, now: clock.now, sleep: clock.sleep });
      assert.equal(done.status.state, 'isolated');
      assert.equal(fake.server.count('POST', '/devices/entities/devices-actions/v2'), 1);
      assert.equal(fake.tokensIssued.length, 2, 'the new instance logged in for itself');
    } finally {
      await closeAfterContractCheck(fake!);
    }
  });

  it('Defender: the machine action id in the handle is polled by the new instance until Succeeded', async () => {
    let fake: DefenderFake;
    ({ clock, fake } = await startOnManualClock(startDefenderFake, START));
    try {
      fake.addMachine({ computerDnsName: 'web01.corp.example', lastIpAddress: '198.18.0.21' });
      fake.pendingReads = 2;
      const make = () =>
        new DefenderEdr({
          name: 'mde',
          tenantId: MDE_TENANT,
          clientId: MDE_CLIENT_ID,
          clientSecret: MDE_CLIENT_SECRET,
          apiUrl: fake.url,
          loginUrl: fake.url,
          http: { now: clock.now, sleep: clock.sleep },
        });
      const before = make();
      const { handle } = await before.isolate(await before.resolve('web01'));
      const stored = JSON.stringify(handle);
      await before.close();
      const polls: string[] = [];
      const done = await followUntilDone(make(), stored, {
        timeoutMs: 300_000,
        pollMs: 5_000,
        now: clock.now,
        sleep: clock.sleep,
        onPoll: (s) => polls.push(s.raw!),
      });
      assert.equal(done.status.state, 'isolated');
      assert.deepEqual(polls, ['Isolate InProgress', 'Isolate InProgress', 'Isolate Succeeded']);
      assert.ok(fake.server.requestsTo('GET', `/api/machineactions/${handle!.actionId}`).length === 3);
    } finally {
      await closeAfterContractCheck(fake!);
    }
  });

  it('polls through transient errors, stops at a non-transient one, refuses a handle of another kind, and can be cancelled', async () => {
    let fake: Awaited<ReturnType<typeof startSentinelOneFake>>;
    ({ clock, fake } = await startOnManualClock(startSentinelOneFake, START));
    try {
      const agent = fake.addAgent({ computerName: 'web01', ip: '198.18.0.31' });
      const edr = new SentinelOneEdr({ url: fake.url, apiToken: S1_TOKEN, http: { now: clock.now, sleep: clock.sleep, retry: { maxAttempts: 1 } } });
      const { handle } = await edr.isolate(await edr.resolve('web01'));
      const options = { timeoutMs: 300_000, pollMs: 5_000, now: clock.now, sleep: clock.sleep };
      fake.script('GET', { status: 503, body: 'maintenance' }, { status: 502, body: 'bad gateway' });
      assert.equal((await followUntilDone(edr, handle!, options)).status.state, 'isolated');

      await rejectsWith(followUntilDone(edr, { ...handle!, kind: 'crowdstrike' }, options), 'BAD_REQUEST', /belongs to a crowdstrike provider/);
      agent.networkStatus = 'connecting';
      fake.pendingReads = Infinity;
      const release = { ...handle!, op: 'release' as const, requestedAt: new Date(clock.now()).toISOString() };
      fake.script('GET', { status: 403, body: { errors: [{ code: 4030010, title: 'Forbidden', detail: 'insufficient permissions' }] } });
      await rejectsWith(followUntilDone(edr, release, options), 'FORBIDDEN');

      const controller = new AbortController();
      const following = followUntilDone(edr, release, { ...options, signal: controller.signal });
      setImmediate(() => controller.abort());
      await rejectsWith(following, 'CANCELLED', /cancelled/);
    } finally {
      await closeAfterContractCheck(fake!);
    }
  });
});
