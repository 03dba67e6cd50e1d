/**
 * Host isolation over SSH with nftables, with real packets and Debian's real sshd.
 *
 *   hub (this test, root namespace) ──veth 198.18.<m>.1 → .2──► "host" namespace: sshd, TCP service
 *                                                                 br0 198.18.59.200 / 2001:2::200
 *                                                                  └── "peer" 198.18.59.2 / 2001:2::2 (TCP service too)
 *
 * The lab (host, peer, sshd, SSH user) is test/helpers/isolation-lab.ts. PID 1 here is not systemd, so the rollback is the detached sleeper.
 * Needs root, nft, ip, /usr/sbin/sshd, sudo. Skips with the reason otherwise; fails with SOAR_REQUIRE_SYSTEM=1.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { SshNftablesIsolation, type SshNftablesOptions } from '../../lib/edr/ssh-nftables';
import { ISOLATION_NFT, ipRun, setupIsolationLab, waitFor, type IsolationLab } from '../helpers/isolation-lab';
import { startSshd } from '../helpers/sshd';

const PROBE_MS = 1000;
// Long enough for the checks after the kill (a 1 s probe timeout, an SSH status call) on a loaded machine.
const WINDOW_S = 6;
const REPO = path.resolve(__dirname, '..', '..');
const USER = 'soar-iso-test';

describe('host isolation over SSH with nftables (real sshd, real packets)', function () {
  this.timeout(90_000);
  let iso: IsolationLab | undefined;

  const peerToHost = (family: 4 | 6) => iso!.peerToHost(family, PROBE_MS);
  const hostToPeer = (family: 4 | 6) => iso!.hostToPeer(family, PROBE_MS);
  const allReachable = () => iso!.allReachable();
  const tableOnHost = () => iso!.tableOnHost();

  function options(overrides: Partial<SshNftablesOptions> = {}): SshNftablesOptions {
    return {
      name: 'isolation test',
      username: USER,
      sudo: true,
      privateKey: iso!.key.privateKey,
      nftPath: ISOLATION_NFT,
      hosts: [{ name: 'web01', address: iso!.link.gatewayAddress, hostKeySha256: iso!.sshd.hostKeySha256 }],
      management: [],
      dns: ['198.18.59.53'],
      rollbackSeconds: 30,
      confirmTimeoutMs: 2000,
      ...overrides,
    };
  }

  before(async function () {
    iso = await setupIsolationLab(this, { what: 'ssh + nftables isolation system tests', subnetOctet: 59, user: USER });
  });

  after(async function () {
    if (this.currentTest?.state === 'failed' && iso) console.log(iso.sshd.log());
    await iso?.destroy();
  });

  afterEach(async () => {
    if (!iso) return;
    await new SshNftablesIsolation(options()).release({ id: 'web01' }).catch(() => undefined);
  });

  it('cuts the host off both ways (IPv4 and IPv6) while the hub keeps SSH, and release restores everything', async () => {
    const provider = new SshNftablesIsolation(options());
    const device = await provider.resolve('web01');
    const result = await provider.isolateAndConfirm(device);
    assert.equal(result.outcome, 'done');
    assert.equal(result.status.state, 'isolated');

    for (const family of [4, 6] as const) {
      assert.equal(await peerToHost(family), 'timeout', `peer → host IPv${family} must be dropped`);
      assert.equal(await hostToPeer(family), 'timeout', `host → peer IPv${family} must be dropped`);
    }
    // A fresh SSH session from the hub still gets in, and the rollback is disarmed (not pending).
    assert.deepEqual(await provider.status('web01'), { deviceId: 'web01', state: 'isolated' });
    assert.equal((await provider.isolate(device)).outcome, 'already-isolated');

    assert.equal((await provider.release(device)).outcome, 'done');
    await allReachable();
    assert.equal((await provider.release(device)).outcome, 'not-isolated');
    assert.deepEqual(await provider.status('web01'), { deviceId: 'web01', state: 'normal' });
  });

  it('works over an IPv6 management path: the applying session survives by its ip6 4-tuple, a fresh one gets in', async () => {
    // An IPv6 address on each end of the management veth and a second sshd listening there.
    const hub6 = '2001:2:0:ff::1';
    const host6 = '2001:2:0:ff::2';
    await ipRun(['addr', 'add', `${hub6}/64`, 'dev', iso!.link.hostInterface, 'nodad']);
    await ipRun(['-n', iso!.lab.victim.ns, 'addr', 'add', `${host6}/64`, 'dev', 'mgmt0', 'nodad']);
    const sshd6 = await startSshd({ namespace: iso!.lab.victim.ns, listenAddress: `[${host6}]`, authorizedKeys: { [USER]: [iso!.key.publicKey] } });
    try {
      const hosts = [{ name: 'web01', address: host6, hostKeySha256: sshd6.hostKeySha256 }];
      // Hub address left out: only the ip6 session rule keeps the apply's answer coming (else it times out).
      const narrow = new SshNftablesIsolation(options({ hosts, allowSessionAddress: false, rollbackSeconds: WINDOW_S, commandTimeoutMs: 3000 }));
      const first = await narrow.isolate({ id: 'web01' });
      assert.equal(first.outcome, 'requested');
      assert.equal((await narrow.confirm(first.handle!)).phase, 'failed');
      await waitFor('the rollback removes the table', async () => !(await tableOnHost()), WINDOW_S * 1000 + 5000);

      const provider = new SshNftablesIsolation(options({ hosts }));
      const result = await provider.isolate(await provider.resolve(host6));
      assert.equal(result.outcome, 'requested');
      // Forget every neighbour: the fresh session needs neighbour discovery through the new rules.
      await ipRun(['-n', iso!.lab.victim.ns, 'neigh', 'flush', 'all']);
      await ipRun(['neigh', 'flush', 'dev', iso!.link.hostInterface]);
      const progress = await provider.confirm(result.handle!);
      assert.equal(progress.phase, 'succeeded', progress.reason);
      assert.equal(await peerToHost(6), 'timeout');
      assert.equal(await hostToPeer(4), 'timeout');
      assert.equal((await provider.release({ id: 'web01' })).outcome, 'done');
      await allReachable();
    } finally {
      await sshd6.stop();
    }
  });

  it('cuts a connection the peer had open before the isolation', async () => {
    // A long-lived peer → host connection; after isolation its next echo must not come back.
    const source = `
const s = require('node:net').connect({ host: ${JSON.stringify(iso!.lab.victim.ipv4)}, port: ${iso!.hostPort} });
let n = 0; s.on('data', () => { n++; process.stdout.write('echo\\n'); });
process.stdin.on('data', (d) => s.write(d));
s.on('error', () => {});`;
    const client = spawn('ip', ['netns', 'exec', iso!.lab.attacker.ns, process.execPath, '-e', source], { stdio: ['pipe', 'pipe', 'inherit'] });
    iso!.children.push(client);
    const lines = createInterface({ input: client.stdout! });
    const nextEcho = (ms: number) =>
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          lines.off('line', on);
          resolve(false);
        }, ms);
        const on = () => {
          clearTimeout(timer);
          lines.off('line', on);
          resolve(true);
        };
        lines.on('line', on);
      });
    assert.equal(await nextEcho(3000), true, 'banner');
    client.stdin!.write('ping\n');
    assert.equal(await nextEcho(3000), true, 'echo before isolation');
    await new SshNftablesIsolation(options()).isolateAndConfirm({ id: 'web01' });
    client.stdin!.write('ping\n');
    assert.equal(await nextEcho(1500), false, 'an established peer connection must be cut');
    client.kill('SIGKILL');
  });

  it('with the hub address left out on purpose, confirmation fails and the rollback restores the host within its window', async () => {
    const window = 8;
    const provider = new SshNftablesIsolation(options({ allowSessionAddress: false, rollbackSeconds: window }));
    const result = await provider.isolate({ id: 'web01' });
    assert.equal(result.outcome, 'requested');
    assert.match(result.handle!.actionId!, /^pid:\d+$/);
    const armedAt = Date.parse(result.handle!.requestedAt);
    assert.equal(await peerToHost(4), 'timeout', 'isolated while unconfirmed');
    const progress = await provider.confirm(result.handle!);
    assert.equal(progress.phase, 'failed');
    assert.match(progress.reason!, /fresh SSH session could not confirm.*rollback stays armed/);
    assert.ok(Date.now() - armedAt < window * 1000, 'confirmation failed inside the window (the test proves the rollback, not a race)');
    assert.equal(await tableOnHost(), true, 'a failed confirmation leaves the table to the rollback');
    await waitFor('the rollback removes the table', async () => !(await tableOnHost()), window * 1000 + 8000);
    const restoredMs = Date.now() - armedAt;
    console.log(`      table gone ${restoredMs} ms after the rollback was armed (window ${window} s)`);
    await allReachable();
    assert.ok(restoredMs >= window * 1000 - 200 && restoredMs < (window + 4) * 1000, `restored after ${restoredMs} ms`);
  });

  it('kill -9 of the hub between apply and confirm: the host comes back by itself within the window', async () => {
    const child = spawn(process.execPath, ['-r', 'tsx/cjs', path.join(__dirname, 'fixtures', 'isolate-child.ts')], {
      cwd: REPO,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    iso!.children.push(child);
    child.stdin!.end(JSON.stringify(options({ rollbackSeconds: WINDOW_S, privateKey: iso!.key.privateKey })));
    const line = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`isolate child exited early (${code})`)));
      createInterface({ input: child.stdout! }).once('line', resolve);
    });
    assert.match(line, /^applied \{.*"actionId":"pid:\d+"/);
    const armedAt = Date.parse((JSON.parse(line.slice('applied '.length)) as { requestedAt: string }).requestedAt);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid!, 'SIGKILL');
    await exited;
    assert.equal(await tableOnHost(), true, 'isolated and unconfirmed when the hub died');
    assert.equal(await peerToHost(6), 'timeout');
    const status = await new SshNftablesIsolation(options()).status('web01');
    assert.deepEqual(status, { deviceId: 'web01', state: 'pending-isolate', raw: 'rollback-armed' });
    await waitFor('host restores itself', async () => !(await tableOnHost()), WINDOW_S * 1000 + 5000);
    const restoredMs = Date.now() - armedAt;
    console.log(`      table gone ${restoredMs} ms after the rollback was armed (window ${WINDOW_S} s)`);
    await allReachable();
    assert.ok(restoredMs >= WINDOW_S * 1000 - 200 && restoredMs <= (WINDOW_S + 4) * 1000, `restored after ${restoredMs} ms`);
  });

  it('a confirmed isolation outlives its rollback window (the sleeper was really disarmed)', async () => {
    const provider = new SshNftablesIsolation(options({ rollbackSeconds: 2 }));
    await provider.isolateAndConfirm({ id: 'web01' });
    await new Promise((resolve) => setTimeout(resolve, 3500));
    assert.equal(await tableOnHost(), true);
    assert.equal(await peerToHost(4), 'timeout');
    assert.deepEqual(await provider.status('web01'), { deviceId: 'web01', state: 'isolated' });
  });
});
