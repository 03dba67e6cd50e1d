/**
 * A store written by the LeaseManager of the version before the lease engine
 * (test/fixtures/lease-store-v1, made by its generate.ts on that version) opens with the engine: the
 * leases are listed, fall due, are undone once each, and the undo a crash interrupted is finished.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AuditLog, readAudit, verifyAudit } from '../../../../lib/core/audit';
import type { AuditRecord } from '../../../../lib/core/types';
import { FileStateStore } from '../../../../lib/core/file-store';
import { GuardrailPolicy } from '../../../../lib/core/guardrails';
import { LeaseManager } from '../../../../lib/firewall/leases';
import { FakeTimers, RecordingProvider } from '../../../fixtures/crash/lease-test-kit';

const FIXTURE = path.join(__dirname, '../../../fixtures/lease-store-v1');

async function records(file: string): Promise<AuditRecord[]> {
  const found: AuditRecord[] = [];
  for await (const record of readAudit(file)) found.push(record);
  return found;
}

describe('lease engine: a store written by the previous LeaseManager', function () {
  this.timeout(20_000);
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-legacy-'));
    fs.cpSync(path.join(FIXTURE, 'state'), path.join(dir, 'state'), { recursive: true });
    fs.copyFileSync(path.join(FIXTURE, 'audit.jsonl'), path.join(dir, 'audit.jsonl'));
  });

  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lists the old leases, expires them and undoes each once, and finishes the interrupted undo', async () => {
    // Written at 2026-01-01T00:01Z; open it at 00:02:30, when only the failing one is due.
    const timers = new FakeTimers(Date.UTC(2026, 0, 1, 0, 2, 30));
    const store = await FileStateStore.open(path.join(dir, 'state'), { fsync: false, now: timers.now, sweepIntervalMs: 0, compactIntervalMs: 0 });
    const audit = await AuditLog.open(path.join(dir, 'audit.jsonl'), { fsync: false, now: () => new Date(timers.now()) });
    const fw = new RecordingProvider('fw');
    const edge = new RecordingProvider('edge');
    const manager = new LeaseManager({
      store,
      audit,
      guardrails: () => new GuardrailPolicy({ includeDefaults: false, includeOwnAddresses: false }),
      simulate: () => false,
      providers: new Map([
        ['fw', fw],
        ['edge', edge],
      ]),
      now: timers.now,
      setTimer: timers.setTimer,
      clearTimer: timers.clearTimer,
      warn: () => undefined,
    });
    try {
      const before = await manager.list();
      assert.deepEqual(
        before.map((l) => [l.provider, l.target, l.status]),
        [
          ['fw', '192.0.2.99', 'expiring-failed'],
          ['edge', '192.0.2.50', 'active'],
          ['fw', '203.0.113.7', 'active'],
          ['fw', '198.51.100.0/24', 'active'],
          ['fw', '2001:db8::7', 'active'],
        ],
      );
      assert.equal(before.find((l) => l.target === '198.51.100.0/24')!.extensions, 1);
      assert.equal(await manager.count('fw'), 4);
      assert.equal(await manager.count('edge'), 1);
      assert.equal((await manager.lookup('2001:0db8::0007', 'fw'))?.expiresAt, null);

      await manager.start();
      // The interrupted release on edge is finished at start, audited as recovered.
      assert.deepEqual(edge.callsOf('unblock'), [{ method: 'unblock', addresses: ['192.0.2.77'] }]);
      // The failing undo is retried at once (its end has passed).
      assert.deepEqual(fw.callsOf('unblock'), [{ method: 'unblock', addresses: ['192.0.2.99'] }]);

      await timers.advance(5 * 3_600_000, () => manager.idle());
      const unblocked = [...fw.callsOf('unblock'), ...edge.callsOf('unblock')].flatMap((c) => c.addresses).sort();
      assert.deepEqual(unblocked, ['192.0.2.50', '192.0.2.77', '192.0.2.99', '198.51.100.0/24', '203.0.113.7'], 'each undone exactly once');
      assert.deepEqual(
        (await manager.list()).map((l) => l.target),
        ['2001:db8::7'],
        'the permanent lease stays',
      );
      assert.equal(await manager.count('fw'), 1);
      assert.deepEqual(await store.list('lease-undo'), []);

      const released = await manager.unblock('2001:db8::7', 'fw', { by: 'test' });
      assert.equal(released.status, 'released');
      assert.deepEqual(await manager.list(), []);
    } finally {
      await manager.stop();
      await audit.close();
      await store.close();
    }
    const all = await records(path.join(dir, 'audit.jsonl'));
    assert.equal((await verifyAudit(path.join(dir, 'audit.jsonl'))).ok, true, 'the old chain continues');
    assert.equal(all.filter((r) => r.type === 'lease.expired').length, 4);
    assert.ok(all.some((r) => r.type === 'action.done' && r.kind === 'unblock' && r.recovered === true && r.target === '192.0.2.77'));
  });
});
