import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import * as path from 'node:path';
import { approvalDigest } from '../../lib/contract/approval';
import { CS_CLIENT_ID, CS_CLIENT_SECRET, startCrowdStrikeFake, type CrowdStrikeFake } from '../fakes/crowdstrike';
import { startWazuhFake, WAZUH_PASSWORD, WAZUH_USER, type WazuhFake } from '../fakes/wazuh';
import { withCatalogs } from '../helpers/i18n';
import { helper, nodeModule, readJsonLines, tempDir } from '../helpers/nr';

const hubModule = nodeModule('hub');
const edrModule = nodeModule('edr');
const isolateModule = withCatalogs(nodeModule('isolate-host'));

type Msg = Record<string, any>;

interface FlowOptions {
  simulate?: boolean;
  hub?: Record<string, unknown>;
  edr?: Record<string, unknown>;
  isolate?: Record<string, unknown>;
}

function flow(dir: string, fake: CrowdStrikeFake, opts: FlowOptions = {}) {
  return [
    { id: 'tab1', type: 'tab', label: 't' },
    {
      id: 'hub1',
      type: 'soar-hub',
      dir,
      simulate: Boolean(opts.simulate),
      includeDefaults: true,
      maxActionsPerHour: 100,
      protectedHosts: 'dc-*\n*.corp.example',
      ...opts.hub,
    },
    {
      id: 'edr1',
      type: 'soar-edr',
      name: 'falcon',
      hub: 'hub1',
      kind: 'crowdstrike',
      clientId: CS_CLIENT_ID,
      cloud: 'us-1',
      url: fake.baseUrl,
      pollSeconds: 0.05,
      timeoutMinutes: 5,
      reconcileMinutes: 0,
      configVersion: 1,
      ...opts.edr,
    },
    {
      id: 'iso1',
      z: 'tab1',
      type: 'soar-isolate-host',
      edr: 'edr1',
      target: 'alert.host.name',
      targetType: 'msg',
      action: 'msg',
      gate: 'malicious',
      ttl: '',
      reason: 'alert.title',
      reasonType: 'msg',
      configVersion: 1,
      wires: [['done'], ['refused'], ['failed'], ['later']],
      ...opts.isolate,
    },
    { id: 'done', z: 'tab1', type: 'helper' },
    { id: 'refused', z: 'tab1', type: 'helper' },
    { id: 'failed', z: 'tab1', type: 'helper' },
    { id: 'later', z: 'tab1', type: 'helper' },
  ];
}

const creds = { edr1: { clientSecret: CS_CLIENT_SECRET } };

/** The first message on one of the outputs; any other output first is a failure naming what came. */
function outcome(): Promise<{ port: string; msg: Msg }> {
  return new Promise((resolve) => {
    for (const port of ['done', 'refused', 'failed', 'later']) helper.getNode(port).once('input', (msg: Msg) => resolve({ port, msg }));
  });
}

/** Every message of every output, in order; next(port) resolves with the next one not taken yet. */
function collect() {
  const queues: Record<string, Msg[]> = { done: [], refused: [], failed: [], later: [] };
  const waiting: Record<string, ((msg: Msg) => void)[]> = { done: [], refused: [], failed: [], later: [] };
  for (const port of Object.keys(queues)) {
    helper.getNode(port).on('input', (msg: Msg) => {
      const waiter = waiting[port].shift();
      if (waiter) waiter(msg);
      else queues[port].push(msg);
    });
  }
  return {
    next(port: string): Promise<Msg> {
      const queued = queues[port].shift();
      return queued ? Promise.resolve(queued) : new Promise((resolve) => waiting[port].push(resolve));
    },
  };
}

/** An approval anyone could compute (right shape and digest) but that this hub never decided. */
function forgedApproval(msg: Msg): Msg {
  const approval = { id: 'forged-1', decision: 'approved', by: ['mallory'], at: new Date().toISOString(), fields: ['alert.host.name'], digest: '' };
  const out = { ...msg, approval };
  approval.digest = approvalDigest(out, ['alert.host.name']);
  return out;
}

function alertFor(host: string, extra: Msg = {}): Msg {
  return { alert: { id: `a-${host}`, title: `ransomware on ${host}`, host: { name: host } }, enrichment: { verdict: 'malicious', score: 95 }, ...extra };
}

/**
 * Each test gets a fresh hub directory, a CrowdStrike contract fake and the Node-RED test server; all
 * stopped after it. Gives the hub's audit log and the count of containment calls the fake received.
 */
function withFakeAndServer(use: (dir: string, fake: CrowdStrikeFake) => void) {
  let dir: string;
  let fake: CrowdStrikeFake;
  beforeEach(async function () {
    dir = tempDir();
    fake = await startCrowdStrikeFake();
    use(dir, fake);
    await helper.startServer();
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
    await fake.close();
  });
  return {
    audit: () => readJsonLines(path.join(dir, 'audit.jsonl')),
    contains: () => fake.server.requestsTo('POST', /devices-actions/).length,
  };
}

describe('soar-isolate-host node (CrowdStrike contract fake)', function () {
  this.timeout(20_000);
  let dir: string;
  let fake: CrowdStrikeFake;
  const { audit, contains } = withFakeAndServer((d, f) => ((dir = d), (fake = f)));

  it('reports a pending containment, keeps following it across a redeploy and restart, and reports it on the 4th output when the fake says contained', async function () {
    const device = fake.addDevice({ hostname: 'web01', local_ip: '10.1.2.3' });
    fake.pendingReads = Infinity;
    await helper.load([hubModule, edrModule, isolateModule], flow(dir, fake), creds);
    let next = outcome();
    helper.getNode('iso1').receive(alertFor('web01'));
    const first = await next;
    assert.equal(first.port, 'done');
    const record = first.msg.actions.at(-1);
    assert.deepEqual([record.kind, record.status, record.state, record.device.id], ['isolate', 'pending', 'pending-isolate', device.device_id]);
    assert.equal(device.status, 'containment_pending');
    const msgId = first.msg._msgid;

    // Redeploy / restart: the flows stop (the hub closes its store), the vendor finishes meanwhile.
    await helper.unload();
    const kinds = audit().map((r) => r.type);
    assert.ok(kinds.includes('action.requested') && kinds.includes('action.pending'), kinds.join(','));
    assert.ok(!kinds.some((k) => k === 'action.done'), 'not done before the vendor says so');
    device.status = 'contained';
    const containsBefore = contains();

    next = new Promise((resolve) => {
      // Registered before the flow starts: the result may come right after the EDR registers.
      const wait = () => {
        try {
          helper.getNode('later').once('input', (msg: Msg) => resolve({ port: 'later', msg }));
        } catch {
          setTimeout(wait, 5);
        }
      };
      wait();
    });
    await helper.load([hubModule, edrModule, isolateModule], flow(dir, fake), creds);
    const later = await next;
    assert.equal(later.port, 'later');
    assert.equal(later.msg.payload.status, 'isolated');
    assert.equal(later.msg.payload.deviceId, device.device_id);
    assert.equal(later.msg.correlationId, msgId, 'correlates with the message that asked');
    assert.equal(later.msg.actions[0].finishedLater, true);
    assert.equal(contains(), containsBefore, 'the containment was not requested twice');
    await helper.unload();
    const done = audit().filter((r) => r.type === 'action.done');
    assert.equal(done.length, 1);
    assert.equal(done[0].finishedLater, true);
    assert.ok(!JSON.stringify(audit()).includes(CS_CLIENT_SECRET), 'no secret in the audit log');
  });

  it('refuses a protected host (pattern), an ambiguous name and a message without verdict, audited, with no vendor write', async function () {
    fake.addDevice({ hostname: 'dc-01', local_ip: '10.0.0.10' });
    fake.addDevice({ hostname: 'twin', local_ip: '10.0.0.11' });
    fake.addDevice({ hostname: 'twin', local_ip: '10.0.0.12' });
    fake.addDevice({ hostname: 'web02', local_ip: '10.0.0.13' });
    await helper.load([hubModule, edrModule, isolateModule], flow(dir, fake), creds);
    const cases: [Msg, RegExp][] = [
      [alertFor('dc-01'), /dc-01 matches protected dc-\*/],
      [alertFor('10.0.0.10'), /dc-01 matches protected dc-\*/],
      [alertFor('twin'), /ambiguous host "twin": 2 devices/],
      [alertFor('nobody'), /unknown host "nobody"/],
      [alertFor('web02', { enrichment: { verdict: 'suspicious' } }), /below malicious/],
      [alertFor('web02', { ttlHours: 'soon' }), /invalid TTL "soon"/],
      [{ alert: { id: 'x' }, enrichment: { verdict: 'malicious' } }, /no host in msg\.alert\.host\.name/],
      [forgedApproval(alertFor('web02')), /not one this hub decided/],
    ];
    for (const [msg, reason] of cases) {
      const next = outcome();
      helper.getNode('iso1').receive(msg);
      const out = await next;
      assert.equal(out.port, 'refused', String(reason));
      assert.match(out.msg.actions.at(-1).reason, reason);
    }
    assert.equal(contains(), 0, 'nothing was contained');
    await helper.unload();
    assert.equal(audit().filter((r) => r.type === 'action.refused').length, cases.length, 'every refusal is audited');
  });

  it('simulation looks the host up and changes nothing', async function () {
    const device = fake.addDevice({ hostname: 'web03', local_ip: '10.0.0.20' });
    await helper.load([hubModule, edrModule, isolateModule], flow(dir, fake, { simulate: true }), creds);
    const next = outcome();
    helper.getNode('iso1').receive(alertFor('web03', { ttlHours: 4 }));
    const out = await next;
    assert.equal(out.port, 'done');
    assert.equal(out.msg.actions.at(-1).status, 'simulated');
    assert.equal(out.msg.actions.at(-1).simulated, true);
    assert.equal(device.status, 'normal');
    assert.equal(contains(), 0);
    await helper.unload();
    assert.equal(audit().filter((r) => r.type === 'action.simulated').length, 1);
  });

  it('reports an action that never finishes as a failure on the 4th output after the timeout, and releases on request', async function () {
    const device = fake.addDevice({ hostname: 'web04', local_ip: '10.0.0.30' });
    fake.pendingReads = Infinity;
    await helper.load([hubModule, edrModule, isolateModule], flow(dir, fake, { edr: { timeoutMinutes: 0.005 } }), creds);
    // The test helper wraps every node method in a spy.
    const status = helper.getNode('iso1').status as unknown as { lastCall: { args: Msg[] } };
    // Every output from the start: under load the follow may end before the first answer is read.
    const seen = collect();
    helper.getNode('iso1').receive(alertFor('web04'));
    assert.equal((await seen.next('done')).actions.at(-1).status, 'pending');
    const later = await seen.next('later');
    assert.equal(later.payload.status, 'failed');
    assert.match(later.payload.reason, /not finished 0 s after it was requested; last state pending-isolate/);
    assert.match(later.actions[0].error, /not finished/);
    // The node says why under itself, not only that it failed.
    assert.deepEqual(status.lastCall.args[0], { fill: 'red', shape: 'dot', text: 'failed web04: not finished 0 s after it was requested; last s…' });
    // Still pending at the vendor: the isolation stays recorded and can be released.
    device.status = 'contained';
    fake.pendingReads = 0;
    helper.getNode('iso1').receive({ action: 'release', alert: { host: { name: 'web04' } } });
    const released = (await seen.next('done')).actions.at(-1);
    assert.deepEqual([released.kind, released.status], ['release', 'pending']);
    const finished = await seen.next('later');
    assert.deepEqual([finished.payload.op, finished.payload.status], ['release', 'released']);
    assert.equal(device.status, 'normal');
    assert.equal(contains(), 2, 'one contain, one lift');
    await helper.unload();
    const failed = audit().filter((r) => r.type === 'action.failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0].leaseKept, true);
    assert.equal(audit().filter((r) => r.type === 'action.done' && r.kind === 'release' && r.finishedLater).length, 1);
  });

  it("lists isolated hosts on the sidebar route, releases one with the editor's route, and shows one whose EDR was removed as orphaned", async function () {
    const device = fake.addDevice({ hostname: 'web05', local_ip: '10.0.0.40' });
    const other = fake.addDevice({ hostname: 'web06', local_ip: '10.0.0.41' });
    fake.pendingReads = 0;
    await helper.load([hubModule, edrModule, isolateModule], flow(dir, fake), creds);
    const seen = collect();
    for (const host of ['web05', 'web06']) {
      helper.getNode('iso1').receive(alertFor(host));
      assert.equal((await seen.next('done')).actions.at(-1).status, 'pending');
      assert.equal((await seen.next('later')).payload.status, 'isolated');
    }
    let listed = (await helper.request().get('/soar/isolations').expect(200)).body.isolations;
    assert.deepEqual(listed.map((i: Msg) => [i.deviceName, i.state, i.providerLabel, i.hub]).sort(), [
      ['web05', 'isolated', 'falcon', dir],
      ['web06', 'isolated', 'falcon', dir],
    ]);
    await helper.request().post('/soar/isolations/release').send({ target: device.device_id, provider: 'edr1' }).expect(400);
    const res = await helper.request().post('/soar/isolations/release').send({ target: device.device_id, provider: 'edr1', hub: dir }).expect(200);
    assert.equal(res.body.status, 'pending');
    const finished = await seen.next('later');
    assert.deepEqual([finished.payload.op, finished.payload.status], ['release', 'released'], 'the node that isolated it hears the end of the release');
    assert.equal(device.status, 'normal');
    listed = (await helper.request().get('/soar/isolations').expect(200)).body.isolations;
    assert.deepEqual(
      listed.map((i: Msg) => i.deviceName),
      ['web06'],
    );

    // The EDR node is deleted and Node-RED restarts: the isolation stays listed, named, and not releasable without it.
    await helper.unload();
    // A firewall keeps the hub open (a hub opens for the nodes that use it).
    const keeper = { id: 'fw1', type: 'soar-firewall', name: 'list', hub: 'hub1', kind: 'blocklist', listName: 'keeper', reconcileMinutes: 0 };
    await helper.load(
      [hubModule, edrModule, isolateModule, nodeModule('firewall')],
      [...flow(dir, fake).filter((n) => !['edr1', 'iso1'].includes(n.id)), keeper],
      {},
    );
    await helper.getNode('fw1').ready;
    listed = (await helper.request().get('/soar/isolations').expect(200)).body.isolations;
    assert.equal(listed.length, 1);
    assert.match(listed[0].orphaned, /falcon is not deployed/);
    const orphan = await helper.request().post('/soar/isolations/release').send({ target: other.device_id, provider: 'edr1', hub: dir });
    assert.equal(orphan.status, 409);
    assert.match(orphan.body.reason, /orphaned: the EDR "falcon" \(crowdstrike\) is not deployed/);
    assert.equal(other.status, 'contained', 'nothing was released');
  });
});

describe('soar-isolate-host node: bad input is refused on output 2 with the reason, nothing done', function () {
  this.timeout(20_000);
  let dir: string;
  let fake: CrowdStrikeFake;
  const { audit, contains } = withFakeAndServer((d, f) => ((dir = d), (fake = f)));

  async function refused(msg: Msg, reason: RegExp): Promise<void> {
    const next = outcome();
    helper.getNode('iso1').receive(msg);
    const out = await next;
    assert.equal(out.port, 'refused', `${String(reason)}: ${JSON.stringify(out.msg.actions)}`);
    const record = out.msg.actions.at(-1);
    assert.equal(record.status, 'refused');
    assert.match(record.reason, reason);
  }

  it('an address in a protected range (CIDR in the hub policy), named by host name or by address', async function () {
    fake.addDevice({ hostname: 'pay01', local_ip: '10.66.1.5' });
    fake.addDevice({ hostname: 'web10', local_ip: '10.1.0.5' });
    await helper.load([hubModule, edrModule, isolateModule], flow(dir, fake, { hub: { protectedCidrs: '10.66.0.0/16' } }), creds);
    // The test helper wraps every node method in a spy.
    const status = helper.getNode('iso1').status as unknown as { lastCall: { args: Msg[] } };
    await refused(alertFor('pay01'), /pay01 has address 10\.66\.1\.5 is in protected 10\.66\.0\.0\/16/);
    assert.equal(status.lastCall.args[0].fill, 'yellow');
    assert.match(status.lastCall.args[0].text, /^refused pay01: pay01 has address 10\.66\.1\.5 is in protected/);
    await refused(alertFor('10.66.1.5'), /10\.66\.1\.5 is in protected 10\.66\.0\.0\/16/);
    assert.equal(contains(), 0, 'nothing was contained');
    // A host outside the range still goes through: the refusal was the range, not the flow.
    const next = outcome();
    fake.pendingReads = 0;
    helper.getNode('iso1').receive(alertFor('web10'));
    assert.equal((await next).port, 'done');
    await helper.unload();
    const refusals = audit().filter((r) => r.type === 'action.refused');
    assert.equal(refusals.length, 2, 'both refusals audited');
    assert.ok(refusals.every((r) => /protected 10\.66\.0\.0\/16/.test(String(r.reason))));
  });

  it('a malformed TTL in the node settings is an error at deploy, and every message is refused naming it', async function () {
    fake.addDevice({ hostname: 'web11', local_ip: '10.1.0.11' });
    await helper.load([hubModule, edrModule, isolateModule], flow(dir, fake, { isolate: { ttl: 'soon' } }), creds);
    const logged = helper
      .log()
      .args.map((a: Msg[]) => a[0])
      .filter((e: Msg) => e?.id === 'iso1' && e?.level === 20);
    assert.equal(logged.length, 1, 'one deploy error');
    assert.match(logged[0].msg, /the isolation time: invalid TTL "soon"/);
    await refused(alertFor('web11'), /the isolation time: invalid TTL "soon"/);
    await refused(alertFor('web11', { ttlHours: 2 }), /the isolation time: invalid TTL "soon"/);
    assert.equal(contains(), 0, 'nothing was contained');
    assert.equal(fake.server.requestsTo('GET', /devices/).length, 0, 'the EDR was not even asked');
  });

  it('a malformed or out-of-range TTL in the message is refused; a valid one is kept in the lease', async function () {
    fake.addDevice({ hostname: 'web12', local_ip: '10.1.0.12' });
    fake.pendingReads = 0;
    await helper.load([hubModule, edrModule, isolateModule], flow(dir, fake), creds);
    for (const ttlHours of [-1, '2h', 'NaN', 1e9]) await refused(alertFor('web12', { ttlHours }), /invalid TTL/);
    assert.equal(contains(), 0, 'nothing was contained');
    const seen = collect();
    helper.getNode('iso1').receive(alertFor('web12', { ttlHours: '1.5' }));
    const record = (await seen.next('done')).actions.at(-1);
    assert.equal(record.lease.ttlHours, 1.5);
    assert.ok(record.lease.expiresAt, 'expires by itself');
  });

  it('an unknown msg.action and a host that is not text are refused, audited, and the EDR is not asked', async function () {
    fake.addDevice({ hostname: 'web13', local_ip: '10.1.0.13' });
    await helper.load([hubModule, edrModule, isolateModule], flow(dir, fake), creds);
    await refused(alertFor('web13', { action: 'nuke' }), /msg\.action must be "isolate" or "release", got "nuke"/);
    await refused({ ...alertFor('x'), alert: { id: 'a', host: { name: { evil: true } } } }, /no host in msg\.alert\.host\.name/);
    await refused({ ...alertFor('x'), alert: { id: 'a', host: { name: '   ' } } }, /no host in msg\.alert\.host\.name/);
    assert.equal(fake.server.requests.length, 0, 'the EDR was not asked');
    await helper.unload();
    assert.equal(audit().filter((r) => r.type === 'action.refused').length, 3);
  });

  it('ssh-nftables: an unknown host, an address two inventory lines share and a host in a protected range are refused before any SSH', async function () {
    const pin = 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU';
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
    const hosts = [`web-a 198.18.0.10 ${pin}`, `web-b 198.18.0.10:2222 ${pin}`, `db-1 198.18.0.70 ${pin}`].join('\n');
    const nodes = flow(dir, fake, { hub: { protectedCidrs: '198.18.0.64/26' } }).map((n) =>
      n.id === 'edr1'
        ? { id: 'edr1', type: 'soar-edr', name: 'ssh', hub: 'hub1', kind: 'ssh-nftables', hosts, username: 'soar', reconcileMinutes: 0, configVersion: 1 }
        : n,
    );
    await helper.load([hubModule, edrModule, isolateModule], nodes, { edr1: { privateKey } });
    await refused(alertFor('web-z'), /unknown host "web-z": not in the host list of EDR "ssh"/);
    await refused(alertFor('198.18.0.10'), /ambiguous host "198\.18\.0\.10": matches web-a, web-b/);
    await refused(alertFor('db-1'), /db-1 has address 198\.18\.0\.70 is in protected 198\.18\.0\.64\/26/);
    await helper.unload();
    const types = audit().map((r) => r.type);
    assert.equal(types.filter((t) => t === 'action.refused').length, 3);
    assert.ok(!types.includes('action.requested'), `no isolation was started: ${types.join(', ')}`);
  });
});

describe('soar-isolate-host node (Wazuh contract fake: no status call, the lease decides)', function () {
  this.timeout(20_000);
  let dir: string;
  let cs: CrowdStrikeFake;
  let wazuh: WazuhFake;

  beforeEach(async function () {
    dir = tempDir();
    cs = await startCrowdStrikeFake();
    wazuh = await startWazuhFake();
    wazuh.agents.push({ id: '001', name: 'web01', ip: '10.3.0.1', status: 'active' }, { id: '002', name: 'db01', ip: '10.3.0.2', status: 'active' });
    await helper.startServer();
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
    await wazuh.close();
    await cs.close();
  });

  it('isolating an isolated agent is already-isolated and releasing one never isolated is not-isolated, without a command, audited', async function () {
    const nodes = flow(dir, cs).map((n) =>
      n.id === 'edr1'
        ? {
            id: 'edr1',
            type: 'soar-edr',
            name: 'wazuh',
            hub: 'hub1',
            kind: 'wazuh',
            url: wazuh.url,
            username: WAZUH_USER,
            reconcileMinutes: 0,
            configVersion: 1,
          }
        : n,
    );
    await helper.load([hubModule, edrModule, isolateModule], nodes, { edr1: { password: WAZUH_PASSWORD } });
    const send = async (msg: Msg): Promise<Msg> => {
      const next = outcome();
      helper.getNode('iso1').receive(msg);
      const out = await next;
      assert.equal(out.port, 'done', JSON.stringify(out.msg.actions));
      return out.msg.actions.at(-1);
    };
    const runs = () => wazuh.runs.map((r) => `${r.agent} ${(r.alert as { data: { soar_action: string } }).data.soar_action}`);
    assert.deepEqual(pick(await send(alertFor('web01'))), ['isolate', 'isolated', '001']);
    assert.deepEqual(pick(await send(alertFor('web01'))), ['isolate', 'already-isolated', '001']);
    assert.deepEqual(pick(await send({ action: 'release', alert: { host: { name: 'db01' } } })), ['release', 'not-isolated', '002']);
    assert.deepEqual(runs(), ['001 isolate'], 'one command: the repeat and the release of a host never isolated sent none');
    assert.deepEqual(pick(await send({ action: 'release', alert: { host: { name: '10.3.0.1' } } })), ['release', 'released', '001']);
    assert.deepEqual(runs(), ['001 isolate', '001 release']);
    await helper.unload();
    const done = audit(dir).filter((r) => r.type === 'action.done');
    assert.deepEqual(
      done.map((r) => `${r.kind} ${r.target} ${r.outcome ?? ''}`.trim()),
      ['isolate 001 sent', 'isolate 001 already-isolated', 'release 002 not-isolated', 'release 001'],
    );
  });
});

function pick(record: Msg): string[] {
  return [record.kind, record.status, record.device?.id];
}

function audit(dir: string): Msg[] {
  return readJsonLines(path.join(dir, 'audit.jsonl'));
}
