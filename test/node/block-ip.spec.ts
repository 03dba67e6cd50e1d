import assert from 'node:assert/strict';
import * as path from 'node:path';
import { capturingRED, helper, nodeModule, readJsonLines, root, serve, tempDir } from '../helpers/nr';

const hubModule = nodeModule('hub');
const firewallModule = nodeModule('firewall');
const blockModule = nodeModule('block-ip');

type Msg = Record<string, any>;

function flow(dir: string, opts: { simulate?: boolean; block?: Record<string, unknown>; firewall?: Record<string, unknown> } = {}) {
  return [
    { id: 'tab1', type: 'tab', label: 't' },
    { id: 'hub1', type: 'soar-hub', dir, simulate: Boolean(opts.simulate), includeDefaults: true, maxActionsPerHour: 100 },
    { id: 'fw1', type: 'soar-firewall', name: 'edge list', hub: 'hub1', kind: 'blocklist', listName: 'edge', reconcileMinutes: 0, ...opts.firewall },
    {
      id: 'b1',
      z: 'tab1',
      type: 'soar-block-ip',
      firewall: 'fw1',
      target: 'alert.source.ip',
      targetType: 'msg',
      action: 'msg',
      ttl: 1,
      ttlUnit: 'h',
      permanent: false,
      reason: 'alert.title',
      reasonType: 'msg',
      wires: [['done'], ['refused'], ['failed']],
      ...opts.block,
    },
    { id: 'done', z: 'tab1', type: 'helper' },
    { id: 'refused', z: 'tab1', type: 'helper' },
    { id: 'failed', z: 'tab1', type: 'helper' },
  ];
}

/** The published list as a firewall pulls it; a missing list must fail the test, not pass a "not listed" check. */
async function pull(url: string): Promise<string> {
  const res = await fetch(`${url}/soar/blocklist/edge.txt`);
  assert.equal(res.status, 200, 'the published list is served');
  return res.text();
}

function next(id: string): Promise<Msg> {
  return new Promise((resolve) => helper.getNode(id).once('input', resolve));
}

const alertFrom = (ip: string) => ({ alert: { id: `a-${ip}`, title: `brute force from ${ip}`, source: { ip } } });

describe('soar-block-ip node', function () {
  let dir: string;
  beforeEach(async function () {
    dir = tempDir();
    await helper.startServer();
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
  });

  async function load(opts: Parameters<typeof flow>[1] = {}, creds: Record<string, unknown> = {}) {
    const cap = capturingRED(firewallModule);
    await helper.load([hubModule, cap.module, blockModule], flow(dir, opts), creds);
    const srv = await serve(cap.red().httpNode);
    return srv;
  }

  it('blocks as a lease, publishes the address for firewalls to pull, extends on repeat, and unblocks', async function () {
    const srv = await load();
    try {
      let out = next('done');
      helper.getNode('b1').receive(alertFrom('203.0.113.7'));
      let msg = await out;
      assert.equal(msg.actions[0].kind, 'block');
      assert.equal(msg.actions[0].status, 'blocked');
      assert.equal(msg.actions[0].simulated, false);
      assert.equal(msg.actions[0].lease.reason, 'brute force from 203.0.113.7');
      assert.equal(msg.actions[0].lease.alertId, 'a-203.0.113.7');
      const ends = Date.parse(msg.actions[0].lease.expiresAt) - Date.now();
      assert.ok(ends > 3500e3 && ends <= 3600e3, `one hour lease, got ${ends} ms`);

      let list = await pull(srv.url);
      assert.match(list, /^203\.0\.113\.7$/m);

      out = next('done');
      helper.getNode('b1').receive(alertFrom('203.0.113.7'));
      msg = await out;
      assert.equal(msg.actions[0].status, 'extended');

      const leases = (await helper.request().get('/soar/leases').expect(200)).body.leases;
      assert.equal(leases.length, 1);
      assert.equal(leases[0].providerLabel, 'edge list');

      out = next('done');
      helper.getNode('b1').receive({ ...alertFrom('203.0.113.7'), action: 'unblock' });
      msg = await out;
      assert.equal(msg.actions[0].status, 'unblocked');
      list = await pull(srv.url);
      assert.doesNotMatch(list, /203\.0\.113\.7/);
      const types = readJsonLines(path.join(dir, 'audit.jsonl')).map((r) => r.type);
      assert.ok(types.includes('action.done'));
    } finally {
      await srv.close();
    }
  });

  it('refuses protected addresses on the second output, audited, without touching the firewall', async function () {
    const srv = await load();
    try {
      const out = next('refused');
      helper.getNode('b1').receive(alertFrom('10.1.2.3'));
      const msg = await out;
      assert.equal(msg.actions[0].status, 'refused');
      assert.match(msg.actions[0].reason, /protected|private/i);
      const list = await pull(srv.url);
      assert.doesNotMatch(list, /10\.1\.2\.3/);
      assert.ok(readJsonLines(path.join(dir, 'audit.jsonl')).some((r) => r.type === 'action.refused'));
    } finally {
      await srv.close();
    }
  });

  it('splits a mixed batch: blocked addresses on the first output, refused ones on the second, each with its own records', async function () {
    const srv = await load();
    try {
      const done = next('done');
      const refused = next('refused');
      helper
        .getNode('b1')
        .receive({ alert: { id: 'a-mixed', title: 'scan', source: { ip: ['203.0.113.30', '192.168.1.9'] } }, actions: [{ kind: 'earlier' }] });
      const [ok, no] = await Promise.all([done, refused]);
      assert.deepEqual(
        ok.actions.map((a: Msg) => a.kind + ':' + (a.target ?? '')),
        ['earlier:', 'block:203.0.113.30'],
      );
      assert.deepEqual(
        no.actions.map((a: Msg) => a.kind + ':' + (a.target ?? '')),
        ['earlier:', 'block:192.168.1.9'],
      );
      assert.match(await pull(srv.url), /^203\.0\.113\.30$/m);
    } finally {
      await srv.close();
    }
  });

  it('reports reconciliation drift in the audit log and on the optional fourth output', async function () {
    const f = flow(dir, {
      firewall: { reconcileMinutes: 0.02 },
      block: { action: 'block', driftOutput: true, outputs: 4, wires: [['done'], ['refused'], ['failed'], ['drift']] },
    });
    f.push({ id: 'drift', z: 'tab1', type: 'helper' } as never);
    await helper.load([hubModule, firewallModule, blockModule], f);
    const blocked = next('done');
    helper.getNode('b1').receive(alertFrom('203.0.113.55'));
    await blocked;
    // Someone removes the block on the firewall itself, behind the hub's back (the nodes' own hub module).
    const { Hub } = require(path.join(root, 'dist', 'lib', 'hub', 'hub.js'));
    const [hub] = await Hub.all();
    await hub.firewalls.resolve('fw1').unblock(['203.0.113.55']);
    const drift = await next('drift');
    assert.equal(drift.topic, 'drift');
    assert.deepEqual(
      drift.payload.missing.map((l: Msg) => l.target),
      ['203.0.113.55'],
    );
    assert.ok(readJsonLines(path.join(dir, 'audit.jsonl')).some((r) => r.type === 'reconcile.drift'));
    assert.ok(helper.getNode('b1').status.args.some((a: Msg[]) => a[0]?.text === 'soar-block-ip.status.drift'));
  });

  it('touches nothing in simulation mode and says what would have happened', async function () {
    const srv = await load({ simulate: true });
    try {
      const out = next('done');
      helper.getNode('b1').receive(alertFrom('198.51.100.9'));
      const msg = await out;
      assert.equal(msg.actions[0].status, 'simulated');
      assert.equal(msg.actions[0].simulated, true);
      const list = await pull(srv.url);
      assert.doesNotMatch(list, /198\.51\.100\.9/);
      assert.ok(readJsonLines(path.join(dir, 'audit.jsonl')).some((r) => r.type === 'action.simulated'));
    } finally {
      await srv.close();
    }
  });

  it('reports an unreachable firewall on the failure output and records no lease', async function () {
    const srv = await load(
      { firewall: { kind: 'opnsense', url: 'http://127.0.0.1:9', listName: 'soar_block' } },
      { fw1: { apiKey: 'k', apiSecret: 's3cret-value' } },
    );
    try {
      const out = next('failed');
      helper.getNode('b1').receive(alertFrom('203.0.113.8'));
      const msg = await out;
      assert.equal(msg.actions[0].status, 'failed');
      assert.ok(msg.actions[0].error);
      assert.ok(!JSON.stringify(msg).includes('s3cret-value'));
      const leases = (await helper.request().get('/soar/leases').expect(200)).body.leases;
      assert.equal(leases.length, 0);
    } finally {
      await srv.close();
    }
  });

  it('lifts the block when the lease ends, and releases from the sidebar route', async function () {
    const srv = await load({ block: { ttl: 1, ttlUnit: 's' } });
    try {
      let out = next('done');
      helper.getNode('b1').receive(alertFrom('203.0.113.20'));
      await out;
      out = next('done');
      helper.getNode('b1').receive({ ...alertFrom('203.0.113.21'), ttl: 3600 });
      await out;
      for (let i = 0; i < 100; i++) {
        const list = await pull(srv.url);
        if (!/203\.0\.113\.20$/m.test(list) && readJsonLines(path.join(dir, 'audit.jsonl')).some((r) => r.type === 'lease.expired')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(
        readJsonLines(path.join(dir, 'audit.jsonl')).some((r) => r.type === 'lease.expired'),
        'expiry audited',
      );
      const leases = (await helper.request().get('/soar/leases').expect(200)).body.leases;
      assert.deepEqual(
        leases.map((l: Msg) => l.target),
        ['203.0.113.21'],
      );
      await helper.request().post('/soar/leases/release').send({ target: '203.0.113.21', provider: 'fw1', hub: leases[0].hub }).expect(200);
      const list = await pull(srv.url);
      assert.doesNotMatch(list, /203\.0\.113\.21/);
    } finally {
      await srv.close();
    }
  });
});
