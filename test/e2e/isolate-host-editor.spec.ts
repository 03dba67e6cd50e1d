/**
 * The isolate host and EDR dialogs in headless Chromium against a real Node-RED (this checkout, the
 * pack from dist/): a node dragged from the palette opens with no field marked invalid (an empty
 * Reason means the alert's title, as in block IP), and no input clips its placeholder. A host isolated
 * through the CrowdStrike contract fake (on 127.0.0.1) is listed in the SOAR sidebar and its release
 * button lifts the containment.
 * Needs `npm run build` and Chromium; skips with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { openEditor, skipWithoutChromium, type EditorBrowser } from '../helpers/browser';
import { CS_CLIENT_ID, CS_CLIENT_SECRET, startCrowdStrikeFake, type CrowdStrikeFake } from '../fakes/crowdstrike';
import { freePort } from '../helpers/hub-process';
import { prepareUserDir } from '../helpers/nodered-process';
import { tempDir } from '../helpers/nr';

const SCREENSHOTS = process.env.SOAR_SCREENSHOTS;

/** In the page: the open dialog's visible inputs that are marked invalid or clip their placeholder. */
const INSPECT = `(() => {
  const tray = document.querySelector('.red-ui-tray:last-of-type .red-ui-tray-body') || document;
  const canvas = document.createElement('canvas').getContext('2d');
  const out = { invalid: [], clipped: [], checked: [] };
  for (const el of tray.querySelectorAll('input, select, textarea, .red-ui-typedInput-container')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    const id = el.id || (el.querySelector && el.querySelector('input') && el.querySelector('input').id) || el.className;
    if (el.classList.contains('input-error')) out.invalid.push(id);
    const placeholder = el.getAttribute && el.getAttribute('placeholder');
    if (el.tagName === 'INPUT' && placeholder && !el.value) {
      const style = getComputedStyle(el);
      canvas.font = style.font;
      const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      const needed = canvas.measureText(placeholder).width;
      out.checked.push(id);
      if (needed > room) out.clipped.push(id + ': "' + placeholder + '" needs ' + Math.ceil(needed) + 'px, has ' + Math.floor(room) + 'px');
    }
  }
  return out;
})()`;

describe('isolate host and EDR dialogs in headless Chromium (e2e)', function () {
  this.timeout(180000);
  let child: ChildProcess | undefined;
  let editor: EditorBrowser | undefined;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let page: any;
  let pageErrors: string[] = [];
  let port = 0;
  let fake: CrowdStrikeFake | undefined;

  before(async function () {
    skipWithoutChromium(this);
    port = await freePort();
    fake = await startCrowdStrikeFake();
    fake.pendingReads = 0;
    const dir = prepareUserDir(tempDir('soar-isolate-editor-'), port, [
      { id: 't1', type: 'tab', label: 'isolate' },
      { id: 'hub1', type: 'soar-hub', name: 'hub', dir: '' },
    ]);
    child = spawn(process.execPath, [require.resolve('node-red/red.js'), '-u', dir.userDir, '-s', dir.settingsFile], { stdio: 'ignore' });
    editor = await openEditor(`http://127.0.0.1:${port}/admin/`, 'soar-isolate-host');
    ({ page, pageErrors } = editor);
  });

  after(async function () {
    await editor?.close();
    if (child?.pid && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      process.kill(child.pid, 'SIGTERM');
      await exited;
    }
    await fake?.close();
  });

  it('a new isolate host node: nothing marked invalid but the missing EDR, no placeholder clipped, an empty Reason accepted', async function () {
    // As a user does it: drag from the palette, then double-click.
    await page
      .locator('.red-ui-palette-node[data-palette-type="soar-isolate-host"]')
      .dragTo(page.locator('#red-ui-workspace-chart'), { targetPosition: { x: 400, y: 300 } });
    await page.evaluate(`(() => { const n = RED.nodes.filterNodes({ type: 'soar-isolate-host' })[0]; RED.editor.edit(n); })()`);
    await page.locator('#node-input-ttl').waitFor({ state: 'visible', timeout: 15000 });
    await page.waitForTimeout(300); // the tray's open animation
    if (SCREENSHOTS) await page.screenshot({ path: `${SCREENSHOTS}/isolate-host-new.png` });
    const fresh = await page.evaluate(INSPECT);
    assert.deepEqual(fresh.clipped, [], JSON.stringify(fresh));
    assert.ok(fresh.checked.includes('node-input-ttl'), `the TTL placeholder was measured: ${JSON.stringify(fresh)}`);
    assert.deepEqual(
      fresh.invalid.filter((id: string) => id !== 'node-input-edr' && id !== 'node-input-lookup-edr'),
      [],
      JSON.stringify(fresh),
    );
    // Cleared Reason: the alert's title, not an error.
    await page.evaluate(`$('#node-input-reason').typedInput('value', '')`);
    await page.waitForTimeout(100);
    if (SCREENSHOTS) await page.screenshot({ path: `${SCREENSHOTS}/isolate-host-empty-reason.png` });
    const cleared = await page.evaluate(INSPECT);
    assert.deepEqual(
      cleared.invalid.filter((id: string) => id !== 'node-input-edr' && id !== 'node-input-lookup-edr'),
      [],
      JSON.stringify(cleared),
    );
    await page.locator('#node-dialog-ok').click();
    const saved = await page.evaluate(
      `(() => { const n = RED.nodes.filterNodes({ type: 'soar-isolate-host' })[0]; RED.editor.validateNode(n); return { reason: n.reason, errors: n.validationErrors }; })()`,
    );
    assert.equal(saved.reason, '');
    assert.ok(!(saved.errors ?? []).some((e: string) => /reason/i.test(e)), JSON.stringify(saved));
    assert.deepEqual(pageErrors, []);
  });

  it('a new EDR (each kind): only required fields marked before typing, no placeholder clipped', async function () {
    await page.evaluate(`RED.editor.editConfig('', 'soar-edr', '_ADD_', 'node-input')`);
    await page.locator('#node-config-input-kind').waitFor({ state: 'visible', timeout: 15000 });
    await page.waitForTimeout(300);
    const kinds: string[] = await page.evaluate(`Array.from(document.querySelectorAll('#node-config-input-kind option')).map((o) => o.value)`);
    assert.ok(kinds.includes('ssh-nftables'), kinds.join(', '));
    const problems: Record<string, unknown> = {};
    for (const kind of kinds) {
      await page.selectOption('#node-config-input-kind', kind);
      await page.waitForTimeout(150);
      if (SCREENSHOTS) await page.screenshot({ path: `${SCREENSHOTS}/edr-${kind}.png` });
      const seen = await page.evaluate(INSPECT);
      // Only what the kind requires may be marked before anything is typed.
      const required: string[] = await page.evaluate(
        `(RED.settings.soarEdrKinds.find((k) => k.kind === ${JSON.stringify(kind)}).fields || []).filter((f) => f.required).map((f) => 'node-config-input-' + f.name)`,
      );
      const wrong = seen.invalid.filter((id: string) => !required.includes(id));
      if (seen.clipped.length || wrong.length) problems[kind] = { clipped: seen.clipped, invalid: wrong };
    }
    assert.deepEqual(problems, {});
    await page.locator('#node-config-dialog-cancel').click();
    assert.deepEqual(pageErrors, []);
  });

  it('the SOAR sidebar lists a host isolated through the EDR and its release button lifts the containment', async function () {
    const device = fake!.addDevice({ hostname: 'e2e-web01', local_ip: '10.20.0.5' });
    const admin = `http://127.0.0.1:${port}/admin`;
    // Deployed as the editor does (credentials travel with the node), then fired through the inject route.
    const flows = [
      { id: 't1', type: 'tab', label: 'isolate' },
      { id: 'hub1', type: 'soar-hub', name: 'hub', dir: '' },
      {
        id: 'edr-e2e',
        type: 'soar-edr',
        name: 'falcon e2e',
        hub: 'hub1',
        kind: 'crowdstrike',
        clientId: CS_CLIENT_ID,
        cloud: 'us-1',
        url: fake!.baseUrl,
        pollSeconds: 0.1,
        timeoutMinutes: 5,
        reconcileMinutes: 0,
        configVersion: 1,
        credentials: { clientSecret: CS_CLIENT_SECRET },
      },
      {
        id: 'inject-e2e',
        z: 't1',
        type: 'inject',
        props: [
          { p: 'alert', v: '{"id":"e2e-1","title":"e2e ransomware","host":{"name":"e2e-web01"}}', vt: 'json' },
          { p: 'enrichment', v: '{"verdict":"malicious","score":95}', vt: 'json' },
        ],
        repeat: '',
        once: false,
        wires: [['isolate-e2e']],
      },
      {
        id: 'isolate-e2e',
        z: 't1',
        type: 'soar-isolate-host',
        edr: 'edr-e2e',
        target: 'alert.host.name',
        targetType: 'msg',
        action: 'isolate',
        gate: 'malicious',
        ttl: '',
        reason: '',
        reasonType: 'msg',
        configVersion: 1,
        wires: [[], [], [], []],
      },
    ];
    const deployed = await fetch(`${admin}/flows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
      body: JSON.stringify(flows),
    });
    assert.equal(deployed.status, 204, await deployed.text());
    const listed = async (): Promise<{ target: string; state: string }[]> =>
      ((await (await fetch(`${admin}/soar/isolations`)).json()) as { isolations: { target: string; state: string }[] }).isolations;
    for (let i = 0; ; i++) {
      const fired = await fetch(`${admin}/inject/inject-e2e`, { method: 'POST' });
      if (fired.status === 200) break;
      if (i > 50) assert.fail(`inject answered ${fired.status}`);
      await new Promise((r) => setTimeout(r, 200)); // the new flow is still starting
    }
    for (let i = 0; i < 100 && !(await listed()).some((x) => x.state === 'isolated'); i++) await new Promise((r) => setTimeout(r, 200));
    assert.equal(device.status, 'contained', 'the fake contained the device');

    await page.evaluate(`RED.sidebar.show('soar')`);
    await page.locator('.soar-sidebar button', { hasText: 'refresh' }).first().click();
    const row = page.locator(`.soar-isolations .soar-isolation[data-target="${device.device_id}"]`);
    await row.waitFor({ timeout: 15000 });
    const rowText: string = await row.innerText();
    assert.match(rowText, /e2e-web01/);
    assert.match(rowText, /falcon e2e/);
    assert.match(rowText, /isolated · until released/);
    if (SCREENSHOTS) await page.screenshot({ path: `${SCREENSHOTS}/isolated-hosts.png` });

    await row.locator('button.soar-release-host').click();
    const state = (): string => device.status; // read afresh: the fake changes it
    for (let i = 0; i < 100 && state() !== 'normal'; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(state(), 'normal', 'the release button lifted the containment');
    assert.equal(fake!.server.requestsTo('POST', /devices-actions/).length, 2, 'one contain, one lift');
    for (let i = 0; i < 100 && (await listed()).length; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await listed(), []);
    await page.locator('.soar-sidebar button', { hasText: 'refresh' }).first().click();
    await row.waitFor({ state: 'detached', timeout: 15000 });
    assert.match(await page.locator('.soar-isolations').innerText(), /no isolated hosts/);
    assert.deepEqual(pageErrors, []);
  });
});
