/**
 * soar-open-ticket with the Redmine kind against a real Redmine (Debian's package, test/helpers/redmine.ts):
 * created, a repeat added to the same issue as one note, then with Redmine stopped the alert goes on as "queued" at once, and once Redmine is back
 * the issue is delivered on output 2 exactly once — also when the flow is redeployed while queued.
 *
 * Skips with the reason when redmine is not installed (fails instead with SOAR_REQUIRE_SYSTEM=1).
 */
import assert from 'node:assert/strict';
import { helper, nodeModule, tempDir } from '../helpers/nr';
import { requireRedmineOrSkip, startRedmine, type RunningRedmine } from '../helpers/redmine';

type Msg = Record<string, any>;

describe('soar-open-ticket against a real Redmine', function () {
  this.timeout(600_000);
  let redmine: RunningRedmine;
  let dir: string;
  const modules = [nodeModule('hub'), nodeModule('ticketing'), nodeModule('open-ticket')];

  const flow = (coalesceMinutes = 5) => [
    { id: 'tab1', type: 'tab', label: 't' },
    { id: 'hub1', type: 'soar-hub', dir, simulate: false, includeDefaults: true },
    { id: 'tk1', type: 'soar-ticketing', name: 'redmine', hub: 'hub1', kind: 'redmine', url: redmine.url, project: redmine.project },
    {
      id: 'ot1',
      z: 'tab1',
      type: 'soar-open-ticket',
      ticketing: 'tk1',
      incident: 'alert.fingerprint',
      incidentType: 'msg',
      coalesceMinutes,
      closedPolicy: 'link',
      wires: [['out1'], ['out2'], ['out3']],
    },
    { id: 'out1', z: 'tab1', type: 'helper' },
    { id: 'out2', z: 'tab1', type: 'helper' },
    { id: 'out3', z: 'tab1', type: 'helper' },
  ];
  const load = (coalesceMinutes = 5) => helper.load(modules, flow(coalesceMinutes), { tk1: { apiKey: redmine.apiKey } });
  const collect = (id: string) => {
    const got: Msg[] = [];
    helper.getNode(id).on('input', (m: Msg) => got.push(m));
    return got;
  };
  const alert = (incident: string) => ({ alert: { fingerprint: incident, title: `sshd brute force ${incident}`, severity: 4, severity_label: 'High' } });
  async function until(check: () => boolean, ms = 120_000): Promise<void> {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error('timed out waiting');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  async function issuesFor(incident: string): Promise<number> {
    const answer = await fetch(`${redmine.url}/issues.json?project_id=${redmine.project}&status_id=*&subject=~${encodeURIComponent(incident)}`, {
      headers: { 'x-redmine-api-key': redmine.apiKey },
    });
    return ((await answer.json()) as { total_count: number }).total_count;
  }

  before(async function () {
    requireRedmineOrSkip(this, 'Redmine open-ticket system test');
    redmine = await startRedmine();
    process.env.SOAR_TICKET_BACKOFF_MS = '300';
  });
  beforeEach(async () => {
    dir = tempDir();
    await helper.startServer();
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });
  after(async () => {
    delete process.env.SOAR_TICKET_BACKOFF_MS;
    await redmine?.dispose();
  });

  it('adds a repeat of the incident to the same issue as one note', async () => {
    // Comments at once (0 minutes), so the repeat is posted now instead of in the 5-minute summary.
    await load(0);
    const done = collect('out1');
    helper.getNode('ot1').receive(alert('rm-repeat'));
    await until(() => done.length === 1);
    assert.equal(done[0].ticket.status, 'created', JSON.stringify(done[0].ticket));
    helper.getNode('ot1').receive(alert('rm-repeat'));
    await until(() => done.length === 2);
    assert.deepEqual([done[1].ticket.status, done[1].ticket.key, done[1].ticket.url], ['updated', done[0].ticket.key, done[0].ticket.url]);
    assert.equal(await issuesFor('rm-repeat'), 1);
    const answer = await fetch(`${redmine.url}/issues/${done[0].ticket.id}.json?include=journals`, { headers: { 'x-redmine-api-key': redmine.apiKey } });
    const journals = ((await answer.json()) as { issue: { journals: Array<{ notes?: string }> } }).issue.journals;
    const notes = journals.filter((j) => j.notes);
    assert.equal(notes.length, 1, JSON.stringify(journals));
    assert.match(notes[0].notes!, /^SOAR: seen again at /);
  });

  it('creates, then queues while Redmine is stopped and delivers once on output 2 when it is back', async () => {
    await load();
    const done = collect('out1');
    const later = collect('out2');
    helper.getNode('ot1').receive(alert('rm-node-1'));
    await until(() => done.length === 1);
    assert.equal(done[0].ticket.status, 'created', JSON.stringify(done[0].ticket));
    await redmine.stop();
    helper.getNode('ot1').receive(alert('rm-node-2'));
    await until(() => done.length === 2);
    assert.equal(done[1].ticket.status, 'queued');
    await redmine.start();
    await until(() => later.length === 1);
    assert.deepEqual([later[0].ticket.status, later[0].incident], ['created', 'rm-node-2']);
    assert.match(later[0].ticket.key, /^#\d+$/);
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal(later.length, 1, 'delivered once');
    assert.equal(await issuesFor('rm-node-2'), 1);
  });

  it('delivers a ticket queued before a redeploy once, after it', async () => {
    await load();
    const done = collect('out1');
    await redmine.stop();
    helper.getNode('ot1').receive(alert('rm-node-3'));
    await until(() => done.length === 1);
    assert.equal(done[0].ticket.status, 'queued');
    await helper.unload();
    await redmine.start();
    await load();
    const later = collect('out2');
    await until(() => later.length === 1);
    assert.deepEqual([later[0].ticket.status, later[0].incident], ['created', 'rm-node-3']);
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal(later.length, 1, 'delivered once');
    assert.equal(await issuesFor('rm-node-3'), 1);
  });
});
