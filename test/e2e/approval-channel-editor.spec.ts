import assert from 'node:assert/strict';
import { openEditor, skipWithoutChromium, type EditorBrowser } from '../helpers/browser';
import { startHub, type RunningHub } from '../helpers/hub-process';

/* eslint-disable @typescript-eslint/no-explicit-any */
describe('approval channels in the editor, in headless Chromium (e2e)', function () {
  this.timeout(180000);
  let hub: RunningHub;
  let editor: EditorBrowser | undefined;
  let page: any;
  let pageErrors: string[] = [];

  before(async function () {
    skipWithoutChromium(this);
    hub = await startHub();
    editor = await openEditor(hub.banner.editor, 'soar-wait-approval');
    ({ page, pageErrors } = editor);
  });
  after(async function () {
    await editor?.close();
    await hub?.stop();
  });

  it('a new wait-for-approval node dropped from the palette shows quorum 1 and timeout 60', async function () {
    const palette = page.locator('.red-ui-palette-node[data-palette-type="soar-wait-approval"]');
    const before = await page.evaluate(() => {
      const ids: string[] = [];
      (window as any).RED.nodes.eachNode((n: any) => ids.push(n.id));
      return ids;
    });
    await palette.dragTo(page.locator('#red-ui-workspace-chart'), { targetPosition: { x: 500, y: 420 } });
    const id = await page.waitForFunction(
      (known: string[]) => {
        let found = '';
        (window as any).RED.nodes.eachNode((n: any) => {
          if (n.type === 'soar-wait-approval' && !known.includes(n.id)) found = n.id;
        });
        return found;
      },
      before,
      { timeout: 15000 },
    );
    await page.evaluate((i: string) => (window as any).RED.editor.edit((window as any).RED.nodes.node(i)), await id.jsonValue());
    await page.locator('#node-input-quorum').waitFor();
    assert.equal(await page.locator('#node-input-quorum').inputValue(), '1');
    assert.equal(await page.locator('#node-input-timeout').inputValue(), '60');
    await page.locator('#node-dialog-cancel').click();
    await page.locator('#node-input-quorum').waitFor({ state: 'detached' });
  });

  it('an imported version 1 node without quorum and timeout shows the defaults; a channel is added with + and shows its callback URL', async function () {
    await page.evaluate(() => {
      const RED = (window as any).RED;
      RED.view.importNodes(
        [
          {
            id: 'e2e-wait',
            type: 'soar-wait-approval',
            configVersion: 1,
            z: RED.workspaces.active(),
            x: 300,
            y: 600,
            approvers: 'ana: slack:U1',
            channels: [],
            wires: [[], [], []],
          },
        ],
        { generateIds: false },
      );
      RED.editor.edit(RED.nodes.node('e2e-wait'));
    });
    await page.locator('#node-input-quorum').waitFor();
    assert.equal(await page.locator('#node-input-quorum').inputValue(), '1');
    assert.equal(await page.locator('#node-input-timeout').inputValue(), '60');
    assert.equal(await page.locator('.soar-approval-slot-1').isVisible(), true);
    assert.equal(await page.locator('.soar-approval-slot-2').isVisible(), false, 'one empty slot at a time');

    await page.locator('#node-input-btn-channel1-add').click();
    const kind = page.locator('#node-config-input-kind');
    await kind.waitFor();
    const kinds = await kind.locator('option').evaluateAll((os: Element[]) => os.map((o) => (o as HTMLOptionElement).value));
    assert.deepEqual(kinds, ['email', 'slack', 'teams', 'telegram', 'mattermost', 'webhook']);
    await kind.selectOption('slack');
    assert.equal(await page.locator('#node-config-input-botToken').getAttribute('type'), 'password');
    assert.equal(await page.locator('#node-config-input-signingSecret').isVisible(), true);
    assert.equal(await page.locator('#node-config-input-host').isVisible(), false, "not the e-mail kind's SMTP host");
    assert.equal(await page.locator('#node-config-input-url').isVisible(), false, 'the API root is hidden');
    const callback = await page.locator('#soar-ac-callback').inputValue();
    assert.match(callback, /^http:\/\/127\.0\.0\.1:\d+\/soar\/approval-channel\/[0-9a-f]+\/callback$/);
    assert.match(await page.locator('#soar-ac-identity').innerText(), /slack:U024BE7LH/);
    await kind.selectOption('telegram');
    assert.equal(await page.locator('#soar-ac-callback-row').isVisible(), false, 'Telegram polls: no callback URL');
    await kind.selectOption('slack');
    await page.fill('#node-config-input-name', 'e2e slack');
    await page.fill('#node-config-input-botToken', 'xoxb-e2e');
    await page.fill('#node-config-input-signingSecret', 'e2e-signing-secret');
    await page.fill('#node-config-input-channelId', 'C0E2E');
    await page.locator('#node-config-dialog-ok').click();
    await kind.waitFor({ state: 'detached' });
    const picked = await page.locator('#node-input-channel1').inputValue();
    assert.notEqual(picked, '_ADD_');
    await page.locator('.soar-approval-slot-2').waitFor({ state: 'visible', timeout: 10000 });
    await page.locator('#node-dialog-ok').click();
    await page.locator('#node-input-channel1').waitFor({ state: 'detached' });

    const state = await page.evaluate((id: string) => {
      const RED = (window as any).RED;
      const wait = RED.nodes.node('e2e-wait');
      const exported = RED.nodes.createExportableNodeSet([wait]);
      const channel = exported.find((n: any) => n.id === id);
      return {
        channel1: wait.channel1,
        configVersion: wait.configVersion,
        users: RED.nodes.node(id).users.map((u: any) => u.id),
        exported: Boolean(channel),
        secretInExport: JSON.stringify(exported).includes('e2e-signing-secret') || JSON.stringify(exported).includes('xoxb-e2e'),
        valid: wait.valid,
      };
    }, picked);
    assert.deepEqual(state, { channel1: picked, configVersion: 2, users: ['e2e-wait'], exported: true, secretInExport: false, valid: true });
    assert.deepEqual(pageErrors, []);
  });
});
