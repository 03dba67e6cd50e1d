import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileStateStore } from '../../../lib/core/file-store';
import { IntelBroker, cacheNamespace } from '../../../lib/intel/broker';
import type { Indicator, IntelProvider, IntelResult } from '../../../lib/intel/types';

/** A feed-like source: answers from a list the test changes, and says it must not be cached. */
function localList(listed: Set<string>): IntelProvider & { calls: number } {
  const provider = {
    kind: 'feed',
    name: 'local list',
    types: ['ipv4'] as const,
    external: false,
    cacheable: false,
    calls: 0,
    async lookup(indicator: Indicator): Promise<IntelResult> {
      provider.calls++;
      const found = listed.has(indicator.value);
      return {
        source: 'local list',
        provider: 'feed',
        indicator,
        level: found ? 'malicious' : 'unknown',
        found,
        evidence: {},
        summary: found ? 'listed' : 'not listed',
        fetchedAt: new Date().toISOString(),
      };
    },
  };
  return provider;
}

describe('intel broker with local (non-cacheable) sources', function () {
  it('asks the source every time and never writes its answers to the cache', async function () {
    const store = await FileStateStore.open(fs.mkdtempSync(path.join(os.tmpdir(), 'soar-broker-local-')));
    try {
      const listed = new Set<string>();
      const source = localList(listed);
      const broker = new IntelBroker({ providers: [source], store });
      const ioc = [{ type: 'ipv4' as const, value: '203.0.113.77' }];
      const first = await broker.enrich(ioc);
      assert.equal(first.results[0].found, false);
      listed.add('203.0.113.77');
      const second = await broker.enrich(ioc);
      assert.equal(second.results[0].found, true, 'a new feed entry counts at once');
      assert.equal(source.calls, 2);
      assert.deepEqual(await store.list(cacheNamespace('local list')), []);
      await broker.close();
    } finally {
      await store.close();
    }
  });
});
