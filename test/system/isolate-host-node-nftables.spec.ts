/**
 * The isolate host node end to end with the ssh-nftables kind: a real Node-RED (this checkout, the
 * pack from dist/) runs soar-hub + soar-edr + soar-isolate-host in a namespace of its own (the hub),
 * reaches the "host" namespace over a management veth with Debian's sshd (pinned host key, key auth,
 * sudo), and real TCP connections from the "peer" show what the host's kernel drops.
 *
 *   hub ns: Node-RED ──veth──► host ns: sshd, banner service on br0 ──── peer ns (service too)
 *
 * Alerts come in over the alert intake; the node's outputs are written by a function + file node to
 * <userDir>/outcomes.jsonl; leases are read through the admin API the sidebar uses; the audit log is
 * read from the hub folder. Each case has its own soar-edr (own table), so the cases do not share
 * leases or reconciliation timers. Lab: test/helpers/isolation-lab.ts; Node-RED: nodered-process.ts.
 *
 * Needs root, nft, ip, sshd, sudo, and `npm run build` first; skips with the reason otherwise
 * (fails instead with SOAR_REQUIRE_SYSTEM=1).
 */
import assert from 'node:assert/strict';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runOrThrow, setupIsolationLab, waitFor, type IsolationLab } from '../helpers/isolation-lab';
import { NamespaceHttp, prepareUserDir, startNodeRedInNamespace, type NodeRedProcess, type NodeRedUserDir } from '../helpers/nodered-process';
import { root, tempDir } from '../helpers/nr';

const NODE_RED_PORT = 1880;
const USER = 'soar-isonode-test';
/** The shortest rollback window the soar-edr node accepts (lib/edr/kinds/ssh-nftables.ts). */
const WINDOW_S = 10;
/** Reconciliation every 3 s for the drift case (the node takes minutes; fractions are allowed). */
const RECONCILE_MINUTES = 0.05;
const CREDENTIAL_SECRET = 'block-ip-system-test';

type Case = 'a' | 'b' | 'c' | 'd';
const CASES: Case[] = ['a', 'b', 'c', 'd'];
const table = (c: Case) => `soar_iso_${c}`;
const edrLabel = (c: Case) => `ssh ${c}`;

interface AuditLine {
  seq: number;
  type: string;
  [field: string]: any;
}

interface Outcome {
  output: 'done' | 'refused' | 'failed' | 'finished';
  status: string;
  state?: string;
  provider: string;
  target: string;
  reason?: string;
  error?: string;
  line: number;
}

interface IsolationView {
  target: string;
  provider: string;
  providerLabel: string;
  state: string;
  hub: string;
  reason?: string;
  pending?: unknown;
}

/** What each output writes: the node's last action record, one JSON line. */
const TAG_SOURCE = (output: Outcome['output']) => `
const actions = Array.isArray(msg.actions) ? msg.actions : [];
const r = actions[actions.length - 1] || {};
msg.payload = JSON.stringify({ output: ${JSON.stringify(output)}, status: r.status, state: r.state, provider: r.provider, target: r.target, reason: r.reason, error: r.error });
return msg;`;

function flows(lab: IsolationLab, outcomesFile: string): unknown[] {
  const host = lab.link.gatewayAddress;
  const pin = lab.sshd.hostKeySha256;
  // web01 is the host; db-01 is the same host under a protected name; self is the hub's own address.
  const inventory = [`web01 ${host} ${pin}`, `db-01 ${host} ${pin}`, `self ${lab.link.hostAddress} ${pin}`].join('\n');
  const nodes: Record<string, unknown>[] = [
    { id: 'tab', type: 'tab', label: 'isolate host system test' },
    {
      id: 'hub',
      type: 'soar-hub',
      name: 'test hub',
      dir: '',
      simulate: false,
      includeDefaults: true,
      protectedCidrs: '',
      protectedHosts: 'db-*',
      gateways: '',
      dnsServers: '',
      maxActionsPerHour: 100,
    },
  ];
  let row = 0;
  const at = (x: number) => ({ x, y: 40 + 60 * row });
  const outputs = ['done', 'refused', 'failed', 'finished'] as const;
  outputs.forEach((output, i) =>
    nodes.push({
      id: `tag-${output}`,
      z: 'tab',
      type: 'function',
      name: output,
      func: TAG_SOURCE(output),
      outputs: 1,
      x: 700,
      y: 40 + 60 * i,
      wires: [['outcomes']],
    }),
  );
  nodes.push({
    id: 'outcomes',
    z: 'tab',
    type: 'file',
    name: 'outcomes',
    filename: outcomesFile,
    filenameType: 'str',
    appendNewline: true,
    createDir: true,
    overwriteFile: 'false',
    encoding: 'none',
    x: 900,
    y: 40,
    wires: [[]],
  });
  for (const c of CASES) {
    nodes.push({
      id: `edr-${c}`,
      type: 'soar-edr',
      name: edrLabel(c),
      hub: 'hub',
      kind: 'ssh-nftables',
      configVersion: 1,
      pollSeconds: 1,
      timeoutMinutes: 5,
      reconcileMinutes: c === 'b' ? RECONCILE_MINUTES : 0,
      hosts: inventory,
      username: USER,
      sudo: true,
      hubAddresses: [],
      management: [],
      dns: [],
      table: table(c),
      rollbackSeconds: WINDOW_S,
    });
    nodes.push(
      {
        id: `intake-${c}`,
        z: 'tab',
        type: 'soar-alert-intake',
        hub: 'hub',
        path: `/iso/${c}/alerts`,
        authType: 'none',
        format: 'generic',
        dedupWindow: 0,
        ...at(150),
        wires: [[`isolate-${c}`]],
      },
      {
        id: `isolate-${c}`,
        z: 'tab',
        type: 'soar-isolate-host',
        configVersion: 1,
        edr: `edr-${c}`,
        target: 'alert.host.name',
        targetType: 'msg',
        action: 'msg',
        gate: 'off',
        ttl: '',
        reason: '',
        reasonType: 'msg',
        ...at(450),
        wires: outputs.map((output) => [`tag-${output}`]),
      },
    );
    row++;
    // Release through the same node: msg.action "release".
    nodes.push(
      {
        id: `intake-${c}-release`,
        z: 'tab',
        type: 'soar-alert-intake',
        hub: 'hub',
        path: `/iso/${c}/release`,
        authType: 'none',
        format: 'generic',
        dedupWindow: 0,
        ...at(150),
        wires: [[`set-release-${c}`]],
      },
      {
        id: `set-release-${c}`,
        z: 'tab',
        type: 'change',
        name: 'release',
        rules: [{ t: 'set', p: 'action', pt: 'msg', to: 'release', tot: 'str' }],
        ...at(300),
        wires: [[`isolate-${c}`]],
      },
    );
    row++;
  }
  return nodes;
}

/** flows_cred.json as Node-RED writes it with a credentialSecret (aes-256-ctr, key = sha256(secret)). */
function writeCredentials(userDir: string, credentials: Record<string, Record<string, string>>): void {
  const key = createHash('sha256').update(CREDENTIAL_SECRET).digest();
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  const text = iv.toString('hex') + cipher.update(JSON.stringify(credentials), 'utf8', 'base64') + cipher.final('base64');
  fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify({ $: text }));
}

describe('isolate host node with ssh-nftables in a real Node-RED (real sshd, real packets)', function () {
  this.timeout(240_000);
  let iso: IsolationLab | undefined;
  let http: NamespaceHttp | undefined;
  let red: NodeRedProcess | undefined;
  let dir: NodeRedUserDir | undefined;
  let outcomesFile = '';

  function auditLines(): AuditLine[] {
    if (!dir || !fs.existsSync(dir.auditFile)) return [];
    const lines: AuditLine[] = [];
    for (const line of fs.readFileSync(dir.auditFile, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        lines.push(JSON.parse(line) as AuditLine);
      } catch {
        // A line torn by the kill -9; the restarted audit log repairs it.
      }
    }
    return lines;
  }

  function outcomes(): Outcome[] {
    if (!fs.existsSync(outcomesFile)) return [];
    return fs
      .readFileSync(outcomesFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l, i) => ({ ...(JSON.parse(l) as Outcome), line: i }));
  }

  function context(): string {
    const tail = auditLines()
      .slice(-10)
      .map((r) => JSON.stringify({ ...r, prev: undefined, hash: undefined }).slice(0, 500));
    return `\n--- audit tail ---\n${tail.join('\n')}\n--- outcomes ---\n${outcomes()
      .slice(-6)
      .map((o) => JSON.stringify(o))
      .join('\n')}\n--- Node-RED output ---\n${red?.output().slice(-3000) ?? '(not running)'}`;
  }

  /** The next outcome of a case's node after `after` lines, on any output. */
  async function nextOutcome(c: Case, after: number, timeoutMs = 30_000): Promise<Outcome> {
    let found: Outcome | undefined;
    await waitFor(
      `an outcome of case ${c}`,
      async () => (found = outcomes().find((o) => o.line >= after && o.provider === edrLabel(c))) !== undefined,
      timeoutMs,
      context,
    );
    return found!;
  }

  async function isolations(): Promise<IsolationView[]> {
    const reply = await http!.request(NODE_RED_PORT, 'GET', '/admin/soar/isolations');
    assert.equal(reply.status, 200, reply.text);
    return (JSON.parse(reply.text) as { isolations: IsolationView[] }).isolations;
  }

  const isolationOf = async (c: Case) => (await isolations()).find((i) => i.provider === `edr-${c}`);

  /** POST an alert naming `host`; 404 until the flows have started and registered the route. */
  async function post(c: Case, what: 'alerts' | 'release', host: string): Promise<number> {
    const before = outcomes().length;
    const alert = { title: `beaconing from ${host}`, host, severity: 'high' };
    let reply: { status: number; text: string } | undefined;
    await waitFor(
      `the intake route of case ${c}`,
      async () => {
        reply = await http!.request(NODE_RED_PORT, 'POST', `/iso/${c}/${what}`, alert).catch(() => undefined);
        return reply !== undefined && reply.status !== 404;
      },
      30_000,
      context,
    );
    assert.equal(reply!.status, 202, `${reply!.status} ${reply!.text}`);
    return before;
  }

  /** Isolate through the node: the done output answers once the confirming SSH session got through. */
  async function isolateAndWait(c: Case, host = 'web01'): Promise<void> {
    const out = await nextOutcome(c, await post(c, 'alerts', host));
    assert.deepEqual([out.output, out.status, out.state], ['done', 'isolated', 'isolated'], JSON.stringify(out) + context());
  }

  /** A TCP connection from the hub namespace to the host's sshd gets the SSH banner. */
  async function hubHasSsh(): Promise<boolean> {
    const source = `
const s = require('node:net').connect({ host: ${JSON.stringify(iso!.link.gatewayAddress)}, port: 22 });
setTimeout(() => { process.stdout.write('timeout'); process.exit(0); }, 2000);
s.once('data', (d) => { process.stdout.write(String(d).slice(0, 8)); process.exit(0); });
s.once('error', (e) => { process.stdout.write(e.code); process.exit(0); });`;
    return (await runOrThrow('ip', ['netns', 'exec', iso!.hubNs!, process.execPath, '-e', source])).startsWith('SSH-2.0');
  }

  const sshConnections = () => (iso!.sshd.log().match(/Connection from /g) ?? []).length;

  async function startNodeRed(): Promise<void> {
    red = await startNodeRedInNamespace(iso!.hubNs!, dir!, http!);
  }

  before(async function () {
    iso = await setupIsolationLab(this, { what: 'isolate host node system tests', subnetOctet: 61, user: USER, hubNamespace: true });
    const compiled = path.join(root, 'dist', 'nodes', 'isolate-host.js');
    if (!fs.existsSync(compiled)) throw new Error(`${compiled} is missing: run npm run build first`);
    const userDir = tempDir('soar-isolate-node-');
    outcomesFile = path.join(userDir, 'outcomes.jsonl');
    dir = prepareUserDir(userDir, NODE_RED_PORT, flows(iso, outcomesFile));
    writeCredentials(userDir, Object.fromEntries(CASES.map((c) => [`edr-${c}`, { privateKey: iso!.key.privateKey }])));
    http = NamespaceHttp.start(iso.hubNs!);
    await startNodeRed();
  });

  after(async function () {
    await red?.stop();
    await http?.close();
    if (iso?.hubNs) await runOrThrow('ip', ['netns', 'exec', iso.hubNs, 'nft', 'delete', 'table', 'inet', 'soartest_hub']).catch(() => undefined);
    await iso?.destroy();
    if (dir) fs.rmSync(dir.userDir, { recursive: true, force: true });
  });

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || !iso) return;
    console.log(context());
    // A failed case may leave its table behind: remove it so later cases are judged on their own.
    for (const c of CASES) await runOrThrow('ip', ['netns', 'exec', iso.lab.victim.ns, 'nft', 'delete', 'table', 'inet', table(c)]).catch(() => undefined);
  });

  it('(a) isolates the host an alert names: peer cut off both ways (IPv4, IPv6), hub keeps SSH, listed for the sidebar; twice is already-isolated; released through the node', async () => {
    await isolateAndWait('a');
    assert.equal(await iso!.tableOnHost(table('a')), true);
    for (const family of [4, 6] as const) {
      assert.equal(await iso!.peerToHost(family), 'timeout', `peer → host IPv${family} must be dropped`);
      assert.equal(await iso!.hostToPeer(family), 'timeout', `host → peer IPv${family} must be dropped`);
    }
    assert.equal(await hubHasSsh(), true, 'the hub still reaches sshd');

    const listed = await isolationOf('a');
    assert.ok(listed, `the isolation is listed by /admin/soar/isolations${context()}`);
    assert.equal(listed.target, 'web01');
    assert.equal(listed.state, 'isolated');
    assert.equal(listed.providerLabel, edrLabel('a'));
    assert.equal(listed.reason, 'beaconing from web01', 'an empty Reason means the alert title');
    assert.equal(listed.pending, undefined, 'confirmed: no pending action left');

    const again = await nextOutcome('a', await post('a', 'alerts', 'web01'));
    assert.deepEqual([again.output, again.status], ['done', 'already-isolated'], JSON.stringify(again));

    const released = await nextOutcome('a', await post('a', 'release', 'web01'));
    assert.deepEqual([released.output, released.status], ['done', 'released'], JSON.stringify(released));
    assert.equal(await iso!.tableOnHost(table('a')), false);
    await iso!.allReachable();
    assert.equal(await isolationOf('a'), undefined, 'no longer listed');
    const steps = auditLines()
      .filter((r) => r.provider === 'edr-a')
      .map((r) => `${r.type}:${r.kind}${r.finishedLater ? ' later' : ''}${r.outcome ? ` ${r.outcome}` : ''}`);
    // Every step audited; the confirmation answered the request (not "finished later").
    assert.deepEqual(steps, [
      'action.requested:isolate',
      'action.pending:isolate requested',
      'action.done:isolate',
      'action.requested:isolate',
      'action.done:isolate already-isolated',
      'action.done:release',
    ]);
  });

  it('(b) a table deleted by hand on the host is reported as drift by the periodic reconciliation', async () => {
    await isolateAndWait('b');
    const seqBefore = auditLines().reduce((max, r) => Math.max(max, r.seq), 0);
    await runOrThrow('ip', ['netns', 'exec', iso!.lab.victim.ns, 'nft', 'delete', 'table', 'inet', table('b')]);
    await iso!.allReachable();
    let drift: AuditLine | undefined;
    const tookMs = await waitFor(
      'reconcile.drift of edr-b',
      async () => (drift = auditLines().find((r) => r.seq > seqBefore && r.type === 'reconcile.drift' && r.provider === 'edr-b')) !== undefined,
      RECONCILE_MINUTES * 60_000 * 2 + 10_000,
      context,
    );
    console.log(`      drift audited ${tookMs} ms after the table was deleted (reconciliation every ${RECONCILE_MINUTES * 60} s)`);
    assert.deepEqual(drift!.counts, { missing: 1, extra: 0, expiredButPresent: 0 });
    assert.deepEqual(drift!.missing, ['web01']);
    // Not repaired behind the operator's back: the lease stays listed, and releasing it says what happened.
    assert.equal(await iso!.tableOnHost(table('b')), false);
    const listed = await isolationOf('b');
    assert.ok(listed, 'the lease stays listed after drift');
    const reply = await http!.request(NODE_RED_PORT, 'POST', '/admin/soar/isolations/release', { target: 'web01', provider: 'edr-b', hub: listed.hub });
    assert.equal(reply.status, 404, reply.text);
    assert.equal((JSON.parse(reply.text) as { status: string }).status, 'not-isolated');
    assert.equal(await isolationOf('b'), undefined);
  });

  it('(c) kill -9 of Node-RED between apply and confirm: the host comes back by itself within the window; after a restart the isolation is reported as failed, not isolated', async () => {
    // The management path lets the applying SSH session through and drops the next new one (the
    // confirming session), so Node-RED is stuck in the confirm when it is killed.
    const hubRules = `table inet soartest_hub {
  chain out {
    type filter hook output priority 0; policy accept;
    ip daddr ${iso!.link.gatewayAddress} tcp dport 22 ct state new limit rate over 1/hour burst 1 packets drop
  }
}
`;
    await runOrThrow('ip', ['netns', 'exec', iso!.hubNs!, 'nft', '-f', '-'], hubRules);
    const seqBefore = auditLines().reduce((max, r) => Math.max(max, r.seq), 0);
    await post('c', 'alerts', 'web01');
    let pending: AuditLine | undefined;
    await waitFor(
      'action.pending of edr-c',
      async () => (pending = auditLines().find((r) => r.seq > seqBefore && r.type === 'action.pending' && r.provider === 'edr-c')) !== undefined,
      30_000,
      context,
    );
    const armedAt = Date.parse(pending!.handle.requestedAt as string);
    assert.equal(await iso!.tableOnHost(table('c')), true, 'applied');
    await red!.kill9();
    const killedAfterMs = Date.now() - armedAt;
    red = undefined;
    await runOrThrow('ip', ['netns', 'exec', iso!.hubNs!, 'nft', 'delete', 'table', 'inet', 'soartest_hub']);
    assert.ok(killedAfterMs < WINDOW_S * 1000, `killed ${killedAfterMs} ms after the rollback was armed, inside the window`);
    assert.equal(await iso!.peerToHost(4), 'timeout', 'isolated and unconfirmed when Node-RED died');
    assert.ok(!auditLines().some((r) => r.seq > seqBefore && r.provider === 'edr-c' && r.type === 'action.done'), 'never confirmed before the kill');

    await waitFor('the host restores itself', async () => !(await iso!.tableOnHost(table('c'))), WINDOW_S * 1000 + 8000);
    const restoredMs = Date.now() - armedAt;
    console.log(`      killed ${killedAfterMs} ms after arming; table gone ${restoredMs} ms after arming (window ${WINDOW_S} s)`);
    assert.ok(restoredMs >= WINDOW_S * 1000 - 200 && restoredMs <= (WINDOW_S + 5) * 1000, `restored after ${restoredMs} ms`);
    await iso!.allReachable();

    const linesBefore = outcomes().length;
    await startNodeRed();
    let failed: AuditLine | undefined;
    await waitFor(
      'the resumed follow of edr-c reports the failure',
      async () => (failed = auditLines().find((r) => r.seq > seqBefore && r.type === 'action.failed' && r.provider === 'edr-c')) !== undefined,
      30_000,
      context,
    );
    assert.equal(failed!.kind, 'isolate');
    assert.equal(failed!.finishedLater, true);
    assert.equal(failed!.stateAfter, 'normal');
    assert.equal(failed!.leaseKept, false);
    assert.match(failed!.reason as string, /gone|rolled back/);
    assert.equal(failed!.handle.requestedAt, pending!.handle.requestedAt, 'the failure is the killed attempt');

    // At least once: the alert whose flow the kill cut is sent again (alert.redelivered). It either
    // meets the pending isolation (done: pending) or comes after its failure and isolates again, this
    // time confirmed; the killed attempt itself is reported failed on the finished output either way.
    assert.ok(
      auditLines().some((r) => r.seq > seqBefore && r.type === 'alert.redelivered'),
      `the cut alert is redelivered${context()}`,
    );
    let seen: Outcome[] = [];
    await waitFor(
      'the redelivered alert and the resumed follow are both reported',
      async () => {
        seen = outcomes().filter((o) => o.line >= linesBefore && o.provider === edrLabel('c'));
        return seen.some((o) => o.output === 'finished') && seen.some((o) => o.output === 'done');
      },
      60_000,
      context,
    );
    const later = seen.find((o) => o.output === 'finished')!;
    assert.deepEqual([later.status, later.state], ['failed', 'normal'], JSON.stringify(later));
    const redelivered = seen.find((o) => o.output === 'done')!;
    if (redelivered.status === 'pending') {
      console.log('      the redelivered alert met the pending isolation; it ended failed, nothing is isolated');
      assert.equal(await isolationOf('c'), undefined, 'not shown as isolated');
      assert.equal(await iso!.tableOnHost(table('c')), false);
      await iso!.allReachable();
    } else {
      console.log('      the redelivered alert came after the failure and isolated the host again, confirmed');
      assert.deepEqual([redelivered.status, redelivered.state], ['isolated', 'isolated'], JSON.stringify(redelivered));
      const listed = await isolationOf('c');
      assert.ok(listed && listed.state === 'isolated' && listed.pending === undefined, JSON.stringify(listed));
      const reply = await http!.request(NODE_RED_PORT, 'POST', '/admin/soar/isolations/release', { target: 'web01', provider: 'edr-c', hub: listed.hub });
      assert.equal(reply.status, 200, reply.text);
      await iso!.allReachable();
    }
  });

  it('(d) a protected host (a name matching the hub policy glob, the hub own address) or an unknown one is refused before any SSH call, and audited', async () => {
    for (const [host, reason] of [
      ['db-01', /db-\*/],
      ['self', new RegExp(iso!.link.hostAddress.replace(/\./g, '\\.'))],
      ['nosuch', /unknown host "nosuch"/],
    ] as const) {
      const connections = sshConnections();
      const seqBefore = auditLines().reduce((max, r) => Math.max(max, r.seq), 0);
      const out = await nextOutcome('d', await post('d', 'alerts', host));
      assert.equal(out.output, 'refused', JSON.stringify(out));
      assert.equal(out.status, 'refused');
      assert.match(out.reason ?? '', reason);
      const refused = auditLines().find((r) => r.seq > seqBefore && r.type === 'action.refused' && r.provider === 'edr-d');
      assert.ok(refused, `action.refused audited${context()}`);
      assert.match(refused.reason as string, reason);
      assert.equal(sshConnections(), connections, `no SSH connection for ${host}`);
    }
    assert.equal(await iso!.tableOnHost(table('d')), false);
    await iso!.allReachable();
  });
});
