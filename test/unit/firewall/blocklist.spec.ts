import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileStateStore } from '../../../lib/core/file-store';
import type { SetOptions, StateStore, StoredEntry } from '../../../lib/core/types';
import { blocklistHandler, createPublishedBlocklist, type PublishedBlocklist } from '../../../lib/firewall/blocklist';
import { ManualClock } from '../../helpers/fake-server';
import { rejectsWith } from '../../helpers/provider-spec';

/** A StateStore in memory that keeps values as JSON text (like the file store) and counts writes. */
class MemoryStore implements StateStore {
  readonly data = new Map<string, Map<string, string>>();
  writes = 0;
  failWrites = false;

  private ns(name: string): Map<string, string> {
    let map = this.data.get(name);
    if (!map) this.data.set(name, (map = new Map()));
    return map;
  }
  async get<T>(ns: string, key: string): Promise<T | undefined> {
    const text = this.ns(ns).get(key);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }
  async set<T>(ns: string, key: string, value: T, _opts?: SetOptions): Promise<void> {
    this.writes++;
    if (this.failWrites) throw new Error('disk full');
    this.ns(ns).set(key, JSON.stringify(value));
  }
  async setIfAbsent<T>(ns: string, key: string, value: T): Promise<boolean> {
    if (this.ns(ns).has(key)) return false;
    await this.set(ns, key, value);
    return true;
  }
  async delete(ns: string, key: string): Promise<boolean> {
    this.writes++;
    if (this.failWrites) throw new Error('disk full');
    return this.ns(ns).delete(key);
  }
  async list<T>(ns: string): Promise<StoredEntry<T>[]> {
    return [...this.ns(ns)].map(([key, text]) => ({ key, value: JSON.parse(text) as T }));
  }
  async close(): Promise<void> {}
}

const START = Date.UTC(2026, 0, 15, 12, 0, 0);

describe('published blocklist', () => {
  let clock: ManualClock;
  let store: MemoryStore;
  let list: PublishedBlocklist;

  beforeEach(async () => {
    clock = new ManualClock(START);
    store = new MemoryStore();
    list = createPublishedBlocklist({ name: 'main', store, now: clock.now });
    await list.ensureReady();
  });

  it('refuses a name that cannot be part of the URL', () => {
    assert.throws(() => createPublishedBlocklist({ name: '../etc', store }), /invalid blocklist name/);
    assert.throws(() => createPublishedBlocklist({ name: '', store }), /invalid blocklist name/);
  });

  it('will not render before it is loaded (never an empty list by mistake)', () => {
    const fresh = createPublishedBlocklist({ name: 'main', store });
    assert.equal(fresh.loaded, false);
    assert.throws(() => fresh.render(), /not loaded yet/);
  });

  it('renders text with a # header, one canonical entry per line, sorted; plain without header; json', async () => {
    await list.block([
      { address: '2001:db8::1' },
      { address: '203.0.113.9', comment: 'alert 1' },
      { address: '198.51.100.77/24', ttlSeconds: 3600 },
      { address: '198.18.0.10' },
      { address: '2001:DB8:0:0::/48' },
    ]);
    assert.equal(
      list.render(),
      [
        '# SOAR published blocklist: main',
        '# updated: 2026-01-15T12:00:00.000Z',
        '# entries: 5',
        '198.18.0.10',
        '198.51.100.0/24',
        '203.0.113.9',
        '2001:db8::/48',
        '2001:db8::1',
        '',
      ].join('\n'),
    );
    assert.equal(list.render('plain'), '198.18.0.10\n198.51.100.0/24\n203.0.113.9\n2001:db8::/48\n2001:db8::1\n');
    const json = JSON.parse(list.render('json'));
    assert.equal(json.name, 'main');
    assert.equal(json.count, 5);
    assert.deepEqual(json.entries[1], { address: '198.51.100.0/24', expiresAt: '2026-01-15T13:00:00.000Z' });
    assert.deepEqual(json.entries[2], { address: '203.0.113.9', comment: 'alert 1' });
  });

  it('never renders an expired entry, even before anything has swept it', async () => {
    await list.block([{ address: '203.0.113.1', ttlSeconds: 60 }, { address: '203.0.113.2' }]);
    const writes = store.writes;
    const before = list.etag;
    await clock.advance(59_000);
    assert.match(list.render(), /203\.0\.113\.1/);
    await clock.advance(1_000);
    assert.doesNotMatch(list.render(), /203\.0\.113\.1/);
    assert.match(list.render(), /# entries: 1\n203\.0\.113\.2\n$/);
    assert.equal(list.updatedAt.toISOString(), new Date(START + 60_000).toISOString(), 'the expiry is the last change');
    assert.notEqual(list.etag, before);
    assert.equal(store.writes, writes, 'rendering wrote nothing');
    assert.ok(store.data.get('blocklist:main')!.has('203.0.113.1'), 'still stored until swept');

    await list.sweep();
    assert.ok(!store.data.get('blocklist:main')!.has('203.0.113.1'));
  });

  it('keeps a stable ETag until the content changes', async () => {
    await list.block([{ address: '203.0.113.3' }]);
    const first = list.etag;
    assert.match(first, /^"[A-Za-z0-9_-]{32}"$/);
    assert.equal(list.etag, first);
    await clock.advance(3_600_000);
    assert.equal(list.etag, first, 'time alone changes nothing');
    const writes = store.writes;
    await list.block([{ address: '203.0.113.3' }]); // already there, same everything
    assert.equal(store.writes, writes, 'an idempotent re-block writes nothing');
    assert.equal(list.etag, first);
    await list.block([{ address: '203.0.113.4' }]);
    assert.notEqual(list.etag, first);
    await list.unblock(['203.0.113.4']);
    assert.notEqual(list.etag, first, 'the header time moved');
    assert.equal(list.render('plain'), '203.0.113.3\n');
  });

  it('list() reports time left and comments; a re-block replaces the expiry, keeps the comment; expired entries are swept', async () => {
    await list.block([
      { address: '203.0.113.5', ttlSeconds: 600, comment: 'scan' },
      { address: '203.0.113.6', ttlSeconds: 10 },
    ]);
    await clock.advance(100_000);
    await list.block([{ address: '203.0.113.5', ttlSeconds: 7200 }]);
    assert.deepEqual(await list.list(), [{ address: '203.0.113.5', expiresInSeconds: 7200, comment: 'scan' }]);
    assert.ok(!store.data.get('blocklist:main')!.has('203.0.113.6'), 'expired entry deleted from the store');
  });

  it('unblock removes what is there; an absent address is fine', async () => {
    await list.block([{ address: '203.0.113.7' }, { address: '203.0.113.8' }]);
    await list.unblock(['203.0.113.7', '192.0.2.200']);
    assert.equal(list.render('plain'), '203.0.113.8\n');
    assert.deepEqual([...store.data.get('blocklist:main')!.keys()], ['203.0.113.8']);
  });

  it('refuses an invalid address or TTL before writing anything', async () => {
    const writes = store.writes;
    await rejectsWith(list.block([{ address: '203.0.113.10' }, { address: 'evil.example' }]), 'BAD_REQUEST', /not a valid IPv4\/IPv6 address/);
    await rejectsWith(list.block([{ address: '203.0.113.10', ttlSeconds: 0 }]), 'BAD_REQUEST', /positive number/);
    await rejectsWith(list.unblock(['1.2.3.4\n5.6.7.8']), 'BAD_REQUEST');
    assert.equal(store.writes, writes);
    assert.equal(list.render('plain'), '');
  });

  it('when the store cannot write, nothing is published and the error says so', async () => {
    await list.block([{ address: '203.0.113.11' }]);
    const etag = list.etag;
    store.failWrites = true;
    await rejectsWith(
      list.block([{ address: '203.0.113.12' }, { address: '203.0.113.13' }]),
      'SERVER',
      /state store write failed \(disk full\); the list is unchanged/,
    );
    await rejectsWith(list.unblock(['203.0.113.11']), 'SERVER');
    assert.equal(list.etag, etag);
    assert.equal(list.render('plain'), '203.0.113.11\n');
  });

  it('survives a restart with the same content, update time and ETag (file store)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'soar-blocklist-'));
    try {
      const fileStore = await FileStateStore.open(dir, { now: clock.now, fsync: false });
      const durable = createPublishedBlocklist({ name: 'edge', store: fileStore, now: clock.now });
      await durable.ensureReady();
      await durable.block([{ address: '198.51.100.20', ttlSeconds: 86_400 }, { address: '2001:db8::20' }]);
      await clock.advance(5_000);
      await durable.unblock(['2001:db8::20']);
      const text = durable.render();
      const etag = durable.etag;
      await fileStore.close();

      await clock.advance(60_000);
      const reopened = await FileStateStore.open(dir, { now: clock.now, fsync: false });
      const again = createPublishedBlocklist({ name: 'edge', store: reopened, now: clock.now });
      await again.ensureReady();
      assert.equal(again.render(), text);
      assert.equal(again.etag, etag);
      assert.equal(again.updatedAt.toISOString(), new Date(START + 5_000).toISOString());
      assert.deepEqual(await again.list(), [{ address: '198.51.100.20', expiresInSeconds: 86_400 - 65 }]);
      await reopened.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('blocklistHandler over real HTTP on 127.0.0.1', () => {
  const TOKEN = 'bl-token-9f8e7d6c5b4a39281706f5e4d3c2b1a0';
  let clock: ManualClock;
  let list: PublishedBlocklist;
  let server: http.Server;
  let base: string;

  const serve = async (handler: http.RequestListener) => {
    server = http.createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/soar/blocklist/main.txt`;
  };

  beforeEach(async () => {
    clock = new ManualClock(START);
    list = createPublishedBlocklist({ name: 'main', store: new MemoryStore(), now: clock.now });
    await list.ensureReady();
    await list.block([{ address: '203.0.113.50' }, { address: '198.51.100.0/24' }]);
    await serve(blocklistHandler(list, { token: TOKEN }));
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const auth = { authorization: `Bearer ${TOKEN}` };

  it('serves the text list with ETag, Last-Modified and Cache-Control; a firewall parses it', async () => {
    const response = await fetch(base, { headers: auth });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(response.headers.get('etag'), list.etag);
    assert.equal(response.headers.get('cache-control'), 'private, no-cache');
    assert.equal(response.headers.get('last-modified'), new Date(START).toUTCString());
    const body = await response.text();
    assert.equal(body, list.render());
    // What a URL-table alias does with it: drop comment lines and blanks, one entry per line.
    const entries = body
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    assert.deepEqual(entries, ['198.51.100.0/24', '203.0.113.50']);
  });

  it('answers a conditional GET with 304 until the list changes', async () => {
    const first = await fetch(base, { headers: auth });
    const etag = first.headers.get('etag')!;
    await first.text();

    const unchanged = await fetch(base, { headers: { ...auth, 'if-none-match': etag } });
    assert.equal(unchanged.status, 304);
    assert.equal(await unchanged.text(), '');
    assert.equal(unchanged.headers.get('etag'), etag);
    assert.equal(unchanged.headers.get('cache-control'), 'private, no-cache');

    const weakForm = await fetch(base, { headers: { ...auth, 'if-none-match': `"other", W/${etag}` } });
    assert.equal(weakForm.status, 304);

    const byDate = await fetch(base, { headers: { ...auth, 'if-modified-since': new Date(START + 1000).toUTCString() } });
    assert.equal(byDate.status, 304);

    await clock.advance(2_000);
    await list.block([{ address: '192.0.2.77' }]);
    const changed = await fetch(base, { headers: { ...auth, 'if-none-match': etag } });
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers.get('etag'), etag);
    assert.match(await changed.text(), /^192\.0\.2\.77$/m);
  });

  it('accepts the token as ?token= (for pullers that only take a URL)', async () => {
    const response = await fetch(`${base}?token=${encodeURIComponent(TOKEN)}`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /203\.0\.113\.50/);
  });

  it('refuses a missing or wrong token with 401 and never echoes a token', async () => {
    for (const headers of [
      {} as Record<string, string>,
      { authorization: 'Bearer wrong-token-value' },
      { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` },
    ]) {
      const response = await fetch(base, { headers });
      assert.equal(response.status, 401);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="soar-blocklist"');
      const body = await response.text();
      assert.ok(!body.includes('203.0.113.50') && !body.includes('wrong-token-value') && !body.includes(TOKEN));
    }
    const wrongQuery = await fetch(`${base}?token=${TOKEN.slice(0, -1)}`);
    assert.equal(wrongQuery.status, 401);
    await wrongQuery.text();
  });

  it('serves json and plain formats, HEAD without a body; refuses other methods and formats', async () => {
    const json = await fetch(`${base.replace(/\.txt$/, '.json')}`, { headers: auth });
    assert.equal(json.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.deepEqual(
      (await json.json()).entries.map((e: { address: string }) => e.address),
      ['198.51.100.0/24', '203.0.113.50'],
    );

    const plain = await fetch(`${base}?format=plain`, { headers: auth });
    assert.equal(await plain.text(), '198.51.100.0/24\n203.0.113.50\n');

    const head = await fetch(base, { method: 'HEAD', headers: auth });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(list.render())));
    assert.equal(await head.text(), '');

    const post = await fetch(base, { method: 'POST', headers: auth, body: '1.2.3.4' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    await post.text();

    const unknown = await fetch(`${base}?format=xml`, { headers: auth });
    assert.equal(unknown.status, 400);
    await unknown.text();
  });

  it('answers 503 while the list is not loaded, and serves without a token when none is configured', async () => {
    const cold = createPublishedBlocklist({ name: 'cold', store: new MemoryStore(), now: clock.now });
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await serve(blocklistHandler(cold));
    const early = await fetch(base);
    assert.equal(early.status, 503);
    assert.equal(early.headers.get('retry-after'), '5');
    await early.text();

    await cold.ensureReady();
    const ready = await fetch(base);
    assert.equal(ready.status, 200);
    assert.equal(ready.headers.get('cache-control'), 'no-cache');
    assert.equal(await ready.text(), '# SOAR published blocklist: cold\n# updated: 2026-01-15T12:00:00.000Z\n# entries: 0\n');
  });
});
