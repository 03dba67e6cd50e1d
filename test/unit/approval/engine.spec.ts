import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { ApprovalEngine, type ApprovalEvents } from '../../../lib/approval/engine';
import { ApprovalError, type ApprovalPolicy } from '../../../lib/approval/records';
import type { FileStateStore } from '../../../lib/core/file-store';
import { verifyApproval } from '../../../lib/contract/approval';
import { ANA, BEN, BOSS, CAY, FakeClock, memoryAudit, openStore, sampleMessage, tempDir } from './helpers';

const MIN = 60_000;

describe('approval engine', function () {
  let dir: string;
  let clock: FakeClock;
  let store: FileStateStore;
  let audit: ReturnType<typeof memoryAudit>;
  let engine: ApprovalEngine;
  let resolved: Array<ApprovalEvents['resolved']>;
  let reminders: Array<ApprovalEvents['reminder']>;
  let escalations: Array<ApprovalEvents['escalation']>;

  function makeEngine(): ApprovalEngine {
    const e = new ApprovalEngine({
      store,
      audit,
      now: clock.now,
      setTimer: clock.setTimer,
      clearTimer: clock.clearTimer,
      warn: (m) => assert.fail(`unexpected warning: ${m}`),
    });
    e.on('resolved', (ev) => resolved.push(ev));
    e.on('reminder', (ev) => reminders.push(ev));
    e.on('escalation', (ev) => escalations.push(ev));
    return e;
  }

  beforeEach(async function () {
    dir = tempDir('soar-approval-');
    clock = new FakeClock();
    store = await openStore(dir, clock);
    audit = memoryAudit();
    resolved = [];
    reminders = [];
    escalations = [];
    engine = makeEngine();
    await engine.start();
  });
  afterEach(async function () {
    await engine.stop();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const policy = (extra: Partial<ApprovalPolicy> = {}): ApprovalPolicy => ({ approvers: [ANA, BEN, CAY], quorum: 2, timeoutMs: 30 * MIN, ...extra });

  it('needs 2 of 3 approvals for quorum 2 and then resolves approved with the held message', async function () {
    const rec = await engine.request({ msg: sampleMessage(), policy: policy(), action: 'block IP' });
    const first = await engine.decide({ id: rec.id, identity: 'email:ana@example.org', decision: 'approve', channel: 'page', comment: 'looks bad' });
    assert.equal(first.ok && first.resolved, false);
    assert.equal(resolved.length, 0);
    const second = await engine.decide({ id: rec.id, identity: 'telegram:1001', decision: 'approve', channel: 'telegram' });
    assert.ok(second.ok && second.resolved);
    assert.equal(resolved.length, 1);
    const { approval, message, record } = resolved[0];
    assert.equal(record.state, 'approved');
    assert.deepEqual(approval.by, ['email:ana@example.org', 'telegram:1001']);
    assert.equal((message.alert as { source: { ip: string } }).source.ip, '203.0.113.7');
    assert.deepEqual(message.approval, approval);
    assert.deepEqual(verifyApproval(message, '203.0.113.7'), { ok: true, id: rec.id });
    // Who, when (the engine's clock, as msg.approval.at), through which channel, with what comment.
    const vote = audit.records.find((r) => r.type === 'approval.vote');
    assert.deepEqual(
      [vote?.person, vote?.identity, vote?.channel, vote?.decision, vote?.comment, vote?.at],
      ['Ana', 'email:ana@example.org', 'page', 'approve', 'looks bad', new Date(clock.t).toISOString()],
    );
    const decided = audit.records.find((r) => r.type === 'approval.decided');
    assert.deepEqual([decided?.decision, decided?.by, decided?.at], ['approved', ['email:ana@example.org', 'telegram:1001'], approval.at]);
    assert.equal(engine.pendingCount, 0);
  });

  it('one deny denies by default; with denyNeedsQuorum it takes the quorum of denies', async function () {
    const rec = await engine.request({ msg: sampleMessage(), policy: policy() });
    await engine.decide({ id: rec.id, identity: 'email:ana@example.org', decision: 'approve', channel: 'page' });
    const deny = await engine.decide({ id: rec.id, identity: 'mattermost:cay1', decision: 'deny', channel: 'mattermost' });
    assert.ok(deny.ok && deny.resolved);
    assert.equal(resolved[0].record.state, 'denied');
    assert.deepEqual(resolved[0].approval.by, ['mattermost:cay1']);

    const rec2 = await engine.request({ msg: sampleMessage(), policy: policy({ denyNeedsQuorum: true }) });
    const d1 = await engine.decide({ id: rec2.id, identity: 'slack:U0ANA', decision: 'deny', channel: 'slack' });
    assert.ok(d1.ok && !d1.resolved, 'one deny does not deny when denies need quorum');
    const d2 = await engine.decide({ id: rec2.id, identity: 'email:ben@example.org', decision: 'deny', channel: 'page' });
    assert.ok(d2.ok && d2.resolved);
    assert.equal(resolved[1].record.state, 'denied');
  });

  it('refuses an identity not on the list, and a vote after the decision', async function () {
    const rec = await engine.request({ msg: sampleMessage(), policy: policy({ quorum: 1 }) });
    const stranger = await engine.decide({ id: rec.id, identity: 'slack:U0EVE', decision: 'approve', channel: 'slack' });
    assert.equal(stranger.ok, false);
    assert.equal(!stranger.ok && stranger.code, 'not-approver');
    assert.ok(audit.records.some((r) => r.type === 'approval.refused' && r.code === 'not-approver' && r.identity === 'slack:U0EVE'));
    assert.equal(resolved.length, 0);
    await engine.decide({ id: rec.id, identity: 'editor:cay', decision: 'approve', channel: 'editor' });
    const late = await engine.decide({ id: rec.id, identity: 'slack:U0ANA', decision: 'deny', channel: 'slack' });
    assert.equal(!late.ok && late.code, 'decided');
    assert.equal(resolved.length, 1);
  });

  it('counts one person once however many channels they use', async function () {
    const rec = await engine.request({ msg: sampleMessage(), policy: policy() });
    assert.ok((await engine.decide({ id: rec.id, identity: 'email:ANA@example.org', decision: 'approve', channel: 'page' })).ok);
    const again = await engine.decide({ id: rec.id, identity: 'slack:U0ANA', decision: 'approve', channel: 'slack' });
    assert.equal(!again.ok && again.code, 'already-voted');
    assert.equal(resolved.length, 0, 'Ana on two channels is still one approval of two');
    assert.equal((await engine.get(rec.id))?.state, 'pending');
  });

  it('decides once with concurrent deciders, also across two engines on the same store', async function () {
    const other = makeEngine();
    const rec = await engine.request({ msg: sampleMessage(), policy: policy({ quorum: 1 }) });
    const results = await Promise.all([
      engine.decide({ id: rec.id, identity: 'slack:U0ANA', decision: 'approve', channel: 'slack' }),
      other.decide({ id: rec.id, identity: 'telegram:1001', decision: 'deny', channel: 'telegram' }),
      engine.decide({ id: rec.id, identity: 'editor:cay', decision: 'approve', channel: 'editor' }),
    ]);
    assert.equal(results.filter((r) => r.ok && r.resolved).length, 1);
    assert.equal(results.filter((r) => !r.ok && r.code === 'decided').length, 2);
    assert.equal(resolved.length, 1);
    assert.equal(audit.records.filter((r) => r.type === 'approval.decided').length, 1);
    await other.stop();
  });

  for (const [outcome, state, by] of [
    ['deny', 'expired', []],
    ['approve', 'approved', []],
  ] as const) {
    it(`on timeout with outcome ${outcome} resolves ${state}, and refuses a decision after expiry`, async function () {
      const rec = await engine.request({ msg: sampleMessage(), policy: policy({ onTimeout: outcome }) });
      await clock.advance(30 * MIN - 1, [engine]);
      assert.equal(resolved.length, 0);
      await clock.advance(1, [engine]);
      assert.equal(resolved.length, 1);
      assert.equal(resolved[0].record.state, state);
      assert.deepEqual(resolved[0].approval.by, by);
      assert.ok(audit.records.some((r) => r.type === (state === 'expired' ? 'approval.expired' : 'approval.decided')));
      const late = await engine.decide({ id: rec.id, identity: 'slack:U0ANA', decision: 'approve', channel: 'slack' });
      assert.equal(late.ok, false);
      assert.equal(resolved.length, 1);
    });
  }

  it('refuses a decision past the expiry even before the expiry timer ran, and resolves the timeout then', async function () {
    const rec = await engine.request({ msg: sampleMessage(), policy: policy({ quorum: 1 }) });
    clock.t += 30 * MIN; // the timer is late (busy event loop): time passed, no timer ran
    const late = await engine.decide({ id: rec.id, identity: 'slack:U0ANA', decision: 'approve', channel: 'slack' });
    assert.equal(!late.ok && late.code, 'expired');
    assert.equal(resolved.length, 1);
    assert.equal(resolved[0].record.state, 'expired');
    assert.equal(resolved[0].record.votes.length, 0);
  });

  it('on timeout with outcome escalate notifies the escalation list, lets them decide, and expires after their window', async function () {
    const rec = await engine.request({ msg: sampleMessage(), policy: policy({ onTimeout: 'escalate', escalation: [BOSS], escalationTimeoutMs: 10 * MIN }) });
    const early = await engine.decide({ id: rec.id, identity: 'email:boss@example.org', decision: 'approve', channel: 'page' });
    assert.equal(!early.ok && early.code, 'not-approver', 'the escalation list cannot decide before escalation');
    await clock.advance(30 * MIN, [engine]);
    assert.equal(resolved.length, 0);
    assert.equal(escalations.length, 1);
    assert.equal(escalations[0].reason, 'timeout');
    assert.deepEqual(
      escalations[0].to.map((p) => p.name),
      ['Boss'],
    );
    assert.equal((await engine.get(rec.id))?.expiresAt, clock.t + 10 * MIN);
    await clock.advance(10 * MIN, [engine]);
    assert.equal(resolved.length, 1);
    assert.equal(resolved[0].record.state, 'expired');

    // And a second one where the boss decides within the window.
    const rec2 = await engine.request({ msg: sampleMessage(), policy: policy({ quorum: 1, onTimeout: 'escalate', escalation: [BOSS] }) });
    await clock.advance(30 * MIN, [engine]);
    const boss = await engine.decide({ id: rec2.id, identity: 'email:boss@example.org', decision: 'approve', channel: 'page' });
    assert.ok(boss.ok && boss.resolved);
    assert.equal(resolved[1].record.state, 'approved');
  });

  it('sends reminders and the escalation at the configured times, only to those who have not voted', async function () {
    const rec = await engine.request({
      msg: sampleMessage(),
      policy: policy({ remindAfterMs: [20 * MIN, 5 * MIN], escalateAfterMs: 15 * MIN, escalation: [BOSS] }),
    });
    await engine.decide({ id: rec.id, identity: 'slack:U0ANA', decision: 'approve', channel: 'slack' });
    await clock.advance(5 * MIN - 1, [engine]);
    assert.equal(reminders.length, 0);
    await clock.advance(1, [engine]);
    assert.equal(reminders.length, 1);
    assert.deepEqual(
      reminders[0].to.map((p) => p.name),
      ['Ben', 'Cay'],
    );
    await clock.advance(10 * MIN - 1, [engine]);
    assert.equal(escalations.length, 0);
    await clock.advance(1, [engine]);
    assert.equal(escalations.length, 1);
    assert.equal(escalations[0].reason, 'after');
    await clock.advance(5 * MIN, [engine]);
    assert.equal(reminders.length, 2);
    assert.deepEqual(
      reminders[1].to.map((p) => p.name),
      ['Ben', 'Cay', 'Boss'],
    );
    assert.equal(audit.records.filter((r) => r.type === 'approval.reminder').length, 2);
    assert.equal(audit.records.filter((r) => r.type === 'approval.escalated').length, 1);
    await clock.advance(10 * MIN, [engine]);
    assert.equal(reminders.length, 2, 'no reminder repeats');
    assert.equal(resolved[0]?.record.state, 'expired');
  });

  it('refuses at creation a quorum larger than the approver list, and audits it', async function () {
    await assert.rejects(
      engine.request({ msg: sampleMessage(), policy: policy({ quorum: 4 }) }),
      (err: Error) => err instanceof ApprovalError && err.code === 'bad-policy' && /quorum 4 is larger than the 3 listed approvers/.test(err.message),
    );
    assert.ok(audit.records.some((r) => r.type === 'approval.refused' && r.code === 'bad-policy'));
    assert.equal((await engine.pending()).length, 0);
  });

  it('refuses a message that cannot be serialised, naming the part; drops msg.req/res; keeps Buffers', async function () {
    const msg = sampleMessage();
    msg.callback = () => 1;
    await assert.rejects(
      engine.request({ msg, policy: policy() }),
      (err: Error) => err instanceof ApprovalError && err.code === 'not-serialisable' && /msg\.callback is a function/.test(err.message),
    );
    const cyclic = sampleMessage() as Record<string, unknown>;
    cyclic.self = { back: cyclic };
    await assert.rejects(engine.request({ msg: cyclic, policy: policy() }), /msg\.self\.back is a circular reference/);
    await assert.rejects(engine.request({ msg: { ...sampleMessage(), seen: new Map() }, policy: policy() }), /msg\.seen is a Map object/);
    assert.equal(audit.records.filter((r) => r.type === 'approval.refused' && r.code === 'not-serialisable').length, 3);

    const held = { ...sampleMessage(), req: { socket: {} }, res: { fake: true }, blob: Buffer.from([0, 1, 255]) };
    const rec = await engine.request({ msg: held, policy: policy({ quorum: 1 }) });
    assert.deepEqual(rec.dropped, ['req', 'res']);
    await engine.decide({ id: rec.id, identity: 'editor:cay', decision: 'approve', channel: 'editor' });
    const out = resolved[0].message;
    assert.equal(out.req, undefined);
    assert.ok(Buffer.isBuffer(out.blob));
    assert.deepEqual([...(out.blob as Buffer)], [0, 1, 255]);
  });

  it('keeps pending approvals over a restart and resolves those that expired while down', async function () {
    const keep = await engine.request({ msg: sampleMessage('198.51.100.1'), policy: policy({ timeoutMs: 60 * MIN }) });
    const lapse = await engine.request({ msg: sampleMessage('198.51.100.2'), policy: policy({ timeoutMs: 10 * MIN }) });
    await engine.decide({ id: keep.id, identity: 'slack:U0ANA', decision: 'approve', channel: 'slack' });
    await engine.stop();
    await store.close();

    clock.t += 20 * MIN; // the hub was down for 20 minutes
    store = await openStore(dir, clock);
    engine = makeEngine();
    const loaded = await engine.start();
    await engine.idle();
    await clock.advance(0, [engine]);
    assert.equal(loaded.pending, 2);
    assert.equal(resolved.length, 1);
    assert.equal(resolved[0].record.id, lapse.id);
    assert.equal(resolved[0].record.state, 'expired');
    assert.equal(engine.pendingCount, 1);
    const kept = await engine.get(keep.id);
    assert.equal(kept?.votes.length, 1, 'the vote cast before the restart still counts');
    const done = await engine.decide({ id: keep.id, identity: 'telegram:1001', decision: 'approve', channel: 'telegram' });
    assert.ok(done.ok && done.resolved);
    assert.equal(resolved[1].record.state, 'approved');
    assert.equal((resolved[1].message.alert as { source: { ip: string } }).source.ip, '198.51.100.1');
  });

  it('resolves at start an approval whose deciding vote was stored just before a crash', async function () {
    const rec = await engine.request({ msg: sampleMessage(), policy: policy({ quorum: 1 }) });
    await engine.stop();
    // What a kill -9 between the vote write and the decision claim leaves behind.
    const stored = (await engine.get(rec.id))!;
    await store.set('approvals', rec.id, {
      ...stored,
      votes: [{ person: 'Ana', identity: 'slack:U0ANA', channel: 'slack', decision: 'approve', at: new Date(clock.t).toISOString() }],
    });
    engine = makeEngine();
    await engine.start();
    await engine.idle();
    assert.equal(resolved.length, 1);
    assert.equal(resolved[0].record.state, 'approved');
    assert.deepEqual(resolved[0].approval.by, ['slack:U0ANA']);
    assert.equal(engine.pendingCount, 0);
  });

  it('confirms only approvals this hub decided, as recorded (a forged msg.approval with a valid digest is refused)', async function () {
    const rec = await engine.request({ msg: sampleMessage(), policy: policy({ quorum: 1 }) });
    await engine.decide({ id: rec.id, identity: 'slack:U0ANA', decision: 'approve', channel: 'slack' });
    const msg = resolved[0].message;
    assert.deepEqual(await engine.confirm(msg, '203.0.113.7'), { ok: true, id: rec.id });
    const forged = { ...sampleMessage(), approval: { ...(msg.approval as object), id: 'made-up' } };
    assert.equal(verifyApproval(forged, '203.0.113.7').ok, true, 'the digest alone cannot tell');
    assert.match(((await engine.confirm(forged, '203.0.113.7')) as { reason: string }).reason, /not one this hub decided/);
    const widened = { ...msg, approval: { ...(msg.approval as object), by: ['slack:U0ANA', 'telegram:1001'] } };
    assert.match(((await engine.confirm(widened)) as { reason: string }).reason, /does not match what this hub recorded/);
  });

  it('emits a decided but undelivered message again after a restart, and not once delivered', async function () {
    const rec = await engine.request({ msg: sampleMessage(), policy: policy({ quorum: 1 }) });
    await engine.decide({ id: rec.id, identity: 'slack:U0ANA', decision: 'approve', channel: 'slack' });
    await engine.stop();
    engine = makeEngine();
    assert.equal((await engine.start()).redelivered, 1);
    assert.equal(resolved.length, 2);
    await engine.delivered(rec.id);
    await engine.stop();
    engine = makeEngine();
    assert.equal((await engine.start()).redelivered, 0);
    assert.equal(resolved.length, 2);
  });
});

describe('verifyApproval', function () {
  const approvedMessage = async () => {
    const clock = new FakeClock();
    const dir = tempDir('soar-approval-v-');
    const store = await openStore(dir, clock);
    const engine = new ApprovalEngine({ store, audit: memoryAudit(), now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer });
    let out: Record<string, unknown> | undefined;
    engine.on('resolved', (ev) => (out = ev.message));
    const rec = await engine.request({ msg: sampleMessage(), policy: { approvers: [ANA], timeoutMs: MIN } });
    await engine.decide({ id: rec.id, identity: 'slack:U0ANA', decision: 'approve', channel: 'slack' });
    await engine.stop();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
    return out!;
  };

  it('passes the approved message unchanged and refuses when the decisive field changed after approval', async function () {
    const msg = await approvedMessage();
    assert.equal(verifyApproval(msg, '203.0.113.7').ok, true);
    (msg.alert as { source: { ip: string } }).source.ip = '203.0.113.99';
    const check = verifyApproval(msg, '203.0.113.99');
    assert.equal(check.ok, false);
    assert.match(!check.ok ? check.reason : '', /does not match the message any more: alert\.source\.ip changed/);
  });

  it('refuses a target the approval does not cover, a denied or expired decision, and a missing approval', async function () {
    const msg = await approvedMessage();
    assert.match(String((verifyApproval(msg, '192.0.2.1') as { reason: string }).reason), /does not cover 192\.0\.2\.1/);
    for (const decision of ['denied', 'expired']) {
      const check = verifyApproval({ ...msg, approval: { ...(msg.approval as object), decision } }, '203.0.113.7');
      assert.equal(check.ok, false);
      assert.match((check as { reason: string }).reason, new RegExp(`was ${decision}, not approved`));
    }
    assert.equal(verifyApproval({ alert: {} }).ok, false);
  });

  it('distinguishes a removed field from its null value', async function () {
    const msg = await approvedMessage();
    delete (msg.alert as { source?: unknown }).source;
    assert.equal(verifyApproval(msg).ok, false);
  });
});
