import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApprovalEngine } from '../../lib/approval/engine';
import { ApprovalLinks, type MintedLink } from '../../lib/approval/links';
import { APPROVAL_PAGE_CSP, createApprovalPageHandler } from '../../lib/approval/page';
import type { ApprovalRecord } from '../../lib/approval/records';
import { FileStateStore } from '../../lib/core/file-store';
import { ANA, BEN, memoryAudit, sampleMessage, tempDir } from '../unit/approval/helpers';
import { launchChromium, skipWithoutChromium } from '../helpers/browser';

describe('the approval page in headless Chromium (e2e)', function () {
  this.timeout(120000);
  let dir: string;
  let store: FileStateStore;
  let engine: ApprovalEngine;
  let links: ApprovalLinks;
  let server: http.Server;
  let base: string;
  let skew = 0;
  const audit = memoryAudit();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let browser: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let page: any;

  const now = () => Date.now() + skew;

  async function ask(): Promise<{ record: ApprovalRecord; link: (who: string, d: 'approve' | 'deny') => MintedLink }> {
    const record = await engine.request({ msg: sampleMessage(), policy: { approvers: [ANA, BEN], quorum: 1, timeoutMs: 3600_000 }, action: 'block IP' });
    const minted = await links.mint(record, `${base}/soar/approval/`, ['email:ana@example.org', 'email:ben@example.org']);
    return { record, link: (who, d) => minted.find((l) => l.identity === who && l.decision === d)! };
  }

  before(async function () {
    skipWithoutChromium(this);
    dir = tempDir('soar-approval-page-');
    store = await FileStateStore.open(dir, { fsync: false, now });
    engine = new ApprovalEngine({ store, audit, now });
    await engine.start();
    links = new ApprovalLinks({ store, engine });
    const handler = createApprovalPageHandler({ links });
    server = http.createServer((req, res) => void handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
    page = await browser.newPage();
  });
  after(async function () {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await engine?.stop();
    await store?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('approves with a comment through the confirm form; the page escapes the message and needs no script', async function () {
    const { record, link } = await ask();
    const scripts: string[] = [];
    page.on('request', (r: { url(): string }) => scripts.push(r.url()));
    const response = await page.goto(link('email:ana@example.org', 'approve').url);
    assert.equal(response.status(), 200);
    assert.equal(response.headers()['content-security-policy'], APPROVAL_PAGE_CSP);
    assert.equal(response.headers()['cache-control'], 'no-store');
    assert.equal(await page.locator('h1').textContent(), 'SSH brute force <script>alert(1)</script>');
    assert.equal(await page.locator('script').count(), 0);
    // The strict CSP lets exactly the page's own style through (its hash), nothing else.
    assert.equal(await page.locator('button[type=submit]').evaluate((el: Element) => getComputedStyle(el).backgroundColor), 'rgb(26, 127, 55)');
    assert.match(await page.locator('body').textContent(), /203\.0\.113\.7/);
    assert.match(await page.locator('body').textContent(), /abuseipdb: 100% confidence/);
    await page.fill('textarea[name=comment]', 'confirmed with the on-call <b>team</b>');
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    assert.equal(await page.locator('h1').textContent(), 'Decision recorded');
    assert.match(await page.locator('body').textContent(), /now approved/);
    assert.ok(
      scripts.every((u) => u.startsWith(base)),
      `only the page itself was fetched: ${scripts.join(', ')}`,
    );
    const after = await engine.get(record.id);
    assert.equal(after?.state, 'approved');
    assert.equal(after?.votes[0].comment, 'confirmed with the on-call <b>team</b>');
    assert.equal(after?.votes[0].channel, 'page');
    assert.deepEqual(after?.decision?.by, ['email:ana@example.org']);
  });

  it('works with JavaScript turned off: the confirm form approves with a comment', async function () {
    const { record, link } = await ask();
    const context = await browser.newContext({ javaScriptEnabled: false });
    try {
      const noJs = await context.newPage();
      const fetched: string[] = [];
      noJs.on('request', (r: { url(): string }) => fetched.push(r.url()));
      assert.equal((await noJs.goto(link('email:ben@example.org', 'approve').url)).status(), 200);
      await noJs.fill('textarea[name=comment]', 'approved without scripts');
      await Promise.all([noJs.waitForNavigation(), noJs.click('button[type=submit]')]);
      assert.equal(await noJs.locator('h1').textContent(), 'Decision recorded');
      assert.ok(
        fetched.every((u) => u.startsWith(base)),
        `only the page itself was fetched: ${fetched.join(', ')}`,
      );
    } finally {
      await context.close();
    }
    const after = await engine.get(record.id);
    assert.equal(after?.state, 'approved');
    assert.equal(after?.votes[0].comment, 'approved without scripts');
  });

  it('shows "already decided" for a reused link and for the other approver\'s link, and a POST changes nothing', async function () {
    const { record, link } = await ask();
    const url = link('email:ana@example.org', 'approve').url;
    await page.goto(url);
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    const again = await page.goto(url);
    assert.equal(again.status(), 409);
    assert.match(await page.locator('h1').textContent(), /already decided/);
    assert.equal(await page.locator('form').count(), 0);
    const replay = await page.request.post(url, { form: { comment: 'again' } });
    assert.equal(replay.status(), 409);
    assert.match(await replay.text(), /already decided/);
    await page.goto(link('email:ben@example.org', 'deny').url);
    assert.match(await page.locator('h1').textContent(), /already decided/);
    const denyPost = await page.request.post(link('email:ben@example.org', 'deny').url, { form: {} });
    assert.equal(denyPost.status(), 409);
    const final = await engine.get(record.id);
    assert.equal(final?.state, 'approved');
    assert.equal(final?.votes.length, 1);
  });

  it('shows "expired" for a link of an expired approval and refuses its POST', async function () {
    const { record, link } = await ask();
    skew += 3600_000 + 1000;
    try {
      const url = link('email:ben@example.org', 'approve').url;
      const res = await page.goto(url);
      assert.equal(res.status(), 410);
      assert.match(await page.locator('h1').textContent(), /expired/);
      const post = await page.request.post(url, { form: { comment: 'late' } });
      assert.equal(post.status(), 410);
      assert.match(await post.text(), /expired/);
      assert.equal((await engine.get(record.id))?.votes.length, 0);
    } finally {
      skew = 0;
    }
  });

  it('decides nothing on GET, however often (link previews, mail scanners)', async function () {
    const { record, link } = await ask();
    for (const l of [link('email:ana@example.org', 'approve'), link('email:ben@example.org', 'deny')]) {
      await page.goto(l.url);
      assert.equal((await page.request.get(l.url)).status(), 200);
      assert.equal((await page.request.head(l.url)).status(), 200);
    }
    const still = await engine.get(record.id);
    assert.equal(still?.state, 'pending');
    assert.equal(still?.votes.length, 0);
    assert.equal(audit.records.filter((r) => r.approval === record.id && r.type !== 'approval.requested').length, 0);
  });

  it('shows a clear page for an unknown or malformed link', async function () {
    const res = await page.goto(`${base}/soar/approval/${'A'.repeat(43)}`);
    assert.equal(res.status(), 404);
    assert.match(await page.locator('h1').textContent(), /Unknown link/);
    assert.equal((await page.request.post(`${base}/soar/approval/nonsense`, { form: {} })).status(), 404);
  });
});
