import { strict as assert } from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProviderError } from '../../../../lib/core/errors';
import { SlackChannel } from '../../../../lib/approval/channels/slack';
import { descriptor } from '../../../../lib/approval/channels/kinds/slack';
import { readFields } from '../../../../lib/providers/descriptor';
import { SLACK_SIGNING_SECRET, SLACK_TOKEN, signedInteraction, startSlackFake, type SlackFake } from '../../../fakes/slack';
import { ManualClock, settle } from '../../../helpers/fake-server';
import { notice, recordingDecide } from './notice';

describe('approval channel: Slack', () => {
  let fake: SlackFake;
  let server: http.Server;
  let callbackUrl: string;
  let clock: ManualClock;
  let warnings: string[];
  let recorder: ReturnType<typeof recordingDecide>;
  let channel: SlackChannel;

  beforeEach(async () => {
    fake = await startSlackFake();
    clock = new ManualClock(Date.UTC(2026, 0, 15, 12, 0, 0), true);
    warnings = [];
    recorder = recordingDecide(['slack:U0ANA']);
    const values = readFields(descriptor, { channelId: 'C0APPROVE', url: fake.apiUrl }, { botToken: SLACK_TOKEN, signingSecret: SLACK_SIGNING_SECRET });
    channel = descriptor.create(values, {
      name: 'slack-approvers',
      decide: recorder.decide,
      warn: (m) => warnings.push(m),
      now: clock.now,
      http: { now: clock.now, sleep: clock.sleep },
    }) as SlackChannel;
    server = http.createServer((req, res) => channel.callback(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    callbackUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack`;
  });

  afterEach(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await fake.close();
  });

  async function post(body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
    const response = await fetch(callbackUrl, { method: 'POST', body, headers });
    return { status: response.status, text: await response.text() };
  }

  const nowS = () => Math.floor(clock.now() / 1000);

  it('posts a Block Kit message with Approve and Deny buttons carrying the approval id', async () => {
    const refs = await channel.notify(notice({ approvers: ['slack:U0ANA'] }));
    const [request] = fake.server.requestsTo('POST', '/api/chat.postMessage');
    const body = request.json as {
      channel: string;
      text: string;
      blocks: { type: string; elements?: { action_id: string; value: string; style: string }[] }[];
    };
    assert.equal(body.channel, 'C0APPROVE');
    assert.match(body.text, /Block 203\.0\.113\.7/);
    const actions = body.blocks.find((b) => b.type === 'actions')!;
    assert.deepEqual(
      actions.elements!.map((e) => [e.action_id, e.value, e.style]),
      [
        ['approve', notice().approvalId, 'primary'],
        ['deny', notice().approvalId, 'danger'],
      ],
    );
    assert.equal(refs[0].data.channel, 'C0APPROVE');
    assert.match(String(refs[0].data.ts), /^\d+\.\d+$/);
    assert.deepEqual(fake.violations, []);
  });

  it('a signed click is acknowledged with 200 and becomes a decision by the clicking user', async () => {
    const signed = signedInteraction({ userId: 'U0ANA', approvalId: 'a1', actionId: 'approve', timestamp: nowS() });
    const answer = await post(signed.body, signed.headers);
    assert.equal(answer.status, 200);
    await settle();
    assert.deepEqual(recorder.calls, [{ approvalId: 'a1', identity: 'slack:U0ANA', decision: 'approve', channel: 'slack' }]);
  });

  it('a click that settles the approval updates the clicked message', async () => {
    channel = new SlackChannel(
      { botToken: SLACK_TOKEN, signingSecret: SLACK_SIGNING_SECRET, channelId: 'C0APPROVE', apiUrl: fake.apiUrl },
      { name: 's', now: clock.now, decide: recordingDecide(['slack:U0ANA'], true).decide },
    );
    const signed = signedInteraction({ userId: 'U0ANA', approvalId: 'a1', actionId: 'approve', timestamp: nowS() });
    assert.equal((await post(signed.body, signed.headers)).status, 200);
    await fake.server.waitForRequests(1);
    const [update] = fake.server.requestsTo('POST', '/api/chat.update');
    assert.deepEqual([(update.json as { channel: string }).channel, (update.json as { ts: string }).ts], ['C0APPROVE', '1714557600.000100']);
    assert.match((update.json as { text: string }).text, /Approved by slack:U0ANA/);
  });

  it('answers at once even when the decision takes longer than Slack waits', async () => {
    let release!: () => void;
    channel = new SlackChannel(
      { botToken: SLACK_TOKEN, signingSecret: SLACK_SIGNING_SECRET, channelId: 'C0APPROVE', apiUrl: fake.apiUrl },
      { name: 's', now: clock.now, decide: () => new Promise((resolve) => (release = () => resolve({ ok: true }))) },
    );
    const signed = signedInteraction({ userId: 'U0ANA', approvalId: 'a1', actionId: 'deny', timestamp: nowS() });
    const answer = await post(signed.body, signed.headers);
    assert.equal(answer.status, 200);
    await settle();
    assert.ok(release, 'decide was called');
    release();
  });

  it('refuses a forged signature, and decides nothing', async () => {
    const signed = signedInteraction({ userId: 'U0ANA', approvalId: 'a1', actionId: 'approve', timestamp: nowS(), secret: 'not-the-signing-secret' });
    const answer = await post(signed.body, signed.headers);
    assert.equal(answer.status, 401);
    assert.match(answer.text, /bad signature/);
    await settle();
    assert.deepEqual(recorder.calls, []);
  });

  it('refuses a body changed after signing', async () => {
    const signed = signedInteraction({ userId: 'U0EVE', approvalId: 'a1', actionId: 'approve', timestamp: nowS() });
    const answer = await post(signed.body.replace('U0EVE', 'U0ANA'), signed.headers);
    assert.equal(answer.status, 401);
    assert.deepEqual(recorder.calls, []);
  });

  it('refuses a correctly signed callback older than 5 minutes', async () => {
    const signed = signedInteraction({ userId: 'U0ANA', approvalId: 'a1', actionId: 'approve', timestamp: nowS() - 301 });
    const answer = await post(signed.body, signed.headers);
    assert.equal(answer.status, 401);
    assert.match(answer.text, /stale/);
    assert.deepEqual(recorder.calls, []);
  });

  it('refuses a replayed callback within the window', async () => {
    const signed = signedInteraction({ userId: 'U0ANA', approvalId: 'a1', actionId: 'approve', timestamp: nowS() });
    assert.equal((await post(signed.body, signed.headers)).status, 200);
    const again = await post(signed.body, signed.headers);
    assert.equal(again.status, 409);
    await settle();
    assert.equal(recorder.calls.length, 1);
  });

  it('tells a refused user why, privately', async () => {
    const signed = signedInteraction({ userId: 'U0EVE', approvalId: 'a1', actionId: 'approve', timestamp: nowS() });
    assert.equal((await post(signed.body, signed.headers)).status, 200);
    await fake.server.waitForRequests(1);
    const [ephemeral] = fake.server.requestsTo('POST', '/api/chat.postEphemeral');
    assert.equal((ephemeral.json as { user: string }).user, 'U0EVE');
    assert.match((ephemeral.json as { text: string }).text, /may not decide/);
  });

  it('chat.update replaces the buttons with the outcome', async () => {
    const [ref] = await channel.notify(notice());
    await channel.update!(ref, { outcome: 'approved', by: 'Ana', at: '2026-01-15T12:05:00.000Z' });
    const [update] = fake.server.requestsTo('POST', '/api/chat.update');
    const body = update.json as { ts: string; channel: string; text: string; blocks: { type: string }[] };
    assert.equal(body.ts, ref.data.ts);
    assert.match(body.text, /Approved by Ana/);
    assert.ok(!body.blocks.some((b) => b.type === 'actions'));
  });

  it('waits out a 429 Retry-After, then posts once', async () => {
    fake.script('chat.postMessage', { status: 429, headers: { 'retry-after': '7' }, body: { ok: false, error: 'ratelimited' } });
    await channel.notify(notice());
    assert.equal(fake.server.count('POST', '/api/chat.postMessage'), 2);
    assert.ok(clock.sleeps.includes(7000), `slept ${clock.sleeps}`);
  });

  it('keeps tokens and the signing secret out of errors and warnings', async () => {
    fake.script('chat.postMessage', { status: 200, body: { ok: false, error: 'invalid_auth', echo: SLACK_TOKEN } });
    const error = await channel.notify(notice()).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof ProviderError);
    assert.equal(error.code, 'AUTH');
    const signed = signedInteraction({ userId: 'U0ANA', approvalId: 'a1', actionId: 'approve', timestamp: nowS(), secret: 'x' });
    await post(signed.body, signed.headers);
    const everything = JSON.stringify(error) + error.message + warnings.join('\n');
    assert.ok(!everything.includes(SLACK_TOKEN));
    assert.ok(!everything.includes(SLACK_SIGNING_SECRET));
    assert.ok(warnings.length > 0);
  });
});
