/**
 * The soar-approval-channel config node on its own: settings refused at deploy with clear errors that
 * carry no secret, the callback route on Node-RED's HTTP app (raw body intact beside a core http-in
 * node's parsers) removed on close, the Telegram poller started on deploy and stopped on close, and
 * the dialog's state line (ready, polling, failing with the last error).
 */
import assert from 'node:assert/strict';
import { signedInteraction, startSlackFake, SLACK_SIGNING_SECRET, SLACK_TOKEN, type SlackFake } from '../fakes/slack';
import { startTelegramFake, TG_TOKEN, type TelegramFake } from '../fakes/telegram';
import { withCatalogs } from '../helpers/i18n';
import { capturingRED, helper, nodeModule, readJsonLines, serve, tempDir } from '../helpers/nr';

const hubModule = nodeModule('hub');
const channelModule = withCatalogs(nodeModule('approval-channel'));
const waitModule = withCatalogs(nodeModule('wait-approval'));
const httpInModule = require('@node-red/nodes/core/network/21-httpin.js');

type Msg = Record<string, any>;

async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 8000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

describe('soar-approval-channel config node', function () {
  this.timeout(20000);
  let dir: string;
  let slack: SlackFake;
  let telegram: TelegramFake;
  let srv: { url: string; close(): Promise<void> } | undefined;

  before(async () => {
    [slack, telegram] = await Promise.all([startSlackFake(), startTelegramFake()]);
  });
  after(async () => {
    await Promise.all([slack.close(), telegram.close()]);
  });
  beforeEach(async function () {
    dir = tempDir();
    await helper.startServer();
  });
  afterEach(async function () {
    await srv?.close();
    srv = undefined;
    await helper.unload();
    await helper.stopServer();
  });

  async function load(nodes: Record<string, unknown>[], credentials: Record<string, Record<string, string>>, modules: unknown[] = []) {
    const cap = capturingRED(hubModule);
    const flow = [
      { id: 'tab1', type: 'tab', label: 't' },
      { id: 'hub1', type: 'soar-hub', dir, simulate: false, includeDefaults: true, maxActionsPerHour: 100 },
      ...nodes,
    ];
    await helper.load([cap.module, channelModule, waitModule, ...modules], flow, credentials);
    srv = await serve(cap.red().httpNode as never);
    return cap;
  }

  const errorsOf = (id: string): string[] =>
    helper
      .log()
      .args.filter((a: Msg[]) => a[0]?.level === 20 && a[0]?.id === id)
      .map((a: Msg[]) => String(a[0].msg));

  it('refuses missing and malformed settings at deploy with an error naming the fields, never a secret; a wait node using it still asks, and audits the failure', async function () {
    await load(
      [
        { id: 'bad', type: 'soar-approval-channel', name: 'team chat', hub: 'hub1', kind: 'mattermost', url: 'chat.example.org', channelId: '' },
        { id: 'odd', type: 'soar-approval-channel', hub: 'hub1', kind: 'pigeon' },
        {
          id: 'wa1',
          z: 'tab1',
          type: 'soar-wait-approval',
          hub: 'hub1',
          approvers: 'ben: editor:ben, mattermost:k3jq8lw2nx7rv5tb1yc9hd4mf6',
          channel1: 'bad',
          configVersion: 2,
          wires: [[], [], []],
        },
      ],
      { bad: { botToken: 'mm-secret-token-Zk3Jq8Lw2Nx7' } },
    );
    const bad = await until(() => errorsOf('bad').find((e) => /approval channel team chat/.test(e)), 'the deploy error');
    assert.match(bad, /mattermost: needs channelId; url must be an http\(s\):\/\/ URL/);
    assert.ok(!bad.includes('mm-secret-token'), bad);
    const odd = await until(() => errorsOf('odd').find((e) => /unknown approval channel kind "pigeon"/.test(e)), 'the unknown kind');
    assert.ok(odd);

    helper.getNode('wa1').receive({ alert: { title: 'x', source: { ip: '203.0.113.7' } } });
    const failed = await until(() => readJsonLines(`${dir}/audit.jsonl`).find((r) => r.type === 'approval.notify-failed'), 'the audited failure');
    assert.equal(failed.channel, 'team chat');
    assert.match(String(failed.error), /the channel is not set up: .*needs channelId/);
    assert.ok(
      readJsonLines(`${dir}/audit.jsonl`).some((r) => r.type === 'approval.requested'),
      'the approval is asked all the same',
    );
    assert.ok(!JSON.stringify(readJsonLines(`${dir}/audit.jsonl`)).includes('mm-secret-token'));
    const state = await helper.request().get('/soar/approval-channels/bad').expect(200);
    assert.equal(state.body.state, 'error');
  });

  it('mounts the Slack callback on the HTTP app with the raw body intact beside an http-in node with parsers, and removes it on close', async function () {
    await load(
      [
        { id: 'chs', type: 'soar-approval-channel', hub: 'hub1', kind: 'slack', channelId: 'C0APPROVE', url: slack.apiUrl },
        // A core http-in node on the same app: its JSON and form parsers are its route's own.
        { id: 'in1', z: 'tab1', type: 'http in', url: '/other', method: 'post', wires: [['out1']] },
        { id: 'out1', z: 'tab1', type: 'http response', statusCode: '299', wires: [] },
      ],
      { chs: { botToken: SLACK_TOKEN, signingSecret: SLACK_SIGNING_SECRET } },
      [httpInModule],
    );
    await helper.getNode('chs').ready;
    const url = `${srv!.url}/soar/approval-channel/chs/callback`;
    const signed = signedInteraction({ userId: 'U1', approvalId: 'no-such-approval', actionId: 'approve', timestamp: Math.floor(Date.now() / 1000) });
    const first = await fetch(url, { method: 'POST', headers: signed.headers, body: signed.body });
    // 200: the signature over the raw form body verified (a parsed body could not be signed again byte for byte).
    assert.equal(first.status, 200);
    const other = await fetch(`${srv!.url}/other`, { method: 'POST', headers: signed.headers, body: signed.body });
    assert.equal(other.status, 299, "the http-in node's route works beside it");
    const state = await helper.request().get('/soar/approval-channels/chs').expect(200);
    assert.equal(state.body.state, 'ready');
    assert.equal(state.body.callbackPath, '/soar/approval-channel/chs/callback');
    await until(() => readJsonLines(`${dir}/audit.jsonl`).some((r) => r.type === 'approval.refused' && r.code === 'unknown'), 'the engine refusal');

    await helper.unload();
    const later = signedInteraction({ userId: 'U1', approvalId: 'x', actionId: 'approve', timestamp: Math.floor(Date.now() / 1000) });
    const after = await fetch(url, { method: 'POST', headers: later.headers, body: later.body });
    assert.equal(after.status, 404);
  });

  it('polls Telegram while deployed (state "polling") and stops polling on close', async function () {
    await load([{ id: 'cht', type: 'soar-approval-channel', hub: 'hub1', kind: 'telegram', chatId: '-100777', pollTimeout: 1, url: telegram.apiUrl }], {
      cht: { botToken: TG_TOKEN },
    });
    await helper.getNode('cht').ready;
    await until(() => telegram.offsets.length > 0, 'a getUpdates call');
    const state = await helper.request().get('/soar/approval-channels/cht').expect(200);
    assert.equal(state.body.state, 'polling');
    await helper.unload();
    const calls = telegram.offsets.length;
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(telegram.offsets.length, calls, 'no getUpdates after close');
  });
});
