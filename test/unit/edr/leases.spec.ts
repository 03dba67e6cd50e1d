import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AuditLog, readAudit } from '../../../lib/core/audit';
import { FileStateStore } from '../../../lib/core/file-store';
import { edrError, newHandle, pickOne } from '../../../lib/edr/common';
import { GuardrailPolicy, type GuardrailPolicySpec } from '../../../lib/core/guardrails';
import { LeaseEngine } from '../../../lib/core/leases';
import type { AuditRecord } from '../../../lib/core/types';
import { IsolationManager, PENDING_NS, parseTtlHours, type Finished, type Isolation } from '../../../lib/edr/leases';
import type { EdrActionResult, EdrDevice, EdrProgress, EdrProvider, EdrState, EdrStatus, PendingAction } from '../../../lib/edr/types';
import { FakeTimers } from '../../fixtures/crash/lease-test-kit';

const HOUR = 3_600_000;

interface FakeDevice extends EdrDevice {
  state: EdrState;
  /** Polls left before a pending action finishes (Infinity: never). */
  left?: number;
}

/** An EDR in memory: CrowdStrike-like (status, asynchronous) by default; `status: false` is Wazuh-like. */
class FakeEdr implements EdrProvider {
  readonly kind = 'fake';
  readonly capabilities: { status: boolean; resolveBy: readonly ('name' | 'ip' | 'id')[]; settleMs?: number };
  readonly devices = new Map<string, FakeDevice>();
  readonly calls: string[] = [];
  pendingPolls = 1;
  /** Each poll takes this long (real time), for the settleMs cases. */
  progressDelayMs = 0;
  /** The next poll fails with this reason (the vendor gave up). */
  failProgress?: string;
  /** Make a call fail with this error (resolve, isolate, release). */
  failOn?: (call: 'resolve' | 'isolate' | 'release') => Error | undefined;
  constructor(
    readonly name: string,
    private readonly opts: { status?: boolean; async?: boolean; now: () => number; settleMs?: number },
  ) {
    this.capabilities = { status: opts.status !== false, resolveBy: ['name', 'ip', 'id'], ...(opts.settleMs ? { settleMs: opts.settleMs } : {}) };
  }
  add(id: string, name: string, addresses: string[] = [], state: EdrState = 'normal'): FakeDevice {
    const device = { id, name, addresses, state };
    this.devices.set(id, device);
    return device;
  }
  private statusOf(id: string): EdrStatus {
    const device = this.devices.get(id);
    if (!device) throw edrError(this.kind, 'NOT_FOUND', `no device ${id}`);
    return { deviceId: id, state: this.capabilities.status ? device.state : 'unknown' };
  }
  async resolve(target: string): Promise<EdrDevice> {
    this.calls.push(`resolve ${target}`);
    const resolveError = this.failOn?.('resolve');
    if (resolveError) throw resolveError;
    const all = [...this.devices.values()];
    const found = all.filter((d) => d.id === target || d.name === target || d.addresses?.includes(target));
    const { id, name, addresses } = pickOne(this.kind, target, found);
    return { id, name, addresses };
  }
  private act(op: 'isolate' | 'release', device: EdrDevice): EdrActionResult {
    this.calls.push(`${op} ${device.id}`);
    const error = this.failOn?.(op);
    if (error) throw error;
    const d = this.devices.get(device.id)!;
    const wanted: EdrState = op === 'isolate' ? 'isolated' : 'normal';
    if (this.capabilities.status && d.state === wanted)
      return { outcome: op === 'isolate' ? 'already-isolated' : 'not-isolated', device, status: this.statusOf(d.id) };
    if (!this.opts.async) {
      d.state = wanted;
      return { outcome: this.capabilities.status ? 'done' : 'sent', device, status: this.statusOf(d.id) };
    }
    d.state = op === 'isolate' ? 'pending-isolate' : 'pending-release';
    d.left = this.pendingPolls;
    return { outcome: 'requested', device, status: this.statusOf(d.id), handle: newHandle(this.kind, this.name, op, device, this.opts.now()) };
  }
  async isolate(device: EdrDevice): Promise<EdrActionResult> {
    return this.act('isolate', device);
  }
  async release(device: EdrDevice): Promise<EdrActionResult> {
    return this.act('release', device);
  }
  async status(id: string): Promise<EdrStatus> {
    this.calls.push(`status ${id}`);
    return this.statusOf(id);
  }
  async progress(handle: PendingAction): Promise<EdrProgress> {
    this.calls.push(`progress ${handle.deviceId}`);
    if (this.progressDelayMs) await new Promise((resolve) => setTimeout(resolve, this.progressDelayMs));
    const d = this.devices.get(handle.deviceId)!;
    if (this.failProgress) return { phase: 'failed', status: this.statusOf(d.id), reason: this.failProgress };
    if (d.state.startsWith('pending-')) {
      d.left = (d.left ?? 0) - 1;
      if (d.left < 0) d.state = handle.op === 'isolate' ? 'isolated' : 'normal';
    }
    const status = this.statusOf(d.id);
    return { phase: d.state.startsWith('pending-') ? 'pending' : 'succeeded', status };
  }
  async close(): Promise<void> {}
}

describe('isolate family (IsolationManager on the lease engine)', function () {
  this.timeout(20_000);
  let dir: string;
  let timers: FakeTimers;
  let store: FileStateStore;
  let audit: AuditLog;
  let policy: GuardrailPolicy;
  let simulate: boolean;
  let edr: FakeEdr;
  let providers: Map<string, FakeEdr>;
  let engines: LeaseEngine[];
  let managers: IsolationManager[];
  let finished: Finished[];
  let hold: boolean;

  async function openStorage(): Promise<void> {
    store = await FileStateStore.open(path.join(dir, 'state'), { fsync: false, now: timers.now, sweepIntervalMs: 0, compactIntervalMs: 0 });
    audit = await AuditLog.open(path.join(dir, 'audit.jsonl'), { fsync: false, now: () => new Date(timers.now()) });
  }
  async function closeStorage(): Promise<void> {
    for (const m of managers.splice(0)) await m.stop();
    for (const e of engines.splice(0)) await e.stop();
    await audit.close();
    await store.close();
  }
  function makePolicy(spec: GuardrailPolicySpec = {}): GuardrailPolicy {
    return new GuardrailPolicy({ includeOwnAddresses: false, ...spec }, { now: timers.now });
  }
  function manager(): IsolationManager {
    const engine = new LeaseEngine({
      store,
      audit,
      simulate: () => simulate,
      now: timers.now,
      setTimer: timers.setTimer,
      clearTimer: timers.clearTimer,
      warn: () => undefined,
    });
    const m = new IsolationManager({
      engine,
      store,
      guardrails: () => policy,
      providers: (name) => providers.get(name),
      followOf: () => ({ timeoutMs: 10 * 60_000, pollMs: 5_000 }),
      // Polls advance the manual clock, so the timeout is reached without waiting; `hold` parks them
      // (a process that is still waiting when it is killed).
      sleep: (ms, signal) =>
        hold
          ? new Promise<void>((_, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted'))))
          : timers.advance(ms, async () => undefined),
    });
    m.on('finished', (f: Finished) => finished.push(f));
    engines.push(engine);
    managers.push(m);
    return m;
  }
  async function records(type?: string): Promise<AuditRecord[]> {
    const all: AuditRecord[] = [];
    for await (const record of readAudit(path.join(dir, 'audit.jsonl'))) all.push(record);
    return type ? all.filter((r) => r.type === type) : all;
  }
  const settle = async () => {
    for (const m of managers) {
      await m.followsIdle();
      await m.engine.idle();
    }
  };

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-isolate-'));
    timers = new FakeTimers();
    engines = [];
    managers = [];
    finished = [];
    hold = false;
    simulate = false;
    policy = makePolicy();
    edr = new FakeEdr('edr1', { async: true, now: timers.now });
    providers = new Map([['edr1', edr]]);
    await openStorage();
  });
  afterEach(async () => {
    await closeStorage();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stores a pending containment at once, follows it in the background and reports it finished', async () => {
    edr.add('aid1', 'web01', ['10.1.2.3']);
    edr.pendingPolls = 2;
    const m = manager();
    await m.engine.start();
    const out = await m.isolate({ target: 'web01', provider: 'edr1', origin: 'node1', msgId: 'm1', alertId: 'a1' });
    assert.equal(out.status, 'pending');
    // The handle is in the store before the answer came back.
    const stored = await m.engine.leases.get<Isolation>(m.keyOf('edr1', 'aid1'));
    assert.equal(stored?.state, 'pending-isolate');
    assert.equal(stored?.pending?.op, 'isolate');
    await settle();
    const done = await m.engine.leases.get<Isolation>(m.keyOf('edr1', 'aid1'));
    assert.equal(done?.state, 'isolated');
    assert.equal(done?.pending, undefined);
    assert.equal(finished.length, 1);
    assert.deepEqual([finished[0].status, finished[0].origin, finished[0].msgId, finished[0].alertId], ['isolated', 'node1', 'm1', 'a1']);
    const types = (await records()).map((r) => r.type);
    assert.deepEqual(types, ['action.requested', 'action.pending', 'action.done']);
    assert.equal((await records('action.done'))[0].finishedLater, true);
  });

  it('answers a pending isolation that ends within the provider settleMs with its end, without a later "finished"', async () => {
    edr = new FakeEdr('edr1', { async: true, now: timers.now, settleMs: 5_000 });
    providers.set('edr1', edr);
    edr.add('aid1', 'web01');
    edr.pendingPolls = 0;
    const m = manager();
    await m.engine.start();
    const out = await m.isolate({ target: 'web01', provider: 'edr1', origin: 'node1', msgId: 'm1' });
    assert.equal(out.status, 'isolated');
    assert.equal('state' in out && out.state, 'isolated');
    assert.equal('isolation' in out && out.isolation?.pending, undefined);
    await settle();
    assert.deepEqual(finished, [], 'answered once, on the request');
    assert.deepEqual(
      (await records()).map((r) => r.type),
      ['action.requested', 'action.pending', 'action.done'],
    );
    assert.equal((await records('action.done'))[0].finishedLater, false);
    assert.equal((await m.engine.leases.get<Isolation>(m.keyOf('edr1', 'aid1')))?.state, 'isolated');
  });

  it('answers a pending isolation that fails within settleMs as failed, with the reason, and keeps the record while the host may be isolated', async () => {
    edr = new FakeEdr('edr1', { async: true, now: timers.now, settleMs: 5_000 });
    providers.set('edr1', edr);
    edr.add('aid1', 'web01');
    edr.failProgress = 'a fresh SSH session could not confirm the isolation';
    const m = manager();
    await m.engine.start();
    const out = await m.isolate({ target: 'web01', provider: 'edr1' });
    assert.equal(out.status, 'failed');
    assert.match('reason' in out ? out.reason : '', /could not confirm/);
    await settle();
    assert.deepEqual(finished, []);
    const failed = await records('action.failed');
    assert.equal(failed.length, 1);
    assert.deepEqual([failed[0].finishedLater, failed[0].stateAfter, failed[0].leaseKept], [false, 'pending-isolate', true]);
  });

  it('answers pending when the end takes longer than settleMs, and reports the end later as "finished"', async () => {
    edr = new FakeEdr('edr1', { async: true, now: timers.now, settleMs: 20 });
    providers.set('edr1', edr);
    edr.add('aid1', 'web01');
    edr.pendingPolls = 0;
    edr.progressDelayMs = 200;
    const m = manager();
    await m.engine.start();
    const out = await m.isolate({ target: 'web01', provider: 'edr1', origin: 'node1' });
    assert.equal(out.status, 'pending');
    await settle();
    assert.deepEqual(
      finished.map((f) => [f.status, f.origin]),
      [['isolated', 'node1']],
    );
    assert.equal((await records('action.done'))[0].finishedLater, true);
  });

  it('releases once at expiry through the engine, never twice', async () => {
    edr = new FakeEdr('edr1', { async: false, now: timers.now });
    providers.set('edr1', edr);
    edr.add('aid1', 'web01');
    const m = manager();
    await m.engine.start();
    const out = await m.isolate({ target: 'web01', provider: 'edr1', ttlHours: 2 });
    assert.equal(out.status, 'isolated');
    assert.equal(edr.devices.get('aid1')!.state, 'isolated');
    await timers.advance(2 * HOUR - 1000, settle);
    assert.equal(edr.calls.filter((c) => c.startsWith('release')).length, 0, 'not before its end');
    await timers.advance(2000, settle);
    await timers.advance(5 * HOUR, settle);
    assert.equal(edr.calls.filter((c) => c.startsWith('release')).length, 1, 'released exactly once');
    assert.equal(edr.devices.get('aid1')!.state, 'normal');
    assert.equal((await m.list()).length, 0);
    assert.equal((await records('lease.expired')).length, 1);
    // A later release request finds nothing to do.
    const again = await m.release({ target: 'web01', provider: 'edr1' });
    assert.equal(again.status, 'not-isolated');
  });

  it('after a crash, reads the pending action back and follows it to the end once its EDR is there', async () => {
    edr.add('aid1', 'web01');
    edr.pendingPolls = Infinity;
    hold = true;
    let m = manager();
    await m.engine.start();
    assert.equal((await m.isolate({ target: 'web01', provider: 'edr1', origin: 'n1' })).status, 'pending');
    // "kill -9": nothing more of this manager runs; the store is reopened by a new process.
    await closeStorage();
    hold = false;
    edr.devices.get('aid1')!.left = 1;
    await openStorage();
    providers = new Map();
    m = manager();
    await m.engine.start();
    assert.equal(await m.resume('edr1'), 0, 'nothing followed while the EDR is not registered');
    providers.set('edr1', edr);
    assert.equal(await m.resume('edr1'), 1);
    await settle();
    assert.equal((await m.list())[0].state, 'isolated');
    assert.equal(finished.length, 1);
    assert.equal(finished[0].origin, 'n1');
  });

  it('a follow that does not finish in time is a clear, audited failure; the host stays listed while still pending', async () => {
    edr.add('aid1', 'web01');
    edr.pendingPolls = Infinity;
    const m = manager();
    await m.engine.start();
    await m.isolate({ target: 'web01', provider: 'edr1' });
    await settle();
    assert.equal(finished.length, 1);
    assert.equal(finished[0].status, 'failed');
    assert.equal(finished[0].code, 'TIMEOUT');
    assert.match(finished[0].reason!, /not finished 600 s after it was requested/);
    const lease = (await m.list())[0];
    assert.equal(lease.state, 'pending-isolate');
    assert.match(lease.problem!, /not finished/);
    const failed = await records('action.failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0].leaseKept, true);
    // Still releasable.
    edr.pendingPolls = 0;
    const out = await m.release({ target: 'aid1', provider: 'edr1' });
    assert.ok(out.status === 'pending' || out.status === 'released', out.status);
  });

  it("reconciliation reports a host released behind the hub's back; a provider without status is not checked", async () => {
    edr = new FakeEdr('edr1', { async: false, now: timers.now });
    const blind = new FakeEdr('wazuh1', { async: false, status: false, now: timers.now });
    providers = new Map([
      ['edr1', edr],
      ['wazuh1', blind],
    ]);
    edr.add('aid1', 'web01');
    blind.add('001', 'db01');
    const m = manager();
    await m.engine.start();
    assert.equal((await m.isolate({ target: 'web01', provider: 'edr1' })).status, 'isolated');
    assert.equal((await m.isolate({ target: 'db01', provider: 'wazuh1' })).status, 'isolated');
    let drift = await m.reconcile('edr1');
    assert.equal(drift.missing.length, 0);
    edr.devices.get('aid1')!.state = 'normal'; // lifted in the vendor console
    blind.devices.get('001')!.state = 'normal';
    drift = await m.reconcile('edr1');
    assert.deepEqual(
      drift.missing.map((l) => l.target),
      ['aid1'],
    );
    const blindDrift = await m.reconcile('wazuh1');
    assert.equal(blindDrift.missing.length, 0);
    assert.ok(!blind.calls.some((c) => c.startsWith('status')), 'no status call on a provider without one');
    const audited = await records('reconcile.drift');
    assert.equal(audited.length, 1);
    assert.deepEqual(audited[0].missing, ['aid1']);
    // Releasing it now ends the lease and says what is true of the host.
    const release = await m.release({ target: 'web01', provider: 'edr1' });
    assert.equal(release.status, 'not-isolated');
    assert.equal((await m.list()).filter((l) => l.provider === 'edr1').length, 0);
  });

  it('a repeat isolation the vendor confirms clears the mark a timed-out follow left', async () => {
    edr.add('aid1', 'web01');
    edr.pendingPolls = Infinity;
    const m = manager();
    await m.engine.start();
    await m.isolate({ target: 'web01', provider: 'edr1' });
    await settle();
    assert.ok((await m.list())[0].problem);
    edr.devices.get('aid1')!.state = 'isolated';
    const again = await m.isolate({ target: 'web01', provider: 'edr1' });
    assert.equal(again.status, 'already-isolated');
    const lease = (await m.list())[0];
    assert.deepEqual([lease.state, lease.problem], ['isolated', undefined]);
  });

  it('refuses protected hosts (name, glob, address of the resolved device), ambiguous and unknown hosts and malformed TTLs before any write', async () => {
    policy = makePolicy({ protectedHosts: ['dc-*', '*.corp.example', '10.9.9.9'], gateways: ['10.0.0.1'] });
    edr.add('aid1', 'dc-01', ['10.1.1.1']);
    edr.add('aid2', 'files.corp.example', ['10.1.1.2']);
    edr.add('aid3', 'web01', ['10.9.9.9']);
    edr.add('aid4', 'twin', []);
    edr.add('aid5', 'twin', []);
    edr.add('aid6', 'gw', ['10.0.0.1']);
    edr.add('aid7', 'ok01', ['10.1.1.7']);
    const m = manager();
    await m.engine.start();
    const cases: [string, unknown, RegExp][] = [
      ['dc-01', undefined, /dc-01 matches protected dc-\*/],
      ['10.1.1.1', undefined, /dc-01 matches protected dc-\*/], // named by address, protected by its name
      ['files.corp.example', undefined, /matches protected \*\.corp\.example/],
      ['aid3', undefined, /10\.9\.9\.9 is in protected/],
      ['aid6', undefined, /gateway/],
      ['twin', undefined, /ambiguous host "twin": 2 devices/],
      ['nobody', undefined, /unknown host "nobody"/],
      ['ok01', 'two', /invalid TTL "two"/],
      ['ok01', -1, /invalid TTL/],
    ];
    for (const [target, ttlHours, reason] of cases) {
      const out = await m.isolate({ target, provider: 'edr1', ttlHours });
      assert.equal(out.status, 'refused', target);
      assert.match((out as { reason: string }).reason, reason, target);
    }
    assert.ok(!edr.calls.some((c) => c.startsWith('isolate')), 'no isolate call was made');
    assert.equal((await m.list()).length, 0);
    assert.equal((await records('action.refused')).length, cases.length, 'every refusal is audited');
  });

  it("refuses the hub's own default gateways, IPv4 and IPv6, as `ip route` shows them (read from /proc by the policy)", async function () {
    const routes = (family: '-4' | '-6'): string[] => {
      const out = spawnSync('ip', ['-j', family, 'route', 'show', 'default'], { encoding: 'utf8' });
      if (out.status !== 0) return [];
      return (JSON.parse(out.stdout || '[]') as { gateway?: string }[]).flatMap((r) => (r.gateway ? [r.gateway] : []));
    };
    const gateways = [...routes('-4'), ...routes('-6')];
    const families = new Set(gateways.map((g) => (g.includes(':') ? 6 : 4)));
    if (families.size < 2) {
      console.log(`      skipped: this machine needs an IPv4 and an IPv6 default route (ip route shows ${JSON.stringify(gateways)})`);
      this.skip();
    }
    // No configured or default ranges: only the machine's own gateways can refuse these.
    policy = new GuardrailPolicy({ includeDefaults: false }, { now: timers.now, ownAddresses: () => [], ownHostname: () => 'soar-hub.test' });
    gateways.forEach((gateway, i) => edr.add(`gw${i}`, `router${i}`, [gateway]));
    const m = manager();
    await m.engine.start();
    for (const [i, gateway] of gateways.entries()) {
      for (const target of [gateway, `router${i}`]) {
        const out = await m.isolate({ target, provider: 'edr1' });
        assert.equal(out.status, 'refused', `${target}: ${JSON.stringify(out)}`);
        assert.match((out as { reason: string }).reason, /\(own gateway\)/, target);
      }
    }
    assert.ok(!edr.calls.some((c) => c.startsWith('isolate')), 'no isolate call was made');
  });

  it('reports already-isolated / not-isolated, takes the hourly cap only for new isolations, and simulates without writing', async () => {
    edr = new FakeEdr('edr1', { async: false, now: timers.now });
    providers.set('edr1', edr);
    policy = makePolicy({ maxActionsPerHour: 1 });
    edr.add('aid1', 'web01');
    edr.add('aid2', 'web02', [], 'isolated'); // isolated in the vendor console
    edr.add('aid3', 'web03');
    const m = manager();
    await m.engine.start();
    assert.equal((await m.isolate({ target: 'web01', provider: 'edr1' })).status, 'isolated');
    assert.equal((await m.isolate({ target: 'web01', provider: 'edr1' })).status, 'already-isolated');
    const cap = await m.isolate({ target: 'web03', provider: 'edr1' });
    assert.equal(cap.status, 'refused');
    assert.match((cap as { reason: string }).reason, /cap of 1 actions per hour/);
    policy = makePolicy();
    assert.equal((await m.isolate({ target: 'web02', provider: 'edr1' })).status, 'already-isolated');
    assert.equal((await m.list()).length, 1, 'an isolation made elsewhere is not taken over');
    assert.equal((await m.release({ target: 'web03', provider: 'edr1' })).status, 'not-isolated');
    simulate = true;
    const sim = await m.isolate({ target: 'web03', provider: 'edr1', ttlHours: 1 });
    assert.equal(sim.status, 'simulated');
    assert.equal(edr.devices.get('aid3')!.state, 'normal');
    assert.equal((await m.release({ target: 'web01', provider: 'edr1' })).status, 'simulated');
    assert.equal(edr.devices.get('aid1')!.state, 'isolated');
    assert.equal((await records('action.simulated')).length, 2);
    simulate = false;
    assert.equal((await m.release({ target: 'web01', provider: 'edr1' })).status, 'released');
    assert.equal(edr.devices.get('aid1')!.state, 'normal');
  });

  it('a host isolated in the vendor console gets no lease (no expiry, not listed), and only an explicit release lifts it', async () => {
    edr = new FakeEdr('edr1', { async: false, now: timers.now });
    providers.set('edr1', edr);
    edr.add('aid9', 'web09', [], 'isolated');
    const m = manager();
    await m.engine.start();
    assert.equal((await m.isolate({ target: 'web09', provider: 'edr1', ttlHours: 1 })).status, 'already-isolated');
    assert.deepEqual(await m.list(), [], 'not taken over');
    await timers.advance(2 * 3_600_000, async () => undefined);
    await settle();
    assert.equal(edr.devices.get('aid9')!.state, 'isolated', 'no expiry released it');
    assert.equal((await m.release({ target: 'web09', provider: 'edr1', by: 'analyst' })).status, 'released');
    assert.equal(edr.devices.get('aid9')!.state, 'normal');
    const requested = (await records('action.requested')).filter((r) => r.kind === 'release');
    assert.deepEqual(
      requested.map((r) => [r.target, r.leaseFound]),
      [['aid9', false]],
    );
  });

  it('audits every "nothing to do" answer: already-isolated and not-isolated (with and without a status call), a repeat while pending', async () => {
    const blind = new FakeEdr('wazuh1', { async: false, status: false, now: timers.now });
    const sync = new FakeEdr('sync1', { async: false, now: timers.now });
    providers.set('wazuh1', blind);
    providers.set('sync1', sync);
    blind.add('001', 'db01');
    blind.add('002', 'db02');
    sync.add('aid9', 'web09', [], 'isolated'); // isolated in the vendor console
    sync.add('aid8', 'web08');
    edr.add('aid1', 'web01');
    edr.pendingPolls = Infinity;
    hold = true;
    const m = manager();
    await m.engine.start();
    const cases: [() => Promise<{ status: string }>, string][] = [
      [() => m.isolate({ target: 'db01', provider: 'wazuh1' }), 'isolated'],
      [() => m.isolate({ target: 'db01', provider: 'wazuh1' }), 'already-isolated'], // the lease decides
      [() => m.release({ target: 'db02', provider: 'wazuh1' }), 'not-isolated'],
      [() => m.isolate({ target: 'web09', provider: 'sync1' }), 'already-isolated'], // the vendor says so
      [() => m.release({ target: 'web08', provider: 'sync1' }), 'not-isolated'],
      [() => m.isolate({ target: 'web01', provider: 'edr1' }), 'pending'],
      [() => m.isolate({ target: 'web01', provider: 'edr1' }), 'pending'], // a repeat while the first is pending
    ];
    for (const [run, status] of cases) assert.equal((await run()).status, status);
    const steps = (await records()).filter((r) => r.type.startsWith('action.'));
    const answers = steps.map((r) => `${r.type} ${r.kind} ${r.target} ${r.outcome ?? ''}`.trim());
    assert.deepEqual(answers, [
      'action.requested isolate 001',
      'action.done isolate 001 sent',
      'action.done isolate 001 already-isolated',
      'action.done release 002 not-isolated',
      'action.requested isolate aid9',
      'action.done isolate aid9 already-isolated',
      'action.requested release aid8',
      'action.done release aid8 not-isolated',
      'action.requested isolate aid1',
      'action.pending isolate aid1 requested',
      'action.pending isolate aid1 in-progress',
    ]);
  });

  it('a pending release is stored, survives a restart, and a failed one puts the isolation back', async () => {
    edr.add('aid1', 'web01');
    edr.pendingPolls = 0;
    let m = manager();
    await m.engine.start();
    await m.isolate({ target: 'web01', provider: 'edr1' });
    await settle();
    edr.pendingPolls = Infinity;
    hold = true;
    const out = await m.release({ target: 'web01', provider: 'edr1', origin: 'n1' });
    assert.equal(out.status, 'pending');
    assert.equal((await store.list(PENDING_NS)).length, 1);
    assert.equal((await m.list()).length, 0, 'the lease ended with the release request');
    await closeStorage();
    hold = false;
    await openStorage();
    m = manager();
    await m.engine.start();
    // Never finishes: after the timeout the host is still (pending) isolated, so its lease comes back.
    assert.equal(await m.resume('edr1'), 1);
    await settle();
    assert.equal((await store.list(PENDING_NS)).length, 0);
    const back = await m.list();
    assert.equal(back.length, 1);
    assert.match(back[0].problem!, /release failed/);
    assert.equal(finished.at(-1)?.status, 'failed');
    assert.equal(finished.at(-1)?.op, 'release');
  });

  it('an isolation the store cannot record is released again (or named for a manual release), never left unrecorded', async () => {
    edr = new FakeEdr('edr1', { async: false, now: timers.now });
    providers.set('edr1', edr);
    edr.add('aid1', 'web01');
    edr.add('aid2', 'web02');
    let failLeaseWrites = false;
    const real = store;
    const flaky: typeof store = Object.assign(Object.create(real) as typeof store, {
      set: (ns: string, key: string, value: unknown, opts?: unknown) =>
        failLeaseWrites && ns === 'leases' ? Promise.reject(new Error('disk full')) : real.set(ns, key, value, opts as never),
    });
    const engine = new LeaseEngine({
      store: flaky,
      audit,
      simulate: () => false,
      now: timers.now,
      setTimer: timers.setTimer,
      clearTimer: timers.clearTimer,
      warn: () => undefined,
    });
    const m = new IsolationManager({ engine, store: flaky, guardrails: () => policy, providers: (name) => providers.get(name) });
    engines.push(engine);
    managers.push(m);
    await engine.start();
    failLeaseWrites = true;
    const out = await m.isolate({ target: 'web01', provider: 'edr1' });
    assert.deepEqual(out, {
      status: 'failed',
      op: 'isolate',
      reason: 'the isolation could not be recorded (state store: disk full); it was released again',
      code: 'STORE',
    });
    assert.equal(edr.devices.get('aid1')!.state, 'normal', 'rolled back on the vendor');
    edr.failOn = (call) => (call === 'release' ? edrError('fake', 'SERVER', 'HTTP 500') : undefined);
    const stuck = await m.isolate({ target: 'web02', provider: 'edr1' });
    assert.equal(stuck.status, 'failed');
    assert.match((stuck as { reason: string }).reason, /and releasing it failed \(fake: HTTP 500\): release web02 by hand$/);
    const failed = await records('action.failed');
    assert.deepEqual(
      failed.map((r) => [r.target, r.code]),
      [
        ['aid1', 'STORE'],
        ['aid2', 'STORE'],
      ],
    );
  });

  it('a follow that fails while the vendor says the host is not isolated removes the lease; vendor errors fail, input errors refuse', async () => {
    edr.add('aid1', 'web01');
    edr.failProgress = 'isolation command rejected';
    const m = manager();
    await m.engine.start();
    const status = edr.status.bind(edr);
    edr.status = async (id) => ({ deviceId: id, state: 'normal' }); // what the vendor says after the failure
    await m.isolate({ target: 'web01', provider: 'edr1', ttlHours: 4 });
    await settle();
    edr.status = status;
    assert.deepEqual(await m.list(), [], 'nothing isolated, nothing to release');
    await timers.advance(5 * HOUR, settle);
    assert.ok(!edr.calls.some((c) => c.startsWith('release')), 'and no release at its old end');
    const [failed] = await records('action.failed');
    assert.deepEqual(
      [failed.stateAfter, failed.leaseKept, failed.reason],
      ['normal', false, 'fake: isolate of web01 (aid1) failed: isolation command rejected'],
    );
    assert.deepEqual(
      finished.map((f) => [f.status, f.state]),
      [['failed', 'normal']],
    );

    edr.failProgress = undefined;
    edr.failOn = (call) => (call === 'resolve' ? edrError('fake', 'NETWORK', 'ECONNRESET') : undefined);
    assert.deepEqual(await m.isolate({ target: 'web01', provider: 'edr1' }), { status: 'failed', op: 'isolate', reason: 'fake: ECONNRESET', code: 'NETWORK' });
    edr.failOn = (call) => (call === 'resolve' ? edrError('fake', 'BAD_REQUEST', 'bad filter') : undefined);
    assert.deepEqual(await m.release({ target: 'web01', provider: 'edr1' }), { status: 'refused', op: 'release', reason: 'fake: bad filter' });
    edr.failOn = (call) => (call === 'release' ? edrError('fake', 'FORBIDDEN', 'no release permission') : undefined);
    edr.devices.get('aid1')!.state = 'isolated';
    assert.deepEqual(await m.release({ target: 'web01', provider: 'edr1' }), {
      status: 'failed',
      op: 'release',
      reason: 'fake: no release permission',
      code: 'FORBIDDEN',
    });
    assert.equal(edr.devices.get('aid1')!.state, 'isolated');
  });

  it('reconciliation repair isolates a released leased host again, unless a guardrail now protects it', async () => {
    edr = new FakeEdr('edr1', { async: false, now: timers.now });
    providers.set('edr1', edr);
    edr.add('aid1', 'web01', ['10.1.1.1']);
    edr.add('aid2', 'web02', ['10.1.1.2']);
    const m = manager();
    await m.engine.start();
    await m.isolate({ target: 'web01', provider: 'edr1' });
    await m.isolate({ target: 'web02', provider: 'edr1' });
    edr.devices.get('aid1')!.state = 'normal';
    edr.devices.get('aid2')!.state = 'normal';
    policy = makePolicy({ protectedHosts: ['10.1.1.2'] });
    const drift = await m.reconcile('edr1', { repair: true });
    assert.deepEqual(drift.repaired, ['aid1']);
    assert.match(drift.repairFailed!, /web02 has address 10\.1\.1\.2 is in protected/);
    assert.equal(edr.devices.get('aid1')!.state, 'isolated');
    assert.equal(edr.devices.get('aid2')!.state, 'normal', 'a protected host is not cut off again');
    const [audited] = await records('reconcile.drift');
    assert.deepEqual(audited.missing, ['aid1', 'aid2']);
  });

  it('counts the hourly cap per EDR, and audits the request context cleaned (trimmed, capped, blanks dropped)', async () => {
    edr = new FakeEdr('edr1', { async: false, now: timers.now });
    const second = new FakeEdr('edr2', { async: false, now: timers.now });
    providers = new Map([
      ['edr1', edr],
      ['edr2', second],
    ]);
    policy = makePolicy({ maxActionsPerHour: 1 });
    edr.add('aid1', 'web01');
    edr.add('aid2', 'web02');
    second.add('bid1', 'db01');
    const m = manager();
    await m.engine.start();
    const long = 'x'.repeat(600);
    const first = await m.isolate({
      target: ' web01 ',
      provider: ' edr1 ',
      reason: `  ${long}  `,
      alertId: 42 as unknown as string,
      by: '   ',
      msgId: Number.NaN as unknown as string,
    });
    assert.equal(first.status, 'isolated');
    assert.equal((await m.isolate({ target: 'db01', provider: 'edr2' })).status, 'isolated', "another EDR's cap is its own");
    const capped = await m.isolate({ target: 'web02', provider: 'edr1' });
    assert.equal(capped.status, 'refused');
    assert.match((capped as { reason: string }).reason, /cap of 1 actions per hour for provider "edr1"/);
    assert.equal(edr.devices.get('aid2')!.state, 'normal');
    const [requested] = await records('action.requested');
    assert.deepEqual(requested.request, { reason: `${'x'.repeat(500)}...`, alertId: '42' });
    assert.deepEqual([requested.target, requested.provider, requested.requested], ['aid1', 'edr1', 'web01']);
    await timers.advance(HOUR, settle);
    assert.equal((await m.isolate({ target: 'web02', provider: 'edr1' })).status, 'isolated', 'a slot frees after an hour');
  });

  it('parses TTL hours strictly', () => {
    assert.deepEqual(parseTtlHours(undefined), { hours: null });
    assert.deepEqual(parseTtlHours(''), { hours: null });
    assert.deepEqual(parseTtlHours(0), { hours: null });
    assert.deepEqual(parseTtlHours('1.5'), { hours: 1.5 });
    for (const bad of ['1h', 'abc', -2, Infinity, 10_000, {}]) assert.ok('error' in parseTtlHours(bad), String(bad));
  });

  it('accepts TTLs up to a year (8784 h) written as plain decimal hours, and nothing else', () => {
    assert.deepEqual(parseTtlHours('0'), { hours: null });
    assert.deepEqual(parseTtlHours(null), { hours: null });
    assert.deepEqual(parseTtlHours(8784), { hours: 8784 });
    assert.deepEqual(parseTtlHours(' 12 '), { hours: 12 });
    assert.deepEqual(parseTtlHours('0.25'), { hours: 0.25 });
    for (const bad of [8785, '8785', '0.0', 'x2', '2x', '2.', '.5', '1e3', '12 h']) assert.ok('error' in parseTtlHours(bad), String(bad));
    assert.match((parseTtlHours('x'.repeat(100)) as { error: string }).error, new RegExp(`^invalid TTL "${'x'.repeat(40)}":`));
  });

  it('an isolation with a TTL ends exactly TTL hours after the request, and is released then, not a second before', async () => {
    edr = new FakeEdr('edr1', { async: false, now: timers.now });
    providers.set('edr1', edr);
    edr.add('aid1', 'web01');
    const m = manager();
    await m.engine.start();
    const start = timers.now();
    const out = await m.isolate({ target: 'web01', provider: 'edr1', ttlHours: '1.5' });
    assert.equal(out.status, 'isolated');
    const lease = (await m.list())[0];
    assert.deepEqual([lease.expiresAt, lease.ttlHours], [new Date(start + 1.5 * HOUR).toISOString(), 1.5]);
    await timers.advance(1.5 * HOUR - 1, settle);
    assert.equal(edr.devices.get('aid1')!.state, 'isolated');
    await timers.advance(1, settle);
    assert.equal(edr.devices.get('aid1')!.state, 'normal');
  });

  it('a stopped manager refuses to isolate or release, without any vendor call', async () => {
    edr.add('aid1', 'web01');
    const m = manager();
    await m.engine.start();
    await m.stop();
    for (const out of [await m.isolate({ target: 'web01', provider: 'edr1' }), await m.release({ target: 'web01', provider: 'edr1' })]) {
      assert.deepEqual(out, { status: 'failed', op: out.op, reason: 'the isolation manager is stopped', code: 'CANCELLED' });
    }
    assert.deepEqual(edr.calls, []);
    assert.equal(await m.resume('edr1'), 0, 'nothing is followed after stop');
  });

  it('an unknown EDR is a NOT_FOUND failure; a release of a lease whose EDR is gone fails and keeps the lease', async () => {
    edr = new FakeEdr('edr1', { async: false, now: timers.now });
    providers.set('edr1', edr);
    edr.add('aid1', 'web01');
    const m = manager();
    await m.engine.start();
    const unknown = await m.isolate({ target: 'web01', provider: 'edr9' });
    assert.deepEqual(unknown, { status: 'failed', op: 'isolate', reason: 'no EDR named "edr9" is configured', code: 'NOT_FOUND' });
    assert.equal((await m.isolate({ target: 'web01', provider: 'edr1', ttlHours: 1 })).status, 'isolated');
    const before = (await m.list())[0];
    providers.delete('edr1'); // its config node was removed
    const out = await m.release({ target: 'aid1', provider: 'edr1', by: 'analyst' });
    assert.deepEqual(out, { status: 'failed', op: 'release', reason: 'no EDR named "edr1" is configured', code: 'NOT_FOUND' });
    assert.deepEqual(await m.list(), [before], 'the host may still be isolated: its lease stays as it was');
    const missing = await m.release({ target: 'web01', provider: 'edr1' });
    assert.equal(missing.status, 'failed', 'by name, without the EDR, nothing can be resolved');
    assert.equal(edr.devices.get('aid1')!.state, 'isolated');
    providers.set('edr1', edr);
    assert.equal((await m.release({ target: 'aid1', provider: 'edr1' })).status, 'released');
    assert.equal(edr.devices.get('aid1')!.state, 'normal');
  });

  it('a paused follow leaves the pending action stored; resume follows each pending action once, only for its own EDR', async () => {
    const other = new FakeEdr('edr2', { async: true, now: timers.now });
    providers.set('edr2', other);
    edr.add('aid1', 'web01');
    edr.add('aid2', 'web02', [], 'isolated');
    other.add('bid1', 'db01');
    edr.pendingPolls = Infinity;
    other.pendingPolls = Infinity;
    hold = true;
    const m = manager();
    await m.engine.start();
    assert.equal((await m.isolate({ target: 'web01', provider: 'edr1' })).status, 'pending');
    await m.engine.leases.set(m.keyOf('edr1', 'aid2'), {
      id: 'l2',
      kind: 'isolate',
      target: 'aid2',
      provider: 'edr1',
      requested: 'web02',
      createdAt: new Date(timers.now()).toISOString(),
      expiresAt: null,
      status: 'active',
      state: 'isolated',
      ttlHours: null,
    } as Isolation);
    assert.equal((await m.release({ target: 'web02', provider: 'edr1' })).status, 'pending');
    assert.equal((await m.isolate({ target: 'db01', provider: 'edr2' })).status, 'pending');
    assert.equal(await m.resume('edr1'), 0, 'already followed');
    await m.pause('edr1');
    assert.equal((await m.list()).filter((l) => l.pending).length, 2, 'pending isolations stay stored');
    assert.equal((await store.list(PENDING_NS)).length, 1, 'the pending release stays stored');
    assert.deepEqual(finished, []);
    hold = false;
    edr.pendingPolls = 0;
    edr.devices.get('aid1')!.left = 0;
    edr.devices.get('aid2')!.left = 0;
    assert.equal(await m.resume('edr1'), 2, 'the isolation and the release of edr1, not the isolation on edr2');
    await m.pause('edr2'); // its follow is parked: only edr1's are awaited
    await m.followsIdle();
    assert.deepEqual((finished as Finished[]).map((f) => `${f.op} ${f.deviceId} ${f.status}`).sort(), ['isolate aid1 isolated', 'release aid2 released']);
    assert.equal((await store.list(PENDING_NS)).length, 0);
  });
});
