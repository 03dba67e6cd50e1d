/**
 * The hub's lease admin routes and the firewall nodes' registration with the hub: which hub a release
 * acts on, hub warnings reaching every firewall node, published list names, firewalls removed while
 * they hold leases, and audit records naming firewalls by id and label.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { OPNSENSE_KEY, OPNSENSE_SECRET, startOpnsenseFake } from '../fakes/opnsense';
import { capturingRED, helper, nodeModule, readJsonLines, root, serve, tempDir } from '../helpers/nr';

const hubModule = nodeModule('hub');
const firewallModule = nodeModule('firewall');
const blockModule = nodeModule('block-ip');

type Msg = Record<string, any>;

const hubNode = (dir: string) => ({ id: 'hub1', type: 'soar-hub', dir, simulate: false, includeDefaults: true, maxActionsPerHour: 100 });
const firewall = (id: string, listName: string, name = `${listName} list`) => ({
  id,
  type: 'soar-firewall',
  name,
  hub: 'hub1',
  kind: 'blocklist',
  listName,
  reconcileMinutes: 0,
});
const blocker = (id: string, fw: string) => ({
  id,
  z: 'tab1',
  type: 'soar-block-ip',
  firewall: fw,
  target: 'alert.source.ip',
  targetType: 'msg',
  action: 'msg',
  ttl: 1,
  ttlUnit: 'h',
  permanent: false,
  reason: 'alert.title',
  reasonType: 'msg',
  wires: [['done'], ['refused'], ['failed']],
});
const outputs = [
  { id: 'done', z: 'tab1', type: 'helper' },
  { id: 'refused', z: 'tab1', type: 'helper' },
  { id: 'failed', z: 'tab1', type: 'helper' },
];

function next(id: string): Promise<Msg> {
  return new Promise((resolve) => helper.getNode(id).once('input', resolve));
}

const alertFrom = (ip: string) => ({ alert: { id: `a-${ip}`, title: `brute force from ${ip}`, source: { ip } } });

async function block(node: string, ip: string, extra: Msg = {}): Promise<Msg> {
  const out = next('done');
  helper.getNode(node).receive({ ...alertFrom(ip), ...extra });
  return out;
}

async function openHub(): Promise<any> {
  const { Hub } = require(path.join(root, 'dist', 'lib', 'hub', 'hub.js'));
  const [hub] = await Hub.all();
  return hub;
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('soar-hub lease routes and firewall registration', function () {
  this.timeout(30_000);
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
    const cap = capturingRED(firewallModule);
    await helper.load([hubModule, cap.module, blockModule], [{ id: 'tab1', type: 'tab', label: 't' }, ...flow], {});
    srv = await serve(cap.red().httpNode);
  }

  it('answers 404 for a release on a hub that is not open, and releases nothing', async function () {
    await load([hubNode(dir), firewall('fw1', 'edge'), blocker('b1', 'fw1'), ...outputs]);
    await block('b1', '203.0.113.30');
    const res = await helper
      .request()
      .post('/soar/leases/release')
      .send({ target: '203.0.113.30', provider: 'fw1', hub: path.join(dir, 'elsewhere') });
    assert.equal(res.status, 404);
    const leases = (await helper.request().get('/soar/leases').expect(200)).body.leases;
    assert.deepEqual(
      leases.map((l: Msg) => l.target),
      ['203.0.113.30'],
      'the lease on the open hub is untouched',
    );
    await helper.request().post('/soar/leases/release').send({ target: '203.0.113.30', provider: 'fw1' }).expect(400);
  });

  it('hands hub warnings to every firewall node, and removing one does not silence the others', async function () {
    const flow = [hubNode(dir), firewall('fw1', 'edge'), firewall('fw2', 'core'), blocker('b1', 'fw1'), ...outputs];
    await load(flow);
    await block('b1', '203.0.113.31');
    // A "modified nodes" deploy: fw1 keeps running, only fw2 is closed.
    await helper.setFlows([{ id: 'tab1', type: 'tab', label: 't' }, ...flow.filter((n) => n.id !== 'fw2')], 'nodes');
    await helper.getNode('fw1').ready;
    const seen: string[] = [];
    helper.getNode('fw1').warn = (message: string) => seen.push(message);
    const hub = await openHub();
    (hub.warn ?? hub.onWarning).call(hub, 'probe warning');
    assert.deepEqual(seen, ['probe warning']);
  });

  it("refuses a second firewall publishing the same list name, and closing it keeps the first one's list", async function () {
    const flow = [hubNode(dir), firewall('fw1', 'edge', 'first'), firewall('fw2', 'edge', 'second'), blocker('b1', 'fw1'), ...outputs];
    await load(flow);
    await block('b1', '203.0.113.32');
    // The catalog is not loaded in the test helper: messages are their i18n keys.
    await assert.rejects(helper.getNode('fw2').ready, /duplicateList/);
    await until(() => helper.log().args.some((a: Msg[]) => a[0]?.id === 'fw2' && a[0]?.level === 20), 'the refusal logged by the second node');
    let list = await (await fetch(`${srv!.url}/soar/blocklist/edge.txt`)).text();
    assert.match(list, /203\.0\.113\.32/);
    await helper.setFlows([{ id: 'tab1', type: 'tab', label: 't' }, ...flow.filter((n) => n.id !== 'fw2')], 'full');
    await helper.getNode('fw1').ready;
    const res = await fetch(`${srv!.url}/soar/blocklist/edge.txt`);
    assert.equal(res.status, 200, "removing the refused node does not remove the first one's list");
    list = await res.text();
    assert.match(list, /203\.0\.113\.32/);
  });

  it('keeps leases of a removed firewall expiring and releasable, and names it by its label', async function () {
    const flow = [hubNode(dir), firewall('fw1', 'edge', 'edge list'), firewall('fw2', 'core'), blocker('b1', 'fw1'), ...outputs];
    await load(flow);
    await block('b1', '203.0.113.40', { ttl: 2 });
    await block('b1', '203.0.113.41', { ttl: 3600 });
    // Remove the firewall and its block node; fw2 keeps the hub open.
    await helper.setFlows([{ id: 'tab1', type: 'tab', label: 't' }, ...flow.filter((n) => n.id !== 'fw1' && n.id !== 'b1')], 'full');
    await helper.getNode('fw2').ready;
    let leases = (await helper.request().get('/soar/leases').expect(200)).body.leases;
    assert.deepEqual(
      leases.map((l: Msg) => [l.target, l.providerLabel, l.orphaned]),
      [
        ['203.0.113.40', 'edge list', undefined],
        ['203.0.113.41', 'edge list', undefined],
      ],
    );
    await until(
      () => readJsonLines(path.join(dir, 'audit.jsonl')).some((r) => r.type === 'lease.expired' && r.target === '203.0.113.40'),
      "the expiry of the removed firewall's lease",
    );
    const released = await helper.request().post('/soar/leases/release').send({ target: '203.0.113.41', provider: 'fw1', hub: leases[1].hub });
    assert.equal(released.status, 200, JSON.stringify(released.body));
    leases = (await helper.request().get('/soar/leases').expect(200)).body.leases;
    assert.deepEqual(leases, []);
    const hub = await openHub();
    const { createPublishedBlocklist } = require(path.join(root, 'dist', 'lib', 'firewall', 'blocklist.js'));
    const entries = await createPublishedBlocklist({ name: 'edge', store: hub.store }).list();
    assert.deepEqual(entries, [], "both addresses are gone from the removed firewall's list");
  });

  it("records both the firewall's id and its label in lease and action audit records", async function () {
    await load([hubNode(dir), firewall('fw1', 'edge', 'edge list'), blocker('b1', 'fw1'), ...outputs]);
    await block('b1', '203.0.113.50');
    const done = readJsonLines(path.join(dir, 'audit.jsonl')).find((r) => r.type === 'action.done' && r.kind === 'block')!;
    assert.equal(done.provider, 'fw1');
    assert.equal(done.providerLabel, 'edge list');
    assert.equal((done.lease as Msg).providerLabel, 'edge list');
  });

  it('shows a removed firewall whose settings need credentials as orphaned, and answers release with 409, not 502', async function () {
    const fake = await startOpnsenseFake();
    try {
      const opn = {
        id: 'fw1',
        type: 'soar-firewall',
        name: 'office opnsense',
        hub: 'hub1',
        kind: 'opnsense',
        url: fake.url,
        listName: 'soar_block',
        reconcileMinutes: 0,
      };
      const flow = [hubNode(dir), opn, firewall('fw2', 'core'), blocker('b1', 'fw1'), ...outputs];
      const cap = capturingRED(firewallModule);
      await helper.load([hubModule, cap.module, blockModule], [{ id: 'tab1', type: 'tab', label: 't' }, ...flow], {
        fw1: { apiKey: OPNSENSE_KEY, apiSecret: OPNSENSE_SECRET },
      });
      await block('b1', '203.0.113.80');
      // Everything removed (the hub closes), then the flows come back without the OPNsense node: its
      // credentials are gone with it.
      await helper.setFlows([{ id: 'tab1', type: 'tab', label: 't' }], 'full');
      await helper.setFlows([{ id: 'tab1', type: 'tab', label: 't' }, hubNode(dir), firewall('fw2', 'core')], 'full');
      await helper.getNode('fw2').ready;
      const leases = (await helper.request().get('/soar/leases').expect(200)).body.leases;
      assert.deepEqual(
        leases.map((l: Msg) => [l.target, l.providerLabel, l.orphaned]),
        [['203.0.113.80', 'office opnsense', 'office opnsense was removed']],
      );
      const res = await helper.request().post('/soar/leases/release').send({ target: '203.0.113.80', provider: 'fw1', hub: leases[0].hub });
      assert.equal(res.status, 409);
      assert.match(res.body.reason, /orphaned: the firewall "office opnsense" was removed/);
      assert.equal((await helper.request().get('/soar/leases').expect(200)).body.leases.length, 1, 'the lease is kept');
    } finally {
      await fake.close();
    }
  });
});
