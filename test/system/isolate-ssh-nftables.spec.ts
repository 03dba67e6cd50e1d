/**
 * Host isolation over SSH with nftables, with real packets and Debian's real sshd.
 *
 *   hub (this test, root namespace) ──veth 198.18.<m>.1 → .2──► "host" namespace: sshd, TCP service
 *                                                                 br0 198.18.59.200 / 2001:2::200
 *                                                                  └── "peer" 198.18.59.2 / 2001:2::2 (TCP service too)
 *
 * The host is the lab's victim namespace (test/helpers/netns.ts) with a management veth from the hub
 * (test/helpers/sshd.ts). PID 1 here is not systemd, so the rollback is the detached sleeper.
 * Needs root, nft, ip, /usr/sbin/sshd, sudo. Skips with the reason otherwise; fails with SOAR_REQUIRE_SYSTEM=1.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { SshNftablesIsolation, type SshNftablesOptions } from '../../lib/edr/ssh-nftables';
import { createLab, requireSystemOrSkip, type NetnsLab, type ProbeResult } from '../helpers/netns';
import {
  addManagementLink,
  generateKey,
  removeManagementLink,
  createSudoUser,
  skipOrFail,
  sshdUnsupportedReason,
  startSshd,
  sudoUnsupportedReason,
  type KeyPair,
  type ManagementLink,
  type RunningSshd,
  type SudoUser,
} from '../helpers/sshd';

const PROBE_MS = 1000;
const WINDOW_S = 4;
const REPO = path.resolve(__dirname, '..', '..');
// The way a host would be set up: a key-only user with NOPASSWD sudo for nft and sh (root's own login
// shell may run slow profile scripts on every SSH exec; a system user with /bin/sh does not).
const USER = 'soar-iso-test';
const NFT = '/usr/sbin/nft';

/** One TCP attempt from inside a namespace; "connected" only when the lab service's banner arrived. */
function probeFrom(ns: string, host: string, port: number, timeoutMs = PROBE_MS): Promise<ProbeResult> {
  const source = `
const s = require('node:net').connect({ host: ${JSON.stringify(host)}, port: ${port} });
const done = (r) => { process.stdout.write(r); process.exit(0); };
setTimeout(() => done('timeout'), ${timeoutMs});
s.once('data', (d) => done(String(d).startsWith('soar-lab') ? 'connected' : 'error'));
s.once('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : 'error'));`;
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += String(d)));
    child.once('exit', () => resolve((out.trim() || 'error') as ProbeResult));
  });
}

/** The lab's banner service inside a namespace (the peer's, for host → peer probes). */
function startServiceIn(ns: string, children: ChildProcess[]): Promise<number> {
  const source = `
const server = require('node:net').createServer((s) => { s.on('error', () => {}); s.write('soar-lab hello\\n'); s.pipe(s); });
server.listen({ host: '::', port: 0, ipv6Only: false }, () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\\n'));`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`service in ${ns} exited (${code})`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
  });
}

function ipRun(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += String(d)));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ip ${args.join(' ')}: ${err.trim()}`))));
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, withinMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > withinMs) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('host isolation over SSH with nftables (real sshd, real packets)', function () {
  this.timeout(90_000);
  let lab: NetnsLab | undefined;
  let link: ManagementLink | undefined;
  let sshd: RunningSshd | undefined;
  let key: KeyPair;
  let hostPort: number;
  let peerPort: number;
  let sudoUser: SudoUser | undefined;
  const children: ChildProcess[] = [];

  const peerToHost = (family: 4 | 6) => lab!.connect('attacker', family === 4 ? lab!.victim.ipv4 : lab!.victim.ipv6, hostPort, PROBE_MS);
  const hostToPeer = (family: 4 | 6) => probeFrom(lab!.victim.ns, family === 4 ? lab!.attacker.ipv4 : lab!.attacker.ipv6, peerPort);

  function options(overrides: Partial<SshNftablesOptions> = {}): SshNftablesOptions {
    return {
      name: 'isolation test',
      username: USER,
      sudo: true,
      privateKey: key.privateKey,
      nftPath: NFT,
      hosts: [{ name: 'web01', address: link!.gatewayAddress, hostKeySha256: sshd!.hostKeySha256 }],
      management: [],
      dns: ['198.18.59.53'],
      rollbackSeconds: 30,
      confirmTimeoutMs: 2000,
      ...overrides,
    };
  }

  async function allReachable(): Promise<void> {
    for (const family of [4, 6] as const) {
      assert.equal(await peerToHost(family), 'connected', `peer → host IPv${family}`);
      assert.equal(await hostToPeer(family), 'connected', `host → peer IPv${family}`);
    }
  }

  async function tableOnHost(): Promise<boolean> {
    const child = spawn('ip', ['netns', 'exec', lab!.victim.ns, 'nft', 'list', 'tables'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += String(d)));
    await new Promise((resolve) => child.once('exit', resolve));
    return /table inet soar_isolate/.test(out);
  }

  before(async function () {
    await requireSystemOrSkip(this, 'ssh + nftables isolation system tests');
    const missing = await sshdUnsupportedReason();
    if (missing) skipOrFail(this, 'ssh + nftables isolation system tests', missing);
    const noSudo = await sudoUnsupportedReason();
    if (noSudo) skipOrFail(this, 'ssh + nftables isolation system tests', noSudo);
    sudoUser = await createSudoUser(USER, NFT, ['/bin/sh', '/usr/bin/sh']);
    lab = await createLab({ subnetOctet: 59 });
    link = await addManagementLink(lab.victim.ns, lab.id);
    const keyDir = await mkdtemp(path.join(tmpdir(), 'soar-isokeys-'));
    key = await generateKey(keyDir, 'hub_key');
    await rm(keyDir, { recursive: true, force: true });
    sshd = await startSshd({ namespace: lab.victim.ns, listenAddress: link.gatewayAddress, authorizedKeys: { [USER]: [key.publicKey] } });
    hostPort = await lab.startService();
    peerPort = await startServiceIn(lab.attacker.ns, children);
    await waitFor('lab up', async () => (await peerToHost(4)) === 'connected' && (await hostToPeer(6)) === 'connected', 10_000);
    await allReachable();
  });

  after(async function () {
    for (const child of children) {
      if (!child.pid || child.exitCode !== null || child.signalCode !== null) continue;
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    if (this.currentTest?.state === 'failed' && sshd) console.log(sshd.log());
    await sshd?.stop();
    await sudoUser?.remove();
    await lab?.destroy();
    await removeManagementLink(link);
  });

  afterEach(async () => {
    if (!lab || !sshd) return;
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
    await ipRun(['addr', 'add', `${hub6}/64`, 'dev', link!.hostInterface, 'nodad']);
    await ipRun(['-n', lab!.victim.ns, 'addr', 'add', `${host6}/64`, 'dev', 'mgmt0', 'nodad']);
    const sshd6 = await startSshd({ namespace: lab!.victim.ns, listenAddress: `[${host6}]`, authorizedKeys: { [USER]: [key.publicKey] } });
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
      await ipRun(['-n', lab!.victim.ns, 'neigh', 'flush', 'all']);
      await ipRun(['neigh', 'flush', 'dev', link!.hostInterface]);
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
const s = require('node:net').connect({ host: ${JSON.stringify(lab!.victim.ipv4)}, port: ${hostPort} });
let n = 0; s.on('data', () => { n++; process.stdout.write('echo\\n'); });
process.stdin.on('data', (d) => s.write(d));
s.on('error', () => {});`;
    const client = spawn('ip', ['netns', 'exec', lab!.attacker.ns, process.execPath, '-e', source], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(client);
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
    children.push(child);
    child.stdin!.end(JSON.stringify(options({ rollbackSeconds: WINDOW_S, privateKey: key.privateKey })));
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
