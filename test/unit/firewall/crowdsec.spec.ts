/**
 * The CrowdSec LAPI firewall provider against the contract fake (test/fakes/crowdsec.ts): request
 * shapes, decision bookkeeping, and the error paths (login refused, JWT expiry and LAPI restarts,
 * transient 5xx, ids that vanished). The real LAPI is exercised in test/system/crowdsec.spec.ts.
 */
import assert from 'node:assert/strict';
import { ProviderError } from '../../../lib/core/errors';
import { createCrowdsecFirewall, CrowdsecFirewall, parseGoDuration, type CrowdsecOptions } from '../../../lib/firewall/crowdsec';
import { startCrowdsecFake, type CrowdsecFake } from '../../fakes/crowdsec';
import type { ManualClock } from '../../helpers/fake-server';
import { startOnManualClock } from '../../helpers/provider-spec';

describe('crowdsec: Go duration text', () => {
  it('reads the durations the LAPI prints', () => {
    assert.equal(parseGoDuration('4h'), 14_400);
    assert.equal(parseGoDuration('9m59.800977794s'), 599.800977794);
    assert.equal(parseGoDuration('875999h59m58.929093507s'), 875_999 * 3600 + 59 * 60 + 58.929093507);
    assert.equal(parseGoDuration('-182.564955ms'), -0.182564955);
    assert.equal(parseGoDuration('1m0.5s'), 60.5);
    assert.equal(parseGoDuration('0s'), 0);
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('1.5µs'), 1.5e-6);
  });

  it('refuses anything else', () => {
    for (const bad of ['', 'soon', '5', '5d', '1h 2m', 'h', undefined, 42, null]) assert.equal(parseGoDuration(bad), undefined, String(bad));
  });
});

describe('crowdsec firewall provider against the LAPI contract fake', () => {
  let fake: CrowdsecFake;
  let clock: ManualClock;
  const providers: CrowdsecFirewall[] = [];

  function provider(overrides: Partial<CrowdsecOptions> = {}): CrowdsecFirewall {
    const created = createCrowdsecFirewall({
      baseURL: fake.baseURL,
      machineId: fake.machineId,
      password: fake.password,
      bouncerKey: fake.bouncerKey,
      now: clock.now,
      sleep: clock.sleep,
      random: () => 0.5,
      timeoutMs: 2000,
      ...overrides,
    });
    providers.push(created);
    return created;
  }

  const posts = () => fake.server.requestsTo('POST', '/v1/alerts');
  const deletes = () => fake.server.requestsTo('DELETE', /^\/v1\/decisions/);

  beforeEach(async () => {
    // Auto-advancing: retry backoffs pass at once; decisions and tokens age only when a test says so.
    ({ clock, fake } = await startOnManualClock(startCrowdsecFake, Date.UTC(2026, 0, 15, 12, 0, 0)));
  });

  afterEach(async () => {
    for (const created of providers.splice(0)) await created.close();
    assert.deepEqual(fake.violations, [], 'requests broke the LAPI contract');
    await fake.close();
  });

  it('blocks with one POST /v1/alerts carrying a ban decision per target, after a machine login', async () => {
    const fw = provider();
    await fw.block([
      { address: '203.0.113.7', ttlSeconds: 600, comment: 'brute force; from alert #12' },
      { address: '198.51.100.0/24', ttlSeconds: 3600 },
      { address: '2001:DB8::1', ttlSeconds: 60.2 },
    ]);
    const login = fake.server.requestsTo('POST', '/v1/watchers/login');
    assert.equal(login.length, 1);
    assert.deepEqual(login[0].json, { machine_id: fake.machineId, password: fake.password, scenarios: [] });
    assert.equal(posts().length, 1);
    const post = posts()[0];
    assert.match(post.headers.authorization, /^Bearer \S+$/);
    const alerts = post.json as Record<string, unknown>[];
    assert.equal(alerts.length, 3);
    const at = new Date(clock.now()).toISOString();
    assert.deepEqual(alerts[0], {
      scenario: 'soar/manual-block',
      scenario_hash: '',
      scenario_version: '',
      message: 'soar/manual-block: 203.0.113.7 blocked by SOAR (brute force_ from alert _12)',
      events_count: 1,
      start_at: at,
      stop_at: at,
      capacity: 0,
      leakspeed: '0',
      simulated: false,
      remediation: true,
      events: [],
      source: { scope: 'Ip', value: '203.0.113.7', ip: '203.0.113.7' },
      decisions: [{ type: 'ban', scope: 'Ip', value: '203.0.113.7', duration: '600s', origin: 'soar', scenario: 'soar/manual-block' }],
    });
    assert.deepEqual(alerts[1].source as object, { scope: 'Range', value: '198.51.100.0/24', range: '198.51.100.0/24' });
    assert.deepEqual((alerts[1].decisions as object[])[0], {
      type: 'ban',
      scope: 'Range',
      value: '198.51.100.0/24',
      duration: '3600s',
      origin: 'soar',
      scenario: 'soar/manual-block',
    });
    // Canonical IPv6 text, ttl rounded up to whole seconds.
    assert.deepEqual(
      (alerts[2].decisions as { value: string; duration: string }[]).map((d) => [d.value, d.duration]),
      [['2001:db8::1', '61s']],
    );

    assert.deepEqual(
      (await fw.list()).sort((a, b) => a.address.localeCompare(b.address)),
      [
        { address: '198.51.100.0/24', expiresInSeconds: 3600 },
        { address: '2001:db8::1', expiresInSeconds: 61 },
        { address: '203.0.113.7', expiresInSeconds: 600 },
      ],
    );
  });

  it('a permanent block posts a ten-year decision that list() reports without expiry', async () => {
    const fw = provider();
    await fw.block([{ address: '203.0.113.9' }]);
    const decision = (posts()[0].json as { decisions: { duration: string }[] }[])[0].decisions[0];
    assert.equal(decision.duration, `${10 * 365 * 24 * 3600}s`);
    assert.deepEqual(await fw.list(), [{ address: '203.0.113.9' }]);
  });

  it('list(): time left decreases with the clock, expired and foreign decisions are left out', async () => {
    const fw = provider();
    await fw.block([
      { address: '203.0.113.7', ttlSeconds: 600 },
      { address: '203.0.113.8', ttlSeconds: 30 },
    ]);
    fake.addDecision({ origin: 'crowdsec', scope: 'Ip', value: '192.0.2.50', seconds: 3600 });
    fake.addDecision({ origin: 'soar', scope: 'Country', value: 'XX', seconds: 3600 });
    fake.addDecision({ origin: 'soar', scope: 'Ip', value: '192.0.2.51', seconds: 3600, type: 'captcha' });
    await clock.advance(100_500);
    assert.deepEqual(await fw.list(), [{ address: '203.0.113.7', expiresInSeconds: 499 }]);

    const everything = provider({ origins: 'all' });
    assert.deepEqual((await everything.list()).map((e) => e.address).sort(), ['192.0.2.50', '203.0.113.7']);
  });

  it('re-blocking replaces our earlier decision (shorter and longer), never leaving the address unbanned', async () => {
    const fw = provider();
    await fw.block([{ address: '203.0.113.7', ttlSeconds: 3600 }]);
    await fw.block([{ address: '203.0.113.7', ttlSeconds: 60 }]);
    assert.deepEqual(await fw.list(), [{ address: '203.0.113.7', expiresInSeconds: 60 }]);
    await fw.block([{ address: '203.0.113.7', ttlSeconds: 7200 }]);
    assert.deepEqual(await fw.list(), [{ address: '203.0.113.7', expiresInSeconds: 7200 }]);
    assert.equal(fake.active().length, 1);
    // The new decision is posted before the old one is deleted.
    const order = fake.server.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(order.slice(-2), ['POST /v1/alerts', 'DELETE /v1/decisions/2']);
    // A CrowdSec detection for the same address is not ours to replace.
    fake.addDecision({ origin: 'crowdsec', scope: 'Ip', value: '203.0.113.7', seconds: 100 });
    await fw.block([{ address: '203.0.113.7', ttlSeconds: 30 }]);
    assert.deepEqual(
      fake
        .active()
        .map((d) => d.origin)
        .sort(),
      ['crowdsec', 'soar'],
    );
  });

  it('unblock deletes by id the exact value only: a range around it and other origins stay', async () => {
    const fw = provider();
    await fw.block([
      { address: '203.0.113.7', ttlSeconds: 600 },
      { address: '203.0.113.0/24', ttlSeconds: 600 },
    ]);
    const detection = fake.addDecision({ origin: 'crowdsec', scope: 'Ip', value: '203.0.113.7', seconds: 600 });
    await fw.unblock(['203.0.113.7']);
    assert.deepEqual(
      fake
        .active()
        .map((d) => `${d.origin} ${d.value}`)
        .sort(),
      ['crowdsec 203.0.113.7', 'soar 203.0.113.0/24'],
    );
    assert.deepEqual(
      deletes().map((r) => r.url),
      ['/v1/decisions/1'],
    );
    assert.ok(deletes().every((r) => /^Bearer /.test(r.headers.authorization)));

    await provider({ origins: 'all' }).unblock(['203.0.113.7']);
    assert.equal(fake.decisions.find((d) => d.id === detection.id)?.deleted, true);

    await fw.unblock(['203.0.113.0/24']);
    assert.deepEqual(fake.active(), []);
  });

  it('unblocking what is not blocked sends no DELETE and is not an error', async () => {
    const fw = provider();
    await fw.unblock(['203.0.113.77', '2001:db8::/64']);
    assert.equal(deletes().length, 0);
  });

  it('without a bouncer key, lookups and list() use the watcher alerts route with limit=0', async () => {
    const fw = provider({ bouncerKey: undefined });
    await fw.block([{ address: '203.0.113.7', ttlSeconds: 600 }]);
    await fw.block([{ address: '203.0.113.7', ttlSeconds: 300 }]);
    assert.deepEqual(await fw.list(), [{ address: '203.0.113.7', expiresInSeconds: 300 }]);
    await fw.unblock(['203.0.113.7']);
    assert.deepEqual(await fw.list(), []);
    const lookups = fake.server.requestsTo('GET', '/v1/alerts');
    assert.ok(lookups.length >= 3);
    assert.ok(lookups.every((r) => r.query.limit === '0' && r.query.has_active_decision === 'true'));
    assert.equal(fake.server.count('GET', '/v1/decisions'), 0);
  });

  it('many targets are looked up with one listing instead of one request each', async () => {
    const fw = provider();
    const targets = Array.from({ length: 50 }, (_, i) => ({ address: `198.51.100.${i + 1}`, ttlSeconds: 600 }));
    await fw.block(targets);
    await fw.block(targets);
    assert.equal(fake.active().length, 50);
    assert.equal(fake.server.count('GET', '/v1/decisions'), 2);
    await fw.unblock(targets.map((t) => t.address));
    assert.equal(fake.active().length, 0);
  });

  it('refuses bad input before any request', async () => {
    const fw = provider();
    const refused = (error: unknown) => error instanceof ProviderError && error.code === 'BAD_REQUEST' && error.attempts === 0;
    await assert.rejects(async () => fw.block([{ address: '203.0.113.7' }, { address: 'not-an-ip' }]), refused);
    await assert.rejects(async () => fw.block([{ address: '203.0.113.7', ttlSeconds: -1 }]), refused);
    await assert.rejects(async () => fw.block([{ address: '203.0.113.7', ttlSeconds: 366 * 24 * 3600 }]), /one year/);
    await assert.rejects(async () => fw.unblock(['203.0.113.7', '10.0.0.1; DROP']), refused);
    assert.equal(fake.server.requests.length, 0);
    assert.throws(() => provider({ baseURL: 'not a url' }), /baseURL/);
    assert.throws(() => provider({ password: '' }), /password/);
    assert.throws(() => provider({ permanentSeconds: 3600 }), /permanentSeconds/);
  });

  describe('error paths', () => {
    it('a refused machine login is AUTH, names the machine, never the password, and blocks nothing', async () => {
      const fw = provider({ password: 'wrong-password-123' });
      await assert.rejects(fw.block([{ address: '203.0.113.7' }]), (error: unknown) => {
        assert.ok(error instanceof ProviderError);
        assert.equal(error.code, 'AUTH');
        assert.equal(error.status, 401);
        assert.match(error.message, /machine login refused for "soar-test"/);
        assert.ok(!JSON.stringify(error.toJSON()).includes('wrong-password-123'));
        return true;
      });
      assert.equal(posts().length, 0);
      // Not retried: a wrong password stays wrong.
      assert.equal(fake.server.count('POST', '/v1/watchers/login'), 1);
    });

    it('reuses the JWT until shortly before it expires, then logs in again', async () => {
      const fw = provider();
      await fw.block([{ address: '203.0.113.1', ttlSeconds: 600 }]);
      await fw.block([{ address: '203.0.113.2', ttlSeconds: 600 }]);
      assert.equal(fake.logins, 1);
      await clock.advance(3_600_000 - 30_000); // inside the one-minute margin before expiry
      await fw.block([{ address: '203.0.113.3', ttlSeconds: 600 }]);
      assert.equal(fake.logins, 2);
      assert.equal(fake.server.requests.filter((r) => r.headers.authorization && r.path !== '/v1/watchers/login').length, posts().length);
    });

    it('a 401 on a watcher call (LAPI restarted: every JWT invalid) logs in again and retries once', async () => {
      const fw = provider();
      await fw.block([{ address: '203.0.113.1', ttlSeconds: 600 }]);
      fake.restart();
      await fw.block([{ address: '203.0.113.2', ttlSeconds: 600 }]);
      assert.equal(fake.logins, 2);
      assert.deepEqual(
        fake.active().map((d) => d.value),
        ['203.0.113.1', '203.0.113.2'],
      );
      const statuses = posts().length;
      assert.equal(statuses, 3, 'one refused post, then the retry');
    });

    it('a 401 that persists after a fresh login is reported as AUTH', async () => {
      const fw = provider();
      fake.script(
        'POST',
        '/v1/alerts',
        { status: 401, body: { code: 401, message: 'Token is expired' } },
        { status: 401, body: { code: 401, message: 'Token is expired' } },
      );
      await assert.rejects(
        fw.block([{ address: '203.0.113.1', ttlSeconds: 600 }]),
        (error: unknown) => error instanceof ProviderError && error.code === 'AUTH',
      );
      assert.equal(fake.logins, 2);
      assert.equal(posts().length, 2);
    });

    it('a 500 on a read is retried; a 500 on the alert post is not (it may have been stored)', async () => {
      const fw = provider();
      fake.script('GET', '/v1/decisions', { status: 500, body: { message: 'database is locked' } });
      assert.deepEqual(await fw.list(), []);
      assert.equal(fake.server.count('GET', '/v1/decisions'), 2);

      fake.script('POST', '/v1/alerts', { status: 500, body: { message: 'database is locked' } });
      await assert.rejects(fw.block([{ address: '203.0.113.1', ttlSeconds: 600 }]), (error: unknown) => {
        assert.ok(error instanceof ProviderError);
        assert.equal(error.code, 'SERVER');
        assert.match(error.message, /database is locked/);
        return true;
      });
      assert.equal(posts().length, 1);
      // A gateway-type 503 on the post is transient and retried (the post carries a dedup key).
      fake.script('POST', '/v1/alerts', { status: 503, body: { message: 'unavailable' } });
      await fw.block([{ address: '203.0.113.1', ttlSeconds: 600 }]);
      assert.equal(posts().length, 3);
      assert.deepEqual(
        fake.active().map((d) => d.value),
        ['203.0.113.1'],
      );
    });

    it('a decision deleted by someone else in the meantime counts as deleted (no retries)', async () => {
      const fw = provider();
      await fw.block([{ address: '203.0.113.1', ttlSeconds: 600 }]);
      fake.script('DELETE', /^\/v1\/decisions\/\d+$/, { status: 500, body: { message: "decision with id '1' doesn't exist: unable to delete" } });
      await fw.unblock(['203.0.113.1']);
      assert.equal(deletes().length, 1);
      // Any other failure is reported.
      await fw.block([{ address: '203.0.113.2', ttlSeconds: 600 }]);
      fake.script('DELETE', /^\/v1\/decisions\/\d+$/, { status: 403, body: { message: 'forbidden' } });
      await assert.rejects(fw.unblock(['203.0.113.2']), (error: unknown) => {
        assert.ok(error instanceof ProviderError);
        assert.equal(error.code, 'FORBIDDEN');
        assert.match(error.message, /1 of 1 decision\(s\) could not be deleted/);
        return true;
      });
    });

    it('ensureReady checks the machine login and the bouncer key', async () => {
      await provider().ensureReady();
      assert.equal(fake.logins, 1);
      await assert.rejects(provider({ bouncerKey: 'not-the-key' }).ensureReady(), (error: unknown) => {
        assert.ok(error instanceof ProviderError);
        assert.equal(error.code, 'FORBIDDEN');
        assert.match(error.message, /bouncer key was refused/);
        assert.ok(!error.message.includes('not-the-key'));
        return true;
      });
    });

    it('secrets echoed in an error body are redacted', async () => {
      const fw = provider();
      await fw.ensureReady();
      fake.script('GET', '/v1/decisions', { status: 400, body: { message: `bad key ${fake.bouncerKey} for ${fake.password}` } });
      await assert.rejects(fw.list(), (error: unknown) => {
        assert.ok(error instanceof ProviderError);
        const shown = JSON.stringify(error.toJSON()) + error.message + String(error.stack);
        assert.ok(!shown.includes(fake.bouncerKey) && !shown.includes(fake.password));
        return true;
      });
      await fw.block([{ address: '203.0.113.1', ttlSeconds: 60 }]);
      const jwt = /^Bearer (\S+)$/.exec(posts()[0].headers.authorization)![1];
      fake.script('POST', '/v1/alerts', { status: 400, body: { message: `token ${jwt} rejected` } });
      await assert.rejects(fw.block([{ address: '203.0.113.2', ttlSeconds: 60 }]), (error: unknown) => {
        assert.ok(error instanceof ProviderError);
        assert.ok(!(JSON.stringify(error.toJSON()) + error.message).includes(jwt));
        return true;
      });
    });
  });
});
