import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ProviderError } from '../../../lib/core/errors';
import { FileStateStore } from '../../../lib/core/file-store';
import { readFields } from '../../../lib/providers/descriptor';
import { descriptor } from '../../../lib/ticket/kinds/local';
import { LocalCaseStore } from '../../../lib/ticket/local';
import { TicketOutbox } from '../../../lib/ticket/outbox';
import { classify } from './fake-tracker';

const input = (incidentKey: string, title = 'sshd brute force') => ({
  title,
  body: 'Rule 5712 on web01',
  severity: 4,
  incidentKey,
  observables: [{ type: 'ipv4', value: '203.0.113.7' }],
});

describe('local case store (embedded tracker)', () => {
  let dir: string;
  let store: FileStateStore;
  let clock: number;
  const now = () => clock;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-cases-'));
    clock = Date.parse('2026-12-07T03:00:00Z');
    store = await FileStateStore.open(dir, { fsync: false, now, sweepIntervalMs: 0, compactIntervalMs: 0 });
  });
  afterEach(async () => {
    await store.close().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates a case with a timeline, finds it by incident key, comments and reports it open', async () => {
    const cases = new LocalCaseStore({ store, now });
    const ref = await cases.create(input('fp-1'));
    // The URL names the store: case numbers start at 1 in every local store.
    assert.deepEqual(ref, { id: '1', key: '#1', url: '/soar/cases/local/1' });
    assert.deepEqual(await cases.findOpenByIncident('fp-1'), ref);
    assert.equal(await cases.findOpenByIncident('fp-other'), undefined);
    clock += 1_000;
    await cases.comment(ref, 'seen again', {
      observables: [
        { type: 'ipv4', value: '198.51.100.9' },
        { type: 'ipv4', value: '203.0.113.7' },
      ],
    });
    const found = await cases.get('1');
    assert.equal(found?.priority, 'high');
    assert.deepEqual(
      found?.timeline.map((t) => t.type),
      ['created', 'comment'],
    );
    assert.equal(found?.timeline[1].time, '2026-12-07T03:00:01.000Z');
    assert.deepEqual(
      found?.observables.map((o) => o.value),
      ['203.0.113.7', '198.51.100.9'],
    );
    assert.deepEqual(await cases.status(ref), { state: 'open', vendorStatus: 'open' });
  });

  it('survives a restart (cases are in the durable store)', async () => {
    const ref = await new LocalCaseStore({ store, now }).create(input('fp-2'));
    await store.close();
    store = await FileStateStore.open(dir, { fsync: false, now, sweepIntervalMs: 0, compactIntervalMs: 0 });
    const again = new LocalCaseStore({ store, now });
    assert.deepEqual(await again.findOpenByIncident('fp-2'), ref);
    assert.equal((await again.list())[0].title, 'sshd brute force');
  });

  it("closing from the sidebar ends the incident's index; a second close is refused", async () => {
    const cases = new LocalCaseStore({ store, now });
    const ref = await cases.create(input('fp-3'));
    const closed = await cases.closeCase(ref.id, 'alice', 'false positive');
    assert.equal(closed.state, 'closed');
    assert.equal(closed.closedBy, 'alice');
    assert.deepEqual(closed.timeline.at(-1), { time: '2026-12-07T03:00:00.000Z', type: 'closed', by: 'alice', text: 'false positive' });
    assert.equal(await cases.findOpenByIncident('fp-3'), undefined);
    assert.equal((await cases.status(ref)).state, 'closed');
    await assert.rejects(cases.closeCase(ref.id, 'bob'), (err: ProviderError) => err.code === 'CONFLICT');
    await assert.rejects(cases.closeCase('99', 'bob'), (err: ProviderError) => err.code === 'NOT_FOUND');
  });

  it('lists newest first, filters by state, counts comments', async () => {
    const cases = new LocalCaseStore({ store, now });
    const a = await cases.create(input('fp-a', 'first'));
    await cases.create(input('fp-b', 'second'));
    await cases.comment(a, 'one');
    await cases.comment(a, 'two');
    await cases.closeCase('2', 'alice');
    const all = await cases.list();
    assert.deepEqual(
      all.map((c) => [c.key, c.state, c.comments]),
      [
        ['#2', 'closed', 0],
        ['#1', 'open', 2],
      ],
    );
    assert.deepEqual(
      (await cases.list({ state: 'open' })).map((c) => c.key),
      ['#1'],
    );
  });

  it('concurrent creates never share a number and concurrent comments are all kept', async () => {
    const one = new LocalCaseStore({ store, now });
    const two = new LocalCaseStore({ store, now });
    const refs = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? one : two).create(input(`fp-${i}`))));
    assert.equal(new Set(refs.map((r) => r.id)).size, 20);
    await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? one : two).comment(refs[0], `c${i}`)));
    const found = await one.get(refs[0].id);
    assert.equal(found?.timeline.filter((t) => t.type === 'comment').length, 30);
  });

  it('refuses bad input with a clear error and cuts long text with a visible note', async () => {
    const cases = new LocalCaseStore({ store, now, limits: { body: 200 } });
    await assert.rejects(cases.create({ ...input('fp-x'), title: ' ' }), /the title is empty/);
    await assert.rejects(cases.create({ ...input(''), incidentKey: '' }), /the incident key is empty/);
    await assert.rejects(cases.comment({ id: '42', key: '#42', url: '' }, 'hello'), (err: ProviderError) => err.code === 'NOT_FOUND' && err.status === 404);
    const ref = await cases.create({ ...input('fp-long'), body: 'x'.repeat(1_000) });
    const body = (await cases.get(ref.id))!.body;
    assert.equal(body.length, 200);
    assert.match(body, /cut by SOAR: 1000 characters/);
  });

  it('keeps the timeline bounded, saying what was dropped', async () => {
    const cases = new LocalCaseStore({ store, now, maxTimeline: 10 });
    const ref = await cases.create(input('fp-t'));
    for (let i = 0; i < 25; i += 1) await cases.comment(ref, `c${i}`);
    const timeline = (await cases.get(ref.id))!.timeline;
    assert.equal(timeline.length, 10);
    assert.equal(timeline[0].type, 'created');
    assert.match(timeline[1].text!, /older entries dropped/);
    assert.equal(timeline.at(-1)!.text, 'c24');
  });

  it('behind the outbox: a case closed in the sidebar is followed by a new one that links it', async () => {
    const cases = new LocalCaseStore({ store, now });
    const outbox = new TicketOutbox({ store, provider: cases, classify, now, autoRun: false });
    const first = await outbox.submit({ incidentKey: 'fp-o', title: 't', body: 'b', severity: 3 });
    assert.equal(first.status, 'created');
    await cases.closeCase(first.id!, 'alice');
    clock += 10 * 60_000;
    const second = await outbox.submit({ incidentKey: 'fp-o', title: 't again', body: 'b2', severity: 3 });
    assert.equal(second.status, 'created');
    assert.equal(second.key, '#2');
    assert.equal((await cases.get('2'))?.linkTo?.key, '#1');
    assert.equal((await cases.get('2'))?.timeline[0].text, 'follows #1');
  });

  it("descriptor: no settings needed; refuses to build without the hub's store", () => {
    const values = readFields(descriptor, {});
    assert.equal(values.pageBase, '/soar/cases');
    assert.throws(() => descriptor.create(values, { name: 'cases' }), /state store is needed/);
    const built = descriptor.create(values, { name: 'cases', store });
    assert.equal(built.kind, 'local');
    assert.equal(built.name, 'cases');
    assert.throws(() => readFields(descriptor, { pageBase: 'javascript:alert(1)' }), /pageBase must be a path/);
  });
});
