import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AuditLog, GENESIS_PREV, verifyAudit } from '../../../lib/core/audit';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Re-seal a line body the way someone without the key can: plain SHA-256 (the old format). */
function sealUnkeyed(body: Record<string, unknown>): string {
  const text = JSON.stringify(body);
  return `${text.slice(0, -1)},"hash":"${sha256(text)}"}`;
}

function sealWith(key: Buffer, body: Record<string, unknown>): string {
  const text = JSON.stringify(body);
  return `${text.slice(0, -1)},"hash":"${createHmac('sha256', key).update(text).digest('hex')}"}`;
}

/** The body of a written line, without its hash member. */
function bodyOf(line: string): Record<string, unknown> {
  const { hash: _hash, ...body } = JSON.parse(line) as Record<string, unknown>;
  return body;
}

describe('AuditLog keyed chain and signed head checkpoint', () => {
  let root: string;
  let dir: string;
  let file: string;
  const opened: AuditLog[] = [];

  const open = async (options: Parameters<typeof AuditLog.open>[1] = {}) => {
    const log = await AuditLog.open(file, { fsync: false, ...options });
    opened.push(log);
    return log;
  };
  const close = async (log: AuditLog) => {
    await log.close();
    opened.splice(opened.indexOf(log), 1);
  };
  const lines = () => fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);
  const writeLines = (list: string[]) => fs.writeFileSync(file, list.map((line) => `${line}\n`).join(''));
  const fill = async (count: number, options: Parameters<typeof AuditLog.open>[1] = {}) => {
    const log = await open(options);
    for (let i = 0; i < count; i++) await log.append('alert.received', { alert: { id: `a${i}` } });
    await close(log);
  };
  const key = () => Buffer.from(fs.readFileSync(path.join(dir, 'audit.key'), 'utf8').trim(), 'hex');

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-audit-keyed-'));
    dir = path.join(root, 'soar');
    file = path.join(dir, 'audit.jsonl');
  });
  afterEach(async () => {
    for (const log of opened.splice(0)) await log.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('creates the key once (0600, outside the log), MACs every line with it, and keeps a signed head', async () => {
    await fill(3);
    const keyFile = path.join(dir, 'audit.key');
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(fs.statSync(`${file}.head`).mode & 0o777, 0o600);
    const firstKey = fs.readFileSync(keyFile, 'utf8');
    assert.match(firstKey, /^[0-9a-f]{64}\n$/);
    for (const line of lines()) {
      const body = bodyOf(line);
      assert.equal(JSON.parse(line).hash, createHmac('sha256', key()).update(JSON.stringify(body)).digest('hex'));
      assert.notEqual(JSON.parse(line).hash, sha256(JSON.stringify(body)), 'not the plain hash');
    }
    await fill(1);
    assert.equal(fs.readFileSync(keyFile, 'utf8'), firstKey, 'the key is generated once');
    const result = await verifyAudit(file);
    assert.deepEqual(result, { ok: true, status: 'ok', records: 4, unkeyedUpTo: 0, checkpoint: { seq: 4, hash: JSON.parse(lines()[3]).hash, keyedFrom: 1 } });
  });

  it('a caller-given key is used instead of the key file', async () => {
    const given = Buffer.alloc(32, 7);
    await fill(2, { key: given });
    assert.equal(fs.existsSync(path.join(dir, 'audit.key')), false);
    assert.equal((await verifyAudit(file)).status, 'key-missing');
    assert.deepEqual((await verifyAudit(file, { key: given })).status, 'ok');
    await assert.rejects(AuditLog.open(file, { key: Buffer.alloc(8) }), /at least 16 bytes/);
  });

  it('deleting the last lines is reported as truncated, and reopening never reuses their seq numbers', async () => {
    await fill(6);
    const all = lines();
    writeLines(all.slice(0, 4));
    const result = await verifyAudit(file);
    assert.equal(result.ok, false);
    assert.equal(result.status, 'truncated');
    assert.equal(result.records, 4);
    assert.match(result.firstBroken!.reason, /ends at seq 4 but the signed checkpoint vouches for seq 6/);

    const log = await open();
    assert.deepEqual(log.truncated, { fileLastSeq: 4, checkpointSeq: 6 });
    const next = await log.append('alert.received', { alert: { id: 'after' } });
    assert.equal(next.seq, 8, '7 is the audit.truncated record; 5 and 6 are never written again');
    await close(log);
    const marker = JSON.parse(lines()[4]);
    assert.equal(marker.type, 'audit.truncated');
    assert.equal(marker.seq, 7);
    assert.equal(marker.fileLastSeq, 4);
    assert.equal(marker.checkpointSeq, 6);
    assert.equal(marker.prev, JSON.parse(all[5]).hash, 'the chain goes on from the signed head');
    const after = await verifyAudit(file);
    assert.equal(after.status, 'truncated');
    assert.deepEqual(after.firstBroken, { line: 5, seq: 7, reason: 'records 5..6 are missing (found cut off when the log was opened)' });
  });

  it('an edited line re-hashed (with the rest of the chain) without the key is reported at that line', async () => {
    await fill(5);
    const all = lines();
    // The attacker edits line 3 and re-seals lines 3..5 in the only way open to them.
    let prev = JSON.parse(all[1]).hash as string;
    const forged = all.slice(0, 2);
    for (const line of all.slice(2)) {
      const body: Record<string, unknown> = { ...bodyOf(line), prev };
      if (body.seq === 3) (body.alert as { id: string }).id = 'forged';
      const sealed = sealUnkeyed(body);
      forged.push(sealed);
      prev = JSON.parse(sealed).hash;
    }
    writeLines(forged);
    const result = await verifyAudit(file);
    assert.equal(result.status, 'broken');
    assert.deepEqual(result.firstBroken, { line: 3, seq: 3, reason: 'MAC mismatch' });

    // The whole log re-sealed in the old format from line 1: the checkpoint says it was keyed.
    prev = GENESIS_PREV;
    const resealed: string[] = [];
    for (const line of all) {
      const sealed = sealUnkeyed({ ...bodyOf(line), prev });
      resealed.push(sealed);
      prev = JSON.parse(sealed).hash;
    }
    writeLines(resealed);
    assert.deepEqual((await verifyAudit(file)).firstBroken, {
      line: 1,
      seq: 1,
      reason: 'unkeyed record where the checkpoint says the chain is keyed from seq 1',
    });

    // Re-sealed with a wrong key: the MAC fails.
    const wrong = Buffer.alloc(32, 1);
    writeLines([...all.slice(0, 2), sealWith(wrong, { ...bodyOf(all[2]), type: 'edited' })]);
    assert.deepEqual((await verifyAudit(file)).firstBroken, { line: 3, seq: 3, reason: 'MAC mismatch' });
  });

  it('reordered lines break the chain', async () => {
    await fill(4);
    const all = lines();
    writeLines([all[0], all[2], all[1], all[3]]);
    const result = await verifyAudit(file);
    assert.equal(result.status, 'broken');
    assert.deepEqual(result.firstBroken, { line: 2, seq: 3, reason: 'prev does not match the hash of line 1' });
  });

  it('a rewritten last record with the same seq no longer matches the signed checkpoint', async () => {
    await fill(3);
    const all = lines();
    // Even a correctly keyed replacement (someone who has the key but not the checkpoint's history)
    // of the last record differs from what the checkpoint vouches for.
    writeLines([...all.slice(0, 2), sealWith(key(), { ...bodyOf(all[2]), type: 'replaced' })]);
    assert.deepEqual((await verifyAudit(file)).firstBroken, { line: 3, seq: 3, reason: 'differs from the record the signed checkpoint vouches for' });
  });

  it('old unkeyed logs still verify, and new records continue the chain keyed', async () => {
    await fill(3, { keyed: false });
    assert.equal(fs.existsSync(path.join(dir, 'audit.key')), false);
    assert.equal(fs.existsSync(`${file}.head`), false);
    assert.deepEqual(await verifyAudit(file), { ok: true, status: 'ok', records: 3, unkeyedUpTo: 3 });

    await fill(2);
    const all = lines();
    assert.equal(JSON.parse(all[3]).prev, JSON.parse(all[2]).hash);
    const result = await verifyAudit(file);
    assert.equal(result.ok, true);
    assert.equal(result.status, 'ok');
    assert.equal(result.records, 5);
    assert.equal(result.unkeyedUpTo, 3);
    assert.deepEqual(result.checkpoint, { seq: 5, hash: JSON.parse(all[4]).hash, keyedFrom: 4 });

    // The keyed record after the unkeyed prefix protects the prefix too: editing line 2 and
    // re-hashing lines 2-3 (all unkeyed) breaks line 4's link.
    const body2 = bodyOf(all[1]);
    (body2.alert as { id: string }).id = 'forged';
    const line2 = sealUnkeyed(body2);
    const line3 = sealUnkeyed({ ...bodyOf(all[2]), prev: JSON.parse(line2).hash });
    writeLines([all[0], line2, line3, all[3], all[4]]);
    assert.deepEqual((await verifyAudit(file)).firstBroken, { line: 4, seq: 4, reason: 'prev does not match the hash of line 3' });
  });

  it('key missing: verify says so, open refuses instead of starting a new key', async () => {
    await fill(3);
    fs.renameSync(path.join(dir, 'audit.key'), path.join(root, 'moved.key'));
    const result = await verifyAudit(file);
    assert.equal(result.ok, false);
    assert.equal(result.status, 'key-missing');
    assert.equal(result.records, 0);
    await assert.rejects(open(), /audit key .* is missing but the log .* is keyed/);
    assert.equal(fs.existsSync(path.join(dir, 'audit.key')), false, 'no new key was made');
    assert.equal((await verifyAudit(file, { keyFile: path.join(root, 'moved.key') })).status, 'ok');
  });

  it('checkpoint deleted or forged: reported; open refuses a forged one', async () => {
    await fill(3);
    const head = fs.readFileSync(`${file}.head`);
    fs.unlinkSync(`${file}.head`);
    assert.equal((await verifyAudit(file)).status, 'checkpoint-missing');

    // Someone without the key moves the head back (to hide deleted records) in both slots.
    const forged = [0, 1].map((i) => {
      const slot = JSON.parse(head.toString('utf8', i * 256, (i + 1) * 256));
      slot.seq -= 2;
      return JSON.stringify(slot).padEnd(255) + '\n';
    });
    fs.writeFileSync(`${file}.head`, forged.join(''));
    assert.equal((await verifyAudit(file)).status, 'checkpoint-invalid');
    await assert.rejects(open(), /checkpoint .* no slot carries a valid MAC/);
  });

  it('a torn checkpoint slot falls back to the other slot', async () => {
    await fill(4);
    const head = fs.readFileSync(`${file}.head`);
    // Each durable batch wrote one slot in turn; damage the newer one.
    const slots = [0, 1].map((i) => JSON.parse(head.toString('utf8', i * 256, (i + 1) * 256)));
    const newer = slots[0].seq > slots[1].seq ? 0 : 1;
    head.fill(0, newer * 256 + 10, newer * 256 + 40);
    fs.writeFileSync(`${file}.head`, head);
    const result = await verifyAudit(file);
    assert.equal(result.status, 'ok');
    assert.equal(result.checkpoint?.seq, slots[1 - newer].seq);
  });

  it('a forger without the key cannot append an unkeyed record after keyed ones', async () => {
    await fill(2);
    const all = lines();
    const last = JSON.parse(all[1]);
    writeLines([...all, sealUnkeyed({ seq: 3, time: last.time, type: 'forged', prev: last.hash })]);
    const result = await verifyAudit(file);
    assert.equal(result.status, 'broken');
    assert.deepEqual(result.firstBroken, { line: 3, seq: 3, reason: 'MAC mismatch' });
  });

  it('the first record of a keyed log chains from the genesis value', async () => {
    await fill(1);
    assert.equal(JSON.parse(lines()[0]).prev, GENESIS_PREV);
  });
});
