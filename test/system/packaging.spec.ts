import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../helpers/hub-process';
import { root, tempDir } from '../helpers/nr';

const run = promisify(execFile);

/** Start Node-RED (this checkout's copy) on a user directory where the pack was npm-installed. */
async function nodeRedWith(userDir: string) {
  const port = await freePort();
  fs.writeFileSync(
    path.join(userDir, 'settings.js'),
    `module.exports = ${JSON.stringify({ uiHost: '127.0.0.1', uiPort: port, httpAdminRoot: '/admin', userDir, flowFile: 'flows.json', credentialSecret: 'pack-test', editorTheme: { tours: false, palette: { catalogues: [] } }, telemetry: { enabled: false }, logging: { console: { level: 'warn' } } })};`,
  );
  const child = spawn(process.execPath, [require.resolve('node-red/red.js'), '-u', userDir, '-s', path.join(userDir, 'settings.js')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const base = `http://127.0.0.1:${port}/admin`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/settings`)).ok) break;
    } catch {
      /* starting */
    }
    if (i > 240 || child.exitCode !== null) throw new Error(`Node-RED did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    base,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** What an editor needs from the runtime: both node types, the icon, the catalog and the help text. */
async function assertPackLoaded(base: string) {
  const sets = (await (await fetch(`${base}/nodes`, { headers: { accept: 'application/json' } })).json()) as {
    id: string;
    module: string;
    types: string[];
    err?: string;
  }[];
  const ours = sets.filter((s) => s.module === 'node-red-contrib-soar');
  assert.deepEqual(ours.map((s) => s.err).filter(Boolean), []);
  const declared = Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))['node-red'].nodes).sort();
  assert.deepEqual(ours.flatMap((s) => s.types).sort(), declared);
  const icons = (await (await fetch(`${base}/icons`)).json()) as Record<string, string[]>;
  assert.ok(icons['node-red-contrib-soar']?.includes('soar-intake.svg'), JSON.stringify(icons));
  assert.ok(icons['node-red-contrib-soar']?.includes('soar-isolate.svg'), JSON.stringify(icons));
  assert.ok(icons['node-red-contrib-soar']?.includes('soar-ticket.svg'), JSON.stringify(icons));
  const catalog = (await (await fetch(`${base}/locales/node-red-contrib-soar/soar-alert-intake?lng=en-US`)).json()) as Record<string, any>;
  assert.equal(catalog['soar-alert-intake'].label.authType, 'Authentication');
  const html = await (await fetch(`${base}/nodes`, { headers: { accept: 'text/html' } })).text();
  assert.match(html, /data-help-name="soar-alert-intake"/);
  assert.match(html, /RED\.nodes\.registerType\("soar-alert-intake"/);
  for (const type of ['soar-isolate-host', 'soar-edr']) {
    assert.match(html, new RegExp(`data-help-name="${type}"`));
    assert.match(html, new RegExp(`RED\\.nodes\\.registerType\\("${type}"`));
  }
  // The EDR kinds reach the editor from their descriptors.
  const settings = (await (await fetch(`${base}/settings`, { headers: { accept: 'application/json' } })).json()) as { soarEdrKinds?: { kind: string }[] };
  assert.deepEqual((settings.soarEdrKinds ?? []).map((k) => k.kind).slice(0, 4), ['crowdstrike', 'defender', 'sentinelone', 'wazuh']);
  await assertExamplesAreFlows(base);
}

/** Import ▸ Examples: every entry (folders walked) is a flow that imports, and the quickstart is one. */
async function assertExamplesAreFlows(base: string) {
  const flows: string[] = [];
  const walk = async (dir: string) => {
    const entries = (await (await fetch(`${base}/library/examples/flows/${dir}`)).json()) as (string | { fn: string })[];
    for (const entry of entries) {
      if (typeof entry === 'string') await walk(`${dir}/${encodeURIComponent(entry)}`);
      else flows.push(`${dir}/${encodeURIComponent(entry.fn)}`);
    }
  };
  await walk('node-red-contrib-soar');
  assert.deepEqual(flows.sort(), [
    'node-red-contrib-soar/Isolate%20host',
    'node-red-contrib-soar/Quickstart%20playbook',
    'node-red-contrib-soar/Wait%20for%20approval',
  ]);
  for (const flow of flows) {
    const nodes = (await (await fetch(`${base}/library/examples/flows/${flow}`)).json()) as { id?: unknown; type?: unknown }[];
    assert.ok(Array.isArray(nodes) && nodes.length > 0, `${flow} is an array of nodes`);
    for (const node of nodes) assert.ok(typeof node.id === 'string' && typeof node.type === 'string', `${flow}: ${JSON.stringify(node).slice(0, 120)}`);
  }
}

describe('packaging (npm pack, npm install into a Node-RED user directory)', function () {
  this.timeout(240000);
  let tarball: string;

  before(async function () {
    const out = tempDir('soar-pack-');
    // dist/ is already built by `npm test`; --ignore-scripts keeps prepack from rebuilding under running tests.
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', out], { cwd: root });
    tarball = path.join(out, JSON.parse(stdout)[0].filename);
  });

  it('ships only what Node-RED loads', async function () {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout
      .split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ''));
    for (const need of [
      'package.json',
      'README.md',
      'dist/nodes/alert-intake.js',
      'dist/nodes/alert-intake.html',
      'dist/nodes/hub.js',
      'dist/nodes/icons/soar-intake.svg',
      'dist/nodes/icons/soar-isolate.svg',
      'dist/nodes/isolate-host.js',
      'dist/nodes/isolate-host.html',
      'dist/nodes/edr.js',
      'dist/nodes/edr.html',
      'dist/nodes/locales/en-US/isolate-host.json',
      'dist/nodes/locales/en-US/isolate-host.html',
      'dist/nodes/locales/en-US/edr.json',
      'dist/nodes/locales/en-US/edr.html',
      'dist/lib/edr/kinds/crowdstrike.js',
      'resources/migrations/soar-isolate-host.js',
      'dist/nodes/open-ticket.js',
      'dist/nodes/open-ticket.html',
      'dist/nodes/ticketing.js',
      'dist/nodes/ticketing.html',
      'dist/nodes/icons/soar-ticket.svg',
      'dist/nodes/locales/en-US/open-ticket.json',
      'dist/nodes/locales/en-US/open-ticket.html',
      'dist/nodes/locales/en-US/ticketing.json',
      'resources/migrations/soar-open-ticket.js',
      'dist/nodes/locales/en-US/alert-intake.json',
      'dist/nodes/locales/en-US/alert-intake.html',
      'dist/lib/alert/index.js',
      'dist/bin/soar.js',
      'examples/Quickstart playbook.json',
      'feeds/demo-blocklist.txt',
      'feeds/demo-kev.json',
      'feeds/demo-epss.csv',
      'schema/soar-alert.schema.json',
      // Served to the editor as resources/node-red-contrib-soar/... by the nodes' <script src> tags.
      'resources/migrations/core.js',
      'resources/migrations/soar-block-ip.js',
      'resources/migrations/soar-enrich-ioc.js',
      'resources/editor/kind-form.js',
      'resources/editor/action-node.js',
      'resources/editor/only-config.js',
    ]) {
      assert.ok(files.includes(need), `${need} is shipped`);
    }
    const unwanted = files.filter((f) => /^(test|bench|scripts|\.ci|lib|nodes|icons|locales)\//.test(f) || f.endsWith('.ts') || f.endsWith('.map'));
    assert.deepEqual(unwanted, []);
    // Node-RED offers every .json under examples/ as a flow: data files stay out.
    assert.deepEqual(
      files.filter((f) => f.startsWith('examples/') && !f.endsWith('.json')),
      [],
    );
  });

  it('works when the tarball is npm-installed into a user directory', async function () {
    const userDir = tempDir('soar-userdir-');
    fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true }));
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', tarball], { cwd: userDir });
    const red = await nodeRedWith(userDir);
    try {
      await assertPackLoaded(red.base);
    } finally {
      await red.stop();
    }
  });

  it('works when the checkout is npm-installed into a user directory', async function () {
    const userDir = tempDir('soar-userdir-');
    fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true }));
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', root], { cwd: userDir });
    assert.ok(fs.lstatSync(path.join(userDir, 'node_modules', 'node-red-contrib-soar')).isSymbolicLink());
    const red = await nodeRedWith(userDir);
    try {
      await assertPackLoaded(red.base);
    } finally {
      await red.stop();
    }
  });
});

describe('Flow Library scorecard (npm run validate)', function () {
  this.timeout(180000);
  it('passes every check', async function () {
    // stdin closed: node-red-dev waits on an open stdin pipe.
    const child = spawn(process.execPath, [path.join(root, 'scripts', 'validate-offline.js')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stdout += d));
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 0, stdout);
    assert.match(stdout, /scorecard: all checks pass/);
    for (const id of ['P01', 'P03', 'P04', 'P05', 'P06', 'P07', 'N01', 'N02', 'D01', 'D02', 'D03']) assert.match(stdout, new RegExp(`${id} pass`));
  });
});
