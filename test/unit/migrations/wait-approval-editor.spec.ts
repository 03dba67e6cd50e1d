/**
 * wait-approval.html as the editor runs it (its scripts in a browser-like context, the migration
 * files its <script src> tags load, nodes added through RED.events "nodes:add"): new nodes start at
 * the current version with quorum 1 and timeout 60, channel slots are config-node references, and a
 * version 1 node imported without quorum and timeout shows the defaults instead of empty fields.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { migrations } from '../../../nodes/shared/migrations';

const root = path.resolve(__dirname, '..', '..', '..');
type Def = { defaults: Record<string, { value: unknown; type?: string }> };

function editor() {
  const html = fs.readFileSync(path.join(root, 'nodes', 'wait-approval.html'), 'utf8');
  const listeners: Record<string, ((...a: unknown[]) => void)[]> = {};
  const defs: Record<string, Def> = {};
  const RED = {
    events: { on: (name: string, fn: (...a: unknown[]) => void) => (listeners[name] ??= []).push(fn) },
    nodes: { registerType: (type: string, def: Def) => (defs[type] = def), updateConfigNodeUsers: () => undefined },
    validators: { number: () => () => true },
    editor: { validateNode: () => undefined },
    _: (k: string) => k,
  };
  const window: Record<string, unknown> = { RED, $: () => ({}) };
  window.window = window;
  const context = vm.createContext(window);
  for (const m of html.matchAll(/<script src="resources\/node-red-contrib-soar\/([^"]+)"><\/script>/g))
    vm.runInContext(fs.readFileSync(path.join(root, 'resources', m[1]), 'utf8'), context);
  for (const m of html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)) vm.runInContext(m[1], context);
  const add = (node: Record<string, unknown>) => {
    for (const fn of listeners['nodes:add'] ?? []) fn(node);
    return node;
  };
  return { def: defs['soar-wait-approval'], add };
}

describe('wait-approval.html in the editor', function () {
  it('new nodes: current config version, quorum 1, timeout 60, four channel slots of type soar-approval-channel', function () {
    const { def } = editor();
    assert.equal(def.defaults.configVersion.value, migrations().currentVersion('soar-wait-approval'));
    assert.equal(def.defaults.quorum.value, 1);
    assert.equal(def.defaults.timeout.value, 60);
    for (let i = 1; i <= 4; i++)
      assert.equal(JSON.stringify(def.defaults[`channel${i}`]), JSON.stringify({ value: '', type: 'soar-approval-channel', required: false }));
    assert.equal(def.defaults.channel5, undefined);
  });

  it('a version 1 node imported without quorum and timeout gets 1 and 60, and its channels array goes into the slots', function () {
    const { def, add } = editor();
    const saved: Record<string, unknown> = { id: 'w1', type: 'soar-wait-approval', configVersion: 1, approvers: 'alice: editor:alice', channels: ['c1'] };
    // As importNodes builds it: every default property copied, missing ones undefined.
    const node: Record<string, unknown> = { id: saved.id, type: saved.type, _def: def };
    for (const key of Object.keys(def.defaults)) node[key] = saved[key];
    add(node);
    assert.equal(node.quorum, 1);
    assert.equal(node.timeout, 60);
    assert.equal(node.channel1, 'c1');
    assert.equal(JSON.stringify(node.channels), '[]');
    assert.equal(node.configVersion, 2);
  });
});
