/**
 * The local case store in the editor (headless Chromium against the hub as `npm start` runs it): a
 * flow opens a case, the SOAR sidebar lists it with its timeline, its link opens the read-only case
 * page, its close button closes it, and a later alert for the same incident opens a new case that
 * links the closed one (closedPolicy "link", the default). Also the open-ticket dialog's short body hint.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { openEditor, skipWithoutChromium, type EditorBrowser } from '../helpers/browser';
import { startHub, type RunningHub } from '../helpers/hub-process';

const INCIDENT = 'e2e-case-incident-1';

interface CaseRow {
  id: string;
  key: string;
  url: string;
  title: string;
  state: string;
  tracker: string;
  incidentKey?: string;
  linkTo?: { key: string };
  timeline: { type: string; text?: string }[];
}

describe('local cases in the SOAR sidebar (e2e)', function () {
  this.timeout(180000);
  let hub: RunningHub;
  let editor: EditorBrowser | undefined;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let page: any;
  let pageErrors: string[] = [];

  /** The cases of the e2e tracker, as the sidebar reads them (through the editor's own jQuery and token). */
  const cases = async (): Promise<CaseRow[]> =>
    page.evaluate(async () => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const $ = (window as any).$;
      const data = await $.getJSON('soar/cases');
      return data.cases.filter((c: { tracker: string }) => c.tracker === 'e2e-cases-tracker');
    });
  const fire = () =>
    page.evaluate(async () => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      await (window as any).$.ajax({ url: 'inject/e2e-cases-inject', type: 'POST' });
    });
  const refresh = () => page.locator('.soar-sidebar button', { hasText: 'refresh' }).first().click();

  before(async function () {
    skipWithoutChromium(this);
    hub = await startHub();
    editor = await openEditor(hub.banner.editor, 'soar-open-ticket');
    ({ page, pageErrors } = editor);
  });
  after(async function () {
    await editor?.close();
    await hub?.stop();
  });

  it('adds a flow whose open-ticket node uses a local case store, and shows a short body hint in its dialog', async function () {
    const added = await page.evaluate(async (incident: string) => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const { $, RED } = window as any;
      let hub = '';
      // The palette can show before the deployed flows are loaded into the editor.
      for (let i = 0; i < 150 && !hub; i++) {
        RED.nodes.eachConfig((n: { type: string; id: string }) => void (n.type === 'soar-hub' && !hub && (hub = n.id)));
        if (!hub) await new Promise((r) => setTimeout(r, 100));
      }
      const alert = { fingerprint: incident, title: 'e2e <b>case</b> from 203.0.113.9', severity: 4, severity_label: 'High' };
      const body = {
        id: 'e2e-cases-tab',
        label: 'e2e cases',
        nodes: [
          {
            id: 'e2e-cases-inject',
            type: 'inject',
            z: 'e2e-cases-tab',
            props: [{ p: 'alert', v: JSON.stringify(alert), vt: 'json' }],
            repeat: '',
            once: false,
            x: 120,
            y: 80,
            wires: [['e2e-cases-ticket']],
          },
          {
            id: 'e2e-cases-decoy-inject',
            type: 'inject',
            z: 'e2e-cases-tab',
            props: [{ p: 'alert', v: JSON.stringify({ ...alert, fingerprint: 'decoy', title: 'decoy case' }), vt: 'json' }],
            repeat: '',
            once: false,
            x: 120,
            y: 160,
            wires: [['e2e-cases-decoy-ticket']],
          },
          {
            id: 'e2e-cases-decoy-ticket',
            type: 'soar-open-ticket',
            z: 'e2e-cases-tab',
            configVersion: 1,
            ticketing: 'e2e-cases-decoy',
            incident: 'alert.fingerprint',
            incidentType: 'msg',
            title: '',
            body: '',
            coalesceMinutes: 5,
            closedPolicy: 'link',
            x: 320,
            y: 160,
            wires: [[], [], []],
          },
          {
            id: 'e2e-cases-ticket',
            type: 'soar-open-ticket',
            z: 'e2e-cases-tab',
            configVersion: 1,
            ticketing: 'e2e-cases-tracker',
            incident: 'alert.fingerprint',
            incidentType: 'msg',
            title: '',
            body: '',
            // Every repeat is checked against the case at once (no coalescing), so a closed case is seen.
            coalesceMinutes: 0,
            closedPolicy: 'link',
            x: 320,
            y: 80,
            wires: [[], [], []],
          },
        ],
        configs: [
          // A second local store whose case numbers start at 1 too: the links must open the right one.
          { id: 'e2e-cases-decoy', type: 'soar-ticketing', z: 'e2e-cases-tab', name: 'e2e decoy cases', hub, kind: 'local' },
          { id: 'e2e-cases-tracker', type: 'soar-ticketing', z: 'e2e-cases-tab', name: 'e2e cases', hub, kind: 'local' },
        ],
      };
      await $.ajax({ url: 'flow', type: 'POST', contentType: 'application/json', data: JSON.stringify(body) });
      await new Promise((r) => setTimeout(r, 1000));
      await $.ajax({ url: 'inject/e2e-cases-decoy-inject', type: 'POST' });
      return hub;
    }, INCIDENT);
    assert.ok(added, 'the running hub has a soar-hub config node');
    // The editor learns of the new tab on the next reload; the dialog is opened on a fresh copy.
    await page.reload();
    await page.locator('.red-ui-palette-node[data-palette-type="soar-open-ticket"]').waitFor({ timeout: 60000 });
    const hint = await page.evaluate(async () => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const { $, RED } = window as any;
      for (let i = 0; i < 150 && !RED.nodes.node('e2e-cases-ticket'); i++) await new Promise((r) => setTimeout(r, 100));
      RED.editor.edit(RED.nodes.node('e2e-cases-ticket'));
      for (let i = 0; i < 50 && !$('#node-input-body').length; i++) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 300));
      const out = { body: $('#node-input-body').attr('placeholder'), title: $('#node-input-title').attr('placeholder') };
      RED.tray.close();
      return out;
    });
    assert.equal(hint.body, 'default: alert, verdict, indicators, actions, approval — see help');
    assert.equal(hint.title, '[SOAR] {{alert.severity_label}}: {{alert.title}}');
  });

  it('lists the case a flow opened with its timeline, opens its read-only page, and closes it from the sidebar', async function () {
    await fire();
    let list: CaseRow[] = [];
    for (let i = 0; i < 50 && !list.length; i++) {
      await new Promise((r) => setTimeout(r, 200));
      list = await cases();
    }
    assert.equal(list.length, 1, 'one case opened');
    const opened = list[0];
    assert.equal(opened.state, 'open');

    await page.evaluate(() => (window as any).RED.sidebar.show('soar')); // eslint-disable-line @typescript-eslint/no-explicit-any
    await refresh();
    const row = page.locator(`.soar-cases .soar-case[data-tracker="e2e-cases-tracker"][data-case="${opened.id}"]`);
    await row.waitFor({ timeout: 15000 });
    const rowText: string = await row.innerText();
    assert.match(rowText, new RegExp(`${opened.key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(rowText, /e2e <b>case<\/b> from 203\.0\.113\.9/, 'the title is shown as text');
    assert.match(rowText, /open · /);
    assert.ok((await row.locator('li').count()) >= 1, 'the timeline is listed');
    assert.match(await row.locator('li').first().innerText(), /created|opened/i);
    assert.match(await page.locator('.soar-cases-title').innerText(), /Local cases \(\d+ open, \d+ closed\)/);

    // The key links to the read-only case page.
    const [casePage] = await Promise.all([page.context().waitForEvent('page'), row.locator('a').first().click()]);
    await casePage.waitForLoadState();
    // The URL names the store: case numbers start at 1 in every local store (the decoy has its own #1).
    assert.equal(new URL(casePage.url()).pathname, `/soar/cases/e2e-cases-tracker/${opened.id}`);
    const heading: string = await casePage.locator('h1').innerText();
    assert.equal(heading, `Case ${opened.key}: ${opened.title}`);
    assert.equal(await casePage.locator('h1 b').count(), 0, 'the alert title is escaped on the page');
    assert.match(await casePage.locator('body').innerText(), new RegExp(`Incident ${INCIDENT}`));
    assert.equal(await casePage.locator('script, form, button').count(), 0, 'read-only: no scripts, forms or buttons');
    await casePage.close();

    await row.locator('button.soar-close-case').click();
    const note = page.locator('.red-ui-notification', { hasText: `closed case ${opened.key}` }).first();
    await note.waitFor({ timeout: 15000 });
    const closedRow = page.locator(`.soar-cases .soar-case[data-tracker="e2e-cases-tracker"][data-case="${opened.id}"]`);
    for (let i = 0; i < 50 && /open · /.test(await closedRow.innerText()); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(await closedRow.innerText(), /closed · /);
    assert.equal(await closedRow.locator('button.soar-close-case').count(), 0, 'a closed case has no close button');
    const after = (await cases()).find((c) => c.id === opened.id)!;
    assert.equal(after.state, 'closed');
    assert.ok(
      after.timeline.some((e) => e.type === 'closed'),
      JSON.stringify(after.timeline),
    );
    const audit = fs.readFileSync(`${hub.home}/soar/audit.jsonl`, 'utf8');
    assert.match(audit, /"type":"ticket\.created"/);

    // A later alert for the same incident opens a new case that links the closed one.
    await fire();
    let both: CaseRow[] = [];
    for (let i = 0; i < 50 && both.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 200));
      both = await cases();
    }
    assert.equal(both.length, 2, JSON.stringify(both));
    const next = both.find((c) => c.id !== opened.id)!;
    assert.equal(next.state, 'open');
    assert.equal(next.linkTo?.key, opened.key);
    await refresh();
    const nextRow = page.locator(`.soar-cases .soar-case[data-tracker="e2e-cases-tracker"][data-case="${next.id}"]`);
    await nextRow.waitFor({ timeout: 15000 });
    assert.match(await nextRow.innerText(), new RegExp(`open · \\w+ · follows ${opened.key}`));
    // Open: the decoy's case and the new one; closed: the first.
    assert.match(await page.locator('.soar-cases-title').innerText(), /Local cases \(2 open, 1 closed\)/);
    const nextPage = await page.request.get(new URL(`/soar/cases/e2e-cases-tracker/${next.id}`, hub.banner.editor).toString());
    assert.equal(nextPage.status(), 200);
    assert.match(await nextPage.text(), new RegExp(`follows ${opened.key}`));
    assert.deepEqual(pageErrors, []);
  });
});
