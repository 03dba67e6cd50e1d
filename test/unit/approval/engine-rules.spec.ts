/**
 * Decision rules of the approval engine beyond the main flows in engine.spec.ts: quorum edge cases,
 * who is named as deciding, refusals of malformed votes, the hub's own record behind confirm(), the
 * retention time, comments, and what a failing listener or audit log must not stop.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { ApprovalEngine, DECISIONS_NS, type ApprovalEvents } from '../../../lib/approval/engine';
import { ApprovalError, type ApprovalPolicy } from '../../../lib/approval/records';
import type { FileStateStore } from '../../../lib/core/file-store';
import { approvalDigest, type ApprovalCheck } from '../../../lib/contract/approval';
import type { MsgApproval } from '../../../lib/contract/types';
import { ANA, BEN, BOSS, CAY, FakeClock, memoryAudit, openStore, sampleMessage, tempDir } from './helpers';

const MIN = 60_000;
const DAN = { name: 'Dan', identities: ['editor:dan'] };

describe('approval engine rules', function () {
  let dir: string;
  let clock: FakeClock;
  let store: FileStateStore;
  let audit: ReturnType<typeof memoryAudit>;
  let engine: ApprovalEngine;
  let resolved: Array<ApprovalEvents['resolved']>;
  let warnings: string[];

  function makeEngine(extra: { retentionMs?: number; append?: (type: string, fields?: Record<string, unknown>) => Promise<never> } = {}): ApprovalEngine {
    const e = new ApprovalEngine({
      store,
      audit: extra.append ? { append: extra.append } : audit,
      now: clock.now,
      setTimer: clock.setTimer,
      clearTimer: clock.clearTimer,
      warn: (m) => warnings.push(m),
      ...(extra.retentionMs !== undefined ? { retentionMs: extra.retentionMs } : {}),
    });
    e.on('resolved', (ev) => resolved.push(ev));
    return e;
  }

  beforeEach(async function () {
    dir = tempDir('soar-approval-rules-');
    clock = new FakeClock();
    store = await openStore(dir, clock);
    audit = memoryAudit();
    resolved = [];
    warnings = [];
    engine = makeEngine();
    await engine.start();
  });
  afterEach(async function () {
    await engine.stop();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const policy = (extra: Partial<ApprovalPolicy> = {}): ApprovalPolicy => ({ approvers: [ANA, BEN, CAY], quorum: 2, timeoutMs: 30 * MIN, ...extra });
  const vote = (id: string, identity: string, decision: 'approve' | 'deny', comment?: string) =>
    engine.decide({ id, identity, decision, channel: 'page', ...(comment !== undefined ? { comment } : {}) });

  describe('quorum', function () {
    it('a deny names the deniers as deciding, not those who approved before', async function () {
      const rec = await engine.request({ msg: sampleMessage(), policy: policy() });
      await vote(rec.id, 'slack:U0ANA', 'approve');
      await vote(rec.id, 'telegram:1001', 'deny');
      assert.equal(resolved[0].record.state, 'denied');
      assert.deepEqual(resolved[0].approval.by, ['telegram:1001']);
      assert.equal(resolved[0].record.reason, 'denied by Ben');
    });

    it('an approval names only those who approved as deciding, not a denier whose deny did not decide', async function () {
      const rec = await engine.request({ msg: sampleMessage(), policy: policy({ denyNeedsQuorum: true }) });
      await vote(rec.id, 'slack:U0ANA', 'approve');
      await vote(rec.id, 'telegram:1001', 'deny');
      await vote(rec.id, 'editor:cay', 'approve');
      assert.equal(resolved[0].record.state, 'approved');
      assert.deepEqual(resolved[0].approval.by, ['slack:U0ANA', 'editor:cay']);
    });

    it('counts votes cast at the same time by different persons', async function () {
      const rec = await engine.request({ msg: sampleMessage(), policy: policy() });
      const results = await Promise.all([vote(rec.id, 'slack:U0ANA', 'approve'), vote(rec.id, 'telegram:1001', 'approve')]);
      assert.ok(results.every((r) => r.ok));
      assert.equal(resolved.length, 1);
      assert.equal(resolved[0].record.state, 'approved');
      assert.equal(resolved[0].record.votes.length, 2);
    });

    it('leaves no timer behind once decided', async function () {
      const rec = await engine.request({ msg: sampleMessage(), policy: policy({ quorum: 1, remindAfterMs: [MIN] }) });
      assert.equal(clock.scheduled, 1);
      await vote(rec.id, 'slack:U0ANA', 'approve');
      assert.equal(clock.scheduled, 0);
    });

    it('with denyNeedsQuorum, the quorum of denies denies even while approval is still reachable', async function () {
      const rec = await engine.request({ msg: sampleMessage(), policy: policy({ approvers: [ANA, BEN, CAY, DAN], denyNeedsQuorum: true }) });
      assert.equal((await vote(rec.id, 'slack:U0ANA', 'deny')).ok, true);
      assert.equal(resolved.length, 0);
      const second = await vote(rec.id, 'telegram:1001', 'deny');
      assert.ok(second.ok && second.resolved);
      assert.equal(resolved[0].record.state, 'denied');
      assert.equal(resolved[0].record.reason, '2 denials reached the quorum of 2');
      assert.deepEqual(resolved[0].approval.by, ['slack:U0ANA', 'telegram:1001']);
    });

    it('with denyNeedsQuorum, denies as soon as the quorum of approvals can no longer be reached', async function () {
      const rec = await engine.request({ msg: sampleMessage(), policy: policy({ approvers: [ANA, BEN, CAY], quorum: 3, denyNeedsQuorum: true }) });
      await vote(rec.id, 'slack:U0ANA', 'approve');
      const deny = await vote(rec.id, 'telegram:1001', 'deny');
      assert.ok(deny.ok && deny.resolved, 'one deny of three makes three approvals impossible');
      assert.equal(resolved[0].record.state, 'denied');
      assert.equal(resolved[0].record.reason, 'the quorum of 3 can no longer be reached');
    });

    it('counts the escalation list among those who can still approve once escalated', async function () {
      const rec = await engine.request({
        msg: sampleMessage(),
        policy: policy({ approvers: [ANA, BEN], quorum: 2, denyNeedsQuorum: true, escalateAfterMs: 5 * MIN, escalation: [BOSS] }),
      });
      await clock.advance(5 * MIN, [engine]);
      await vote(rec.id, 'slack:U0ANA', 'deny');
      assert.equal(resolved.length, 0, 'Ben and Boss can still make two approvals');
      await vote(rec.id, 'telegram:1001', 'approve');
      const boss = await vote(rec.id, 'email:boss@example.org', 'approve');
      assert.ok(boss.ok && boss.resolved);
      assert.equal(resolved[0].record.state, 'approved');
      assert.equal(resolved[0].record.reason, '2 of 2 required approvals');
    });

    it('the escalation list may not decide at a reminder before the escalation time', async function () {
      const rec = await engine.request({
        msg: sampleMessage(),
        policy: policy({ remindAfterMs: [2 * MIN], escalateAfterMs: 5 * MIN, escalation: [BOSS] }),
      });
      await clock.advance(2 * MIN, [engine]);
      assert.equal(audit.records.filter((r) => r.type === 'approval.reminder').length, 1);
      const early = await vote(rec.id, 'email:boss@example.org', 'approve');
      assert.equal(!early.ok && early.code, 'not-approver');
      await clock.advance(3 * MIN, [engine]);
      assert.equal((await vote(rec.id, 'email:boss@example.org', 'approve')).ok, true);
    });

    it('a reminder tells which reminder time it is, the last one due', async function () {
      const reminders: Array<ApprovalEvents['reminder']> = [];
      engine.on('reminder', (ev) => reminders.push(ev));
      await engine.request({ msg: sampleMessage(), policy: policy({ remindAfterMs: [MIN, 2 * MIN] }) });
      clock.t += 3 * MIN - 1; // both due when the (late) timer runs
      await clock.advance(1, [engine]);
      assert.equal(reminders.length, 1);
      assert.equal(reminders[0].afterMs, 2 * MIN);
      assert.equal(audit.records.find((r) => r.type === 'approval.reminder')?.afterMs, 2 * MIN);
    });

    it('a timeout says what it decided', async function () {
      await engine.request({ msg: sampleMessage(), policy: policy() });
      await engine.request({ msg: sampleMessage(), policy: policy({ onTimeout: 'approve' }) });
      await clock.advance(30 * MIN, [engine]);
      assert.deepEqual(
        resolved.map((r) => [r.record.state, r.record.reason]),
        [
          ['expired', 'timed out'],
          ['approved', 'timed out; the timeout outcome is approve'],
        ],
      );
    });

    it('audits an escalation with whom it went to and why', async function () {
      await engine.request({ msg: sampleMessage(), policy: policy({ remindAfterMs: [MIN], escalateAfterMs: 2 * MIN, escalation: [BOSS] }) });
      await engine.request({ msg: sampleMessage(), policy: policy({ onTimeout: 'escalate', escalation: [BOSS], escalationTimeoutMs: MIN }) });
      await clock.advance(30 * MIN, [engine]);
      const strip = (r: Record<string, unknown>) => ({ to: r.to, reason: r.reason });
      assert.deepEqual(
        audit.records.filter((r) => r.type === 'approval.reminder').map((r) => r.to),
        [['Ana', 'Ben', 'Cay']],
      );
      assert.deepEqual(audit.records.filter((r) => r.type === 'approval.escalated').map(strip), [
        { to: ['Boss'], reason: 'after' },
        { to: ['Boss'], reason: 'timeout' },
      ]);
      assert.equal(audit.records.find((r) => r.reason === 'timeout')?.expiresAt, new Date(clock.t + MIN).toISOString());
    });

    it('an escalation timeout that runs out says so', async function () {
      await engine.request({ msg: sampleMessage(), policy: policy({ onTimeout: 'escalate', escalation: [BOSS], escalationTimeoutMs: MIN }) });
      await clock.advance(31 * MIN, [engine]);
      assert.equal(resolved[0].record.state, 'expired');
      assert.equal(resolved[0].record.reason, 'timed out after escalation');
    });
  });

  describe('refusals', function () {
    it('refuses malformed votes as bad input, without throwing, and audits them', async function () {
      const rec = await engine.request({ msg: sampleMessage(), policy: policy() });
      const cases: Array<[unknown, string]> = [
        [null, 'decision must be approve or deny'],
        [{ id: rec.id, identity: 'slack:U0ANA', decision: 'maybe', channel: 'page' }, 'decision must be approve or deny'],
        [{ id: rec.id, identity: 'slack:U0ANA', decision: 'approve', channel: '' }, 'the decision names no channel'],
        [{ id: rec.id, identity: 'slack:U0ANA', decision: 'approve' }, 'the decision names no channel'],
      ];
      for (const [input, reason] of cases) {
        const r = await engine.decide(input as never);
        assert.deepEqual(r, { ok: false, code: 'bad-input', reason }, JSON.stringify(input));
      }
      const refused = audit.records.filter((r) => r.type === 'approval.refused');
      assert.equal(refused.length, 4);
      assert.deepEqual(refused[0], { type: 'approval.refused', approval: '', code: 'bad-input', reason: 'decision must be approve or deny' });
      assert.equal(refused[1].approval, rec.id);
      assert.equal(refused[1].identity, 'slack:U0ANA');
      assert.equal(refused[1].channel, 'page');
      assert.equal((await engine.get(rec.id))?.votes.length, 0);
    });

    it('refuses a malformed identity as bad input', async function () {
      const rec = await engine.request({ msg: sampleMessage(), policy: policy() });
      const r = await engine.decide({ id: rec.id, identity: 'icq:1', decision: 'approve', channel: 'page' });
      assert.equal(!r.ok && r.code, 'bad-input');
      assert.match(!r.ok ? r.reason : '', /^approver identity must be <channel>:<id>/);
    });

    it('emits each refusal for the channels to show', async function () {
      const events: Array<ApprovalEvents['refused']> = [];
      engine.on('refused', (ev) => events.push(ev));
      await engine.decide(null as never);
      await engine.refuse({ channel: 'page', code: 'unknown', reason: 'forged' });
      assert.deepEqual(events, [
        { id: '', identity: undefined, channel: undefined, code: 'bad-input', reason: 'decision must be approve or deny' },
        { id: '', identity: undefined, channel: 'page', code: 'unknown', reason: 'forged' },
      ]);
      assert.deepEqual(audit.records.at(-1), { type: 'approval.refused', approval: '', code: 'unknown', reason: 'forged', channel: 'page' });
    });

    it('tells why a vote is refused, with the approval as it stands', async function () {
      const rec = await engine.request({ msg: sampleMessage(), policy: policy() });
      await vote(rec.id, 'slack:U0ANA', 'approve');
      const again = await vote(rec.id, 'email:ana@example.org', 'deny');
      assert.equal(!again.ok && again.reason, `Ana already voted on approval ${rec.id}`);
      assert.equal(!again.ok && again.record?.votes.length, 1);
      const stranger = await vote(rec.id, 'editor:eve', 'approve');
      assert.equal(!stranger.ok && stranger.reason, `editor:eve may not decide approval ${rec.id}`);
      await vote(rec.id, 'telegram:1001', 'approve');
      const late = await vote(rec.id, 'editor:cay', 'approve');
      assert.equal(!late.ok && late.reason, `approval ${rec.id} was already approved`);
      assert.equal(!late.ok && late.record?.state, 'approved');
      const rec2 = await engine.request({ msg: sampleMessage(), policy: policy() });
      clock.t = rec2.expiresAt;
      const expired = await vote(rec2.id, 'editor:cay', 'approve');
      assert.equal(!expired.ok && expired.reason, `approval ${rec2.id} expired at ${new Date(rec2.expiresAt).toISOString()}`);
    });

    it('keeps what a refusal audits short, whatever length the caller sent', async function () {
      await engine.decide({ id: 'i'.repeat(1000), identity: `slack:${'U'.repeat(1000)}`, decision: 'approve', channel: 'c'.repeat(1000) });
      await engine.decide({ id: 'j'.repeat(1000), identity: 'slack:U0ANA', decision: 'approve', channel: 'page' });
      await engine.refuse({ id: 'k'.repeat(1000), identity: 'm'.repeat(1000), channel: 'n'.repeat(1000), code: 'link-used', reason: 'r' });
      const [badInput, unknown, refused] = audit.records.filter((r) => r.type === 'approval.refused');
      for (const r of [badInput, refused]) {
        assert.equal(String(r.approval).length, 100);
        assert.equal(String(r.identity).length, 260);
        assert.equal(String(r.channel).length, 40);
      }
      assert.equal(unknown.reason, `no approval ${'j'.repeat(100)}`);
    });

    it('refuses a vote on an unknown approval', async function () {
      const r = await engine.decide({ id: 'no-such-id', identity: 'slack:U0ANA', decision: 'approve', channel: 'slack' });
      assert.deepEqual(r, { ok: false, code: 'unknown', reason: 'no approval no-such-id' });
    });

    it('refuses requests once stopped', async function () {
      await engine.stop();
      await assert.rejects(engine.request({ msg: sampleMessage(), policy: policy() }), /the approval engine is stopped/);
    });
  });

  describe('confirm: the approval must be one this hub decided, as recorded', function () {
    async function decided(): Promise<Record<string, unknown>> {
      const rec = await engine.request({ msg: sampleMessage(), policy: policy({ quorum: 1 }) });
      await vote(rec.id, 'slack:U0ANA', 'approve');
      return resolved[0].message;
    }
    const reason = (check: ApprovalCheck): string => (check.ok ? 'ok' : check.reason);

    it('refuses an id this hub never decided', async function () {
      const msg = {
        ...sampleMessage(),
        approval: { id: 'ap-x', decision: 'approved', by: [], fields: ['alert.source.ip'], digest: approvalDigest(sampleMessage(), ['alert.source.ip']) },
      };
      const check = await engine.confirm(msg, '203.0.113.7');
      assert.equal(check.ok, false);
      assert.equal(reason(check), 'approval ap-x is not one this hub decided (or it is older than the retention time)');
    });

    it('passes on why the message itself does not match its approval', async function () {
      const msg = await decided();
      const changed = { ...msg, alert: { source: { ip: '198.51.100.66' } } };
      assert.match(reason(await engine.confirm(changed, '198.51.100.66')), /alert\.source\.ip changed after it was approved$/);
    });

    it('refuses a denied approval relabelled approved', async function () {
      const rec = await engine.request({ msg: sampleMessage(), policy: policy({ quorum: 1 }) });
      await vote(rec.id, 'slack:U0ANA', 'deny');
      const msg = resolved[0].message;
      const relabelled = { ...msg, approval: { ...(msg.approval as MsgApproval), decision: 'approved' } };
      assert.match(reason(await engine.confirm(relabelled, '203.0.113.7')), /does not match what this hub recorded/);
    });

    it('refuses other decisive fields or another value with a digest recomputed to match', async function () {
      const msg = await decided();
      const approval = msg.approval as MsgApproval;
      const wider = { ...msg, approval: { ...approval, fields: ['alert.source.ip', 'payload'], digest: approvalDigest(msg, ['alert.source.ip', 'payload']) } };
      assert.match(reason(await engine.confirm(wider, '203.0.113.7')), /does not match what this hub recorded/);
      const other = { ...msg, alert: { source: { ip: '198.51.100.66' } } };
      const swapped = { ...other, approval: { ...approval, digest: approvalDigest(other, ['alert.source.ip']) } };
      assert.match(reason(await engine.confirm(swapped, '198.51.100.66')), /does not match what this hub recorded/);
      const narrowed = { ...msg, approval: { ...approval, by: [] } };
      assert.match(reason(await engine.confirm(narrowed, '203.0.113.7')), /does not match what this hub recorded/);
      assert.deepEqual(await engine.confirm(msg, '203.0.113.7'), { ok: true, id: approval.id });
    });

    it('keeps decisions for the configured retention time, then no longer confirms them', async function () {
      await engine.stop();
      engine = makeEngine({ retentionMs: 10 * MIN });
      const msg = await decided();
      const id = (msg.approval as MsgApproval).id;
      clock.t += 10 * MIN - 1;
      assert.equal((await engine.confirm(msg, '203.0.113.7')).ok, true);
      assert.equal((await engine.get(id))?.state, 'approved');
      clock.t += 1;
      assert.equal((await engine.confirm(msg, '203.0.113.7')).ok, false);
      assert.equal(await engine.get(id), undefined);
    });

    it('keeps decisions for 7 days by default', async function () {
      const msg = await decided();
      clock.t += 7 * 24 * 60 * MIN - 1;
      assert.equal((await engine.confirm(msg, '203.0.113.7')).ok, true);
      clock.t += 1;
      assert.equal(await store.get(DECISIONS_NS, (msg.approval as MsgApproval).id), undefined);
    });
  });

  describe('records and restarts', function () {
    it('keeps the asking node and the deciding comment; audits the request with what was asked', async function () {
      const msg = { ...sampleMessage(), req: { socket: {} } };
      const rec = await engine.request({ msg, policy: policy({ quorum: 1 }), action: 'block IP', origin: 'node-1' });
      assert.equal(rec.origin, 'node-1');
      const requested = audit.records.find((r) => r.type === 'approval.requested');
      assert.equal(requested?.action, 'block IP');
      assert.equal(requested?.target, '203.0.113.7');
      assert.equal(requested?.origin, 'node-1');
      assert.deepEqual(requested?.dropped, ['req']);
      assert.deepEqual(requested?.approvers, ['Ana', 'Ben', 'Cay']);
      await vote(rec.id, 'slack:U0ANA', 'approve', '  ok, \u0007blocking\u0000 ');
      assert.equal(resolved[0].record.comment, 'ok, blocking');
      assert.equal((await engine.get(rec.id))?.comment, 'ok, blocking');
      assert.equal(audit.records.find((r) => r.type === 'approval.decided')?.target, '203.0.113.7');
    });

    it('cuts a comment at 1000 characters and drops one that is only blanks', async function () {
      const rec = await engine.request({ msg: sampleMessage(), policy: policy({ quorum: 3 }) });
      await vote(rec.id, 'slack:U0ANA', 'approve', 'x'.repeat(1000));
      await vote(rec.id, 'telegram:1001', 'approve', 'y'.repeat(1001));
      await vote(rec.id, 'editor:cay', 'deny', ' \u0001 ');
      const votes = (await engine.get(rec.id))!.votes;
      assert.equal(votes[0].comment, 'x'.repeat(1000));
      assert.equal(votes[1].comment, 'y'.repeat(1000));
      assert.equal('comment' in votes[2], false);
    });

    it('finishes at start a decision claimed just before a crash, once', async function () {
      const rec = await engine.request({ msg: sampleMessage(), policy: policy({ quorum: 1 }) });
      await engine.stop();
      // What a kill -9 between the decision claim and the record write leaves behind.
      const decision: MsgApproval = {
        id: rec.id,
        decision: 'approved',
        by: ['slack:U0ANA'],
        at: new Date(clock.t).toISOString(),
        digest: rec.digest,
        fields: rec.policy.fields,
      };
      await store.setIfAbsent(DECISIONS_NS, rec.id, { decision, reason: '1 of 1 required approvals' });
      engine = makeEngine();
      assert.deepEqual(await engine.start(), { pending: 0, expired: 0, redelivered: 1 });
      assert.equal(resolved.length, 1);
      assert.deepEqual(resolved[0].approval, decision);
      assert.equal((await engine.get(rec.id))?.state, 'approved');
      const late = await vote(rec.id, 'telegram:1001', 'deny');
      assert.equal(!late.ok && late.code, 'decided');
    });

    it('a decision that fails on the store is reported to its caller and does not hang shutdown', async function () {
      const rec = await engine.request({ msg: sampleMessage(), policy: policy() });
      await store.close();
      await assert.rejects(vote(rec.id, 'slack:U0ANA', 'approve'), /is closed/);
      await engine.idle();
      store = await openStore(dir, clock);
    });

    it('refuses, audited, a message that fails while being held', async function () {
      const msg = sampleMessage();
      Object.defineProperty(msg, 'broken', {
        enumerable: true,
        get() {
          throw new Error('boom');
        },
      });
      await assert.rejects(
        engine.request({ msg, policy: policy(), origin: 'node-1' }),
        (err: Error) => err instanceof ApprovalError && err.code === 'bad-policy' && err.message === 'approval request failed: boom',
      );
      const refused = audit.records.find((r) => r.type === 'approval.refused');
      assert.equal(refused?.code, 'error');
      assert.equal(refused?.reason, 'approval request failed: boom');
      assert.equal(refused?.origin, 'node-1');
    });

    it('lists only pending approvals as pending', async function () {
      const open = await engine.request({ msg: sampleMessage(), policy: policy() });
      const done = await engine.request({ msg: sampleMessage(), policy: policy({ quorum: 1 }) });
      await vote(done.id, 'slack:U0ANA', 'approve');
      assert.deepEqual(
        (await engine.pending()).map((r) => r.id),
        [open.id],
      );
    });

    it('at start counts the approvals that expired while down, the expiry instant included', async function () {
      await engine.request({ msg: sampleMessage(), policy: policy({ timeoutMs: 10 * MIN }) });
      await engine.request({ msg: sampleMessage(), policy: policy({ timeoutMs: 20 * MIN }) });
      await engine.request({ msg: sampleMessage(), policy: policy({ timeoutMs: 30 * MIN }) });
      await engine.stop();
      clock.t += 20 * MIN;
      engine = makeEngine();
      const loaded = await engine.start();
      assert.deepEqual(loaded, { pending: 3, expired: 2, redelivered: 0 });
    });

    it('marking a pending approval delivered does not keep its decision from being sent after a restart', async function () {
      const rec = await engine.request({ msg: sampleMessage(), policy: policy({ quorum: 1 }) });
      await engine.delivered(rec.id);
      await vote(rec.id, 'slack:U0ANA', 'approve');
      await engine.stop();
      engine = makeEngine();
      assert.equal((await engine.start()).redelivered, 1);
      assert.equal(resolved.length, 2);
      assert.equal(resolved[1].record.id, rec.id);
      assert.equal(resolved[1].approval.decision, 'approved');
      assert.equal((resolved[1].message.approval as MsgApproval).decision, 'approved');
    });

    it('a delivered decision is kept for the retention time, not forever', async function () {
      await engine.stop();
      engine = makeEngine({ retentionMs: MIN });
      const rec = await engine.request({ msg: sampleMessage(), policy: policy({ quorum: 1 }) });
      await vote(rec.id, 'slack:U0ANA', 'approve');
      await engine.delivered(rec.id);
      assert.equal((await engine.get(rec.id))?.delivered, true);
      clock.t += MIN;
      assert.equal(await engine.get(rec.id), undefined);
    });
  });

  describe('timers and shutdown', function () {
    it('stop() lets a decision in flight finish', async function () {
      const rec = await engine.request({ msg: sampleMessage(), policy: policy() });
      const pending = vote(rec.id, 'slack:U0ANA', 'approve');
      await engine.stop();
      assert.equal((await store.get<{ votes: unknown[] }>('approvals', rec.id))?.votes.length, 1);
      assert.equal((await pending).ok, true);
    });

    it('reports a timer run that failed', async function () {
      const rec = await engine.request({ msg: sampleMessage(), policy: policy() });
      await store.close();
      await clock.advance(30 * MIN, [engine]);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], new RegExp(`^approval ${rec.id}: state store .* is closed$`));
      store = await openStore(dir, clock);
    });

    it('without injected timers, expires on real time', async function () {
      await engine.stop();
      const real = new ApprovalEngine({ store, audit, warn: (m) => warnings.push(m) });
      const done = new Promise<ApprovalEvents['resolved']>((resolve) => real.on('resolved', resolve));
      await real.request({ msg: sampleMessage(), policy: policy({ timeoutMs: 20 }) });
      const ev = await done;
      assert.equal(ev.record.state, 'expired');
      await real.stop();
    });

    it('without injected timers, waits on an approval longer than a timer can hold without spinning', async function () {
      await engine.stop();
      const seen: string[] = [];
      const onWarning = (w: Error) => seen.push(w.name);
      process.on('warning', onWarning);
      const real = new ApprovalEngine({ store, audit, warn: (m) => warnings.push(m) });
      try {
        const rec = await real.request({ msg: sampleMessage(), policy: policy({ timeoutMs: 30 * 24 * 60 * MIN, remindAfterMs: [25 * 24 * 60 * MIN] }) });
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.deepEqual(seen, []);
        assert.equal((await real.get(rec.id))?.reminded.length, 0);
      } finally {
        process.off('warning', onWarning);
        await real.stop();
      }
    });

    it('without a warn option, reports problems as process warnings', async function () {
      await engine.stop();
      const real = new ApprovalEngine({ store, audit, now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer });
      real.on('requested', () => {
        throw new Error('listener broke');
      });
      const original = process.emitWarning;
      const emitted: unknown[][] = [];
      process.emitWarning = ((...args: unknown[]) => emitted.push(args)) as typeof process.emitWarning;
      try {
        await real.request({ msg: sampleMessage(), policy: policy() });
      } finally {
        process.emitWarning = original;
      }
      assert.deepEqual(emitted, [['approval requested listener failed: listener broke', 'SoarApprovalWarning']]);
      await real.stop();
    });
  });

  describe('listeners and the audit log', function () {
    it('stops calling a listener once it unsubscribed; calls every other one', async function () {
      const a: string[] = [];
      const b: string[] = [];
      const off = engine.on('requested', (ev) => a.push(ev.record.id));
      engine.on('requested', (ev) => b.push(ev.record.id));
      const first = await engine.request({ msg: sampleMessage(), policy: policy() });
      off();
      await engine.request({ msg: sampleMessage(), policy: policy() });
      assert.deepEqual(a, [first.id]);
      assert.equal(b.length, 2);
    });

    it('a failing listener is reported and does not stop the decision', async function () {
      engine.on('resolved', () => {
        throw new Error('listener broke');
      });
      const rec = await engine.request({ msg: sampleMessage(), policy: policy({ quorum: 1 }) });
      const r = await vote(rec.id, 'slack:U0ANA', 'approve');
      assert.ok(r.ok && r.resolved);
      assert.equal((await engine.get(rec.id))?.state, 'approved');
      assert.deepEqual(warnings, ['approval resolved listener failed: listener broke']);
    });

    it('a failing audit log is reported and does not stop the decision', async function () {
      await engine.stop();
      engine = makeEngine({
        append: async () => {
          throw new Error('disk full');
        },
      });
      const rec = await engine.request({ msg: sampleMessage(), policy: policy({ quorum: 1 }) });
      const r = await vote(rec.id, 'slack:U0ANA', 'approve');
      assert.ok(r.ok && r.resolved);
      assert.equal(resolved.at(-1)?.record.state, 'approved');
      assert.ok(warnings.includes('approval audit record approval.decided could not be written: disk full'), warnings.join('\n'));
    });
  });
});
