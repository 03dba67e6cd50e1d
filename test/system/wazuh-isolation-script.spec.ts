/**
 * The Wazuh agent-side isolation script, exactly as docs/edr/wazuh-isolation.md ships it, run in a
 * network namespace with real packets (198.18.0.0/15, 2001:2::/48): the host keeps reaching its manager
 * and the allowed peer and nobody else, isolate and release are idempotent, and it refuses to isolate
 * without any address to keep. Needs root, nft, ip and jq or python3; skips with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createLab, requireSystemOrSkip, type NetnsLab } from '../helpers/netns';

const DOC = path.join(__dirname, '..', '..', 'docs', 'edr', 'wazuh-isolation.md');

function scriptFromDoc(): string {
  const text = fs.readFileSync(DOC, 'utf8');
  const section = /<!-- soar-isolate script: start -->\s*```sh\n([\s\S]*?)```\s*<!-- soar-isolate script: end -->/.exec(text);
  assert.ok(section, 'the script block is in the doc between its markers');
  return section[1];
}

function runIn(ns: string, script: string, env: Record<string, string>, stdin: string): Promise<number> {
  return new Promise((resolve) => {
    const child = execFile('ip', ['netns', 'exec', ns, 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'sh', script], (error) => {
      resolve(error ? (typeof error.code === 'number' ? error.code : 127) : 0);
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(stdin);
  });
}

describe('Wazuh isolation script from the docs, in network namespaces (real packets)', function () {
  this.timeout(60_000);
  let lab: NetnsLab | undefined;
  let port: number;
  let dir: string;
  let env: Record<string, string>;
  const script = () => path.join(dir, 'soar-isolate');
  const message = (data: Record<string, unknown>, command = 'add') =>
    JSON.stringify({
      version: 1,
      origin: { name: 'manager', module: 'wazuh-execd' },
      command,
      parameters: { extra_args: [], alert: { data }, program: 'active-response/bin/soar-isolate' },
    }) + '\n';
  const table = (): Promise<number> =>
    new Promise((resolve) => execFile('ip', ['netns', 'exec', lab!.victim.ns, 'nft', 'list', 'table', 'inet', 'soar_isolate'], (e) => resolve(e ? 1 : 0)));

  before(async function () {
    await requireSystemOrSkip(this, 'Wazuh isolation script system tests');
    lab = await createLab({ subnetOctet: 9 });
    port = await lab.startService();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-wazuh-ar-'));
    fs.mkdirSync(path.join(dir, 'etc'));
    fs.mkdirSync(path.join(dir, 'logs'));
    // "other" is the manager this agent reports to.
    fs.writeFileSync(
      path.join(dir, 'etc', 'ossec.conf'),
      `<ossec_config>\n  <client>\n    <server>\n      <address>${lab.other.ipv4}</address>\n    </server>\n  </client>\n</ossec_config>\n`,
    );
    fs.writeFileSync(script(), scriptFromDoc(), { mode: 0o750 });
    env = { OSSEC_DIR: dir };
    for (const from of ['attacker', 'other'] as const) {
      for (const host of [lab.victim.ipv4, lab.victim.ipv6]) {
        let ok = false;
        for (let i = 0; i < 5 && !ok; i++) ok = (await lab.connect(from, host, port, 1000)) === 'connected';
        assert.ok(ok, `${from} reaches ${host} before the test`);
      }
    }
  });

  after(async () => {
    await lab?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('isolates (twice, idempotent): the manager and the allowed peer get through, anyone else does not; release (twice) lets everyone back', async () => {
    const l = lab!;
    for (let i = 0; i < 2; i++) assert.equal(await runIn(l.victim.ns, script(), env, message({ soar_action: 'isolate', allow: [l.other.ipv6] })), 0);
    assert.equal(await table(), 0);
    assert.equal(await l.connect('other', l.victim.ipv4, port, 1000), 'connected', 'manager address from ossec.conf');
    assert.equal(await l.connect('other', l.victim.ipv6, port, 1000), 'connected', 'allowed by the request');
    assert.equal(await l.connect('attacker', l.victim.ipv4, port, 1000), 'timeout');
    assert.equal(await l.connect('attacker', l.victim.ipv6, port, 1000), 'timeout');

    for (let i = 0; i < 2; i++) assert.equal(await runIn(l.victim.ns, script(), env, message({ soar_action: 'release' })), 0);
    assert.notEqual(await table(), 0, 'table gone');
    assert.equal(await l.connect('attacker', l.victim.ipv4, port, 1000), 'connected');
    assert.equal(await l.connect('attacker', l.victim.ipv6, port, 1000), 'connected');
    const log = fs.readFileSync(path.join(dir, 'logs', 'active-responses.log'), 'utf8');
    assert.match(log, /isolated; reachable: .*198\.18\.9\./);
    assert.match(log, /release: not isolated/);
  });

  it('Wazuh "delete" releases; no allowed address, no action, or garbage in allow refuses without touching the network', async () => {
    const l = lab!;
    assert.equal(await runIn(l.victim.ns, script(), env, message({ soar_action: 'isolate', allow: [l.other.ipv6] })), 0);
    assert.equal(await runIn(l.victim.ns, script(), env, message({}, 'delete')), 0);
    assert.notEqual(await table(), 0);

    const bare = { OSSEC_DIR: path.join(dir, 'nowhere'), SOAR_ISOLATE_LOG: path.join(dir, 'logs', 'bare.log') };
    assert.equal(await runIn(l.victim.ns, script(), bare, message({ soar_action: 'isolate', allow: ['$(touch /tmp/x)', 'not-an-ip'] })), 1);
    assert.equal(await runIn(l.victim.ns, script(), env, message({ allow: [l.other.ipv4] })), 1);
    assert.notEqual(await table(), 0, 'nothing isolated');
    assert.match(fs.readFileSync(path.join(dir, 'logs', 'bare.log'), 'utf8'), /isolate refused: no address to keep reachable/);
    assert.equal(await l.connect('attacker', l.victim.ipv4, port, 1000), 'connected');
  });
});
