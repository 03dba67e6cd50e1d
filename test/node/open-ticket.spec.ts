/**
 * soar-open-ticket + soar-ticketing as Node-RED runs them: one ticket per incident under a storm,
 * racing nodes on one tracker, the outbox while the tracker is down, permanent refusals, templates
 * checked at deploy, and the local case store's editor routes and page.
 */
import assert from 'node:assert/strict';
import { startRedmineFake, REDMINE_KEY, REDMINE_PROJECT } from '../fakes/redmine';
import type { TrackerFake } from '../fakes/ticket-kit';
import { capturingRED, helper, nodeModule, readJsonLines, tempDir } from '../helpers/nr';
import * as path from 'node:path';

const hubModule = nodeModule('hub');
const ticketing = capturingRED(nodeModule('ticketing'));
const ticketingModule = ticketing.module;
const openTicketModule = nodeModule('open-ticket');
const modules = [hubModule, ticketingModule, openTicketModule];

type Msg = Record<string, any>;

function alert(incident: string, n: number, ip = `198.18.0.${(n % 200) + 1}`): Msg {
  return {
    alert: { fingerprint: incident, title: `sshd brute force ${incident}`, severity: 4, severity_label: 'High', source: { ip } },
    iocs: [{ type: 'ipv4', value: ip }],
  };
}

function flow(dir: string, ticketing: Msg, nodes: Msg[] = [{ id: 'ot1' }]): Msg[] {
  return [
    { id: 'tab1', type: 'tab', label: 't' },
    { id: 'hub1', type: 'soar-hub', dir, simulate: false, includeDefaults: true },
    { id: 'tk1', type: 'soar-ticketing', name: 'tracker', hub: 'hub1', ...ticketing },
    ...nodes.map((n) => ({
      z: 'tab1',
      type: 'soar-open-ticket',
      ticketing: 'tk1',
      incident: 'alert.fingerprint',
      incidentType: 'msg',
      title: '',
      body: '',
      coalesceMinutes: 5,
      closedPolicy: 'link',
      wires: [['out1'], ['out2'], ['out3']],
      ...n,
    })),
    { id: 'out1', z: 'tab1', type: 'helper' },
    { id: 'out2', z: 'tab1', type: 'helper' },
    { id: 'out3', z: 'tab1', type: 'helper' },
  ];
}

function collect(id: string): Msg[] {
  const got: Msg[] = [];
  helper.getNode(id).on('input', (msg: Msg) => got.push(msg));
  return got;
}

async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('soar-open-ticket node', function () {
  this.timeout(30_000);
  let dir: string;
  let fake: TrackerFake | undefined;
  beforeEach(async function () {
    dir = tempDir();
    process.env.SOAR_TICKET_BACKOFF_MS = '100';
    await helper.startServer();
  });
  afterEach(async function () {
    delete process.env.SOAR_TICKET_BACKOFF_MS;
    await helper.unload();
    await helper.stopServer();
    await fake?.close();
    fake = undefined;
  });

  const redmine = (f: TrackerFake) => ({ kind: 'redmine', url: f.url, project: REDMINE_PROJECT });

  it('1,000 alerts of 10 incidents give 10 tickets and a bounded number of comments', async function () {
    fake = await startRedmineFake();
    await helper.load(modules, flow(dir, redmine(fake)), { tk1: { apiKey: REDMINE_KEY } });
    const done = collect('out1');
    const failed = collect('out3');
    const node = helper.getNode('ot1');
    for (let i = 0; i < 1000; i += 1) node.receive(alert(`inc-${i % 10}`, i));
    await until(() => done.length + failed.length === 1000, 25_000);
    assert.equal(failed.length, 0, JSON.stringify(failed[0]?.ticket));
    assert.equal(fake.tickets.length, 10);
    assert.deepEqual(new Set(fake.tickets.map((t) => t.title.replace(/^.*(inc-\d).*$/, '$1'))).size, 10);
    const comments = fake.tickets.reduce((n, t) => n + t.comments.length, 0);
    // Coalescing: at most one comment per ticket in the 5-minute window (the first repeat may post at once).
    assert.ok(comments <= 10, `comments: ${comments}`);
    const created = done.filter((m) => m.ticket.status === 'created');
    assert.equal(created.length, 10);
    for (const m of done) {
      assert.equal(m.ticket.provider, 'redmine');
      assert.match(m.ticket.status, /^(created|updated)$/);
      assert.ok(m.ticket.key, JSON.stringify(m.ticket));
      assert.equal(m.ticket.incident, m.alert.fingerprint);
    }
    assert.deepEqual(fake.violations, []);
  });

  it('two nodes on one tracker racing for one incident open one ticket', async function () {
    fake = await startRedmineFake();
    await helper.load(modules, flow(dir, redmine(fake), [{ id: 'ot1' }, { id: 'ot2', coalesceMinutes: 1 }]), { tk1: { apiKey: REDMINE_KEY } });
    const done = collect('out1');
    const a = helper.getNode('ot1');
    const b = helper.getNode('ot2');
    for (let i = 0; i < 20; i += 1) {
      a.receive(alert('race', i));
      b.receive(alert('race', i + 100));
    }
    await until(() => done.length === 40);
    assert.equal(fake.tickets.length, 1);
    const keys = new Set(done.map((m) => m.ticket.key));
    assert.deepEqual([...keys], ['#1']);
    // One audit record per create and per comment the tracker took.
    const posted = fake.tickets[0].comments.length;
    await until(() => {
      const types = readJsonLines(path.join(dir, 'audit.jsonl')).map((r) => r.type);
      return types.filter((t) => t === 'ticket.created').length === 1 && types.filter((t) => t === 'ticket.updated').length === posted;
    });
  });

  it('answers queued at once while the tracker answers 503, then delivers on output 2 once it is back; audited', async function () {
    fake = await startRedmineFake();
    fake.script(
      '*',
      { status: 503, body: 'maintenance' },
      { status: 503, body: 'maintenance' },
      { status: 503, body: 'maintenance' },
      { status: 503, body: 'maintenance' },
    );
    await helper.load(modules, flow(dir, redmine(fake)), { tk1: { apiKey: REDMINE_KEY } });
    const done = collect('out1');
    const later = collect('out2');
    helper.getNode('ot1').receive(alert('down-1', 1));
    await until(() => done.length === 1);
    assert.equal(done[0].ticket.status, 'queued');
    assert.equal(done[0].ticket.incident, 'down-1');
    assert.equal(done[0].ticket.key, undefined);
    await until(() => later.length === 1, 15_000);
    assert.equal(later[0].ticket.status, 'created');
    assert.equal(later[0].ticket.key, '#1');
    assert.equal(later[0].incident, 'down-1');
    assert.equal(fake.tickets.length, 1);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(later.length, 1, 'delivered once');
    await until(() => {
      const types = readJsonLines(path.join(dir, 'audit.jsonl')).map((r) => r.type);
      return types.includes('ticket.queued') && types.includes('ticket.created');
    });
    const audit = JSON.stringify(readJsonLines(path.join(dir, 'audit.jsonl')));
    assert.ok(!audit.includes(REDMINE_KEY), 'no API key in the audit log');
  });

  it("keeps a queued ticket across a redeploy and delivers it once, on the new node's output 2", async function () {
    fake = await startRedmineFake();
    for (let i = 0; i < 50; i += 1) fake.script('*', { status: 503, body: 'maintenance' });
    await helper.load(modules, flow(dir, redmine(fake)), { tk1: { apiKey: REDMINE_KEY } });
    const done = collect('out1');
    helper.getNode('ot1').receive(alert('redeploy-1', 1));
    await until(() => done.length === 1);
    assert.equal(done[0].ticket.status, 'queued');
    await helper.unload();
    // The tracker is back; the flow is deployed again with the same nodes and the same hub folder.
    const healthy = await startRedmineFake();
    await fake.close();
    fake = healthy;
    await helper.load(modules, flow(dir, redmine(fake)), { tk1: { apiKey: REDMINE_KEY } });
    const later = collect('out2');
    await until(() => later.length === 1, 15_000);
    assert.deepEqual([later[0].ticket.status, later[0].ticket.key, later[0].incident], ['created', '#1', 'redeploy-1']);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(later.length, 1, 'delivered once');
    assert.equal(fake.tickets.length, 1);
  });

  it("sends a permanent 4xx to output 3 with the tracker's own message and a red status", async function () {
    fake = await startRedmineFake();
    await helper.load(modules, flow(dir, { kind: 'redmine', url: fake.url, project: 'no-such-project' }), { tk1: { apiKey: REDMINE_KEY } });
    const failed = collect('out3');
    const node = helper.getNode('ot1');
    node.receive(alert('bad-1', 1));
    await until(() => failed.length === 1);
    assert.equal(failed[0].ticket.status, 'failed');
    assert.match(failed[0].ticket.error, /Project cannot be blank/);
    await until(() => node.status.args.some((a: Msg[]) => a[0]?.fill === 'red'));
    assert.equal(fake.tickets.length, 0);
  });

  it("shows the tracker's own words in the node status when it refuses (4xx)", async function () {
    fake = await startRedmineFake();
    // The status text with its substitutions, as the editor shows it (the test runtime has no catalogs).
    const withSubs = (RED: any) =>
      openTicketModule(
        new Proxy(RED, {
          get: (target, prop) =>
            prop === '_' ? (key: string, subs?: Record<string, unknown>) => (subs ? `${key} ${JSON.stringify(subs)}` : target._(key)) : target[prop],
        }),
      );
    const nodes = flow(dir, { kind: 'redmine', url: fake.url, project: 'no-such-project' });
    await helper.load([hubModule, ticketingModule, withSubs], nodes, { tk1: { apiKey: REDMINE_KEY } });
    const failed = collect('out3');
    const node = helper.getNode('ot1');
    node.receive(alert('bad-status', 1));
    await until(() => failed.length === 1);
    const red = () => node.status.args.map((a: Msg[]) => a[0]).filter((st: Msg) => st?.fill === 'red');
    await until(() => red().length > 0);
    assert.match(red().at(-1).text, /Project cannot be blank/, `${red().at(-1).text} / ${failed[0].ticket.error}`);
    assert.ok(red().at(-1).text.length <= 160, red().at(-1).text);
  });

  it('refuses at deploy a template that references a field no message has (error status and log)', async function () {
    await helper.load(modules, flow(dir, { kind: 'local' }, [{ id: 'ot1', title: '{{alrt.title}}' }]), {});
    const node = helper.getNode('ot1');
    const logged = node.error.args.map((a: unknown[]) => String(a[0]));
    assert.ok(logged.includes('soar-open-ticket.errors.settings'), JSON.stringify(logged));
    await until(() => node.status.args.some((a: Msg[]) => a[0]?.text === 'soar-open-ticket.status.invalid-settings'));
    const failed = collect('out3');
    node.receive(alert('x', 1));
    await until(() => failed.length === 1);
    assert.equal(failed[0].ticket.status, 'failed');
  });

  it("says at deploy that a tracker URL has no scheme, in the log and the open-ticket node's status, without the key", async function () {
    await helper.load(modules, flow(dir, { kind: 'redmine', url: 'redmine.example.org', project: 'security' }), { tk1: { apiKey: REDMINE_KEY } });
    const tk = helper.getNode('tk1');
    const err: Error = await tk.ready.then(
      () => assert.fail('the tracker must not be ready'),
      (e: Error) => e,
    );
    assert.match(err.message, /http\(s\):\/\//);
    assert.ok(!err.message.includes(REDMINE_KEY));
    const node = helper.getNode('ot1');
    await until(() => node.status.args.some((a: Msg[]) => a[0]?.text === 'soar-open-ticket.status.ticketing-failed'));
  });

  it("links the ticket back to the hub at the tracker node's hub address; one without http(s):// is refused at deploy", async function () {
    fake = await startRedmineFake();
    await helper.load(modules, flow(dir, { ...redmine(fake), hubUrl: 'https://soar.example.org:1880/' }), { tk1: { apiKey: REDMINE_KEY } });
    const done = collect('out1');
    helper.getNode('ot1').receive(alert('linked', 1));
    await until(() => done.length === 1);
    assert.match(fake.tickets[0].body, /^On the hub: https:\/\/soar\.example\.org:1880$/m);
    await helper.unload();
    await helper.load(modules, flow(dir, { ...redmine(fake), hubUrl: 'soar.example.org' }), { tk1: { apiKey: REDMINE_KEY } });
    const err: Error = await helper.getNode('tk1').ready.then(
      () => assert.fail('the tracker must not be ready'),
      (e: Error) => e,
    );
    assert.match(err.message, /hub address.*http:\/\/ or https:\/\//);
  });

  it('opens local cases the sidebar lists, closes one, and serves an escaped read-only page', async function () {
    // Comments at once (0 minutes): the repeat after the close finds the case closed right away.
    await helper.load(modules, flow(dir, { kind: 'local' }, [{ id: 'ot1', coalesceMinutes: 0 }]), {});
    const done = collect('out1');
    const msg = alert('local-1', 1);
    msg.alert.title = '<script>alert(1)</script>';
    helper.getNode('ot1').receive(msg);
    await until(() => done.length === 1);
    assert.equal(done[0].ticket.status, 'created');
    assert.equal(done[0].ticket.provider, 'local');
    assert.equal(done[0].ticket.url, '/soar/cases/tk1/1');
    // A repeat while open is a comment (at once with 0 minutes), audited as an update of the same case.
    helper.getNode('ot1').receive(alert('local-1', 2));
    await until(() => done.length === 2);
    assert.deepEqual([done[1].ticket.status, done[1].ticket.key, done[1].ticket.url], ['updated', '#1', '/soar/cases/tk1/1']);
    await until(() => readJsonLines(path.join(dir, 'audit.jsonl')).some((r) => r.type === 'ticket.updated' && r.key === '#1'));
    const request = require('supertest');
    const list = await helper.request().get('/soar/cases').expect(200);
    assert.equal(list.body.cases.length, 1);
    assert.equal(list.body.cases[0].tracker, 'tk1');
    assert.equal(list.body.cases[0].timeline[0].type, 'created');
    const page = await request(ticketing.red().httpNode).get(done[0].ticket.url).expect(200);
    assert.ok(!page.text.includes('<script>'), 'escaped');
    assert.ok(page.text.includes('&lt;script&gt;'));
    assert.ok(!/https?:\/\//.test(page.text), 'no outside assets');
    await helper.request().post('/soar/cases/close').send({ tracker: 'tk1', id: '1' }).expect(200);
    await helper.request().post('/soar/cases/close').send({ tracker: 'tk1', id: '1' }).expect(409);
    await helper.request().post('/soar/cases/close').send({ tracker: 'tk1', id: '99' }).expect(404);
    // The next sighting opens a new case that follows the closed one.
    helper.getNode('ot1').receive(alert('local-1', 3));
    await until(() => done.length === 3);
    assert.deepEqual([done[2].ticket.status, done[2].ticket.key], ['created', '#2']);
  });

  it("two local stores: each case URL names its store and opens that store's case; a bare number is ambiguous", async function () {
    const nodes = flow(dir, { kind: 'local' }, [{ id: 'ot1' }, { id: 'ot2', ticketing: 'tk2' }]);
    nodes.push({ id: 'tk2', type: 'soar-ticketing', name: 'second', hub: 'hub1', kind: 'local' });
    await helper.load(modules, nodes, {});
    const done = collect('out1');
    helper.getNode('ot1').receive(alert('store-a', 1));
    await until(() => done.length === 1);
    const second = alert('store-b', 2);
    second.alert.title = 'second store case';
    helper.getNode('ot2').receive(second);
    await until(() => done.length === 2);
    const byNode = Object.fromEntries(done.map((m) => [m.alert.fingerprint, m.ticket.url]));
    assert.deepEqual(byNode, { 'store-a': '/soar/cases/tk1/1', 'store-b': '/soar/cases/tk2/1' });
    const request = require('supertest');
    const app = ticketing.red().httpNode;
    const b = await request(app).get('/soar/cases/tk2/1').expect(200);
    assert.match(b.text, /second store case/);
    assert.match(b.text, /tracker second/);
    const a = await request(app).get('/soar/cases/tk1/1').expect(200);
    assert.match(a.text, /store-a/);
    await request(app).get('/soar/cases/tk3/1').expect(404);
    // A link from before the store was named: served when one store has the case, refused when several do.
    const bare = await request(app).get('/soar/cases/1').expect(409);
    assert.match(bare.text, /\/soar\/cases\/tk1\/1/);
    assert.match(bare.text, /\/soar\/cases\/tk2\/1/);
    await request(app).get('/soar/cases/1?tracker=tk2').expect(200);
  });

  it('an empty title after rendering goes to output 3 with a clear error, and what is already queued is still delivered once', async function () {
    fake = await startRedmineFake();
    for (let i = 0; i < 8; i += 1) fake.script('*', { status: 503, body: 'maintenance' });
    await helper.load(modules, flow(dir, redmine(fake), [{ id: 'ot1', title: '{{alert.rule.name}}' }]), { tk1: { apiKey: REDMINE_KEY } });
    const done = collect('out1');
    const later = collect('out2');
    const failed = collect('out3');
    const node = helper.getNode('ot1');
    // Queued first: the tracker answers 503.
    const named = alert('named', 2);
    named.alert.rule = { name: 'sshd brute force' };
    node.receive(named);
    await until(() => done.length === 1);
    assert.equal(done[0].ticket.status, 'queued');
    node.receive(alert('no-title', 1));
    await until(() => failed.length === 1);
    assert.equal(failed[0].ticket.status, 'failed');
    assert.equal(failed[0].ticket.provider, 'redmine');
    assert.equal(failed[0].ticket.incident, 'no-title');
    assert.match(failed[0].ticket.error, /title is empty/);
    await until(() => later.length === 1, 15_000);
    assert.deepEqual([later[0].ticket.status, later[0].incident], ['created', 'named']);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(later.length, 1, 'delivered once');
    assert.deepEqual(
      fake.tickets.map((t) => t.title),
      ['sshd brute force'],
    );
  });

  it('a template field the message lacks renders empty, the ticket is opened, and the node warns naming the field', async function () {
    fake = await startRedmineFake();
    const title = '{{alert.title}} on {{alert.host.name}}';
    await helper.load(modules, flow(dir, redmine(fake), [{ id: 'ot1', title }]), { tk1: { apiKey: REDMINE_KEY } });
    const done = collect('out1');
    const node = helper.getNode('ot1');
    node.receive(alert('no-host', 1));
    await until(() => done.length === 1);
    assert.equal(done[0].ticket.status, 'created');
    assert.equal(fake.tickets[0].title, 'sshd brute force no-host on');
    const warned = node.warn.args.map((a: unknown[]) => String(a[0]));
    assert.ok(
      warned.some((w: string) => w.includes('alert.host.name')),
      JSON.stringify(warned),
    );
  });

  it("a body over the tracker's limit is cut with a visible note, and the ticket is opened", async function () {
    fake = await startRedmineFake();
    await helper.load(modules, flow(dir, redmine(fake), [{ id: 'ot1', body: '{{alert.description}}' }]), { tk1: { apiKey: REDMINE_KEY } });
    const done = collect('out1');
    const msg = alert('long-body', 1);
    msg.alert.description = 'x'.repeat(70_000);
    helper.getNode('ot1').receive(msg);
    await until(() => done.length === 1);
    assert.equal(done[0].ticket.status, 'created');
    const body = fake.tickets[0].body;
    assert.ok(body.length <= 60_000, `body ${body.length}`);
    const note = body.slice(body.lastIndexOf('[…'));
    assert.match(note, /^\[… description cut by SOAR: \d+ characters, the tracker accepts \d+\]/);
  });
});
