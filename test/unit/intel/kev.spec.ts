/**
 * CISA KEV provider. Fixtures follow the catalog JSON layout documented at
 * https://www.cisa.gov/known-exploited-vulnerabilities-catalog (feed:
 * https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json); the URL test
 * serves it from test/helpers/fake-server on that path. Facts: docs/vendor-facts.md §B.10.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ProviderError } from '../../../lib/core/errors';
import type { LocalFeedProvider } from '../../../lib/intel/providers/feed';
import { createKev, parseKev } from '../../../lib/intel/providers/kev';
import { startFakeServer, type FakeServer } from '../../helpers/fake-server';

const FIXTURE = path.join(__dirname, '../../fixtures/feeds/kev.json');
const DEMO = path.join(__dirname, '../../../feeds/demo-kev.json');
const NOW = Date.UTC(2024, 4, 2, 8, 0, 0);

describe('CISA KEV provider', () => {
  const providers: LocalFeedProvider[] = [];
  const open = (source: Parameters<typeof createKev>[0]['source'], extra: Partial<Parameters<typeof createKev>[0]> = {}) => {
    const kev = createKev({ source, now: () => NOW, http: { proxy: false, retry: { maxAttempts: 1 } }, ...extra });
    providers.push(kev);
    return kev;
  };
  afterEach(async () => {
    await Promise.all(providers.splice(0).map((provider) => provider.close()));
  });

  it('parses the catalog: valid records kept, malformed ones counted, CVE ids normalised', () => {
    const parsed = parseKev({ text: readFileSync(FIXTURE, 'utf8') });
    assert.equal(parsed.entries, 11);
    assert.equal(parsed.skipped, 2);
    assert.ok(parsed.data.has('CVE-2018-13379'), 'lower-case id in the source is normalised');
    assert.deepEqual(parsed.info, {
      title: 'CISA Catalog of Known Exploited Vulnerabilities (test fixture, illustrative values)',
      catalogVersion: '2024.05.01',
      dateReleased: '2024-05-01T15:00:00.0000Z',
    });
    assert.throws(() => parseKev({ text: '{"vulnerabilities": {}}' }), /no "vulnerabilities" array/);
    assert.throws(() => parseKev({ text: '<html>' }), /not JSON/);
  });

  it('a CVE in the catalog is exploited in the wild: malicious, with the catalog facts', async () => {
    const kev = open({ file: FIXTURE });
    await kev.ready();
    assert.equal(kev.kind, 'kev');
    assert.equal(kev.name, 'CISA KEV');
    assert.equal(kev.external, false);
    assert.deepEqual([...kev.types], ['cve']);
    const result = await kev.lookup({ type: 'cve', value: 'CVE-2024-3400' });
    assert.equal(result.found, true);
    assert.equal(result.level, 'malicious');
    assert.equal(result.summary, 'CISA KEV: exploited in the wild (added 2024-04-12)');
    assert.deepEqual(result.evidence, {
      knownExploited: true,
      dateAdded: '2024-04-12',
      vendorProject: 'Palo Alto Networks',
      product: 'PAN-OS',
      vulnerabilityName: 'Palo Alto Networks PAN-OS Command Injection Vulnerability',
      knownRansomwareCampaignUse: 'Unknown',
      dueDate: '2024-04-19',
    });
    assert.equal(result.link, 'https://nvd.nist.gov/vuln/detail/CVE-2024-3400');
    assert.equal(result.fetchedAt, new Date(NOW).toISOString());
  });

  it('known ransomware use is said in the summary', async () => {
    const kev = open({ file: FIXTURE }, { name: 'KEV' });
    const result = await kev.lookup({ type: 'cve', value: 'cve-2021-44228' });
    assert.equal(result.summary, 'KEV: exploited in the wild (added 2021-12-10), used in ransomware campaigns');
    assert.equal(result.evidence.knownRansomwareCampaignUse, 'Known');
  });

  it('a CVE not in the catalog (or not a CVE) is found:false, level unknown', async () => {
    const kev = open({ file: FIXTURE });
    for (const indicator of [
      { type: 'cve' as const, value: 'CVE-2099-0001' },
      { type: 'ipv4' as const, value: '203.0.113.1' },
    ]) {
      const result = await kev.lookup(indicator);
      assert.deepEqual([result.found, result.level, result.summary], [false, 'unknown', 'CISA KEV: not in the catalog']);
      assert.deepEqual(result.evidence, { knownExploited: false });
    }
  });

  it('stats carry the catalog version; the demo catalog loads', async () => {
    const kev = open({ file: DEMO });
    await kev.ready();
    const stats = kev.stats();
    assert.equal(stats.entries, 4);
    assert.equal(stats.info?.catalogVersion, '2024.05.01');
    assert.equal((await kev.lookup({ type: 'cve', value: 'CVE-2023-4966' })).found, true);
  });

  describe('from a URL', () => {
    let fake: FakeServer;
    beforeEach(async () => {
      fake = await startFakeServer();
    });
    afterEach(async () => {
      await fake.close();
    });

    it('downloads the JSON (parsed by the HTTP client), then keeps it on 304 and on a broken download', async () => {
      const catalog = JSON.parse(readFileSync(FIXTURE, 'utf8'));
      fake.route('GET', '/sites/default/files/feeds/known_exploited_vulnerabilities.json', [
        { status: 200, headers: { etag: '"kev-1"' }, body: catalog },
        { status: 304, headers: { etag: '"kev-1"' } },
        { status: 200, headers: { 'content-type': 'text/html' }, body: '<html>maintenance</html>' },
      ]);
      const kev = open({ url: `${fake.url}/sites/default/files/feeds/known_exploited_vulnerabilities.json`, refreshSeconds: 0 });
      await kev.ready();
      assert.equal(kev.stats().entries, 11);
      assert.deepEqual(await kev.refresh(), { changed: false });
      assert.equal(fake.requests[1].headers['if-none-match'], '"kev-1"');
      await assert.rejects(kev.refresh(), (error: unknown) => error instanceof ProviderError && error.code === 'BODY_ERROR' && /not JSON/.test(error.message));
      assert.equal((await kev.lookup({ type: 'cve', value: 'CVE-2021-44228' })).found, true);
    });
  });
});
