import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AuditLog, GENESIS_PREV, readAudit, verifyAudit, type AuditFilter } from '../../../lib/core/audit';
import type { AuditRecord } from '../../../lib/core/types';

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

/** Independent implementation of the documented line format, to craft files by hand. */
function formatLine(body: Record<string, unknown>): string {
  const text = JSON.stringify(body);
  return `${text.slice(0, -1)},"hash":"${sha256(text)}"}`;
}

describe('AuditLog', () => {
  let root: string;
  let file: string;
  const opened: AuditLog[] = [];
  let clockMs = Date.parse('2024-06-01T12:00:00.000Z');
  const clock = () => new Date(clockMs);

  const open = async (options: Parameters<typeof AuditLog.open>[1] = {}) => {
    // keyed: false — these tests pin the unkeyed line format that logs written before the key use
    // (and that verification still accepts); the keyed chain has its own spec (audit-keyed.spec.ts).
    const log = await AuditLog.open(file, { fsync: false, now: clock, keyed: false, ...options });
    opened.push(log);
    return log;
  };
  const lines = () => fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);
  const writeLines = (list: string[]) => fs.writeFileSync(file, list.map((line) => `${line}\n`).join(''));
  const fill = async (count: number) => {
    const log = await open();
    for (let i = 0; i < count; i++) await log.append('alert.received', { alert: { id: `a${i}`, severity: 'low' } });
    await log.close();
  };
  const collect = async (filter: AuditFilter) => {
    const result: AuditRecord[] = [];
    for await (const record of readAudit(file, filter)) result.push(record);
    return result;
  };

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-audit-'));
    file = path.join(root, 'soar', 'audit.jsonl');
    clockMs = Date.parse('2024-06-01T12:00:00.000Z');
  });
  afterEach(async () => {
    for (const log of opened.splice(0)) await log.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  describe('writing', () => {
    it('writes byte-exact hash-chained lines: seq from 1, genesis prev, prev last before hash', async () => {
      const log = await open();
      const first = await log.append('alert.received', { alert: { id: 'x1' } });
      const second = await log.append('verdict', { alertId: 'x1', verdict: 'malicious' });
      const [line1, line2] = lines();
      assert.equal(first.seq, 1);
      assert.equal(first.prev, GENESIS_PREV);
      assert.equal(second.seq, 2);
      assert.equal(second.prev, first.hash);
      assert.ok(line1.startsWith('{"seq":1,"time":"2024-06-01T12:00:00.000Z","type":"alert.received","alert":{"id":"x1"},'));
      assert.ok(line1.endsWith(`,"prev":"${GENESIS_PREV}","hash":"${first.hash}"}`));
      // hash = sha256 of the line with its trailing hash member replaced by "}".
      const hashMember = `,"hash":"${first.hash}"}`;
      assert.equal(sha256(line1.slice(0, -hashMember.length) + '}'), first.hash);
      assert.deepEqual(JSON.parse(line2), second);
    });

    it('refuses fields that would override the envelope, and values JSON cannot hold', async () => {
      const log = await open();
      for (const reserved of ['seq', 'time', 'type', 'prev', 'hash']) {
        await assert.rejects(log.append('x', { [reserved]: 1 }), new RegExp(`"${reserved}" is reserved`));
      }
      await assert.rejects(log.append('x', { n: 10n }), TypeError);
      await assert.rejects(log.append('x', { f: () => 1 }), TypeError);
      await assert.rejects(log.append('x', { n: Number.POSITIVE_INFINITY }), TypeError);
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      await assert.rejects(log.append('x', { circular }), TypeError);
      await assert.rejects(log.append('', {}), TypeError);
      // Refused appends leave the chain untouched.
      const ok = await log.append('x', { fine: true });
      assert.equal(ok.seq, 1);
      await log.close();
      assert.deepEqual(await verifyAudit(file), { ok: true, status: 'ok', records: 1, unkeyedUpTo: 1 });
    });

    it('appendMany writes consecutive records together', async () => {
      const log = await open();
      const records = await log.appendMany([
        { type: 'approval.requested', fields: { approvalId: 'p1' } },
        { type: 'approval.decided', fields: { approvalId: 'p1', by: 'alice' } },
      ]);
      assert.deepEqual(
        records.map((record) => record.seq),
        [1, 2],
      );
      assert.equal(records[1].prev, records[0].hash);
      assert.equal(log.stats().batches, 1);
    });

    it('group commit: 1,000 concurrent appends go out in far fewer writes, chain intact', async () => {
      const log = await open({ fsync: true });
      const appends = Array.from({ length: 1000 }, (_, i) => log.append('alert.received', { alert: { id: `c${i}` } }));
      assert.equal(log.pending, 1000);
      const records = await Promise.all(appends);
      assert.deepEqual(
        records.map((record) => record.seq),
        Array.from({ length: 1000 }, (_, i) => i + 1),
      );
      const stats = log.stats();
      assert.equal(stats.linesWritten, 1000);
      assert.ok(stats.batches <= 5, `${stats.batches} write batches for 1,000 appends`);
      assert.equal(log.pending, 0);
      await log.close();
      assert.deepEqual(await verifyAudit(file), { ok: true, status: 'ok', records: 1000, unkeyedUpTo: 1000 });
    });

    it('continues seq and prev after a reopen', async () => {
      await fill(3);
      const log = await open();
      assert.equal(log.head.seq, 3);
      const next = await log.append('lease.expired', { leaseId: 'L1' });
      assert.equal(next.seq, 4);
      assert.equal(next.prev, JSON.parse(lines()[2]).hash);
      await log.close();
      assert.deepEqual(await verifyAudit(file), { ok: true, status: 'ok', records: 4, unkeyedUpTo: 4 });
    });

    it('only one writer: a second open fails clearly', async () => {
      await open();
      await assert.rejects(open(), /audit log .* is locked/);
    });
  });

  describe('torn tail repair', () => {
    it('cuts an incomplete last line, saves it aside, and records the repair in the chain', async () => {
      await fill(3);
      const torn = '{"seq":4,"time":"2024-06-01T12:00:00.000Z","type":"alert.rec';
      fs.appendFileSync(file, torn);
      const log = await open();
      assert.ok(log.repaired);
      assert.match(log.repaired.reason, /incomplete last line/);
      assert.equal(log.repaired.removedBytes, torn.length);
      assert.equal(log.repaired.removedSha256, sha256(torn));
      assert.equal(fs.readFileSync(path.join(path.dirname(file), log.repaired.savedAs), 'utf8'), torn);
      await log.append('after.repair', {});
      await log.close();

      const records = lines().map((line) => JSON.parse(line));
      assert.equal(records.length, 5);
      assert.equal(records[3].type, 'audit.repaired');
      assert.equal(records[3].seq, 4);
      assert.equal(records[3].removedBytes, torn.length);
      assert.equal(records[3].afterSeq, 3);
      assert.deepEqual(await verifyAudit(file), { ok: true, status: 'ok', records: 5, unkeyedUpTo: 5 });
    });

    it('cuts zero-filled lines left by a power loss', async () => {
      await fill(2);
      fs.appendFileSync(file, Buffer.concat([Buffer.alloc(100), Buffer.from('\n'), Buffer.alloc(30)]));
      const log = await open();
      assert.match(log.repaired?.reason ?? '', /incomplete last line and 1 unreadable line/);
      await log.close();
      assert.deepEqual(await verifyAudit(file), { ok: true, status: 'ok', records: 3, unkeyedUpTo: 3 });
    });

    it('a torn very first record is cut back to an empty chain', async () => {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, '{"seq":1,"ti');
      const log = await open();
      const repair = await log.append('next', {});
      assert.equal(repair.seq, 2);
      await log.close();
      const records = lines().map((line) => JSON.parse(line));
      assert.equal(records[0].type, 'audit.repaired');
      assert.equal(records[0].prev, GENESIS_PREV);
      assert.deepEqual(await verifyAudit(file), { ok: true, status: 'ok', records: 2, unkeyedUpTo: 2 });
    });

    it('refuses to cut more than an interrupted write could have left', async () => {
      await fill(3);
      fs.appendFileSync(file, 'garbage line\n'.repeat(20));
      await assert.rejects(open({ tornTailWindowBytes: 64 }), /not repairing automatically/);
      assert.equal(lines().length, 23, 'nothing was cut');
    });
  });

  describe('verifyAudit', () => {
    it('reports ok with the record count, also for an empty log', async () => {
      await fill(25);
      assert.deepEqual(await verifyAudit(file), { ok: true, status: 'ok', records: 25, unkeyedUpTo: 25 });
      fs.writeFileSync(file, '');
      assert.deepEqual(await verifyAudit(file), { ok: true, status: 'ok', records: 0, unkeyedUpTo: 0 });
      await assert.rejects(verifyAudit(path.join(root, 'missing.jsonl')), /ENOENT/);
    });

    it('a field tampered with in a middle line: hash mismatch at that line', async () => {
      await fill(10);
      const all = lines();
      assert.ok(all[4].includes('"id":"a4"'));
      all[4] = all[4].replace('"severity":"low"', '"severity":"none"');
      writeLines(all);
      assert.deepEqual(await verifyAudit(file), {
        ok: false,
        status: 'broken',
        records: 4,
        unkeyedUpTo: 4,
        firstBroken: { line: 5, seq: 5, reason: 'hash mismatch' },
      });
    });

    it("a deleted line: the next line's prev does not match", async () => {
      await fill(10);
      const all = lines();
      all.splice(4, 1);
      writeLines(all);
      assert.deepEqual(await verifyAudit(file), {
        ok: false,
        status: 'broken',
        records: 4,
        unkeyedUpTo: 4,
        firstBroken: { line: 5, seq: 6, reason: 'prev does not match the hash of line 4' },
      });
    });

    it('a forged line with a recomputed hash breaks the link to the following line', async () => {
      await fill(10);
      const all = lines();
      const forged = JSON.parse(all[4]);
      delete forged.hash;
      forged.alert.severity = 'none';
      // Keep the documented member order: prev last.
      const { prev, ...rest } = forged;
      all[4] = formatLine({ ...rest, prev });
      writeLines(all);
      assert.deepEqual(await verifyAudit(file), {
        ok: false,
        status: 'broken',
        records: 5,
        unkeyedUpTo: 5,
        firstBroken: { line: 6, seq: 6, reason: 'prev does not match the hash of line 5' },
      });
    });

    it('a gap in seq with a valid chain is reported', async () => {
      const first = formatLine({ seq: 1, time: 't', type: 'a', prev: GENESIS_PREV });
      const firstHash = JSON.parse(first).hash;
      const third = formatLine({ seq: 3, time: 't', type: 'a', prev: firstHash });
      fs.mkdirSync(path.dirname(file), { recursive: true });
      writeLines([first, third]);
      assert.deepEqual(await verifyAudit(file), {
        ok: false,
        status: 'broken',
        records: 1,
        unkeyedUpTo: 1,
        firstBroken: { line: 2, seq: 3, reason: 'seq 3 follows 1' },
      });
    });

    it('a line that is not JSON, a missing hash, a wrong start', async () => {
      await fill(4);
      const all = lines();
      writeLines([...all.slice(0, 2), 'not json at all', ...all.slice(2)]);
      assert.deepEqual(await verifyAudit(file), { ok: false, status: 'broken', records: 2, unkeyedUpTo: 2, firstBroken: { line: 3, reason: 'not JSON' } });

      const noHash = JSON.stringify({ seq: 3, time: 't', type: 'a', prev: JSON.parse(all[1]).hash });
      writeLines([...all.slice(0, 2), noHash]);
      assert.equal((await verifyAudit(file)).firstBroken?.reason, 'no hash member at the end of the line');

      writeLines(all.slice(1));
      assert.deepEqual((await verifyAudit(file)).firstBroken, { line: 1, seq: 2, reason: 'prev of the first record is not the genesis value' });
    });

    it('an incomplete last line is reported', async () => {
      await fill(2);
      fs.appendFileSync(file, '{"seq":3');
      assert.deepEqual((await verifyAudit(file)).firstBroken?.line, 3);
      assert.match((await verifyAudit(file)).firstBroken?.reason ?? '', /incomplete last line/);
    });
  });

  describe('readAudit', () => {
    beforeEach(async () => {
      const log = await open();
      // One record a minute: a1 at 12:00, verdict a1 12:01, a2 12:02, ...
      for (let i = 1; i <= 4; i++) {
        await log.append('alert.received', { alert: { id: `a${i}` } });
        clockMs += 60_000;
        await log.append('verdict', { alertId: `a${i}`, alert: { id: `a${i}` }, verdict: 'benign' });
        clockMs += 60_000;
      }
      await log.close();
    });

    it('filters by type', async () => {
      const got = await collect({ types: ['alert.received'] });
      assert.deepEqual(
        got.map((record) => record.seq),
        [1, 3, 5, 7],
      );
      assert.equal((await collect({})).length, 8);
      assert.equal((await collect({ types: ['nothing'] })).length, 0);
    });

    it('filters by alert id', async () => {
      const got = await collect({ ids: ['a2', 'a4'] });
      assert.deepEqual(
        got.map((record) => [record.type, (record.alert as { id: string }).id]),
        [
          ['alert.received', 'a2'],
          ['verdict', 'a2'],
          ['alert.received', 'a4'],
          ['verdict', 'a4'],
        ],
      );
    });

    it('filters by time: since inclusive, until exclusive, combined with the others', async () => {
      const since = new Date('2024-06-01T12:02:00.000Z');
      const until = new Date('2024-06-01T12:06:00.000Z');
      assert.deepEqual(
        (await collect({ since, until })).map((record) => record.seq),
        [3, 4, 5, 6],
      );
      assert.deepEqual(
        (await collect({ since, until, types: ['alert.received'], ids: ['a3', 'a4'] })).map((record) => record.seq),
        [5],
      );
    });

    it('skips an incomplete last line', async () => {
      fs.appendFileSync(file, '{"seq":9,"time":"2024-06-01T12:09:00.000Z","type":"alert.rec');
      assert.equal((await collect({})).length, 8);
    });
  });
});
