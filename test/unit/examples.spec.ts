/**
 * examples/ is what Node-RED lists under Import ▸ Examples: every `.json` file there is offered as
 * a flow. So it may hold only importable flows; data files (the demo feeds) live in feeds/.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const EXAMPLES = path.join(ROOT, 'examples');

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : [full];
  });
}

/** What a debug node shows for `msg` (its "Output" setting: the complete message or one property). */
function debugShows(node: Record<string, unknown>, msg: Record<string, unknown>): unknown {
  if (node.targetType === 'full' || node.complete === 'true') return msg;
  if (node.targetType !== 'msg' && node.targetType !== undefined) return undefined;
  return String(node.complete ?? 'payload')
    .split('.')
    .reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], msg);
}

describe('examples (the Import ▸ Examples menu)', () => {
  const files = filesUnder(EXAMPLES);

  it('holds flows only', () => {
    assert.ok(files.length > 0, 'at least the quickstart');
    assert.deepEqual(
      files.filter((file) => !file.endsWith('.json')).map((file) => path.relative(ROOT, file)),
      [],
    );
  });

  for (const file of files.filter((name) => name.endsWith('.json'))) {
    describe(path.relative(EXAMPLES, file), () => {
      const flow: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));

      it('is an importable flow: an array of nodes, each with a unique id and a type', () => {
        assert.ok(Array.isArray(flow), 'a flow file is an array of nodes');
        assert.ok(flow.length > 0);
        const ids = new Set<string>();
        for (const node of flow as Record<string, unknown>[]) {
          assert.ok(node !== null && typeof node === 'object' && !Array.isArray(node), `not a node: ${JSON.stringify(node)}`);
          assert.equal(typeof node.id, 'string', `node without id: ${JSON.stringify(node).slice(0, 120)}`);
          assert.equal(typeof node.type, 'string', `node ${String(node.id)} without type`);
          assert.ok(!ids.has(node.id as string), `duplicate id ${String(node.id)}`);
          ids.add(node.id as string);
        }
      });

      it('prints the verdict in every debug node whose name promises it', () => {
        const enriched = { alert: { id: 'a1', title: 't' }, enrichment: { verdict: 'malicious', score: 100, why: ['listed'] } };
        for (const node of flow as Record<string, unknown>[]) {
          if (node.type !== 'debug' || !/verdict/i.test(String(node.name ?? ''))) continue;
          const shown = JSON.stringify(debugShows(node, enriched)) ?? '';
          assert.ok(shown.includes('"verdict":"malicious"'), `debug "${String(node.name)}" shows ${shown}`);
        }
      });

      it('shows a denied or expired approval as such: each of those outputs of wait for approval reaches a node, and its debug nodes show the decision', () => {
        const nodes = flow as Record<string, unknown>[];
        const byId = new Map(nodes.map((n) => [n.id, n]));
        for (const wait of nodes.filter((n) => n.type === 'soar-wait-approval')) {
          const wires = (wait.wires ?? []) as string[][];
          for (const [output, decision] of [
            [1, 'denied'],
            [2, 'expired'],
          ] as const) {
            const targets = (wires[output] ?? []).map((id) => byId.get(id));
            assert.ok(targets.length > 0 && targets.every(Boolean), `${String(wait.id)}: the ${decision} output leads to a node of the flow`);
            const msg = { alert: { id: 'a1' }, approval: { id: 'ap-1', decision, by: [] } };
            for (const debug of targets.filter((n) => n!.type === 'debug')) {
              const shown = JSON.stringify(debugShows(debug!, msg)) ?? '';
              assert.ok(shown.includes(`"decision":"${decision}"`), `debug "${String(debug!.name)}" on the ${decision} output shows ${shown}`);
            }
          }
        }
      });

      it('refers only to feed files that ship in feeds/', () => {
        const missing: string[] = [];
        for (const node of flow as Record<string, unknown>[]) {
          if (node.type !== 'soar-intel-source' || typeof node.file !== 'string' || node.file === '') continue;
          // lib/intel/registry.ts finds a bundled demo feed by its name in feeds/ at the package root.
          if (!fs.existsSync(path.join(ROOT, 'feeds', path.basename(node.file)))) missing.push(node.file);
        }
        assert.deepEqual(missing, []);
      });
    });
  }
});
