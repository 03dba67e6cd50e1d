import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { parseTarget, type ParsedTarget } from '../../../lib/core/guardrails';
import { CloudflareFirewall, cloudflareConfiguration, type CloudflareOptions } from '../../../lib/firewall/cloudflare';
import type { ManualClock } from '../../helpers/fake-server';
import { closeAfterContractCheck, rejectsWith, startOnManualClock } from '../../helpers/provider-spec';
import { CF_ACCOUNT, CF_TOKEN, CF_ZONE, cfFailure, startCloudflareFake, type CloudflareFake } from '../../fakes/cloudflare';

const parsed = (text: string) => parseTarget(text) as ParsedTarget;
const RULES = `/client/v4/accounts/${CF_ACCOUNT}/firewall/access_rules/rules`;

describe('cloudflareConfiguration', () => {
  it('maps hosts to ip/ip6 and only the allowed prefix lengths to ip_range', () => {
    assert.deepEqual(cloudflareConfiguration(parsed('198.51.100.4')), { target: 'ip', value: '198.51.100.4' });
    assert.deepEqual(cloudflareConfiguration(parsed('2001:DB8::4')), { target: 'ip6', value: '2001:db8::4' });
    assert.deepEqual(cloudflareConfiguration(parsed('198.51.0.0/16')), { target: 'ip_range', value: '198.51.0.0/16' });
    assert.deepEqual(cloudflareConfiguration(parsed('198.51.100.9/24')), { target: 'ip_range', value: '198.51.100.0/24' });
    for (const bits of [32, 48, 64]) {
      assert.deepEqual(cloudflareConfiguration(parsed(`2001:db8::/${bits}`)), { target: 'ip_range', value: `2001:db8::/${bits}` });
    }
    for (const refused of ['198.51.100.0/25', '198.51.96.0/20', '10.0.0.0/8', '2001:db8::/56', '2001:db8::/127']) {
      assert.ok('error' in cloudflareConfiguration(parsed(refused)), refused);
    }
  });
});

describe('CloudflareFirewall against the Cloudflare contract fake', () => {
  let fake: CloudflareFake;
  let clock: ManualClock;

  const provider = (overrides: Partial<CloudflareOptions> = {}) =>
    new CloudflareFirewall({
      apiToken: CF_TOKEN,
      accountId: CF_ACCOUNT,
      baseUrl: fake.baseUrl,
      http: { now: clock.now, sleep: clock.sleep, random: () => 0.5 },
      ...overrides,
    });

  beforeEach(async () => {
    ({ clock, fake } = await startOnManualClock(startCloudflareFake, Date.UTC(2026, 0, 15, 12, 0, 0)));
  });
  afterEach(() => closeAfterContractCheck(fake));

  it('block, list, unblock round trip with the documented request shapes', async () => {
    const fw = provider();
    await fw.ensureReady();
    await fw.block([
      { address: '198.51.100.4', comment: 'alert 7', ttlSeconds: 3600 },
      { address: '2001:db8::4' },
      { address: '203.0.113.0/24' },
      { address: '2001:db8:1::/48' },
    ]);
    const posts = fake.server.requestsTo('POST', RULES);
    assert.deepEqual(
      posts.map((r) => r.json),
      [
        { mode: 'block', configuration: { target: 'ip', value: '198.51.100.4' }, notes: 'soar: alert 7' },
        { mode: 'block', configuration: { target: 'ip6', value: '2001:db8::4' }, notes: 'soar' },
        { mode: 'block', configuration: { target: 'ip_range', value: '203.0.113.0/24' }, notes: 'soar' },
        { mode: 'block', configuration: { target: 'ip_range', value: '2001:db8:1::/48' }, notes: 'soar' },
      ],
    );
    const searches = fake.server.requestsTo('GET', RULES).filter((r) => r.query['configuration.value']);
    assert.deepEqual(
      searches.map((r) => r.query['configuration.value']),
      ['198.51.100.4', '2001:db8::4', '203.0.113.0/24', '2001:db8:1::/48'],
    );
    assert.ok(fake.server.requests.every((r) => r.headers.authorization === `Bearer ${CF_TOKEN}`));

    fake.addRule({ value: '192.0.2.50', notes: 'blocked by hand' }); // not ours: never listed or removed
    const listed = await fw.list();
    assert.deepEqual(listed.map((b) => b.address).sort(), ['198.51.100.4', '2001:db8:1::/48', '2001:db8::4', '203.0.113.0/24']);
    assert.equal(listed.find((b) => b.address === '198.51.100.4')!.comment, 'alert 7');
    assert.ok(
      listed.every((b) => b.expiresInSeconds === undefined),
      'no native expiry',
    );
    assert.equal(fake.server.requestsTo('GET', RULES).at(-1)!.query.mode, 'block');

    await fw.unblock(['198.51.100.4', '203.0.113.0/24', '192.0.2.50', '192.0.2.99', '198.51.100.0/25']);
    assert.equal(fake.server.count('DELETE'), 2);
    assert.deepEqual(fake.rules.map((r) => r.configuration.value).sort(), ['192.0.2.50', '2001:db8:1::/48', '2001:db8::4']);
    assert.deepEqual(fake.violations, []);
  });

  it('uses the zone path for a zone-scoped instance', async () => {
    await provider({ accountId: undefined, zoneId: CF_ZONE }).block([{ address: '198.51.100.5' }]);
    assert.equal(fake.server.count('POST', `/client/v4/zones/${CF_ZONE}/firewall/access_rules/rules`), 1);
    assert.equal(fake.rules[0].scope, `zones/${CF_ZONE}`);
  });

  it('refuses prefix lengths Cloudflare cannot hold, naming the allowed ones, before any request', async () => {
    const fw = provider();
    await rejectsWith(fw.block([{ address: '198.51.100.1' }, { address: '198.51.96.0/20' }]), 'BAD_REQUEST', /IPv4 ranges of \/16 or \/24 only/);
    await rejectsWith(fw.block([{ address: '2001:db8::/56' }]), 'BAD_REQUEST', /IPv6 ranges of \/32, \/48 or \/64 only/);
    assert.equal(fake.server.requests.length, 0);
  });

  it('an invalid address is refused before any request', async () => {
    const fw = provider();
    await rejectsWith(fw.block([{ address: '198.51.100.1' }, { address: '198.51.100.256' }]), 'BAD_REQUEST', /refused before calling Cloudflare/);
    await rejectsWith(fw.unblock(['fe80::1%eth0']), 'BAD_REQUEST');
    assert.equal(fake.server.requests.length, 0);
  });

  it('an existing block rule counts as blocked; a rule of another mode is a CONFLICT and nothing is created', async () => {
    fake.addRule({ value: '198.51.100.6', notes: 'soar: earlier' });
    const fw = provider();
    await fw.block([{ address: '198.51.100.6', comment: 'earlier' }]);
    assert.equal(fake.server.count('POST'), 0);

    fake.addRule({ value: '198.51.100.7', mode: 'whitelist', notes: 'partner' });
    await rejectsWith(fw.block([{ address: '198.51.100.8' }, { address: '198.51.100.7' }]), 'CONFLICT', /198\.51\.100\.7 already has a "whitelist" rule/);
    assert.equal(fake.server.count('POST'), 0);
    assert.equal(fake.rules.length, 2);
  });

  it('a re-block with a new comment relabels our rule (PATCH notes); without one it changes nothing', async () => {
    const rule = fake.addRule({ value: '198.51.100.9', notes: 'soar: first' });
    const fw = provider();
    await fw.block([{ address: '198.51.100.9' }]);
    assert.equal(fake.server.count('PATCH'), 0);
    await fw.block([{ address: '198.51.100.9', comment: 'second' }]);
    assert.deepEqual(
      fake.server.requestsTo('PATCH', `${RULES}/${rule.id}`).map((r) => r.json),
      [{ notes: 'soar: second' }],
    );
    assert.equal(fake.server.count('POST'), 0);
  });

  it('HTTP 200 with "success": false is an error, and rules created by the call are deleted again', async () => {
    fake.script('POST', null, {
      status: 200,
      body: { success: false, errors: [{ code: 10001, message: 'firewallaccessrules.api.internal_error' }], messages: [], result: null },
    });
    const error = await rejectsWith(
      provider().block([{ address: '198.51.100.10' }, { address: '198.51.100.11' }, { address: '198.51.100.12' }]),
      'BAD_REQUEST',
      /nothing blocked; rolled back 1 created.*failure in body: 10001 firewallaccessrules\.api\.internal_error/,
    );
    assert.equal(error.status, 200);
    assert.equal(error.vendorCode, '10001');
    assert.equal(fake.server.count('POST'), 2, 'a refusal in the body is not retried');
    assert.equal(fake.server.count('DELETE'), 1);
    assert.deepEqual(fake.rules, []);
  });

  it('waits out a 429 with Retry-After on a create, then succeeds', async () => {
    fake.script('POST', { ...cfFailure(429, 10000, 'Rate limited. Please wait and consider throttling your request speed'), headers: { 'retry-after': '7' } });
    await provider().block([{ address: '198.51.100.13' }]);
    const posts = fake.server.requestsTo('POST', RULES);
    assert.equal(posts.length, 2);
    assert.ok(posts[1].at - posts[0].at >= 7000, `retried after ${posts[1].at - posts[0].at} ms`);
    assert.equal(fake.rules.length, 1);
  });

  it("a 429 asking for 5 minutes (Cloudflare's block period) fails fast as RATE_LIMITED, then later calls too", async () => {
    fake.script('POST', {
      ...cfFailure(429, 10000, 'Rate limited. Please wait and consider throttling your request speed'),
      headers: { 'retry-after': '300' },
    });
    const fw = provider();
    const error = await rejectsWith(fw.block([{ address: '198.51.100.19' }]), 'RATE_LIMITED');
    assert.equal(error.retryAfterMs, 300_000);
    assert.ok(error.retryable);
    const before = fake.server.requests.length;
    await rejectsWith(fw.list(), 'RATE_LIMITED');
    assert.equal(fake.server.requests.length, before, 'paused: no request until the hint has passed');
  });

  it('retries a 500 on a search (idempotent) but not on a create', async () => {
    fake.script('GET', { status: 500, body: 'internal' });
    await provider().block([{ address: '198.51.100.14' }]);
    assert.equal(fake.server.count('GET'), 2);
    assert.equal(fake.rules.length, 1);

    fake.server.requests.length = 0;
    fake.script('POST', null, { status: 500, body: { success: false, errors: [{ code: 10002, message: 'internal error' }] } });
    await rejectsWith(provider().block([{ address: '198.51.100.15' }, { address: '198.51.100.16' }]), 'SERVER', /rolled back 1 created/);
    assert.equal(fake.server.count('POST'), 2, 'the 500 on the create is not retried');
    assert.deepEqual(
      fake.rules.map((r) => r.configuration.value),
      ['198.51.100.14'],
    );
  });

  it('a create whose answer was lost (502) is retried, and the duplicate answer then counts as done', async () => {
    fake.loseNextCreateAnswer = true;
    await provider().block([{ address: '198.51.100.17' }]);
    assert.equal(fake.server.count('POST'), 2);
    assert.equal(fake.rules.length, 1);
  });

  it('a bad token gives AUTH (Cloudflare answers 403 + code 10000), without the token in the error', async () => {
    const wrongToken = 'cf-token-WRONG-aaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    const error = await rejectsWith(provider({ apiToken: wrongToken }).block([{ address: '198.51.100.18' }]), 'AUTH', /Authentication error/);
    assert.equal(error.retryable, false);
    for (const text of [error.message, error.stack ?? '', JSON.stringify(error), inspect(error)]) assert.ok(!text.includes(wrongToken));
    assert.equal(fake.rules.length, 0);
  });

  it('reads every page of the list', async () => {
    for (let i = 0; i < 230; i++) fake.addRule({ value: `198.18.${Math.floor(i / 200)}.${i % 200}`, notes: 'soar' });
    const listed = await provider().list();
    assert.equal(listed.length, 230);
    assert.equal(fake.server.count('GET'), 3);
  });

  it('an empty notes prefix manages every block rule of the scope', async () => {
    fake.addRule({ value: '192.0.2.60', notes: 'by hand' });
    const fw = provider({ notesPrefix: '' });
    assert.deepEqual(
      (await fw.list()).map((b) => b.address),
      ['192.0.2.60'],
    );
    await fw.unblock(['192.0.2.60']);
    assert.deepEqual(fake.rules, []);
  });
});
