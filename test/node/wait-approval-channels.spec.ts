/**
 * soar-wait-approval with soar-approval-channel config nodes, against the Slack, Telegram and
 * Mattermost contract fakes: requests go out, clicks come back through Node-RED's HTTP app (Slack,
 * Mattermost) or long polling (Telegram) and decide through the hub's engine, forged and replayed
 * callbacks are refused and audited, the outcome updates the sent messages (also after a redeploy),
 * and a failing channel does not keep the approval page from deciding.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { startMattermostFake, MM_TOKEN, type MattermostFake } from '../fakes/mattermost';
import { startTeamsFake } from '../fakes/teams';
import { signedInteraction, startSlackFake, SLACK_SIGNING_SECRET, SLACK_TOKEN, type SlackFake } from '../fakes/slack';
import { startTelegramFake, TG_TOKEN, type TelegramFake } from '../fakes/telegram';
import { startFakeServer, type FakeServer } from '../helpers/fake-server';
import { collect as collectFrom } from '../helpers/collect';
import { withCatalogs } from '../helpers/i18n';
import { capturingRED, helper, nodeModule, readJsonLines, serve, tempDir } from '../helpers/nr';

const hubModule = nodeModule('hub');
const waitModule = withCatalogs(nodeModule('wait-approval'));
const channelModule = withCatalogs(nodeModule('approval-channel'));

type Msg = Record<string, any>;
const MM_USER = 'k3jq8lw2nx7rv5tb1yc9hd4mf6';

/** Every message a helper node receives, and a wait for the n-th (8000 ms unless told). */
const collect = (id: string) => collectFrom(id, 8000);

async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 8000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alertFrom = (ip: string) => ({ alert: { id: `a-${ip}`, title: `brute force from ${ip}`, source: { ip } } });

describe('soar-wait-approval with approval channels', function () {
  this.timeout(30000);
  let dir: string;
  let slack: SlackFake;
  let telegram: TelegramFake;
  let mattermost: MattermostFake;
  let failing: FakeServer;
  let teams: Awaited<ReturnType<typeof startTeamsFake>>;
  let srv: { url: string; close(): Promise<void> } | undefined;

  before(async () => {
    [slack, telegram, mattermost, failing, teams] = await Promise.all([
      startSlackFake(),
      startTelegramFake(),
      startMattermostFake(),
      startFakeServer(),
      startTeamsFake(),
    ]);
    failing.route('POST', '/hook', { status: 500, body: { error: 'down' } });
  });
  after(async () => {
    await Promise.all([slack.close(), telegram.close(), mattermost.close(), failing.close(), teams.close()]);
  });
  beforeEach(async function () {
    dir = tempDir();
    slack.server.requests.length = 0;
    telegram.server.requests.length = 0;
    mattermost.server.requests.length = 0;
    await helper.startServer();
  });
  afterEach(async function () {
    await srv?.close();
    srv = undefined;
    await helper.unload();
    await helper.stopServer();
  });

  const channels: Record<string, () => Record<string, unknown>> = {
    chs: () => ({ id: 'chs', type: 'soar-approval-channel', name: 'ops slack', hub: 'hub1', kind: 'slack', channelId: 'C0APPROVE', url: slack.apiUrl }),
    cht: () => ({
      id: 'cht',
      type: 'soar-approval-channel',
      name: 'ops telegram',
      hub: 'hub1',
      kind: 'telegram',
      chatId: '-100777',
      pollTimeout: 1,
      url: telegram.apiUrl,
    }),
    chm: () => ({ id: 'chm', type: 'soar-approval-channel', name: 'ops mattermost', hub: 'hub1', kind: 'mattermost', url: mattermost.url, channelId: 'chan1' }),
    cha: () => ({ id: 'cha', type: 'soar-approval-channel', name: 'ops teams', hub: 'hub1', kind: 'teams' }),
    chw: () => ({ id: 'chw', type: 'soar-approval-channel', name: 'broken hook', hub: 'hub1', kind: 'webhook', url: `${failing.url}/hook` }),
  };
  const credentials = {
    chs: { botToken: SLACK_TOKEN, signingSecret: SLACK_SIGNING_SECRET },
    cht: { botToken: TG_TOKEN },
    chm: { botToken: MM_TOKEN },
    cha: { webhookUrl: '' },
  };

  /** Load hub + channels + the wait node (channel1..n = the given channel ids), and serve Node-RED's HTTP app. */
  async function load(use: string[], wait: Record<string, unknown> = {}) {
    const cap = capturingRED(hubModule);
    const slots = Object.fromEntries(use.map((id, i) => [`channel${i + 1}`, id]));
    const flow = [
      { id: 'tab1', type: 'tab', label: 't' },
      { id: 'hub1', type: 'soar-hub', dir, simulate: false, includeDefaults: true, maxActionsPerHour: 100 },
      ...use.map((id) => channels[id]()),
      {
        id: 'wa1',
        z: 'tab1',
        type: 'soar-wait-approval',
        hub: 'hub1',
        approvers: 'ana: slack:U1, telegram:42\nben: editor:ben',
        quorum: 1,
        timeout: 60,
        onTimeout: 'deny',
        fields: 'alert.source.ip',
        configVersion: 2,
        ...slots,
        ...wait,
        wires: [['approved'], ['denied'], ['expired']],
      },
      { id: 'approved', z: 'tab1', type: 'helper' },
      { id: 'denied', z: 'tab1', type: 'helper' },
      { id: 'expired', z: 'tab1', type: 'helper' },
    ];
    await helper.load([cap.module, channelModule, waitModule], flow, { ...credentials, cha: { webhookUrl: teams.webhookUrl } });
    for (const id of use) await helper.getNode(id).ready;
    await srv?.close();
    srv = await serve(cap.red().httpNode as never);
    return cap;
  }

  const audit = () => readJsonLines(path.join(dir, 'audit.jsonl'));
  const slackCalls = (method: string) => slack.server.requests.filter((r) => r.path === `/api/${method}`);
  const tgCalls = (method: string) => telegram.server.requests.filter((r) => r.path.endsWith(`/${method}`));

  async function requestOne(ip = '203.0.113.7'): Promise<string> {
    helper.getNode('wa1').receive(alertFrom(ip));
    const requested = await until(() => audit().find((r) => r.type === 'approval.requested'), 'the request');
    return String(requested.approval);
  }

  function slackClick(approvalId: string, options: { userId?: string; secret?: string; timestamp?: number; actionId?: 'approve' | 'deny' } = {}) {
    const signed = signedInteraction({
      userId: options.userId ?? 'U1',
      approvalId,
      actionId: options.actionId ?? 'approve',
      timestamp: options.timestamp ?? Math.floor(Date.now() / 1000),
      secret: options.secret,
    });
    return { signed, send: () => fetch(`${srv!.url}/soar/approval-channel/chs/callback`, { method: 'POST', headers: signed.headers, body: signed.body }) };
  }

  /** The page links the node logs for editor approvers. */
  async function loggedLink(person: string, decision: 'approve' | 'deny'): Promise<string> {
    const line = await until(
      () =>
        helper
          .log()
          .args.map((a: Msg[]) => a[0]?.msg)
          .find((m: unknown) => typeof m === 'string' && m.includes(`${decision} as ${person}`) && m.includes('/soar/approval/')) as string | undefined,
      `the logged ${decision} link of ${person}`,
    );
    return `${srv!.url}${new URL(/https?:\/\/\S+/.exec(line)![0]).pathname}`;
  }

  it('posts a Block Kit request to Slack; a signed click through Node-RED approves, the message goes out on output 1 and the Slack message is updated', async function () {
    await load(['chs']);
    const approved = collect('approved');
    const id = await requestOne();
    const post = await until(() => slackCalls('chat.postMessage')[0], 'chat.postMessage');
    const body = post.json as { channel: string; text: string; blocks: { type: string; elements?: { action_id: string; value: string }[] }[] };
    assert.equal(body.channel, 'C0APPROVE');
    assert.equal(body.text, 'brute force from 203.0.113.7');
    const actions = body.blocks.find((b) => b.type === 'actions')!;
    assert.deepEqual(
      actions.elements!.map((e) => [e.action_id, e.value]),
      [
        ['approve', id],
        ['deny', id],
      ],
    );
    assert.match(JSON.stringify(body.blocks), /target: 203\.0\.113\.7/);
    assert.deepEqual(slack.violations, []);

    const answer = await slackClick(id).send();
    assert.equal(answer.status, 200);
    const msg = await approved.nth(1);
    assert.equal(msg.approval.decision, 'approved');
    assert.deepEqual(msg.approval.by, ['slack:U1']);
    const update = await until(() => slackCalls('chat.update')[0], 'chat.update');
    assert.match(String((update.json as { text: string }).text), /^Approved by slack:U1/);
    assert.ok(!JSON.stringify((update.json as { blocks: unknown }).blocks).includes('"actions"'), 'the buttons are gone');

    const records = audit();
    const vote = records.find((r) => r.type === 'approval.vote')!;
    assert.equal(vote.channel, 'slack');
    assert.equal(vote.identity, 'slack:U1');
    assert.ok(records.some((r) => r.type === 'approval.notified' && r.channel === 'ops slack' && r.notice === 'request'));
    await until(() => audit().find((r) => r.type === 'approval.channel-updated' && r.channel === 'ops slack'), 'the audited update');
    const text = JSON.stringify(audit());
    assert.ok(!text.includes(SLACK_TOKEN) && !text.includes(SLACK_SIGNING_SECRET), 'no secret in the audit log');
  });

  it('refuses a forged signature, a stale timestamp and a replayed click, each audited, and decides nothing', async function () {
    await load(['chs'], { quorum: 2 });
    const approved = collect('approved');
    const id = await requestOne();
    assert.equal((await slackClick(id, { secret: 'not-the-signing-secret' }).send()).status, 401);
    assert.equal((await slackClick(id, { timestamp: Math.floor(Date.now() / 1000) - 600 }).send()).status, 401);
    const genuine = slackClick(id);
    assert.equal((await genuine.send()).status, 200);
    assert.equal((await genuine.send()).status, 409, 'the same signed request again is a replay');
    await until(() => audit().some((r) => r.type === 'approval.vote'), 'the genuine vote');
    await sleep(150);
    assert.equal(approved.msgs.length, 0, 'one of two approvals: still pending');
    const refused = audit().filter((r) => r.type === 'approval.refused');
    assert.deepEqual(
      refused.map((r) => [r.code, r.channel]),
      [
        ['forged', 'slack'],
        ['stale', 'slack'],
        ['replayed', 'slack'],
      ],
    );
    assert.equal(audit().filter((r) => r.type === 'approval.vote').length, 1);
  });

  it('Telegram: a click from a non-approver is refused (audited); an approver decides, and the message is edited', async function () {
    await load(['cht']);
    const approved = collect('approved');
    const id = await requestOne();
    const sent = await until(() => tgCalls('sendMessage')[0], 'sendMessage');
    const keyboard = (sent.json as { reply_markup: { inline_keyboard: { callback_data: string }[][] } }).reply_markup.inline_keyboard.flat();
    assert.deepEqual(
      keyboard.map((b) => b.callback_data),
      [`a:${id}`, `d:${id}`],
    );
    const message = { message_id: 40, chat: { id: -100777 } };
    telegram.pushUpdate({ callback_query: { id: 'q1', from: { id: 99 }, data: `a:${id}`, message } });
    await until(() => telegram.answers.find((a) => a.callback_query_id === 'q1'), 'the answer to the stranger');
    assert.match(String(telegram.answers.find((a) => a.callback_query_id === 'q1')!.text), /not an approver/);
    const refusal = await until(() => audit().find((r) => r.type === 'approval.refused' && r.approval === id), 'the audited refusal');
    assert.equal(refusal.code, 'not-approver');
    assert.equal(refusal.identity, 'telegram:99');
    assert.equal(approved.msgs.length, 0);

    telegram.pushUpdate({ callback_query: { id: 'q2', from: { id: 42 }, data: `a:${id}`, message } });
    const msg = await approved.nth(1);
    assert.deepEqual(msg.approval.by, ['telegram:42']);
    await until(() => tgCalls('editMessageText').length > 0, 'editMessageText');
    assert.deepEqual(telegram.violations, []);
  });

  it('Mattermost: a click with a bad HMAC is refused (audited); a genuine one from an approver decides', async function () {
    await load(['chm'], { approvers: `ben: editor:ben, mattermost:${MM_USER}` });
    const approved = collect('approved');
    const id = await requestOne();
    const post = await until(() => [...mattermost.posts.values()][0], 'the Mattermost post');
    const action = (post.props as { attachments: { actions: { id: string; integration: { url: string; context: Record<string, string> } }[] }[] })
      .attachments[0].actions[0];
    assert.equal(action.id, 'approve');
    assert.equal(action.integration.context.approval_id, id);
    assert.match(action.integration.url, /\/soar\/approval-channel\/chm\/callback$/);
    const callback = `${srv!.url}/soar/approval-channel/chm/callback`;
    const click = (context: Record<string, string>) =>
      fetch(callback, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: MM_USER, context }) });
    const forged = await click({ ...action.integration.context, token: action.integration.context.token.replace(/.$/, (c) => (c === '0' ? '1' : '0')) });
    assert.equal(forged.status, 403);
    const refusal = await until(() => audit().find((r) => r.type === 'approval.refused'), 'the audited refusal');
    assert.equal(refusal.code, 'forged');
    assert.equal(refusal.channel, 'mattermost');
    await sleep(100);
    assert.equal(approved.msgs.length, 0);

    const genuine = await click(action.integration.context);
    assert.equal(genuine.status, 200);
    assert.match(JSON.stringify(await genuine.json()), /Approved by mattermost:/);
    const msg = await approved.nth(1);
    assert.deepEqual(msg.approval.by, [`mattermost:${MM_USER}`]);
  });

  it('the same person on two channels counts once: Ana approving on Slack and on Telegram does not reach a quorum of 2', async function () {
    await load(['chs', 'cht'], { quorum: 2 });
    const approved = collect('approved');
    const id = await requestOne();
    await until(() => slackCalls('chat.postMessage').length && tgCalls('sendMessage').length, 'both requests');
    assert.equal((await slackClick(id).send()).status, 200);
    await until(() => audit().some((r) => r.type === 'approval.vote'), "Ana's Slack vote");
    telegram.pushUpdate({ callback_query: { id: 'q3', from: { id: 42 }, data: `a:${id}`, message: { message_id: 41, chat: { id: -100777 } } } });
    const answer = await until(() => telegram.answers.find((a) => a.callback_query_id === 'q3'), "the answer to Ana's Telegram click");
    assert.match(String(answer.text), /Not recorded: ana already voted/);
    await sleep(150);
    assert.equal(approved.msgs.length, 0, 'one person, two channels: one vote');
    // (The shared Telegram fake may hand this poller clicks of earlier tests: those are refused as unknown.)
    const refused = audit().find((r) => r.type === 'approval.refused' && r.approval === id)!;
    assert.equal(refused.code, 'already-voted');
    assert.equal(refused.identity, 'telegram:42');

    // A second person completes the quorum through the approval page.
    const link = await loggedLink('ben', 'approve');
    assert.equal((await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' })).status, 200);
    const msg = await approved.nth(1);
    assert.deepEqual([...msg.approval.by].sort(), ['editor:ben', 'slack:U1']);
  });

  it('reminders and the escalation notice reach the channel', async function () {
    await load(['chs', 'cht'], { reminders: '0.003', escalateAfter: '0.006', escalation: 'carl: telegram:77' });
    await requestOne();
    const reminder = await until(
      () => slackCalls('chat.postMessage').find((r) => /^Reminder: /.test(String((r.json as { text: string }).text))),
      'the reminder',
    );
    assert.match(String((reminder.json as { text: string }).text), /brute force from 203\.0\.113\.7/);
    const escalated = await until(() => tgCalls('sendMessage').find((r) => /^Escalated: /.test(String((r.json as { text: string }).text))), 'the escalation');
    assert.ok(escalated);
    // Ana is on Slack, not Carl: Slack gets no escalation notice.
    assert.ok(!slackCalls('chat.postMessage').some((r) => /^Escalated/.test(String((r.json as { text: string }).text))));
    // Each notice is audited once the channel has answered.
    const expected = ['ops slack:request', 'ops telegram:request', 'ops slack:reminder', 'ops telegram:escalation'];
    const notices = () =>
      audit()
        .filter((r) => r.type === 'approval.notified')
        .map((r) => `${r.channel}:${r.notice}`);
    await until(() => expected.every((e) => notices().includes(e)), `${expected.join(', ')} audited (${notices().join(', ')})`);

    // Carl may decide from Telegram now.
    const id = String(audit().find((r) => r.type === 'approval.requested')!.approval);
    const approved = collect('approved');
    telegram.pushUpdate({ callback_query: { id: 'q4', from: { id: 77 }, data: `a:${id}`, message: { message_id: 42, chat: { id: -100777 } } } });
    const msg = await approved.nth(1);
    assert.deepEqual(msg.approval.by, ['telegram:77']);
  });

  it('Teams: the card carries a page link pair per approver; one of them decides, and the approvers get the outcome as a second card', async function () {
    await load(['cha']);
    const approved = collect('approved');
    await requestOne();
    const card = () =>
      teams.server.requests.map(
        (r) => (r.json as { attachments: { content: { body: { text: string }[]; actions: { title: string; url: string }[] } }[] }).attachments[0].content,
      );
    await until(() => card().length === 1, 'the request card');
    const actions = card()[0].actions;
    assert.deepEqual(
      actions.map((a) => a.title),
      ['Approve as ana (slack:U1)', 'Deny as ana (slack:U1)', 'Approve as ben (editor:ben)', 'Deny as ben (editor:ben)'],
    );
    assert.deepEqual(teams.violations, []);
    const link = `${srv!.url}${new URL(actions[2].url).pathname}`;
    assert.equal((await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' })).status, 200);
    const msg = await approved.nth(1);
    assert.deepEqual(msg.approval.by, ['editor:ben']);
    await until(() => card().length === 2, 'the outcome card');
    assert.match(card()[1].body[0].text, /: Approved by editor:ben/);
    assert.deepEqual(card()[1].actions, []);
    assert.ok(!JSON.stringify(audit()).includes(teams.webhookUrl.split('sig=')[1]), 'the workflow signature is not in the audit log');
  });

  it('a channel answering 500 does not stop the page link from deciding; the failure is audited and shown in the status', async function () {
    await load(['chw']);
    const approved = collect('approved');
    const statuses: string[] = [];
    helper.getNode('wa1').on('call:status', (call: { args: [{ text?: string }] }) => statuses.push(String(call.args[0]?.text)));
    await requestOne();
    const link = await loggedLink('ben', 'approve');
    assert.equal((await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'comment=ok' })).status, 200);
    const msg = await approved.nth(1);
    assert.deepEqual(msg.approval.by, ['editor:ben']);
    const failure = await until(() => audit().find((r) => r.type === 'approval.notify-failed'), 'the audited failure', 15000);
    assert.equal(failure.channel, 'broken hook');
    assert.equal(failure.notice, 'request');
    assert.match(String(failure.error), /500/);
    await until(() => statuses.some((s) => /broken hook failing/.test(s)), `the failing channel in the status (${statuses.join(' | ')})`);
  });

  it('flags at deploy a person-addressed channel no approver can be reached on (log and status); one an escalation person is on is fine', async function () {
    await load(['chs', 'chm', 'cha'], { approvers: 'ana: slack:U1\nben: editor:ben' });
    const statuses: string[] = [];
    helper
      .getNode('wa1')
      .on('call:status', (call: { args: [{ text?: string; fill?: string }] }) => statuses.push(`${call.args[0]?.fill}:${call.args[0]?.text}`));
    const warnings = () =>
      helper
        .log()
        .args.map((a: Msg[]) => a[0])
        .filter((m: Msg | undefined) => m?.level === helper.log().WARN && m?.id === 'wa1')
        .map((m: Msg) => String(m.msg));
    const flagged = warnings().filter((m: string) => /reaches nobody/.test(m));
    assert.equal(flagged.length, 1, `one warning, for Mattermost only (Slack reaches ana, Teams carries links): ${warnings().join(' | ')}`);
    assert.match(flagged[0], /ops mattermost/);
    assert.match(flagged[0], /mattermost:/);
    await requestOne();
    await until(() => statuses.some((s) => /^yellow:1 pending, ops mattermost reaches nobody$/.test(s)), `the flag in the status (${statuses.join(' | ')})`);
    assert.equal(mattermost.server.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/posts')).length, 0, 'nothing posted to Mattermost');

    await helper.unload();
    await load(['chm'], { approvers: 'ana: slack:U1', escalation: 'cay: mattermost:cay0000000000000000000000001', escalateAfter: 5 });
    assert.deepEqual(
      warnings().filter((m: string) => /reaches nobody/.test(m)),
      [],
      'the escalation list is reached there',
    );
  });

  it('after a redeploy the stored message references still get the outcome: the Slack message is updated', async function () {
    await load(['chs']);
    const id = await requestOne();
    await until(() => slackCalls('chat.postMessage')[0], 'chat.postMessage');
    await until(() => audit().find((r) => r.type === 'approval.notified'), 'the audited request');
    const link = new URL(await loggedLink('ben', 'approve')).pathname;
    await helper.unload();
    slack.server.requests.length = 0;
    await load(['chs']);
    const approved = collect('approved');
    assert.equal(
      (await fetch(`${srv!.url}${link}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' })).status,
      200,
    );
    const msg = await approved.nth(1);
    assert.equal(msg.approval.id, id);
    const update = await until(() => slackCalls('chat.update')[0], 'chat.update after the redeploy');
    // The ts Slack answered to chat.postMessage before the redeploy, read back from the hub's store.
    assert.equal((update.json as { channel: string }).channel, 'C0APPROVE');
    assert.match(String((update.json as { ts: string }).ts), /^1714557600\.000\d+$/);
    assert.match(String((update.json as { text: string }).text), /^Approved by editor:ben/);
  });
});
