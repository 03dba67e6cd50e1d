import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { CrowdStrikeEdr } from '../../../lib/edr/crowdstrike';
import { followUntilDone } from '../../../lib/edr/follow';
import type { ManualClock } from '../../helpers/fake-server';
import { closeAfterContractCheck, rejectsWith, startOnManualClock } from '../../helpers/provider-spec';
import { CS_CLIENT_ID, CS_CLIENT_SECRET, startCrowdStrikeFake, type CrowdStrikeFake } from '../../fakes/crowdstrike';

describe('CrowdStrikeEdr against the Falcon contract fake', () => {
  let fake: CrowdStrikeFake;
  let clock: ManualClock;
  let logs: string[];
  const ACTIONS = '/devices/entities/devices-actions/v2';

  const provider = (secret = CS_CLIENT_SECRET) =>
    new CrowdStrikeEdr({
      name: 'cs1',
      clientId: CS_CLIENT_ID,
      clientSecret: secret,
      baseUrl: fake.baseUrl,
      http: { now: clock.now, sleep: clock.sleep, random: () => 0.5 },
      log: (line) => logs.push(line),
    });
  const follow = (edr: CrowdStrikeEdr, handle: Parameters<typeof followUntilDone>[1], timeoutMs = 600_000) =>
    followUntilDone(edr, handle, { timeoutMs, pollMs: 5_000, now: clock.now, sleep: clock.sleep });

  beforeEach(async () => {
    ({ clock, fake } = await startOnManualClock(startCrowdStrikeFake, Date.UTC(2026, 0, 15, 12, 0, 0)));
    logs = [];
    fake.addDevice({ device_id: 'a'.repeat(32), hostname: 'WEB01', local_ip: '198.18.0.11' });
    fake.addDevice({ device_id: 'b'.repeat(32), hostname: 'db02.corp.example', local_ip: '198.18.0.12' });
  });
  afterEach(() => closeAfterContractCheck(fake));

  it('isolates (contain → containment_pending → contained) and releases, with the documented requests', async () => {
    const edr = provider();
    const device = await edr.resolve('web01');
    assert.equal(device.id, 'a'.repeat(32));
    const result = await edr.isolate(device);
    assert.equal(result.outcome, 'requested');
    assert.equal(result.status.state, 'pending-isolate');
    const [post] = fake.server.requestsTo('POST', ACTIONS);
    assert.equal(post.query.action_name, 'contain');
    assert.deepEqual(post.json, { ids: ['a'.repeat(32)] });
    assert.match(post.headers.authorization, /^Bearer cs-token-/);
    const token = fake.server.requestsTo('POST', '/oauth2/token')[0];
    assert.deepEqual(token.form, { client_id: CS_CLIENT_ID, client_secret: CS_CLIENT_SECRET });
    assert.equal(fake.server.requestsTo('GET', '/devices/queries/devices/v1')[0].query.filter, "hostname:'web01'");

    const seen: string[] = [];
    const done = await followUntilDone(edr, result.handle!, {
      timeoutMs: 600_000,
      pollMs: 5_000,
      now: clock.now,
      sleep: clock.sleep,
      onPoll: (s) => seen.push(s.raw!),
    });
    assert.deepEqual(seen, ['containment_pending', 'contained']);
    assert.equal(done.status.state, 'isolated');
    assert.equal((await edr.isolate(device)).outcome, 'already-isolated');

    const lift = await edr.release(await edr.resolve('198.18.0.11'));
    assert.equal(lift.outcome, 'requested');
    assert.equal(fake.server.requestsTo('POST', ACTIONS)[1].query.action_name, 'lift_containment');
    assert.equal((await follow(edr, lift.handle!)).status.state, 'normal');
    assert.equal((await edr.release(device)).outcome, 'not-isolated');
    assert.equal(fake.server.count('POST', ACTIONS), 2, 'no action for already-isolated / not-isolated');
  });

  it('resolves by device id and by IP; an unknown host is NOT_FOUND, two devices of one name CONFLICT naming both, nothing contained', async () => {
    const edr = provider();
    assert.equal((await edr.resolve('b'.repeat(32))).name, 'db02.corp.example');
    assert.equal((await edr.resolve('DB02.corp.example')).id, 'b'.repeat(32));
    assert.equal(fake.server.requestsTo('GET', '/devices/queries/devices/v1').length, 1);
    await rejectsWith(edr.resolve('nohost'), 'NOT_FOUND', /unknown host "nohost"/);
    fake.addDevice({ device_id: 'c'.repeat(32), hostname: 'WEB01', local_ip: '198.18.0.13' });
    const error = await rejectsWith(edr.resolve('WEB01'), 'CONFLICT', /ambiguous host "WEB01": 2 devices/);
    assert.match(error.message, new RegExp(`${'a'.repeat(32)}.*${'c'.repeat(32)}`));
    await rejectsWith(edr.resolve("x' OR hostname:'y"), 'BAD_REQUEST');
    assert.equal(fake.server.count('POST', ACTIONS), 0);
  });

  it('refreshes the token before it expires, and once after a 401 when the fake expires it mid-run', async () => {
    const edr = provider();
    const device = await edr.resolve('WEB01');
    const { handle } = await edr.isolate(device);
    fake.expireTokens();
    assert.equal((await follow(edr, handle!)).status.state, 'isolated');
    assert.equal(fake.tokensIssued.length, 2);
    assert.ok(logs.some((l) => /401/.test(l)));
    await clock.advance(1_750_000); // within the 60 s margin of the 1799 s lifetime
    await edr.status(device.id);
    assert.equal(fake.tokensIssued.length, 3, 'a new token before the old one expired');
    assert.equal(fake.server.requests.filter((r) => r.path !== '/oauth2/token').length, fake.server.requests.length - 3);
  });

  it('waits out a 429 with X-RateLimit-RetryAfter (epoch seconds) on contain, then succeeds', async () => {
    const edr = provider();
    const device = await edr.resolve('WEB01');
    fake.script('POST', fake.rateLimited(9)); // the token is already there: this is the contain
    const result = await edr.isolate(device);
    assert.equal(result.outcome, 'requested');
    const posts = fake.server.requestsTo('POST', ACTIONS);
    assert.equal(posts.length, 2);
    assert.ok(posts[1].at - posts[0].at >= 8_000, `retried after ${posts[1].at - posts[0].at} ms`);
  });

  it('a containment already pending is followed, not requested again', async () => {
    fake.devices[0].status = 'containment_pending';
    fake.pendingReads = 5;
    const edr = provider();
    const result = await edr.isolate(await edr.resolve('WEB01'));
    assert.equal(result.outcome, 'in-progress');
    assert.equal(fake.server.count('POST', ACTIONS), 0);
    fake.devices[0].status = 'contained';
    assert.equal((await follow(edr, result.handle!)).status.state, 'isolated');
  });

  it('an action that never finishes ends in a TIMEOUT naming the last state', async () => {
    fake.pendingReads = Infinity;
    const edr = provider();
    const { handle } = await edr.isolate(await edr.resolve('WEB01'));
    const error = await rejectsWith(
      follow(edr, handle!, 60_000),
      'TIMEOUT',
      /isolate of WEB01 .* not finished 60 s after it was requested; last state pending-isolate \(containment_pending\)/,
    );
    assert.ok(error.attempts! >= 12);
  });

  it('keeps the client secret and tokens out of errors and log lines', async () => {
    fake.script('POST', { status: 403, body: { errors: [{ code: 403, message: `client_secret=${CS_CLIENT_SECRET} rejected` }] } });
    const refused = await rejectsWith(provider().resolve('WEB01'), 'FORBIDDEN');
    const edr = provider();
    await edr.resolve('WEB01');
    const token = fake.tokensIssued.at(-1)!;
    fake.script('GET', { status: 400, body: { errors: [{ code: 400, message: `bad header Bearer ${token}` }] } });
    const echoed = await rejectsWith(edr.status('a'.repeat(32)), 'BAD_REQUEST');
    fake.expireTokens();
    await edr.status('a'.repeat(32));
    const text = [inspect(refused), JSON.stringify(refused), inspect(echoed), JSON.stringify(echoed), ...logs].join('\n');
    for (const secret of [CS_CLIENT_SECRET, ...fake.tokensIssued]) assert.ok(!text.includes(secret), `secret leaked: ${secret.slice(0, 12)}…`);
    assert.match(text, /\[REDACTED\]/);
  });
});
