/**
 * nftables on a remote gateway over SSH, with real packets and Debian's real sshd.
 *
 *   host (this test, NftablesFirewall + SSH runner) ──veth──► gateway namespace: sshd, nft table (input),
 *                                                              the TCP service, br0 ◄── attacker, other
 *
 * The gateway is the lab's "victim" namespace from test/helpers/netns.ts with a management veth from the
 * host namespace; its nft table protects the service running in the gateway itself. Addresses come from
 * 198.18.0.0/15 and 2001:2::/48 only.
 * Needs root, nft, ip, /usr/sbin/sshd (apt-get install -y openssh-server) and, for the sudo case, sudo.
 * Skips with the reason otherwise; fails instead with SOAR_REQUIRE_SYSTEM=1.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProviderError } from '../../lib/core/errors';
import { NftablesFirewall, type RuleCounter } from '../../lib/firewall/nftables';
import { createSshRunner, type SshRunner, type SshRunnerOptions } from '../../lib/firewall/ssh-runner';
import { createLab, requireSystemOrSkip, type NetnsLab, type ProbeResult } from '../helpers/netns';
import {
  addManagementLink,
  createSudoUser,
  generateKey,
  removeManagementLink,
  skipOrFail,
  sshdUnsupportedReason,
  startSshd,
  sudoUnsupportedReason,
  type KeyPair,
  type ManagementLink,
  type RunningSshd,
  type SudoUser,
} from '../helpers/sshd';

const CONNECT_TIMEOUT_MS = 1000;
const SUDO_USER = 'soar-ssh-test';
const NFT = '/usr/sbin/nft';

function dropped(counters: RuleCounter[], family: 4 | 6): number {
  return counters.filter((c) => c.chain === 'input' && c.family === family).reduce((sum, c) => sum + c.packets, 0);
}

describe('nftables on a gateway over SSH (real sshd, real packets)', function () {
  this.timeout(60_000);
  let lab: NetnsLab | undefined;
  let link: ManagementLink | undefined;
  let sshd: RunningSshd | undefined;
  let rootKey: KeyPair;
  let userKey: KeyPair;
  let sudoUser: SudoUser | undefined;
  let sudoSkipReason: string | undefined;
  let port: number;
  let runner: SshRunner;
  let fw: NftablesFirewall;
  const extraRunners: SshRunner[] = [];

  const connect = (from: 'attacker' | 'other', host: string): Promise<ProbeResult> => lab!.connect(from, host, port, CONNECT_TIMEOUT_MS);

  function sshRunner(overrides: Partial<SshRunnerOptions> = {}): SshRunner {
    const created = createSshRunner({
      host: link!.gatewayAddress,
      username: 'root',
      privateKey: rootKey.privateKey,
      hostKeySha256: sshd!.hostKeySha256,
      nftPath: NFT,
      timeoutMs: 30_000,
      ...overrides,
    });
    extraRunners.push(created);
    return created;
  }

  async function connectsWithin(attempts: number, from: 'attacker' | 'other', host: string): Promise<void> {
    for (let attempt = 1; attempt <= attempts; attempt++) if ((await connect(from, host)) === 'connected') return;
    throw new Error(`${from} could not reach ${host} in ${attempts} attempts`);
  }

  before(async function () {
    await requireSystemOrSkip(this, 'ssh + nftables system tests');
    const missing = await sshdUnsupportedReason();
    if (missing) skipOrFail(this, 'ssh + nftables system tests', missing);
    sudoSkipReason = await sudoUnsupportedReason();

    lab = await createLab({ subnetOctet: 57 });
    link = await addManagementLink(lab.victim.ns, lab.id);
    const keyDir = await mkdtemp(path.join(tmpdir(), 'soar-sshkeys-'));
    rootKey = await generateKey(keyDir, 'root_key');
    userKey = await generateKey(keyDir, 'user_key');
    await rm(keyDir, { recursive: true, force: true });
    if (!sudoSkipReason) sudoUser = await createSudoUser(SUDO_USER, NFT);
    const authorizedKeys: Record<string, string[]> = { root: [rootKey.publicKey] };
    if (sudoUser) authorizedKeys[SUDO_USER] = [userKey.publicKey];
    sshd = await startSshd({ namespace: lab.victim.ns, listenAddress: link.gatewayAddress, authorizedKeys });

    port = await lab.startService();
    runner = sshRunner();
    fw = new NftablesFirewall({ runner, name: 'gateway over ssh', chains: ['input', 'forward'] });
    await fw.ensureReady();
    for (const from of ['attacker', 'other'] as const) {
      await connectsWithin(5, from, lab.victim.ipv4);
      await connectsWithin(5, from, lab.victim.ipv6);
    }
  });

  after(async function () {
    for (const created of extraRunners) await created.close();
    if (this.currentTest?.state === 'failed' && sshd) console.log(sshd.log());
    await sshd?.stop();
    await sudoUser?.remove();
    await lab?.destroy();
    await removeManagementLink(link);
  });

  afterEach(async () => {
    if (!lab || !fw) return;
    const enforced = await fw.list();
    await fw.unblock(enforced.map((e) => e.address));
  });

  it('drops a blocked attacker at the gateway, lets others through, and passes again after unblock', async () => {
    const { attacker, victim } = lab!;
    const before4 = dropped(await fw.counters(), 4);
    await fw.block([
      { address: attacker.ipv4, ttlSeconds: 600, comment: 'over ssh' },
      { address: attacker.ipv6, ttlSeconds: 600 },
    ]);
    assert.deepEqual((await fw.list()).map((e) => e.address).sort(), [attacker.ipv4, attacker.ipv6].sort());
    assert.equal(await connect('attacker', victim.ipv4), 'timeout');
    assert.equal(await connect('attacker', victim.ipv6), 'timeout');
    assert.ok(dropped(await fw.counters(), 4) > before4, 'the IPv4 drop counter (read over SSH) should count the SYNs');
    assert.equal(await connect('other', victim.ipv4), 'connected');
    assert.equal(await connect('other', victim.ipv6), 'connected');

    await fw.unblock([attacker.ipv4, attacker.ipv6]);
    assert.equal(await connect('attacker', victim.ipv4), 'connected');
    assert.equal(await connect('attacker', victim.ipv6), 'connected');
    assert.deepEqual(await fw.list(), []);
  });

  it('blocks a range, and a large batch in one transaction streamed over stdin', async () => {
    const { attacker, other, victim, subnet4 } = lab!;
    const range4 = subnet4.replace(/\.0\/24$/, '.0/28');
    // 4,000 addresses outside the lab plus the range: one nft -f - script of a few hundred KB over SSH.
    const bulk = Array.from({ length: 4000 }, (_, i) => ({ address: `198.19.${i >> 8}.${i & 255}`, ttlSeconds: 600 }));
    await fw.block([...bulk, { address: range4, ttlSeconds: 600 }]);
    const listed = await fw.list();
    assert.equal(listed.length, 4001);
    assert.ok(listed.some((e) => e.address === range4));
    assert.equal(await connect('attacker', victim.ipv4), 'timeout');
    assert.equal(await connect('other', victim.ipv4), 'connected');
    assert.ok(!attacker.ipv4.endsWith('.100') && other.ipv4.endsWith('.100'));
  });

  it('shows the host key seen for pinning, and refuses a wrong pin before logging in', async () => {
    const unpinned = sshRunner({ hostKeySha256: undefined });
    assert.equal(await unpinned.connect(), sshd!.hostKeySha256, 'the fingerprint matches ssh-keygen -lf of the host key');

    const logins = () => (sshd!.log().match(/Accepted publickey for/g) ?? []).length;
    const loginsBefore = logins();
    const wrongPin = sshRunner({ hostKeySha256: rootKey.fingerprint });
    const guarded = new NftablesFirewall({ runner: wrongPin });
    await assert.rejects(guarded.block([{ address: lab!.attacker.ipv4 }]), (error: unknown) => {
      assert.ok(error instanceof ProviderError);
      assert.match(error.message, new RegExp(`host key ${sshd!.hostKeySha256.replace(/[+/]/g, '\\$&')} does not match the pinned`));
      return true;
    });
    assert.equal(await connect('attacker', lab!.victim.ipv4), 'connected', 'nothing was blocked');
    assert.equal(logins(), loginsBefore, 'the client gave up before authenticating');
  });

  it('passes arguments through the remote login shell unchanged', async () => {
    const words = ["it's", '$(id)', '`id`', 'a b', '; echo injected', '"q"', '*', '$HOME', 'new\nline'];
    const printf = sshRunner({ nftPath: '/usr/bin/printf' });
    const result = await printf(['%s\\0', ...words]);
    assert.equal(result.code, 0);
    assert.deepEqual(result.stdout.split('\0').slice(0, -1), words);

    const failing = sshRunner({ nftPath: '/bin/sh' });
    assert.equal((await failing(['-c', 'exit 7'])).code, 7);
  });

  it('reconnects after the gateway dropped the SSH connection', async () => {
    await fw.list(); // the shared connection is open
    const sessions = sshd!.sessionPids();
    assert.ok(sessions.length >= 1, 'a session process for the open connection');
    for (const pid of sessions) process.kill(pid, 'SIGTERM');
    // The next calls open a new connection by themselves.
    await fw.block([{ address: lab!.attacker.ipv4, ttlSeconds: 60 }]);
    assert.equal(await connect('attacker', lab!.victim.ipv4), 'timeout');
    assert.deepEqual(
      (await fw.list()).map((e) => e.address),
      [lab!.attacker.ipv4],
    );
  });

  describe('as a non-root user', () => {
    before(function () {
      if (sudoSkipReason) skipOrFail(this, 'the sudo case', sudoSkipReason);
    });

    it('works through `sudo -n` with a NOPASSWD rule for nft', async () => {
      const viaSudo = sshRunner({ username: SUDO_USER, privateKey: userKey.privateKey, sudo: true });
      const userFw = new NftablesFirewall({ runner: viaSudo, name: 'gateway via sudo' });
      await userFw.ensureReady();
      await userFw.block([{ address: lab!.attacker.ipv4, ttlSeconds: 120 }]);
      assert.equal(await connect('attacker', lab!.victim.ipv4), 'timeout');
      // The root view (the other runner) sees the same table.
      assert.deepEqual(
        (await fw.list()).map((e) => e.address),
        [lab!.attacker.ipv4],
      );
      await userFw.unblock([lab!.attacker.ipv4]);
      assert.equal(await connect('attacker', lab!.victim.ipv4), 'connected');
    });

    // The user has no home directory: sshd's "Could not chdir to home directory ... No such file or
    // directory" must not be mistaken for nft's "table missing".
    it('without sudo, nft is refused (FORBIDDEN)', async () => {
      const plain = sshRunner({ username: SUDO_USER, privateKey: userKey.privateKey });
      await assert.rejects(new NftablesFirewall({ runner: plain }).list(), (error: unknown) => {
        assert.ok(error instanceof ProviderError);
        assert.equal(error.code, 'FORBIDDEN');
        return true;
      });
    });

    it('a program outside the sudoers rule fails clearly instead of waiting for a password', async () => {
      const notAllowed = sshRunner({ username: SUDO_USER, privateKey: userKey.privateKey, sudo: true, nftPath: '/usr/bin/id' });
      const result = await notAllowed([]);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /^Error: Permission denied: sudo on \S+ wants a password for soar-ssh-test; add a NOPASSWD sudoers rule for \/usr\/bin\/id/);
    });
  });
});
