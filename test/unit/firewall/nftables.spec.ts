import assert from 'node:assert/strict';
import { ProviderError } from '../../../lib/core/errors';
import { GuardrailPolicy } from '../../../lib/core/guardrails';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AuditLog } from '../../../lib/core/audit';
import { FileStateStore } from '../../../lib/core/file-store';
import { LeaseManager } from '../../../lib/firewall/leases';
import { execRunner, NftablesFirewall } from '../../../lib/firewall/nftables';
import type { CommandResult, CommandRunner } from '../../../lib/firewall/types';
import { FULL_TABLE_JSON, TERSE_TABLE_JSON } from './nft-fixtures';

interface Call {
  args: string[];
  stdin?: string;
}

const OK: CommandResult = { stdout: '', stderr: '', code: 0 };
const NO_TABLE: CommandResult = { stdout: '', stderr: 'Error: No such file or directory\nlist table inet soar\n                ^^^^\n', code: 1 };
const OVERLAPS: CommandResult = {
  stdout: '',
  stderr: 'Error: interval overlaps with an existing one\nadd element inet soar blocked4 { 198.18.5.0/24 }\n                                 ^^^^^^^^^^^^^\n',
  code: 1,
};

/** A runner that records every call and answers from a script of responses (in order). */
function recordingRunner(responses: (CommandResult | ((call: Call) => CommandResult))[] = []): CommandRunner & { calls: Call[] } {
  const calls: Call[] = [];
  const runner = (async (args: string[], stdin?: string) => {
    const call: Call = stdin === undefined ? { args } : { args, stdin };
    calls.push(call);
    const next = responses.shift();
    if (next === undefined) return OK;
    return typeof next === 'function' ? next(call) : next;
  }) as CommandRunner & { calls: Call[] };
  runner.calls = calls;
  return runner;
}

async function rejectsWithCode(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ProviderError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
}

describe('NftablesFirewall with a recording runner', () => {
  it('ensureReady reads the table tersely, then applies the setup in one nft -f transaction', async () => {
    const runner = recordingRunner([NO_TABLE, OK]);
    const fw = new NftablesFirewall({ runner, chains: ['input'] });
    await fw.ensureReady();
    assert.deepEqual(runner.calls[0], { args: ['-j', '-t', 'list', 'table', 'inet', 'soar'] });
    assert.deepEqual(runner.calls[1].args, ['-f', '-']);
    assert.match(runner.calls[1].stdin!, /^add table inet soar\n/);
    assert.equal(runner.calls[1].stdin!.match(/^add rule/gm)!.length, 4);
    assert.equal(runner.calls[1].stdin!.match(/^add set/gm)!.length, 4);
    assert.equal(runner.calls.length, 2);
  });

  it('ensureReady on an existing table only adds what is missing and never flushes', async () => {
    const runner = recordingRunner([{ stdout: TERSE_TABLE_JSON, stderr: '', code: 0 }, OK]);
    await new NftablesFirewall({ runner }).ensureReady();
    const script = runner.calls[1].stdin!;
    assert.deepEqual(script.split('\n').filter((l) => l.startsWith('add rule')).length, 3);
    assert.doesNotMatch(script, /add rule inet soar input/);
    assert.doesNotMatch(script, /flush|delete|destroy/);
  });

  it('block sets up once, then sends the whole batch as one transaction', async () => {
    const runner = recordingRunner([NO_TABLE]);
    const fw = new NftablesFirewall({ runner });
    await fw.block([{ address: '198.18.5.1', ttlSeconds: 3600 }, { address: '2001:2::9' }]);
    await fw.block([{ address: '198.18.5.2', ttlSeconds: 5 }]);
    assert.equal(runner.calls.length, 4); // list -t, setup, batch 1, batch 2
    assert.deepEqual(runner.calls[2].args, ['-f', '-']);
    assert.match(runner.calls[2].stdin!, /add element inet soar blocked4 \{ 198\.18\.5\.1 timeout 3600s \}/);
    assert.match(runner.calls[2].stdin!, /add element inet soar blocked6 \{ 2001:2::9 \}/);
    assert.match(runner.calls[3].stdin!, /198\.18\.5\.2 timeout 5s/);
  });

  it('never runs nft for an invalid address, and an empty batch runs nothing', async () => {
    const runner = recordingRunner();
    const fw = new NftablesFirewall({ runner });
    await rejectsWithCode(
      fw.block([{ address: '198.18.5.1' }, { address: '198.18.5.2 }; flush ruleset; add element inet soar blocked4 {1.1.1.1' }]),
      'BAD_REQUEST',
      /refused before running nft/,
    );
    await rejectsWithCode(fw.unblock(['$(reboot)']), 'BAD_REQUEST', /not a valid/);
    await fw.block([]);
    await fw.unblock([]);
    assert.equal(runner.calls.length, 0);
  });

  it('names the existing element when nft refuses an overlapping block', async () => {
    const runner = recordingRunner([{ stdout: TERSE_TABLE_JSON, stderr: '', code: 0 }, OK, OVERLAPS, { stdout: FULL_TABLE_JSON, stderr: '', code: 0 }]);
    const fw = new NftablesFirewall({ runner });
    await rejectsWithCode(
      fw.block([{ address: '198.18.6.0/24', ttlSeconds: 60 }]),
      'CONFLICT',
      /nothing blocked: 198\.18\.6\.0\/24 overlaps 198\.18\.6\.0\/28 already blocked/,
    );
    assert.deepEqual(runner.calls[3].args, ['-j', 'list', 'table', 'inet', 'soar']);
  });

  it('unblocking a prefix inside a blocked prefix deletes only exact elements', async () => {
    const runner = recordingRunner([{ stdout: TERSE_TABLE_JSON, stderr: '', code: 0 }, OK, OVERLAPS, { stdout: FULL_TABLE_JSON, stderr: '', code: 0 }, OK]);
    const fw = new NftablesFirewall({ runner });
    await fw.unblock(['198.18.6.0/30', '198.18.9.9', '198.18.6.0/28', '198.18.1.1']);
    assert.equal(runner.calls.length, 5);
    assert.equal(runner.calls[4].stdin, 'delete element inet soar blocked4 { 198.18.9.9 }\ndelete element inet soar blocked4_nets { 198.18.6.0/28 }\n');
  });

  it('sets the table up again and retries once when it vanished (firewall reload)', async () => {
    const runner = recordingRunner([NO_TABLE, OK, OK, NO_TABLE, NO_TABLE, OK, OK]);
    const fw = new NftablesFirewall({ runner });
    await fw.ensureReady();
    await fw.block([{ address: '198.18.5.1' }]); // works
    await fw.block([{ address: '198.18.5.2' }]); // table gone -> list -t (missing) -> setup -> retry
    assert.deepEqual(
      runner.calls.map((c) => c.args.join(' ')),
      ['-j -t list table inet soar', '-f -', '-f -', '-f -', '-j -t list table inet soar', '-f -', '-f -'],
    );
    assert.match(runner.calls[6].stdin!, /198\.18\.5\.2/);
  });

  it("maps nft failures to ProviderError codes with only nft's error lines", async () => {
    const longEcho = 'add element inet soar blocked4 { ' + '198.18.1.1, '.repeat(2000) + '}';
    const runner = recordingRunner([
      { stdout: TERSE_TABLE_JSON, stderr: '', code: 0 },
      { stdout: '', stderr: `Error: Could not process rule: Operation not permitted\n${longEcho}\n`, code: 1 },
    ]);
    const fw = new NftablesFirewall({ runner });
    await assert.rejects(fw.ensureReady(), (error: unknown) => {
      assert.ok(error instanceof ProviderError);
      assert.equal(error.code, 'FORBIDDEN');
      assert.equal(error.message, 'setting up the table failed (nft exit 1): Error: Could not process rule: Operation not permitted');
      return true;
    });
    const broken = new NftablesFirewall({ runner: async () => Promise.reject(new Error('spawn nft ENOENT')) });
    await rejectsWithCode(broken.list(), 'NETWORK', /could not run nft: spawn nft ENOENT/);
  });

  it('list reads both sets in one call; a missing table means nothing is enforced', async () => {
    const runner = recordingRunner([{ stdout: FULL_TABLE_JSON, stderr: '', code: 0 }, NO_TABLE]);
    const fw = new NftablesFirewall({ runner });
    const listed = await fw.list();
    assert.equal(listed.length, 7);
    assert.deepEqual(listed[0], { address: '198.18.5.1', expiresInSeconds: 3599, comment: 'hello' });
    assert.deepEqual(await fw.list(), []);
    assert.equal(runner.calls.length, 2);
  });

  it('runs calls one after another', async () => {
    let active = 0;
    let maxActive = 0;
    const releases: (() => void)[] = [];
    const runner: CommandRunner = (args) =>
      new Promise((resolve) => {
        active++;
        maxActive = Math.max(maxActive, active);
        releases.push(() => {
          active--;
          if (args.includes('-t')) resolve(NO_TABLE);
          else if (args.includes('list')) resolve({ stdout: FULL_TABLE_JSON, stderr: '', code: 0 });
          else resolve(OK);
        });
      });
    const fw = new NftablesFirewall({ runner });
    let settled = false;
    const all = Promise.all([fw.ensureReady(), fw.block([{ address: '198.18.5.1' }]), fw.list()]).finally(() => (settled = true));
    // Release calls one per turn of the event loop; two calls in flight at once would raise maxActive.
    while (!settled) {
      await new Promise<void>((r) => setImmediate(r));
      releases.shift()?.();
    }
    const [, , listed] = await all;
    assert.equal(listed.length, 7);
    assert.equal(maxActive, 1);
  });

  it('validates its options', () => {
    assert.throws(() => new NftablesFirewall({ table: 'x; flush ruleset' }), /table name/);
    assert.throws(() => new NftablesFirewall({ chains: [] }), /chains/);
    assert.throws(() => new NftablesFirewall({ chains: ['output' as never] }), /chains/);
    assert.throws(() => new NftablesFirewall({ priority: 1.5 }), /priority/);
    const fw = new NftablesFirewall({ name: 'edge gateway', table: 'soar_edge' });
    assert.equal(fw.name, 'edge gateway');
    assert.equal(fw.kind, 'nftables');
    assert.equal(fw.table, 'soar_edge');
  });
});

/** The block path every action takes (LeaseManager.block: guardrails, cap, simulation, lease) on nftables. */
async function blockPath(policy: GuardrailPolicy, fw: NftablesFirewall): Promise<{ manager: LeaseManager; close(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-nft-path-'));
  const store = await FileStateStore.open(path.join(dir, 'state'), { fsync: false, sweepIntervalMs: 0, compactIntervalMs: 0 });
  const audit = await AuditLog.open(path.join(dir, 'audit.jsonl'), { fsync: false });
  const manager = new LeaseManager({
    store,
    audit,
    guardrails: () => policy,
    simulate: () => false,
    providers: new Map([[fw.name, fw]]),
    setTimer: () => 0,
    clearTimer: () => undefined,
  });
  return {
    manager,
    close: async () => {
      await manager.stop();
      await audit.close();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('the block path on nftables', () => {
  const policy = () => new GuardrailPolicy({ maxActionsPerHour: 3 }, { ownAddresses: () => [], ownHostname: () => 'hub', now: () => 0 });

  it('a guardrail refusal never reaches nft', async () => {
    const runner = recordingRunner();
    const fw = new NftablesFirewall({ runner });
    const path = await blockPath(policy(), fw);
    try {
      const outcome = await path.manager.block({ target: '10.0.0.0/8', provider: fw.name, ttlSeconds: 60 });
      assert.equal(outcome.status, 'refused');
      assert.match((outcome as { reason: string }).reason, /10\.0\.0\.0\/8 overlaps protected 10\.0\.0\.0\/8/);
      assert.equal(runner.calls.length, 0);
    } finally {
      await path.close();
    }
  });

  it('the hourly cap stops a block before nft', async () => {
    const runner = recordingRunner([NO_TABLE]);
    const fw = new NftablesFirewall({ runner });
    const path = await blockPath(policy(), fw);
    try {
      for (const address of ['198.18.5.1', '198.18.5.2', '198.18.5.3'])
        assert.equal((await path.manager.block({ target: address, provider: fw.name, ttlSeconds: 60 })).status, 'blocked');
      const calls = runner.calls.length;
      const outcome = await path.manager.block({ target: '198.18.5.4', provider: fw.name, ttlSeconds: 60 });
      assert.equal(outcome.status, 'refused');
      assert.match((outcome as { reason: string }).reason, /cap of 3 actions per hour/);
      assert.equal(runner.calls.length, calls, 'nft was not called for the refused block');
    } finally {
      await path.close();
    }
  });

  it('hands the provider canonical addresses', async () => {
    const runner = recordingRunner([NO_TABLE]);
    const fw = new NftablesFirewall({ runner });
    const path = await blockPath(policy(), fw);
    try {
      const first = await path.manager.block({ target: '::ffff:198.18.5.1', provider: fw.name, ttlSeconds: 60 });
      const second = await path.manager.block({ target: '198.18.6.9/28', provider: fw.name, ttlSeconds: 'permanent' });
      assert.deepEqual([first.status === 'blocked' && first.lease.target, second.status === 'blocked' && second.lease.target], ['198.18.5.1', '198.18.6.0/28']);
      const scripts = runner.calls.map((call) => call.stdin ?? '').join('');
      assert.match(scripts, /add element inet soar blocked4 \{ 198\.18\.5\.1 timeout 60s comment "soar lease [0-9a-f-]+" \}\n/);
      assert.match(scripts, /add element inet soar blocked4_nets \{ 198\.18\.6\.0\/28 comment "soar lease [0-9a-f-]+" \}\n/);
    } finally {
      await path.close();
    }
  });
});

describe('execRunner', () => {
  it('passes arguments without a shell and feeds stdin', async () => {
    const echo = execRunner(process.execPath, [
      '-e',
      'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{process.stdout.write(JSON.stringify({args:process.argv.slice(1),stdin:s}));process.stderr.write("warn");process.exit(3)})',
    ]);
    const result = await echo(['$(echo hi)', '; rm -rf /', '*'], 'add table inet soar\n');
    assert.deepEqual(JSON.parse(result.stdout), { args: ['$(echo hi)', '; rm -rf /', '*'], stdin: 'add table inet soar\n' });
    assert.equal(result.stderr, 'warn');
    assert.equal(result.code, 3);
  });

  it('rejects when the command cannot be started', async () => {
    await assert.rejects(execRunner('/nonexistent/nft')(['--version']), /ENOENT/);
  });
});
