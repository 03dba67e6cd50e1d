/**
 * The hub node's numeric settings go through the library's own judgement: blank is the documented
 * default, 0 actions per hour refuses every action, and an invalid value is logged at deploy and
 * refuses every action naming it (never silently replaced by a default).
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { withCatalogs } from '../helpers/i18n';
import { helper, nodeModule, readJsonLines, tempDir } from '../helpers/nr';

const hubModule = withCatalogs(nodeModule('hub'));
const firewallModule = nodeModule('firewall');
const blockModule = nodeModule('block-ip');

type Msg = Record<string, any>;

function flow(dir: string, hub: Record<string, unknown>) {
  return [
    { id: 'tab1', type: 'tab', label: 't' },
    { id: 'hub1', type: 'soar-hub', dir, includeDefaults: true, ...hub },
    { id: 'fw1', type: 'soar-firewall', name: 'edge list', hub: 'hub1', kind: 'blocklist', listName: 'edge', reconcileMinutes: 0 },
    {
      id: 'b1',
      z: 'tab1',
      type: 'soar-block-ip',
      firewall: 'fw1',
      target: 'alert.source.ip',
      targetType: 'msg',
      action: 'block',
      ttl: 1,
      ttlUnit: 'h',
      wires: [['done'], ['refused'], ['failed']],
    },
    { id: 'done', z: 'tab1', type: 'helper' },
    { id: 'refused', z: 'tab1', type: 'helper' },
    { id: 'failed', z: 'tab1', type: 'helper' },
  ];
}

/** The first message on any output: [output id, msg]. */
function nextOutput(): Promise<[string, Msg]> {
  return new Promise((resolve) => {
    const ids = ['done', 'refused', 'failed'];
    const handlers = ids.map((id) => (msg: Msg) => {
      ids.forEach((other, i) => helper.getNode(other).removeListener('input', handlers[i]));
      resolve([id, msg]);
    });
    ids.forEach((id, i) => helper.getNode(id).on('input', handlers[i]));
  });
}

function hubErrors(): string[] {
  return helper
    .log()
    .args.map((a: Msg[]) => a[0])
    .filter((e: Msg) => e.level === 20 && e.id === 'hub1')
    .map((e: Msg) => String(e.msg));
}

describe('soar-hub settings', function () {
  let dir: string;
  beforeEach(async function () {
    dir = tempDir();
    await helper.startServer();
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
  });

  async function blockOnce(hub: Record<string, unknown>, ip = '203.0.113.7'): Promise<[string, Msg]> {
    await helper.load([hubModule, firewallModule, blockModule], flow(dir, hub));
    const out = nextOutput();
    helper.getNode('b1').receive({ alert: { id: `a-${ip}`, title: 't', source: { ip } } });
    return out;
  }

  it('blank settings are the documented defaults (100 actions per hour, repeat 7 d × 2 up to 30 d)', async function () {
    const [output, msg] = await blockOnce({ maxActionsPerHour: '', repeatWindowDays: '', repeatFactor: '', maxBlockDays: '' });
    assert.equal(output, 'done', JSON.stringify(msg.actions));
    assert.deepEqual(hubErrors(), []);
    const options = helper.getNode('hub1').hubOptions;
    assert.equal(options.guardrails.maxActionsPerHour, undefined, "left to the library's default");
    assert.deepEqual(options.repeat, { windowMs: 7 * 86_400_000, factor: 2, maxTtlSeconds: 30 * 86_400 });
  });

  it('maxActionsPerHour "0" refuses every action, as the library defines 0 (it used to become 100)', async function () {
    const [output, msg] = await blockOnce({ maxActionsPerHour: '0' });
    assert.equal(output, 'refused');
    assert.match(msg.actions[0].reason, /cap of 0 actions per hour/);
    assert.deepEqual(hubErrors(), [], '0 is a valid setting, not an error');
  });

  for (const bad of ['-5', 'abc']) {
    it(`maxActionsPerHour "${bad}" is logged at deploy and every action is refused, naming it (it used to become 100)`, async function () {
      const [output, msg] = await blockOnce({ maxActionsPerHour: bad });
      assert.equal(output, 'refused');
      assert.match(msg.actions[0].reason, /guardrail configuration is invalid.*maxActionsPerHour/);
      assert.ok(
        (readJsonLines(path.join(dir, 'audit.jsonl')) as Msg[]).some((r) => r.type === 'action.refused' && /maxActionsPerHour/.test(r.reason)),
        'audited',
      );
      assert.equal(hubErrors().length, 1);
      assert.match(hubErrors()[0], /maxActionsPerHour/);
      const status = helper.getNode('b1').status.args.map((a: Msg[]) => a[0]?.text);
      assert.ok(status.includes('invalid hub settings: actions refused'), `the block node shows it: ${JSON.stringify(status)}`);
    });
  }

  for (const [field, value] of [
    ['repeatFactor', 'abc'],
    ['repeatFactor', '0.5'],
    ['repeatWindowDays', '0'],
    ['maxBlockDays', '-1'],
  ] as const) {
    it(`${field} "${value}" is logged at deploy and every action is refused (it used to become the default)`, async function () {
      const [output, msg] = await blockOnce({ [field]: value });
      assert.equal(output, 'refused');
      assert.match(msg.actions[0].reason, new RegExp(`invalid.*${field}`));
      assert.match(hubErrors().join('\n'), new RegExp(field));
    });
  }

  it('a numeric setting saved as a number (flows saved by the editor) works as before', async function () {
    const [output] = await blockOnce({ maxActionsPerHour: 100, repeatWindowDays: 7, repeatFactor: 2, maxBlockDays: 30 });
    assert.equal(output, 'done');
    assert.deepEqual(hubErrors(), []);
  });
});
