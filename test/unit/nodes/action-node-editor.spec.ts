/**
 * The action nodes' definitions as the editor builds them (each HTML's scripts in a browser-like
 * context, with the resources/ files its <script src> tags load): the shared part from
 * resources/editor/action-node.js gives each node its name, condition, label and label style, with
 * the properties in the order Node-RED saves them.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';

const root = path.resolve(__dirname, '..', '..', '..');
type Def = {
  category: string;
  defaults: Record<string, { value: unknown }>;
  label: (this: Record<string, unknown>) => string;
  labelStyle: (this: Record<string, unknown>) => string;
};

function definition(file: string, type: string): Def {
  const html = fs.readFileSync(path.join(root, 'nodes', file), 'utf8');
  const defs: Record<string, Def> = {};
  const RED = {
    events: { on: () => undefined },
    nodes: { registerType: (t: string, def: Def) => (defs[t] = def), updateConfigNodeUsers: () => undefined },
    validators: { number: () => () => true, regex: () => () => true },
    editor: { validateNode: () => undefined },
    settings: {},
    _: (k: string) => k,
  };
  const window: Record<string, unknown> = { RED, $: () => ({}) };
  window.window = window;
  const context = vm.createContext(window);
  const srcs = [...html.matchAll(/<script src="resources\/node-red-contrib-soar\/([^"]+)"><\/script>/g)].map((m) => m[1]);
  assert.ok(srcs.includes('editor/action-node.js'), `${file} loads the shared action-node script`);
  for (const src of srcs) vm.runInContext(fs.readFileSync(path.join(root, 'resources', src), 'utf8'), context);
  for (const m of html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)) vm.runInContext(m[1], context);
  return defs[type];
}

describe('action nodes in the editor: the shared definition part (resources/editor/action-node.js)', function () {
  it('block IP: name after configVersion, condition after action (on for new nodes), labels by action', function () {
    const def = definition('block-ip.html', 'soar-block-ip');
    assert.equal(def.category, 'SOAR');
    assert.deepEqual(Object.keys(def.defaults), [
      'configVersion',
      'name',
      'firewall',
      'target',
      'targetType',
      'action',
      'gate',
      'ttl',
      'ttlUnit',
      'permanent',
      'reason',
      'reasonType',
      'driftOutput',
      'outputs',
    ]);
    assert.equal(def.defaults.gate.value, 'malicious');
    assert.equal(def.defaults.name.value, '');
    assert.equal(def.label.call({ action: 'block' }), 'block IP');
    assert.equal(def.label.call({ action: 'msg' }), 'block IP');
    assert.equal(def.label.call({ action: 'unblock' }), 'unblock IP');
    assert.equal(def.label.call({ action: 'unblock', name: 'mine' }), 'mine');
    assert.equal(def.labelStyle.call({ name: 'mine' }), 'node_label_italic');
    assert.equal(def.labelStyle.call({ name: '' }), '');
  });

  it('isolate host: the same shape, release labelled as such', function () {
    const def = definition('isolate-host.html', 'soar-isolate-host');
    assert.deepEqual(Object.keys(def.defaults).slice(0, 7), ['configVersion', 'name', 'edr', 'target', 'targetType', 'action', 'gate']);
    assert.equal(def.defaults.gate.value, 'malicious');
    assert.equal(def.label.call({ action: 'isolate' }), 'isolate host');
    assert.equal(def.label.call({ action: 'release' }), 'release host');
    assert.equal(def.label.call({ action: 'release', name: 'x' }), 'x');
  });

  it('open ticket: a name, no condition, its own label', function () {
    const def = definition('open-ticket.html', 'soar-open-ticket');
    assert.deepEqual(Object.keys(def.defaults).slice(0, 3), ['configVersion', 'name', 'ticketing']);
    assert.equal(def.defaults.gate, undefined);
    assert.equal(def.label.call({}), 'open ticket');
    assert.equal(def.label.call({ name: 'tickets' }), 'tickets');
    assert.equal(def.labelStyle.call({ name: 'tickets' }), 'node_label_italic');
  });
});
