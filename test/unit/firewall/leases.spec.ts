import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AuditLog, readAudit, verifyAudit } from '../../../lib/core/audit';
import { ProviderError } from '../../../lib/core/errors';
import { FileStateStore } from '../../../lib/core/file-store';
import { GuardrailPolicy, type GuardrailPolicySpec } from '../../../lib/core/guardrails';
import type { AuditRecord, StateStore } from '../../../lib/core/types';
import { LEASES_NS, LeaseManager, leaseKey, OFFENCES_NS, UNDO_NS, type Lease, type LeaseManagerOptions } from '../../../lib/firewall/leases';
import type { BlockTarget } from '../../../lib/firewall/types';
import { FakeTimers, providerDown, RecordingProvider } from '../../fixtures/crash/lease-test-kit';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const A = '203.0.113.7';
const B = '203.0.113.8';
const C = '198.18.0.9';

/** A StateStore that delegates to another: a second "client" of the same store, or one that can be made to fail. */
function delegatingStore(inner: StateStore, failSet?: (ns: string) => Error | undefined): StateStore {
  return {
    get: (ns, key) => inner.get(ns, key),
    set: (ns, key, value, opts) => {
      const error = failSet?.(ns);
      return error ? Promise.reject(error) : inner.set(ns, key, value, opts);
    },
    setIfAbsent: (ns, key, value, opts) => inner.setIfAbsent(ns, key, value, opts),
    delete: (ns, key) => inner.delete(ns, key),
    list: (ns) => inner.list(ns),
    close: () => inner.close(),
  };
}

describe('LeaseManager', function () {
  this.timeout(20_000);
  let dir: string;
  let timers: FakeTimers;
  let store: FileStateStore;
  let audit: AuditLog;
  let provider: RecordingProvider;
  let policy: GuardrailPolicy;
  let simulate: boolean;
  let warnings: string[];
  let managers: LeaseManager[];

  const auditFile = () => path.join(dir, 'audit.jsonl');

  async function openStorage(): Promise<void> {
    store = await FileStateStore.open(path.join(dir, 'state'), { fsync: false, now: timers.now, sweepIntervalMs: 0, compactIntervalMs: 0 });
    audit = await AuditLog.open(auditFile(), { fsync: false, now: () => new Date(timers.now()) });
  }

  async function closeStorage(): Promise<void> {
    for (const manager of managers.splice(0)) await manager.stop();
    await audit.close();
    await store.close();
  }

  function makePolicy(spec: GuardrailPolicySpec = {}): GuardrailPolicy {
    return new GuardrailPolicy({ includeOwnAddresses: false, ...spec }, { now: timers.now });
  }

  function manager(extra: Partial<LeaseManagerOptions> = {}): LeaseManager {
    const created = new LeaseManager({
      store,
      audit,
      guardrails: () => policy,
      simulate: () => simulate,
      providers: new Map([['fw', provider]]),
      now: timers.now,
      setTimer: timers.setTimer,
      clearTimer: timers.clearTimer,
      warn: (message) => warnings.push(message),
      ...extra,
    });
    managers.push(created);
    return created;
  }

  async function started(extra: Partial<LeaseManagerOptions> = {}): Promise<LeaseManager> {
    const created = manager(extra);
    await created.start();
    return created;
  }

  /** Advance the fake clock, letting every expiry pass the timers start finish. */
  async function advance(ms: number, ...waitFor: LeaseManager[]): Promise<void> {
    const all = waitFor.length > 0 ? waitFor : managers;
    await timers.advance(ms, async () => {
      for (const m of all) await m.idle();
    });
  }

  async function records(type?: string): Promise<AuditRecord[]> {
    const found: AuditRecord[] = [];
    for await (const record of readAudit(auditFile(), type ? { types: [type] } : {})) found.push(record);
    return found;
  }

  function unblocked(): string[][] {
    return provider.callsOf('unblock').map((call) => call.addresses);
  }

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-leases-'));
    timers = new FakeTimers();
    provider = new RecordingProvider('fw');
    simulate = false;
    warnings = [];
    managers = [];
    policy = makePolicy();
    await openStorage();
  });

  afterEach(async () => {
    await closeStorage();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('block', () => {
    it('calls the provider first, writes the lease only after it succeeded, then audits action.done', async () => {
      let leaseDuringProviderCall: unknown = 'not called';
      const inspecting = new RecordingProvider('fw');
      const originalBlock = inspecting.block.bind(inspecting);
      inspecting.block = async (targets: BlockTarget[]) => {
        leaseDuringProviderCall = await store.get(LEASES_NS, leaseKey('fw', A));
        return originalBlock(targets);
      };
      provider = inspecting;
      const m = await started();
      const t0 = timers.now();
      const outcome = await m.block({
        target: A,
        provider: 'fw',
        ttlSeconds: 3600,
        reason: 'ssh brute force',
        alertId: 'al-1',
        approvalId: 'ap-9',
        by: 'flow:playbook',
      });

      assert.equal(outcome.status, 'blocked');
      assert.ok(outcome.status === 'blocked');
      const lease = outcome.lease;
      assert.equal(leaseDuringProviderCall, undefined, 'no lease may exist before the provider blocked');
      assert.equal(lease.kind, 'block');
      assert.equal(lease.target, A);
      assert.equal(lease.provider, 'fw');
      assert.equal(lease.createdAt, new Date(t0).toISOString());
      assert.equal(lease.expiresAt, new Date(t0 + 3600_000).toISOString());
      assert.equal(lease.reason, 'ssh brute force');
      assert.equal(lease.alertId, 'al-1');
      assert.equal(lease.approvalId, 'ap-9');
      assert.equal(lease.by, 'flow:playbook');
      assert.equal(lease.ttlSeconds, 3600);
      assert.equal(lease.offences, 1);
      assert.equal(lease.status, 'active');
      assert.deepEqual(provider.callsOf('block'), [{ method: 'block', targets: [{ address: A, ttlSeconds: 3600, comment: `soar lease ${lease.id}` }] }]);

      const done = await records('action.done');
      assert.equal(done.length, 1);
      assert.equal(done[0].kind, 'block');
      assert.equal(done[0].target, A);
      assert.equal(done[0].provider, 'fw');
      assert.equal(done[0].extended, false);
      assert.deepEqual(done[0].lease, lease);

      // Durable: a reopened store has the same lease.
      await closeStorage();
      await openStorage();
      assert.deepEqual(await store.get(LEASES_NS, leaseKey('fw', A)), lease);
      assert.equal((await verifyAudit(auditFile())).ok, true);
    });

    it('leases the canonical form of the address', async () => {
      const m = await started();
      const v6 = await m.block({ target: '2001:DB8:0:0::1', provider: 'fw', ttlSeconds: 60 });
      const mapped = await m.block({ target: '::ffff:203.0.113.9', provider: 'fw', ttlSeconds: 60 });
      assert.ok(v6.status === 'blocked' && mapped.status === 'blocked');
      assert.equal(v6.lease.target, '2001:db8::1');
      assert.equal(mapped.lease.target, '203.0.113.9');
      assert.equal((await m.lookup('2001:db8::0001', 'fw'))?.id, v6.lease.id);
      const again = await m.block({ target: '2001:db8::1', provider: 'fw', ttlSeconds: 60 });
      assert.equal(again.status, 'extended');
      assert.equal((await m.list()).length, 2);
    });

    it('refuses a protected address before the provider or the hourly cap is touched, and audits action.refused', async () => {
      const m = await started();
      const outcome = await m.block({ target: '10.1.2.3', provider: 'fw', ttlSeconds: 3600, alertId: 'al-2' });
      assert.equal(outcome.status, 'refused');
      assert.ok(outcome.status === 'refused');
      assert.match(outcome.reason, /10\.1\.2\.3 is in protected 10\.0\.0\.0\/8/);
      assert.deepEqual(provider.calls, []);
      assert.deepEqual(await m.list(), []);
      assert.deepEqual((policy.describe() as { actionsLastHour: Record<string, number> }).actionsLastHour, {});
      const refused = await records('action.refused');
      assert.equal(refused.length, 1);
      assert.equal(refused[0].target, '10.1.2.3');
      assert.equal(refused[0].provider, 'fw');
      assert.equal(refused[0].reason, outcome.reason);
      assert.deepEqual(refused[0].request, { alertId: 'al-2' });
    });

    it('applies the hourly cap per provider to new leases only', async () => {
      policy = makePolicy({ maxActionsPerHour: 2 });
      const second = new RecordingProvider('fw2');
      const m = await started({
        providers: new Map([
          ['fw', provider],
          ['fw2', second],
        ]),
        repeat: { factor: 1 },
      });
      assert.equal((await m.block({ target: A, provider: 'fw', ttlSeconds: 7200 })).status, 'blocked');
      assert.equal((await m.block({ target: B, provider: 'fw', ttlSeconds: 7200 })).status, 'blocked');
      const capped = await m.block({ target: C, provider: 'fw', ttlSeconds: 7200 });
      assert.equal(capped.status, 'refused');
      assert.ok(capped.status === 'refused');
      assert.match(capped.reason, /cap of 2 actions per hour for provider "fw"/);
      assert.equal(provider.callsOf('block').length, 2, 'the refused block never reached the provider');
      assert.equal((await records('action.refused')).length, 1);

      // Extending an existing lease blocks nothing new: no slot needed. Another provider has its own cap.
      assert.equal((await m.block({ target: A, provider: 'fw', ttlSeconds: 7200 })).status, 'extended');
      assert.equal((await m.block({ target: C, provider: 'fw2', ttlSeconds: 7200 })).status, 'blocked');
      await advance(HOUR);
      assert.equal((await m.block({ target: C, provider: 'fw', ttlSeconds: 7200 })).status, 'blocked');
    });

    it('refuses a missing or invalid TTL instead of inventing permanence', async () => {
      const m = await started();
      for (const ttlSeconds of [undefined, 0, -5, Number.NaN, 'soon' as unknown as number]) {
        const outcome = await m.block({ target: A, provider: 'fw', ttlSeconds });
        assert.equal(outcome.status, 'refused', `ttl ${String(ttlSeconds)}`);
      }
      const missing = await m.block({ target: A, provider: 'fw' });
      assert.ok(missing.status === 'refused');
      assert.match(missing.reason, /no TTL given/);
      assert.deepEqual(provider.calls, []);
      assert.deepEqual(await m.list(), []);
      assert.equal((await records('action.refused')).length, 6);
    });

    it('makes a permanent lease only when asked, and never expires it', async () => {
      const m = await started();
      const outcome = await m.block({ target: A, provider: 'fw', ttlSeconds: 'permanent' });
      assert.ok(outcome.status === 'blocked');
      assert.equal(outcome.lease.expiresAt, null);
      assert.deepEqual(provider.callsOf('block')[0].targets, [{ address: A, ttlSeconds: undefined, comment: `soar lease ${outcome.lease.id}` }]);
      assert.deepEqual(timers.armed, [], 'nothing to schedule');
      await advance(400 * DAY);
      assert.deepEqual(unblocked(), []);
      assert.equal((await m.list()).length, 1);
    });

    it('fails with NOT_FOUND for a provider that is not configured', async () => {
      const m = await started();
      const outcome = await m.block({ target: A, provider: 'nope', ttlSeconds: 60 });
      assert.deepEqual(outcome, { status: 'failed', reason: 'no firewall provider named "nope" is configured', code: 'NOT_FOUND' });
      assert.equal((await records('action.failed')).length, 1);
    });

    it('in simulation touches nothing, stores no lease, and audits what would have happened', async () => {
      simulate = true;
      const m = await started();
      const outcome = await m.block({ target: A, provider: 'fw', ttlSeconds: 600, reason: 'test' });
      assert.equal(outcome.status, 'simulated');
      assert.ok(outcome.status === 'simulated');
      assert.equal(outcome.lease.simulated, true);
      assert.equal(outcome.lease.expiresAt, new Date(timers.now() + 600_000).toISOString());
      assert.deepEqual(provider.calls, []);
      assert.deepEqual(await m.list(), []);
      assert.equal(await m.offences(A, 'fw'), undefined);
      assert.deepEqual(timers.armed, []);
      const simulated = await records('action.simulated');
      assert.equal(simulated.length, 1);
      assert.equal(simulated[0].wouldHave, 'blocked');
      assert.deepEqual(simulated[0].lease, outcome.lease);
      // The cap is taken in simulation too (documented), so a dry run shows the refusals a real run gets.
      assert.deepEqual((policy.describe() as { actionsLastHour: Record<string, number> }).actionsLastHour, { fw: 1 });

      // A simulated repeat on a real lease: says "extended", shows the escalated TTL, changes nothing.
      simulate = false;
      const real = await m.block({ target: B, provider: 'fw', ttlSeconds: 600 });
      assert.ok(real.status === 'blocked');
      simulate = true;
      const wouldExtend = await m.block({ target: B, provider: 'fw', ttlSeconds: 600 });
      assert.ok(wouldExtend.status === 'simulated');
      assert.equal(wouldExtend.lease.ttlSeconds, 1200);
      assert.equal(wouldExtend.lease.id, real.lease.id);
      assert.equal((await records('action.simulated'))[1].wouldHave, 'extended');
      assert.deepEqual(await m.lookup(B, 'fw'), real.lease);
      assert.equal(provider.callsOf('block').length, 1);
    });

    it('reports a provider failure with a redacted reason, writes no lease, and audits action.failed', async () => {
      provider.failWith = (call) =>
        call.method === 'block'
          ? new ProviderError({ provider: 'opnsense', code: 'AUTH', message: '401 from https://admin:hunter2@fw.test/api?apikey=SECRETKEY with tok3n' })
          : undefined;
      const m = await started({ secrets: () => ['tok3n'] });
      const outcome = await m.block({ target: A, provider: 'fw', ttlSeconds: 60 });
      assert.equal(outcome.status, 'failed');
      assert.ok(outcome.status === 'failed');
      assert.equal(outcome.code, 'AUTH');
      assert.match(outcome.reason, /^401 from https:\/\/\[REDACTED\]@fw\.test\/api\?apikey=\[REDACTED\] with \[REDACTED\]$/);
      assert.deepEqual(await m.list(), []);
      const failed = await records('action.failed');
      assert.equal(failed.length, 1);
      assert.equal(failed[0].reason, outcome.reason);
      assert.equal(failed[0].code, 'AUTH');
      const text = fs.readFileSync(auditFile(), 'utf8');
      for (const secret of ['hunter2', 'SECRETKEY', 'tok3n']) assert.ok(!text.includes(secret), `${secret} leaked into the audit log`);
    });

    it('rolls the block back when the lease cannot be written', async () => {
      const failing = delegatingStore(store, (ns) => (ns === LEASES_NS ? new Error('disk full') : undefined));
      const m = await started({ store: failing });
      const outcome = await m.block({ target: A, provider: 'fw', ttlSeconds: 60 });
      assert.equal(outcome.status, 'failed');
      assert.ok(outcome.status === 'failed');
      assert.equal(outcome.code, 'STORE');
      assert.match(outcome.reason, /disk full.*rolled back/);
      assert.deepEqual(
        provider.calls.map((c) => c.method),
        ['block', 'unblock'],
      );
      assert.equal(provider.enforced.size, 0);
      assert.equal((await records('action.failed')).length, 1);
      assert.equal((await records('action.done')).length, 0);
    });
  });

  describe('extension and repeat offenders', () => {
    it('extends an existing lease (same id, later end, provider re-blocked) instead of adding one', async () => {
      const m = await started({ repeat: { factor: 1 } });
      const t0 = timers.now();
      const first = await m.block({ target: A, provider: 'fw', ttlSeconds: 3600, reason: 'first' });
      assert.ok(first.status === 'blocked');
      await advance(10 * 60_000);
      // A shorter request never shortens the lease; the provider gets the remaining time.
      const shorter = await m.block({ target: A, provider: 'fw', ttlSeconds: 600, reason: 'second' });
      assert.equal(shorter.status, 'extended');
      assert.ok(shorter.status === 'extended');
      assert.equal(shorter.lease.id, first.lease.id);
      assert.equal(shorter.lease.expiresAt, new Date(t0 + 3600_000).toISOString());
      assert.equal(shorter.lease.reason, 'first', 'the lease keeps why it was made; the audit has every request');
      assert.equal(shorter.lease.extensions, 1);
      assert.equal(provider.callsOf('block')[1].targets[0].ttlSeconds, 3000);

      const longer = await m.block({ target: A, provider: 'fw', ttlSeconds: 7200 });
      assert.ok(longer.status === 'extended');
      assert.equal(longer.lease.expiresAt, new Date(timers.now() + 7200_000).toISOString());
      assert.equal(provider.callsOf('block')[2].targets[0].ttlSeconds, 7200);
      assert.equal((await m.list()).length, 1);
      const done = await records('action.done');
      assert.deepEqual(
        done.map((r) => r.extended),
        [false, true, true],
      );
      assert.deepEqual(
        done.map((r) => (r.request as { reason?: string }).reason),
        ['first', 'second', undefined],
      );

      // The timer follows the later end: nothing is lifted at the first lease's original end.
      await advance(t0 + 3600_000 - timers.now());
      assert.deepEqual(unblocked(), []);
      await advance(7200_000);
      assert.deepEqual(unblocked(), [[A]]);
    });

    it('permanent wins over a TTL in both directions', async () => {
      const m = await started({ repeat: { factor: 1 } });
      await m.block({ target: A, provider: 'fw', ttlSeconds: 60 });
      const permanent = await m.block({ target: A, provider: 'fw', ttlSeconds: 'permanent' });
      assert.ok(permanent.status === 'extended');
      assert.equal(permanent.lease.expiresAt, null);
      const ttlAfter = await m.block({ target: A, provider: 'fw', ttlSeconds: 60 });
      assert.ok(ttlAfter.status === 'extended');
      assert.equal(ttlAfter.lease.expiresAt, null);
      await advance(DAY);
      assert.deepEqual(unblocked(), []);
    });

    it('gives exactly one lease to concurrent blocks of the same target', async () => {
      const m = await started();
      const outcomes = await Promise.all([m.block({ target: A, provider: 'fw', ttlSeconds: 60 }), m.block({ target: A, provider: 'fw', ttlSeconds: 60 })]);
      assert.deepEqual(outcomes.map((o) => o.status).sort(), ['blocked', 'extended']);
      assert.equal((await m.list()).length, 1);
    });

    it('escalates the TTL of a target blocked again within the window after its lease ended, up to the cap', async () => {
      const m = await started({ repeat: { windowMs: DAY, factor: 2, maxTtlSeconds: 4 * 3600 } });
      const ttls: (number | 'permanent')[] = [];
      for (let round = 0; round < 4; round++) {
        const outcome = await m.block({ target: A, provider: 'fw', ttlSeconds: 3600 });
        assert.ok(outcome.status === 'blocked', `round ${round}: ${outcome.status}`);
        ttls.push(outcome.lease.ttlSeconds);
        assert.equal(outcome.lease.offences, round + 1);
        assert.equal(outcome.lease.requestedTtlSeconds, 3600);
        assert.equal(provider.callsOf('block')[round].targets[0].ttlSeconds, outcome.lease.ttlSeconds);
        await advance((outcome.lease.ttlSeconds as number) * 1000); // the lease ends
        await advance(20 * HOUR); // well inside the one-day window after the end
      }
      assert.deepEqual(ttls, [3600, 7200, 14400, 14400]);
      assert.equal(unblocked().length, 4);
      // More than a window after the last end: a first offence again.
      await advance(5 * HOUR);
      const fresh = await m.block({ target: A, provider: 'fw', ttlSeconds: 3600 });
      assert.ok(fresh.status === 'blocked');
      assert.equal(fresh.lease.ttlSeconds, 3600);
      assert.equal(fresh.lease.offences, 1);
    });

    it('counts a repeat while the lease is active, per provider, and never cuts below the requested TTL', async () => {
      const second = new RecordingProvider('fw2');
      const m = await started({
        providers: new Map([
          ['fw', provider],
          ['fw2', second],
        ]),
        repeat: { maxTtlSeconds: 1800 },
      });
      await m.block({ target: A, provider: 'fw', ttlSeconds: 3600 });
      await advance(60_000);
      const again = await m.block({ target: A, provider: 'fw', ttlSeconds: 3600 });
      assert.ok(again.status === 'extended');
      assert.equal(again.lease.offences, 2);
      assert.equal(again.lease.ttlSeconds, 3600, 'the cap limits escalation, it never shortens what was asked');
      const elsewhere = await m.block({ target: A, provider: 'fw2', ttlSeconds: 600 });
      assert.ok(elsewhere.status === 'blocked');
      assert.equal(elsewhere.lease.offences, 1, 'history is per provider');
    });

    it("escalates an active lease's repeat and extends its end accordingly", async () => {
      const m = await started();
      await m.block({ target: A, provider: 'fw', ttlSeconds: 3600 });
      await advance(60_000);
      const again = await m.block({ target: A, provider: 'fw', ttlSeconds: 3600 });
      assert.ok(again.status === 'extended');
      assert.equal(again.lease.ttlSeconds, 7200);
      assert.equal(again.lease.expiresAt, new Date(timers.now() + 7200_000).toISOString());
    });

    it('keeps the offence history across a restart', async () => {
      let m = await started({ repeat: { windowMs: DAY } });
      await m.block({ target: A, provider: 'fw', ttlSeconds: 600 });
      await advance(600_000);
      await m.block({ target: A, provider: 'fw', ttlSeconds: 600 });
      await advance(1200_000);
      assert.equal(unblocked().length, 2);
      const history = await m.offences(A, 'fw');
      assert.equal(history?.count, 2);
      assert.deepEqual(
        (await store.list(OFFENCES_NS)).map((e) => e.expiresAt),
        [timers.now() + DAY],
        "the window counts from the lease's end",
      );

      await closeStorage();
      await openStorage();
      m = await started({ repeat: { windowMs: DAY } });
      await advance(HOUR);
      const third = await m.block({ target: A, provider: 'fw', ttlSeconds: 600 });
      assert.ok(third.status === 'blocked');
      assert.equal(third.lease.offences, 3);
      assert.equal(third.lease.ttlSeconds, 2400);
    });
  });

  describe('expiry', () => {
    it('arms one timer for the earliest end, re-arms on changes, and undoes each lease at its end', async () => {
      const m = await started();
      const t0 = timers.now();
      await m.block({ target: A, provider: 'fw', ttlSeconds: 300 });
      assert.deepEqual(timers.armed, [t0 + 300_000]);
      await m.block({ target: B, provider: 'fw', ttlSeconds: 100 });
      assert.deepEqual(timers.armed, [t0 + 100_000], 're-armed for the earlier end, still one timer');
      await m.block({ target: C, provider: 'fw', ttlSeconds: 200 });
      assert.deepEqual(timers.armed, [t0 + 100_000]);
      assert.equal(m.nextWakeAt, t0 + 100_000);

      await advance(100_000);
      assert.deepEqual(unblocked(), [[B]]);
      assert.deepEqual(
        (await m.list()).map((l) => l.target),
        [C, A],
      );
      assert.deepEqual(timers.armed, [t0 + 200_000]);
      const expired = await records('lease.expired');
      assert.equal(expired.length, 1);
      assert.equal(expired[0].target, B);
      assert.equal(expired[0].provider, 'fw');
      assert.equal(expired[0].overdueSeconds, 0);
      assert.equal((expired[0].lease as Lease).target, B);

      await advance(200_000);
      assert.deepEqual(unblocked(), [[B], [C], [A]]);
      assert.deepEqual(await m.list(), []);
      assert.deepEqual(timers.armed, [], 'no timer once nothing can expire');
      assert.equal(provider.enforced.size, 0);
    });

    it('lifts leases that end together in one provider call', async () => {
      const m = await started();
      const targets = ['198.18.1.1', '198.18.1.2', '198.18.1.3', '198.18.1.4', '198.18.1.5'];
      for (const target of targets) await m.block({ target, provider: 'fw', ttlSeconds: 60 });
      assert.equal(timers.armed.length, 1);
      await advance(60_000);
      assert.deepEqual(unblocked(), [targets]);
      assert.equal((await records('lease.expired')).length, 5);
    });

    it('retries one by one when the provider rejects a batch for one bad entry', async () => {
      const m = await started();
      const targets = ['198.18.2.1', '198.18.2.2', '198.18.2.3'];
      for (const target of targets) await m.block({ target, provider: 'fw', ttlSeconds: 60 });
      provider.failWith = (call) =>
        call.method === 'unblock' && call.addresses.includes('198.18.2.2')
          ? new ProviderError({ provider: 'recording', code: 'BAD_REQUEST', message: 'element 198.18.2.2 rejected' })
          : undefined;
      await advance(60_000);
      assert.deepEqual(unblocked(), [targets, ['198.18.2.1'], ['198.18.2.2'], ['198.18.2.3']]);
      const left = await m.list();
      assert.deepEqual(
        left.map((l) => [l.target, l.status]),
        [['198.18.2.2', 'expiring-failed']],
      );
    });

    it('keeps a lease whose undo fails listed as expiring-failed and retries it with backoff until it works', async () => {
      const m = await started({ expiryRetry: { baseMs: 5_000, maxMs: 60_000 } });
      const blocked = await m.block({ target: A, provider: 'fw', ttlSeconds: 60 });
      assert.ok(blocked.status === 'blocked');
      provider.failWith = (call) => (call.method === 'unblock' ? providerDown('connect ECONNREFUSED 127.0.0.1:9') : undefined);

      await advance(60_000);
      let [lease] = await m.list();
      assert.equal(lease.id, blocked.lease.id);
      assert.equal(lease.status, 'expiring-failed');
      assert.equal(lease.lastError, 'connect ECONNREFUSED 127.0.0.1:9');
      assert.equal(lease.attempts, 1);
      assert.equal(lease.retryAt, new Date(timers.now() + 5_000).toISOString());
      assert.deepEqual(timers.armed, [timers.now() + 5_000]);

      await advance(5_000);
      [lease] = await m.list();
      assert.equal(lease.attempts, 2);
      assert.equal(lease.retryAt, new Date(timers.now() + 10_000).toISOString());
      const failures = await records('lease.expiry-failed');
      assert.deepEqual(
        failures.map((r) => [r.attempts, r.code]),
        [
          [1, 'NETWORK'],
          [2, 'NETWORK'],
        ],
      );
      assert.equal((await records('lease.expired')).length, 0);

      provider.failWith = undefined;
      await advance(10_000);
      assert.deepEqual(await m.list(), []);
      assert.equal(unblocked().length, 3);
      const expired = await records('lease.expired');
      assert.equal(expired.length, 1);
      assert.equal(expired[0].overdueSeconds, 15);
      assert.deepEqual(await store.list(UNDO_NS), []);
      assert.deepEqual(warnings, []);
    });

    it('a new block on a lease whose undo is failing makes it active again', async () => {
      const m = await started({ repeat: { factor: 1 } });
      await m.block({ target: A, provider: 'fw', ttlSeconds: 60 });
      provider.failWith = (call) => (call.method === 'unblock' ? providerDown() : undefined);
      await advance(60_000);
      assert.equal((await m.lookup(A, 'fw'))?.status, 'expiring-failed');
      const again = await m.block({ target: A, provider: 'fw', ttlSeconds: 600 });
      assert.ok(again.status === 'extended');
      assert.equal(again.lease.status, 'active');
      assert.equal(again.lease.lastError, undefined);
      assert.equal(again.lease.retryAt, undefined);
      assert.equal(again.lease.expiresAt, new Date(timers.now() + 600_000).toISOString());
      await advance(60_000);
      assert.equal(unblocked().length, 1, 'no retry of the superseded undo');
    });

    it('start() undoes leases that fell due while no manager ran, at once', async () => {
      const first = await started();
      await first.block({ target: A, provider: 'fw', ttlSeconds: 60 });
      await first.block({ target: B, provider: 'fw', ttlSeconds: 3600 });
      await closeStorage(); // the process goes away before the lease ends
      await timers.advance(10 * 60_000, async () => undefined);
      assert.deepEqual(timers.armed, []);

      await openStorage();
      const second = manager();
      assert.deepEqual(unblocked(), [], 'nothing before start()');
      await second.start();
      assert.deepEqual(unblocked(), [[A]]);
      assert.deepEqual(
        (await second.list()).map((l) => l.target),
        [B],
      );
      const [expired] = await records('lease.expired');
      assert.equal(expired.target, A);
      assert.equal(expired.overdueSeconds, 540);
      assert.deepEqual(timers.armed, [Date.parse((await second.lookup(B, 'fw'))!.expiresAt!)]);
    });

    it('start() retries a failing undo at once instead of waiting for its backoff', async () => {
      const first = await started({ expiryRetry: { baseMs: HOUR } });
      await first.block({ target: A, provider: 'fw', ttlSeconds: 60 });
      provider.failWith = (call) => (call.method === 'unblock' ? providerDown() : undefined);
      await advance(60_000);
      assert.equal((await first.lookup(A, 'fw'))?.status, 'expiring-failed');
      await first.stop();
      provider.failWith = undefined;
      const second = await started();
      assert.deepEqual(unblocked(), [[A], [A]]);
      assert.deepEqual(await second.list(), []);
    });

    it('two managers on one store undo an overdue lease once', async () => {
      const first = await started();
      await first.block({ target: A, provider: 'fw', ttlSeconds: 60 });
      await first.stop();
      await timers.advance(120_000, async () => undefined);
      const one = manager();
      const two = manager();
      await Promise.all([one.start(), two.start()]);
      assert.deepEqual(unblocked(), [[A]]);
      assert.equal((await records('lease.expired')).length, 1);
    });

    it('the delete gate alone keeps the undo single when two managers do not share a lock (separate store clients)', async () => {
      const first = await started();
      await first.block({ target: A, provider: 'fw', ttlSeconds: 60 });
      await first.block({ target: B, provider: 'fw', ttlSeconds: 60 });
      await first.stop();
      await timers.advance(120_000, async () => undefined);
      // Each manager gets its own StateStore object over the same data: no shared in-process lock.
      const one = manager({ store: delegatingStore(store) });
      const two = manager({ store: delegatingStore(store) });
      await Promise.all([one.start(), two.start()]);
      const lifted = unblocked().flat().sort();
      assert.deepEqual(lifted, [A, B]);
      assert.equal((await records('lease.expired')).length, 2);
      assert.deepEqual(await store.list(UNDO_NS), [], 'no undo intent left behind');
      assert.deepEqual(await store.list(LEASES_NS), []);
    });

    it('start() finishes an undo that a crash interrupted after the lease was claimed', async () => {
      const first = await started();
      const outcome = await first.block({ target: A, provider: 'fw', ttlSeconds: 60 });
      const other = await first.block({ target: B, provider: 'fw', ttlSeconds: 3600 });
      assert.ok(outcome.status === 'blocked' && other.status === 'blocked');
      await first.stop();
      await timers.advance(120_000, async () => undefined);
      // What a kill -9 between the claim and the provider call leaves: the intent, no lease.
      const key = leaseKey('fw', A);
      await store.set(UNDO_NS, key, { lease: outcome.lease, token: 'dead-process', why: 'expired', claimedAt: new Date(timers.now()).toISOString() });
      await store.delete(LEASES_NS, key);
      // And a crash between writing the intent and the delete: intent and lease both there.
      await store.set(UNDO_NS, leaseKey('fw', B), {
        lease: other.lease,
        token: 'dead-process',
        why: 'expired',
        claimedAt: new Date(timers.now()).toISOString(),
      });

      const second = await started();
      assert.deepEqual(unblocked(), [[A]]);
      const [expired] = await records('lease.expired');
      assert.equal(expired.target, A);
      assert.equal(expired.recovered, true);
      assert.deepEqual(await store.list(UNDO_NS), []);
      assert.deepEqual(
        (await second.list()).map((l) => l.target),
        [B],
        'the lease that was never claimed stays',
      );
    });

    it('caps the timer at an hour so a far expiry is re-checked', async () => {
      const m = await started();
      const t0 = timers.now();
      await m.block({ target: A, provider: 'fw', ttlSeconds: 10 * 24 * 3600 });
      assert.deepEqual(timers.armed, [t0 + HOUR]);
      await advance(HOUR);
      assert.deepEqual(timers.armed, [t0 + 2 * HOUR]);
      assert.deepEqual(unblocked(), []);
      await advance(10 * DAY);
      assert.deepEqual(unblocked(), [[A]]);
    });

    it('an undo whose provider is no longer configured stays listed and retried', async () => {
      const providers = new Map([['fw', provider]]);
      const m = await started({ providers });
      await m.block({ target: A, provider: 'fw', ttlSeconds: 60 });
      providers.delete('fw');
      await advance(60_000);
      const [lease] = await m.list();
      assert.equal(lease.status, 'expiring-failed');
      assert.match(lease.lastError!, /no firewall provider named "fw"/);
      providers.set('fw', provider);
      await advance(10_000);
      assert.deepEqual(await m.list(), []);
    });

    it('stop() disarms the timer and refuses new work', async () => {
      const m = await started();
      await m.block({ target: A, provider: 'fw', ttlSeconds: 60 });
      await m.stop();
      assert.deepEqual(timers.armed, []);
      assert.deepEqual(await m.block({ target: B, provider: 'fw', ttlSeconds: 60 }), {
        status: 'failed',
        reason: 'the lease manager is stopped',
        code: 'CANCELLED',
      });
      await advance(120_000);
      assert.deepEqual(unblocked(), []);
    });
  });

  describe('unblock by request', () => {
    it('unblocks, deletes the lease, audits action.done and disarms its expiry', async () => {
      const m = await started();
      const blocked = await m.block({ target: A, provider: 'fw', ttlSeconds: 600 });
      assert.ok(blocked.status === 'blocked');
      const outcome = await m.unblock(A, 'fw', { by: 'alice', reason: 'false positive' });
      assert.deepEqual(outcome, { status: 'released', lease: blocked.lease });
      assert.deepEqual(unblocked(), [[A]]);
      assert.deepEqual(await m.list(), []);
      assert.deepEqual(timers.armed, []);
      const done = await records('action.done');
      assert.equal(done[1].kind, 'unblock');
      assert.equal(done[1].target, A);
      assert.deepEqual(done[1].request, { by: 'alice', reason: 'false positive' });
      assert.deepEqual(done[1].lease, blocked.lease);
      assert.equal((await m.offences(A, 'fw'))?.count, 1, 'history kept by default');
      await advance(HOUR);
      assert.equal(unblocked().length, 1, 'nothing left to expire');
    });

    it('forgetOffences drops the repeat-offender history', async () => {
      const m = await started();
      await m.block({ target: A, provider: 'fw', ttlSeconds: 600 });
      await m.unblock(A, 'fw', { forgetOffences: true });
      assert.equal(await m.offences(A, 'fw'), undefined);
      const again = await m.block({ target: A, provider: 'fw', ttlSeconds: 600 });
      assert.ok(again.status === 'blocked');
      assert.equal(again.lease.ttlSeconds, 600);
    });

    it('releases an address the provider holds without a lease, and reports not-found for one it does not', async () => {
      const m = await started();
      await provider.block([{ address: B }]); // blocked by hand, no lease
      provider.calls.length = 0;
      assert.deepEqual(await m.unblock(B, 'fw'), { status: 'released' });
      assert.deepEqual(
        provider.calls.map((c) => c.method),
        ['list', 'unblock'],
      );
      const done = await records('action.done');
      assert.equal(done[0].leaseFound, false);

      provider.calls.length = 0;
      assert.deepEqual(await m.unblock(C, 'fw'), { status: 'not-found' });
      assert.deepEqual(
        provider.calls.map((c) => c.method),
        ['list'],
        'no provider write for an unknown address',
      );
    });

    it('keeps the lease when the provider fails to unblock', async () => {
      const m = await started();
      const blocked = await m.block({ target: A, provider: 'fw', ttlSeconds: 600 });
      provider.failWith = (call) => (call.method === 'unblock' ? providerDown() : undefined);
      const outcome = await m.unblock(A, 'fw', { by: 'bob' });
      assert.equal(outcome.status, 'failed');
      assert.ok(outcome.status === 'failed');
      assert.equal(outcome.code, 'NETWORK');
      assert.ok(blocked.status === 'blocked');
      assert.deepEqual(await m.list(), [blocked.lease]);
      assert.deepEqual(await store.list(UNDO_NS), []);
      assert.equal((await records('action.failed'))[0].kind, 'unblock');
      provider.failWith = undefined;
      await advance(600_000);
      assert.deepEqual(await m.list(), [], 'its expiry still runs');
    });

    it('in simulation touches nothing', async () => {
      const m = await started();
      const blocked = await m.block({ target: A, provider: 'fw', ttlSeconds: 600 });
      assert.ok(blocked.status === 'blocked');
      simulate = true;
      provider.calls.length = 0;
      assert.deepEqual(await m.unblock(A, 'fw'), { status: 'simulated', lease: blocked.lease });
      assert.deepEqual(await m.unblock(B, 'fw'), { status: 'simulated' });
      assert.deepEqual(provider.calls, []);
      assert.equal((await m.list()).length, 1);
      assert.equal((await records('action.simulated')).length, 2);
    });

    it('rejects an address that does not parse', async () => {
      const m = await started();
      const outcome = await m.unblock('not-an-ip', 'fw');
      assert.equal(outcome.status, 'failed');
      assert.ok(outcome.status === 'failed');
      assert.equal(outcome.code, 'BAD_REQUEST');
      assert.deepEqual(provider.calls, []);
    });
  });
});
