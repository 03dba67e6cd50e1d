import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GroupCommitFile } from '../../../lib/core/group-commit';

describe('GroupCommitFile', () => {
  let root: string;
  const open: GroupCommitFile[] = [];
  const make = (name: string, options?: ConstructorParameters<typeof GroupCommitFile>[1]) => {
    const file = new GroupCommitFile(path.join(root, name), options);
    open.push(file);
    return file;
  };
  const linesOf = (file: GroupCommitFile) => fs.readFileSync(file.path, 'utf8');

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-gc-'));
  });
  afterEach(async () => {
    for (const file of open.splice(0)) await file.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('writes lines in call order, each with its newline, multi-line appends kept together', async () => {
    const file = make('order.jsonl');
    await Promise.all([file.append('a'), file.append(['b', 'c']), file.append('d')]);
    await file.append([]);
    assert.equal(linesOf(file), 'a\nb\nc\nd\n');
  });

  it('batches 1,000 concurrent appends into a handful of write+fdatasync rounds', async () => {
    const file = make('batch.jsonl');
    const appends = Array.from({ length: 1000 }, (_, i) => file.append(`{"n":${i}}`));
    assert.equal(file.pending, 1000, 'back-pressure is visible while the lines are not yet durable');
    await Promise.all(appends);
    const stats = file.stats();
    assert.equal(file.pending, 0);
    assert.equal(stats.linesWritten, 1000);
    assert.ok(stats.batches <= 5, `expected at most 5 batches, got ${stats.batches}`);
    const lines = linesOf(file).trimEnd().split('\n');
    assert.deepEqual(
      lines.map((line) => JSON.parse(line).n),
      Array.from({ length: 1000 }, (_, i) => i),
    );
  });

  it('under continuous load, every round of 64 writers shares one batch', async () => {
    const file = make('load.jsonl');
    const rounds = 20;
    const writer = async (w: number) => {
      for (let r = 0; r < rounds; r++) await file.append(`w${w} r${r}`);
    };
    await Promise.all(Array.from({ length: 64 }, (_, w) => writer(w)));
    const stats = file.stats();
    assert.equal(stats.linesWritten, 64 * rounds);
    // One batch per round (plus slack), instead of one per append (1,280).
    assert.ok(stats.batches <= rounds * 2, `expected about ${rounds} batches, got ${stats.batches}`);
    assert.ok(stats.largestBatchLines >= 32, `largest batch only ${stats.largestBatchLines} lines`);
  });

  it('writes an idle file at once: no timer is involved', async () => {
    // Count every timer scheduled through the globals while the append runs (still delegating, so
    // nothing hangs); a timer-based delay would show up here.
    const real = { setTimeout: globalThis.setTimeout, setInterval: globalThis.setInterval, setImmediate: globalThis.setImmediate };
    const scheduled: string[] = [];
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      scheduled.push('setTimeout');
      return real.setTimeout(...args);
    }) as typeof setTimeout;
    globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
      scheduled.push('setInterval');
      return real.setInterval(...args);
    }) as typeof setInterval;
    globalThis.setImmediate = ((...args: Parameters<typeof setImmediate>) => {
      scheduled.push('setImmediate');
      return real.setImmediate(...args);
    }) as typeof setImmediate;
    try {
      const file = make('idle.jsonl');
      await file.append('first');
      assert.equal(linesOf(file), 'first\n');
      assert.equal(file.stats().batches, 1);
    } finally {
      Object.assign(globalThis, real);
    }
    assert.deepEqual(scheduled, []);
  });

  it('bounds the size of one batch', async () => {
    const file = make('bounded.jsonl', { maxBatchChars: 100 });
    const line = 'x'.repeat(19); // 20 chars with its newline: at most 5 per batch
    await Promise.all(Array.from({ length: 50 }, () => file.append(line)));
    const stats = file.stats();
    assert.ok(stats.largestBatchLines <= 5, `largest batch ${stats.largestBatchLines}`);
    assert.ok(stats.batches >= 10, `only ${stats.batches} batches`);
    assert.equal(linesOf(file).split('\n').length - 1, 50);
  });

  it('refuses a line that contains a newline', async () => {
    const file = make('nl.jsonl');
    await assert.rejects(file.append('a\nb'), /newline/);
    assert.equal(file.pending, 0);
    assert.equal(linesOf(file), '');
  });

  it('flush waits for everything appended before it', async () => {
    const file = make('flush.jsonl');
    for (let i = 0; i < 100; i++) void file.append(`line ${i}`);
    await file.flush();
    assert.equal(file.pending, 0);
    assert.equal(linesOf(file).split('\n').length - 1, 100);
  });

  it('close writes what is queued and refuses later appends', async () => {
    const file = make('close.jsonl');
    const queued = file.append('queued');
    await file.close();
    await queued;
    assert.equal(linesOf(file), 'queued\n');
    await assert.rejects(file.append('late'), /closed/);
  });

  it('creates missing parent directories as 0700 and the file as 0600', async () => {
    const target = path.join(root, 'deep', 'er', 'file.jsonl');
    const file = new GroupCommitFile(target);
    open.push(file);
    await file.append('x');
    assert.equal(fs.statSync(path.join(root, 'deep')).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(root, 'deep', 'er')).mode & 0o777, 0o700);
    assert.equal(fs.statSync(target).mode & 0o777, 0o600);
  });

  it('a write error rejects that batch and later appends fail clearly', async function () {
    if (!fs.existsSync('/dev/full')) {
      console.log('      skipped: /dev/full does not exist here (it gives a real ENOSPC without mocking; not a Linux system?)');
      this.skip();
    }
    // Writes to /dev/full fail with ENOSPC: a real write error, no mocking. Probes keep failing too
    // (a device cannot be truncated), so the file stays in the failing state.
    const file = new GroupCommitFile('/dev/full', { fsync: false, probeInitialMs: 5, probeMaxMs: 10 });
    try {
      const first = file.append('one');
      const second = file.append('two');
      await assert.rejects(first, /ENOSPC/);
      await assert.rejects(second, /ENOSPC/); // same batch as the first
      assert.equal(file.pending, 0);
      assert.ok(file.failed, 'the failure stays visible');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(file.state, 'failing', 'a probe that cannot write does not bring the file back');
      await assert.rejects(file.append('three'), /earlier write failed/);
      await assert.rejects(file.flush(), /earlier write failed/);
    } finally {
      await file.close();
    }
  });
});
