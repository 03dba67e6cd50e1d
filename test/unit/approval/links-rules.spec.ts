/**
 * The rules of approval links without the page in front: who a link may be minted for, when it says
 * pending, used, decided, expired or unknown, how long it stays readable, and that it works once.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { ApprovalEngine } from '../../../lib/approval/engine';
import { ApprovalLinks } from '../../../lib/approval/links';
import type { FileStateStore } from '../../../lib/core/file-store';
import { ANA, BEN, FakeClock, memoryAudit, openStore, sampleMessage, tempDir } from './helpers';

const MIN = 60_000;

describe('approval link rules', function () {
  let dir: string;
  let clock: FakeClock;
  let store: FileStateStore;
  let engine: ApprovalEngine;
  let audit: ReturnType<typeof memoryAudit>;

  beforeEach(async function () {
    dir = tempDir('soar-approval-link-rules-');
    clock = new FakeClock();
    store = await openStore(dir, clock);
    audit = memoryAudit();
    engine = new ApprovalEngine({ store, audit, now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer });
    await engine.start();
  });
  afterEach(async function () {
    await engine.stop();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const refusals = () => audit.records.filter((r) => r.type === 'approval.refused');
  const request = (extra: Record<string, unknown> = {}) =>
    engine.request({ msg: sampleMessage(), policy: { approvers: [ANA, BEN], quorum: 2, timeoutMs: MIN, ...extra } });

  it('builds each link from the page address, with or without its trailing slash', async function () {
    const links = new ApprovalLinks({ store, engine });
    const record = await request();
    const [withSlash] = await links.mint(record, 'http://hub:1880/soar/approval/', ['slack:U0ANA']);
    assert.equal(withSlash.url, `http://hub:1880/soar/approval/${withSlash.token}`);
    const [without] = await links.mint(record, 'http://hub:1880/soar/approval', ['slack:U0ANA']);
    assert.equal(without.url, `http://hub:1880/soar/approval/${without.token}`);
  });

  it('mints no link for someone who may not decide', async function () {
    const links = new ApprovalLinks({ store, engine });
    const record = await request();
    await assert.rejects(links.mint(record, 'http://hub/', ['email:mallory@example.org']), /email:mallory@example.org may not decide approval/);
  });

  it('says unknown, without throwing, for a malformed, a non-text or a never-minted token', async function () {
    const links = new ApprovalLinks({ store, engine });
    for (const token of ['short', 'A'.repeat(44), 'A'.repeat(42) + '!', 'B'.repeat(43), undefined, 42]) {
      assert.deepEqual(await links.lookup(token as string), { status: 'unknown' }, String(token));
    }
  });

  it('keeps a link readable for the retention time after the expiry, then forgets it', async function () {
    const links = new ApprovalLinks({ store, engine, retentionMs: 10_000 });
    const record = await request();
    const [approve] = await links.mint(record, 'http://hub/', ['slack:U0ANA']);
    await clock.advance(MIN + 5_000, [engine]);
    assert.equal((await links.lookup(approve.token)).status, 'expired', 'a clear page within the retention time');
    await clock.advance(5_001, [engine]);
    assert.equal((await links.lookup(approve.token)).status, 'unknown', 'forgotten after it');
  });

  it('says expired at the expiry instant, before the timer ran, as decide() refuses it', async function () {
    const links = new ApprovalLinks({ store, engine });
    const record = await request();
    const [approve] = await links.mint(record, 'http://hub/', ['slack:U0ANA']);
    clock.t = record.expiresAt - 1;
    assert.equal((await links.lookup(approve.token)).status, 'pending');
    clock.t = record.expiresAt;
    assert.equal((await links.lookup(approve.token)).status, 'expired');
  });

  it('says expired (not decided) once the timeout resolved the approval', async function () {
    const links = new ApprovalLinks({ store, engine });
    const record = await request();
    const [approve] = await links.mint(record, 'http://hub/', ['slack:U0ANA']);
    await clock.advance(MIN, [engine]);
    assert.equal((await engine.get(record.id))?.state, 'expired');
    assert.equal((await links.lookup(approve.token)).status, 'expired');
  });

  it('says unknown once the approval itself is forgotten', async function () {
    await engine.stop();
    engine = new ApprovalEngine({ store, audit, now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer, retentionMs: 1_000 });
    const links = new ApprovalLinks({ store, engine });
    const record = await engine.request({ msg: sampleMessage(), policy: { approvers: [ANA], timeoutMs: MIN } });
    const [approve, deny] = await links.mint(record, 'http://hub/', ['slack:U0ANA']);
    assert.equal((await links.use(approve.token)).result?.ok, true);
    assert.equal((await links.lookup(deny.token)).status, 'decided');
    clock.t += 1_001;
    assert.deepEqual(await links.lookup(deny.token), { status: 'unknown' });
  });

  it('a link of a decided approval stays "decided", is refused by the engine and is not spent', async function () {
    const links = new ApprovalLinks({ store, engine });
    const record = await request({ quorum: 1 });
    const [, benDeny] = await links.mint(record, 'http://hub/', ['telegram:1001']);
    await engine.decide({ id: record.id, identity: 'slack:U0ANA', decision: 'approve', channel: 'slack' });
    const first = await links.use(benDeny.token);
    assert.equal(first.lookup.status, 'decided');
    assert.equal(first.result, undefined, 'no vote was cast');
    assert.deepEqual(
      refusals().map((r) => [r.code, r.identity, r.channel]),
      [['decided', 'telegram:1001', 'page']],
    );
    assert.equal((await links.lookup(benDeny.token)).status, 'decided');
  });

  it('a used link stays used while it is readable, even with a short retention time', async function () {
    const links = new ApprovalLinks({ store, engine, retentionMs: 1_000 });
    const record = await request();
    const [approve] = await links.mint(record, 'http://hub/', ['slack:U0ANA']);
    assert.equal((await links.use(approve.token)).result?.ok, true);
    clock.t += 30_000;
    assert.equal((await links.lookup(approve.token)).status, 'used');
    const again = await links.use(approve.token);
    assert.equal(again.lookup.status, 'used');
    const reused = refusals().at(-1);
    assert.equal(reused?.code, 'link-used');
    assert.equal(reused?.channel, 'page');
    assert.equal(reused?.reason, `the approve link of Ana for approval ${record.id} was already used`);
  });

  it('of two uses racing on one link, one votes and the other is refused as used', async function () {
    const links = new ApprovalLinks({ store, engine });
    const record = await request();
    const [approve] = await links.mint(record, 'http://hub/', ['slack:U0ANA']);
    const results = await Promise.all([links.use(approve.token), links.use(approve.token)]);
    assert.deepEqual(results.map((r) => r.lookup.status).sort(), ['pending', 'used']);
    assert.equal(results.filter((r) => r.result?.ok).length, 1);
    assert.deepEqual(
      refusals().map((r) => r.code),
      ['link-used'],
    );
    assert.equal((await engine.get(record.id))?.votes.length, 1);
  });

  it('audits the first unknown-link POST without a count, and counts by the minute of the clock', async function () {
    const links = new ApprovalLinks({ store, engine });
    clock.t = Date.parse('2026-03-01T10:00:00Z');
    for (let i = 0; i < 25; i++) {
      await links.use('C'.repeat(43));
      clock.t += 1_000; // 25 POSTs within one minute
    }
    const unknown = refusals().filter((r) => r.code === 'unknown');
    assert.equal(unknown.length, 20);
    assert.deepEqual(unknown[0], {
      type: 'approval.refused',
      approval: '',
      code: 'unknown',
      reason: 'unknown approval link (forged, mistyped, or older than the retention time)',
      channel: 'page',
    });
  });
});
