import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { normalise } from '../../lib/alert';
import { helper, nodeModule, tempDir } from '../helpers/nr';

const hubModule = nodeModule('hub');
const sourceModule = nodeModule('intel-source');
const enrichModule = nodeModule('enrich-ioc');

type Msg = Record<string, any>;

/** A real HTTP feed server that answers conditional GETs the way a web server does. */
async function feedServer(initial: string) {
  let body = initial;
  const seen: { ifNoneMatch?: string; status: number }[] = [];
  const server = http.createServer((req, res) => {
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
    if (req.headers['if-none-match'] === etag) {
      seen.push({ ifNoneMatch: etag, status: 304 });
      res.writeHead(304, { etag });
      res.end();
      return;
    }
    seen.push({ status: 200 });
    res.writeHead(200, { 'content-type': 'text/plain', etag });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/blocklist.txt`,
    seen,
    set(next: string) {
      body = next;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('enrich IOC with a URL feed refreshed while the flow runs (system)', function () {
  this.timeout(60000);
  let dir: string;
  beforeEach(async function () {
    dir = tempDir();
    await helper.startServer();
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
  });

  it('picks up a new entry on the next refresh, and unchanged downloads are answered 304', async function () {
    const feed = await feedServer('# test feed\n203.0.113.1\n');
    try {
      const flow = [
        { id: 'tab1', type: 'tab', label: 't' },
        { id: 'hub1', type: 'soar-hub', dir },
        // 0.02 min = 1.2 s between refreshes, so the test sees several.
        { id: 'feed1', type: 'soar-intel-source', name: 'live feed', kind: 'feed', url: feed.url, refreshMinutes: 0.02, level: 'malicious', weight: 1 },
        { id: 'en1', z: 'tab1', type: 'soar-enrich-ioc', hub: 'hub1', sources: ['feed1'], deadline: 5, outputMode: 'single', wires: [['out1']] },
        { id: 'out1', z: 'tab1', type: 'helper' },
      ];
      await helper.load([hubModule, sourceModule, enrichModule], flow);
      const alert = normalise([{ title: 'scan', src_ip: '203.0.113.77', severity: 'medium' }]).alerts[0];
      const verdict = async () => {
        const got = new Promise<Msg>((resolve) => helper.getNode('out1').once('input', resolve));
        helper.getNode('en1').receive({ alert });
        return (await got).enrichment.verdict as string;
      };
      assert.equal(await verdict(), 'unknown', '203.0.113.77 is not listed yet');

      // Wait for at least one conditional refresh answered 304 (nothing changed yet).
      for (let i = 0; i < 60 && !feed.seen.some((s) => s.status === 304); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(
        feed.seen.some((s) => s.status === 304),
        JSON.stringify(feed.seen),
      );

      feed.set('# test feed\n203.0.113.1\n203.0.113.77\n');
      let now = 'unknown';
      for (let i = 0; i < 60 && now !== 'malicious'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        // Feeds answer from their local copy and are not cached by the broker, so the earlier miss
        // does not hide the new entry.
        now = await verdict();
      }
      assert.equal(now, 'malicious', 'the refreshed feed lists 203.0.113.77');
    } finally {
      await feed.close();
    }
  });
});
