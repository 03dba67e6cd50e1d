import assert from 'node:assert/strict';
import { editorView, isCredential } from '../../../lib/providers/descriptor';
import { createEdr, edrDescriptor, edrDescriptors, edrKinds } from '../../../lib/edr/registry';
import { WazuhEdr } from '../../../lib/edr/wazuh';
import { closeAfterContractCheck } from '../../helpers/provider-spec';
import { S1_TOKEN, startSentinelOneFake } from '../../fakes/sentinelone';

describe('EDR descriptors', () => {
  it('list the five kinds, each with its credentials marked and plain JSON for the editor', () => {
    assert.deepEqual(edrKinds(), ['crowdstrike', 'defender', 'sentinelone', 'wazuh', 'ssh-nftables']);
    const view = editorView(edrDescriptors());
    assert.deepEqual(JSON.parse(JSON.stringify(view)), view);
    const credentials = (kind: string) =>
      edrDescriptor(kind)!
        .fields.filter(isCredential)
        .map((f) => f.name);
    assert.deepEqual(credentials('crowdstrike'), ['clientSecret']);
    assert.deepEqual(credentials('defender'), ['clientSecret']);
    assert.deepEqual(credentials('sentinelone'), ['apiKey']);
    assert.deepEqual(credentials('wazuh'), ['password']);
    assert.deepEqual(credentials('ssh-nftables'), ['privateKey', 'passphrase']);
    assert.equal(edrDescriptor('wazuh')!.supports.status, false);
    assert.deepEqual(edrDescriptor('defender')!.supports.isolationTypes, ['Full', 'Selective']);
  });

  it('refuse missing or malformed settings at build time without showing a credential', () => {
    assert.throws(() => createEdr({ kind: 'crowdstrike', name: 'x', clientId: 'id' }), /crowdstrike: needs clientSecret/);
    assert.throws(
      () => createEdr({ kind: 'defender', name: 'x', tenantId: 't', clientId: 'c', clientSecret: 's3cr3t-value', isolationType: 'Half' }),
      (e: Error) => /isolationType must be one of Full, Selective/.test(e.message) && !e.message.includes('s3cr3t'),
    );
    assert.throws(
      () => createEdr({ kind: 'wazuh', name: 'x', url: 'https://m:55000', username: 'u', password: 'pw-Secret1', allow: '198.18.0.2\n$(reboot)' }),
      (e: Error) => /allow: .* is not an address/.test(e.message) && !e.message.includes('pw-Secret1'),
    );
    assert.throws(() => createEdr({ kind: 'nope', name: 'x' }), /unknown EDR kind/);
  });

  it('build working providers: SentinelOne against its fake, Wazuh with its defaults and allow list', async () => {
    const fake = await startSentinelOneFake();
    try {
      fake.addAgent({ computerName: 'web01', ip: '198.18.0.31' });
      const { provider } = createEdr({ kind: 'sentinelone', name: 'node-1', url: fake.url, apiKey: S1_TOKEN });
      assert.equal(provider.name, 'node-1');
      assert.equal((await provider.resolve('web01')).name, 'web01');
      await provider.close();
    } finally {
      await closeAfterContractCheck(fake);
    }
    const { provider: wazuh } = createEdr({
      kind: 'wazuh',
      name: 'w',
      url: 'https://m:55000',
      username: 'u',
      password: 'p',
      allow: '198.18.0.2, 198.18.1.0/24',
    });
    assert.ok(wazuh instanceof WazuhEdr);
    assert.equal(wazuh.capabilities.status, false);
    await wazuh.close();
  });
});
