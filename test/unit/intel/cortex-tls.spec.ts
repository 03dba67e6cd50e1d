import assert from 'node:assert/strict';
import { createIntelProvider } from '../../../lib/intel/registry';
import { startCortexFake, type CortexFake } from '../../fakes/cortex';
import { startTlsFront, type TlsFront } from '../../helpers/tls-front';

const API_KEY = 'cortexKey+tls0123456789abcdef';

describe('Cortex source on a self-signed HTTPS server (verifyTls from the form)', function () {
  this.timeout(30000);
  let fake: CortexFake;
  let front: TlsFront;
  beforeEach(async () => {
    fake = await startCortexFake({ apiKey: API_KEY });
    fake.addAnalyzer({
      id: 'sh01',
      name: 'Shodan_Host_1_0',
      dataTypeList: ['ip'],
      default: { taxonomies: [{ level: 'suspicious', namespace: 'Shodan', predicate: 'Ports', value: 3 }] },
    });
    front = await startTlsFront(fake.baseURL);
  });
  afterEach(async () => {
    await front.close();
    await fake.close();
  });

  const cortex = (extra: Record<string, unknown>) =>
    createIntelProvider({ kind: 'cortex', name: 'Cortex', url: front.url, apiKey: API_KEY, analyzers: 'Shodan_Host_1_0', ...extra });

  it('refuses the self-signed certificate while verification is on (the default)', async () => {
    const p = cortex({});
    try {
      await assert.rejects(p.lookup({ type: 'ipv4', value: '203.0.113.9' }), /certificate/i);
    } finally {
      await p.close?.();
    }
  });

  it("answers through it with verification off, as the form's checkbox sets it", async () => {
    const p = cortex({ verifyTls: 'false' });
    try {
      const result = await p.lookup({ type: 'ipv4', value: '203.0.113.9' });
      assert.equal(result.level, 'suspicious');
    } finally {
      await p.close?.();
    }
  });
});
