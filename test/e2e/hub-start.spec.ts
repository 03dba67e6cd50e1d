import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { freePort, launchHub, parseBanner, startHub } from '../helpers/hub-process';
import { root, tempDir } from '../helpers/nr';

const SAMPLE = fs.readFileSync(path.join(root, 'test', 'fixtures', 'samples', 'wazuh', 'sshd-bruteforce.json'), 'utf8');

async function postAlert(port: number, token: string): Promise<{ status: number; type: string; retryAfter: string | null; body: string } | { error: string }> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/soar/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: SAMPLE.replace(/"id":\s*"[^"]*"/, `"id": "${Date.now()}.${Math.random()}"`),
    });
    return { status: res.status, type: res.headers.get('content-type') ?? '', retryAfter: res.headers.get('retry-after'), body: await res.text() };
  } catch (err) {
    return { error: String((err as Error & { cause?: { code?: string } }).cause?.code ?? err) };
  }
}

/** As a sender does: a 503 with Retry-After (flows still restarting after a deploy) is tried again, for at most 20 s. */
async function postAccepted(port: number, token: string): Promise<number> {
  const until = Date.now() + 20_000;
  for (;;) {
    const r = await postAlert(port, token);
    if ('error' in r) throw new Error(r.error);
    if (r.status !== 503 || !r.retryAfter || Date.now() > until) return r.status;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function login(port: number, password: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/admin/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: 'node-red-editor', grant_type: 'password', scope: '*', username: 'admin', password }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { access_token: string }).access_token;
}

const modeOf = (p: string) => fs.statSync(p).mode & 0o777;

describe('npm start: starting and restarting the hub (e2e)', function () {
  this.timeout(240000);

  it('starts under a 128 MB heap cap and answers 503 JSON with Retry-After (never an HTML 404) until the flows run, then 202', async function () {
    const token = 'startup-token-0123456789abcdef';
    const hub = await launchHub({ NODE_OPTIONS: '--max-old-space-size=128', SOAR_INTAKE_TOKEN: token });
    const seen: Record<string, number> = {};
    let sample503: { retryAfter: string | null; type: string; body: string } | undefined;
    let ready = false;
    hub.outcome.then(() => (ready = true));
    try {
      while (!ready) {
        const r = await postAlert(hub.port, token);
        const key = 'error' in r ? r.error : String(r.status);
        seen[key] = (seen[key] ?? 0) + 1;
        if (!('error' in r)) {
          assert.notEqual(r.status, 404, `an intake path answered 404 while starting: ${r.body.slice(0, 200)}`);
          assert.match(r.type, /json/, `JSON, not HTML: ${r.status} ${r.body.slice(0, 200)}`);
          if (r.status === 503) sample503 ??= r;
        }
        await new Promise((res) => setTimeout(res, 20));
      }
      assert.equal(await hub.outcome, 'ready', hub.output().slice(-3000));
      assert.ok(sample503, `a 503 while starting (seen: ${JSON.stringify(seen)})`);
      assert.ok(Number(sample503!.retryAfter) > 0, 'Retry-After');
      assert.match(JSON.parse(sample503!.body).error, /starting/);
      // A transport error (refused before listening, or a reset of a kept-alive socket while the loaded
      // machine starts the runtime) is retried by every sender; what must never come is a 4xx.
      for (const k of Object.keys(seen)) assert.ok(['ECONNREFUSED', 'ECONNRESET', '503', '202'].includes(k), `unexpected answer ${k}: ${JSON.stringify(seen)}`);
      const after = await postAlert(hub.port, token);
      assert.ok(!('error' in after) && after.status === 202, JSON.stringify(after));
    } finally {
      await hub.stop();
    }
  });

  it('exits non-zero with a clear message and no banner when the port is taken', async function () {
    const port = await freePort();
    const squatter = net.createServer((s) => s.end());
    await new Promise<void>((r) => squatter.listen(port, '127.0.0.1', r));
    try {
      const hub = await launchHub({ PORT: String(port) });
      try {
        assert.equal(await hub.outcome, 'exited', hub.output().slice(-3000));
        await new Promise((r) => setTimeout(r, 200));
        assert.notEqual(hub.exitCode(), 0);
        assert.match(hub.output(), new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
        assert.doesNotMatch(hub.output(), /SOAR hub is running/);
      } finally {
        await hub.stop();
      }
    } finally {
      squatter.close();
    }
  });

  it('seeds the intake token on first start only: a token changed in the editor survives a restart', async function () {
    let hub = await startHub();
    const { home, port } = hub;
    const seeded = hub.banner['intake token'];
    const userToken = 'changed-in-the-editor-0123456789';
    try {
      const auth = { 'Node-RED-API-Version': 'v2' };
      const current = (await (await fetch(`http://127.0.0.1:${port}/admin/flows`, { headers: auth })).json()) as { flows: { id: string }[]; rev: string };
      const flows = current.flows.map((n) => (n.id === 'soar-quickstart-intake' ? { ...n, credentials: { token: userToken } } : n));
      const deploy = await fetch(`http://127.0.0.1:${port}/admin/flows`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
        body: JSON.stringify({ flows, rev: current.rev }),
      });
      assert.equal(deploy.status, 200, await deploy.text());
      // The deploy answers before the restarted flows run; meanwhile the intake path answers 503.
      assert.equal(await postAccepted(port, userToken), 202);
    } finally {
      await hub.stop();
    }
    hub = await startHub({ SOAR_HOME: home, PORT: String(port) });
    try {
      assert.equal(((await postAlert(port, userToken)) as { status: number }).status, 202, "the user's token still works after a restart");
      assert.equal(((await postAlert(port, seeded)) as { status: number }).status, 401, 'the seeded token is not put back');
      assert.equal(hub.banner['intake token'], userToken);
    } finally {
      await hub.stop();
    }
  });

  it("keeps secrets owner-only, seeds the intake token once, keeps the user's token and settings, and resets a lost password", async function () {
    const home = tempDir('soar-hub-');
    fs.chmodSync(home, 0o755); // an existing, too open home
    const userSettings = path.join(home, 'settings.user.js');
    fs.writeFileSync(
      userSettings,
      "// mine\nmodule.exports = { uiPort: 1, httpAdminMiddleware: (req, res, next) => { res.setHeader('x-team', 'blue'); next(); } };\n",
      { mode: 0o644 },
    );
    const userSettingsText = fs.readFileSync(userSettings, 'utf8');
    const env = { SOAR_HOME: home, SOAR_ADMIN_LOGIN: '1' };

    let hub = await startHub(env);
    const port = hub.port;
    const firstToken = hub.banner['intake token'];
    const password = /admin \/ (\S+)/.exec(hub.banner['editor login'] ?? '')?.[1];
    try {
      assert.ok(password, 'login on loopback with SOAR_ADMIN_LOGIN=1 prints a password');
      assert.match(hub.output(), /settings\.user\.js: uiPort is ignored/);
      // The user's middleware runs; the forced port stays the hub's.
      const login1 = await fetch(`http://127.0.0.1:${port}/admin/auth/login`);
      assert.equal(login1.headers.get('x-team'), 'blue');

      const access = await login(port, password!);
      const auth = { authorization: `Bearer ${access}`, 'Node-RED-API-Version': 'v2' };
      const current = (await (await fetch(`http://127.0.0.1:${port}/admin/flows`, { headers: auth })).json()) as {
        flows: { id: string; credentials?: unknown }[];
        rev: string;
      };
      const userToken = 'token-set-in-the-editor-0123456789';
      const flows = current.flows.map((n) => (n.id === 'soar-quickstart-intake' ? { ...n, credentials: { token: userToken } } : n));
      // Alerts posted while the deploy restarts the flows: accepted, refused for the token, or 503; never 404.
      let deploying = true;
      const during: number[] = [];
      const poster = (async () => {
        while (deploying) {
          const r = await postAlert(port, firstToken);
          if (!('error' in r)) during.push(r.status);
        }
      })();
      const deploy = await fetch(`http://127.0.0.1:${port}/admin/flows`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
        body: JSON.stringify({ flows, rev: current.rev }),
      });
      await new Promise((r) => setTimeout(r, 500));
      deploying = false;
      await poster;
      assert.equal(deploy.status, 200, await deploy.text());
      assert.ok(during.length > 0);
      for (const s of during) assert.ok([202, 401, 503].includes(s), `answer during a deploy: ${s}`);
      assert.equal(((await postAlert(port, userToken)) as { status: number }).status, 202);

      assert.equal(modeOf(home), 0o700, 'an existing home is tightened');
      for (const f of ['.sessions.json', 'flows_cred.json', '.credential-secret', '.admin-password.bcrypt', 'settings.user.js', 'flows.json']) {
        assert.ok(fs.existsSync(path.join(home, f)), f);
      }
      for (const f of fs.readdirSync(home)) {
        const st = fs.statSync(path.join(home, f));
        if (st.isFile()) assert.equal(st.mode & 0o077, 0, `${f} is ${(st.mode & 0o777).toString(8)}`);
      }
    } finally {
      await hub.stop();
    }

    // Restart: the token set in the editor is still the one; no new password is printed.
    hub = await startHub({ ...env, PORT: String(port) });
    try {
      assert.equal(hub.banner['intake token'], 'token-set-in-the-editor-0123456789');
      assert.equal(hub.banner['editor login'], undefined, 'the password is printed only once');
      assert.equal(((await postAlert(port, 'token-set-in-the-editor-0123456789')) as { status: number }).status, 202);
      assert.equal(((await postAlert(port, firstToken)) as { status: number }).status, 401);
      assert.equal(fs.readFileSync(userSettings, 'utf8'), userSettingsText, "the user's settings file is never rewritten");
    } finally {
      await hub.stop();
    }

    // A lost password: delete the hash and start again; a new one is printed once and works.
    fs.rmSync(path.join(home, '.admin-password.bcrypt'));
    hub = await startHub({ ...env, PORT: String(port) });
    try {
      const fresh = /admin \/ (\S+)/.exec(hub.banner['editor login'] ?? '')?.[1];
      assert.ok(fresh && fresh !== password);
      await login(port, fresh!);
      const old = await fetch(`http://127.0.0.1:${port}/admin/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: 'node-red-editor', grant_type: 'password', scope: '*', username: 'admin', password }),
      });
      assert.equal(old.status, 403, 'the old password no longer works');
    } finally {
      await hub.stop();
    }
  });

  it('writes a settings.user.js template on first start and installs nodes from the palette', async function () {
    const hub = await startHub();
    try {
      const template = fs.readFileSync(path.join(hub.home, 'settings.user.js'), 'utf8');
      assert.match(template, /module\.exports = \{/);
      const settings = (await (await fetch(`http://127.0.0.1:${hub.port}/admin/settings`)).json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      assert.notEqual(settings.editorTheme?.palette?.editable, false, 'palette manager enabled');
      assert.notEqual(settings.externalModules?.palette?.allowInstall, false, 'installing from the palette allowed');
      assert.equal(parseBanner(hub.output()).settings, path.join(hub.home, 'settings.user.js'));

      // Install a node module from the palette's upload (no network needed for a module without dependencies).
      const pkg = tempDir('soar-palette-');
      fs.writeFileSync(
        path.join(pkg, 'package.json'),
        JSON.stringify({
          name: 'node-red-contrib-soar-palette-probe',
          version: '1.0.0',
          license: 'Apache-2.0',
          'node-red': { nodes: { 'soar-palette-probe': 'probe.js' } },
        }),
      );
      fs.writeFileSync(
        path.join(pkg, 'probe.js'),
        "module.exports = (RED) => RED.nodes.registerType('soar-palette-probe', function (c) { RED.nodes.createNode(this, c); });\n",
      );
      fs.writeFileSync(
        path.join(pkg, 'probe.html'),
        "<script>RED.nodes.registerType('soar-palette-probe', { category: 'function', defaults: {}, inputs: 1, outputs: 0 });</script>\n",
      );
      const packed = spawnSync('npm', ['pack', '--silent'], { cwd: pkg, encoding: 'utf8' });
      assert.equal(packed.status, 0, packed.stderr);
      const tgz = path.join(pkg, packed.stdout.trim().split('\n').pop()!);
      const form = new FormData();
      form.append('tarball', new Blob([fs.readFileSync(tgz)], { type: 'application/gzip' }), path.basename(tgz));
      const install = await fetch(`http://127.0.0.1:${hub.port}/admin/nodes`, { method: 'POST', body: form });
      assert.equal(install.status, 200, await install.clone().text());
      const nodes = (await (await fetch(`http://127.0.0.1:${hub.port}/admin/nodes`, { headers: { accept: 'application/json' } })).json()) as {
        types: string[];
      }[];
      assert.ok(
        nodes.some((n) => n.types.includes('soar-palette-probe')),
        "the uploaded module's node is in the palette",
      );
      assert.ok(fs.existsSync(path.join(hub.home, 'node_modules', 'node-red-contrib-soar-palette-probe')));
    } finally {
      await hub.stop();
    }
  });
});
