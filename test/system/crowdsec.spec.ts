/**
 * The CrowdSec firewall provider against a real CrowdSec LAPI (Debian's crowdsec 1.4.6 package, started
 * by the test with a temp config and database on 127.0.0.1; see test/helpers/crowdsec.ts). What a
 * bouncer sees is checked the way a bouncer asks: GET /v1/decisions and /v1/decisions/stream with its
 * X-Api-Key. Skips with the reason when crowdsec is not installed; fails instead with SOAR_REQUIRE_SYSTEM=1.
 */
import assert from 'node:assert/strict';
import { ProviderError } from '../../lib/core/errors';
import { createCrowdsecFirewall, parseGoDuration, type CrowdsecFirewall, type CrowdsecOptions } from '../../lib/firewall/crowdsec';
import { requireCrowdsecOrSkip, startCrowdsec, type RunningCrowdsec } from '../helpers/crowdsec';

interface BouncerDecision {
  id: number;
  origin: string;
  type: string;
  scope: string;
  value: string;
  duration: string;
  scenario: string;
}

describe('CrowdSec LAPI firewall provider (real crowdsec)', function () {
  this.timeout(60_000);
  let lapi: RunningCrowdsec | undefined;
  let fw: CrowdsecFirewall;
  const providers: CrowdsecFirewall[] = [];

  function provider(overrides: Partial<CrowdsecOptions> = {}): CrowdsecFirewall {
    const created = createCrowdsecFirewall({
      baseURL: lapi!.url,
      machineId: lapi!.machineId,
      password: lapi!.password,
      bouncerKey: lapi!.bouncerKey,
      retry: { baseDelayMs: 100 },
      ...overrides,
    });
    providers.push(created);
    return created;
  }

  /** What a bouncer gets for a query (null from the LAPI = nothing). */
  async function bouncerView(query: string): Promise<BouncerDecision[]> {
    const response = await fetch(`${lapi!.url}/v1/decisions${query}`, { headers: { 'X-Api-Key': lapi!.bouncerKey } });
    assert.equal(response.status, 200);
    return ((await response.json()) as BouncerDecision[] | null) ?? [];
  }

  async function stream(startup: boolean): Promise<{ new: BouncerDecision[] | null; deleted: BouncerDecision[] | null }> {
    const response = await fetch(`${lapi!.url}/v1/decisions/stream?startup=${startup}`, { headers: { 'X-Api-Key': lapi!.bouncerKey } });
    assert.equal(response.status, 200);
    return (await response.json()) as { new: BouncerDecision[] | null; deleted: BouncerDecision[] | null };
  }

  before(async function () {
    await requireCrowdsecOrSkip(this, 'CrowdSec system tests');
    lapi = await startCrowdsec();
    fw = provider();
    await fw.ensureReady();
  });

  after(async function () {
    for (const created of providers) await created.close();
    if (lapi && this.currentTest?.state === 'failed') console.log(lapi.log().slice(-3000));
    await lapi?.stop();
  });

  afterEach(async () => {
    if (!lapi) return;
    const cleaner = provider({ origins: 'all' });
    await cleaner.unblock((await cleaner.list()).map((e) => e.address));
  });

  it('block: a bouncer sees the ban (query and stream); unblock: it is gone for the bouncer too', async () => {
    await stream(true); // this bouncer is now "up to date"
    await fw.block([{ address: '203.0.113.7', ttlSeconds: 600, comment: 'system test' }]);

    const seen = await bouncerView('?ip=203.0.113.7');
    assert.equal(seen.length, 1);
    assert.deepEqual(
      { value: seen[0].value, type: seen[0].type, scope: seen[0].scope, origin: seen[0].origin, scenario: seen[0].scenario },
      { value: '203.0.113.7', type: 'ban', scope: 'Ip', origin: 'soar', scenario: 'soar/manual-block' },
    );
    const added = await stream(false);
    assert.deepEqual(
      (added.new ?? []).map((d) => [d.value, d.type]),
      [['203.0.113.7', 'ban']],
    );
    const listed = await fw.list();
    assert.deepEqual(
      listed.map((e) => e.address),
      ['203.0.113.7'],
    );
    assert.ok(listed[0].expiresInSeconds! <= 600 && listed[0].expiresInSeconds! >= 590, `expires ${listed[0].expiresInSeconds}`);

    await fw.unblock(['203.0.113.7']);
    assert.deepEqual(await bouncerView('?ip=203.0.113.7'), []);
    const removed = await stream(false);
    assert.deepEqual(
      (removed.deleted ?? []).map((d) => d.value),
      ['203.0.113.7'],
    );
    assert.deepEqual(await fw.list(), []);
  });

  it('range blocks (IPv4 and IPv6) cover the addresses inside for a bouncer; unblocking an address inside leaves the range', async () => {
    await fw.block([
      { address: '198.51.100.0/24', ttlSeconds: 600 },
      { address: '2001:db8:5::/48', ttlSeconds: 600 },
      { address: '198.51.100.9', ttlSeconds: 600 },
    ]);
    const inside4 = await bouncerView('?ip=198.51.100.77');
    assert.deepEqual(
      inside4.map((d) => [d.scope, d.value]),
      [['Range', '198.51.100.0/24']],
    );
    const inside6 = await bouncerView('?ip=2001:db8:5:1::9');
    assert.deepEqual(
      inside6.map((d) => [d.scope, d.value]),
      [['Range', '2001:db8:5::/48']],
    );

    await fw.unblock(['198.51.100.9']);
    assert.deepEqual(
      (await bouncerView('?ip=198.51.100.9')).map((d) => d.value),
      ['198.51.100.0/24'],
    );
    assert.deepEqual((await fw.list()).map((e) => e.address).sort(), ['198.51.100.0/24', '2001:db8:5::/48']);

    await fw.unblock(['198.51.100.0/24', '2001:db8:5::/48']);
    assert.deepEqual(await bouncerView('?ip=198.51.100.77'), []);
    assert.deepEqual(await bouncerView('?ip=2001:db8:5::1'), []);
  });

  it('a ttl block: the duration a bouncer sees decreases, list() reports the time left', async () => {
    await fw.block([{ address: '203.0.113.8', ttlSeconds: 120 }]);
    const first = parseGoDuration((await bouncerView('?ip=203.0.113.8'))[0].duration)!;
    const second = parseGoDuration((await bouncerView('?ip=203.0.113.8'))[0].duration)!;
    assert.ok(first <= 120 && first > 100, `first ${first}`);
    // The LAPI reports time left in nanoseconds: two reads apart are already apart.
    assert.ok(second < first, `${second} should be below ${first}`);
    const [listed] = await fw.list();
    assert.equal(listed.address, '203.0.113.8');
    assert.ok(listed.expiresInSeconds !== undefined && listed.expiresInSeconds <= 120 && listed.expiresInSeconds > 100);
  });

  it('re-blocking replaces the decision (shorter, longer, permanent), leaving one', async () => {
    await fw.block([{ address: '203.0.113.9', ttlSeconds: 3600 }]);
    await fw.block([{ address: '203.0.113.9', ttlSeconds: 60 }]);
    let seen = await bouncerView('?ip=203.0.113.9');
    assert.equal(seen.length, 1);
    assert.ok(parseGoDuration(seen[0].duration)! <= 60);

    await fw.block([{ address: '203.0.113.9', ttlSeconds: 7200 }]);
    seen = await bouncerView('?ip=203.0.113.9');
    assert.equal(seen.length, 1);
    assert.ok(parseGoDuration(seen[0].duration)! > 7000);

    await fw.block([{ address: '203.0.113.9' }]);
    seen = await bouncerView('?ip=203.0.113.9');
    assert.equal(seen.length, 1);
    assert.ok(parseGoDuration(seen[0].duration)! > 9 * 365 * 24 * 3600, `permanent: ${seen[0].duration}`);
    assert.deepEqual(await fw.list(), [{ address: '203.0.113.9' }]);
  });

  it("leaves decisions of other origins alone unless told otherwise (cscli's own ban)", async () => {
    await lapi!.cscli(['decisions', 'add', '--ip', '203.0.113.10', '--duration', '1h', '--reason', 'admin']);
    await fw.block([{ address: '203.0.113.10', ttlSeconds: 600 }]);
    assert.deepEqual((await bouncerView('?ip=203.0.113.10')).map((d) => d.origin).sort(), ['cscli', 'soar']);
    assert.deepEqual(
      (await fw.list()).map((e) => e.address),
      ['203.0.113.10'],
    );

    await fw.unblock(['203.0.113.10']);
    assert.deepEqual(
      (await bouncerView('?ip=203.0.113.10')).map((d) => d.origin),
      ['cscli'],
    );
    assert.deepEqual(await fw.list(), []);

    const everything = provider({ origins: 'all' });
    assert.deepEqual(
      (await everything.list()).map((e) => e.address),
      ['203.0.113.10'],
    );
    await everything.unblock(['203.0.113.10']);
    assert.deepEqual(await bouncerView('?ip=203.0.113.10'), []);
  });

  it('works without a bouncer key through the watcher alerts route', async () => {
    const watcherOnly = provider({ bouncerKey: undefined });
    // More alerts than the route's default page of 100: limit=0 must bring them all (and not hang).
    const many = Array.from({ length: 120 }, (_, i) => ({ address: `198.18.${i >> 8}.${(i & 255) + 1}`, ttlSeconds: 600 }));
    await watcherOnly.block(many);
    assert.equal((await watcherOnly.list()).length, 120);
    await watcherOnly.block([{ address: '198.18.0.1', ttlSeconds: 30 }]);
    assert.equal((await bouncerView('?ip=198.18.0.1')).length, 1);
    await watcherOnly.unblock(many.map((t) => t.address));
    assert.deepEqual(await watcherOnly.list(), []);
    assert.deepEqual(await bouncerView('?range=198.18.0.0/16'), []);
  });

  it('logs in again by itself after a LAPI restart invalidated its token', async () => {
    await fw.block([{ address: '203.0.113.11', ttlSeconds: 600 }]);
    const restartedPidBefore = lapi!.pid();
    await lapi!.restart();
    assert.notEqual(lapi!.pid(), restartedPidBefore);
    // The decision survived in the database; the old JWT did not.
    await fw.unblock(['203.0.113.11']);
    assert.deepEqual(await bouncerView('?ip=203.0.113.11'), []);
    assert.match(lapi!.log(), /DELETE \/v1\/decisions\/\d+ HTTP\/1\.1 401/, 'the old token was refused');
    assert.match(lapi!.log(), /POST \/v1\/watchers\/login HTTP\/1\.1 200/);
  });

  it('refuses wrong credentials clearly', async () => {
    await assert.rejects(provider({ password: 'not-the-password' }).ensureReady(), (error: unknown) => {
      assert.ok(error instanceof ProviderError);
      assert.equal(error.code, 'AUTH');
      assert.ok(!error.message.includes('not-the-password'));
      return true;
    });
    await assert.rejects(provider({ bouncerKey: 'not-the-key' }).ensureReady(), (error: unknown) => {
      assert.ok(error instanceof ProviderError);
      assert.equal(error.code, 'FORBIDDEN');
      return true;
    });
  });
});
