import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { AuditLog, readAudit, verifyAudit } from '../../../lib/core/audit';
import { FileStateStore } from '../../../lib/core/file-store';
import { GuardrailPolicy } from '../../../lib/core/guardrails';
import type { AuditRecord } from '../../../lib/core/types';
import { LeaseManager, UNDO_NS } from '../../../lib/firewall/leases';
import { runAndKill } from '../../fixtures/crash/child';
import { RecordingProvider } from '../../fixtures/crash/lease-test-kit';

const BLOCKER = path.resolve(__dirname, '../../fixtures/crash/lease-blocker.ts');
const TARGET = '198.18.0.77';

describe('LeaseManager after kill -9', function () {
  this.timeout(60_000);
  let root: string;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-lease-crash-'));
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('a lease that fell due while the process was dead is undone once, at start, and audited', async () => {
    const hubDir = path.join(root, 'soar');
    const journal = path.join(root, 'provider-calls.log');
    const child = await runAndKill(BLOCKER, [hubDir, journal, TARGET, '2'], (lines) => lines.some((line) => line.startsWith('blocked ')));
    assert.ok(child.killedByUs, `the child died on its own: ${child.stderr}`);
    const [, target, expiresText, leaseId] = child.lines.find((line) => line.startsWith('blocked '))!.split(' ');
    assert.equal(target, TARGET);
    const expiresAt = Number(expiresText);
    const childCalls = fs.readFileSync(journal, 'utf8').trim().split('\n');
    assert.deepEqual(childCalls, [`${child.pid} block ${TARGET}:2`], 'the child blocked and was killed before undoing anything');

    // The process stays dead past the lease's end (a wait for wall-clock time, which the child's lease used).
    const wait = expiresAt - Date.now() + 200;
    if (wait > 0) await delay(wait);

    const store = await FileStateStore.open(path.join(hubDir, 'state'));
    const audit = await AuditLog.open(path.join(hubDir, 'audit.jsonl'));
    const provider = new RecordingProvider('fw', journal);
    const policy = new GuardrailPolicy({ includeOwnAddresses: false });
    const manager = new LeaseManager({ store, audit, guardrails: () => policy, simulate: () => false, providers: new Map([['fw', provider]]) });
    try {
      const before = await manager.list();
      assert.deepEqual(
        before.map((lease) => [lease.id, lease.target, lease.status]),
        [[leaseId, TARGET, 'active']],
        'the acknowledged lease survived the kill',
      );
      assert.equal(provider.calls.length, 0);

      await manager.start();
      assert.deepEqual(provider.callsOf('unblock'), [{ method: 'unblock', addresses: [TARGET] }], 'undone at start, exactly once');
      assert.deepEqual(await manager.list(), []);
      assert.deepEqual(await store.list(UNDO_NS), []);
      assert.equal(manager.nextWakeAt, undefined, 'nothing left to schedule');
    } finally {
      await manager.stop();
      await audit.close();
      await store.close();
    }

    const allCalls = fs.readFileSync(journal, 'utf8').trim().split('\n');
    assert.deepEqual(allCalls, [`${child.pid} block ${TARGET}:2`, `${process.pid} unblock ${TARGET}`]);
    const records: AuditRecord[] = [];
    for await (const record of readAudit(path.join(hubDir, 'audit.jsonl'))) records.push(record);
    assert.deepEqual(
      records.map((r) => r.type),
      ['action.done', 'lease.expired'],
    );
    assert.equal((records[1].lease as { id: string }).id, leaseId);
    assert.ok((records[1].overdueSeconds as number) >= 0);
    assert.equal((await verifyAudit(path.join(hubDir, 'audit.jsonl'))).ok, true);
  });
});
