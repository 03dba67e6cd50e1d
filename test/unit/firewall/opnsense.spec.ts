import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { OpnsenseFirewall } from '../../../lib/firewall/opnsense';
import type { ManualClock } from '../../helpers/fake-server';
import { closeAfterContractCheck, rejectsWith, startOnManualClock } from '../../helpers/provider-spec';
import { OPNSENSE_KEY, OPNSENSE_SECRET, startOpnsenseFake, type OpnsenseFake } from '../../fakes/opnsense';

describe('OpnsenseFirewall against the OPNsense contract fake', () => {
  let fake: OpnsenseFake;
  let clock: ManualClock;

  const provider = (overrides: Partial<ConstructorParameters<typeof OpnsenseFirewall>[0]> = {}) =>
    new OpnsenseFirewall({
      url: fake.url,
      apiKey: OPNSENSE_KEY,
      apiSecret: OPNSENSE_SECRET,
      http: { now: clock.now, sleep: clock.sleep, random: () => 0.5 },
      ...overrides,
    });

  beforeEach(async () => {
    ({ clock, fake } = await startOnManualClock(startOpnsenseFake, Date.UTC(2026, 0, 15, 12, 0, 0)));
  });
  afterEach(() => closeAfterContractCheck(fake));

  it('ensureReady finds the alias by name and checks its type, with Basic key:secret auth', async () => {
    await provider().ensureReady();
    const paths = fake.server.requests.map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(paths, ['GET /api/firewall/alias/getAliasUUID/soar_block', 'GET /api/firewall/alias/getItem/3f2c6b8e-1a2b-4c3d-8e9f-001122334455']);
    const expected = `Basic ${Buffer.from(`${OPNSENSE_KEY}:${OPNSENSE_SECRET}`).toString('base64')}`;
    assert.ok(fake.server.requests.every((r) => r.headers.authorization === expected));
    assert.deepEqual(fake.violations, []);
  });

  it('ensureReady explains how to create a missing alias, and refuses an alias of the wrong type', async () => {
    fake.aliases.delete('soar_block');
    const missing = await rejectsWith(provider().ensureReady(), 'NOT_FOUND', /alias "soar_block" does not exist/);
    assert.match(missing.message, /Firewall > Aliases/);
    assert.match(missing.message, /Host\(s\) or Network\(s\)/);

    fake.aliases.set('ports', { uuid: 'aaaa-bbbb', type: 'port', content: [] });
    await rejectsWith(provider({ alias: 'ports' }).ensureReady(), 'BAD_REQUEST', /type "port"/);
  });

  it('refuses an alias name that could change the request path', () => {
    assert.throws(() => provider({ alias: '../core/firmware' }), /invalid OPNsense alias name/);
    assert.throws(() => provider({ alias: 'a'.repeat(33) }), /invalid OPNsense alias name/);
  });

  it('block, list, unblock round trip: one POST per new address with {"address"}', async () => {
    const fw = provider();
    await fw.block([{ address: '203.0.113.7', ttlSeconds: 600, comment: 'alert 1' }, { address: '198.51.100.77/24' }, { address: '2001:DB8::5' }]);
    const adds = fake.server.requestsTo('POST', '/api/firewall/alias_util/add/soar_block');
    assert.deepEqual(
      adds.map((r) => r.json),
      [{ address: '203.0.113.7' }, { address: '198.51.100.0/24' }, { address: '2001:db8::5' }],
    );
    assert.ok(adds.every((r) => /application\/json/.test(r.headers['content-type'] ?? '')));
    assert.deepEqual([...fake.tables.get('soar_block')!].sort(), ['198.51.100.0/24', '2001:db8::5', '203.0.113.7']);
    assert.deepEqual(fake.aliases.get('soar_block')!.content, ['203.0.113.7/32', '198.51.100.0/24', '2001:db8::5/128']);

    const listed = await fw.list();
    assert.deepEqual(listed.map((b) => b.address).sort(), ['198.51.100.0/24', '2001:db8::5', '203.0.113.7']);
    assert.ok(
      listed.every((b) => b.expiresInSeconds === undefined),
      'no native expiry',
    );

    await fw.unblock(['203.0.113.7', '192.0.2.99']); // the second one was never blocked: fine
    const deletes = fake.server.requestsTo('POST', '/api/firewall/alias_util/delete/soar_block');
    assert.deepEqual(
      deletes.map((r) => r.json),
      [{ address: '203.0.113.7' }, { address: '192.0.2.99' }],
    );
    assert.deepEqual((await fw.list()).map((b) => b.address).sort(), ['198.51.100.0/24', '2001:db8::5']);
    assert.deepEqual(fake.violations, []);
  });

  it('does not add an address the table already holds', async () => {
    fake.tables.get('soar_block')!.add('203.0.113.7');
    await provider().block([{ address: '203.0.113.7' }, { address: '203.0.113.8' }]);
    const adds = fake.server.requestsTo('POST', /\/add\//);
    assert.deepEqual(
      adds.map((r) => r.json),
      [{ address: '203.0.113.8' }],
    );
  });

  it('HTTP 200 with {"status":"failed"} is an error, and what this call added is rolled back', async () => {
    fake.tables.get('soar_block')!.add('192.0.2.1'); // blocked before: must survive the rollback
    fake.script('/alias_util/add/', null, { body: { status: 'failed' } }); // the second add is refused in the body
    const error = await rejectsWith(
      provider().block([{ address: '203.0.113.10' }, { address: '203.0.113.11' }, { address: '203.0.113.12' }]),
      'BAD_REQUEST',
      /nothing blocked; rolled back 1 added.*failure in body.*status "failed"/,
    );
    assert.equal(error.vendorCode, 'failed');
    assert.equal(error.status, 200);
    assert.equal(fake.server.requestsTo('POST', /\/add\//).length, 2, 'stops at the first failure');
    assert.deepEqual(
      fake.server.requestsTo('POST', /\/delete\//).map((r) => r.json),
      [{ address: '203.0.113.10' }],
    );
    assert.deepEqual([...fake.tables.get('soar_block')!], ['192.0.2.1']);
    assert.deepEqual(fake.aliases.get('soar_block')!.content, []);
  });

  it('{"status":"not_an_address"} is refused with its vendor code', async () => {
    fake.script('/alias_util/add/', { body: { status: 'not_an_address' } });
    const error = await rejectsWith(provider().block([{ address: '198.51.100.2' }]), 'BAD_REQUEST', /not_an_address/);
    assert.equal(error.vendorCode, 'not_an_address');
    assert.equal(fake.tables.get('soar_block')!.size, 0);
  });

  it('waits out a 429 with Retry-After, then succeeds', async () => {
    fake.script('/alias_util/add/', { status: 429, headers: { 'retry-after': '3' }, body: { message: 'Too Many Requests' } });
    await provider().block([{ address: '203.0.113.20' }]);
    const adds = fake.server.requestsTo('POST', /\/add\//);
    assert.equal(adds.length, 2);
    assert.ok(adds[1].at - adds[0].at >= 3000, `second attempt ${adds[1].at - adds[0].at} ms after the first`);
    assert.ok(fake.tables.get('soar_block')!.has('203.0.113.20'));
  });

  it('retries a 503 on the list read and a 500 on the (idempotent) add', async () => {
    fake.script('/alias_util/list/', { status: 503, body: 'busy' });
    fake.script('/alias_util/add/', { status: 500, body: 'configd timeout' });
    await provider().block([{ address: '203.0.113.30' }]);
    assert.equal(fake.server.requestsTo('GET', /\/list\//).length, 2);
    assert.equal(fake.server.requestsTo('POST', /\/add\//).length, 2);
    assert.ok(fake.tables.get('soar_block')!.has('203.0.113.30'));
  });

  it('bad credentials give AUTH, and the secret appears nowhere in the error', async () => {
    const wrongSecret = 'opn-secret-WRONG-zz9yy8xx7ww6vv5uu4';
    const error = await rejectsWith(provider({ apiSecret: wrongSecret }).ensureReady(), 'AUTH');
    const basic = Buffer.from(`${OPNSENSE_KEY}:${wrongSecret}`).toString('base64');
    for (const text of [error.message, error.stack ?? '', JSON.stringify(error), inspect(error)]) {
      assert.ok(!text.includes(wrongSecret), 'secret leaked');
      assert.ok(!text.includes(basic), 'basic token leaked');
    }
  });

  it('an invalid address is refused before any request', async () => {
    const fw = provider();
    await rejectsWith(fw.block([{ address: '203.0.113.7' }, { address: '203.0.113.7; rm -rf' }]), 'BAD_REQUEST', /refused before calling OPNsense/);
    await rejectsWith(fw.block([{ address: '127.1' }]), 'BAD_REQUEST');
    await rejectsWith(fw.unblock(['203.0.113.7', '::1%eth0']), 'BAD_REQUEST');
    assert.equal(fake.server.requests.length, 0);
  });

  it('reads a paged list completely, and the older plain-array list', async () => {
    const table = fake.tables.get('soar_block')!;
    for (let i = 1; i <= 7; i++) table.add(`198.51.100.${i}`);
    table.add('not-an-address.example');
    fake.defaultRowCount = 3; // firmware that pages even without rowCount
    const paged = await provider().list();
    assert.equal(paged.length, 7);

    fake.paged = false;
    const plain = await provider().list();
    assert.deepEqual(plain.map((b) => b.address).sort(), [...table].filter((a) => !a.includes('example')).sort());
  });
});
