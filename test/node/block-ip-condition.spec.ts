/**
 * Block IP's condition (a verdict at or above its level, or an approval), its "addresses the
 * verdict accused" target, strict settings, and what reaches it without msg.alert.source.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { validateMessage } from '../../lib/contract';
import { withCatalogs } from '../helpers/i18n';
import { capturingRED, helper, nodeModule, readJsonLines, root, serve, tempDir } from '../helpers/nr';

const hubModule = nodeModule('hub');
const firewallModule = nodeModule('firewall');
const blockModule = withCatalogs(nodeModule('block-ip'));

type Msg = Record<string, any>;

/** A new node as the editor makes it now (configVersion 1: condition on, accused addresses). */
const NEW_NODE = {
  configVersion: 1,
  gate: 'malicious',
  target: '',
  targetType: 'accused',
  action: 'block',
  ttl: 1,
  ttlUnit: 'h',
  permanent: false,
  reason: 'alert.title',
  reasonType: 'msg',
};

function flow(dir: string, block: Record<string, unknown>) {
  return [
    { id: 'tab1', type: 'tab', label: 't' },
    { id: 'hub1', type: 'soar-hub', dir, includeDefaults: true },
    { id: 'fw1', type: 'soar-firewall', name: 'edge list', hub: 'hub1', kind: 'blocklist', listName: 'edge', reconcileMinutes: 0 },
    { id: 'b1', z: 'tab1', type: 'soar-block-ip', firewall: 'fw1', wires: [['done'], ['refused'], ['failed']], ...block },
    { id: 'done', z: 'tab1', type: 'helper' },
    { id: 'refused', z: 'tab1', type: 'helper' },
    { id: 'failed', z: 'tab1', type: 'helper' },
    { id: 'catch1', z: 'tab1', type: 'catch', scope: null, wires: [['caught']] },
    { id: 'caught', z: 'tab1', type: 'helper' },
  ];
}

/** The next message on any output (listeners removed once it arrived, so calls do not pile up). */
function nextOutput(): Promise<[string, Msg]> {
  return new Promise((resolve) => {
    const ids = ['done', 'refused', 'failed', 'caught'];
    const handlers = ids.map((id) => (msg: Msg) => {
      ids.forEach((other, i) => helper.getNode(other).removeListener('input', handlers[i]));
      resolve([id, msg]);
    });
    ids.forEach((id, i) => helper.getNode(id).on('input', handlers[i]));
  });
}

/** What the enrich node writes for an alert whose description named a listed address (lib/intel/verdict shape). */
function enriched(verdict: string, indicators: Record<string, { verdict: string; score?: number }>): Msg {
  const results: Msg = {};
  for (const value of Object.keys(indicators)) {
    results[value] = [
      {
        source: 'demo feed',
        provider: 'feed',
        indicator: { type: value.includes(':') ? 'ipv6' : 'ipv4', value },
        level: indicators[value].verdict,
        found: true,
        evidence: {},
        summary: 'demo feed: listed',
        fetchedAt: '2026-01-15T12:00:00.000Z',
      },
    ];
  }
  const score = Math.max(0, ...Object.values(indicators).map((i) => i.score ?? 0));
  return { verdict, score, why: ['rule'], results, indicators };
}

const ALERT = { id: 'a-1', title: 'ssh brute force', description: 'also seen from 198.51.100.200', source: { ip: '198.51.100.10' } };

describe('soar-block-ip condition and target', function () {
  let dir: string;
  let srv: { url: string; close(): Promise<void> } | undefined;
  beforeEach(async function () {
    dir = tempDir();
    await helper.startServer();
  });
  afterEach(async function () {
    await srv?.close();
    srv = undefined;
    await helper.unload();
    await helper.stopServer();
  });

  async function load(block: Record<string, unknown>) {
    const cap = capturingRED(firewallModule);
    await helper.load([hubModule, cap.module, blockModule], flow(dir, block));
    srv = await serve(cap.red().httpNode);
  }
  const listed = async () => (await fetch(`${srv!.url}/soar/blocklist/edge.txt`)).text();
  const send = async (msg: Msg) => {
    const out = nextOutput();
    helper.getNode('b1').receive(msg);
    return out;
  };
  const audit = () => readJsonLines(path.join(dir, 'audit.jsonl')) as Msg[];

  it("a new node blocks only the address the verdict accused, not the alert's source, and records the verdict per address", async function () {
    await load(NEW_NODE);
    const [output, msg] = await send({
      alert: ALERT,
      enrichment: enriched('malicious', { '198.51.100.10': { verdict: 'unknown' }, '198.51.100.200': { verdict: 'malicious', score: 100 } }),
    });
    assert.equal(output, 'done', JSON.stringify(msg.actions));
    assert.deepEqual(
      msg.actions.map((a: Msg) => [a.target, a.status, a.verdict, a.allowedBy]),
      [['198.51.100.200', 'blocked', { verdict: 'malicious', score: 100 }, 'verdict']],
    );
    assert.match(msg.actions[0].lease.reason, /^ssh brute force \(verdict on 198\.51\.100\.200: malicious 100\)$/);
    const list = await listed();
    assert.match(list, /^198\.51\.100\.200$/m);
    assert.doesNotMatch(list, /198\.51\.100\.10$/m, "nothing accused the alert's source");
    assert.deepEqual(validateMessage({ enrichment: msg.enrichment, actions: msg.actions }), [], 'msg.enrichment and msg.actions follow the contract');
  });

  it('a new node refuses an unknown verdict on the refused output, audited like a guardrail refusal, and blocks nothing', async function () {
    await load(NEW_NODE);
    const [output, msg] = await send({ alert: ALERT, enrichment: enriched('unknown', { '198.51.100.10': { verdict: 'unknown' } }) });
    assert.equal(output, 'refused');
    assert.equal(msg.actions[0].status, 'refused');
    assert.match(msg.actions[0].reason, /verdict unknown .*is below malicious/);
    const refusal = audit().find((r) => r.type === 'action.refused');
    assert.ok(refusal, 'audited');
    assert.match(refusal!.reason, /below malicious/);
    assert.equal(refusal!.request.alertId, 'a-1');
    assert.doesNotMatch(await listed(), /198\.51\.100/);
    assert.deepEqual(validateMessage({ actions: msg.actions }), []);
  });

  it('a new node refuses a message without any verdict or approval (enrich not wired in front)', async function () {
    await load(NEW_NODE);
    const [output, msg] = await send({ alert: ALERT });
    assert.equal(output, 'refused');
    assert.match(msg.actions[0].reason, /no verdict \(msg\.enrichment\.verdict\) and no approval/);
  });

  it('an approval that was approved lets the block through without a verdict; denied or expired always refuses', async function () {
    await load({ ...NEW_NODE, target: 'alert.source.ip', targetType: 'msg' });
    // An approval this hub recorded (the nodes' own hub instance, from dist/, so the store is shared).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Hub } = require(path.join(root, 'dist', 'lib', 'hub', 'hub.js'));
    const hub = await Hub.acquire({ dir });
    let real: Msg;
    try {
      const record = await hub.approvals.request({
        msg: { alert: ALERT },
        policy: { approvers: [{ name: 'alice', identities: ['editor:alice'] }], timeoutMs: 60_000 },
      });
      const decided = await hub.approvals.decide({ id: record.id, identity: 'editor:alice', decision: 'approve', channel: 'editor' });
      real = decided.record.decision;
    } finally {
      await hub.release();
    }
    let [output, msg] = await send({ alert: ALERT, approval: real });
    assert.equal(output, 'done');
    assert.equal(msg.actions[0].allowedBy, 'approval');
    assert.equal(msg.actions[0].lease.by, 'editor:alice');
    // The same shape with a made-up digest: not what was approved, refused.
    const approval = { id: 'ap-1', decision: 'approved', by: ['alice'], at: '2026-01-15T12:00:00.000Z', digest: 'sha256:abc', fields: ['alert.source.ip'] };
    [output, msg] = await send({ alert: ALERT, approval });
    assert.equal(output, 'refused');
    assert.match(msg.actions[0].reason, /approval ap-1 does not match the message any more/);
    assert.deepEqual(validateMessage({ approval: msg.approval, actions: msg.actions }), [], 'msg.approval follows the contract');
    for (const decision of ['denied', 'expired']) {
      [output, msg] = await send({
        alert: { ...ALERT, source: { ip: '203.0.113.9' } },
        enrichment: enriched('malicious', { '203.0.113.9': { verdict: 'malicious', score: 100 } }),
        approval: { ...approval, decision },
      });
      assert.equal(output, 'refused', decision);
      assert.match(msg.actions[0].reason, new RegExp(`approval ap-1 was ${decision}`));
    }
    assert.doesNotMatch(await listed(), /203\.0\.113\.9/);
  });

  it('a suspicious condition accepts suspicious verdicts and accuses suspicious addresses', async function () {
    await load({ ...NEW_NODE, gate: 'suspicious' });
    const [output, msg] = await send({
      alert: ALERT,
      enrichment: enriched('suspicious', { '198.51.100.10': { verdict: 'benign', score: 0 }, '203.0.113.50': { verdict: 'suspicious', score: 60 } }),
    });
    assert.equal(output, 'done');
    assert.deepEqual(
      msg.actions.map((a: Msg) => a.target),
      ['203.0.113.50'],
    );
  });

  it('a malicious verdict that accused no address (a domain, a hash) refuses instead of blocking the source', async function () {
    await load(NEW_NODE);
    const enrichment = enriched('malicious', {});
    enrichment.results['evil.example'] = [
      {
        source: 'demo feed',
        provider: 'feed',
        indicator: { type: 'domain', value: 'evil.example' },
        level: 'malicious',
        found: true,
        evidence: {},
        summary: 'x',
        fetchedAt: '2026-01-15T12:00:00.000Z',
      },
    ];
    enrichment.indicators['evil.example'] = { verdict: 'malicious', score: 100 };
    const [output, msg] = await send({ alert: ALERT, enrichment });
    assert.equal(output, 'refused');
    assert.match(msg.actions[0].reason, /accused no address at or above malicious/);
  });

  it('a node saved before the condition existed (no configVersion) keeps acting on every message, as its playbook did', async function () {
    await load({
      target: 'alert.source.ip',
      targetType: 'msg',
      action: 'block',
      ttl: 1,
      ttlUnit: 'h',
      permanent: false,
      reason: 'alert.title',
      reasonType: 'msg',
    });
    const [output, msg] = await send({ alert: ALERT, enrichment: enriched('unknown', { '198.51.100.10': { verdict: 'unknown' } }) });
    assert.equal(output, 'done');
    assert.equal(msg.actions[0].target, '198.51.100.10');
    assert.equal(msg.actions[0].allowedBy, 'off');
    assert.deepEqual(msg.actions[0].verdict, { verdict: 'unknown' }, 'the record says what the verdict said about it');
  });

  it("an alert without source gives the node's own error, not a TypeError", async function () {
    await load({ ...NEW_NODE, gate: 'off', target: 'alert.source.ip', targetType: 'msg' });
    const [output, msg] = await send({ alert: { id: 'a-2', title: 'no source' } });
    assert.equal(output, 'caught');
    assert.match(msg.error.message, /^(Error: )?no address in msg\.alert\.source\.ip$/);
  });

  for (const ttl of ['0', '-5', 'abc']) {
    it(`block time "${ttl}" shows an error status, is logged, and refuses every block (it used to become 1)`, async function () {
      await load({ ...NEW_NODE, gate: 'off', target: 'alert.source.ip', targetType: 'msg', ttl });
      const [output, msg] = await send({ alert: { ...ALERT, source: { ip: '203.0.113.7' } } });
      assert.equal(output, 'refused');
      assert.match(msg.actions[0].reason, /invalid block IP settings.*block time/);
      const node = helper.getNode('b1');
      assert.ok(node.status.args.some((a: Msg[]) => a[0]?.text === 'invalid settings: blocks refused'));
      assert.ok(
        node.error.args.some((a: unknown[]) => /block time/.test(String(a[0]))),
        'logged',
      );
      assert.ok(audit().some((r) => r.type === 'action.refused' && /block time/.test(r.reason)));
      assert.doesNotMatch(await listed(), /203\.0\.113\.7/);
    });
  }

  it("a msg.ttl the library would refuse is refused, not replaced by the node's block time", async function () {
    await load({ ...NEW_NODE, gate: 'off', target: 'alert.source.ip', targetType: 'msg' });
    for (const ttl of [0, -5, 'abc']) {
      const [output, msg] = await send({ alert: { ...ALERT, source: { ip: '203.0.113.7' } }, ttl });
      assert.equal(output, 'refused', String(ttl));
      assert.match(msg.actions[0].reason, /msg\.ttl must be seconds above 0/);
    }
    const [output, msg] = await send({ alert: { ...ALERT, source: { ip: '203.0.113.7' } }, ttl: '120' });
    assert.equal(output, 'done');
    assert.equal(msg.actions[0].lease.requestedTtlSeconds, 120);
  });

  it('a blank block time is the documented default, one hour', async function () {
    await load({ ...NEW_NODE, gate: 'off', target: 'alert.source.ip', targetType: 'msg', ttl: '' });
    const [output, msg] = await send({ alert: { ...ALERT, source: { ip: '203.0.113.7' } } });
    assert.equal(output, 'done');
    const ends = Date.parse(msg.actions[0].lease.expiresAt) - Date.now();
    assert.ok(ends > 3500e3 && ends <= 3600e3, `one hour, got ${ends} ms`);
  });

  it('the status counts leases with plural forms ("1 lease", "2 leases")', async function () {
    await load({ ...NEW_NODE, gate: 'off', target: 'alert.source.ip', targetType: 'msg' });
    await send({ alert: { ...ALERT, source: { ip: '203.0.113.7' } } });
    await send({ alert: { ...ALERT, source: { ip: '203.0.113.8' } } });
    const texts = helper.getNode('b1').status.args.map((a: Msg[]) => a[0]?.text);
    assert.ok(texts.includes('blocked 203.0.113.7 · 1 lease'), JSON.stringify(texts));
    assert.ok(texts.includes('blocked 203.0.113.8 · 2 leases'), JSON.stringify(texts));
  });
});
