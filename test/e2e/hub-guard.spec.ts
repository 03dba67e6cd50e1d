import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { launchChromium, skipWithoutChromium } from '../helpers/browser';
import { startHub, type RunningHub } from '../helpers/hub-process';
import { root } from '../helpers/nr';

/** One raw HTTP/1.1 exchange, so the test sets Host and Upgrade headers exactly. */
function raw(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(head));
    let out = '';
    s.on('data', (d) => {
      out += d;
      if (/\r\n\r\n/.test(out) && /^HTTP\/1\.1 (101|403)/.test(out)) s.end();
    });
    s.on('error', reject);
    s.on('close', () => resolve(out));
    setTimeout(() => s.destroy(), 5000);
  });
}

/**
 * The attacking page: from another origin (another port on 127.0.0.1, which browsers count as the
 * same site) it tries what a drive-by page could do against the editor of a loopback hub.
 */
function attackPage(hub: string, lease: { target: string; provider: string; hub: string }): string {
  return `<!doctype html><html><body>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe>
<form id="release" method="POST" target="sink1" action="${hub}/admin/soar/leases/release">
  <input name="target" value="${lease.target}"><input name="provider" value="${lease.provider}"><input name="hub" value="${lease.hub}">
</form>
<form id="deploy" method="POST" target="sink2" action="${hub}/admin/flows">
  <input name="flows" value="[]">
</form>
<script>
window.results = {};
async function attempt(name, fn) {
  try { window.results[name] = await fn(); } catch (e) { window.results[name] = "blocked: " + e.message; }
}
window.attack = async () => {
  await attempt("fetch GET /admin/flows (cors)", async () => {
    const r = await fetch("${hub}/admin/flows"); return "read " + r.status + " " + (await r.text()).slice(0, 40);
  });
  await attempt("fetch POST /admin/flows (json, cors)", async () => {
    const r = await fetch("${hub}/admin/flows", { method: "POST", headers: { "content-type": "application/json", "Node-RED-Deployment-Type": "full" }, body: "[]" });
    return "status " + r.status;
  });
  await attempt("fetch POST /admin/flows (no-cors text)", async () => {
    const r = await fetch("${hub}/admin/flows", { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body: "[]" });
    return "sent (opaque " + r.type + ")";
  });
  await attempt("fetch POST release (no-cors form)", async () => {
    const r = await fetch("${hub}/admin/soar/leases/release", { method: "POST", mode: "no-cors", body: new URLSearchParams(${JSON.stringify(lease)}) });
    return "sent (opaque " + r.type + ")";
  });
  await attempt("XHR GET /admin/soar/leases", () => new Promise((resolve) => {
    const x = new XMLHttpRequest(); x.open("GET", "${hub}/admin/soar/leases");
    x.onload = () => resolve("read " + x.status + " " + x.responseText.slice(0, 40)); x.onerror = () => resolve("blocked: XHR error"); x.send();
  }));
  await attempt("WebSocket /admin/comms", () => new Promise((resolve) => {
    const ws = new WebSocket("${hub.replace('http:', 'ws:')}/admin/comms");
    ws.onopen = () => { resolve("open"); ws.close(); }; ws.onerror = () => resolve("blocked: websocket error");
  }));
  document.getElementById("release").submit();
  document.getElementById("deploy").submit();
};
</script></body></html>`;
}

describe("the hub's admin side refuses other origins (e2e, Chromium)", function () {
  this.timeout(180000);
  let hub: RunningHub;
  let evil: http.Server;
  let evilPort: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let browser: any;
  let page = '';

  before(async function () {
    skipWithoutChromium(this);
    hub = await startHub();
    evil = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(page);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    evilPort = (evil.address() as net.AddressInfo).port;
    browser = await launchChromium();
  });
  after(async function () {
    await browser?.close();
    evil?.close();
    await hub?.stop();
  });

  it('a page from another origin can neither read nor change anything on the admin side; the editor itself works', async function () {
    const base = `http://127.0.0.1:${hub.port}`;
    // A real lease to release: the quickstart blocklists the address a malicious alert accused, once approved.
    const alert = await fetch(hub.banner.intake, {
      method: 'POST',
      headers: { authorization: `Bearer ${hub.banner['intake token']}`, 'content-type': 'application/json' },
      body: fs.readFileSync(path.join(root, 'test', 'fixtures', 'samples', 'wazuh', 'integrator-envelope.json')),
    });
    assert.equal(alert.status, 202);
    let pending: { hub: string; id: string } | undefined;
    for (let i = 0; i < 100 && !pending; i++) {
      pending = ((await (await fetch(`${base}/admin/soar/approvals`)).json()) as { approvals: { hub: string; id: string }[] }).approvals[0];
      if (!pending) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(pending, 'the quickstart asks for approval');
    const approved = await fetch(`${base}/admin/soar/approvals/decide`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ hub: pending.hub, id: pending.id, decision: 'approve' }),
    });
    assert.equal(approved.status, 200, 'the hub itself (no foreign Origin) may decide');
    type Lease = { target: string; provider: string; hub: string };
    const leases = async () => ((await (await fetch(`${base}/admin/soar/leases`)).json()) as { leases: Lease[] }).leases;
    let before: Lease[] = [];
    for (let i = 0; i < 100 && before.length === 0; i++) {
      before = await leases();
      if (!before.length) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(before.length > 0, 'the quickstart blocked the accused address');
    const flowsBefore = await (await fetch(`${base}/admin/flows`, { headers: { 'Node-RED-API-Version': 'v2' } })).json();

    page = attackPage(base, before[0]);
    const tab = await browser.newPage();
    const answers: string[] = [];
    tab.on('response', (r: { url(): string; status(): number; request(): { method(): string } }) => {
      if (r.url().startsWith(base)) answers.push(`${r.request().method()} ${r.url().slice(base.length)} -> ${r.status()}`);
    });
    await tab.goto(`http://127.0.0.1:${evilPort}/`);
    await tab.evaluate(() => (window as unknown as { attack(): Promise<void> }).attack());
    await tab.waitForTimeout(1500);
    const results: Record<string, string> = await tab.evaluate(() => (window as unknown as { results: Record<string, string> }).results);
    console.log(`      the attacking page saw: ${JSON.stringify(results, null, 1).replace(/\n/g, '\n      ')}`);
    console.log(`      the hub answered: ${answers.join('; ')}`);
    for (const [name, outcome] of Object.entries(results)) {
      assert.doesNotMatch(outcome, /^read|^status 2|^open/, `${name}: ${outcome}`);
    }
    const forms = answers.filter((a) => a.startsWith('POST /admin/'));
    assert.ok(forms.length >= 2, `form posts reached the hub: ${answers.join('; ')}`);
    for (const a of answers) assert.match(a, /-> 403$/, a);
    assert.deepEqual(await leases(), before, 'no lease was released');
    assert.deepEqual(await (await fetch(`${base}/admin/flows`, { headers: { 'Node-RED-API-Version': 'v2' } })).json(), flowsBefore, 'no flows were deployed');
    await tab.close();

    // The editor itself, in the same browser: loads, opens its comms websocket, and deploys.
    const editor = await browser.newPage();
    await editor.goto(hub.banner.editor);
    await editor.locator('.red-ui-palette-node[data-palette-type="soar-alert-intake"]').waitFor({ timeout: 60000 });
    await editor.waitForFunction(() => document.querySelector('#red-ui-header-button-deploy') !== null);
    const deployed = await editor.evaluate(async () => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const RED = (window as any).RED;
      RED.nodes.dirty(true);
      const r = await fetch('flows', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'Node-RED-API-Version': 'v2', 'Node-RED-Deployment-Type': 'full' },
        body: JSON.stringify({ flows: RED.nodes.createCompleteNodeSet(), rev: RED.nodes.version() }),
      });
      return r.status;
    });
    assert.equal(deployed, 200, "a deploy from the editor's own page");
    await editor.close();
  });

  it('refuses a foreign Host (DNS rebinding) and foreign-origin websockets; drops Access-Control-Allow-Origin', async function () {
    const rebound = await raw(hub.port, `GET /admin/flows HTTP/1.1\r\nHost: attacker.example:${hub.port}\r\nConnection: close\r\n\r\n`);
    assert.match(rebound, /^HTTP\/1\.1 403/);
    const post = await raw(
      hub.port,
      `POST /admin/flows HTTP/1.1\r\nHost: attacker.example:${hub.port}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]`,
    );
    assert.match(post, /^HTTP\/1\.1 403/);
    const wrongPort = await raw(hub.port, `GET /admin/flows HTTP/1.1\r\nHost: 127.0.0.1:1\r\nConnection: close\r\n\r\n`);
    assert.match(wrongPort, /^HTTP\/1\.1 403/);
    const ws = (origin: string) =>
      raw(
        hub.port,
        `GET /admin/comms HTTP/1.1\r\nHost: 127.0.0.1:${hub.port}\r\nOrigin: ${origin}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      );
    assert.match(await ws('http://attacker.example'), /^HTTP\/1\.1 403/);
    assert.match(await ws(`http://localhost:${hub.port}`), /^HTTP\/1\.1 101/);
    for (const host of [`127.0.0.1:${hub.port}`, `localhost:${hub.port}`, `[::1]:${hub.port}`]) {
      const ok = await raw(hub.port, `GET /admin/settings HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://${host}\r\nConnection: close\r\n\r\n`);
      assert.match(ok, /^HTTP\/1\.1 200/, host);
      assert.doesNotMatch(ok, /access-control-allow-origin/i);
    }
    // The intake stays open to non-browser senders, whatever their Host.
    const intake = await raw(
      hub.port,
      `POST /soar/alerts HTTP/1.1\r\nHost: siem.example\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
    );
    assert.match(intake, /^HTTP\/1\.1 401/, 'answered by the intake (no token), not by the guard');
  });
});
