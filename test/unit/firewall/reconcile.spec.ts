import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AuditLog, readAudit } from '../../../lib/core/audit';
import { ProviderError } from '../../../lib/core/errors';
import { FileStateStore } from '../../../lib/core/file-store';
import { GuardrailPolicy } from '../../../lib/core/guardrails';
import type { AuditRecord } from '../../../lib/core/types';
import { type Drift, LeaseManager, type LeaseManagerOptions } from '../../../lib/firewall/leases';
import { compareWithLeases, hasDrift, type LeaseView } from '../../../lib/firewall/reconcile';
import type { BlockTarget } from '../../../lib/firewall/types';
import { FakeTimers, providerDown, RecordingProvider } from '../../fixtures/crash/lease-test-kit';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

function lease(target: string, expiresAt: number | null, provider = 'fw'): LeaseView {
  return { target, provider, expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString() };
}

describe('compareWithLeases', () => {
  it('sorts leases and enforced blocks into missing, extra and expired-but-present', () => {
    const leases = [
      lease('198.18.0.1', NOW + 60_000), // active, held
      lease('198.18.0.2', NOW + 60_000), // active, missing
      lease('198.18.0.3', NOW - 1), // ended, still held
      lease('198.18.0.4', NOW - 1), // ended, already gone: no drift
      lease('198.18.0.5', null), // permanent, held
      lease('198.18.0.6', null), // permanent, missing
      lease('198.18.0.7', NOW + 60_000, 'other'), // another provider's lease
      lease('2001:db8::5', NOW + 60_000), // held in another spelling
    ];
    const enforced = [
      { address: '198.18.0.1', expiresInSeconds: 60 },
      { address: '198.18.0.3' },
      { address: '198.18.0.5' },
      { address: '2001:DB8:0:0::5' },
      { address: '198.18.0.7' }, // leased, but on "other"
      { address: '198.18.9.0/24' },
      { address: '198.18.8.1-198.18.8.9' },
    ];
    const drift = compareWithLeases('fw', leases, enforced, NOW);
    assert.deepEqual(
      drift.missing.map((l) => l.target),
      ['198.18.0.2', '198.18.0.6'],
    );
    assert.deepEqual(
      drift.extra.map((b) => b.address),
      ['198.18.0.7', '198.18.9.0/24', '198.18.8.1-198.18.8.9'],
    );
    assert.deepEqual(drift.expiredButPresent, [{ address: '198.18.0.3' }]);
    assert.equal(drift.provider, 'fw');
    assert.equal(drift.checkedAt, new Date(NOW).toISOString());
    assert.equal(hasDrift(drift), true);
  });

  it('a lease ends exactly at its expiresAt', () => {
    const drift = compareWithLeases('fw', [lease('198.18.0.1', NOW)], [{ address: '198.18.0.1' }], NOW);
    assert.deepEqual(drift.expiredButPresent, [{ address: '198.18.0.1' }]);
    assert.deepEqual(compareWithLeases('fw', [lease('198.18.0.1', NOW)], [{ address: '198.18.0.1' }], NOW - 1).expiredButPresent, []);
  });

  it('a wider block does not count as holding a narrower lease', () => {
    const drift = compareWithLeases('fw', [lease('198.18.9.7', NOW + 1000)], [{ address: '198.18.9.0/24' }], NOW);
    assert.equal(drift.missing.length, 1);
    assert.equal(drift.extra.length, 1);
  });

  it('leaves addresses with an operation in flight out', () => {
    const drift = compareWithLeases('fw', [lease('198.18.0.2', NOW + 1000)], [{ address: '198.18.0.3' }], NOW, new Set(['198.18.0.2', '198.18.0.3']));
    assert.equal(hasDrift(drift), false);
  });

  it('finds nothing when all agree', () => {
    const drift = compareWithLeases(
      'fw',
      [lease('198.18.0.1', NOW + 1000), lease('198.18.0.2', null)],
      [{ address: '198.18.0.2' }, { address: '198.18.0.1' }],
      NOW,
    );
    assert.equal(hasDrift(drift), false);
  });
});

describe('LeaseManager.reconcile', function () {
  this.timeout(20_000);
  let dir: string;
  let timers: FakeTimers;
  let store: FileStateStore;
  let audit: AuditLog;
  let provider: RecordingProvider;
  let policy: GuardrailPolicy;
  let simulate: boolean;
  let manager: LeaseManager;

  const auditFile = () => path.join(dir, 'audit.jsonl');

  async function records(type: string): Promise<AuditRecord[]> {
    const found: AuditRecord[] = [];
    for await (const record of readAudit(auditFile(), { types: [type] })) found.push(record);
    return found;
  }

  async function advance(ms: number): Promise<void> {
    await timers.advance(ms, () => manager.idle());
  }

  async function startManager(extra: Partial<LeaseManagerOptions> = {}): Promise<void> {
    manager = new LeaseManager({
      store,
      audit,
      guardrails: () => policy,
      simulate: () => simulate,
      providers: new Map([['fw', provider]]),
      now: timers.now,
      setTimer: timers.setTimer,
      clearTimer: timers.clearTimer,
      warn: (message) => assert.fail(`unexpected warning: ${message}`),
      ...extra,
    });
    await manager.start();
  }

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-reconcile-'));
    timers = new FakeTimers(NOW);
    store = await FileStateStore.open(path.join(dir, 'state'), { fsync: false, now: timers.now, sweepIntervalMs: 0, compactIntervalMs: 0 });
    audit = await AuditLog.open(auditFile(), { fsync: false, now: () => new Date(timers.now()) });
    provider = new RecordingProvider('fw');
    policy = new GuardrailPolicy({ includeOwnAddresses: false }, { now: timers.now });
    simulate = false;
    await startManager();
  });

  afterEach(async () => {
    await manager.stop();
    await audit.close();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reports missing and extra blocks and audits reconcile.drift', async () => {
    await manager.block({ target: '198.18.0.1', provider: 'fw', ttlSeconds: 600 });
    await manager.block({ target: '198.18.0.2', provider: 'fw', ttlSeconds: 600 });
    provider.enforced.delete('198.18.0.2'); // a firewall reload lost it
    provider.enforced.set('198.18.5.5', { address: '198.18.5.5' }); // added by hand
    const drift = await manager.reconcile('fw');
    assert.deepEqual(
      drift.missing.map((l) => l.target),
      ['198.18.0.2'],
    );
    assert.deepEqual(drift.extra, [{ address: '198.18.5.5' }]);
    assert.deepEqual(drift.expiredButPresent, []);
    assert.equal(drift.repaired, undefined);
    const [record] = await records('reconcile.drift');
    assert.deepEqual(record.counts, { missing: 1, extra: 1, expiredButPresent: 0 });
    assert.deepEqual(record.missing, ['198.18.0.2']);
    assert.deepEqual(record.extra, ['198.18.5.5']);
    assert.equal(provider.callsOf('block').length, 2, 'reporting alone changes nothing');
  });

  it('reports an expired lease the provider still holds, and repair retries its undo at once', async () => {
    await startManager({ expiryRetry: { baseMs: HOUR } });
    await manager.block({ target: '198.18.0.3', provider: 'fw', ttlSeconds: 60 });
    provider.failWith = (call) => (call.method === 'unblock' ? providerDown() : undefined);
    await advance(60_000);
    const drift = await manager.reconcile('fw');
    assert.deepEqual(
      drift.expiredButPresent.map((b) => b.address),
      ['198.18.0.3'],
    );
    assert.deepEqual(drift.missing, []);

    provider.failWith = undefined;
    await manager.reconcile('fw', { repair: true });
    await manager.idle();
    assert.deepEqual(await manager.list(), [], 'undone without waiting an hour for the backoff');
    assert.equal(provider.enforced.size, 0);
  });

  it('repair re-blocks missing leases with their remaining TTL and leaves extra blocks alone', async () => {
    const blocked = await manager.block({ target: '198.18.0.1', provider: 'fw', ttlSeconds: 600 });
    assert.ok(blocked.status === 'blocked');
    await advance(100_000);
    provider.enforced.clear();
    provider.enforced.set('198.18.5.5', { address: '198.18.5.5' });
    const drift = await manager.reconcile('fw', { repair: true });
    assert.deepEqual(drift.repaired, ['198.18.0.1']);
    assert.deepEqual(drift.extra, [{ address: '198.18.5.5' }]);
    const repairCall = provider.callsOf('block').at(-1)!;
    assert.deepEqual(repairCall.targets, [{ address: '198.18.0.1', ttlSeconds: 500, comment: `soar lease ${blocked.lease.id}` }] as BlockTarget[]);
    assert.ok(provider.enforced.has('198.18.5.5'), 'never removes what it has no lease for');
    assert.equal((await records('reconcile.repaired')).length, 1);
    const [record] = await records('reconcile.drift');
    assert.deepEqual(record.repaired, ['198.18.0.1']);
    assert.equal((await manager.reconcile('fw')).missing.length, 0);
  });

  it('repair re-checks the guardrails and does nothing in simulation', async () => {
    await manager.block({ target: '198.18.0.1', provider: 'fw', ttlSeconds: 600 });
    provider.enforced.clear();
    simulate = true;
    const simulated = await manager.reconcile('fw', { repair: true });
    assert.equal(simulated.repaired, undefined);
    assert.equal(provider.callsOf('block').length, 1);

    simulate = false;
    policy = new GuardrailPolicy({ includeOwnAddresses: false, protectedCidrs: ['198.18.0.0/24'] }, { now: timers.now });
    const refused = await manager.reconcile('fw', { repair: true });
    assert.equal(refused.repaired, undefined);
    assert.match(refused.repairFailed!, /198\.18\.0\.1 is in protected 198\.18\.0\.0\/24/);
    assert.equal(provider.callsOf('block').length, 1);
  });

  it('audits reconcile.ok at most hourly, and at once when drift has cleared', async () => {
    await manager.block({ target: '198.18.0.1', provider: 'fw', ttlSeconds: 10 * 3600 });
    await manager.reconcile('fw');
    await manager.reconcile('fw');
    assert.equal((await records('reconcile.ok')).length, 1);
    await advance(HOUR);
    await manager.reconcile('fw');
    assert.equal((await records('reconcile.ok')).length, 2);

    provider.enforced.clear();
    await manager.reconcile('fw');
    await manager.reconcile('fw');
    assert.equal((await records('reconcile.drift')).length, 2, 'drift is audited every time');
    await manager.reconcile('fw', { repair: true });
    await manager.reconcile('fw');
    assert.equal((await records('reconcile.ok')).length, 3, 'the return to ok is recorded at once');
  });

  it('a listing failure is audited redacted and rejects', async () => {
    provider.failWith = (call) =>
      call.method === 'list' ? new ProviderError({ provider: 'recording', code: 'AUTH', message: 'denied for https://root:pa55w0rd@gw.test/' }) : undefined;
    await assert.rejects(manager.reconcile('fw'), (error: unknown) => error instanceof ProviderError && error.code === 'AUTH');
    const [record] = await records('reconcile.failed');
    assert.equal(record.code, 'AUTH');
    assert.equal(record.reason, 'denied for https://[REDACTED]@gw.test/');
    await assert.rejects(manager.reconcile('nope'), /no firewall provider named "nope"/);
  });

  it('does not call a block whose lease is still being written extra', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = new RecordingProvider('fw');
    const originalBlock = slow.block.bind(slow);
    let providerHasIt!: () => void;
    const blockedOnProvider = new Promise<void>((resolve) => (providerHasIt = resolve));
    slow.block = async (targets: BlockTarget[]) => {
      await originalBlock(targets);
      providerHasIt();
      await gate;
    };
    provider = slow;
    await manager.stop();
    await startManager();
    const pending = manager.block({ target: '198.18.0.1', provider: 'fw', ttlSeconds: 600 });
    await blockedOnProvider;
    const drift = await manager.reconcile('fw');
    assert.equal(hasDrift(drift), false, JSON.stringify(drift));
    release();
    assert.equal((await pending).status, 'blocked');
  });

  it('reconcileEvery runs on its interval until cancelled', async () => {
    const results: (Drift | Error)[] = [];
    await manager.block({ target: '198.18.0.1', provider: 'fw', ttlSeconds: 10 * 3600 });
    const cancel = manager.reconcileEvery('fw', 15 * 60_000, (result) => results.push(result));
    await advance(15 * 60_000);
    assert.equal(results.length, 1);
    provider.enforced.clear();
    await advance(15 * 60_000);
    assert.equal(results.length, 2);
    assert.deepEqual(
      (results[1] as Drift).missing.map((l) => l.target),
      ['198.18.0.1'],
    );
    provider.failWith = (call) => (call.method === 'list' ? providerDown() : undefined);
    await advance(15 * 60_000);
    assert.ok(results[2] instanceof ProviderError);
    cancel();
    await advance(HOUR);
    assert.equal(results.length, 3);
    assert.deepEqual(timers.armed.length, 1, "only the lease's expiry timer is left");
  });
});
