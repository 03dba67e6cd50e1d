/**
 * A second lease kind plugged into the engine next to blocks, without touching lib/core: a tiny fake
 * "isolate" family whose targets are host objects. Both kinds share one store, one scheduler, one
 * undo gate and one reconciliation loop, and never see each other's leases.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { AuditLog, readAudit } from '../../../../lib/core/audit';
import type { AuditRecord } from '../../../../lib/core/types';
import { FileStateStore } from '../../../../lib/core/file-store';
import { GuardrailPolicy } from '../../../../lib/core/guardrails';
import { LeaseEngine, type LeaseFamily, type LeaseRecord } from '../../../../lib/core/leases';
import { LeaseManager } from '../../../../lib/firewall/leases';
import { FakeTimers, RecordingProvider } from '../../../fixtures/crash/lease-test-kit';

const HOUR = 3_600_000;

interface Host {
  name: string;
  agentId: string;
}

interface IsolationLease extends LeaseRecord<Host> {
  kind: 'isolate';
}

/** An EDR that remembers which agents it holds isolated. */
class FakeEdr {
  readonly isolated = new Set<string>();
  readonly calls: string[] = [];
}

class IsolateFamily implements LeaseFamily<IsolationLease, { agentId: string }> {
  readonly kind = 'isolate';
  readonly undoAction = 'release';
  constructor(private readonly edrs: Map<string, FakeEdr>) {}
  targetKey(host: Host): string {
    return host.agentId;
  }
  unavailable(provider: string): string | undefined {
    return this.edrs.has(provider) ? undefined : `no EDR named ${provider}`;
  }
  async undo(provider: string, leases: IsolationLease[]): Promise<void> {
    const edr = this.edrs.get(provider)!;
    for (const lease of leases) {
      edr.calls.push(`release ${lease.target.agentId}`);
      edr.isolated.delete(lease.target.agentId);
    }
  }
  async reapply(provider: string, leases: IsolationLease[]): Promise<void> {
    for (const lease of leases) this.edrs.get(provider)!.isolated.add(lease.target.agentId);
  }
  async listEnforced(provider: string): Promise<{ agentId: string }[]> {
    return [...this.edrs.get(provider)!.isolated].map((agentId) => ({ agentId }));
  }
  enforcedKey(item: { agentId: string }): string {
    return item.agentId;
  }

  /** What an isolate node would do: apply, then write the lease through the engine. */
  async isolate(engine: LeaseEngine, provider: string, host: Host, ttlMs: number): Promise<IsolationLease> {
    const edr = this.edrs.get(provider)!;
    edr.calls.push(`isolate ${host.agentId}`);
    edr.isolated.add(host.agentId);
    const now = engine.now();
    const lease: IsolationLease = {
      id: randomUUID(),
      kind: 'isolate',
      target: host,
      provider,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + ttlMs).toISOString(),
      status: 'active',
    };
    const key = engine.keyOf(this, provider, this.targetKey(host));
    await engine.locked([key], () => engine.leases.set(key, lease));
    engine.schedule(key, lease);
    return lease;
  }
}

async function records(file: string): Promise<AuditRecord[]> {
  const found: AuditRecord[] = [];
  for await (const record of readAudit(file)) found.push(record);
  return found;
}

describe('lease engine: a second kind side by side with blocks', function () {
  this.timeout(20_000);
  let dir: string;
  let timers: FakeTimers;
  let store: FileStateStore;
  let audit: AuditLog;
  let engine: LeaseEngine;
  let blocks: LeaseManager;
  let isolations: IsolateFamily;
  let firewall: RecordingProvider;
  let edr: FakeEdr;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-engine-'));
    timers = new FakeTimers();
    store = await FileStateStore.open(path.join(dir, 'state'), { fsync: false, now: timers.now, sweepIntervalMs: 0, compactIntervalMs: 0 });
    audit = await AuditLog.open(path.join(dir, 'audit.jsonl'), { fsync: false, now: () => new Date(timers.now()) });
    engine = new LeaseEngine({
      store,
      audit,
      simulate: () => false,
      now: timers.now,
      setTimer: timers.setTimer,
      clearTimer: timers.clearTimer,
      warn: () => undefined,
    });
    // The same provider name on both sides: keys must still not collide.
    firewall = new RecordingProvider('shared');
    edr = new FakeEdr();
    blocks = new LeaseManager({
      engine,
      store,
      audit,
      guardrails: () => new GuardrailPolicy({ includeDefaults: false, includeOwnAddresses: false }),
      simulate: () => false,
      providers: new Map([['shared', firewall]]),
    });
    isolations = new IsolateFamily(new Map([['shared', edr]]));
    engine.addFamily(isolations);
    await engine.start();
  });

  afterEach(async () => {
    await engine.stop();
    await audit.close();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps separate keys and lists, expires each kind through its own family, and undoes each once', async () => {
    await blocks.block({ target: '203.0.113.7', provider: 'shared', ttlSeconds: 3600 });
    // A host whose agent id looks like the blocked address: the family prefix keeps the keys apart.
    await isolations.isolate(engine, 'shared', { name: 'web-1', agentId: '203.0.113.7' }, 2 * HOUR);
    assert.deepEqual(
      (await blocks.list()).map((l) => l.target),
      ['203.0.113.7'],
    );
    assert.deepEqual(
      (await engine.list('isolate')).map((l) => (l.target as Host).name),
      ['web-1'],
    );
    assert.equal(await engine.count('block', 'shared'), 1);
    assert.equal(await engine.count('isolate', 'shared'), 1);
    assert.deepEqual((await store.list('leases')).map((e) => e.key).sort(), ['isolate:shared|203.0.113.7', 'shared|203.0.113.7']);

    await timers.advance(HOUR, () => engine.idle());
    assert.deepEqual(firewall.callsOf('unblock'), [{ method: 'unblock', addresses: ['203.0.113.7'] }]);
    assert.deepEqual(edr.calls, ['isolate 203.0.113.7'], "the isolation is not touched by the block's expiry");
    assert.equal(await engine.count('block', 'shared'), 0);

    await timers.advance(HOUR, () => engine.idle());
    assert.deepEqual(edr.calls, ['isolate 203.0.113.7', 'release 203.0.113.7']);
    await timers.advance(4 * HOUR, () => engine.idle());
    assert.equal(edr.calls.length, 2, 'undone once');
    assert.deepEqual(await engine.list(), []);
    const expired = (await records(path.join(dir, 'audit.jsonl'))).filter((r) => r.type === 'lease.expired');
    assert.deepEqual(
      expired.map((r) => r.kind),
      ['block', 'isolate'],
    );
  });

  it("releases on request through the undo-once gate and audits the family's verb", async () => {
    const lease = await isolations.isolate(engine, 'shared', { name: 'db-1', agentId: 'agent-9' }, HOUR);
    const key = engine.keyOf(isolations, 'shared', 'agent-9');
    const [first, second] = await Promise.all([
      engine.locked([key], () => engine.undoNow(key, lease, { by: 'test' })),
      engine.undoNow(key, lease, { by: 'test' }),
    ]);
    assert.deepEqual([first.status, second.status].sort(), ['not-found', 'released']);
    assert.deepEqual(edr.calls, ['isolate agent-9', 'release agent-9']);
    const done = (await records(path.join(dir, 'audit.jsonl'))).filter((r) => r.type === 'action.done');
    assert.equal(done.length, 1);
    assert.equal(done[0].kind, 'release');
  });

  it('reconciles each kind against its own provider listing', async () => {
    await blocks.block({ target: '203.0.113.9', provider: 'shared', ttlSeconds: 3600 });
    await isolations.isolate(engine, 'shared', { name: 'web-2', agentId: 'agent-2' }, HOUR);
    edr.isolated.delete('agent-2'); // released behind the hub's back
    edr.isolated.add('agent-3'); // isolated by hand
    const drift = await engine.reconcile('isolate', 'shared');
    assert.deepEqual(
      drift.missing.map((l) => (l.target as Host).name),
      ['web-2'],
    );
    assert.deepEqual(drift.extra, [{ agentId: 'agent-3' }]);
    const blockDrift = await blocks.reconcile('shared');
    assert.deepEqual([blockDrift.missing, blockDrift.extra, blockDrift.expiredButPresent], [[], [], []]);
    const repaired = await engine.reconcile('isolate', 'shared', { repair: true });
    assert.deepEqual(
      repaired.repaired?.map((t) => (t as Host).agentId),
      ['agent-2'],
    );
    assert.ok(edr.isolated.has('agent-2'));
  });

  it('refuses a second family with the same kind or key prefix', () => {
    assert.throws(() => engine.addFamily(new IsolateFamily(new Map())), /already registered/);
    const clash = Object.assign(new IsolateFamily(new Map()), { kind: 'other', keyPrefix: '' });
    assert.throws(() => engine.addFamily(clash), /share the key prefix/);
  });
});
