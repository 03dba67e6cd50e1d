/**
 * "Accepted means processed at least once", with the real product: Node-RED (this checkout, the pack
 * from dist/) runs a quickstart-like playbook (intake -> delay -> enrich IOC -> debug / block), ten
 * senders post alerts concurrently, Node-RED is killed with -9 in the middle, and started again on the
 * same user directory. Every alert that was answered 202 must be recorded, and must have its verdict
 * record exactly once, or more than once only when the audit log says it was redelivered.
 *
 * Needs `npm run build` first. Talks to 127.0.0.1 only.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { prepareUserDir } from '../helpers/nodered-process';
import { readJsonLines, root, sample, tempDir } from '../helpers/nr';
import { freePort, intakeNode, request, startNodeRed, type RestartableNodeRed } from '../helpers/restartable-node-red';

const SENDERS = 10;

function flows(): unknown[] {
  const feedDir = path.join(root, 'examples', 'feeds');
  return [
    { id: 'tab', type: 'tab', label: 'redelivery system test' },
    {
      id: 'the-hub',
      type: 'soar-hub',
      name: 'test hub',
      dir: '',
      simulate: true,
      includeDefaults: true,
      protectedCidrs: '',
      protectedHosts: '',
      gateways: '',
      dnsServers: '',
      maxActionsPerHour: 100000,
    },
    {
      id: 'demo-feed-src',
      type: 'soar-intel-source',
      name: 'demo blocklist',
      kind: 'feed',
      url: '',
      file: path.join(feedDir, 'demo-blocklist.txt'),
      refreshMinutes: 60,
      format: 'auto',
      level: 'malicious',
      verifyTls: true,
      weight: 1,
    },
    {
      id: 'fw-blocklist',
      type: 'soar-firewall',
      name: 'published blocklist',
      hub: 'the-hub',
      kind: 'blocklist',
      table: 'soar',
      listName: 'soar',
      reconcileMinutes: 15,
    },
    // allowFrom instead of a token: this test is about delivery, the credentials file is the hub's business.
    intakeNode(['slow'], { x: 100, y: 100 }),
    // Keeps messages in flight (a slow intel source would do the same), so the kill catches some.
    {
      id: 'slow',
      z: 'tab',
      type: 'delay',
      pauseType: 'delay',
      timeout: '300',
      timeoutUnits: 'milliseconds',
      rate: '1',
      nbRateUnits: '1',
      rateUnits: 'second',
      randomFirst: '1',
      randomLast: '5',
      randomUnits: 'seconds',
      drop: false,
      allowrate: false,
      outputs: 1,
      x: 250,
      y: 100,
      wires: [['enrich']],
    },
    {
      id: 'enrich',
      z: 'tab',
      type: 'soar-enrich-ioc',
      hub: 'the-hub',
      sources: ['demo-feed-src'],
      textFields: 'description, title',
      types: '',
      allowlist: '',
      deadline: 10,
      malicious: 70,
      suspicious: 40,
      outputMode: 'single',
      outputs: 1,
      x: 400,
      y: 100,
      wires: [['debug', 'malicious']],
    },
    { id: 'debug', z: 'tab', type: 'debug', active: false, tosidebar: true, console: false, complete: 'alert', targetType: 'msg', x: 600, y: 60, wires: [] },
    {
      id: 'malicious',
      z: 'tab',
      type: 'switch',
      property: 'enrichment.verdict',
      propertyType: 'msg',
      rules: [{ t: 'eq', v: 'malicious', vt: 'str' }],
      checkall: 'true',
      repair: false,
      outputs: 1,
      x: 600,
      y: 140,
      wires: [['block']],
    },
    {
      id: 'block',
      z: 'tab',
      type: 'soar-block-ip',
      firewall: 'fw-blocklist',
      target: 'alert.source.ip',
      targetType: 'msg',
      action: 'block',
      ttl: 1,
      ttlUnit: 'h',
      permanent: false,
      reason: 'alert.title',
      reasonType: 'msg',
      driftOutput: false,
      outputs: 3,
      x: 800,
      y: 140,
      wires: [[], [], []],
    },
  ];
}

describe('intake: accepted alerts are processed at least once across kill -9 (system)', function () {
  this.timeout(240_000);
  let running: RestartableNodeRed | undefined;
  after(async function () {
    await running?.kill9();
  });

  it("gives every 202'd alert its verdict once, or again only when it was redelivered", async function () {
    const port = await freePort();
    const dir = prepareUserDir(tempDir('soar-redelivery-'), port, flows());
    running = startNodeRed(dir);
    await running.waitForIntake();

    const template = JSON.parse(sample('wazuh/sshd-bruteforce.json'));
    let next = 0;
    const accepted: string[] = [];
    let refused = 0;
    let stop = false;
    const sender = async () => {
      while (!stop) {
        const i = next++;
        const id = `kill9-${i}`;
        const ip = `203.0.${(i >> 8) & 255}.${i & 255}`;
        const body = JSON.stringify({
          ...template,
          id,
          data: { ...template.data, srcip: ip },
          full_log: String(template.full_log).replace('203.0.113.44', ip),
        });
        try {
          const reply = await request(port, 'POST', '/soar/alerts', body);
          if (reply.status === 202) accepted.push(id);
          else refused += 1;
        } catch {
          refused += 1; // connection reset by the kill: not accepted, the sender would retry
        }
      }
    };
    const senders = Array.from({ length: SENDERS }, () => sender());
    // Let load build up until a fair number were accepted, then kill in the middle of it.
    while (accepted.length < 150) await new Promise((r) => setTimeout(r, 50));
    await running.kill9();
    stop = true;
    await Promise.all(senders);
    const acceptedBeforeKill = [...accepted];

    const before = readJsonLines(dir.auditFile);
    const verdictsBefore = new Set(before.filter((r) => r.type === 'enrichment.verdict').map((r) => r.alertId as string));
    const inFlightAtKill = acceptedBeforeKill.filter((id) => !verdictsBefore.has(id)).length;

    running = startNodeRed(dir);
    await running.waitForIntake();
    const verdictCount = () => {
      const counts = new Map<string, number>();
      for (const r of readJsonLines(dir.auditFile))
        if (r.type === 'enrichment.verdict') counts.set(r.alertId as string, (counts.get(r.alertId as string) ?? 0) + 1);
      return counts;
    };
    const deadline = Date.now() + 90_000;
    while (acceptedBeforeKill.some((id) => !verdictCount().has(id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));

    const audit = readJsonLines(dir.auditFile);
    const received = new Set(audit.filter((r) => r.type === 'alert.received').map((r) => (r.alert as { id: string }).id));
    const redelivered = new Set(audit.filter((r) => r.type === 'alert.redelivered').map((r) => (r.alert as { id: string }).id));
    const counts = verdictCount();
    const missing = acceptedBeforeKill.filter((id) => !counts.has(id));
    const twiceUnmarked = acceptedBeforeKill.filter((id) => (counts.get(id) ?? 0) > 1 && !redelivered.has(id));
    console.log(
      `      202'd ${acceptedBeforeKill.length}, refused/reset ${refused}, recorded ${acceptedBeforeKill.filter((id) => received.has(id)).length}, ` +
        `without a verdict at the kill ${inFlightAtKill}, redelivered ${redelivered.size}, processed ${acceptedBeforeKill.filter((id) => counts.has(id)).length}, ` +
        `verdict twice (redelivered) ${acceptedBeforeKill.filter((id) => (counts.get(id) ?? 0) > 1).length}`,
    );
    assert.deepEqual(
      acceptedBeforeKill.filter((id) => !received.has(id)),
      [],
      "every 202'd alert is in the audit log",
    );
    assert.deepEqual(missing, [], "every 202'd alert got its verdict");
    assert.deepEqual(twiceUnmarked, [], 'a second verdict only for a redelivered alert');
    assert.ok(inFlightAtKill > 0, 'the kill caught alerts in flight (else this run proved nothing)');
    assert.ok(redelivered.size >= inFlightAtKill, 'each alert without a verdict at the kill was redelivered');
    for (const id of redelivered) assert.ok(acceptedBeforeKill.includes(id) || received.has(id), `redelivered ${id} was accepted`);
    fs.rmSync(dir.userDir, { recursive: true, force: true });
  });
});
