/**
 * The quickstart playbook, loaded and run as Node-RED loads it: the copy saved by release 0.1.0
 * (test/fixtures/flows, unchanged) migrates and keeps its behaviour; the shipped example blocks
 * only what the verdict accused.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validateMessage } from '../../lib/contract';
import { capturingRED, helper, nodeModule, root, sample, serve, tempDir } from '../helpers/nr';

type Msg = Record<string, any>;

const nodesDir = path.dirname(require.resolve('@node-red/nodes/package.json'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const core = (file: string) => require(path.join(nodesDir, 'core', file));
const firewall = capturingRED(nodeModule('firewall'));
const modules = [
  nodeModule('hub'),
  nodeModule('alert-intake'),
  nodeModule('intel-source'),
  nodeModule('enrich-ioc'),
  firewall.module,
  nodeModule('block-ip'),
  nodeModule('ticketing'),
  nodeModule('open-ticket'),
  core('common/21-debug.js'),
  core('common/90-comment.js'),
  core('function/10-switch.js'),
];

function playbook(file: string, dir: string): Msg[] {
  const flow = JSON.parse(fs.readFileSync(file, 'utf8')) as Msg[];
  // Only the state folder moves into the test's temporary directory.
  return flow.map((n) => (n.type === 'soar-hub' ? { ...n, dir } : n));
}

/** A Wazuh sshd alert from `source` whose log line also names `mentioned`. */
function wazuhAlert(source: string, mentioned: string): Msg {
  const raw = JSON.parse(sample('wazuh/sshd-bruteforce.json'));
  raw.id = `qs-${source}-${mentioned}`;
  raw.data.srcip = source;
  raw.full_log = `Nov 20 08:14:03 web-02 sshd[40211]: Invalid user admin from ${source} port 51122; earlier attempts relayed via ${mentioned}`;
  return raw;
}

describe('quickstart playbook', function () {
  let dir: string;
  let srv: { url: string; close(): Promise<void> } | undefined;
  beforeEach(async function () {
    dir = tempDir();
    await helper.startServer();
  });
  afterEach(async function () {
    await srv?.close();
    srv = undefined;
    await helper.unload();
    await helper.stopServer();
  });

  async function run(file: string, alert: Msg): Promise<Msg> {
    await helper.load(modules, playbook(file, dir), { 'soar-quickstart-intake': { token: 'quickstart-test-token-0123456789' } });
    srv = await serve(firewall.red().httpNode);
    const result = new Promise<Msg>((resolve) => helper.getNode('soar-quickstart-blocked').once('input', resolve));
    helper.getNode('soar-quickstart-intake').receive({ payload: alert });
    return result;
  }
  const published = async () => (await fetch(`${srv!.url}/soar/blocklist/soar.txt`)).text();

  it("release 0.1.0's saved quickstart loads, migrates and keeps its behaviour: it blocks the alert's source", async function () {
    const file = path.join(root, 'test', 'fixtures', 'flows', 'Quickstart playbook.json');
    const msg = await run(file, wazuhAlert('198.51.100.10', '198.51.100.23'));
    assert.equal(msg.enrichment.verdict, 'malicious');
    assert.deepEqual(msg.enrichment.indicators['198.51.100.23'], { verdict: 'malicious', score: 100 });
    // As before the condition existed: the source was blocked although nothing accused it; the record now says so.
    assert.deepEqual(
      msg.actions.map((a: Msg) => [a.target, a.status, a.verdict?.verdict, a.allowedBy]),
      [['198.51.100.10', 'blocked', 'unknown', 'off']],
    );
    assert.match(await published(), /^198\.51\.100\.10$/m);
    assert.deepEqual(validateMessage(msg), [], 'every message part follows the contract');
  });

  it("the shipped quickstart blocks only the address the verdict accused, not the alert's source, and opens a local case", async function () {
    const ticketed = new Promise<Msg>((resolve) => {
      // The debug node exists once the flow is loaded inside run().
      const wait = () => (helper.getNode('soar-quickstart-ticketed') ? helper.getNode('soar-quickstart-ticketed').once('input', resolve) : setTimeout(wait, 5));
      wait();
    });
    const msg = await run(path.join(root, 'examples', 'Quickstart playbook.json'), wazuhAlert('198.51.100.10', '198.51.100.23'));
    assert.equal(msg.enrichment.verdict, 'malicious');
    assert.deepEqual(
      msg.actions.map((a: Msg) => [a.target, a.status, a.verdict, a.allowedBy]),
      [['198.51.100.23', 'blocked', { verdict: 'malicious', score: 100 }, 'verdict']],
    );
    const list = await published();
    assert.match(list, /^198\.51\.100\.23$/m);
    assert.doesNotMatch(list, /^198\.51\.100\.10$/m);
    assert.deepEqual(validateMessage(msg), [], 'every message part follows the contract');
    const ticket = (await ticketed).ticket;
    assert.deepEqual([ticket.provider, ticket.status, ticket.key, ticket.url], ['local', 'created', '#1', '/soar/cases/1']);
  });
});
