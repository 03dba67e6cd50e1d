/**
 * Every dialog of the pack, as a user first sees it: each node type of package.json, and each kind
 * of the config nodes that have one, opened new in headless Chromium against the hub `npm start`
 * runs. Nothing is marked invalid but the fields listed below (required, and empty on a new node),
 * no placeholder is cut off, no field whose default is a number is blank, no tip box is shown
 * empty, and the help has the sections the Node-RED help style asks for.
 * SOAR_SCREENSHOTS=<dir> keeps a 1400x900 screenshot of each dialog there.
 * Needs `npm run build` and Chromium; skips with the reason otherwise.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openEditor, skipWithoutChromium, type EditorBrowser } from '../helpers/browser';
import { startHub, type RunningHub } from '../helpers/hub-process';

const SCREENSHOTS = process.env.SOAR_SCREENSHOTS;
const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
const TYPES = Object.keys(pkg['node-red'].nodes) as string[];

/**
 * The inputs a new node may show as invalid: required and still empty. Keyed by type, or by
 * "type/kind" for the config nodes with a kind select (a kind not listed may mark nothing).
 */
const REQUIRED_EMPTY: Record<string, string[]> = {
  'soar-alert-intake': ['node-input-token'],
  // The quickstart has one firewall and one ticketing system, which a new node takes; no EDR.
  'soar-isolate-host': ['node-input-edr'],
  'soar-wait-approval': ['node-input-approvers'],
  'soar-intel-source/cortex': ['node-config-input-analyzers', 'node-config-input-url'],
  // A file or a URL: both marked until one is given.
  'soar-intel-source/epss': ['node-config-input-file', 'node-config-input-url'],
  'soar-intel-source/feed': ['node-config-input-file', 'node-config-input-url'],
  'soar-intel-source/kev': ['node-config-input-file', 'node-config-input-url'],
  'soar-intel-source/misp': ['node-config-input-url'],
  'soar-firewall/crowdsec': ['node-config-input-machineId', 'node-config-input-url'],
  'soar-firewall/mikrotik': ['node-config-input-url', 'node-config-input-username'],
  // The key file, or the key pasted into its (credential) box.
  'soar-firewall/nftables-ssh': ['node-config-input-host', 'node-config-input-privateKeyFile', 'node-config-input-username'],
  'soar-firewall/opnsense': ['node-config-input-url'],
  'soar-firewall/pfsense': ['node-config-input-url'],
  'soar-edr/crowdstrike': ['node-config-input-clientId'],
  'soar-edr/defender': ['node-config-input-clientId', 'node-config-input-tenantId'],
  'soar-edr/sentinelone': ['node-config-input-url'],
  'soar-edr/ssh-nftables': ['node-config-input-hosts', 'node-config-input-username'],
  'soar-edr/wazuh': ['node-config-input-url', 'node-config-input-username'],
  'soar-ticketing/github': ['node-config-input-repository'],
  'soar-ticketing/gitlab': ['node-config-input-project'],
  'soar-ticketing/jira': ['node-config-input-email', 'node-config-input-project', 'node-config-input-url'],
  'soar-ticketing/redmine': ['node-config-input-project', 'node-config-input-url'],
  'soar-ticketing/servicenow': ['node-config-input-url', 'node-config-input-username'],
  'soar-ticketing/thehive': ['node-config-input-url'],
  'soar-approval-channel/email': ['node-config-input-from', 'node-config-input-host'],
  'soar-approval-channel/mattermost': ['node-config-input-channelId', 'node-config-input-url'],
  'soar-approval-channel/slack': ['node-config-input-channelId'],
  'soar-approval-channel/telegram': ['node-config-input-chatId'],
  'soar-approval-channel/webhook': ['node-config-input-url'],
};

/** Config nodes whose dialog has a kind select. */
const KIND_TYPES = ['soar-intel-source', 'soar-firewall', 'soar-edr', 'soar-ticketing', 'soar-approval-channel'];

/**
 * In the page, for the open dialog of `type` (ids starting with `prefix`): the visible inputs marked
 * invalid, the placeholders that do not fit their box, the fields blank although their default is a
 * number, the tip boxes shown empty, and which placeholders were measured.
 */
const inspect = (type: string, prefix: string) => `(() => {
  const tray = document.querySelector('.red-ui-tray:last-of-type .red-ui-tray-body') || document;
  const canvas = document.createElement('canvas').getContext('2d');
  const out = { invalid: [], clipped: [], blank: [], emptyTips: [], measured: [] };
  const visible = (el) => { const b = el.getBoundingClientRect(); return b.width > 0 && b.height > 0; };
  for (const el of tray.querySelectorAll('input, select, textarea, .red-ui-typedInput-container')) {
    if (!visible(el)) continue;
    const inner = el.querySelector && el.querySelector('input');
    const id = el.id || (inner && inner.id) || el.className;
    if (el.classList.contains('input-error')) out.invalid.push(id);
    const placeholder = el.getAttribute('placeholder');
    if (!placeholder || el.value) continue;
    if (el.tagName === 'INPUT') {
      const style = getComputedStyle(el);
      canvas.font = style.font;
      const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      const needed = canvas.measureText(placeholder).width;
      out.measured.push(id);
      if (needed > room) out.clipped.push(id + ': "' + placeholder + '" needs ' + Math.ceil(needed) + 'px, has ' + Math.floor(room) + 'px');
    } else if (el.tagName === 'TEXTAREA') {
      // Wrapped in the box: it fits unless it needs scrolling. (.value set without events, then emptied.)
      el.value = placeholder;
      const over = el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1;
      el.value = '';
      out.measured.push(id);
      if (over) out.clipped.push(id + ': "' + placeholder.slice(0, 60) + '..." needs scrolling');
    }
  }
  // A tip box shown with nothing in it (a kind without a summary) is an empty yellow bar.
  for (const tip of tray.querySelectorAll('.form-tips')) {
    if (visible(tip) && !tip.textContent.trim()) out.emptyTips.push(tip.id || tip.className);
  }
  const defaults = RED.nodes.getType(${JSON.stringify(type)}).defaults || {};
  for (const key of Object.keys(defaults)) {
    if (typeof defaults[key].value !== 'number') continue;
    const el = document.getElementById(${JSON.stringify(prefix)} + '-' + key);
    if (!el || el.type === 'hidden') continue;
    const shown = visible(el) || (el.closest('.red-ui-typedInput-container') && visible(el.closest('.red-ui-typedInput-container')));
    if (shown && String(el.value).trim() === '') out.blank.push(key + ' (default ' + defaults[key].value + ')');
  }
  return out;
})()`;

describe('every dialog of the pack, opened new, in headless Chromium (e2e)', function () {
  this.timeout(300000);
  let hub: RunningHub;
  let ed: EditorBrowser;

  before(async function () {
    skipWithoutChromium(this);
    hub = await startHub();
    ed = await openEditor(hub.banner.editor, 'soar-isolate-host');
    if (SCREENSHOTS) fs.mkdirSync(SCREENSHOTS, { recursive: true });
    // An empty tab: a node dropped onto a quickstart wire would be spliced into it.
    await ed.page.evaluate(`RED.workspaces.add()`);
  });
  after(async function () {
    await ed?.close();
    await hub?.stop();
  });

  /** What is wrong with the open dialog, given what may be marked invalid. */
  async function problems(type: string, prefix: string, allowed: string[], shot: string): Promise<Record<string, unknown>> {
    if (SCREENSHOTS) await ed.page.screenshot({ path: path.join(SCREENSHOTS, `${shot}.png`) });
    const seen = await ed.page.evaluate(inspect(type, prefix));
    const out: Record<string, unknown> = {};
    const invalid = [...new Set(seen.invalid as string[])].sort();
    if (JSON.stringify(invalid) !== JSON.stringify([...allowed].sort())) out.invalid = invalid;
    if (seen.clipped.length) out.clipped = seen.clipped;
    if (seen.blank.length) out.blank = seen.blank;
    if (seen.emptyTips.length) out.emptyTips = seen.emptyTips;
    return out;
  }

  it('lists the kind-based config nodes of package.json', function () {
    for (const type of KIND_TYPES) assert.ok(TYPES.includes(type), type);
  });

  it('a new alert intake saved without a token keeps its red triangle (only the dialog leaves the auth select unmarked)', async function () {
    const { page } = ed;
    await page.locator('.red-ui-palette-node[data-palette-type="soar-alert-intake"]').dragTo(page.locator('#red-ui-workspace-chart'), {
      targetPosition: { x: 300, y: 500 },
    });
    const id: string = await page.evaluate(
      `(() => { const n = RED.nodes.filterNodes({ type: 'soar-alert-intake', z: RED.workspaces.active() }).pop(); RED.editor.edit(n); return n.id; })()`,
    );
    await page.locator('#node-dialog-ok').waitFor({ state: 'visible', timeout: 15000 });
    await page.waitForTimeout(400);
    assert.equal(await page.locator('#node-input-authType').evaluate((el: Element) => el.classList.contains('input-error')), false);
    assert.equal(await page.locator('#node-input-token').evaluate((el: Element) => el.classList.contains('input-error')), true);
    await page.locator('#node-dialog-ok').click();
    await page.locator('#node-dialog-ok').waitFor({ state: 'detached', timeout: 15000 });
    const saved = await page.evaluate(
      `(() => { const n = RED.nodes.node(${JSON.stringify(id)}); return { valid: n.valid, errors: n.validationErrors, path: n.path }; })()`,
    );
    assert.equal(saved.valid, false, JSON.stringify(saved));
    assert.ok(
      saved.errors.some((e: string) => /token/.test(e)),
      JSON.stringify(saved),
    );
    assert.match(saved.path, /^\/soar\/alerts-\d+$/, 'a path no other intake uses');
  });

  /** The flow nodes and config nodes that refer to a config node, by property. */
  const REFS: { type: string; prop: string; ref: string }[] = [
    { type: 'soar-alert-intake', prop: 'hub', ref: 'soar-hub' },
    { type: 'soar-enrich-ioc', prop: 'hub', ref: 'soar-hub' },
    { type: 'soar-wait-approval', prop: 'hub', ref: 'soar-hub' },
    { type: 'soar-block-ip', prop: 'firewall', ref: 'soar-firewall' },
    { type: 'soar-isolate-host', prop: 'edr', ref: 'soar-edr' },
    { type: 'soar-open-ticket', prop: 'ticketing', ref: 'soar-ticketing' },
    { type: 'soar-ticketing', prop: 'hub', ref: 'soar-hub' },
    { type: 'soar-approval-channel', prop: 'hub', ref: 'soar-hub' },
    { type: 'soar-firewall', prop: 'hub', ref: 'soar-hub' },
    { type: 'soar-edr', prop: 'hub', ref: 'soar-hub' },
  ];

  /** Adds config nodes of type until there are count of them; returns the ids it added. */
  async function ensureConfigs(type: string, count: number): Promise<string[]> {
    return ed.page.evaluate(
      `(() => { const have = []; RED.nodes.eachConfig((c) => { if (c.type === ${JSON.stringify(type)}) have.push(c.id); });
        if (have.length > ${count}) throw new Error(have.length + ' ${type} already');
        const added = [];
        while (have.length + added.length < ${count}) {
          const id = RED.nodes.id();
          RED.nodes.add({ id, type: ${JSON.stringify(type)}, _def: RED.nodes.getType(${JSON.stringify(type)}), users: [], z: '', name: 'e2e ' + id });
          added.push(id);
        }
        return added; })()`,
    );
  }

  /** The value a new node of `type` starts with for `prop`: after the drop, or in the config dialog's select. */
  async function newNodeValue(type: string, prop: string, at: { x: number; y: number }): Promise<string> {
    const { page } = ed;
    const category: string = await page.evaluate(`RED.nodes.getType(${JSON.stringify(type)}).category`);
    if (category === 'config') {
      await page.evaluate(`RED.editor.editConfig('', ${JSON.stringify(type)}, '_ADD_', 'node-input')`);
      await page.locator('#node-config-dialog-ok').waitFor({ state: 'visible', timeout: 15000 });
      await page.waitForTimeout(400);
      const v: string = await page.locator(`#node-config-input-${prop}`).evaluate((el: Element) => (el as HTMLSelectElement).value);
      await page.locator('#node-config-dialog-cancel').click();
      await page.locator('#node-config-dialog-ok').waitFor({ state: 'detached', timeout: 15000 });
      return v === '_ADD_' ? '' : v;
    }
    await page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`).dragTo(page.locator('#red-ui-workspace-chart'), { targetPosition: at });
    return page.evaluate(
      `(() => { const n = RED.nodes.filterNodes({ type: ${JSON.stringify(type)}, z: RED.workspaces.active() }).pop(); const v = n[${JSON.stringify(prop)}] || ''; RED.nodes.remove(n.id); RED.view.redraw(true); return v; })()`,
    );
  }

  for (const count of [1, 2]) {
    it(`a new node of each referring type ${count === 1 ? 'picks the only' : 'picks none of two'} firewall/EDR/ticketing/hub`, async function () {
      const added: string[] = [];
      try {
        const wrong: string[] = [];
        for (const [i, { type, prop, ref }] of REFS.entries()) {
          added.push(...(await ensureConfigs(ref, count)));
          const ids: string[] = await ed.page.evaluate(
            `(() => { const ids = []; RED.nodes.eachConfig((c) => { if (c.type === ${JSON.stringify(ref)}) ids.push(c.id); }); return ids; })()`,
          );
          const want = count === 1 ? ids[0] : '';
          const got = await newNodeValue(type, prop, { x: 200 + 120 * (i % 5), y: 500 + 80 * Math.floor(i / 5) });
          if (got !== want) wrong.push(`${type}.${prop}: ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
        }
        assert.deepEqual(wrong, []);
        assert.deepEqual(ed.pageErrors, []);
      } finally {
        await ed.page.evaluate(`${JSON.stringify(added)}.forEach((id) => RED.nodes.remove(id))`);
      }
    });
  }

  it('an existing node saved with "none" keeps it although one hub is there', async function () {
    const added = await ensureConfigs('soar-hub', 1);
    const { page } = ed;
    try {
      const id: string = await page.evaluate(
        `(() => { const id = RED.nodes.id(); RED.nodes.add({ id, type: 'soar-firewall', _def: RED.nodes.getType('soar-firewall'), users: [], z: '', kind: 'pfsense', hub: '' }); return id; })()`,
      );
      added.push(id);
      await page.evaluate(`RED.editor.editConfig('', 'soar-firewall', ${JSON.stringify(id)}, 'node-input')`);
      await page.locator('#node-config-dialog-ok').waitFor({ state: 'visible', timeout: 15000 });
      await page.waitForTimeout(400);
      assert.equal(await page.locator('#node-config-input-hub').evaluate((el: Element) => (el as HTMLSelectElement).value), '_ADD_');
      await page.locator('#node-config-dialog-cancel').click();
      await page.locator('#node-config-dialog-ok').waitFor({ state: 'detached', timeout: 15000 });
    } finally {
      await page.evaluate(`${JSON.stringify(added)}.forEach((id) => RED.nodes.remove(id))`);
    }
  });

  it('the approval channel shows its callback URL whole, and the identity as a line of its own', async function () {
    const { page } = ed;
    await page.evaluate(`RED.editor.editConfig('', 'soar-approval-channel', '_ADD_', 'node-input')`);
    await page.locator('#node-config-dialog-ok').waitFor({ state: 'visible', timeout: 15000 });
    await page.waitForTimeout(400);
    await page.selectOption('#node-config-input-kind', 'slack');
    await page.waitForTimeout(150);
    const fit = await page.locator('#soar-ac-callback').evaluate((el: Element) => ({
      value: (el as HTMLInputElement).value,
      scrollWidth: el.scrollWidth,
      clientWidth: el.clientWidth,
      scrollHeight: el.scrollHeight,
      clientHeight: el.clientHeight,
    }));
    assert.match(fit.value, /\/soar\/approval-channel\/[^/]+\/callback$/);
    assert.ok(fit.scrollWidth <= fit.clientWidth && fit.scrollHeight <= fit.clientHeight + 1, JSON.stringify(fit));
    // The label beside its text: one line high, not wrapped over the form.
    const label = await page.locator('#soar-ac-identity-label').evaluate((el: Element) => ({
      height: el.getBoundingClientRect().height,
      line: parseFloat(getComputedStyle(el).lineHeight) || 20,
    }));
    assert.ok(label.height < 1.5 * label.line, `"Approvers as" wraps: ${JSON.stringify(label)}`);
    await page.locator('#node-config-dialog-cancel').click();
    await page.locator('#node-config-dialog-ok').waitFor({ state: 'detached', timeout: 15000 });
  });

  for (const type of TYPES) {
    it(`${type}: a new node's dialog marks only the required empty fields, clips no placeholder, shows its numeric defaults`, async function () {
      const { page } = ed;
      const category: string = await page.evaluate(`RED.nodes.getType(${JSON.stringify(type)}).category`);
      const found: Record<string, unknown> = {};
      if (category === 'config') {
        await page.evaluate(`RED.editor.editConfig('', ${JSON.stringify(type)}, '_ADD_', 'node-input')`);
        await page.locator('#node-config-dialog-ok').waitFor({ state: 'visible', timeout: 15000 });
        await page.waitForTimeout(400); // the tray's open animation
        const kinds: string[] = KIND_TYPES.includes(type)
          ? await page.evaluate(`Array.from(document.querySelectorAll('#node-config-input-kind option')).map((o) => o.value)`)
          : [''];
        assert.ok(kinds.length > 0, `${type} offers kinds`);
        for (const kind of kinds) {
          if (kind) {
            await page.selectOption('#node-config-input-kind', kind);
            await page.waitForTimeout(150);
          }
          const key = kind ? `${type}/${kind}` : type;
          const wrong = await problems(type, 'node-config-input', REQUIRED_EMPTY[key] ?? [], key.replace('/', '-'));
          if (Object.keys(wrong).length) found[key] = wrong;
        }
        await page.locator('#node-config-dialog-cancel').click();
        await page.locator('#node-config-dialog-ok').waitFor({ state: 'detached', timeout: 15000 });
      } else {
        // As a user does it: drag from the palette, then open.
        const at = { x: 200 + 120 * (TYPES.indexOf(type) % 6), y: 120 + 80 * Math.floor(TYPES.indexOf(type) / 6) };
        await page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`).dragTo(page.locator('#red-ui-workspace-chart'), { targetPosition: at });
        const opened = await page.evaluate(
          // The one just dropped: the tab's newest of the type.
          `(() => { const n = RED.nodes.filterNodes({ type: ${JSON.stringify(type)}, z: RED.workspaces.active() }).pop(); if (n) RED.editor.edit(n); return Boolean(n); })()`,
        );
        assert.ok(opened, `${type} dropped on the workspace`);
        await page.locator('#node-dialog-ok').waitFor({ state: 'visible', timeout: 15000 });
        await page.waitForTimeout(400);
        const wrong = await problems(type, 'node-input', REQUIRED_EMPTY[type] ?? [], type);
        if (Object.keys(wrong).length) found[type] = wrong;
        await page.locator('#node-dialog-cancel').click();
        await page.locator('#node-dialog-ok').waitFor({ state: 'detached', timeout: 15000 });
      }
      assert.deepEqual(found, {});
      assert.deepEqual(ed.pageErrors, []);
    });

    it(`${type}: the help has Inputs/Outputs where the node has them, and Details`, async function () {
      const help = await ed.page.evaluate(
        `(() => { const d = RED.nodes.getType(${JSON.stringify(type)}); const h = document.createElement('div'); h.innerHTML = RED.nodes.getNodeHelp(${JSON.stringify(type)}) || '';
          return { inputs: d.inputs || 0, outputs: d.outputs || 0, sections: Array.from(h.querySelectorAll('h3')).map((e) => e.textContent.trim()) }; })()`,
      );
      const want = [...(help.inputs > 0 ? ['Inputs'] : []), ...(help.outputs > 0 ? ['Outputs'] : []), 'Details'];
      assert.deepEqual(
        want.filter((s) => !help.sections.includes(s)),
        [],
        `${type} help sections: ${help.sections.join(', ')}`,
      );
    });
  }
});
