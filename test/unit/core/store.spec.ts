import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileStateStore, type FileStateStoreOptions } from '../../../lib/core/file-store';
import { startAndWaitFor } from '../../fixtures/crash/child';

const HOLDER = path.resolve(__dirname, '../../fixtures/crash/store-holder.ts');

describe('FileStateStore', () => {
  let root: string;
  let dir: string;
  const opened: FileStateStore[] = [];
  let now = 1_700_000_000_000;
  const clock = () => now;

  const open = async (options: FileStateStoreOptions = {}) => {
    const store = await FileStateStore.open(dir, { fsync: false, now: clock, ...options });
    opened.push(store);
    return store;
  };
  const journals = () =>
    fs
      .readdirSync(dir)
      .filter((name) => name.startsWith('journal.'))
      .sort();
  const newestJournal = () => {
    const names = journals();
    return path.join(dir, names.sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]))[names.length - 1]);
  };

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-store-'));
    dir = path.join(root, 'state');
    now = 1_700_000_000_000;
  });
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  describe('semantics', () => {
    it('sets, gets and keeps namespaces apart', async () => {
      const store = await open();
      await store.set('dedup:a', 'k', { n: 1 });
      await store.set('dedup:b', 'k', 'other');
      assert.deepEqual(await store.get('dedup:a', 'k'), { n: 1 });
      assert.equal(await store.get('dedup:b', 'k'), 'other');
      assert.equal(await store.get('dedup:a', 'missing'), undefined);
      assert.equal(await store.get('nowhere', 'k'), undefined);
      await store.set('dedup:a', 'k', { n: 2 });
      assert.deepEqual(await store.get('dedup:a', 'k'), { n: 2 });
    });

    it('stores a copy: later mutations by the caller do not leak in', async () => {
      const store = await open();
      const value = { list: [1, 2] };
      await store.set('ns', 'k', value);
      value.list.push(3);
      const read = await store.get<{ list: number[] }>('ns', 'k');
      read!.list.push(4);
      assert.deepEqual(await store.get('ns', 'k'), { list: [1, 2] });
    });

    it('returns values as JSON, the same before and after a restart', async () => {
      let store = await open();
      const at = new Date('2024-05-01T10:00:00Z');
      await store.set('ns', 'date', { at });
      const before = await store.get('ns', 'date');
      await store.close();
      store = await open();
      assert.deepEqual(before, { at: '2024-05-01T10:00:00.000Z' });
      assert.deepEqual(await store.get('ns', 'date'), before);
    });

    it('refuses values JSON cannot hold and bad TTLs, without echoing the value', async () => {
      const store = await open();
      await assert.rejects(store.set('ns', 'k', undefined), TypeError);
      await assert.rejects(
        store.set('ns', 'k', () => 1),
        TypeError,
      );
      const circular: Record<string, unknown> = { secret: 'hunter2' };
      circular.self = circular;
      await assert.rejects(store.set('ns', 'k', circular), (err: Error) => err instanceof TypeError && !err.message.includes('hunter2'));
      await assert.rejects(store.set('ns', 'k', 1, { ttlMs: 0 }), RangeError);
      await assert.rejects(store.set('ns', 'k', 1, { ttlMs: -5 }), RangeError);
      await assert.rejects(store.set('ns', 'k', 1, { ttlMs: Number.NaN }), RangeError);
      assert.equal(await store.get('ns', 'k'), undefined);
    });

    it('delete reports whether the key existed; of two racing deletes only one wins', async () => {
      const store = await open();
      await store.set('leases', 'L1', { target: '198.18.0.9' });
      const results = await Promise.all([store.delete('leases', 'L1'), store.delete('leases', 'L1')]);
      assert.deepEqual(results.sort(), [false, true]);
      assert.equal(await store.get('leases', 'L1'), undefined);
      assert.equal(await store.delete('leases', 'never'), false);
    });

    it('setIfAbsent: exactly one of many racing callers creates the key', async () => {
      const store = await open();
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.setIfAbsent('approvals', 'A1', { by: `user${i}` })));
      assert.equal(results.filter(Boolean).length, 1);
      const winner = results.indexOf(true);
      assert.deepEqual(await store.get('approvals', 'A1'), { by: `user${winner}` });
      assert.equal(await store.setIfAbsent('approvals', 'A1', { by: 'late' }), false);
    });

    it('expires entries by TTL: get, list and setIfAbsent treat them as absent', async () => {
      const store = await open();
      await store.set('dedup', 'short', 1, { ttlMs: 1000 });
      await store.set('dedup', 'long', 2, { ttlMs: 60_000 });
      await store.set('dedup', 'forever', 3);
      assert.deepEqual((await store.list('dedup')).map((entry) => entry.key).sort(), ['forever', 'long', 'short']);
      assert.deepEqual(
        (await store.list('dedup')).find((entry) => entry.key === 'long'),
        { key: 'long', value: 2, expiresAt: now + 60_000 },
      );
      now += 1000; // expiry is at exactly now + ttl
      assert.equal(await store.get('dedup', 'short'), undefined);
      assert.deepEqual((await store.list('dedup')).map((entry) => entry.key).sort(), ['forever', 'long']);
      assert.equal(await store.delete('dedup', 'short'), false, 'an expired key does not count as existing');
      assert.equal(await store.setIfAbsent('dedup', 'short', 'again', { ttlMs: 10 }), true);
      assert.equal(await store.get('dedup', 'short'), 'again');
    });

    it('sweep drops expired entries from memory and reports how many', async () => {
      const store = await open();
      for (let i = 0; i < 5; i++) await store.set('ns', `t${i}`, i, { ttlMs: 100 * (i + 1) });
      await store.set('ns', 'keep', true);
      now += 250;
      assert.equal(store.sweep(), 2);
      assert.equal(store.stats().keys, 4);
      assert.equal(store.sweep(), 0);
    });

    it('list returns only the namespace asked for', async () => {
      const store = await open();
      await store.set('a', '1', 'x');
      await store.set('b', '2', 'y');
      assert.deepEqual(await store.list('a'), [{ key: '1', value: 'x' }]);
      assert.deepEqual(await store.list('empty'), []);
    });

    it('rejects calls after close', async () => {
      const store = await open();
      await store.close();
      await assert.rejects(store.get('ns', 'k'), /closed/);
      await assert.rejects(store.set('ns', 'k', 1), /closed/);
    });
  });

  describe('persistence', () => {
    it('reopens with sets, deletes and expiry times intact', async () => {
      let store = await open();
      await store.set('ns', 'a', { v: 'a' });
      await store.set('ns', 'b', { v: 'b' }, { ttlMs: 5000 });
      await store.set('ns', 'c', { v: 'c' });
      await store.delete('ns', 'c');
      await store.set('ns', 'a', { v: 'a2' });
      await store.set('other', 'x', [1, 2, 3]);
      await store.close();

      store = await open();
      assert.deepEqual(await store.get('ns', 'a'), { v: 'a2' });
      const listed = (await store.list('ns')).sort((x, y) => x.key.localeCompare(y.key));
      assert.deepEqual(listed, [
        { key: 'a', value: { v: 'a2' } },
        { key: 'b', value: { v: 'b' }, expiresAt: now + 5000 },
      ]);
      assert.equal(await store.get('ns', 'c'), undefined);
      assert.deepEqual(await store.get('other', 'x'), [1, 2, 3]);
      await store.close();

      now += 5000;
      store = await open();
      assert.equal(await store.get('ns', 'b'), undefined, 'expired while the process was down');
    });

    it('compaction keeps the data, also writes made while it runs, and drops old journals', async () => {
      let store = await open({ compactAfterBytes: 2000 });
      const model = new Map<string, unknown>();
      for (let i = 0; i < 400; i++) {
        const key = `k${i % 40}`;
        if (i % 7 === 0) {
          await store.delete('ns', key);
          model.delete(key);
        } else {
          await store.set('ns', key, { i });
          model.set(key, { i });
        }
      }
      // How many automatic compactions the writes above triggered depends on timing; what must hold
      // is that compact() completes one more run (a new one, or the automatic one it joins).
      const before = store.stats().compactions;
      const during = store.compact();
      const writes = [store.set('ns', 'during', 'yes'), store.delete('ns', 'k1')];
      model.set('during', 'yes');
      model.delete('k1');
      await Promise.all([during, ...writes]);
      assert.ok(store.stats().compactions > before, `compactions: ${before} before, ${store.stats().compactions} after`);
      await store.close();
      // Journals older than the generation the snapshot starts from are gone.
      const header = JSON.parse(fs.readFileSync(path.join(dir, 'snapshot.jsonl'), 'utf8').split('\n')[0]);
      assert.ok(header.journalGen >= 2);
      assert.ok(journals().length >= 1);
      assert.ok(
        journals().every((name) => Number(name.split('.')[1]) >= header.journalGen),
        journals().join(','),
      );

      store = await open();
      const entries = await store.list('ns');
      assert.deepEqual(new Map(entries.map((entry) => [entry.key, entry.value])), model);
    });

    it('compaction leaves expired entries out of the snapshot', async () => {
      const store = await open();
      await store.set('ns', 'gone-soon', 'secret-marker', { ttlMs: 10 });
      await store.set('ns', 'stays', 1);
      now += 10;
      await store.compact();
      const snapshot = fs.readFileSync(path.join(dir, 'snapshot.jsonl'), 'utf8');
      assert.ok(!snapshot.includes('secret-marker'));
      assert.ok(snapshot.includes('"stays"'));
    });

    it('ignores a torn last journal line, cuts it off, and appends cleanly after it', async () => {
      let store = await open();
      await store.set('ns', 'a', 1);
      await store.set('ns', 'b', 2);
      await store.close();
      const journal = newestJournal();
      const intactSize = fs.statSync(journal).size;
      const torn = '{"op":"set","ns":"ns","key":"c","val';
      fs.appendFileSync(journal, torn);

      store = await open();
      assert.equal(await store.get('ns', 'a'), 1);
      assert.equal(await store.get('ns', 'b'), 2);
      assert.equal(await store.get('ns', 'c'), undefined);
      assert.equal(store.stats().repairedBytesOnOpen, torn.length);
      assert.equal(fs.statSync(journal).size, intactSize);
      await store.set('ns', 'd', 4);
      await store.close();

      store = await open();
      assert.equal(await store.get('ns', 'd'), 4);
      assert.equal(store.stats().repairedBytesOnOpen, 0);
    });

    it('refuses to open a journal damaged far from its end, and leaves the lock free', async () => {
      let store = await open();
      for (let i = 0; i < 20; i++) await store.set('ns', `k${i}`, i);
      await store.close();
      const journal = newestJournal();
      const lines = fs.readFileSync(journal, 'utf8').split('\n');
      lines[2] = '#garbage';
      fs.writeFileSync(journal, lines.join('\n'));
      await assert.rejects(open({ tornTailWindowBytes: 64 }), /corrupt at line 3/);
      // The failed open released its lock: a lenient open of the same dir works.
      store = await open();
      assert.equal(await store.get('ns', 'k1'), 1);
    });
  });

  describe('lock', () => {
    it('a second open of the same directory fails clearly', async () => {
      await open();
      await assert.rejects(open(), /locked by this process/);
    });

    it('another live process holding the store blocks it; once that process is dead its lock is taken over', async function () {
      this.timeout(30_000);
      const holder = startAndWaitFor(HOLDER, [dir], 'ready');
      const readyLine = await holder.ready;
      const holderPid = Number(readyLine.split(' ')[1]);
      assert.equal(holderPid, holder.child.pid);
      await assert.rejects(open(), new RegExp(`locked by process ${holderPid}`));
      process.kill(holderPid, 'SIGKILL');
      await holder.exited;
      const store = await open();
      await store.set('ns', 'mine', true);
      const lock = JSON.parse(fs.readFileSync(path.join(dir, 'store.lock'), 'utf8'));
      assert.equal(lock.pid, process.pid);
    });

    it('takes over a lock with our own pid that this process does not hold (restarted container)', async () => {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'store.lock'), JSON.stringify({ pid: process.pid, token: 'previous-incarnation' }));
      const store = await open();
      await store.set('ns', 'k', 1);
      await assert.rejects(open(), /locked by this process/, 'while it is really held here, it still blocks');
    });

    it('takes over a lock whose pid now belongs to a different process (start time differs)', async function () {
      if (!fs.existsSync(`/proc/${process.pid}/stat`)) {
        console.log('      skipped: no /proc/<pid>/stat here (process start times, which tell a reused pid apart, come from Linux /proc)');
        this.skip();
      }
      this.timeout(30_000);
      const other = startAndWaitFor(HOLDER, [path.join(root, 'elsewhere')], 'ready');
      const otherPid = Number((await other.ready).split(' ')[1]);
      try {
        fs.mkdirSync(dir, { recursive: true });
        const lockFile = path.join(dir, 'store.lock');
        fs.writeFileSync(lockFile, JSON.stringify({ pid: otherPid, start: '1', token: 'old' }));
        const store = await open();
        assert.equal(JSON.parse(fs.readFileSync(lockFile, 'utf8')).pid, process.pid);
        await store.close();
        // The same pid with its true start time is a live holder.
        const stat = fs.readFileSync(`/proc/${otherPid}/stat`, 'utf8');
        const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
        fs.writeFileSync(lockFile, JSON.stringify({ pid: otherPid, start, token: 'live' }));
        await assert.rejects(open(), new RegExp(`locked by process ${otherPid}`));
      } finally {
        process.kill(otherPid, 'SIGKILL');
        await other.exited;
      }
    });

    it('takes over a stale lock file left by a dead pid, and removes the lock on close', async () => {
      const dead = spawnSync(process.execPath, ['-e', '']);
      assert.ok(dead.pid);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'store.lock'), JSON.stringify({ pid: dead.pid, token: 'old' }));
      const store = await open();
      assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'store.lock'), 'utf8')).pid, process.pid);
      await store.close();
      assert.equal(fs.existsSync(path.join(dir, 'store.lock')), false);
    });
  });
});
