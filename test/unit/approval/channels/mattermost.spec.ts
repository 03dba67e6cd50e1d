import { strict as assert } from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MattermostChannel } from '../../../../lib/approval/channels/mattermost';
import { descriptor } from '../../../../lib/approval/channels/kinds/mattermost';
import { readFields } from '../../../../lib/providers/descriptor';
import { MM_TOKEN, startMattermostFake, type MattermostFake } from '../../../fakes/mattermost';
import { notice, recordingDecide } from './notice';

describe('approval channel: Mattermost', () => {
  let fake: MattermostFake;
  let server: http.Server;
  let callbackUrl: string;
  let warnings: string[];
  let recorder: ReturnType<typeof recordingDecide>;
  let channel: MattermostChannel;

  beforeEach(async () => {
    fake = await startMattermostFake();
    warnings = [];
    recorder = recordingDecide(['mattermost:ana7x3k9']);
    server = http.createServer((req, res) => channel.callback(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    callbackUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mm`;
    const values = readFields(descriptor, { url: fake.url, channelId: 'chan1', callbackUrl }, { botToken: MM_TOKEN });
    channel = descriptor.create(values, { name: 'mm', decide: recorder.decide, warn: (m) => warnings.push(m) }) as MattermostChannel;
  });

  afterEach(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await fake.close();
  });

  async function click(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await fetch(callbackUrl, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  }

  type Action = { id: string; integration: { url: string; context: { approval_id: string; decision: string; token: string } } };
  async function postedActions(): Promise<Action[]> {
    await channel.notify(notice({ approvers: ['mattermost:ana7x3k9'] }));
    const [post] = fake.posts.values();
    return (post.props as { attachments: { actions: Action[] }[] }).attachments[0].actions;
  }

  it('posts buttons whose integration points at the hub with a per-approval HMAC', async () => {
    const actions = await postedActions();
    assert.deepEqual(
      actions.map((a) => [a.id, a.integration.url, a.integration.context.decision]),
      [
        ['approve', callbackUrl, 'approve'],
        ['deny', callbackUrl, 'deny'],
      ],
    );
    assert.match(actions[0].integration.context.token, /^[0-9a-f]{64}$/);
    assert.notEqual(actions[0].integration.context.token, actions[1].integration.context.token);
    assert.deepEqual(fake.violations, []);
  });

  it('a click with the issued context from an approver decides, and the answer updates the user', async () => {
    const [approve] = await postedActions();
    const answer = await click({ user_id: 'ana7x3k9', user_name: 'ana', post_id: 'post1', trigger_id: 't', type: '', context: approve.integration.context });
    assert.equal(answer.status, 200);
    assert.match(String(answer.json.ephemeral_text), /Approval recorded/);
    assert.deepEqual(recorder.calls, [{ approvalId: notice().approvalId, identity: 'mattermost:ana7x3k9', decision: 'approve', channel: 'mattermost' }]);
  });

  it('refuses a callback whose HMAC is wrong (or was lifted from the other button)', async () => {
    const [approve, deny] = await postedActions();
    const forged = await click({ user_id: 'ana7x3k9', context: { ...approve.integration.context, token: 'a'.repeat(64) } });
    assert.equal(forged.status, 403);
    const swapped = await click({ user_id: 'ana7x3k9', context: { ...deny.integration.context, decision: 'approve' } });
    assert.equal(swapped.status, 403);
    assert.deepEqual(recorder.calls, []);
    assert.ok(warnings.some((w) => /wrong action HMAC/.test(w)));
  });

  it('a vote that settles the approval replaces the post with the outcome in the answer', async () => {
    channel = new MattermostChannel(
      { serverUrl: fake.url, botToken: MM_TOKEN, channelId: 'chan1', callbackUrl },
      { name: 'mm', decide: recordingDecide(['mattermost:ana7x3k9'], true).decide },
    );
    const [, deny] = await postedActions();
    const answer = await click({ user_id: 'ana7x3k9', context: deny.integration.context });
    const update = answer.json.update as { props: { attachments: { text: string; actions?: unknown[] }[] } };
    assert.ok(update, 'the answer carries an update');
    assert.match(update.props.attachments[0].text, /Denied by mattermost:ana7x3k9/);
    assert.equal(update.props.attachments[0].actions, undefined);
  });

  it('refuses a user who is not an approver', async () => {
    const [approve] = await postedActions();
    const answer = await click({ user_id: 'eve1234', context: approve.integration.context });
    assert.match(String(answer.json.ephemeral_text), /not an approver/);
    assert.deepEqual(recorder.calls, []);
  });

  it('patches the post with the outcome and no buttons', async () => {
    const [ref] = await channel.notify(notice());
    await channel.update(ref, { outcome: 'approved', by: 'Ana', at: '2026-01-15T12:05:00.000Z' });
    const post = fake.posts.get(String(ref.data.postId))!;
    const attachment = (post.props as { attachments: { text: string; actions?: unknown[] }[] }).attachments[0];
    assert.match(attachment.text, /Approved by Ana/);
    assert.equal(attachment.actions, undefined);
  });

  it('keeps the bot token out of errors', async () => {
    const bad = new MattermostChannel({ serverUrl: fake.url, botToken: 'wrong-token-abcdefghijklmnop', channelId: 'c', callbackUrl }, { name: 'mm2' });
    const error = await bad.notify(notice()).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof Error);
    assert.ok(!(JSON.stringify(error) + (error as Error).message).includes('wrong-token-abcdefghijklmnop'));
  });
});
