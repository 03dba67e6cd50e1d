import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AuditLog, readAudit, verifyAudit } from '../../../lib/core/audit';
import { runAndKill } from '../../fixtures/crash/child';

const WRITER = path.resolve(__dirname, '../../fixtures/crash/audit-writer.ts');

describe('AuditLog crash durability (kill -9)', function () {
  this.timeout(60_000);
  let root: string;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-audit-crash-'));
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('every acknowledged record survives, the chain verifies, and a torn tail is repaired', async () => {
    const file = path.join(root, 'soar', 'audit.jsonl');
    const child = await runAndKill(WRITER, [file], (lines) => lines.length >= 200);
    assert.ok(child.killedByUs, `the writer died on its own: ${child.stderr}`);
    const acknowledged = new Map<string, number>();
    for (const line of child.lines) {
      const [word, seq, id] = line.split(' ');
      if (word === 'ack') acknowledged.set(id, Number(seq));
    }
    assert.ok(acknowledged.size >= 200, `only ${acknowledged.size} acks`);

    // What the kill left is a valid chain (a write is never half done by a kill -9 alone).
    const afterKill = await verifyAudit(file);
    assert.equal(afterKill.ok, true, JSON.stringify(afterKill.firstBroken));
    // Now also simulate the power-loss case: half a record at the end.
    const torn = '{"seq":999999,"time":"2024-01-01T00:00:00.000Z","type":"alert.received","alert":{"id":"half';
    fs.appendFileSync(file, torn);

    const log = await AuditLog.open(file, { fsync: false });
    try {
      assert.equal(log.repaired?.removedBytes, torn.length);
      assert.equal(log.head.seq, afterKill.records + 1, 'the repair record continues the chain');
    } finally {
      await log.close();
    }

    const verified = await verifyAudit(file);
    assert.equal(verified.status, 'ok');
    assert.equal(verified.records, afterKill.records + 1);
    assert.equal(verified.unkeyedUpTo, 0);
    const found = new Map<string, number>();
    for await (const record of readAudit(file, { types: ['alert.received'] })) {
      found.set((record.alert as { id: string }).id, record.seq);
    }
    for (const [id, seq] of acknowledged) {
      assert.equal(found.get(id), seq, `acknowledged ${id} (seq ${seq}) missing or moved`);
    }
  });
});
