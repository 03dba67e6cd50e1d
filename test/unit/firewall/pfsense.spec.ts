import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { PfsenseFirewall, type PfsenseOptions } from '../../../lib/firewall/pfsense';
import type { ManualClock } from '../../helpers/fake-server';
import { closeAfterContractCheck, rejectsWith, startOnManualClock } from '../../helpers/provider-spec';
import { PFSENSE_API_KEY, PFSENSE_PASSWORD, PFSENSE_USER, pfEnvelope, pfFailureIn200, startPfsenseFake, type PfsenseFake } from '../../fakes/pfsense';

function assertNoLeak(error: Error, secrets: string[]): void {
  for (const text of [error.message, error.stack ?? '', JSON.stringify(error), inspect(error)]) {
    for (const secret of secrets) assert.ok(!text.includes(secret), `secret leaked: ${text.slice(0, 200)}`);
  }
}

describe('PfsenseFirewall against the pfrest v2 contract fake', () => {
  let fake: PfsenseFake;
  let clock: ManualClock;

  const provider = (overrides: Partial<PfsenseOptions> = {}) =>
    new PfsenseFirewall({
      url: fake.url,
      auth: { apiKey: PFSENSE_API_KEY },
      http: { now: clock.now, sleep: clock.sleep, random: () => 0.5 },
      ...overrides,
    });
  const soarAlias = () => fake.aliases.find((a) => a.name === 'soar_block')!;

  beforeEach(async () => {
    ({ clock, fake } = await startOnManualClock(startPfsenseFake, Date.UTC(2026, 0, 15, 12, 0, 0)));
  });
  afterEach(() => closeAfterContractCheck(fake));

  it('block, list, unblock round trip: one PATCH with the full list, then apply', async () => {
    const fw = provider();
    await fw.ensureReady();
    await fw.block([{ address: '203.0.113.7', comment: 'alert|42' }, { address: '198.51.100.9/24', ttlSeconds: 60 }, { address: '2001:db8::7' }]);

    const reads = fake.server.requestsTo('GET', '/api/v2/firewall/aliases');
    assert.ok(reads.every((r) => r.query.name === 'soar_block' && r.headers['x-api-key'] === PFSENSE_API_KEY));
    const patches = fake.server.requestsTo('PATCH', '/api/v2/firewall/alias');
    assert.equal(patches.length, 1, 'all targets in one PATCH');
    assert.deepEqual(patches[0].json, {
      id: 1,
      address: ['203.0.113.7', '198.51.100.0/24', '2001:db8::7'],
      detail: ['soar: alert 42', 'soar', 'soar'],
    });
    assert.equal(fake.server.count('POST', '/api/v2/firewall/apply'), 1);
    assert.deepEqual(fake.applied.get('soar_block'), ['203.0.113.7', '198.51.100.0/24', '2001:db8::7']);

    const listed = await fw.list();
    assert.deepEqual(listed, [
      { address: '203.0.113.7', comment: 'soar: alert 42' },
      { address: '198.51.100.0/24', comment: 'soar' },
      { address: '2001:db8::7', comment: 'soar' },
    ]);

    await fw.unblock(['198.51.100.0/24', '192.0.2.200']);
    assert.deepEqual(soarAlias().address, ['203.0.113.7', '2001:db8::7']);
    assert.deepEqual(soarAlias().detail, ['soar: alert 42', 'soar']);
    assert.deepEqual(fake.applied.get('soar_block'), ['203.0.113.7', '2001:db8::7']);
    assert.deepEqual(fake.aliases[0].address, ['192.0.2.10'], 'other aliases untouched');
    assert.deepEqual(fake.violations, []);
  });

  it('changes nothing (no PATCH, no apply) when every address is already there or already absent', async () => {
    soarAlias().address = ['203.0.113.7'];
    soarAlias().detail = ['manual'];
    const fw = provider();
    await fw.block([{ address: '203.0.113.7' }]);
    await fw.unblock(['198.51.100.1']);
    assert.equal(fake.server.count('PATCH'), 0);
    assert.equal(fake.server.count('POST', '/api/v2/firewall/apply'), 0);
  });

  it('keeps entries it did not write, with their descriptions aligned', async () => {
    soarAlias().address = ['192.0.2.1', 'bad.example.net'];
    soarAlias().detail = ['manual'];
    const fw = provider();
    await fw.block([{ address: '192.0.2.2' }]);
    assert.deepEqual(soarAlias().address, ['192.0.2.1', 'bad.example.net', '192.0.2.2']);
    assert.deepEqual(soarAlias().detail, ['manual', '', 'soar']);
    assert.deepEqual(
      (await fw.list()).map((b) => b.address),
      ['192.0.2.1', '192.0.2.2'],
      'a host name is not listed',
    );
  });

  it('logs in once with Basic for a JWT, reuses it, and renews it before it expires', async () => {
    const fw = provider({ auth: { username: PFSENSE_USER, password: PFSENSE_PASSWORD } });
    await fw.block([{ address: '203.0.113.1' }]);
    await fw.block([{ address: '203.0.113.2' }]);
    assert.equal(fake.server.count('POST', '/api/v2/auth/jwt'), 1);
    const basic = `Basic ${Buffer.from(`${PFSENSE_USER}:${PFSENSE_PASSWORD}`).toString('base64')}`;
    assert.equal(fake.server.requestsTo('POST', '/api/v2/auth/jwt')[0].headers.authorization, basic);
    const others = fake.server.requests.filter((r) => r.path !== '/api/v2/auth/jwt');
    assert.ok(others.every((r) => r.headers.authorization === `Bearer ${fake.tokens[0]}`));

    await clock.advance(3600_000 - 30_000); // inside the renewal margin
    await fw.list();
    assert.equal(fake.server.count('POST', '/api/v2/auth/jwt'), 2);
    assert.equal(fake.server.requests.at(-1)!.headers.authorization, `Bearer ${fake.tokens[1]}`);
  });

  it('logs in again once when the JWT is refused (revoked) and completes the call', async () => {
    const fw = provider({ auth: { username: PFSENSE_USER, password: PFSENSE_PASSWORD } });
    await fw.list();
    fake.revokeTokens();
    await fw.block([{ address: '203.0.113.3' }]);
    assert.equal(fake.server.count('POST', '/api/v2/auth/jwt'), 2);
    assert.deepEqual(fake.applied.get('soar_block'), ['203.0.113.3']);
  });

  it('bad credentials give AUTH without the password, key or token in the error', async () => {
    const wrongPassword = 'pf-wrong-Jk8#Lm2!';
    const jwtError = await rejectsWith(provider({ auth: { username: PFSENSE_USER, password: wrongPassword } }).list(), 'AUTH');
    assertNoLeak(jwtError, [wrongPassword, Buffer.from(`${PFSENSE_USER}:${wrongPassword}`).toString('base64')]);

    const wrongKey = 'pf-key-ffffffffffffffffffffffffffffffff';
    const keyError = await rejectsWith(provider({ auth: { apiKey: wrongKey } }).block([{ address: '203.0.113.4' }]), 'AUTH');
    assertNoLeak(keyError, [wrongKey]);
    assert.equal(fake.server.count('PATCH'), 0);
  });

  it('a failure code inside an HTTP 200 envelope is an error, and nothing is applied', async () => {
    fake.script('/api/v2/firewall/alias', pfFailureIn200(400, 'INVALID_HOST_ALIAS_ADDRESS', 'Host alias `address` values must be valid IPs or FQDNs.'));
    const error = await rejectsWith(provider().block([{ address: '203.0.113.5' }]), 'BAD_REQUEST', /failure in body: code 400 INVALID_HOST_ALIAS_ADDRESS/);
    assert.equal(error.status, 200);
    assert.equal(error.vendorCode, 'INVALID_HOST_ALIAS_ADDRESS');
    assert.equal(fake.server.count('PATCH'), 1, 'a refusal is not retried');
    assert.equal(fake.server.count('POST', '/api/v2/firewall/apply'), 0);
    assert.deepEqual(fake.applied.get('soar_block'), []);
  });

  it('when the apply fails, the previous list is written back before the error', async () => {
    soarAlias().address = ['192.0.2.1'];
    soarAlias().detail = ['manual'];
    fake.script('/api/v2/firewall/apply', pfFailureIn200(500, 'FIREWALL_APPLY_FAILED', 'filter reload failed'));
    await rejectsWith(provider().block([{ address: '203.0.113.6' }]), 'SERVER', /nothing changed \(apply failed; previous list restored\)/);
    const patches = fake.server.requestsTo('PATCH', '/api/v2/firewall/alias');
    assert.equal(patches.length, 2);
    assert.deepEqual(patches[1].json, { id: 1, address: ['192.0.2.1'], detail: ['manual'] });
    assert.deepEqual(soarAlias().address, ['192.0.2.1']);
  });

  it('waits out a 429 with Retry-After on the PATCH, then succeeds', async () => {
    fake.script('/api/v2/firewall/alias', { ...pfEnvelope(429, 'TOO_MANY_REQUESTS', 'slow down'), headers: { 'retry-after': '5' } });
    await provider().block([{ address: '203.0.113.8' }]);
    const patches = fake.server.requestsTo('PATCH', '/api/v2/firewall/alias');
    assert.equal(patches.length, 2);
    assert.ok(patches[1].at - patches[0].at >= 5000);
    assert.deepEqual(fake.applied.get('soar_block'), ['203.0.113.8']);
  });

  it('retries 5xx on the alias read (idempotent GET) and succeeds', async () => {
    fake.script('/api/v2/firewall/aliases', pfEnvelope(503, 'SERVICE_UNAVAILABLE'), pfEnvelope(502, 'BAD_GATEWAY'));
    await provider().block([{ address: '203.0.113.9' }]);
    assert.equal(fake.server.count('GET', '/api/v2/firewall/aliases'), 3);
    assert.deepEqual(fake.applied.get('soar_block'), ['203.0.113.9']);
  });

  it('refuses a network for a Host(s) alias before PATCHing, and explains a missing alias', async () => {
    soarAlias().type = 'host';
    await rejectsWith(provider().block([{ address: '198.51.100.0/24' }]), 'BAD_REQUEST', /is a network but alias "soar_block" is a Host\(s\) alias/);
    assert.equal(fake.server.count('PATCH'), 0);

    await rejectsWith(provider({ alias: 'nope' }).ensureReady(), 'NOT_FOUND', /alias "nope" does not exist.*Firewall > Aliases/);
    fake.aliases.push({ name: 'ports', type: 'port', descr: '', address: ['443'], detail: [] });
    await rejectsWith(provider({ alias: 'ports' }).ensureReady(), 'BAD_REQUEST', /type "port"/);
  });

  it('an invalid address is refused before any request', async () => {
    const fw = provider({ auth: { username: PFSENSE_USER, password: PFSENSE_PASSWORD } });
    await rejectsWith(fw.block([{ address: '203.0.113.7' }, { address: '203.0.113.0/33' }]), 'BAD_REQUEST', /refused before calling pfSense/);
    await rejectsWith(fw.unblock(['0x7f.0.0.1']), 'BAD_REQUEST');
    assert.equal(fake.server.requests.length, 0, 'not even a login');
  });
});
