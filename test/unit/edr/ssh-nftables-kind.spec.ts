import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createEdr } from '../../../lib/edr/registry';
import { parseInventory } from '../../../lib/edr/kinds/ssh-nftables';
import { SshNftablesIsolation } from '../../../lib/edr/ssh-nftables';

const PIN = 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU';

describe('the ssh-nftables EDR kind (descriptor)', () => {
  it('reads the host inventory: names, IPv4 and bracketed IPv6 with ports, pins and per-host tables', () => {
    const hosts = parseInventory(`# web tier\nweb-1 198.18.0.10 ${PIN}\nweb-2 198.18.0.11:2222 ${PIN} soar_web2\ndb-1 [2001:2::10]:22 ${PIN}\n`);
    assert.deepEqual(hosts, [
      { name: 'web-1', address: '198.18.0.10', hostKeySha256: PIN },
      { name: 'web-2', address: '198.18.0.11', port: 2222, hostKeySha256: PIN, table: 'soar_web2' },
      { name: 'db-1', address: '2001:2::10', port: 22, hostKeySha256: PIN },
    ]);
  });

  it('refuses a host without a pinned key, a malformed line and extra words, naming the line', () => {
    assert.throws(() => parseInventory('web-1 198.18.0.10'), /hosts line 1: expected/);
    assert.throws(() => parseInventory(`\nweb-1 198.18.0.10 md5:abc`), /hosts line 2: the host key pin/);
    assert.throws(() => parseInventory(`web-1 198.18.0.10 ${PIN} t extra`), /hosts line 1: expected/);
  });

  it('builds the provider through the registry, and refuses a bad inventory at deploy without showing the key', () => {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      publicKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
    const built = createEdr({ kind: 'ssh-nftables', name: 'iso', hosts: `web-1 198.18.0.10 ${PIN}`, username: 'soar', privateKey });
    assert.ok(built.provider instanceof SshNftablesIsolation);
    assert.equal(built.provider.kind, 'ssh-nftables');
    assert.throws(
      () => createEdr({ kind: 'ssh-nftables', name: 'iso', hosts: 'web-1 198.18.0.10', username: 'soar', privateKey }),
      (e: Error) => /hosts line 1/.test(e.message) && !e.message.includes('PRIVATE KEY'),
    );
  });
});
