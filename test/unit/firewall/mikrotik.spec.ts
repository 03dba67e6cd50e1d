import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { formatRouterOsDuration, MikrotikFirewall, parseRouterOsDuration, type MikrotikOptions } from '../../../lib/firewall/mikrotik';
import type { ManualClock } from '../../helpers/fake-server';
import { closeAfterContractCheck, rejectsWith, startOnManualClock } from '../../helpers/provider-spec';
import { MIKROTIK_PASSWORD, MIKROTIK_USER, mtError, startMikrotikFake, type MikrotikFake } from '../../fakes/mikrotik';

const V4 = '/rest/ip/firewall/address-list';
const V6 = '/rest/ipv6/firewall/address-list';

describe('RouterOS durations', () => {
  it('formats seconds the way RouterOS writes them', () => {
    assert.equal(formatRouterOsDuration(3723), '1h2m3s');
    assert.equal(formatRouterOsDuration(3600), '1h');
    assert.equal(formatRouterOsDuration(90061), '1d1h1m1s');
    assert.equal(formatRouterOsDuration(59.2), '1m', 'partial seconds round up');
  });

  it('parses the v7 unit form and the older clock form', () => {
    assert.equal(parseRouterOsDuration('1w2d3h4m5s'), 7 * 86400 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
    assert.equal(parseRouterOsDuration('59m58s'), 3598);
    assert.equal(parseRouterOsDuration('1d23:59:58'), 86400 + 86398);
    assert.equal(parseRouterOsDuration('00:00:05'), 5);
    assert.equal(parseRouterOsDuration('500ms'), 0.5);
    for (const bad of ['', 'soon', '1x', undefined, 5]) assert.equal(parseRouterOsDuration(bad), undefined, String(bad));
  });
});

describe('MikrotikFirewall against the RouterOS REST contract fake', () => {
  let fake: MikrotikFake;
  let clock: ManualClock;

  const provider = (overrides: Partial<MikrotikOptions> = {}) =>
    new MikrotikFirewall({
      url: fake.url,
      username: MIKROTIK_USER,
      password: MIKROTIK_PASSWORD,
      http: { now: clock.now, sleep: clock.sleep, random: () => 0.5 },
      ...overrides,
    });

  beforeEach(async () => {
    ({ clock, fake } = await startOnManualClock(startMikrotikFake, Date.UTC(2026, 0, 15, 12, 0, 0)));
  });
  afterEach(() => closeAfterContractCheck(fake));

  it('ensureReady checks the version and that a rule drops the list, and says how to add one', async () => {
    await provider().ensureReady();
    assert.deepEqual(
      fake.server.requests.map((r) => `${r.method} ${r.path}`),
      ['GET /rest/system/resource', 'GET /rest/ip/firewall/raw'],
    );
    const basic = `Basic ${Buffer.from(`${MIKROTIK_USER}:${MIKROTIK_PASSWORD}`).toString('base64')}`;
    assert.ok(fake.server.requests.every((r) => r.headers.authorization === basic));

    fake.rawRules = [{ chain: 'prerouting', action: 'drop', 'src-address-list': 'soar_block', disabled: 'true' }];
    fake.filterRules = [{ chain: 'forward', action: 'accept', 'src-address-list': 'soar_block', disabled: 'false' }];
    await rejectsWith(
      provider().ensureReady(),
      'NOT_FOUND',
      /no enabled firewall rule drops address-list "soar_block".*\/ip firewall raw add chain=prerouting src-address-list=soar_block action=drop/,
    );
    await provider({ checkRules: false }).ensureReady();

    fake.filterRules.push({ chain: 'input', action: 'drop', 'src-address-list': 'soar_block', disabled: 'false' });
    await provider().ensureReady();

    fake.version = '6.49.10 (long-term)';
    await rejectsWith(provider().ensureReady(), 'BAD_REQUEST', /version 7\.1 or later/);
  });

  it('block, list, unblock round trip with native timeouts', async () => {
    const fw = provider();
    await fw.block([
      { address: '203.0.113.7', ttlSeconds: 3723, comment: 'alert 9' },
      { address: '2001:db8::7', ttlSeconds: 60 },
      { address: '198.51.100.33/24' },
    ]);
    const puts = fake.server.requestsTo('PUT', /address-list$/);
    assert.deepEqual(
      puts.map((r) => [r.path, r.json]),
      [
        [V4, { list: 'soar_block', address: '203.0.113.7', timeout: '1h2m3s', comment: 'alert 9' }],
        [V6, { list: 'soar_block', address: '2001:db8::7', timeout: '1m' }],
        [V4, { list: 'soar_block', address: '198.51.100.0/24' }],
      ],
    );
    const finds = fake.server.requestsTo('GET', V4);
    assert.deepEqual(finds[0].query, { list: 'soar_block', address: '203.0.113.7' });

    const listed = await fw.list();
    assert.deepEqual(listed, [
      { address: '203.0.113.7', expiresInSeconds: 3723, comment: 'alert 9' },
      { address: '198.51.100.0/24' },
      { address: '2001:db8::7', expiresInSeconds: 60 },
    ]);

    await clock.advance(61_000); // RouterOS drops the IPv6 entry itself
    assert.deepEqual(
      (await fw.list()).map((b) => [b.address, b.expiresInSeconds]),
      [
        ['203.0.113.7', 3723 - 61],
        ['198.51.100.0/24', undefined],
      ],
    );

    await fw.unblock(['203.0.113.7', '192.0.2.1', '2001:db8::7']);
    assert.equal(fake.server.count('DELETE'), 1);
    assert.deepEqual(fake.snapshot(), [['198.51.100.0/24', undefined]]);
    assert.deepEqual(fake.violations, []);
  });

  it('re-blocking a timed entry PATCHes the new timeout (no second entry)', async () => {
    const existing = fake.addEntry({ address: '203.0.113.8', timeoutSeconds: 60, comment: 'first' });
    await provider().block([{ address: '203.0.113.8', ttlSeconds: 7200 }]);
    const patches = fake.server.requestsTo('PATCH', `${V4}/${existing.id}`);
    assert.deepEqual(
      patches.map((r) => r.json),
      [{ timeout: '2h' }],
      'a re-block without a comment keeps the old one',
    );
    assert.equal(fake.server.count('PUT'), 0);
    assert.deepEqual(fake.snapshot(), [['203.0.113.8', 7200]]);
    assert.equal(fake.entries[0].comment, 'first');
  });

  it('a change between permanent and timed replaces the entry', async () => {
    fake.addEntry({ address: '203.0.113.9', comment: 'by hand' });
    fake.addEntry({ address: '203.0.113.10', timeoutSeconds: 30 });
    await provider().block([{ address: '203.0.113.9', ttlSeconds: 600 }, { address: '203.0.113.10' }]);
    assert.equal(fake.server.count('DELETE'), 2);
    assert.equal(fake.server.count('PUT'), 2);
    assert.deepEqual(fake.snapshot().sort(), [
      ['203.0.113.10', undefined],
      ['203.0.113.9', 600],
    ]);
  });

  it('finds IPv6 host entries whichever way RouterOS spells them', async () => {
    for (const suffix of [true, false]) {
      fake.entries = [];
      fake.ipv6HostSuffix = suffix;
      fake.addEntry({ address: '2001:db8::9', timeoutSeconds: 10 });
      const fw = provider();
      await fw.block([{ address: '2001:db8::9', ttlSeconds: 100 }]);
      assert.deepEqual(fake.snapshot(), [[suffix ? '2001:db8::9/128' : '2001:db8::9', 100]]);
      assert.deepEqual(
        (await fw.list()).map((b) => b.address),
        ['2001:db8::9'],
      );
      await fw.unblock(['2001:db8::9']);
      assert.deepEqual(fake.snapshot(), []);
    }
    assert.equal(fake.server.count('PUT'), 0);
  });

  it('"already have such entry" after a missed lookup falls back to a scan and updates the entry', async () => {
    fake.addEntry({ address: '203.0.113.11', timeoutSeconds: 30 });
    fake.script('GET', { body: [] }); // the filtered lookup misses it
    await provider().block([{ address: '203.0.113.11', ttlSeconds: 900 }]);
    assert.equal(fake.server.count('PUT'), 1);
    assert.deepEqual(fake.server.requestsTo('GET', V4).at(-1)!.query, { list: 'soar_block' });
    assert.deepEqual(fake.snapshot(), [['203.0.113.11', 900]]);
  });

  it('reads the older clock-style timeout', async () => {
    fake.clockStyleTimeouts = true;
    fake.addEntry({ address: '203.0.113.12', timeoutSeconds: 90_000 });
    assert.deepEqual(await provider().list(), [{ address: '203.0.113.12', expiresInSeconds: 90_000 }]);
  });

  it('an error in an HTTP 200 body fails the call, and the batch is undone (new entry deleted, timeout restored)', async () => {
    const timed = fake.addEntry({ address: '203.0.113.13', timeoutSeconds: 60 });
    fake.script('PUT', null, { status: 200, body: { error: 400, message: 'Bad Request', detail: 'failure: address list entry limit reached' } });
    const error = await rejectsWith(
      provider().block([
        { address: '203.0.113.13', ttlSeconds: 3600 },
        { address: '203.0.113.14', ttlSeconds: 3600 },
        { address: '203.0.113.15', ttlSeconds: 3600 },
      ]),
      'BAD_REQUEST',
      /nothing blocked; rolled back 2 change\(s\).*failure in body: error 400 Bad Request: failure: address list entry limit reached/,
    );
    assert.equal(error.status, 200);
    assert.deepEqual(fake.snapshot(), [['203.0.113.13', 60]]);
    assert.equal(fake.entries[0].id, timed.id, 'the existing entry was updated and restored, not replaced');
  });

  it('RouterOS error details reach the message', async () => {
    fake.script('PUT', mtError(400, 'Bad Request', 'failure: not allowed by policy'));
    await rejectsWith(provider().block([{ address: '203.0.113.16' }]), 'BAD_REQUEST', /HTTP 400 BAD_REQUEST: Bad Request: failure: not allowed by policy/);
  });

  it('waits out a 429 with Retry-After, then succeeds', async () => {
    fake.script('GET', { ...mtError(429, 'Too Many Requests'), headers: { 'retry-after': '4' } });
    await provider().block([{ address: '203.0.113.17', ttlSeconds: 60 }]);
    const gets = fake.server.requestsTo('GET', V4);
    assert.equal(gets.length, 2);
    assert.ok(gets[1].at - gets[0].at >= 4000);
    assert.deepEqual(fake.snapshot(), [['203.0.113.17', 60]], 'created after the wait');
  });

  it('retries a 500 on a lookup (GET) but not on a create (PUT)', async () => {
    fake.script('GET', mtError(500, 'Internal Server Error'));
    await provider().block([{ address: '203.0.113.18' }]);
    assert.equal(fake.server.count('GET'), 2);

    fake.script('PUT', mtError(500, 'Internal Server Error'));
    await rejectsWith(provider().block([{ address: '203.0.113.19' }]), 'SERVER');
    assert.equal(fake.server.requestsTo('PUT', V4).filter((r) => (r.json as { address?: string }).address === '203.0.113.19').length, 1);
    assert.deepEqual(fake.snapshot(), [['203.0.113.18', undefined]]);
  });

  it('bad credentials give AUTH without the password in the error', async () => {
    const wrong = 'mt-WRONG-Zx9!Yw8@';
    const error = await rejectsWith(provider({ password: wrong }).list(), 'AUTH');
    const basic = Buffer.from(`${MIKROTIK_USER}:${wrong}`).toString('base64');
    for (const text of [error.message, error.stack ?? '', JSON.stringify(error), inspect(error)]) {
      assert.ok(!text.includes(wrong) && !text.includes(basic));
    }
  });

  it('an invalid address or timeout is refused before any request', async () => {
    const fw = provider();
    await rejectsWith(fw.block([{ address: '203.0.113.20' }, { address: '203.0.113.20/24/1' }]), 'BAD_REQUEST', /refused before calling the router/);
    await rejectsWith(fw.block([{ address: '203.0.113.21', ttlSeconds: 365 * 86400 }]), 'BAD_REQUEST', /longest timeout/);
    await rejectsWith(fw.block([{ address: '203.0.113.21', ttlSeconds: -5 }]), 'BAD_REQUEST', /positive number/);
    await rejectsWith(fw.unblock(['203.0.113']), 'BAD_REQUEST');
    assert.equal(fake.server.requests.length, 0);
  });
});
