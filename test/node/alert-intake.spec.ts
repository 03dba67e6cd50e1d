import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { capturingRED, helper, nodeModule, readJsonLines, root, sample, serve, tempDir } from '../helpers/nr';

const hubModule = nodeModule('hub');
const intakeModule = nodeModule('alert-intake');
const TOKEN = 'intake-test-token-0123456789';

type Msg = Record<string, any>;

function flow(dir: string, intake: Record<string, unknown> = {}) {
  return [
    { id: 'tab1', type: 'tab', label: 't' },
    { id: 'hub1', type: 'soar-hub', dir },
    {
      id: 'in1',
      z: 'tab1',
      type: 'soar-alert-intake',
      hub: 'hub1',
      path: '/soar/alerts',
      authType: 'bearer',
      format: 'auto',
      dedupWindow: 300,
      duplicateMode: 'suppress',
      maxBodyKb: 64,
      maxBacklog: 5000,
      bodyTimeout: 5,
      wires: [['out1']],
      ...intake,
    },
    { id: 'out1', z: 'tab1', type: 'helper' },
    { id: 'catch1', z: 'tab1', type: 'catch', scope: null, wires: [['caught1']] },
    { id: 'caught1', z: 'tab1', type: 'helper' },
  ];
}

/** Collect messages arriving at a helper node. */
function collect(id: string): Msg[] {
  const got: Msg[] = [];
  helper.getNode(id).on('input', (m: Msg) => got.push(m));
  return got;
}

function nextMessage(id: string): Promise<Msg> {
  return new Promise((resolve) => helper.getNode(id).once('input', resolve));
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('soar-alert-intake node', function () {
  let dir: string;
  beforeEach(async function () {
    dir = tempDir();
    await helper.startServer();
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
  });

  describe('input port', function () {
    it('normalises a Wazuh alert from msg.payload and records it in the audit log first', async function () {
      await helper.load([hubModule, intakeModule], flow(dir), { in1: { token: TOKEN } });
      const out = nextMessage('out1');
      helper.getNode('in1').receive({ payload: JSON.parse(sample('wazuh/sshd-bruteforce.json')) });
      const msg = await out;
      assert.equal(msg.alert.schema, 'soar.alert/1');
      assert.equal(msg.alert.origin.format, 'wazuh');
      assert.equal(msg.alert.source.ip, '203.0.113.44');
      assert.equal(msg.alert.host.name, 'web-02');
      assert.equal(msg.alert.severity, 3);
      assert.deepEqual(msg.payload, msg.alert);
      assert.equal(msg.soar.via, 'input');
      const audit = readJsonLines(path.join(dir, 'audit.jsonl'));
      const rec = audit.find((r) => r.type === 'alert.received') as Msg;
      assert.ok(rec, 'alert.received record written');
      assert.equal(rec.alert.id, msg.alert.id);
      assert.equal(rec.alert.raw, undefined, 'raw is not kept in the audit log');
    });

    it('fans an Alertmanager batch out into one message per alert', async function () {
      await helper.load([hubModule, intakeModule], flow(dir), { in1: { token: TOKEN } });
      const got = collect('out1');
      helper.getNode('in1').receive({ payload: sample('alertmanager/webhook-v4.json') });
      await until(() => got.length === 2, 'two alerts');
      assert.deepEqual(
        got.map((m) => m.alert.severity),
        [5, 3],
      );
      assert.equal(got[0].alert.status, 'firing');
    });

    it('reports malformed input to Catch nodes with the reason and sends nothing', async function () {
      await helper.load([hubModule, intakeModule], flow(dir), { in1: { token: TOKEN } });
      const got = collect('out1');
      const caught = nextMessage('caught1');
      helper.getNode('in1').receive({ payload: '{"rule": {"level": 10' });
      const err = await caught;
      assert.match(err.error.message, /JSON|parse|Unexpected|end/i);
      assert.equal(got.length, 0);
    });

    it('suppresses duplicates within the window, and the window survives a redeploy', async function () {
      await helper.load([hubModule, intakeModule], flow(dir), { in1: { token: TOKEN } });
      let got = collect('out1');
      const alert = JSON.parse(sample('wazuh/sshd-bruteforce.json'));
      helper.getNode('in1').receive({ payload: alert });
      await until(() => got.length === 1, 'first alert');
      const second = { ...alert, id: '1763626999.1', timestamp: '2026-11-20T08:15:03.512+0000' };
      helper.getNode('in1').receive({ payload: second });
      await until(() => readJsonLines(path.join(dir, 'audit.jsonl')).some((r) => r.type === 'alert.duplicate'), 'duplicate recorded');
      assert.equal(got.length, 1, 'duplicate not sent on');
      assert.ok(helper.getNode('in1').status.calledWithMatch({ text: 'soar-alert-intake.status.counts' }));

      await helper.unload();
      await helper.load([hubModule, intakeModule], flow(dir), { in1: { token: TOKEN } });
      got = collect('out1');
      helper.getNode('in1').receive({ payload: { ...alert, id: '1763627000.2' } });
      await until(() => readJsonLines(path.join(dir, 'audit.jsonl')).filter((r) => r.type === 'alert.duplicate').length === 2, 'duplicate after redeploy');
      assert.equal(got.length, 0);
    });

    it('passes duplicates marked when configured to', async function () {
      await helper.load([hubModule, intakeModule], flow(dir, { duplicateMode: 'mark' }), { in1: { token: TOKEN } });
      const got = collect('out1');
      const alert = JSON.parse(sample('suricata/eve-alert.json'));
      helper.getNode('in1').receive({ payload: alert });
      helper.getNode('in1').receive({ payload: alert });
      await until(() => got.length === 2, 'both alerts');
      assert.deepEqual(
        got.map((m) => m.soar.duplicate),
        [false, true],
      );
    });

    it("maps a generic alert with the user's JSONata expression", async function () {
      const jsonata = '{"title": payload.summary, "source.ip": payload.attacker.addr, "severity": payload.sev}';
      await helper.load([hubModule, intakeModule], flow(dir, { format: 'generic', genericJsonata: jsonata }), { in1: { token: TOKEN } });
      const out = nextMessage('out1');
      helper.getNode('in1').receive({ payload: { summary: 'Custom detector fired', attacker: { addr: '198.51.100.77' }, sev: 'critical' } });
      const msg = await out;
      assert.equal(msg.alert.title, 'Custom detector fired');
      assert.equal(msg.alert.source.ip, '198.51.100.77');
      assert.equal(msg.alert.origin.format, 'generic');
    });
  });

  describe('HTTP endpoint', function () {
    async function start(intake: Record<string, unknown>, creds: Record<string, string>) {
      const cap = capturingRED(intakeModule);
      await helper.load([hubModule, cap.module], flow(dir, intake), { in1: creds });
      return serve(cap.red().httpNode);
    }

    it('accepts with the bearer token, answers 202 only after the audit record is on disk', async function () {
      const srv = await start({}, { token: TOKEN });
      try {
        const got = collect('out1');
        const res = await fetch(`${srv.url}/soar/alerts`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: sample('elastic/detection-alert.json'),
        });
        assert.equal(res.status, 202);
        const body = await res.json();
        assert.deepEqual(body, { accepted: 1, ids: ['5f0c4b1e-8a1d-4c3e-9a2f-1b2c3d4e5f60'], duplicates: 0, ignored: [] });
        const audit = readJsonLines(path.join(dir, 'audit.jsonl'));
        assert.ok(
          audit.some((r: Msg) => r.type === 'alert.received' && r.alert.id === body.ids[0]),
          'recorded before the answer',
        );
        await until(() => got.length === 1, 'message sent');
        assert.equal(got[0].soar.via, 'http');
      } finally {
        await srv.close();
      }
    });

    it('refuses missing and wrong tokens with 401 and a JSON reason, without recording', async function () {
      const srv = await start({}, { token: TOKEN });
      try {
        const none = await fetch(`${srv.url}/soar/alerts`, { method: 'POST', body: sample('generic/minimal.json') });
        assert.equal(none.status, 401);
        assert.match((await none.json()).error, /missing bearer token/);
        const wrong = await fetch(`${srv.url}/soar/alerts`, {
          method: 'POST',
          headers: { authorization: 'Bearer nope' },
          body: sample('generic/minimal.json'),
        });
        assert.equal(wrong.status, 401);
        const text = JSON.stringify(await wrong.json());
        assert.match(text, /invalid bearer token/);
        assert.ok(!text.includes(TOKEN));
        assert.equal(readJsonLines(path.join(dir, 'audit.jsonl')).filter((r) => r.type === 'alert.received').length, 0);
      } finally {
        await srv.close();
      }
    });

    it('checks an HMAC-SHA256 signature of the raw body', async function () {
      const secret = 'hmac-secret-for-tests';
      const srv = await start({ authType: 'hmac', hmacHeader: 'X-Hub-Signature-256' }, { hmacSecret: secret });
      try {
        const body = sample('graylog/http-notification.json');
        const sig = 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
        const ok = await fetch(`${srv.url}/soar/alerts`, { method: 'POST', headers: { 'x-hub-signature-256': sig, 'content-type': 'application/json' }, body });
        assert.equal(ok.status, 202);
        const tampered = await fetch(`${srv.url}/soar/alerts`, {
          method: 'POST',
          headers: { 'x-hub-signature-256': sig, 'content-type': 'application/json' },
          body: body.replace('Port scan', 'Port scam'),
        });
        assert.equal(tampered.status, 401);
        assert.match((await tampered.json()).error, /does not match/);
      } finally {
        await srv.close();
      }
    });

    it('checks HTTP basic credentials and the source allowlist', async function () {
      const srv = await start({ authType: 'basic', allowFrom: '127.0.0.0/8' }, { basicUser: 'wazuh', basicPassword: 'pw-123' });
      try {
        const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
        const ok = await fetch(`${srv.url}/soar/alerts`, {
          method: 'POST',
          headers: { authorization: basic('wazuh', 'pw-123') },
          body: sample('wazuh/sshd-bruteforce.json'),
        });
        assert.equal(ok.status, 202);
        const bad = await fetch(`${srv.url}/soar/alerts`, {
          method: 'POST',
          headers: { authorization: basic('wazuh', 'pw-124') },
          body: sample('wazuh/sshd-bruteforce.json'),
        });
        assert.equal(bad.status, 401);
      } finally {
        await srv.close();
      }
      await helper.unload();
      const denied = await start({ authType: 'bearer', allowFrom: '198.18.0.0/15' }, { token: TOKEN });
      try {
        const res = await fetch(`${denied.url}/soar/alerts`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}` },
          body: sample('wazuh/sshd-bruteforce.json'),
        });
        assert.equal(res.status, 403);
        assert.match((await res.json()).error, /not in the allowlist/);
      } finally {
        await denied.close();
      }
    });

    it('answers bad input with 400/413/415 and its reason, NDJSON with every alert, non-alerts as ignored', async function () {
      const srv = await start({}, { token: TOKEN });
      const post = (body: string | Buffer, type = 'application/json') =>
        fetch(`${srv.url}/soar/alerts`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': type },
          body: typeof body === 'string' ? body : new Uint8Array(body),
        });
      try {
        const malformed = await post('{"title": "x", ');
        assert.equal(malformed.status, 400);
        assert.ok((await malformed.json()).error.length > 5);
        const xml = await post('<alert/>', 'application/xml');
        assert.equal(xml.status, 415);
        const big = await post(JSON.stringify({ title: 'x', pad: 'y'.repeat(70 * 1024) }));
        assert.equal(big.status, 413);
        assert.match((await big.json()).error, /limit/);
        const ndjson = [sample('wazuh/sshd-bruteforce.json'), sample('suricata/eve-alert.json')].map((s) => JSON.stringify(JSON.parse(s))).join('\n');
        const two = await post(ndjson, 'application/x-ndjson');
        assert.equal(two.status, 202);
        assert.equal((await two.json()).accepted, 2);
        const flowEvent = await post(
          JSON.stringify({ timestamp: '2026-11-20T21:05:44.120931+0000', event_type: 'flow', src_ip: '198.18.30.7', dest_ip: '192.0.2.200' }),
        );
        assert.equal(flowEvent.status, 202);
        const fb = await flowEvent.json();
        assert.equal(fb.accepted, 0);
        assert.match(fb.ignored[0].reason, /flow/);
      } finally {
        await srv.close();
      }
    });

    it('skips dedup for replays and removes its route when closed', async function () {
      const srv = await start({}, { token: TOKEN });
      try {
        const post = (q = '') =>
          fetch(`${srv.url}/soar/alerts${q}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: sample('crowdsec/alerts.json') });
        assert.equal((await (await post()).json()).duplicates, 0);
        assert.equal((await (await post()).json()).duplicates, 1);
        const replayed = await (await post('?replay=1')).json();
        assert.equal(replayed.duplicates, 0);
        assert.equal(replayed.accepted, 1);
        await helper.unload();
        const gone = await post();
        assert.equal(gone.status, 404);
      } finally {
        await srv.close();
      }
    });
  });
  describe('completion and redelivery', function () {
    // test-helper's RED has no hooks API; Node-RED's runtime shares the one of @node-red/util.
    const nodeRedDir = path.dirname(
      require.resolve(process.env.SOAR_NODE_RED ? path.join(process.env.SOAR_NODE_RED, 'package.json') : 'node-red/package.json'),
    );
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const hooks = require(require.resolve('@node-red/util', { paths: [nodeRedDir] })).hooks;
    const withHooks = (mod: (RED: any) => void) => (RED: any) => {
      RED.hooks ??= hooks;
      return mod(RED);
    };

    /** A node that holds each message until the test lets it go, then sends it on and calls done(). */
    const held: { msg: Msg; release: () => void }[] = [];
    const holdModule = (RED: any) => {
      RED.nodes.registerType('test-hold', function (this: any, config: any) {
        RED.nodes.createNode(this, config);
        this.on('input', (msg: Msg, send: (m: Msg) => void, done: () => void) => {
          held.push({ msg, release: () => (send(msg), done()) });
        });
      });
    };
    function holdFlow(d: string, intake: Record<string, unknown> = {}) {
      return [
        { id: 'tab1', type: 'tab', label: 't' },
        { id: 'hub1', type: 'soar-hub', dir: d },
        {
          id: 'in1',
          z: 'tab1',
          type: 'soar-alert-intake',
          hub: 'hub1',
          path: '/soar/alerts',
          authType: 'bearer',
          format: 'auto',
          dedupWindow: 300,
          duplicateMode: 'suppress',
          maxBodyKb: 64,
          maxBacklog: 5000,
          bodyTimeout: 5,
          wires: [['hold1']],
          ...intake,
        },
        { id: 'hold1', z: 'tab1', type: 'test-hold', wires: [[]] },
      ];
    }
    const alert = (i: number) => ({ ...JSON.parse(sample('wazuh/sshd-bruteforce.json')), id: `late-${i}`, data: { srcip: `203.0.113.${i}` } });
    beforeEach(() => held.splice(0));
    /** In-flight records removed so far (delete lines in the store's journals). */
    const inflightDeletes = () =>
      fs
        .readdirSync(path.join(dir, 'state'))
        .filter((f) => f.startsWith('journal.'))
        .reduce((n, f) => n + (fs.readFileSync(path.join(dir, 'state', f), 'utf8').match(/"op":"del","ns":"inflight:/g) ?? []).length, 0);

    it('delivers an alert whose flow had not completed again at the next start, marked redelivered, and not after it completed', async function () {
      const cap = capturingRED(withHooks(intakeModule));
      await helper.load([hubModule, cap.module, holdModule], holdFlow(dir), { in1: { token: TOKEN } });
      const srv = await serve(cap.red().httpNode);
      try {
        for (const i of [1, 2, 3]) {
          const res = await fetch(`${srv.url}/soar/alerts`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(alert(i)) });
          assert.equal(res.status, 202);
        }
      } finally {
        await srv.close();
      }
      await until(() => held.length === 3, 'three alerts at the slow node');
      assert.equal(inflightDeletes(), 0);
      held[1].release(); // only the second one's flow completes
      await until(() => inflightDeletes() === 1, "the completed alert's in-flight record removed");

      await helper.unload(); // a restart: the other two never completed
      held.splice(0);
      await helper.load([hubModule, withHooks(intakeModule), holdModule], holdFlow(dir), { in1: { token: TOKEN } });
      await until(() => held.length === 2, 'the two incomplete alerts delivered again');
      assert.deepEqual(
        held.map((h) => h.msg.alert.id),
        ['late-1', 'late-3'],
        'in arrival order, the completed one not again',
      );
      for (const h of held) {
        assert.equal(h.msg.redelivered, true);
        assert.equal(h.msg.soar.redelivered, true);
        assert.equal(h.msg.soar.attempt, 1);
        assert.ok(h.msg.alert.raw, 'redelivered with raw');
      }
      const audit = readJsonLines(path.join(dir, 'audit.jsonl'));
      assert.deepEqual(
        audit.filter((r) => r.type === 'alert.redelivered').map((r: Msg) => r.alert.id),
        ['late-1', 'late-3'],
      );
      held.forEach((h) => h.release());
      await until(() => inflightDeletes() === 3, "the redelivered alerts' records removed");

      await helper.unload();
      held.splice(0);
      await helper.load([hubModule, withHooks(intakeModule), holdModule], holdFlow(dir), { in1: { token: TOKEN } });
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(held.length, 0, 'completed redeliveries are not sent a third time');
    });

    it('treats an alert as complete only when every branch is done, and a message on no wire at once', async function () {
      const flowTwo = [
        { id: 'tab1', type: 'tab', label: 't' },
        { id: 'hub1', type: 'soar-hub', dir },
        {
          id: 'in1',
          z: 'tab1',
          type: 'soar-alert-intake',
          hub: 'hub1',
          path: '',
          authType: 'none',
          format: 'auto',
          dedupWindow: 0,
          duplicateMode: 'suppress',
          maxBodyKb: 64,
          maxBacklog: 5000,
          bodyTimeout: 5,
          wires: [['hold1', 'hold2']],
        },
        { id: 'hold1', z: 'tab1', type: 'test-hold', wires: [[]] },
        { id: 'hold2', z: 'tab1', type: 'test-hold', wires: [[]] },
        {
          id: 'in2',
          z: 'tab1',
          type: 'soar-alert-intake',
          hub: 'hub1',
          path: '',
          authType: 'none',
          format: 'auto',
          dedupWindow: 0,
          duplicateMode: 'suppress',
          maxBodyKb: 64,
          maxBacklog: 5000,
          bodyTimeout: 5,
          wires: [],
        },
      ];
      await helper.load([hubModule, withHooks(intakeModule), holdModule], flowTwo, {});
      helper.getNode('in1').receive({ payload: alert(7) });
      helper.getNode('in2').receive({ payload: alert(8) });
      await until(() => held.length === 2, 'both branches hold the alert');
      held[0].release(); // one branch done, the other still holding
      await until(() => inflightDeletes() === 1, "in2's record removed");
      await helper.unload();
      held.splice(0);
      await helper.load([hubModule, withHooks(intakeModule), holdModule], flowTwo, {});
      await until(() => held.length === 2, 'redelivered to both branches');
      assert.deepEqual(
        held.map((h) => h.msg.alert.id),
        ['late-7', 'late-7'],
        "in2's alert (sent on no wire) was complete at once",
      );
    });
  });

  describe('rejections, methods and shared paths', function () {
    async function start(intake: Record<string, unknown>, creds: Record<string, string>, extra: Record<string, unknown>[] = []) {
      const cap = capturingRED(intakeModule);
      await helper.load([hubModule, cap.module], [...flow(dir, intake), ...extra], { in1: creds, in2: creds });
      return serve(cap.red().httpNode);
    }

    it('answers other methods on the intake path with a JSON 405 and Allow: POST', async function () {
      const srv = await start({}, { token: TOKEN });
      try {
        for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
          const res = await fetch(`${srv.url}/soar/alerts`, { method, ...(method === 'GET' || method === 'OPTIONS' ? {} : { body: '{}' }) });
          assert.equal(res.status, 405, method);
          assert.equal(res.headers.get('allow'), 'POST', method);
          assert.match(res.headers.get('content-type') ?? '', /application\/json/);
          assert.match((await res.json()).error, new RegExp(`${method} is not allowed`));
        }
        const post = await fetch(`${srv.url}/soar/alerts`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}` },
          body: sample('wazuh/sshd-bruteforce.json'),
        });
        assert.equal(post.status, 202, 'POST still reaches the intake');
      } finally {
        await srv.close();
      }
    });

    it('records rejected requests as alert.rejected with status, reason and remote address, rate-limited, without the secret or the body', async function () {
      const srv = await start({}, { token: TOKEN });
      try {
        const bodyMarker = 'BODY-MARKER-7f3a';
        await fetch(`${srv.url}/soar/alerts`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}x` }, body: JSON.stringify({ title: bodyMarker }) });
        const malformed = await fetch(`${srv.url}/soar/alerts`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: `xx${bodyMarker}`,
        });
        assert.equal(malformed.status, 400);
        assert.match((await malformed.json()).error, new RegExp(bodyMarker), "the sender still gets the parser's reason");
        for (let i = 0; i < 30; i++) await fetch(`${srv.url}/soar/alerts`, { method: 'POST', body: '{}' });
        await new Promise((r) => setTimeout(r, 50));
        let rejected = readJsonLines(path.join(dir, 'audit.jsonl')).filter((r) => r.type === 'alert.rejected') as Msg[];
        assert.equal(rejected.length, 20, 'at most 20 a minute');
        assert.deepEqual([rejected[0].status, rejected[0].remote], [401, '127.0.0.1']);
        assert.match(rejected[0].reason, /invalid bearer token/);
        assert.equal(rejected[1].status, 400);
        await helper.unload();
        rejected = readJsonLines(path.join(dir, 'audit.jsonl')).filter((r) => r.type === 'alert.rejected') as Msg[];
        assert.equal(rejected.at(-1)!.suppressed, 12, 'the ones left out are counted when the node closes');
        const text = JSON.stringify(readJsonLines(path.join(dir, 'audit.jsonl')));
        assert.ok(!text.includes(TOKEN), 'no token in the audit log');
        assert.ok(!text.includes(bodyMarker), 'no body in the audit log');
      } finally {
        await srv.close();
      }
    });

    it('refuses a second intake on a path another intake uses, naming it, and leaves the first one working', async function () {
      const second = {
        id: 'in2',
        z: 'tab1',
        type: 'soar-alert-intake',
        name: 'second',
        hub: 'hub1',
        path: '/SOAR/alerts/',
        authType: 'bearer',
        format: 'auto',
        dedupWindow: 300,
        duplicateMode: 'suppress',
        maxBodyKb: 64,
        maxBacklog: 5000,
        bodyTimeout: 5,
        wires: [['out1']],
      };
      // Keep the catalog substitutions visible (test-helper's RED._ drops them).
      const cap = capturingRED((RED: any) => {
        RED._ = (key: string, subs?: Record<string, unknown>) => (subs ? `${key} ${JSON.stringify(subs)}` : key);
        return intakeModule(RED);
      });
      await helper.load([hubModule, cap.module], [...flow(dir, { name: 'first' }), second], { in1: { token: TOKEN }, in2: { token: TOKEN } });
      const srv = await serve(cap.red().httpNode);
      try {
        const in1 = helper.getNode('in1');
        const in2 = helper.getNode('in2');
        // Node.prototype methods are shared spies: look at the calls made on each node.
        const callsOn = (spy: any, n: unknown) =>
          spy
            .getCalls()
            .filter((c: any) => c.thisValue === n)
            .map((c: any) => c.args[0]);
        const errors = callsOn(in2.error, in2) as string[];
        assert.equal(errors.length, 1);
        assert.match(errors[0], /^soar-alert-intake.errors.duplicate-path /);
        assert.deepEqual(JSON.parse(errors[0].slice(errors[0].indexOf(' ') + 1)), { path: '/SOAR/alerts/', other: '"first" (in1)' });
        assert.ok(callsOn(in2.status, in2).some((s: any) => s.fill === 'red' && s.text === 'soar-alert-intake.status.duplicate-path'));
        assert.deepEqual(callsOn(in1.error, in1), []);
        const got = collect('out1');
        const res = await fetch(`${srv.url}/soar/alerts`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}` },
          body: sample('wazuh/sshd-bruteforce.json'),
        });
        assert.equal(res.status, 202);
        await until(() => got.length === 1, 'the first intake got it');
        assert.equal(got[0].soar.intake, 'in1');
      } finally {
        await srv.close();
      }
    });

    it("answers a failed audit append with 503 and accepts the sender's retry (no dedup mark was left)", async function () {
      const srv = await start({}, { token: TOKEN });
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { Hub } = require(path.join(root, 'dist', 'lib', 'hub', 'hub.js'));
        const hub = (await Hub.all()).find((h: any) => h.dir === dir);
        const append = hub.audit.append;
        hub.audit.append = () => Promise.reject(new Error('ENOSPC: no space left on device'));
        const got = collect('out1');
        const post = () =>
          fetch(`${srv.url}/soar/alerts`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: sample('wazuh/sshd-bruteforce.json') });
        assert.equal((await post()).status, 503);
        hub.audit.append = append;
        const retry = await post();
        assert.equal(retry.status, 202);
        assert.equal((await retry.json()).accepted, 1);
        await until(() => got.length === 1, 'the retry is sent on');
      } finally {
        await srv.close();
      }
    });

    it('keeps control characters of alert text in the record but not in what it logs', async function () {
      await helper.load([hubModule, intakeModule], flow(dir), { in1: { token: TOKEN } });
      const caught = nextMessage('caught1');
      helper.getNode('in1').receive({ payload: 'x\u001b[2J\u001b[31mFORGED\r\n[error] fake line' });
      const err = await caught;
      assert.ok(!/[\u0000-\u001f]/.test(err.error.message), `escaped: ${JSON.stringify(err.error.message)}`);
      assert.match(err.error.message, /\\e\[2J\\e\[31m/);
      const got = collect('out1');
      const ansi = {
        ...JSON.parse(sample('wazuh/sshd-bruteforce.json')),
        rule: { ...JSON.parse(sample('wazuh/sshd-bruteforce.json')).rule, description: 'brute \u001b[31mforce\u0007' },
      };
      helper.getNode('in1').receive({ payload: ansi });
      await until(() => got.length === 1, 'alert sent');
      const rec = readJsonLines(path.join(dir, 'audit.jsonl')).find((r) => r.type === 'alert.received') as Msg;
      assert.match(rec.alert.title, /brute \u001b\[31mforce\u0007/, 'kept verbatim in the record');
      const statusTexts = helper
        .getNode('in1')
        .status.getCalls()
        .map((c: any) => String(c.args[0]?.text ?? ''));
      assert.ok(statusTexts.every((t: string) => !/[\u0000-\u001f]/.test(t)));
    });
  });
});
