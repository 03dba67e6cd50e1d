/**
 * nftables with real packets, in network namespaces this test builds (198.18.0.0/15, 2001:2::/48).
 * The table lives inside the victim namespace; the host's ruleset is never touched.
 * Needs root, nft and ip; skips with the reason otherwise (fails instead with SOAR_REQUIRE_SYSTEM=1).
 */
import assert from 'node:assert/strict';
import { ProviderError } from '../../lib/core/errors';
import { GuardrailPolicy } from '../../lib/core/guardrails';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AuditLog } from '../../lib/core/audit';
import { FileStateStore } from '../../lib/core/file-store';
import { LeaseManager } from '../../lib/firewall/leases';
import { NftablesFirewall, type RuleCounter } from '../../lib/firewall/nftables';
import type { CommandRunner } from '../../lib/firewall/types';
import { createLab, requireSystemOrSkip, type NetnsLab, type ProbeResult } from '../helpers/netns';

/** Short connect attempts: a dropped SYN shows as a timeout after this long. */
const CONNECT_TIMEOUT_MS = 1000;

function dropped(counters: RuleCounter[], family: 4 | 6): number {
  return counters.filter((c) => c.chain === 'input' && c.family === family).reduce((sum, c) => sum + c.packets, 0);
}

describe('nftables firewall in network namespaces (real packets)', function () {
  this.timeout(60_000);
  let lab: NetnsLab | undefined;
  let fw: NftablesFirewall;
  let port: number;

  const connect = (from: 'attacker' | 'other', host: string): Promise<ProbeResult> => lab!.connect(from, host, port, CONNECT_TIMEOUT_MS);

  /** Bounded retry: connect until it succeeds (each failed attempt itself waits up to CONNECT_TIMEOUT_MS). */
  async function connectsWithin(attempts: number, from: 'attacker' | 'other', host: string): Promise<number> {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if ((await connect(from, host)) === 'connected') return attempt;
    }
    throw new Error(`${from} could not reach ${host} in ${attempts} attempts`);
  }

  before(async function () {
    await requireSystemOrSkip(this, 'nftables system tests');
    lab = await createLab();
    port = await lab.startService();
    fw = new NftablesFirewall({ runner: lab.nftRunner, name: 'victim nftables' });
    await fw.ensureReady();
    // The lab is fresh: wait (bounded) until both hosts reach the service over both families.
    for (const from of ['attacker', 'other'] as const) {
      await connectsWithin(5, from, lab.victim.ipv4);
      await connectsWithin(5, from, lab.victim.ipv6);
    }
  });

  after(async () => {
    await lab?.destroy();
  });

  afterEach(async () => {
    if (!lab) return;
    const enforced = await fw.list();
    await fw.unblock(enforced.filter((e) => !e.address.includes('-')).map((e) => e.address));
  });

  it('drops a blocked IPv4 attacker, lets others through, and passes again after unblock', async () => {
    const { attacker, victim } = lab!;
    assert.equal(await connect('attacker', victim.ipv4), 'connected');
    const before = dropped(await fw.counters(), 4);

    await fw.block([{ address: attacker.ipv4, ttlSeconds: 600, comment: 'system test' }]);
    assert.equal(await connect('attacker', victim.ipv4), 'timeout');
    assert.ok(dropped(await fw.counters(), 4) > before, 'the IPv4 drop counter should have counted the SYNs');
    assert.equal(await connect('other', victim.ipv4), 'connected');
    // Only the IPv4 address was blocked: the same machine over IPv6 still passes.
    assert.equal(await connect('attacker', victim.ipv6), 'connected');

    await fw.unblock([attacker.ipv4]);
    assert.equal(await connect('attacker', victim.ipv4), 'connected');
    assert.deepEqual(await fw.list(), []);
  });

  it('drops a blocked IPv6 attacker the same way', async () => {
    const { attacker, victim } = lab!;
    const before = dropped(await fw.counters(), 6);
    await fw.block([{ address: attacker.ipv6, ttlSeconds: 600 }]);
    assert.equal(await connect('attacker', victim.ipv6), 'timeout');
    assert.ok(dropped(await fw.counters(), 6) > before, 'the IPv6 drop counter should have counted the SYNs');
    assert.equal(await connect('other', victim.ipv6), 'connected');
    assert.equal(await connect('attacker', victim.ipv4), 'connected');
    await fw.unblock([attacker.ipv6]);
    assert.equal(await connect('attacker', victim.ipv6), 'connected');
  });

  it('lets the attacker through again once the timeout expires', async () => {
    const { attacker, victim } = lab!;
    await fw.block([
      { address: attacker.ipv4, ttlSeconds: 2 },
      { address: attacker.ipv6, ttlSeconds: 2 },
    ]);
    assert.equal(await connect('attacker', victim.ipv4), 'timeout');
    // No sleeping: each blocked attempt waits CONNECT_TIMEOUT_MS itself; 10 attempts bound it.
    await connectsWithin(10, 'attacker', victim.ipv4);
    await connectsWithin(10, 'attacker', victim.ipv6);
    assert.deepEqual(await fw.list(), []);
  });

  it('blocks a range (IPv4 /28 and IPv6 /120) containing the attacker but not the other host', async () => {
    const { attacker, other, victim, subnet4 } = lab!;
    const range4 = subnet4.replace(/\.0\/24$/, '.0/28');
    await fw.block([
      { address: range4, ttlSeconds: 600 },
      { address: '2001:2::/120', ttlSeconds: 600 },
    ]);
    assert.deepEqual((await fw.list()).map((e) => e.address).sort(), ['2001:2::/120', range4].sort());
    assert.equal(await connect('attacker', victim.ipv4), 'timeout');
    assert.equal(await connect('attacker', victim.ipv6), 'timeout');
    assert.equal(await connect('other', victim.ipv4), 'connected');
    assert.equal(await connect('other', victim.ipv6), 'connected');
    assert.ok(attacker.ipv4.startsWith(range4.slice(0, range4.lastIndexOf('.'))));
    assert.notEqual(other.ipv4, attacker.ipv4);

    // A narrower prefix inside the blocked one cannot be a second element: refused with the reason.
    const narrower = range4.replace(/\/28$/, '/29');
    await assert.rejects(fw.block([{ address: narrower }]), (error: unknown) => {
      assert.ok(error instanceof ProviderError);
      assert.equal(error.code, 'CONFLICT');
      assert.equal(error.message, `nothing blocked: ${narrower} overlaps ${range4} already blocked; unblock the overlapping entry first`);
      return true;
    });
    // A single address inside the range is its own block with its own lease: lifting the range
    // leaves the address blocked, and the other way round.
    await fw.block([{ address: attacker.ipv4, ttlSeconds: 600 }]);
    await fw.unblock([range4, '2001:2::/120']);
    assert.equal(await connect('attacker', victim.ipv4), 'timeout');
    assert.equal(await connect('attacker', victim.ipv6), 'connected');
    await fw.unblock([attacker.ipv4]);
    assert.equal(await connect('attacker', victim.ipv4), 'connected');
  });

  it('ensureReady is idempotent: blocks survive, rules are not duplicated', async () => {
    const { attacker, victim } = lab!;
    await fw.block([{ address: attacker.ipv4 }]);
    await fw.ensureReady();
    await fw.ensureReady();
    // A fresh instance (a restarted hub) sets up against the existing table the same way.
    const restarted = new NftablesFirewall({ runner: lab!.nftRunner });
    await restarted.ensureReady();
    assert.deepEqual(await restarted.list(), [{ address: attacker.ipv4 }]);
    const counters = await restarted.counters();
    assert.deepEqual(counters.map((c) => `${c.chain}/${c.set}`).sort(), [
      'forward/blocked4',
      'forward/blocked4_nets',
      'forward/blocked6',
      'forward/blocked6_nets',
      'input/blocked4',
      'input/blocked4_nets',
      'input/blocked6',
      'input/blocked6_nets',
    ]);
    assert.equal(await connect('attacker', victim.ipv4), 'timeout');
  });

  it('re-blocking replaces the timeout (extends and shortens), read back with list()', async () => {
    const { attacker } = lab!;
    const expiresOf = async (): Promise<number | undefined> => (await fw.list()).find((e) => e.address === attacker.ipv4)?.expiresInSeconds;

    await fw.block([{ address: attacker.ipv4, ttlSeconds: 60 }]);
    const first = await expiresOf();
    assert.ok(first !== undefined && first <= 60 && first >= 50, `expires ${first}`);

    await fw.block([{ address: attacker.ipv4, ttlSeconds: 3600 }]);
    const extended = await expiresOf();
    assert.ok(extended !== undefined && extended > 3500, `expires ${extended}`);

    await fw.block([{ address: attacker.ipv4, ttlSeconds: 30 }]);
    const shortened = await expiresOf();
    assert.ok(shortened !== undefined && shortened <= 30, `expires ${shortened}`);

    // Re-blocking without a ttl makes it permanent.
    await fw.block([{ address: attacker.ipv4 }]);
    assert.equal(await expiresOf(), undefined);
    assert.equal((await fw.list()).length, 1);
  });

  it('unblocking addresses that are not blocked is not an error', async () => {
    const { attacker } = lab!;
    await fw.block([{ address: attacker.ipv4 }]);
    await fw.unblock(['198.18.99.99', '2001:2::dead', attacker.ipv4, '198.18.100.0/24']);
    assert.deepEqual(await fw.list(), []);
  });

  it('a guardrail refusal never reaches nft', async () => {
    const calls: string[][] = [];
    const recording: CommandRunner = async (args, stdin) => {
      calls.push(args);
      return lab!.nftRunner(args, stdin);
    };
    const guarded = new NftablesFirewall({ runner: recording });
    const policy = new GuardrailPolicy({ protectedCidrs: [lab!.other.ipv4] }, { ownAddresses: () => [] });
    // The block path every action takes: LeaseManager.block (guardrails, cap, simulation, lease).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-nft-sys-'));
    const store = await FileStateStore.open(path.join(dir, 'state'), { fsync: false });
    const audit = await AuditLog.open(path.join(dir, 'audit.jsonl'), { fsync: false });
    const leases = new LeaseManager({ store, audit, guardrails: () => policy, simulate: () => false, providers: new Map([[guarded.name, guarded]]) });
    try {
      const wide = await leases.block({ target: '198.18.0.0/16', provider: guarded.name, ttlSeconds: 60 });
      assert.equal(wide.status, 'refused');
      assert.match((wide as { reason: string }).reason, /overlaps protected .* \(configured\)/);
      const lan = await leases.block({ target: '192.168.0.0/16', provider: guarded.name, ttlSeconds: 60 });
      assert.match((lan as { reason: string }).reason, /default: private/);
      assert.equal(calls.length, 0);
      assert.equal(await connect('other', lab!.victim.ipv4), 'connected');

      // The same path with an allowed target does reach nft and blocks for real.
      assert.equal((await leases.block({ target: `::ffff:${lab!.attacker.ipv4}`, provider: guarded.name, ttlSeconds: 60 })).status, 'blocked');
      assert.ok(calls.length > 0);
    } finally {
      await leases.stop();
      await audit.close();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(await connect('attacker', lab!.victim.ipv4), 'timeout');
  });
});
