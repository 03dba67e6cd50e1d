import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileStateStore } from '../../../lib/core/file-store';
import { runAndKill } from '../../fixtures/crash/child';

const WRITER = path.resolve(__dirname, '../../fixtures/crash/store-writer.ts');

describe('FileStateStore crash durability (kill -9)', function () {
  this.timeout(60_000);
  let root: string;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-store-crash-'));
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('every acknowledged set and delete survives a kill -9, also across compactions', async () => {
    const dir = path.join(root, 'state');
    const countSets = (lines: string[]) => lines.filter((line) => line.startsWith('set ')).length;
    const child = await runAndKill(WRITER, [dir, String(8 * 1024)], (lines) => countSets(lines) >= 200);
    assert.ok(child.killedByUs, `the writer died on its own: ${child.stderr}`);

    const acknowledgedSets = new Set<string>();
    const acknowledgedDeletes = new Set<string>();
    for (const line of child.lines) {
      const [verb, key] = line.split(' ');
      if (verb === 'set') acknowledgedSets.add(key);
      else if (verb === 'del') acknowledgedDeletes.add(key);
    }
    assert.ok(acknowledgedSets.size >= 200, `only ${acknowledgedSets.size} acks`);
    assert.ok(acknowledgedDeletes.size > 0);
    // The small compaction threshold made the child compact while it ran.
    assert.ok(fs.existsSync(path.join(dir, 'snapshot.jsonl')), 'no compaction happened before the kill');

    // The dead child's lock is stale and gets taken over.
    const store = await FileStateStore.open(dir, { fsync: false });
    try {
      for (const key of acknowledgedSets) {
        const i = Number(key.slice(1));
        const value = await store.get<{ i: number }>('crash', key);
        if (acknowledgedDeletes.has(key)) {
          assert.equal(value, undefined, `${key} was deleted (acknowledged) but is back`);
        } else if (i % 5 === 0) {
          // Its delete was in flight when killed: either outcome is allowed, but nothing else.
          if (value !== undefined) assert.deepEqual(value, { i, note: `value of ${key}` });
        } else {
          assert.deepEqual(value, { i, note: `value of ${key}` }, `acknowledged ${key} is missing`);
        }
      }
    } finally {
      await store.close();
    }
  });
});
