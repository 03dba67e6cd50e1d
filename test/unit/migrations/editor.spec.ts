/**
 * The editor side of the migrations, run as the editor runs it: block-ip.html's scripts in a
 * browser-like context (window, no module), the resources/ files its <script src> tags load, and
 * nodes added to the workspace through RED.events "nodes:add".
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { migrations } from '../../../nodes/shared/migrations';

const root = path.resolve(__dirname, '..', '..', '..');
type Def = { defaults: Record<string, { value: unknown }> };

function editor(htmlFile: string, typeModuleFirst = true) {
  const html = fs.readFileSync(path.join(root, 'nodes', htmlFile), 'utf8');
  const listeners: Record<string, ((...a: unknown[]) => void)[]> = {};
  const defs: Record<string, Def> = {};
  const RED = {
    events: { on: (name: string, fn: (...a: unknown[]) => void) => (listeners[name] ??= []).push(fn) },
    nodes: { registerType: (type: string, def: Def) => (defs[type] = def) },
    validators: { number: () => () => true, regex: () => () => true },
    editor: { validateNode: () => undefined },
    _: (k: string) => k,
  };
  const usersUpdated: unknown[] = [];
  (RED.nodes as Record<string, unknown>).updateConfigNodeUsers = (node: { id: unknown }) => usersUpdated.push(node.id);
  const window: Record<string, unknown> = { RED, $: () => ({}) };
  window.window = window;
  const context = vm.createContext(window);
  // <script src="resources/node-red-contrib-soar/..."> first (Node-RED loads them before the inline scripts).
  const srcs = [...html.matchAll(/<script src="resources\/node-red-contrib-soar\/([^"]+)"><\/script>/g)].map((m) => m[1]);
  // Dynamically inserted scripts run in whatever order they arrive.
  for (const src of typeModuleFirst ? [...srcs].reverse() : srcs) vm.runInContext(fs.readFileSync(path.join(root, 'resources', src), 'utf8'), context);
  for (const m of html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)) vm.runInContext(m[1], context);
  const add = (node: Record<string, unknown>) => {
    for (const fn of listeners['nodes:add'] ?? []) fn(node);
    return node;
  };
  return { srcs, defs, add, listeners, usersUpdated };
}

describe('config migrations: in the editor', function () {
  for (const typeModuleFirst of [true, false])
    it(`block-ip.html loads the shared migration files (${typeModuleFirst ? 'type module' : 'core'} first) and migrates a loaded old node in place`, function () {
      const ed = editor('block-ip.html', typeModuleFirst);
      assert.deepEqual(ed.srcs.sort(), ['editor/action-node.js', 'editor/only-config.js', 'migrations/core.js', 'migrations/soar-block-ip.js']);
      assert.equal(ed.listeners['nodes:add']?.length, 1, 'one nodes:add hook, however many nodes include the file');
      const def = ed.defs['soar-block-ip'];
      assert.equal(def.defaults.configVersion.value, migrations().currentVersion('soar-block-ip'), 'new nodes start at the current version');
      assert.equal(def.defaults.gate.value, 'malicious', 'new nodes: condition on');
      assert.equal(def.defaults.targetType.value, 'accused', 'new nodes: act on accused addresses');

      // As importNodes builds it from a saved flow: every default property copied, missing ones undefined.
      const saved = JSON.parse(fs.readFileSync(path.join(root, 'test', 'fixtures', 'flows', 'Quickstart playbook.json'), 'utf8')).find(
        (n: { type: string }) => n.type === 'soar-block-ip',
      );
      const node: Record<string, unknown> = { id: saved.id, type: saved.type, _def: def };
      for (const key of Object.keys(def.defaults)) node[key] = saved[key];
      ed.add(node);
      assert.equal(node.gate, 'off');
      assert.equal(node.configVersion, 1);
      assert.equal(node.targetType, 'msg');
      assert.equal(node.target, 'alert.source.ip');

      // A node dragged from the palette has the defaults: nothing to migrate.
      const fresh: Record<string, unknown> = { id: 'n2', type: 'soar-block-ip', _def: def };
      for (const [key, d] of Object.entries(def.defaults)) fresh[key] = d.value;
      ed.add(fresh);
      assert.equal(fresh.gate, 'malicious');
    });

  it('the editor and the runtime give the same shape from the same saved node', function () {
    const ed = editor('block-ip.html');
    const def = ed.defs['soar-block-ip'];
    const saved: Record<string, unknown> = {
      id: 'b9',
      type: 'soar-block-ip',
      target: 'alert.source.ip',
      targetType: 'msg',
      action: 'msg',
      ttl: 2,
      ttlUnit: 'd',
    };
    const node: Record<string, unknown> = { id: 'b9', type: 'soar-block-ip', _def: def };
    for (const key of Object.keys(def.defaults)) node[key] = saved[key];
    ed.add(node);
    const runtime = migrations().migrate(saved).config;
    for (const key of Object.keys(def.defaults)) assert.deepEqual(node[key], runtime[key], key);
  });
  it('enrich-ioc.html: an old node with a sources array gets its sources in the slots when loaded, and counts as their user', function () {
    const ed = editor('enrich-ioc.html');
    assert.deepEqual(ed.srcs.sort(), ['editor/only-config.js', 'migrations/core.js', 'migrations/soar-enrich-ioc.js']);
    const def = ed.defs['soar-enrich-ioc'];
    assert.equal(def.defaults.configVersion.value, migrations().currentVersion('soar-enrich-ioc'));
    const saved = JSON.parse(fs.readFileSync(path.join(root, 'test', 'fixtures', 'flows', 'Quickstart playbook.json'), 'utf8')).find(
      (n: { type: string }) => n.type === 'soar-enrich-ioc',
    );
    const node: Record<string, unknown> = { id: saved.id, type: saved.type, _def: def };
    for (const key of Object.keys(def.defaults)) node[key] = saved[key];
    ed.add(node);
    assert.deepEqual(
      [node.source1, node.source2, node.source3, node.source4],
      ['soar-quickstart-feed', 'soar-quickstart-kev', 'soar-quickstart-epss', undefined],
    );
    assert.equal(JSON.stringify(node.sources), '[]', "emptied (an array of the editor's own context)");
    assert.equal(node.configVersion, 1);
    assert.deepEqual(ed.usersUpdated, [saved.id], 'the moved references are counted as uses of the sources');
  });
});
