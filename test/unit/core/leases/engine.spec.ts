/**
 * The family-neutral lease engine with a scripted family: when a lease ends, what a failing undo
 * leaves (the lease, its backoff, its audit trail), how a batch that falls due together is undone,
 * what recovery finishes after a crash, and what reconciliation reports.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { AuditLog, readAudit } from '../../../../lib/core/audit';
import { ProviderError, type ProviderErrorCode } from '../../../../lib/core/errors';
import { FileStateStore } from '../../../../lib/core/file-store';
import { compareByKey, hasDrift, leaseHasEnded, LeaseEngine, type LeaseEngineOptions, type LeaseFamily, type LeaseRecord } from '../../../../lib/core/leases';
import type { AuditRecord } from '../../../../lib/core/types';
import { FakeTimers } from '../../../fixtures/crash/lease-test-kit';

const HOUR = 3_600_000;
type HostLease = LeaseRecord<string>;

/** A family whose provider holds a set of names; undo can be made to fail per provider and batch. */
class HostFamily implements LeaseFamily<HostLease, string> {
  readonly kind: string;
  readonly undoAction = 'unhost';
  readonly held = new Map<string, Set<string>>();
  readonly undoCalls: string[][] = [];
  readonly down = new Set<string>();
  fail?: (provider: string, targets: string[]) => Error | undefined;
  refuse?: (lease: HostLease) => string | undefined;
  /** The family's own history after an undo (the block family keeps offence counts there). */
  onEnded?: (key: string, lease: HostLease, now: number, forget: boolean) => Promise<void>;
  constructor(kind = 'host') {
    this.kind = kind;
  }
  on(provider: string): Set<string> {
    let set = this.held.get(provider);
    if (!set) this.held.set(provider, (set = new Set()));
    return set;
  }
  targetKey(target: string): string {
    return target;
  }
  unavailable(provider: string): string | undefined {
    return this.down.has(provider) ? `provider ${provider} is not deployed` : undefined;
  }
  labelOf(provider: string): string {
    return `Label ${provider}`;
  }
  async undo(provider: string, leases: HostLease[]): Promise<void> {
    const targets = leases.map((lease) => lease.target);
    this.undoCalls.push(targets);
    const error = this.fail?.(provider, targets);
    if (error) throw error;
    for (const target of targets) this.on(provider).delete(target);
  }
  async reapply(provider: string, leases: HostLease[]): Promise<void> {
    for (const lease of leases) this.on(provider).add(lease.target);
  }
  async listEnforced(provider: string): Promise<string[]> {
    return [...this.on(provider)];
  }
  enforcedKey(item: string): string {
    return item;
  }
  refuseReapply(lease: HostLease): string | undefined {
    return this.refuse?.(lease);
  }
}

function providerError(code: ProviderErrorCode, message = `${code} from the provider`): ProviderError {
  return new ProviderError({ provider: 'fake', code, message, attempts: 1 });
}

describe('lease engine: expiry, failing undos, recovery and reconciliation', function () {
  this.timeout(20_000);
  let dir: string;
  let timers: FakeTimers;
  let store: FileStateStore;
  let audit: AuditLog;
  let engines: LeaseEngine[];
  let family: HostFamily;

  function engine(extra: Partial<LeaseEngineOptions> = {}, families: HostFamily[] = [family]): LeaseEngine {
    const created = new LeaseEngine({
      store,
      audit,
      simulate: () => false,
      now: timers.now,
      setTimer: timers.setTimer,
      clearTimer: timers.clearTimer,
      warn: () => undefined,
      ...extra,
    });
    for (const f of families) created.addFamily(f);
    engines.push(created);
    return created;
  }
  /** What a family's apply does: the provider holds the target, then the lease is written and scheduled. */
  async function put(e: LeaseEngine, provider: string, target: string, ttlMs: number | null, f: HostFamily = family): Promise<HostLease> {
    f.on(provider).add(target);
    const now = e.now();
    const lease: HostLease = {
      id: randomUUID(),
      kind: f.kind,
      target,
      provider,
      createdAt: new Date(now).toISOString(),
      expiresAt: ttlMs === null ? null : new Date(now + ttlMs).toISOString(),
      status: 'active',
    };
    const key = e.keyOf(f, provider, target);
    await e.locked([key], () => e.leases.set(key, lease));
    e.schedule(key, lease);
    return lease;
  }
  async function records(type: string): Promise<AuditRecord[]> {
    const found: AuditRecord[] = [];
    for await (const record of readAudit(path.join(dir, 'audit.jsonl'))) if (record.type === type) found.push(record);
    return found;
  }
  const idle = async () => {
    for (const e of engines) await e.idle();
  };
  const iso = (ms: number) => new Date(ms).toISOString();

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-lease-engine-'));
    timers = new FakeTimers();
    store = await FileStateStore.open(path.join(dir, 'state'), { fsync: false, now: timers.now, sweepIntervalMs: 0, compactIntervalMs: 0 });
    audit = await AuditLog.open(path.join(dir, 'audit.jsonl'), { fsync: false, now: () => new Date(timers.now()) });
    engines = [];
    family = new HostFamily();
  });
  afterEach(async () => {
    for (const e of engines) await e.stop();
    await audit.close();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a failing undo at expiry keeps the lease as expiring-failed, backs off base x 2^(n-1) up to max, audits each try redacted, and undoes once when the provider is back', async () => {
    const e = engine({ expiryRetry: { baseMs: 1_000, maxMs: 3_000 }, secrets: () => ['s3cr3t-token'] });
    await e.start();
    const start = timers.now();
    const end = start + HOUR;
    await put(e, 'p1', 'host-a', HOUR);
    family.fail = () => providerError('NETWORK', 'connect ECONNREFUSED (token s3cr3t-token)');

    await timers.advance(HOUR - 1, idle);
    assert.equal(family.undoCalls.length, 0, 'not before its end');
    const expected: [number, number][] = []; // [attempts, retryAt]
    let at = end;
    for (const [attempt, wait] of [
      [1, 1_000],
      [2, 2_000],
      [3, 3_000],
      [4, 3_000],
    ]) {
      await timers.advance(at - timers.now() - 1, idle);
      assert.equal(family.undoCalls.length, attempt - 1, `attempt ${attempt} not before its retry time`);
      await timers.advance(1, idle);
      assert.equal(family.undoCalls.length, attempt);
      const [lease] = await e.list<HostLease>('host');
      assert.deepEqual(
        [lease.status, lease.attempts, lease.retryAt, lease.expiresAt],
        ['expiring-failed', attempt, iso(at + wait), iso(end)],
        'still listed, still ending when it did',
      );
      assert.ok(!lease.lastError!.includes('s3cr3t-token') && lease.lastError!.includes('ECONNREFUSED'), lease.lastError);
      expected.push([attempt, at + wait]);
      at += wait;
    }
    assert.ok(family.on('p1').has('host-a'), 'still in place while the undo fails');
    const failures = await records('lease.expiry-failed');
    assert.deepEqual(
      failures.map((r) => [r.attempts, r.retryAt, r.code, r.providerLabel, r.target]),
      expected.map(([attempts, retryAt]) => [attempts, iso(retryAt), 'NETWORK', 'Label p1', 'host-a']),
    );
    assert.ok(failures.every((r) => !String(r.reason).includes('s3cr3t-token')));

    family.fail = undefined;
    await timers.advance(at - timers.now(), idle);
    await timers.advance(HOUR, idle);
    assert.equal(family.undoCalls.length, 5, 'undone once more, then never again');
    assert.ok(!family.on('p1').has('host-a'));
    assert.deepEqual(await e.list(), []);
    const expired = await records('lease.expired');
    assert.equal(expired.length, 1);
    assert.deepEqual([expired[0].overdueSeconds, expired[0].providerLabel, expired[0].recovered], [9, 'Label p1', undefined]);
  });

  it('falls back to the default backoff (5 s, at most 10 min) when the configured one is not a positive number', async () => {
    const e = engine({ expiryRetry: { baseMs: -1, maxMs: 0 } });
    await e.start();
    await put(e, 'p1', 'host-a', HOUR);
    family.fail = () => providerError('SERVER');
    await timers.advance(HOUR, idle);
    const [lease] = await e.list<HostLease>('host');
    assert.equal(lease.retryAt, iso(timers.now() + 5_000));
    assert.equal(e.nextWakeAt, timers.now() + 5_000, 'next look at the retry time');
  });

  it('undoes a batch that falls due together in one call; only an error about the request itself is retried lease by lease', async () => {
    const e = engine();
    await e.start();
    for (const provider of ['down', 'bad', 'conflict', 'bug', 'single']) {
      for (const target of provider === 'single' ? ['s'] : ['a', 'b', 'c']) await put(e, provider, target, HOUR);
    }
    const byProvider = new Map<string, string[][]>();
    family.fail = (provider, targets) => {
      byProvider.set(provider, [...(byProvider.get(provider) ?? []), targets]);
      if (provider === 'down') return providerError('NETWORK');
      if (provider === 'bug') return new Error('unexpected answer');
      if (provider === 'single') return providerError('BAD_REQUEST', 'rejected entry s');
      if (targets.includes('b')) return provider === 'bad' ? providerError('BAD_REQUEST', 'rejected entry b') : providerError('CONFLICT', 'entry b is locked');
      return undefined;
    };
    await timers.advance(HOUR, idle);
    assert.deepEqual(byProvider.get('down'), [['a', 'b', 'c']], 'a provider that is down is asked once for the whole batch');
    assert.deepEqual(byProvider.get('bug'), [['a', 'b', 'c']]);
    assert.deepEqual(byProvider.get('bad'), [['a', 'b', 'c'], ['a'], ['b'], ['c']]);
    assert.deepEqual(byProvider.get('conflict'), [['a', 'b', 'c'], ['a'], ['b'], ['c']]);
    assert.deepEqual(byProvider.get('single'), [['s']], 'a lone lease is not asked twice');
    const left = (await e.list<HostLease>('host')).map((l) => `${l.provider}:${l.target}:${l.status}`).sort();
    assert.deepEqual(left, [
      'bad:b:expiring-failed',
      'bug:a:expiring-failed',
      'bug:b:expiring-failed',
      'bug:c:expiring-failed',
      'conflict:b:expiring-failed',
      'down:a:expiring-failed',
      'down:b:expiring-failed',
      'down:c:expiring-failed',
      'single:s:expiring-failed',
    ]);
    const failed = await records('lease.expiry-failed');
    assert.deepEqual(
      failed.filter((r) => r.provider === 'bad').map((r) => [r.target, r.code, r.reason]),
      [['b', 'BAD_REQUEST', 'rejected entry b']],
    );
    assert.deepEqual(
      failed.filter((r) => r.provider === 'conflict').map((r) => [r.target, r.code]),
      [['b', 'CONFLICT']],
    );
    assert.deepEqual((await records('lease.expired')).map((r) => `${r.provider}:${r.target}`).sort(), ['bad:a', 'bad:c', 'conflict:a', 'conflict:c']);
  });

  it('an undo on request that fails (provider gone or erroring) puts the lease back as it was; it still ends at its end', async () => {
    const e = engine();
    await e.start();
    const lease = await put(e, 'p1', 'host-a', 2 * HOUR);
    const key = e.keyOf(family, 'p1', 'host-a');
    family.down.add('p1');
    const gone = await e.locked([key], () => e.undoNow(key, lease, { by: 'analyst', reason: 'cleared' }));
    assert.deepEqual(gone, { status: 'failed', reason: 'provider p1 is not deployed', code: 'NOT_FOUND' });
    assert.equal(family.undoCalls.length, 0, 'no call to a provider that is not there');
    assert.deepEqual(await e.leases.get(key), lease, 'kept exactly as it was');

    family.down.delete('p1');
    family.fail = () => providerError('AUTH', 'token expired');
    const refused = await e.locked([key], () => e.undoNow(key, lease, { by: 'analyst' }));
    assert.deepEqual(refused, { status: 'failed', reason: 'token expired', code: 'AUTH' });
    assert.deepEqual(await e.leases.get(key), lease);
    assert.deepEqual(
      (await records('action.failed')).map((r) => [r.kind, r.target, r.code, r.providerLabel, (r.request as { by?: string }).by]),
      [
        ['unhost', 'host-a', 'NOT_FOUND', 'Label p1', 'analyst'],
        ['unhost', 'host-a', 'AUTH', 'Label p1', 'analyst'],
      ],
    );
    assert.equal(e.nextWakeAt, timers.now() + HOUR, 'its end is still armed (capped at an hour)');

    family.fail = undefined;
    await timers.advance(2 * HOUR, idle);
    assert.deepEqual(family.undoCalls, [['host-a'], ['host-a']]);
    assert.equal((await records('lease.expired')).length, 1);
    const unknown = await e.undoNow('x', { ...lease, kind: 'nothing' }, {});
    assert.deepEqual(unknown, { status: 'failed', reason: 'no lease family "nothing" is loaded', code: 'NOT_FOUND' });
  });

  it('arms one timer for the earliest end, moves it when that lease is extended or removed, and wakes at least hourly', async () => {
    const e = engine();
    await e.start();
    const start = timers.now();
    const a = await put(e, 'p1', 'a', 30 * 60_000);
    await put(e, 'p1', 'b', 45 * 60_000);
    await put(e, 'p1', 'forever', null);
    assert.equal(e.nextWakeAt, start + 30 * 60_000);
    const key = e.keyOf(family, 'p1', 'a');
    const extended = { ...a, expiresAt: iso(start + 50 * 60_000) };
    await e.leases.set(key, extended);
    e.schedule(key, extended);
    assert.equal(e.nextWakeAt, start + 45 * 60_000, 'the extended lease no longer sets the timer');
    e.schedule(e.keyOf(family, 'p1', 'b'), undefined);
    assert.equal(e.nextWakeAt, start + 50 * 60_000);
    const sooner = { ...extended, expiresAt: iso(start + 10 * 60_000) };
    await e.leases.set(key, sooner);
    e.schedule(key, sooner);
    assert.equal(e.nextWakeAt, start + 10 * 60_000);
    await timers.advance(10 * 60_000, idle);
    assert.deepEqual(family.undoCalls, [['a']]);
    await put(e, 'p1', 'late', 5 * HOUR);
    assert.equal(e.nextWakeAt, timers.now() + HOUR, 'never more than an hour ahead');
    await timers.advance(45 * 60_000, idle);
    assert.deepEqual(family.undoCalls, [['a']], 'b was dropped from the schedule, forever has no end');
  });

  it('reconcileEvery refuses a non-positive interval, reports on its interval, and stops when cancelled or when the engine stops', async () => {
    const e = engine();
    await e.start();
    await put(e, 'p1', 'a', null);
    for (const bad of [0, -1, Number.NaN]) assert.throws(() => e.reconcileEvery('host', 'p1', bad, () => undefined), RangeError);
    const results: (string | Error)[] = [];
    const note = (r: unknown) => results.push(r instanceof Error ? r : `missing ${(r as { missing: unknown[] }).missing.length}`);
    const cancel = e.reconcileEvery('host', 'p1', 60_000, note);
    const other = e.reconcileEvery('nothing', 'p1', 60_000, note);
    await timers.advance(59_999, idle);
    assert.equal(results.length, 0, 'not before its interval');
    await timers.advance(1, idle);
    assert.equal(results.length, 2);
    family.on('p1').delete('a');
    await timers.advance(60_000, idle);
    assert.deepEqual(results.slice(2).map(String).sort(), ['Error: no lease family "nothing" is loaded', 'missing 1']);
    cancel();
    other();
    assert.deepEqual(timers.armed, [], 'cancel disarms at once');
    await timers.advance(10 * 60_000, idle);
    assert.equal(results.length, 4, 'nothing after cancel');
    assert.deepEqual(timers.armed, [], 'no reconcile timer left armed');

    let once = 0;
    const stopOnFirst = e.reconcileEvery('host', 'p1', 60_000, () => {
      once++;
      stopOnFirst(); // a handler that has seen enough
    });
    await timers.advance(5 * 60_000, idle);
    assert.equal(once, 1, 'cancelled from its own handler: no further run');

    e.reconcileEvery('host', 'p1', 60_000, note);
    await timers.advance(60_000, idle);
    assert.equal(results.length, 5);
    await e.stop();
    await timers.advance(10 * 60_000, idle);
    assert.equal(results.length, 5, 'nothing after stop');
    await assert.rejects(e.reconcile('nothing', 'p1'), /no lease family "nothing" is loaded/);
  });

  it('after a crash mid-undo, recovery finishes it once, in the process that has the family; others leave it alone', async () => {
    const first = engine();
    await first.start();
    const released = await put(first, 'p1', 'rel', null);
    const expiring = await put(first, 'p1', 'exp', HOUR);
    // What a kill -9 between the claim and the provider call leaves: the intent, no lease.
    for (const [lease, why] of [
      [released, 'released'],
      [expiring, 'expired'],
    ] as const) {
      const key = first.keyOf(family, 'p1', lease.target);
      const request = why === 'released' ? { by: 'analyst', reason: 'false positive' } : {};
      await first.leases.setIntent(key, { lease, token: randomUUID(), why, claimedAt: iso(timers.now()), ...request });
      await first.leases.delete(key, lease);
    }
    await first.stop();
    await timers.advance(2 * HOUR, async () => undefined);

    const stranger = engine({}, [new HostFamily('other')]);
    await stranger.start();
    await stranger.stop();
    assert.equal((await first.leases.listIntents()).length, 2, 'an engine without the family leaves the intents');
    assert.equal(family.undoCalls.length, 0);

    const second = engine();
    await second.start();
    await idle();
    assert.deepEqual(family.undoCalls, [['rel', 'exp']], 'one call per provider for what the crash interrupted');
    assert.deepEqual(family.held.get('p1'), new Set());
    assert.deepEqual(await second.leases.listIntents(), []);
    const done = await records('action.done');
    assert.deepEqual(
      done.map((r) => [r.kind, r.target, r.recovered, r.providerLabel, r.request]),
      [['unhost', 'rel', true, 'Label p1', { by: 'analyst', reason: 'false positive' }]],
      'the recovered release still says who asked for it and why',
    );
    const expired = await records('lease.expired');
    assert.deepEqual(
      expired.map((r) => [r.target, r.recovered, r.overdueSeconds]),
      [['exp', true, 3600]],
    );
  });

  it('a family plugged in after start still gets its overdue leases undone', async () => {
    const first = engine();
    await first.start();
    await put(first, 'p1', 'a', HOUR);
    await first.stop();
    await timers.advance(3 * HOUR, async () => undefined);
    const later = engine({}, []);
    await later.start();
    await idle();
    assert.equal(family.undoCalls.length, 0);
    assert.equal(later.nextWakeAt, undefined, 'nothing scheduled for a family this engine does not have');
    later.addFamily(family);
    await idle();
    assert.deepEqual(family.undoCalls, [['a']]);
    assert.deepEqual(
      (await records('lease.expired')).map((r) => r.overdueSeconds),
      [7200],
    );
  });

  it('a lease extended meanwhile (by another engine on the store) is not undone at its old end', async () => {
    const e = engine();
    await e.start();
    const start = timers.now();
    const lease = await put(e, 'p1', 'a', HOUR);
    await e.leases.set(e.keyOf(family, 'p1', 'a'), { ...lease, expiresAt: iso(start + 3 * HOUR) }); // not told to this scheduler
    await timers.advance(HOUR, idle);
    assert.deepEqual(family.undoCalls, [], 'the store decides whether, the old time only when to look');
    assert.equal((await e.list<HostLease>('host'))[0].status, 'active');
    await timers.advance(2 * HOUR, idle);
    assert.deepEqual(family.undoCalls, [['a']]);
  });

  it("a failure in the family's own bookkeeping after an undo is reported, and the undo stands", async () => {
    const warnings: string[] = [];
    const e = engine({ warn: (message) => warnings.push(message) });
    await e.start();
    await put(e, 'p1', 'a', HOUR);
    await timers.advance(HOUR, idle);
    assert.deepEqual(warnings, [], 'a family without bookkeeping: nothing to report');
    const ended: string[] = [];
    family.onEnded = async (key, lease, now, forget) => {
      ended.push(`${key} ${lease.target} ${new Date(now).toISOString()} ${forget}`);
      throw new Error('history file is read-only');
    };
    await put(e, 'p1', 'b', HOUR);
    await timers.advance(HOUR, idle);
    assert.deepEqual(ended, [`host:p1|b b ${iso(timers.now())} false`]);
    assert.deepEqual(warnings, ['after the end of the lease of b on p1: history file is read-only']);
    assert.deepEqual(await e.list(), [], 'the lease ended all the same');
    assert.deepEqual(await e.leases.listIntents(), []);
    assert.equal((await records('lease.expired')).length, 2);
  });

  it('reconciliation: repair reports at most five refusals, audits lists capped at 100 with complete counts, and labels every record', async () => {
    const e = engine();
    await e.start();
    for (let i = 0; i < 7; i++) await put(e, 'p1', `m${i}`, null);
    for (let i = 0; i < 7; i++) family.on('p1').delete(`m${i}`);
    for (let i = 0; i < 120; i++) family.on('p1').add(`x${String(i).padStart(3, '0')}`);
    family.refuse = (lease) => `${lease.target} is protected now`;
    const drift = await e.reconcile('host', 'p1', { repair: true });
    assert.equal(drift.repairFailed, 'm0 is protected now; m1 is protected now; m2 is protected now; m3 is protected now; m4 is protected now');
    assert.equal(drift.repaired, undefined);
    assert.ok(!family.on('p1').has('m0'), 'a refused lease is not put back');
    const [audited] = await records('reconcile.drift');
    assert.deepEqual(audited.counts, { missing: 7, extra: 120, expiredButPresent: 0 });
    assert.equal((audited.extra as unknown[]).length, 100);
    assert.equal(audited.providerLabel, 'Label p1');

    family.refuse = undefined;
    for (let i = 0; i < 120; i++) family.on('p1').delete(`x${String(i).padStart(3, '0')}`);
    const fixed = await e.reconcile('host', 'p1', { repair: true });
    assert.deepEqual([fixed.repaired?.length, fixed.repairFailed], [7, undefined]);
    const [repaired] = await records('reconcile.repaired');
    assert.deepEqual([repaired.count, repaired.providerLabel], [7, 'Label p1']);
    await e.reconcile('host', 'p1');
    const ok = await records('reconcile.ok');
    assert.deepEqual(
      ok.map((r) => [r.providerLabel, r.enforced]),
      [['Label p1', 7]],
    );
    family.listEnforced = async () => {
      throw providerError('AUTH', 'bad key');
    };
    await assert.rejects(e.reconcile('host', 'p1'), /bad key/);
    const [failed] = await records('reconcile.failed');
    assert.deepEqual([failed.providerLabel, failed.code], ['Label p1', 'AUTH']);
  });
});

describe('lease comparison rules', () => {
  const at = Date.UTC(2026, 0, 15, 12, 0, 0);
  interface Timed {
    target: string;
    expiresAt: string | null;
  }
  const lease = (target: string, expiresAt: string | null): Timed => ({ target, expiresAt });
  const keys = { lease: (l: Timed) => l.target, enforced: (item: { k: string }) => item.k };

  it('a lease ends at its expiry instant exactly, one without an end never', () => {
    assert.equal(leaseHasEnded(lease('a', new Date(at).toISOString()), at), true);
    assert.equal(leaseHasEnded(lease('a', new Date(at + 1).toISOString()), at), false);
    assert.equal(leaseHasEnded(lease('a', null), Number.MAX_SAFE_INTEGER), false);
  });

  it('skips empty listing entries and entries without a key, and reports each kind of drift', () => {
    const seen: unknown[] = [];
    const drift = compareByKey(
      'p1',
      [lease('gone', null), lease('ended', new Date(at).toISOString()), lease('ok', null)],
      [null, undefined, { k: 'ok' }, { k: 'ended' }, { k: 'hand-made' }, { k: undefined as unknown as string }] as { k: string }[],
      { lease: keys.lease, enforced: (item) => (seen.push(item), keys.enforced(item)) },
      at,
    );
    assert.ok(!seen.includes(null) && !seen.includes(undefined), 'empty entries are not handed to the family');
    assert.deepEqual(
      drift.missing.map((l) => l.target),
      ['gone'],
    );
    assert.deepEqual(drift.extra, [{ k: 'hand-made' }]);
    assert.deepEqual(drift.expiredButPresent, [{ k: 'ended' }]);
    assert.equal(drift.checkedAt, new Date(at).toISOString());
    const none = { provider: 'p1', missing: [], extra: [], expiredButPresent: [], checkedAt: '' };
    assert.equal(hasDrift(none), false);
    assert.equal(hasDrift({ ...none, missing: [1] }), true);
    assert.equal(hasDrift({ ...none, extra: [1] }), true);
    assert.equal(hasDrift({ ...none, expiredButPresent: [1] }), true);
  });
});
