import assert from 'node:assert/strict';
import { createFirewall } from '../../../lib/firewall/registry';
import type { StateStore } from '../../../lib/core/types';
import { OPNSENSE_KEY, OPNSENSE_SECRET, startOpnsenseFake, type OpnsenseFake } from '../../fakes/opnsense';
import { startTlsFront, type TlsFront } from '../../helpers/tls-front';

const store = {} as StateStore; // the HTTPS kinds keep nothing in the hub's store

describe('HTTPS firewalls with a self-signed certificate (verifyTls, caCert)', function () {
  this.timeout(30000);
  let fake: OpnsenseFake;
  let front: TlsFront;
  beforeEach(async () => {
    fake = await startOpnsenseFake();
    front = await startTlsFront(fake.url);
  });
  afterEach(async () => {
    await front.close();
    await fake.close();
  });

  const opnsense = (extra: Record<string, unknown>) =>
    createFirewall({
      kind: 'opnsense',
      name: 'fw1',
      store,
      url: front.url,
      apiKey: OPNSENSE_KEY,
      apiSecret: OPNSENSE_SECRET,
      listName: 'soar_block',
      http: { retry: { maxAttempts: 1 } },
      ...extra,
    }).provider;

  it('refuses the self-signed certificate by default, and says why', async () => {
    const fw = opnsense({});
    await assert.rejects(fw.ensureReady(), /self[- ]signed|certificate/i);
    await fw.close?.();
    assert.equal(fake.server.requests.length, 0, 'nothing reached the API');
  });

  it("trusts the device's certificate given as the CA", async () => {
    const fw = opnsense({ caCert: front.cert });
    await fw.ensureReady();
    await fw.block([{ address: '203.0.113.7' }]);
    assert.deepEqual(
      (await fw.list()).map((b) => b.address),
      ['203.0.113.7'],
    );
    await fw.close?.();
  });

  it('accepts any certificate with verification off (flows keep verifyTls true unless changed)', async () => {
    const fw = opnsense({ verifyTls: false });
    await fw.ensureReady();
    await fw.close?.();
    assert.ok(fake.server.requests.length > 0);
  });

  it('refuses a CA field that is not a PEM certificate, before any request', () => {
    assert.throws(() => opnsense({ caCert: 'not a certificate' }), /caCert must be a PEM certificate/);
  });
});
