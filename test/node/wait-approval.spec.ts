import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { approvalDigest } from '../../lib/contract/approval';
import { collect as collectFrom } from '../helpers/collect';
import { withCatalogs } from '../helpers/i18n';
import { capturingRED, helper, nodeModule, readJsonLines, serve, tempDir } from '../helpers/nr';

const hubModule = nodeModule('hub');
const firewallModule = nodeModule('firewall');
const blockModule = nodeModule('block-ip');
const waitModule = withCatalogs(nodeModule('wait-approval'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const changeModule = require('@node-red/nodes/core/function/15-change.js');

type Msg = Record<string, any>;

const APPROVERS = 'alice: editor:alice\nbob: editor:bob, email:bob@example.org';

function flow(dir: string, wait: Record<string, unknown> = {}, extra: Record<string, unknown>[] = []) {
  return [
    { id: 'tab1', type: 'tab', label: 't' },
    { id: 'hub1', type: 'soar-hub', dir, simulate: false, includeDefaults: true, maxActionsPerHour: 100 },
    {
      id: 'wa1',
      z: 'tab1',
      type: 'soar-wait-approval',
      hub: 'hub1',
      approvers: APPROVERS,
      quorum: 1,
      timeout: 60,
      onTimeout: 'deny',
      fields: 'alert.source.ip',
      configVersion: 1,
      wires: [['approved'], ['denied'], ['expired']],
      ...wait,
    },
    { id: 'approved', z: 'tab1', type: 'helper' },
    { id: 'denied', z: 'tab1', type: 'helper' },
    { id: 'expired', z: 'tab1', type: 'helper' },
    ...extra,
  ];
}

const alertFrom = (ip: string) => ({ alert: { id: `a-${ip}`, title: `brute force from ${ip}`, source: { ip } } });

/** Every message a helper node receives, and a wait for the n-th (5000 ms unless told). */
const collect = (id: string) => collectFrom(id, 5000);

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The admin app as the editor user `x-test-user` (the test helper has no adminAuth). */
function actAsHeaderUser(red: { httpAdmin: unknown }) {
  const app = red.httpAdmin as { use(h: unknown): void; _router?: { stack: unknown[] }; router?: { stack: unknown[] } };
  app.use((req: { headers: Record<string, string>; user?: unknown }, _res: unknown, next: () => void) => {
    if (req.headers['x-test-user']) req.user = { username: req.headers['x-test-user'] };
    next();
  });
  const stack = (app._router ?? app.router)!.stack;
  stack.unshift(stack.pop());
}

async function pendingIds(): Promise<Msg[]> {
  return (await helper.request().get('/soar/approvals').expect(200)).body.approvals;
}

function decide(user: string | undefined, body: Record<string, unknown>) {
  const req = helper.request().post('/soar/approvals/decide').send(body);
  return user ? req.set('x-test-user', user) : req;
}

describe('soar-wait-approval node', function () {
  this.timeout(20000);
  let dir: string;
  beforeEach(async function () {
    dir = tempDir();
    await helper.startServer();
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
  });

  async function load(wait: Record<string, unknown> = {}, extra: Record<string, unknown>[] = [], modules: unknown[] = []) {
    const cap = capturingRED(hubModule);
    await helper.load([cap.module, waitModule, ...modules], flow(dir, wait, extra));
    actAsHeaderUser(cap.red() as never);
    await until(async () => (await pendingIds()) !== undefined, 'the admin route');
    return cap;
  }

  async function requestOne(ip = '203.0.113.7'): Promise<Msg> {
    helper.getNode('wa1').receive(alertFrom(ip));
    let list: Msg[] = [];
    await until(async () => (list = await pendingIds()).length > 0, 'a pending approval');
    return list[0];
  }

  it('needs 2 of 2 through the sidebar, refuses a second vote and an unknown identity, then sends once on approved', async function () {
    await load({ quorum: 2 });
    const approved = collect('approved');
    const statuses: string[] = [];
    helper.getNode('wa1').on('call:status', (call: { args: [{ text?: string }] }) => statuses.push(String(call.args[0]?.text)));
    const a = await requestOne();
    await until(() => statuses.includes('1 pending'), `the pending count in the status (${statuses.join(', ')})`);
    assert.equal(a.title, 'brute force from 203.0.113.7');
    assert.equal(a.target, '203.0.113.7');
    assert.equal(a.quorum, 2);

    const mallory = await decide('mallory', { hub: a.hub, id: a.id, decision: 'approve' }).expect(403);
    assert.equal(mallory.body.code, 'not-approver');
    assert.equal(mallory.body.identity, 'editor:mallory');
    await decide(undefined, { hub: a.hub, id: a.id, decision: 'approve' }).expect(403); // editor:anonymous is not listed

    const first = await decide('alice', { hub: a.hub, id: a.id, decision: 'approve' }).expect(200);
    assert.deepEqual(first.body, { identity: 'editor:alice', state: 'pending', resolved: false });
    await decide('alice', { hub: a.hub, id: a.id, decision: 'approve' }).expect(409);
    await sleep(50);
    assert.equal(approved.msgs.length, 0, 'one of two approvals sends nothing');

    const second = await decide('bob', { hub: a.hub, id: a.id, decision: 'approve' }).expect(200);
    assert.equal(second.body.state, 'approved');
    const msg = await approved.nth(1);
    assert.equal(msg.alert.source.ip, '203.0.113.7');
    assert.equal(msg.approval.decision, 'approved');
    assert.deepEqual(msg.approval.by.sort(), ['editor:alice', 'editor:bob']);
    assert.deepEqual(msg.approval.fields, ['alert.source.ip']);
    assert.deepEqual(await pendingIds(), []);
    await sleep(100);
    assert.equal(approved.msgs.length, 1, 'sent exactly once');
    assert.equal(statuses[statuses.length - 1], '0 pending');

    const audit = readJsonLines(path.join(dir, 'audit.jsonl')).map((r) => r.type);
    for (const type of ['approval.requested', 'approval.vote', 'approval.refused', 'approval.decided'])
      assert.ok(audit.includes(type), `${type} in ${audit.join(',')}`);
  });

  it('one deny denies', async function () {
    await load({ quorum: 2 });
    const denied = collect('denied');
    const approved = collect('approved');
    const a = await requestOne();
    await decide('alice', { hub: a.hub, id: a.id, decision: 'approve' }).expect(200);
    const r = await decide('bob', { hub: a.hub, id: a.id, decision: 'deny', comment: 'our scanner' }).expect(200);
    assert.equal(r.body.state, 'denied');
    const msg = await denied.nth(1);
    assert.equal(msg.approval.decision, 'denied');
    assert.deepEqual(msg.approval.by, ['editor:bob']);
    assert.equal(approved.msgs.length, 0);
  });

  for (const [onTimeout, output, decision] of [
    ['deny', 'expired', 'expired'],
    ['approve', 'approved', 'approved'],
  ] as const) {
    it(`timeout outcome ${onTimeout}: sent on ${output}`, async function () {
      await load({ timeout: 0.005, onTimeout }); // 300 ms
      const out = collect(output);
      helper.getNode('wa1').receive(alertFrom('203.0.113.9'));
      const msg = await out.nth(1);
      assert.equal(msg.approval.decision, decision);
      assert.deepEqual(msg.approval.by, []);
      await sleep(100);
      assert.equal(out.msgs.length, 1);
    });
  }

  it('timeout outcome escalate: the escalation list may decide afterwards, else it expires', async function () {
    await load({ timeout: 0.005, onTimeout: 'escalate', escalation: 'carol: editor:carol' });
    const approved = collect('approved');
    const expired = collect('expired');
    const a = await requestOne();
    await decide('carol', { hub: a.hub, id: a.id, decision: 'approve' }).expect(403); // not yet escalated
    await until(() => readJsonLines(path.join(dir, 'audit.jsonl')).some((r) => r.type === 'approval.escalated'), 'the escalation');
    await decide('carol', { hub: a.hub, id: a.id, decision: 'approve' }).expect(200);
    const msg = await approved.nth(1);
    assert.deepEqual(msg.approval.by, ['editor:carol']);

    // A second one nobody answers: expired after the escalation's own timeout.
    helper.getNode('wa1').receive(alertFrom('203.0.113.10'));
    const late = await expired.nth(1);
    assert.equal(late.approval.decision, 'expired');
    assert.equal(late.alert.source.ip, '203.0.113.10');
  });

  it('refuses bad settings at deploy: a quorum larger than the list', async function () {
    await load({ quorum: 3 });
    const node = helper.getNode('wa1');
    const err = new Promise<Msg>((resolve) => node.on('call:error', (call: { args: unknown[] }) => resolve(call.args)));
    node.receive(alertFrom('203.0.113.7'));
    const args = await err;
    assert.match(String(args[0]), /quorum 3 is larger than the 2 listed approvers/);
    assert.deepEqual(await pendingIds(), []);
    const refused = () => readJsonLines(path.join(dir, 'audit.jsonl')).find((r) => r.type === 'approval.refused');
    await until(() => refused() !== undefined, 'the audited refusal');
    const refusal = refused()!;
    assert.equal(refusal.code, 'bad-policy');
    assert.equal(refusal.origin, 'wa1');
    assert.match(String(refusal.reason), /quorum 3 is larger than the 2 listed approvers/);
  });

  it('refuses a message that cannot be held (a function), audited; drops msg.req/msg.res and lists them', async function () {
    await load();
    const node = helper.getNode('wa1');
    const err = new Promise<unknown[]>((resolve) => node.on('call:error', (call: { args: unknown[] }) => resolve(call.args)));
    node.receive({ ...alertFrom('203.0.113.7'), callback: () => 1 });
    assert.match(String((await err)[0]), /msg\.callback is a function, which does not survive as JSON/);
    assert.deepEqual(await pendingIds(), []);
    const refusal = readJsonLines(path.join(dir, 'audit.jsonl')).find((r) => r.type === 'approval.refused');
    assert.equal(refusal?.code, 'not-serialisable');

    node.receive({ ...alertFrom('203.0.113.8'), req: { live: true }, res: { live: true } });
    await until(() => readJsonLines(path.join(dir, 'audit.jsonl')).some((r) => r.type === 'approval.requested'), 'the request');
    const requested = readJsonLines(path.join(dir, 'audit.jsonl')).find((r) => r.type === 'approval.requested')!;
    assert.deepEqual(requested.dropped, ['req', 'res']);
  });

  it('sends the held message exactly once after a redeploy while pending', async function () {
    await load();
    const a = await requestOne();
    await helper.unload();
    await load();
    const approved = collect('approved');
    await decide('bob', { hub: a.hub, id: a.id, decision: 'approve' }).expect(200);
    const msg = await approved.nth(1);
    assert.equal(msg.approval.id, a.id);
    await sleep(150);
    assert.equal(approved.msgs.length, 1);
    // And again: a decided, delivered approval is not sent by the next deploy.
    await helper.unload();
    await load();
    const again = collect('approved');
    await sleep(300);
    assert.equal(again.msgs.length, 0);
  });

  it('the logged page link: GET decides nothing, POST decides and the flow continues', async function () {
    const cap = await load({ quorum: 1 });
    const approved = collect('approved');
    helper.getNode('wa1').receive(alertFrom('203.0.113.7'));
    let lines: string[] = [];
    await until(() => {
      lines = helper
        .log()
        .args.map((a: Msg[]) => a[0]?.msg)
        .filter((m: unknown) => typeof m === 'string' && m.includes('/soar/approval/'));
      return lines.length >= 4;
    }, 'the logged links');
    assert.ok(!lines.some((l) => l.includes('email:')), 'no link for the e-mail identity is logged');
    const approveAlice = lines.find((l) => l.includes('approve as alice'))!;
    const url = new URL(/https?:\/\/\S+/.exec(approveAlice)![0]);
    const srv = await serve(cap.red().httpNode as never);
    try {
      const link = `${srv.url}${url.pathname}`;
      const got = await fetch(link);
      assert.equal(got.status, 200);
      assert.match(await got.text(), /<form method="post">/);
      await sleep(100);
      assert.equal(approved.msgs.length, 0, 'a GET decides nothing');
      const posted = await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'comment=ok' });
      assert.equal(posted.status, 200);
      assert.match(await posted.text(), /Decision recorded/);
      const msg = await approved.nth(1);
      assert.deepEqual(msg.approval.by, ['editor:alice']);
      const reused = await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
      assert.equal(reused.status, 409);
      const forged = await fetch(`${srv.url}${url.pathname.replace(/[^/]+$/, 'C'.repeat(43))}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: '',
      });
      assert.equal(forged.status, 404);
      const refused = readJsonLines(path.join(dir, 'audit.jsonl')).filter((r) => r.type === 'approval.refused');
      assert.deepEqual(
        refused.map((r) => [r.code, r.channel]),
        [
          ['link-used', 'page'],
          ['unknown', 'page'],
        ],
        'the reused and the forged link are audited',
      );
      assert.ok(!readFileSync(path.join(dir, 'audit.jsonl'), 'utf8').includes(url.pathname.split('/').pop()!), 'no link token in the audit');
    } finally {
      await srv.close();
    }
  });

  it('block IP refuses an approved message whose address was changed after the approval (audited)', async function () {
    const extra = [
      { id: 'fw1', type: 'soar-firewall', name: 'edge list', hub: 'hub1', kind: 'blocklist', listName: 'edge', reconcileMinutes: 0 },
      { id: 'chg', z: 'tab1', type: 'change', rules: [{ t: 'set', p: 'alert.source.ip', pt: 'msg', to: '198.51.100.66', tot: 'str' }], wires: [['b1']] },
      {
        id: 'b1',
        z: 'tab1',
        type: 'soar-block-ip',
        firewall: 'fw1',
        target: 'alert.source.ip',
        targetType: 'msg',
        action: 'block',
        gate: 'malicious',
        ttl: 1,
        ttlUnit: 'h',
        configVersion: 1,
        wires: [['done'], ['refused'], ['failed']],
      },
      { id: 'done', z: 'tab1', type: 'helper' },
      { id: 'refused', z: 'tab1', type: 'helper' },
      { id: 'failed', z: 'tab1', type: 'helper' },
    ];
    await load({ wires: [['chg', 'approved'], ['denied'], ['expired']] }, extra, [firewallModule, blockModule, changeModule]);
    const refused = collect('refused');
    const done = collect('done');
    const a = await requestOne('203.0.113.7');
    await decide('alice', { hub: a.hub, id: a.id, decision: 'approve' }).expect(200);
    const msg = await refused.nth(1);
    assert.equal(msg.actions[0].status, 'refused');
    assert.equal(msg.actions[0].target, '198.51.100.66');
    assert.match(msg.actions[0].reason, /does not match the message any more/);
    assert.equal(done.msgs.length, 0);
    const audit = readJsonLines(path.join(dir, 'audit.jsonl')).filter((r) => r.type === 'action.refused');
    assert.equal(audit.length, 1);
    assert.match(String(audit[0].reason), /alert\.source\.ip changed after it was approved/);
  });

  it('block IP acts on the unchanged approved address, and refuses a forged approval', async function () {
    const extra = [
      { id: 'fw1', type: 'soar-firewall', name: 'edge list', hub: 'hub1', kind: 'blocklist', listName: 'edge', reconcileMinutes: 0 },
      {
        id: 'b1',
        z: 'tab1',
        type: 'soar-block-ip',
        firewall: 'fw1',
        target: 'alert.source.ip',
        targetType: 'msg',
        action: 'block',
        gate: 'malicious',
        ttl: 1,
        ttlUnit: 'h',
        configVersion: 1,
        wires: [['done'], ['refused'], ['failed']],
      },
      { id: 'done', z: 'tab1', type: 'helper' },
      { id: 'refused', z: 'tab1', type: 'helper' },
      { id: 'failed', z: 'tab1', type: 'helper' },
    ];
    await load({ wires: [['b1'], ['denied'], ['expired']] }, extra, [firewallModule, blockModule]);
    const refused = collect('refused');
    const done = collect('done');
    const a = await requestOne('203.0.113.7');
    await decide('alice', { hub: a.hub, id: a.id, decision: 'approve' }).expect(200);
    const ok = await done.nth(1);
    assert.equal(ok.actions[0].status, 'blocked');
    assert.equal(ok.actions[0].allowedBy, 'approval');

    // Same shape, digest computed by anyone, but no decision recorded by this hub.
    const forged = { ...alertFrom('203.0.113.8'), approval: { ...ok.approval, id: 'forged-1' } };
    forged.approval.digest = approvalDigest(forged, ['alert.source.ip']);
    helper.getNode('b1').receive(forged);
    const no = await refused.nth(1);
    assert.match(no.actions[0].reason, /not one this hub decided/);
  });
});
