import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { noticeOf } from '../../../lib/approval/dispatch';
import { ApprovalEngine } from '../../../lib/approval/engine';
import { ApprovalLinks, hashToken, LINKS_NS } from '../../../lib/approval/links';
import { createApprovalPageHandler, escapeHtml } from '../../../lib/approval/page';
import type { FileStateStore } from '../../../lib/core/file-store';
import { ANA, BEN, FakeClock, memoryAudit, openStore, sampleMessage, tempDir } from './helpers';

describe('approval links and page handler', function () {
  let dir: string;
  let clock: FakeClock;
  let store: FileStateStore;
  let engine: ApprovalEngine;
  let links: ApprovalLinks;
  let server: http.Server;
  let base: string;
  let audit: ReturnType<typeof memoryAudit>;

  beforeEach(async function () {
    dir = tempDir('soar-approval-links-');
    clock = new FakeClock();
    store = await openStore(dir, clock);
    audit = memoryAudit();
    engine = new ApprovalEngine({ store, audit, now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer });
    await engine.start();
    links = new ApprovalLinks({ store, engine });
    const handler = createApprovalPageHandler({ links });
    server = http.createServer((req, res) => void handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/soar/approval/`;
  });
  afterEach(async function () {
    await new Promise((resolve) => server.close(resolve));
    await engine.stop();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const post = (url: string, body = 'comment=ok', type = 'application/x-www-form-urlencoded') =>
    fetch(url, { method: 'POST', body, headers: { 'content-type': type } }).then(async (r) => ({ status: r.status, text: await r.text() }));

  it('mints one 256-bit token per identity and decision and stores only its SHA-256', async function () {
    const record = await engine.request({ msg: sampleMessage(), policy: { approvers: [ANA, BEN], timeoutMs: 60_000 } });
    const minted = await links.mint(record, base);
    assert.equal(minted.length, 8, '4 identities x approve/deny');
    assert.equal(new Set(minted.map((l) => l.token)).size, 8);
    for (const l of minted) assert.equal(Buffer.from(l.token, 'base64url').length, 32);
    const stored = await store.list(LINKS_NS);
    assert.deepEqual(stored.map((e) => e.key).sort(), minted.map((l) => hashToken(l.token)).sort());
    await store.flush();
    const onDisk = fs
      .readdirSync(dir)
      .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
      .join('\n');
    for (const l of minted) assert.ok(!onDisk.includes(l.token), 'no token on disk');
  });

  it('lets two racing POSTs of the same link decide once', async function () {
    const record = await engine.request({ msg: sampleMessage(), policy: { approvers: [ANA, BEN], quorum: 2, timeoutMs: 60_000 } });
    const [approve] = await links.mint(record, base, ['slack:U0ANA']);
    const results = await Promise.all([post(approve.url), post(approve.url), post(approve.url)]);
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 409, 409]);
    const after = await engine.get(record.id);
    assert.equal(after?.votes.length, 1);
    assert.equal(after?.state, 'pending', 'one approval of the two needed');
  });

  it('refuses a POST that is not a form, an oversized form, and other methods, deciding nothing', async function () {
    const record = await engine.request({ msg: sampleMessage(), policy: { approvers: [ANA], timeoutMs: 60_000 } });
    const [approve] = await links.mint(record, base, ['email:ana@example.org']);
    assert.equal((await post(approve.url, '{"comment":"x"}', 'application/json')).status, 415);
    assert.equal((await post(approve.url, `comment=${'x'.repeat(20_000)}`)).status, 413);
    assert.equal((await fetch(approve.url, { method: 'PUT' })).status, 405);
    assert.equal((await engine.get(record.id))?.votes.length, 0);
    assert.equal((await post(approve.url)).status, 200);
    assert.equal((await engine.get(record.id))?.state, 'approved');
  });

  it('audits a forged, a replayed and a late link POST as refusals, without the token, and decides nothing', async function () {
    const record = await engine.request({ msg: sampleMessage(), policy: { approvers: [ANA, BEN], quorum: 2, timeoutMs: 60_000 } });
    const minted = await links.mint(record, base, ['email:ana@example.org', 'email:ben@example.org']);
    const anaApprove = minted.find((l) => l.identity === 'email:ana@example.org' && l.decision === 'approve')!;
    const benApprove = minted.find((l) => l.identity === 'email:ben@example.org' && l.decision === 'approve')!;
    const refusals = () => audit.records.filter((r) => r.type === 'approval.refused');

    const forged = `${base}${'B'.repeat(43)}`;
    assert.equal((await post(forged)).status, 404);
    assert.equal((await fetch(forged)).status, 404);
    assert.deepEqual(
      refusals().map((r) => [r.code, r.channel]),
      [['unknown', 'page']],
      'the forged POST is audited once; a GET decides nothing and is not a refusal',
    );

    assert.equal((await post(anaApprove.url)).status, 200);
    assert.equal((await post(anaApprove.url)).status, 409);
    const replay = refusals()[1];
    assert.equal(replay?.code, 'link-used');
    assert.equal(replay?.approval, record.id);
    assert.equal(replay?.identity, 'email:ana@example.org');

    await clock.advance(60_001, [engine]);
    assert.equal((await post(benApprove.url)).status, 410);
    const late = refusals()[2];
    assert.equal(late?.code, 'expired');
    assert.equal(late?.approval, record.id);
    const after = await engine.get(record.id);
    assert.equal(after?.state, 'expired');
    assert.equal(after?.votes.length, 1);
    const text = JSON.stringify(audit.records);
    for (const l of minted) assert.ok(!text.includes(l.token), 'no link token in the audit');
  });

  it('audits at most 20 unknown-link POSTs a minute, and says how many more came', async function () {
    const forged = `${base}${'D'.repeat(43)}`;
    for (let i = 0; i < 25; i++) assert.equal((await post(forged)).status, 404);
    const unknown = () => audit.records.filter((r) => r.type === 'approval.refused' && r.code === 'unknown');
    assert.equal(unknown().length, 20);
    clock.t += 60_000;
    await post(forged);
    assert.equal(unknown().length, 21);
    assert.match(String(unknown()[20].reason), /; 5 more such POSTs before this one were not recorded one by one$/);
  });

  it('a POST on a link whose approval expired before its timer ran is refused, audited, and resolves the timeout', async function () {
    const record = await engine.request({ msg: sampleMessage(), policy: { approvers: [ANA], timeoutMs: 60_000 } });
    const [approve] = await links.mint(record, base, ['email:ana@example.org']);
    clock.t += 60_001; // the expiry timer has not run
    assert.equal((await post(approve.url)).status, 410);
    assert.equal(audit.records.filter((r) => r.type === 'approval.refused' && r.code === 'expired').length, 1);
    assert.equal((await engine.get(record.id))?.state, 'expired');
    assert.equal(audit.records.filter((r) => r.type === 'approval.expired').length, 1);
  });

  it('with the decisive field enrichment.indicators the page names the accused indicators as the target and lists every covered one with its verdict', async function () {
    const msg = sampleMessage();
    msg.enrichment = {
      verdict: 'malicious',
      score: 92,
      why: ['203.0.113.44: abuse feed'],
      indicators: {
        '198.51.100.9': { verdict: 'benign', score: 0 },
        '203.0.113.44': { verdict: 'malicious', score: 92 },
        'evil.example': { verdict: 'suspicious', score: 50 },
        '203.0.113.45': { verdict: 'malicious', score: 80 },
        'x<b>y': { verdict: 'unknown' },
      },
    };
    const record = await engine.request({ msg, policy: { approvers: [ANA], timeoutMs: 60_000, fields: ['enrichment.indicators'] }, action: 'block IP' });
    assert.equal(record.summary.target, '203.0.113.44, 203.0.113.45');
    assert.deepEqual(record.summary.covers, [
      { field: 'enrichment.indicators', value: '203.0.113.44', verdict: 'malicious', score: 92 },
      { field: 'enrichment.indicators', value: '203.0.113.45', verdict: 'malicious', score: 80 },
      { field: 'enrichment.indicators', value: 'evil.example', verdict: 'suspicious', score: 50 },
      { field: 'enrichment.indicators', value: 'x<b>y', verdict: 'unknown' },
      { field: 'enrichment.indicators', value: '198.51.100.9', verdict: 'benign', score: 0 },
    ]);
    const [approve] = await links.mint(record, base, ['email:ana@example.org']);
    const html = await (await fetch(approve.url)).text();
    assert.match(html, /<dt>Target<\/dt><dd>203\.0\.113\.44, 203\.0\.113\.45<\/dd>/);
    assert.match(html, /<h2>This approval covers<\/h2>/);
    const items = [...html.matchAll(/<li class="covers">(.*?)<\/li>/g)].map((m) => m[1]);
    assert.deepEqual(items, [
      '203.0.113.44 — malicious (score 92)',
      '203.0.113.45 — malicious (score 80)',
      'evil.example — suspicious (score 50)',
      'x&#60;b&#62;y — unknown',
      '198.51.100.9 — benign (score 0)',
    ]);
    const audited = audit.records.find((r) => r.type === 'approval.requested' && r.approval === record.id);
    assert.equal(audited?.target, '203.0.113.44, 203.0.113.45');
    const notice = noticeOf(record, 'request', [], []);
    assert.equal(notice.fields.target, '203.0.113.44, 203.0.113.45');
    assert.ok(notice.summary.includes(`Covers: ${items.join('; ').replace('&#60;b&#62;', '<b>')}`), notice.summary.join(' | '));
  });

  it('escapes everything that comes from the message', async function () {
    assert.equal(escapeHtml(`<a href="x" onclick='y'>&</a>`), '&#60;a href&#61;&#34;x&#34; onclick&#61;&#39;y&#39;&#62;&#38;&#60;/a&#62;');
    const msg = sampleMessage('"><img src=x onerror=alert(1)>');
    const record = await engine.request({ msg, policy: { approvers: [ANA], timeoutMs: 60_000 } });
    const [approve] = await links.mint(record, base, ['email:ana@example.org']);
    const page = await (await fetch(approve.url)).text();
    assert.ok(!page.includes('<img'), 'no markup from the message');
    assert.ok(!page.includes('<script>alert'), 'the title is escaped');
    assert.ok(page.includes('&#60;script&#62;'));
  });
});
