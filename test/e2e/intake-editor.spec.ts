/**
 * The alert intake's editor dialog in headless Chromium against a real Node-RED (this checkout, the
 * pack from dist/): two intakes on one path are flagged, a bearer intake without a token gets the
 * red triangle, imported intakes keep the hub they were saved with (a new one dropped from the palette
 * takes the only hub: test/e2e/dialogs.spec.ts), and the dialog's selects are as wide as its inputs.
 * Needs `npm run build` and Chromium; skips with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { openEditor, skipWithoutChromium } from '../helpers/browser';
import { prepareUserDir } from '../helpers/nodered-process';
import { tempDir } from '../helpers/nr';

/** A free port on 127.0.0.1 (kept here so this test does not depend on the hub's start helper). */
async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('alert intake dialog in headless Chromium (e2e)', function () {
  this.timeout(180000);
  let child: ChildProcess | undefined;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let browser: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let page: any;
  let pageErrors: string[] = [];

  before(async function () {
    skipWithoutChromium(this);
    const port = await freePort();
    const dir = prepareUserDir(tempDir('soar-intake-editor-'), port, [{ id: 't1', type: 'tab', label: 'empty' }]);
    child = spawn(process.execPath, [require.resolve('node-red/red.js'), '-u', dir.userDir, '-s', dir.settingsFile], { stdio: 'ignore' });
    ({ browser, page, pageErrors } = await openEditor(`http://127.0.0.1:${port}/admin/`, 'soar-alert-intake'));
    // tsx (esbuild keepNames) wraps named functions in __name(): give the page a no-op one.
    await page.evaluate('window.__name = (f) => f');
  });
  after(async function () {
    await browser?.close();
    if (child?.pid && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      process.kill(child.pid, 'SIGTERM');
      await exited;
    }
  });

  it('flags a second intake on the same path and a bearer intake without a token; imported intakes keep their saved hub', async function () {
    const result = await page.evaluate(() => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const RED = (window as any).RED;
      const base = {
        type: 'soar-alert-intake',
        authType: 'bearer',
        format: 'auto',
        dedupWindow: 300,
        duplicateMode: 'suppress',
        maxBodyKb: 1024,
        maxBacklog: 5000,
        bodyTimeout: 10,
        wires: [[]],
      };
      RED.view.importNodes(
        [
          { id: 'hubA', type: 'soar-hub', name: 'only hub', dir: '' },
          { ...base, id: 'inA', z: 't1', name: 'first', hub: '', path: '/soar/alerts', x: 200, y: 100 },
          { ...base, id: 'inB', z: 't1', name: 'second', hub: '', path: '/SOAR/alerts/', x: 200, y: 200 },
          { ...base, id: 'inC', z: 't1', name: 'third', hub: '', path: '/other', x: 200, y: 300 },
        ],
        { generateIds: false, addFlow: false },
      );
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const byName = (name: string) => RED.nodes.filterNodes({ type: 'soar-alert-intake' }).find((n: any) => n.name === name);
      const [a, b, c] = ['first', 'second', 'third'].map(byName);
      // The third one gets a token, as the dialog would store it.
      c.credentials = { token: 't0ken', has_token: true, _: {} };
      [a, b, c].forEach((n) => RED.editor.validateNode(n));
      return {
        hubs: [a.hub, b.hub, c.hub],
        valid: [a.valid, b.valid, c.valid],
        errorsB: b.validationErrors,
        errorsC: c.validationErrors,
      };
    });
    assert.deepEqual(result.valid, [false, false, true], JSON.stringify(result));
    assert.deepEqual(result.errorsB, ['another intake in this workspace uses this path: first', 'a bearer intake needs a token']);
    assert.deepEqual(result.errorsC, []);
    // Imported nodes are not new: they keep what they were saved with, even with one hub present.
    assert.deepEqual(result.hubs, ['', '', ''], 'imported intakes keep their saved (empty) hub');
    assert.deepEqual(pageErrors, []);
  });

  it('shows the path conflict in the dialog and makes its selects as wide as its inputs', async function () {
    await page.evaluate(() => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const RED = (window as any).RED;
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      RED.editor.edit(RED.nodes.filterNodes({ type: 'soar-alert-intake' }).find((n: any) => n.name === 'second'));
    });
    await page.locator('#node-input-authType').waitFor({ state: 'visible', timeout: 15000 });
    const dialog = await page.evaluate(() => {
      const w = (id: string) => (document.getElementById(id) as HTMLElement).getBoundingClientRect().width;
      return {
        path: w('node-input-path'),
        authType: w('node-input-authType'),
        format: w('node-input-format'),
        duplicateMode: w('node-input-duplicateMode'),
        pathInvalid: document.getElementById('node-input-path')!.classList.contains('input-error'),
      };
    });
    assert.ok(dialog.pathInvalid, 'the path field is marked');
    for (const key of ['authType', 'format', 'duplicateMode'] as const) {
      assert.ok(dialog[key] >= dialog.path - 4, `${key} select ${dialog[key]}px vs path input ${dialog.path}px`);
    }
    await page.evaluate(() => (window as unknown as { RED: { tray: { close(): void } } }).RED.tray.close());
  });
});
