import assert from 'node:assert/strict';
import { openEditor, skipWithoutChromium } from '../helpers/browser';
import { startHub, type RunningHub } from '../helpers/hub-process';

/* eslint-disable @typescript-eslint/no-explicit-any */
describe('enrich IOC sources as config-node references, in headless Chromium (e2e)', function () {
  this.timeout(180000);
  let hub: RunningHub;
  let browser: any;
  let page: any;
  let pageErrors: string[] = [];

  before(async function () {
    skipWithoutChromium(this);
    hub = await startHub();
    ({ browser, page, pageErrors } = await openEditor(hub.banner.editor, 'soar-enrich-ioc'));
  });
  after(async function () {
    await browser?.close();
    await hub?.stop();
  });

  const users = (id: string) => page.evaluate((i: string) => (window as any).RED.nodes.node(i).users.length, id);
  /** The user count the config sidebar shows for a config node. */
  async function sidebarCount(id: string): Promise<string> {
    await page.evaluate(() => (window as any).RED.sidebar.config.show());
    return page.evaluate((i: string) => {
      const li = Array.from(document.querySelectorAll('#red-ui-sidebar-content li')).find((el) => (window as any).$(el).data('data-node-id') === i);
      return li?.querySelector('.red-ui-palette-icon-container-right')?.textContent ?? 'not listed';
    }, id);
  }

  it("counts the quickstart's sources as used (its flow was saved with the slots)", async function () {
    for (const id of ['soar-quickstart-feed', 'soar-quickstart-kev', 'soar-quickstart-epss']) {
      assert.equal(await users(id), 1, id);
      assert.equal(await sidebarCount(id), '1', id);
    }
  });

  it("moves a flow's old sources array into the slots on import, and counts them", async function () {
    const ids = await page.evaluate(() => {
      const RED = (window as any).RED;
      RED.view.importNodes(
        [
          { id: 'old-src-1', type: 'soar-intel-source', name: 'old feed', kind: 'feed', file: 'feeds/demo-blocklist.txt' },
          { id: 'old-enrich-1', type: 'soar-enrich-ioc', z: RED.workspaces.active(), x: 400, y: 400, sources: ['old-src-1'], wires: [] },
        ],
        { generateIds: false },
      );
      const n = RED.nodes.node('old-enrich-1');
      return { source1: n.source1, sources: n.sources };
    });
    assert.deepEqual(ids, { source1: 'old-src-1', sources: [] });
    assert.equal(await users('old-src-1'), 1);
  });

  it('adds a source from the enrich dialog with +, counts it as used, and exports it with the node', async function () {
    await page.evaluate(() => {
      const RED = (window as any).RED;
      RED.view.importNodes([{ id: 'e2e-enrich', type: 'soar-enrich-ioc', z: RED.workspaces.active(), x: 400, y: 500, wires: [] }], { generateIds: false });
      RED.editor.edit(RED.nodes.node('e2e-enrich'));
    });
    await page.locator('#node-input-btn-source1-add').click();
    await page.locator('#node-config-input-kind').waitFor();
    await page.selectOption('#node-config-input-kind', 'shodan-internetdb');
    // Only what the kind needs: no key, no URL, no feed file.
    assert.equal(await page.locator('#node-config-input-apiKey').isVisible(), false);
    assert.equal(await page.locator('#node-config-input-url').isVisible(), false);
    assert.equal(await page.locator('#node-config-input-file').isVisible(), false);
    await page.fill('#node-config-input-name', 'e2e shodan');
    await page.locator('#node-config-dialog-ok').click();
    await page.locator('#node-config-input-kind').waitFor({ state: 'detached' });
    const picked = await page.locator('#node-input-source1').inputValue();
    assert.notEqual(picked, '_ADD_');
    // The next slot is shown on the select's change event, which a loaded machine may run a moment later.
    await page.locator('.soar-enrich-slot-2').waitFor({ state: 'visible', timeout: 10000 });
    assert.equal(await page.locator('.soar-enrich-slot-2').isVisible(), true, 'an empty slot for the next source');
    await page.locator('#node-dialog-ok').click();
    await page.locator('#node-input-source1').waitFor({ state: 'detached' });

    const state = await page.evaluate((id: string) => {
      const RED = (window as any).RED;
      const enrich = RED.nodes.node('e2e-enrich');
      const exported = RED.nodes.createExportableNodeSet([enrich]);
      return { source1: enrich.source1, users: RED.nodes.node(id).users.map((u: any) => u.id), exported: exported.map((n: any) => n.id), valid: enrich.valid };
    }, picked);
    assert.equal(state.source1, picked);
    assert.deepEqual(state.users, ['e2e-enrich']);
    assert.ok(state.exported.includes(picked), `export carries the source: ${JSON.stringify(state.exported)}`);
    assert.equal(state.valid, true);
    assert.equal(await sidebarCount(picked), '1');
  });

  it('marks a node whose source was deleted (red triangle) and, deployed anyway, shows an error status', async function () {
    const picked = await page.evaluate(() => (window as any).RED.nodes.node('e2e-enrich').source1);
    await page.evaluate((id: string) => {
      const RED = (window as any).RED;
      const removed = RED.nodes.remove(id);
      RED.history.push({ t: 'delete', nodes: removed.nodes, links: [], dirty: RED.nodes.dirty() });
      const enrich = RED.nodes.node('e2e-enrich');
      enrich.dirty = true;
      RED.editor.validateNode(enrich);
      RED.nodes.dirty(true);
      RED.view.redraw(true);
    }, picked);
    assert.equal(await page.evaluate(() => (window as any).RED.nodes.node('e2e-enrich').valid), false);
    const triangle = page.locator('g.red-ui-flow-node-group[id="e2e-enrich"] .red-ui-flow-node-error');
    await triangle.waitFor({ state: 'attached', timeout: 10000 });
    assert.notEqual(await triangle.evaluate((el: Element) => getComputedStyle(el).display), 'none');

    await page.locator('#red-ui-header-button-deploy').click();
    // The editor warns about the invalid node; deploy anyway, as a hurried user would.
    const confirm = page.locator('.red-ui-notification button', { hasText: /Confirm deploy/i });
    await confirm.click({ timeout: 15000 });
    const status = page.locator('g.red-ui-flow-node-group[id="e2e-enrich"] .red-ui-flow-node-status-label');
    await page.waitForFunction(
      () => /intel source missing/.test(document.querySelector('g.red-ui-flow-node-group[id="e2e-enrich"] .red-ui-flow-node-status-label')?.textContent ?? ''),
      null,
      { timeout: 30000 },
    );
    assert.match(await status.textContent(), /intel source missing/);
    assert.deepEqual(pageErrors, []);
  });

  it('firewall dialog: TLS settings for the HTTPS kinds, and a multi-line SSH key that keeps its line breaks', async function () {
    await page.evaluate(() => {
      const RED = (window as any).RED;
      RED.view.importNodes([{ id: 'e2e-fw', type: 'soar-firewall', name: 'e2e fw', kind: 'opnsense', url: 'https://192.0.2.1' }], { generateIds: false });
      RED.editor.editConfig('', 'soar-firewall', 'e2e-fw', 'node-input');
    });
    await page.locator('#node-config-input-kind').waitFor();
    assert.equal(await page.locator('#node-config-input-verifyTls').isVisible(), true);
    assert.equal(await page.locator('#node-config-input-caCert').isVisible(), true);
    assert.equal(await page.locator('#node-config-input-privateKey').isVisible(), false);
    assert.match(await page.locator('#soar-fw-supports').innerText(), /IPv6/);
    await page.selectOption('#node-config-input-kind', 'nftables-ssh');
    assert.equal(await page.locator('#node-config-input-caCert').isVisible(), false);
    assert.equal(await page.locator('#node-config-input-privateKey').evaluate((el: Element) => el.tagName), 'TEXTAREA');
    const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAline1\nAAAAline2\n-----END OPENSSH PRIVATE KEY-----';
    await page.fill('#node-config-input-host', '198.18.0.1');
    await page.fill('#node-config-input-username', 'soar');
    await page.fill('#node-config-input-privateKey', key);
    await page.locator('#node-config-dialog-ok').click();
    await page.locator('#node-config-input-kind').waitFor({ state: 'detached' });
    const saved = await page.evaluate(() => {
      const n = (window as any).RED.nodes.node('e2e-fw');
      return { kind: n.kind, key: n.credentials?.privateKey, valid: n.valid };
    });
    assert.equal(saved.kind, 'nftables-ssh');
    assert.equal(saved.key, key, 'the key keeps its line breaks');
    assert.equal(saved.valid, true);
  });

  it('validates each kind by its descriptor: a feed needs a file or a URL, Shodan InternetDB nothing', async function () {
    const valid = await page.evaluate(() => {
      const RED = (window as any).RED;
      // As the dialog saves them: every property present.
      const base = { weight: 1, perMinute: '', perDay: '', refreshMinutes: 60, format: 'auto', level: 'malicious', verifyTls: true, url: '', file: '' };
      RED.view.importNodes(
        [
          { ...base, id: 'e2e-feed-empty', type: 'soar-intel-source', kind: 'feed' },
          { ...base, id: 'e2e-feed-file', type: 'soar-intel-source', kind: 'feed', file: 'feeds/x.txt' },
          { ...base, id: 'e2e-shodan', type: 'soar-intel-source', kind: 'shodan-internetdb' },
          { ...base, id: 'e2e-misp-http', type: 'soar-intel-source', kind: 'misp', url: 'ftp://misp' },
        ],
        { generateIds: false },
      );
      const out: Record<string, unknown> = {};
      for (const id of ['e2e-feed-empty', 'e2e-feed-file', 'e2e-shodan', 'e2e-misp-http']) {
        const n = RED.nodes.node(id);
        RED.editor.validateNode(n);
        out[id] = n.valid ? true : n.validationErrors || false;
      }
      return out;
    });
    assert.deepEqual(valid, { 'e2e-feed-empty': ['url', 'file'], 'e2e-feed-file': true, 'e2e-shodan': true, 'e2e-misp-http': ['url'] });
  });
});
