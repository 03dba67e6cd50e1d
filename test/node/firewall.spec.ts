import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { helper, nodeModule, tempDir } from '../helpers/nr';

const hubModule = nodeModule('hub');
const firewallModule = nodeModule('firewall');
const blockModule = nodeModule('block-ip');

type Msg = Record<string, any>;

function flow(dir: string, firewall: Record<string, unknown>) {
  return [
    { id: 'tab1', type: 'tab', label: 't' },
    { id: 'hub1', type: 'soar-hub', dir, simulate: false, includeDefaults: true, maxActionsPerHour: 100 },
    { id: 'fw1', type: 'soar-firewall', name: 'gateway', hub: 'hub1', reconcileMinutes: 0, ...firewall },
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
      wires: [[], [], []],
    },
  ];
}

async function settled(node: Msg): Promise<void> {
  await node.ready.catch(() => undefined);
  await new Promise((r) => setImmediate(r));
}

describe("soar-firewall node (settings from the kind's descriptor)", function () {
  let dir: string;
  let pem: string;
  before(function () {
    const keys = tempDir('soar-key-');
    try {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(keys, 'id')], { stdio: 'ignore' });
    } catch {
      console.log('    skipped: ssh-keygen is not installed');
      this.skip();
    }
    pem = fs.readFileSync(path.join(keys, 'id'), 'utf8');
  });
  beforeEach(async function () {
    dir = tempDir();
    await helper.startServer();
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
  });

  it("says at deploy, in the log and the block node's status, that a pasted SSH key lost its line breaks, without printing it", async function () {
    const flat = pem.replace(/\n/g, ' ');
    await helper.load([hubModule, firewallModule, blockModule], flow(dir, { kind: 'nftables-ssh', host: '198.18.0.1', username: 'soar' }), {
      fw1: { privateKey: flat },
    });
    const fw = helper.getNode('fw1');
    // The log line is errors.setup with this message (the test helper does not translate catalogs).
    const err: Error = await fw.ready.then(
      () => assert.fail('the firewall must not be ready'),
      (e: Error) => e,
    );
    assert.match(err.message, /the SSH private key does not parse/);
    const body = pem.split('\n')[1].slice(0, 16);
    assert.ok(!err.message.includes(body), 'no key material in the message');
    await settled(fw);
    // The helper's spies are shared by every node: the block node using this firewall logs the reason too.
    const logged = fw.error.args.map((a: unknown[]) => String(a[0]));
    assert.ok(logged.includes('soar-firewall.errors.setup'), JSON.stringify(logged));
    assert.ok(!logged.some((line: string) => line.includes(body)), 'no key material in the log');
    const statuses = helper.getNode('b1').status.args.map((a: Msg[]) => a[0]?.text);
    assert.ok(statuses.includes('soar-block-ip.status.firewall-failed'), JSON.stringify(statuses));
  });

  it('accepts the same key with its line breaks (the multi-line credential keeps them)', async function () {
    await helper.load([hubModule, firewallModule, blockModule], flow(dir, { kind: 'nftables-ssh', host: '198.18.0.1', username: 'soar' }), {
      fw1: { privateKey: pem },
    });
    const fw = helper.getNode('fw1');
    await settled(fw);
    const errors = fw.error.args.map((a: unknown[]) => String(a[0]));
    assert.ok(!errors.some((e: string) => /does not parse/.test(e)), JSON.stringify(errors));
  });

  it('loads a flow saved before the descriptors (flat fields, old defaults) unchanged', async function () {
    const saved = {
      kind: 'blocklist',
      table: 'soar',
      host: '',
      port: 22,
      username: '',
      hostKeySha256: '',
      sudo: false,
      url: '',
      listName: 'edge2',
      accountId: '',
      zoneId: '',
      machineId: '',
    };
    await helper.load([hubModule, firewallModule, blockModule], flow(dir, saved), {});
    const fw = helper.getNode('fw1');
    await fw.ready;
    assert.equal(fw.label, 'gateway');
    assert.deepEqual(fw.error.args, []);
  });
});
