/**
 * The quickstart playbook, loaded and run as Node-RED loads it: the copy saved by release 0.1.0
 * (test/fixtures/flows, unchanged) migrates and keeps its behaviour; the shipped example holds a
 * malicious alert for approval, then blocks only what the verdict accused.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validateMessage } from '../../lib/contract';
import { withCatalogs } from '../helpers/i18n';
import { capturingRED, helper, nodeModule, readJsonLines, root, sample, serve, tempDir } from '../helpers/nr';

type Msg = Record<string, any>;

const nodesDir = path.dirname(require.resolve('@node-red/nodes/package.json'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const core = (file: string) => require(path.join(nodesDir, 'core', file));
const firewall = capturingRED(nodeModule('firewall'));
const modules = [
  nodeModule('hub'),
  nodeModule('alert-intake'),
  nodeModule('intel-source'),
  nodeModule('enrich-ioc'),
  firewall.module,
  nodeModule('block-ip'),
  nodeModule('ticketing'),
  nodeModule('open-ticket'),
  // With its catalog: the test reads the approval links it logs.
  withCatalogs(nodeModule('wait-approval')),
  core('common/21-debug.js'),
  core('common/90-comment.js'),
  core('function/10-switch.js'),
];
const FIXTURE = path.join(root, 'test', 'fixtures', 'flows', 'Quickstart playbook.json');
const SHIPPED = path.join(root, 'examples', 'Quickstart playbook.json');

function playbook(file: string, dir: string, change: (n: Msg) => Msg = (n) => n): Msg[] {
  const flow = JSON.parse(fs.readFileSync(file, 'utf8')) as Msg[];
  // Only the state folder moves into the test's temporary directory.
  return flow.map((n) => change(n.type === 'soar-hub' ? { ...n, dir } : n));
}

/** A Wazuh sshd alert from `source` whose log line also names `mentioned`. */
function wazuhAlert(source: string, mentioned: string): Msg {
  const raw = JSON.parse(sample('wazuh/sshd-bruteforce.json'));
  raw.id = `qs-${source}-${mentioned}`;
  raw.data.srcip = source;
  raw.full_log = `Nov 20 08:14:03 web-02 sshd[40211]: Invalid user admin from ${source} port 51122; earlier attempts relayed via ${mentioned}`;
  return raw;
}

/** Every message a node receives, and a wait for the first. */
function received(id: string): { msgs: Msg[]; first(ms?: number): Promise<Msg> } {
  const msgs: Msg[] = [];
  helper.getNode(id).on('input', (m: Msg) => msgs.push(m));
  return { msgs, first: (ms = 10000) => until(() => msgs[0], `a message at ${id}`, ms) };
}

async function until<T>(get: () => T | undefined | Promise<T | undefined>, what: string, ms = 10000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await get();
    if (value) return value;
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('quickstart playbook', function () {
  this.timeout(30000);
  let dir: string;
  let srv: { url: string; close(): Promise<void> } | undefined;
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

  async function load(flow: Msg[]): Promise<void> {
    await helper.load(modules, flow, { 'soar-quickstart-intake': { token: 'quickstart-test-token-0123456789' } });
    srv = await serve(firewall.red().httpNode);
  }
  const post = (alert: Msg) => helper.getNode('soar-quickstart-intake').receive({ payload: alert });
  const published = async () => (await fetch(`${srv!.url}/soar/blocklist/soar.txt`)).text();
  const audit = () => readJsonLines(path.join(dir, 'audit.jsonl'));
  /** The pending approvals as the SOAR sidebar lists them (the test helper has no login: editor:anonymous). */
  const sidebar = async (): Promise<Msg[]> => (await helper.request().get('/soar/approvals').expect(200)).body.approvals;
  /** The approval page links the wait-for-approval node logged (Node-RED's log: the npm start console). */
  const loggedLinks = () =>
    helper
      .log()
      .args.map((a: Msg[]) => a[0]?.msg)
      .filter((m: unknown): m is string => typeof m === 'string' && m.includes('/soar/approval/'));

  it("release 0.1.0's saved quickstart loads, migrates and keeps its behaviour: it blocks the alert's source", async function () {
    await load(playbook(FIXTURE, dir));
    const blocked = received('soar-quickstart-blocked');
    post(wazuhAlert('198.51.100.10', '198.51.100.23'));
    const msg = await blocked.first();
    assert.equal(msg.enrichment.verdict, 'malicious');
    assert.deepEqual(msg.enrichment.indicators['198.51.100.23'], { verdict: 'malicious', score: 100 });
    // As before the condition existed: the source was blocked although nothing accused it; the record now says so.
    assert.deepEqual(
      msg.actions.map((a: Msg) => [a.target, a.status, a.verdict?.verdict, a.allowedBy]),
      [['198.51.100.10', 'blocked', 'unknown', 'off']],
    );
    assert.match(await published(), /^198\.51\.100\.10$/m);
    assert.deepEqual(validateMessage(msg), [], 'every message part follows the contract');
    assert.equal(msg.approval, undefined, 'the saved flow has no approval step and gets none');
    assert.deepEqual(await sidebar(), []);
  });

  it('the shipped quickstart holds a malicious alert until it is approved through the logged page link, then blocks only the accused address and opens a local case', async function () {
    await load(playbook(SHIPPED, dir));
    const blocked = received('soar-quickstart-blocked');
    const ticketed = received('soar-quickstart-ticketed');
    const blockIn = received('soar-quickstart-block');
    post(wazuhAlert('198.51.100.10', '198.51.100.23'));

    // One approve and one deny link for the one approver (admin), in the log.
    const lines = await until(() => (loggedLinks().length >= 2 ? loggedLinks() : undefined), 'the logged approval links');
    await sleep(100);
    assert.equal(loggedLinks().length, 2, loggedLinks().join('\n'));
    assert.match(
      lines[0],
      /^approval "sshd: brute force trying to get access to the system\. Non existent user\.": approve as admin: http:\/\/\S+\/soar\/approval\/[\w-]{43}$/,
    );
    assert.match(lines[1], /: deny as admin: http:\/\/\S+\/soar\/approval\/[\w-]{43}$/);

    // Pending in the sidebar; nothing blocked while it waits.
    const [pending] = await sidebar();
    assert.equal(pending.action, 'block the IP addresses the verdict accused');
    assert.equal(pending.target, '198.51.100.23', 'the sidebar names the accused address');
    assert.deepEqual(pending.covers[0], { value: '198.51.100.23', verdict: 'malicious', score: 100 });
    assert.ok(
      pending.covers.some((c: Msg) => c.value === '198.51.100.10'),
      'and every covered indicator with its verdict',
    );
    assert.equal(pending.quorum, 1);
    await sleep(200);
    assert.equal(blockIn.msgs.length, 0, 'the block waits for the approval');
    assert.doesNotMatch(await published(), /^198\.51\.100\./m);

    // GET shows the request (it names the accused address among its reasons) and decides nothing; POST approves.
    const link = `${srv!.url}${new URL(/https?:\/\/\S+/.exec(lines[0])![0]).pathname}`;
    const page = await fetch(link);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<form method="post">/);
    assert.match(html, /<dt>Target<\/dt><dd>198\.51\.100\.23<\/dd>/, 'the accused address is the target');
    // Every indicator the approval covers is listed with its verdict, the accused one first.
    const covered = [...html.matchAll(/<li class="covers">(.*?)<\/li>/g)].map((m) => m[1]);
    assert.match(covered[0], /^198\.51\.100\.23 — malicious/);
    assert.ok(
      covered.some((c) => c.startsWith('198.51.100.10 — ')),
      covered.join(' | '),
    );
    await sleep(100);
    assert.equal(blockIn.msgs.length, 0, 'a GET decides nothing');
    const posted = await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'comment=seen+in+the+demo' });
    assert.equal(posted.status, 200);
    assert.match(await posted.text(), /Decision recorded/);

    const msg = await blocked.first();
    assert.equal(msg.enrichment.verdict, 'malicious');
    assert.equal(msg.approval.decision, 'approved');
    assert.deepEqual(msg.approval.fields, ['enrichment.indicators']);
    assert.deepEqual(msg.approval.by, ['editor:admin']);
    assert.deepEqual(
      msg.actions.map((a: Msg) => [a.target, a.status, a.verdict, a.allowedBy]),
      [['198.51.100.23', 'blocked', { verdict: 'malicious', score: 100 }, 'approval']],
    );
    const list = await published();
    assert.match(list, /^198\.51\.100\.23$/m);
    assert.doesNotMatch(list, /^198\.51\.100\.10$/m);
    assert.deepEqual(validateMessage(msg), [], 'every message part follows the contract');
    const ticket = (await ticketed.first()).ticket;
    assert.deepEqual([ticket.provider, ticket.status, ticket.key, ticket.url], ['local', 'created', '#1', '/soar/cases/soar-quickstart-cases/1']);
    // The lease and the audit log name the approval the block ran under.
    assert.equal(msg.actions[0].lease.approvalId, msg.approval.id);
    const done = audit().filter((r: Msg) => r.type === 'action.done' && r.kind === 'block') as Msg[];
    assert.deepEqual(
      done.map((r) => [r.target, r.lease?.approvalId]),
      [['198.51.100.23', msg.approval.id]],
    );
    assert.deepEqual(await sidebar(), [], 'no longer pending');
  });

  it('the shipped quickstart blocks nothing when the approval is denied in the SOAR sidebar; the denial shows on its own debug node', async function () {
    await load(playbook(SHIPPED, dir));
    const blockIn = received('soar-quickstart-block');
    const denied = received('soar-quickstart-denied');
    post(wazuhAlert('198.51.100.10', '198.51.100.23'));
    const pending = await until(async () => (await sidebar())[0], 'the pending approval in the sidebar');
    // Without a login the decider is editor:anonymous, one of admin's identities in the quickstart.
    const answer = await helper.request().post('/soar/approvals/decide').send({ hub: pending.hub, id: pending.id, decision: 'deny' }).expect(200);
    assert.deepEqual(answer.body, { identity: 'editor:anonymous', state: 'denied', resolved: true });
    const msg = await denied.first();
    assert.equal(msg.approval.decision, 'denied');
    assert.deepEqual(msg.approval.by, ['editor:anonymous']);
    await sleep(300);
    assert.equal(blockIn.msgs.length, 0, 'a denied alert never reaches the block');
    assert.doesNotMatch(await published(), /^198\.51\.100\./m);
    assert.deepEqual(
      audit()
        .filter((r) => String(r.type).startsWith('action.'))
        .map((r) => r.type),
      [],
    );
  });

  it("an approval of the alert's source alone would not cover the accused address: block IP refuses it (why the quickstart approves the indicators)", async function () {
    await load(playbook(SHIPPED, dir, (n) => (n.id === 'soar-quickstart-approval' ? { ...n, fields: 'alert.source.ip' } : n)));
    const blocked = received('soar-quickstart-blocked');
    post(wazuhAlert('198.51.100.10', '198.51.100.23'));
    const pending = await until(async () => (await sidebar())[0], 'the pending approval in the sidebar');
    await helper.request().post('/soar/approvals/decide').send({ hub: pending.hub, id: pending.id, decision: 'approve' }).expect(200);
    const msg = await blocked.first();
    assert.deepEqual(
      msg.actions.map((a: Msg) => [a.target, a.status]),
      [['198.51.100.23', 'refused']],
    );
    assert.match(msg.actions[0].reason, /does not cover 198\.51\.100\.23/);
    assert.doesNotMatch(await published(), /^198\.51\.100\./m);
  });
});
