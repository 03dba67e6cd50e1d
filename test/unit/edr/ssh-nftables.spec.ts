import assert from 'node:assert/strict';
import { utils } from 'ssh2';
import { ProviderError } from '../../../lib/core/errors';
import { SshNftablesIsolation, type SshNftablesOptions } from '../../../lib/edr/ssh-nftables';

const PIN = `SHA256:${'A'.repeat(43)}`;
const key = utils.generateKeyPairSync('ed25519').private;

function options(overrides: Partial<SshNftablesOptions> = {}): SshNftablesOptions {
  return {
    name: 'edr-ssh',
    username: 'soar',
    privateKey: key,
    hosts: [
      { name: 'web01', address: '198.18.0.10', hostKeySha256: PIN },
      { name: 'db01', address: '2001:2::10', hostKeySha256: PIN, table: 'iso_db' },
      { id: 'twin-a', name: 'twin', address: '198.18.0.20', hostKeySha256: PIN },
      { id: 'twin-b', name: 'twin', address: '198.18.0.21', hostKeySha256: PIN },
    ],
    ...overrides,
  };
}

function fails(code: string, message: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ProviderError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  };
}

describe('SshNftablesIsolation (configuration and host resolution)', () => {
  it('resolves a host by inventory id, name (any case) or address, canonicalising the address', async () => {
    const provider = new SshNftablesIsolation(options());
    assert.deepEqual(await provider.resolve('web01'), { id: 'web01', name: 'web01', addresses: ['198.18.0.10'] });
    assert.equal((await provider.resolve('WEB01')).id, 'web01');
    assert.equal((await provider.resolve('198.18.0.10')).id, 'web01');
    assert.equal((await provider.resolve('2001:0002::0010')).id, 'db01');
    assert.equal((await provider.resolve('twin-b')).id, 'twin-b');
  });

  it('refuses unknown and ambiguous hosts, naming the candidates', async () => {
    const provider = new SshNftablesIsolation(options());
    await assert.rejects(provider.resolve('mail01'), fails('NOT_FOUND', /unknown host "mail01"/));
    await assert.rejects(provider.resolve('198.18.0.99'), fails('NOT_FOUND', /unknown host/));
    await assert.rejects(provider.resolve('twin'), fails('CONFLICT', /ambiguous host "twin": matches twin-a, twin-b/));
    await assert.rejects(provider.resolve(''), fails('BAD_REQUEST', /no host/));
    await assert.rejects(provider.isolate({ id: 'nope' }), fails('NOT_FOUND', /unknown host id "nope"/));
  });

  it('refuses a bad configuration before any connection, without echoing the key', () => {
    const bad: [Partial<SshNftablesOptions>, RegExp][] = [
      [{ hubAddresses: ['hub.example'] }, /hub address "hub.example" is not an IP address/],
      [{ management: ['198.18.0.1;reboot'] }, /management address/],
      [{ dns: ['8.8.8.8.8'] }, /DNS server/],
      [{ table: 'soar-isolate' }, /table name "soar-isolate" is not allowed/],
      [{ rollbackSeconds: 0 }, /rollbackSeconds/],
      [{ concurrency: 0 }, /concurrency/],
      [{ hosts: [{ address: '198.18.0.10', hostKeySha256: '' }] }, /no hostKeySha256 pin/],
      [{ hosts: [{ address: '198.18.0.10', hostKeySha256: 'md5:xx' }] }, /hostKeySha256 must look like/],
      [{ hosts: [{ address: '198.18.0.0/24', hostKeySha256: PIN }] }, /one address, not a network/],
      [{ hosts: [{ address: 'web01.example', hostKeySha256: PIN }] }, /hosts\[0\]\.address/],
      [
        {
          hosts: [
            { address: '198.18.0.10', hostKeySha256: PIN },
            { address: '198.18.0.10', hostKeySha256: PIN },
          ],
        },
        /appears twice/,
      ],
      [{ hosts: [{ address: '198.18.0.10', hostKeySha256: PIN, table: 'x y' }] }, /not allowed/],
      [{ privateKey: 'not a key' }, /cannot use the private key/],
    ];
    for (const [override, message] of bad) {
      assert.throws(
        () => new SshNftablesIsolation(options(override)),
        (error: unknown) => {
          assert.ok(error instanceof ProviderError && error.code === 'BAD_REQUEST', String(error));
          assert.match(error.message, message);
          assert.ok(!error.message.includes('PRIVATE KEY'));
          return true;
        },
      );
    }
  });

  it('refuses to confirm a handle that is not its own', async () => {
    const provider = new SshNftablesIsolation(options());
    const handle = { v: 1 as const, kind: 'crowdstrike', provider: 'x', op: 'isolate' as const, deviceId: 'web01', requestedAt: new Date().toISOString() };
    await assert.rejects(provider.confirm(handle), fails('BAD_REQUEST', /not an ssh-nftables isolate handle/));
  });
});
