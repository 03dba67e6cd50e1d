import assert from 'node:assert/strict';
import * as path from 'node:path';
import { createIntelProvider, intelDescriptor } from '../../../lib/intel/registry';
import { readFields } from '../../../lib/providers/descriptor';

const fixture = path.join(__dirname, '..', '..', 'fixtures', 'feeds', 'feodo.json');

describe('abuse.ch Feodo Tracker (a kind added as one descriptor file)', () => {
  it('is found by the registry without being listed anywhere', () => {
    assert.equal(intelDescriptor('feodo')?.label, 'abuse.ch Feodo Tracker');
  });

  it('answers a listed C2 address as malicious and an unlisted one as not listed', async () => {
    const p = createIntelProvider({ kind: 'feodo', name: 'Feodo', file: fixture });
    try {
      const hit = await p.lookup({ type: 'ipv4', value: '198.51.100.77' });
      assert.equal(hit.level, 'malicious');
      assert.equal(hit.found, true);
      assert.match(hit.summary, /Feodo/);
      const miss = await p.lookup({ type: 'ipv4', value: '192.0.2.1' });
      assert.equal(miss.found, false);
      assert.deepEqual([...p.types], ['ipv4']);
      assert.equal(p.external, false);
    } finally {
      await p.close?.();
    }
  });

  it("downloads abuse.ch's list when no file is given (the URL is only the default, not required)", () => {
    const values = readFields(intelDescriptor('feodo')!, {});
    assert.equal(values.file, undefined);
    assert.equal(values.refreshMinutes, 60);
  });
});
