import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ProviderError } from '../../../lib/core/errors';
import { extractFromText } from '../../../lib/ioc';
import { createFeed, type FeedOptions, type LocalFeedProvider, type RefreshOutcome } from '../../../lib/intel/providers/feed';
import { startFakeServer, type FakeServer } from '../../helpers/fake-server';

const DEMO_BLOCKLIST = path.join(__dirname, '../../../feeds/demo-blocklist.txt');
const NOW = Date.UTC(2024, 4, 1, 12, 0, 0);

/** Collects refresh outcomes and lets a test await the next one that matches. */
function outcomeLog() {
  const seen: RefreshOutcome[] = [];
  const waiters: Array<{ test: (o: RefreshOutcome) => boolean; resolve: (o: RefreshOutcome) => void }> = [];
  return {
    seen,
    onRefresh(outcome: RefreshOutcome) {
      seen.push(outcome);
      for (const waiter of [...waiters]) {
        if (waiter.test(outcome)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(outcome);
        }
      }
    },
    next(test: (o: RefreshOutcome) => boolean = () => true): Promise<RefreshOutcome> {
      return new Promise((resolve) => waiters.push({ test, resolve }));
    },
  };
}

async function expectProviderError(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ProviderError, `ProviderError expected, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    return error;
  }
  assert.fail(`expected a ${code} rejection`);
}

describe('local feed provider: file source', () => {
  let dir: string;
  const feeds: LocalFeedProvider[] = [];
  const open = (opts: Partial<FeedOptions> & Pick<FeedOptions, 'source'>) => {
    const feed = createFeed({ name: 'test feed', now: () => NOW, ...opts });
    feeds.push(feed);
    return feed;
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'soar-feed-'));
  });
  afterEach(async () => {
    await Promise.all(feeds.splice(0).map((feed) => feed.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('the quickstart demo blocklist lists the bundled sample indicators', async () => {
    const feed = open({ name: 'Demo blocklist', source: { file: DEMO_BLOCKLIST } });
    await feed.ready();
    assert.equal(feed.kind, 'feed');
    assert.equal(feed.external, false);
    assert.deepEqual([...feed.types].sort(), ['domain', 'ipv4', 'ipv6', 'sha256', 'url']);

    for (const ip of ['203.0.113.44', '203.0.113.201', '203.0.113.66', '198.51.100.23']) {
      const result = await feed.lookup({ type: 'ipv4', value: ip });
      assert.equal(result.found, true, ip);
      assert.equal(result.level, 'malicious');
      assert.equal(result.summary, 'Demo blocklist: listed as malicious');
      assert.equal(result.source, 'Demo blocklist');
      assert.equal(result.provider, 'feed');
      assert.equal(result.fetchedAt, new Date(NOW).toISOString());
    }
    const inRange = await feed.lookup({ type: 'ipv4', value: '198.51.100.200' });
    assert.equal(inRange.summary, 'Demo blocklist: listed as malicious (in 198.51.100.128/25)');
    assert.deepEqual(inRange.evidence, { listed: true, matchedBy: 'cidr', matchedEntry: '198.51.100.128/25', listUpdated: new Date(NOW).toISOString() });

    // The Elastic sample carries the phishing URL defanged; extraction and the feed agree on it.
    const fromAlert = extractFromText('url: hxxps://login-example[.]com/reset');
    for (const ioc of fromAlert) {
      const result = await feed.lookup({ type: ioc.type, value: ioc.value });
      assert.equal(result.found, true, `${ioc.type} ${ioc.value}`);
    }
    assert.equal(
      (await feed.lookup({ type: 'domain', value: 'sso.login-example.com' })).summary,
      'Demo blocklist: listed as malicious (subdomain of login-example.com)',
    );
    assert.equal((await feed.lookup({ type: 'sha256', value: 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9' })).found, true);

    const miss = await feed.lookup({ type: 'ipv4', value: '203.0.113.150' });
    assert.deepEqual(
      { found: miss.found, level: miss.level, summary: miss.summary },
      { found: false, level: 'unknown', summary: 'Demo blocklist: not listed' },
    );
    const stats = feed.stats();
    assert.equal(stats.entries, 9);
    assert.equal(stats.skipped, 0);
    assert.equal(stats.lastRefresh, new Date(NOW).toISOString());
    assert.equal(stats.refreshes, 1);
  });

  it('level "suspicious" and a types restriction', async () => {
    const file = path.join(dir, 'list.txt');
    writeFileSync(file, '203.0.113.7\nevil-domain.com\n44d88612fea8a8f36de82e1278abb02f\n');
    const feed = open({ source: { file }, level: 'suspicious', types: ['ipv4', 'domain'] });
    await feed.ready();
    assert.deepEqual([...feed.types].sort(), ['domain', 'ipv4']);
    const hit = await feed.lookup({ type: 'domain', value: 'evil-domain.com' });
    assert.equal(hit.level, 'suspicious');
    assert.equal(hit.summary, 'test feed: listed as suspicious');
    assert.equal((await feed.lookup({ type: 'md5', value: '44d88612fea8a8f36de82e1278abb02f' })).found, false);
    assert.equal(feed.stats().filtered, 1);
  });

  it('refresh picks up changes, keeps the copy when the file is unchanged, broken or gone', async () => {
    const file = path.join(dir, 'list.txt');
    writeFileSync(file, '203.0.113.1\n');
    const log = outcomeLog();
    const feed = open({ source: { file, refreshSeconds: 0 }, onRefresh: log.onRefresh });
    await feed.ready();
    assert.equal((await feed.lookup({ type: 'ipv4', value: '203.0.113.1' })).found, true);

    assert.deepEqual(await feed.refresh(), { changed: false });

    writeFileSync(file, '203.0.113.2\n');
    assert.deepEqual(await feed.refresh(), { changed: true });
    assert.equal((await feed.lookup({ type: 'ipv4', value: '203.0.113.1' })).found, false);
    assert.equal((await feed.lookup({ type: 'ipv4', value: '203.0.113.2' })).found, true);

    writeFileSync(file, 'nothing usable here\nat all\n');
    await expectProviderError(feed.refresh(), 'BODY_ERROR', /no usable entries \(2 unparsable\)/);
    assert.equal((await feed.lookup({ type: 'ipv4', value: '203.0.113.2' })).found, true, 'last good copy kept');
    assert.match(feed.stats().lastError ?? '', /no usable entries/);
    assert.equal(feed.stats().skipped, 0, 'stats describe the copy in use');

    writeFileSync(file, '');
    await expectProviderError(feed.refresh(), 'BODY_ERROR', /empty/);

    unlinkSync(file);
    await expectProviderError(feed.refresh(), 'NOT_FOUND', /no such file/);
    assert.equal((await feed.lookup({ type: 'ipv4', value: '203.0.113.2' })).found, true);

    writeFileSync(file, '203.0.113.3\n');
    assert.deepEqual(await feed.refresh(), { changed: true });
    const stats = feed.stats();
    assert.equal(stats.lastError, undefined, 'a success clears the error');
    assert.equal(stats.failures, 3);
    assert.equal(stats.refreshes, 4);
    assert.deepEqual(
      log.seen.map((o) => [o.trigger, o.ok, o.changed]),
      [
        ['initial', true, true],
        ['manual', true, false],
        ['manual', true, true],
        ['manual', false, false],
        ['manual', false, false],
        ['manual', false, false],
        ['manual', true, true],
      ],
    );
  });

  it('a gzip file is decompressed', async () => {
    const file = path.join(dir, 'list.txt.gz');
    writeFileSync(file, gzipSync('# gz\n203.0.113.9\n'));
    const feed = open({ source: { file } });
    await feed.ready();
    assert.equal((await feed.lookup({ type: 'ipv4', value: '203.0.113.9' })).found, true);
  });

  it('without any copy: ready() rejects, lookups reject (not "unknown"), no types are declared', async () => {
    const feed = open({ source: { file: path.join(dir, 'missing.txt') } });
    await expectProviderError(feed.ready(), 'BAD_REQUEST', /has no data: .*no such file/);
    assert.deepEqual([...feed.types], []);
    const error = await expectProviderError(feed.lookup({ type: 'ipv4', value: '203.0.113.1' }), 'BAD_REQUEST');
    assert.equal(error.retryable, true);
    assert.equal(feed.stats().entries, 0);
    assert.match(feed.stats().lastError ?? '', /missing\.txt: no such file/);
  });

  it('an empty file is a failed load', async () => {
    const file = path.join(dir, 'empty.txt');
    writeFileSync(file, '# header only\n\n');
    const feed = open({ source: { file } });
    await expectProviderError(feed.ready(), 'BODY_ERROR', /no entries/);
  });

  it('a file larger than maxBytes is refused', async () => {
    const file = path.join(dir, 'big.txt');
    writeFileSync(file, '203.0.113.1\n'.repeat(100));
    const feed = open({ source: { file }, maxBytes: 200 });
    await expectProviderError(feed.ready(), 'BODY_ERROR', /larger than 200 bytes/);
  });

  it('a lookup already cancelled is refused; close() refuses further refreshes', async () => {
    const file = path.join(dir, 'list.txt');
    writeFileSync(file, '203.0.113.1\n');
    const feed = open({ source: { file } });
    await feed.ready();
    const controller = new AbortController();
    controller.abort();
    await expectProviderError(feed.lookup({ type: 'ipv4', value: '203.0.113.1' }, controller.signal), 'CANCELLED');
    await feed.close();
    await expectProviderError(feed.refresh(), 'CANCELLED');
  });

  it('a throwing onRefresh callback does not break loading', async () => {
    const file = path.join(dir, 'list.txt');
    writeFileSync(file, '203.0.113.1\n');
    const feed = open({
      source: { file },
      onRefresh: () => {
        throw new Error('listener bug');
      },
    });
    await feed.ready();
    assert.equal(feed.stats().entries, 1);
  });

  it('refuses bad configuration without echoing the URL', () => {
    assert.throws(() => createFeed({ name: '', source: { file: 'x' } }), /name is required/);
    assert.throws(() => createFeed({ name: 'x', source: {} as never }), /exactly one of file or url/);
    assert.throws(() => createFeed({ name: 'x', source: { file: 'a', url: 'http://b' } as never }), /exactly one/);
    assert.throws(
      () => createFeed({ name: 'x', source: { url: 'ftp://user:hunter2@feeds.example/x' } }),
      (error: Error) => {
        assert.match(error.message, /must be http or https/);
        assert.ok(!error.message.includes('hunter2'));
        return true;
      },
    );
    assert.throws(() => createFeed({ name: 'x', source: { file: 'a', refreshSeconds: -1 } }), /refreshSeconds/);
    assert.throws(() => createFeed({ name: 'x', source: { file: 'a' }, level: 'benign' as never }), /level/);
    assert.throws(() => createFeed({ name: 'x', source: { file: 'a' }, types: ['ip' as never] }), /unknown indicator type/);
  });
});

describe('local feed provider: URL source (conditional GET)', () => {
  let fake: FakeServer;
  const feeds: LocalFeedProvider[] = [];
  const open = (opts: Partial<FeedOptions> = {}) => {
    const feed = createFeed({
      name: 'url feed',
      source: { url: `${fake.url}/feeds/list.txt`, refreshSeconds: 0 },
      http: { proxy: false, retry: { maxAttempts: 1 } },
      ...opts,
    });
    feeds.push(feed);
    return feed;
  };

  beforeEach(async () => {
    fake = await startFakeServer();
  });
  afterEach(async () => {
    await Promise.all(feeds.splice(0).map((feed) => feed.close()));
    await fake.close();
  });

  it('sends If-None-Match / If-Modified-Since once it has a copy; 304 keeps the copy', async () => {
    const validators = { etag: '"v1"', 'last-modified': 'Wed, 01 May 2024 10:00:00 GMT' };
    fake.route('GET', '/feeds/list.txt', [
      { status: 200, headers: validators, body: '203.0.113.1\n' },
      { status: 304, headers: validators },
      { status: 200, headers: { etag: '"v2"' }, body: '203.0.113.2\n' },
      { status: 304, headers: { etag: '"v2"' } },
    ]);
    const feed = open();
    await feed.ready();
    assert.equal(fake.requests[0].headers['if-none-match'], undefined, 'the first download is unconditional');
    assert.equal(feed.stats().etag, '"v1"');
    assert.equal(feed.stats().lastModified, 'Wed, 01 May 2024 10:00:00 GMT');

    assert.deepEqual(await feed.refresh(), { changed: false });
    assert.equal(fake.requests[1].headers['if-none-match'], '"v1"');
    assert.equal(fake.requests[1].headers['if-modified-since'], 'Wed, 01 May 2024 10:00:00 GMT');
    assert.equal((await feed.lookup({ type: 'ipv4', value: '203.0.113.1' })).found, true);

    assert.deepEqual(await feed.refresh(), { changed: true });
    assert.equal((await feed.lookup({ type: 'ipv4', value: '203.0.113.2' })).found, true);
    assert.equal(feed.stats().lastModified, undefined, 'validators follow the latest copy');

    assert.deepEqual(await feed.refresh(), { changed: false });
    assert.equal(fake.requests[3].headers['if-none-match'], '"v2"');
    assert.equal(fake.requests[3].headers['if-modified-since'], undefined);
  });

  it('the same bytes again (no validators) are not re-parsed: changed false', async () => {
    fake.route('GET', '/feeds/list.txt', { status: 200, body: '203.0.113.1\n' });
    const log = outcomeLog();
    const feed = open({ onRefresh: log.onRefresh });
    await feed.ready();
    assert.deepEqual(await feed.refresh(), { changed: false });
    assert.deepEqual(
      log.seen.map((o) => [o.ok, o.changed, o.notModified]),
      [
        [true, true, false],
        [true, false, false],
      ],
    );
  });

  it('an HTTP error or an empty download keeps the last good copy and reports the error', async () => {
    fake.route('GET', '/feeds/list.txt', [
      { status: 200, headers: { etag: '"v1"' }, body: '203.0.113.1\n' },
      { status: 500, body: { error: 'boom' } },
      { status: 200, body: '' },
      { status: 200, headers: { etag: '"v3"' }, body: 'junk only\n' },
      { status: 404, body: 'gone' },
    ]);
    const log = outcomeLog();
    const feed = open({ onRefresh: log.onRefresh });
    await feed.ready();

    await expectProviderError(feed.refresh(), 'SERVER', /HTTP 500/);
    assert.equal((await feed.lookup({ type: 'ipv4', value: '203.0.113.1' })).found, true);
    assert.match(feed.stats().lastError ?? '', /HTTP 500/);
    assert.equal(feed.stats().lastErrorAt !== undefined, true);

    await expectProviderError(feed.refresh(), 'BODY_ERROR', /empty download/);
    await expectProviderError(feed.refresh(), 'BODY_ERROR', /no usable entries/);
    assert.equal(feed.stats().etag, '"v1"', 'a rejected download never replaces the validators');
    await expectProviderError(feed.refresh(), 'NOT_FOUND');
    assert.equal((await feed.lookup({ type: 'ipv4', value: '203.0.113.1' })).found, true);
    assert.deepEqual(
      log.seen.map((o) => [o.ok, o.entries, o.code]),
      [
        [true, 1, undefined],
        [false, 1, 'SERVER'],
        [false, 1, 'BODY_ERROR'],
        [false, 1, 'BODY_ERROR'],
        [false, 1, 'NOT_FOUND'],
      ],
    );
  });

  it('a key in the feed headers is sent but never appears in errors or stats', async () => {
    const key = 'feed-key-5f2b9c1e7d';
    fake.route('GET', '/feeds/list.txt', (request) => ({ status: 401, body: { error: `bad key ${request.headers['x-api-key']}` } }));
    const feed = open({ source: { url: `${fake.url}/feeds/list.txt`, refreshSeconds: 0, headers: { 'X-Api-Key': key } } });
    const error = await expectProviderError(feed.ready(), 'AUTH');
    assert.equal(fake.requests[0].headers['x-api-key'], key);
    assert.ok(!error.message.includes(key));
    assert.ok(!JSON.stringify(error).includes(key));
    assert.ok(!JSON.stringify(feed.stats()).includes(key));
    assert.match(feed.stats().lastError ?? '', /HTTP 401/);
  });

  it('JSON served as application/json (parsed by the HTTP client) and CSV by content type', async () => {
    fake.route('GET', '/feeds/list.json', { status: 200, body: { data: [{ indicator: '203.0.113.5' }, { indicator: 'json-feed.com' }] } });
    fake.route('GET', '/feeds/export', { status: 200, headers: { 'content-type': 'text/csv' }, body: 'ip,why\n203.0.113.6,scanner\n' });
    const json = open({ source: { url: `${fake.url}/feeds/list.json`, refreshSeconds: 0 } });
    const csv = open({ source: { url: `${fake.url}/feeds/export`, refreshSeconds: 0 } });
    await Promise.all([json.ready(), csv.ready()]);
    assert.equal((await json.lookup({ type: 'domain', value: 'json-feed.com' })).found, true);
    assert.equal(json.stats().info?.format, 'json');
    assert.equal((await csv.lookup({ type: 'ipv4', value: '203.0.113.6' })).found, true);
    assert.equal(csv.stats().info?.format, 'csv');
  });

  it('concurrent refreshes share one request', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let served = 0;
    fake.route('GET', '/feeds/list.txt', async () => {
      served++;
      if (served > 1) await gate;
      return { status: 200, body: `203.0.113.${served}\n` };
    });
    const feed = open();
    await feed.ready();
    const first = feed.refresh();
    const second = feed.refresh();
    await fake.waitForRequests(2);
    release();
    assert.deepEqual(await Promise.all([first, second]), [{ changed: true }, { changed: true }]);
    assert.equal(served, 2);
  });

  it('lookups made during the first download wait for it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    fake.route('GET', '/feeds/list.txt', async () => {
      await gate;
      return { status: 200, body: '203.0.113.1\n' };
    });
    const feed = open();
    const pending = feed.lookup({ type: 'ipv4', value: '203.0.113.1' });
    await fake.waitForRequests(1);
    release();
    assert.equal((await pending).found, true);
  });

  it('close() cancels a download in flight', async () => {
    fake.route('GET', '/feeds/list.txt', { hang: true });
    const feed = open();
    await fake.waitForRequests(1);
    await feed.close();
    await expectProviderError(feed.ready(), 'BAD_REQUEST', /has no data/);
  });

  it('refreshes on its schedule and reports each attempt', async () => {
    let version = 1;
    fake.route('GET', '/feeds/list.txt', (request) => {
      const etag = `"v${version}"`;
      if (request.headers['if-none-match'] === etag) return { status: 304, headers: { etag } };
      return { status: 200, headers: { etag }, body: `203.0.113.${version}\n` };
    });
    const log = outcomeLog();
    const feed = open({ source: { url: `${fake.url}/feeds/list.txt`, refreshSeconds: 0.05 }, onRefresh: log.onRefresh });
    await feed.ready();
    const notModified = await log.next((o) => o.trigger === 'schedule');
    assert.deepEqual([notModified.ok, notModified.notModified, notModified.changed], [true, true, false]);
    version = 2;
    await log.next((o) => o.trigger === 'schedule' && o.changed);
    assert.equal((await feed.lookup({ type: 'ipv4', value: '203.0.113.2' })).found, true);
    assert.equal((await feed.lookup({ type: 'ipv4', value: '203.0.113.1' })).found, false);
  });
});
