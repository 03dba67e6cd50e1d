import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AuditLog } from '../../../lib/core/audit';
import { FileStateStore } from '../../../lib/core/file-store';
import { BacklogFullError, IntakePipeline } from '../../../lib/intake/pipeline';

const samples = path.resolve(__dirname, '..', '..', 'fixtures', 'samples');
const wazuh = () => JSON.parse(fs.readFileSync(path.join(samples, 'wazuh', 'sshd-bruteforce.json'), 'utf8'));

/** An audit log whose writes complete only when the test says so. */
class HeldAudit {
  held: (() => void)[] = [];
  fail: ((err: Error) => void)[] = [];
  records: { type: string; fields: Record<string, unknown> }[] = [];
  append(type: string, fields: Record<string, unknown>) {
    this.records.push({ type, fields });
    return new Promise<void>((resolve, reject) => {
      this.held.push(resolve);
      this.fail.push(reject);
    });
  }
  releaseAll() {
    this.held.splice(0).forEach((r) => r());
    this.fail.splice(0);
  }
}

describe('intake pipeline', function () {
  let dir: string;
  let audit: AuditLog;
  let store: FileStateStore;
  beforeEach(async function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-pipeline-'));
    audit = await AuditLog.open(path.join(dir, 'audit.jsonl'));
    store = await FileStateStore.open(path.join(dir, 'state'));
  });
  afterEach(async function () {
    await audit.close();
    await store.close();
  });

  const options = { intakeId: 'n1', dedupWindowMs: 60_000, duplicateMode: 'suppress' as const, maxBacklog: 100 };

  it('records alerts durably and counts them', async function () {
    const p = new IntakePipeline(audit, store, options);
    const out = await p.ingest([wazuh()], { via: 'http', remoteAddress: '127.0.0.1' });
    assert.equal(out.toSend.length, 1);
    const lines = fs
      .readFileSync(path.join(dir, 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines[0].type, 'alert.received');
    assert.equal(lines[0].remote, '127.0.0.1');
    assert.equal(lines[0].alert.fingerprint, out.alerts[0].alert.fingerprint);
    assert.deepEqual(p.counters, { received: 1, duplicates: 0, ignored: 0, rejected: 0 });
  });

  it('lets the dedup window expire, counted from the first alert', async function () {
    let now = Date.parse('2026-11-27T10:00:00Z');
    const p = new IntakePipeline(audit, store, options, () => now);
    assert.equal((await p.ingest([wazuh()], { via: 'input' })).duplicates, 0);
    now += 30_000;
    assert.equal((await p.ingest([wazuh()], { via: 'input' })).duplicates, 1);
    now += 31_000; // 61 s after the first: a new window starts
    assert.equal((await p.ingest([wazuh()], { via: 'input' })).duplicates, 0);
    assert.equal((await p.ingest([wazuh()], { via: 'input', replay: true })).duplicates, 0, 'replays skip dedup');
  });

  it('keeps the window across a restart through the state store', async function () {
    const first = new IntakePipeline(audit, store, options);
    await first.ingest([wazuh()], { via: 'input' });
    await store.close();
    store = await FileStateStore.open(path.join(dir, 'state'));
    const second = new IntakePipeline(audit, store, options);
    await second.start();
    assert.equal((await second.ingest([wazuh()], { via: 'input' })).duplicates, 1);
    const other = new IntakePipeline(audit, store, { ...options, intakeId: 'n2' });
    await other.start();
    assert.equal((await other.ingest([wazuh()], { via: 'input' })).duplicates, 0, 'windows are per intake');
  });

  it('answers 429 when more alerts wait for their durable write than the bound, and recovers', async function () {
    const held = new HeldAudit();
    const p = new IntakePipeline(held as unknown as AuditLog, store, { ...options, dedupWindowMs: 0, maxBacklog: 3 });
    const alert = (i: number) => ({ ...wazuh(), id: `a${i}`, data: { srcip: `203.0.113.${i}` } });
    const first = p.ingest([alert(1), alert(2)], { via: 'http' });
    await new Promise((r) => setImmediate(r));
    assert.equal(p.backlog, 2);
    await assert.rejects(
      p.ingest([alert(3), alert(4)], { via: 'http' }),
      (err: unknown) => err instanceof BacklogFullError && err.status === 429 && err.retryAfterSeconds >= 1,
    );
    held.releaseAll();
    await first;
    assert.equal(p.backlog, 0);
    const later = p.ingest([alert(5), alert(6), alert(7)], { via: 'http' });
    await new Promise((r) => setImmediate(r));
    held.releaseAll();
    assert.equal((await later).alerts.length, 3);
    assert.equal(p.counters.rejected, 1);
  });

  it('resolves batches in arrival order even when a later one is durable first', async function () {
    const held = new HeldAudit();
    const p = new IntakePipeline(held as unknown as AuditLog, store, { ...options, dedupWindowMs: 0 });
    const order: string[] = [];
    const a = p.ingest([{ ...wazuh(), id: 'first' }], { via: 'input' }).then(() => order.push('first'));
    const b = p.ingest([{ ...wazuh(), id: 'second' }], { via: 'input' }).then(() => order.push('second'));
    await new Promise((r) => setImmediate(r));
    held.held[1](); // the second batch's write completes first
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, []);
    held.held[0]();
    await Promise.all([a, b]);
    assert.deepEqual(order, ['first', 'second']);
  });

  it('records non-alerts as ignored with the reason', async function () {
    const p = new IntakePipeline(audit, store, options);
    const out = await p.ingest([{ timestamp: '2026-11-20T21:05:44Z', event_type: 'dns', src_ip: '198.18.0.1' }], { via: 'input' });
    assert.equal(out.alerts.length, 0);
    assert.match(out.ignored[0].reason, /dns/);
    assert.equal(p.counters.ignored, 1);
  });
  describe('dedup marks and failed writes', function () {
    /** An audit log whose appends fail while `failing` is set (a full disk, an I/O error). */
    class FlakyAudit {
      failing = true;
      records: { type: string; fields: Record<string, unknown> }[] = [];
      constructor(private readonly real: AuditLog) {}
      append(type: string, fields: Record<string, unknown>) {
        if (this.failing) return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
        this.records.push({ type, fields });
        return this.real.append(type, fields);
      }
    }

    it('takes the marks of a batch whose audit append failed back, so the retry is accepted and sent', async function () {
      const flaky = new FlakyAudit(audit);
      const p = new IntakePipeline(flaky as unknown as AuditLog, store, options);
      await assert.rejects(p.ingest([wazuh()], { via: 'http' }), /ENOSPC/);
      assert.deepEqual(await store.list('dedup:n1'), [], 'no durable mark for an alert that was not recorded');
      flaky.failing = false;
      const retry = await p.ingest([wazuh()], { via: 'http' });
      assert.equal(retry.duplicates, 0, 'the retry is not a duplicate');
      assert.equal(retry.toSend.length, 1, 'the retry is sent on');
      assert.equal(flaky.records[0].type, 'alert.received');
      assert.equal((await store.list('dedup:n1')).length, 1, 'the mark exists once the alert is recorded');
    });

    it("decides a copy that arrived while the first copy's write was pending only once that write settled", async function () {
      const held = new HeldAudit();
      const p = new IntakePipeline(held as unknown as AuditLog, store, options);
      const first = p.ingest([wazuh()], { via: 'http' });
      const second = p.ingest([wazuh()], { via: 'http' });
      await new Promise((r) => setImmediate(r));
      assert.equal(held.records.length, 1, "the copy's record waits for the first copy's outcome");
      const failFirst = held.fail.shift()!;
      failFirst(new Error('EIO'));
      await assert.rejects(first, /EIO/);
      await new Promise((r) => setImmediate(r));
      assert.equal(held.records.length, 2);
      assert.equal(held.records[1].type, 'alert.received', 'with the first copy lost, the second is the first');
      held.releaseAll();
      const out = await second;
      assert.equal(out.duplicates, 0);
      assert.equal(out.toSend.length, 1);
    });

    it('writes the durable dedup mark and in-flight record only after the audit record is on disk', async function () {
      const held = new HeldAudit();
      const order: string[] = [];
      const watched = new Proxy(store, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver);
          if (prop === 'set' && typeof v === 'function') {
            return (ns: string, ...rest: unknown[]) => {
              order.push(`store.set ${ns.split(':')[0]}`);
              return (v as (...a: unknown[]) => unknown).call(target, ns, ...rest);
            };
          }
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
      const p = new IntakePipeline(held as unknown as AuditLog, watched, { ...options, trackInflight: true });
      const pending = p.ingest([wazuh()], { via: 'http' });
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      assert.equal(order.length, 0, 'nothing in the store while the audit record is not durable');
      order.push('audit durable');
      held.releaseAll();
      const out = await pending;
      assert.deepEqual(order, ['audit durable', 'store.set dedup', 'store.set inflight']);
      const inflight = await store.list<{ alert: { raw: unknown } }>('inflight:n1');
      assert.equal(inflight.length, 1);
      assert.equal(inflight[0].key, out.toSend[0].inflightKey);
      assert.ok(inflight[0].value.alert.raw, 'the in-flight record keeps raw for the redelivery');
    });

    it('answers a failed store write as a failure and takes the marks back', async function () {
      let failStore = true;
      const failing = new Proxy(store, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver);
          if (prop === 'set' && failStore) return () => Promise.reject(new Error('journal write failed'));
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
      const p = new IntakePipeline(audit, failing, { ...options, trackInflight: true });
      await assert.rejects(p.ingest([wazuh()], { via: 'http' }), /journal write failed/);
      failStore = false;
      const retry = await p.ingest([wazuh()], { via: 'http' });
      assert.equal(retry.duplicates, 0);
    });
  });

  describe('in-flight records', function () {
    it('keeps a record per alert sent on until complete(), and hands the rest back oldest first, marked', async function () {
      let now = Date.parse('2026-11-27T10:00:00Z');
      const p = new IntakePipeline(audit, store, { ...options, trackInflight: true }, () => now);
      const alert = (i: number) => ({ ...wazuh(), id: `a${i}`, data: { srcip: `203.0.113.${i}` } });
      const a = await p.ingest([alert(1), alert(2)], { via: 'http' });
      now += 1;
      const b = await p.ingest([alert(3)], { via: 'input' });
      p.complete(a.toSend[1].inflightKey!);
      await store.flush();

      await store.close();
      store = await FileStateStore.open(path.join(dir, 'state'));
      const after = new IntakePipeline(audit, store, { ...options, trackInflight: true, maxRedeliveries: 2 });
      await after.start();
      const first = await after.redeliveries();
      assert.deepEqual(
        first.map((r) => r.alert.id),
        ['a1', 'a3'],
        'incomplete alerts, in arrival order',
      );
      assert.deepEqual(
        first.map((r) => r.attempt),
        [1, 1],
      );
      assert.equal(first[1].via, 'input');
      assert.equal(first[0].key, a.toSend[0].inflightKey);
      assert.equal(first[1].key, b.toSend[0].inflightKey);
      assert.ok(first[0].alert.raw);
      const lines = fs
        .readFileSync(path.join(dir, 'audit.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(
        lines.filter((l) => l.type === 'alert.redelivered').map((l) => l.alert.id),
        ['a1', 'a3'],
      );

      assert.deepEqual(
        (await after.redeliveries((key) => key === first[0].key)).map((r) => r.alert.id),
        ['a3'],
        'keys still tracked are skipped',
      );
      const third = await after.redeliveries();
      assert.deepEqual(
        third.map((r) => r.alert.id),
        ['a1'],
        'a3 was given up after 2 redeliveries',
      );
      const abandoned = fs
        .readFileSync(path.join(dir, 'audit.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((l) => l.type === 'alert.abandoned');
      assert.deepEqual(
        abandoned.map((l) => l.alert.id),
        ['a3'],
      );
    });

    it('keeps no in-flight record for suppressed duplicates', async function () {
      const p = new IntakePipeline(audit, store, { ...options, trackInflight: true });
      await p.ingest([wazuh()], { via: 'http' });
      const dup = await p.ingest([wazuh()], { via: 'http' });
      assert.equal(dup.toSend.length, 0);
      assert.equal((await store.list('inflight:n1')).length, 1);
    });
  });
});
