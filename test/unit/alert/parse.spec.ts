/** parseBody(): content types, JSON / NDJSON, and hostile bodies. */
import assert from 'node:assert/strict';
import { AlertInputError, normalise, parseBody } from '../../../lib/alert';

function rejects(fn: () => unknown, status: number, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AlertInputError, `AlertInputError expected, got ${String(err)}`);
    assert.equal(err.status, status);
    assert.match(err.message, pattern);
    return true;
  });
}

const wazuhLine = (n: number) =>
  JSON.stringify({
    timestamp: '2026-11-20T08:14:03.512+0000',
    rule: { level: 10, id: '5712', description: 'sshd brute force' },
    agent: { id: '004', name: 'web-02' },
    id: `1763626443.${n}`,
    data: { srcip: `203.0.113.${n % 250}` },
  });

describe('parseBody', () => {
  describe('documents and content types', () => {
    it('reads a JSON object as one item', () => {
      assert.deepEqual(parseBody(Buffer.from('{"a":1}'), 'application/json'), [{ a: 1 }]);
    });

    it('reads a JSON array as its items', () => {
      assert.deepEqual(parseBody(Buffer.from('[{"a":1},{"b":2}]'), 'application/json; charset=utf-8'), [{ a: 1 }, { b: 2 }]);
    });

    it("leaves envelopes whole (splitting is normalise's job)", () => {
      const items = parseBody(Buffer.from('{"version":"4","alerts":[{"labels":{}},{"labels":{}}]}'));
      assert.equal(items.length, 1);
    });

    it('reads NDJSON by content type, skipping blank lines and CRLF', () => {
      const body = Buffer.from(`${wazuhLine(1)}\r\n\r\n${wazuhLine(2)}\n`);
      for (const type of ['application/x-ndjson', 'application/jsonl']) {
        const items = parseBody(body, type) as { id: string }[];
        assert.deepEqual(
          items.map((i) => i.id),
          ['1763626443.1', '1763626443.2'],
        );
      }
    });

    it('sniffs NDJSON when the type is text/plain, missing, or mislabelled as JSON', () => {
      const body = Buffer.from(`${wazuhLine(1)}\n${wazuhLine(2)}\n${wazuhLine(3)}`);
      for (const type of ['text/plain', undefined, 'application/json']) assert.equal(parseBody(body, type).length, 3);
    });

    it('accepts +json media types and a UTF-8 byte order mark', () => {
      const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"x":"é"}')]);
      assert.deepEqual(parseBody(body, 'application/vnd.example+json'), [{ x: 'é' }]);
    });

    it('refuses other content types with 415 naming the accepted ones', () => {
      for (const type of ['application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded']) {
        rejects(() => parseBody(Buffer.from('{}'), type), 415, /application\/json, application\/x-ndjson, application\/jsonl, text\/plain/);
      }
    });

    it('refuses charsets other than UTF-8 with 415', () => {
      rejects(() => parseBody(Buffer.from('{}'), 'application/json; charset=utf-16'), 415, /charset utf-16 is not supported/);
    });
  });

  describe('bad and hostile input', () => {
    it('rejects an empty or blank body', () => {
      rejects(() => parseBody(Buffer.alloc(0), 'application/json'), 400, /body is empty/);
      rejects(() => parseBody(Buffer.from(' \n\t '), undefined), 400, /body is empty/);
    });

    it('rejects invalid UTF-8 strictly', () => {
      const body = Buffer.concat([Buffer.from('{"title":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
      rejects(() => parseBody(body, 'application/json'), 400, /^body is not valid UTF-8$/);
      rejects(() => parseBody(Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), undefined), 400, /not valid UTF-8/);
    });

    it("rejects broken JSON with the parser's reason", () => {
      rejects(() => parseBody(Buffer.from('{"a":'), 'application/json'), 400, /^body is not valid JSON: /);
    });

    it('names the failing NDJSON line', () => {
      const body = Buffer.from(`${wazuhLine(1)}\n${wazuhLine(2)}\n{"rule": nope}\n${wazuhLine(4)}\n`);
      rejects(() => parseBody(body, 'application/x-ndjson'), 400, /^line 3: /);
      rejects(() => parseBody(body, undefined), 400, /^line 3: /);
    });

    it('counts blank lines when naming an NDJSON line', () => {
      rejects(() => parseBody(Buffer.from(`${wazuhLine(1)}\n\n\n{oops`), 'application/x-ndjson'), 400, /^line 4: /);
    });

    it('rejects 10,000-deep nesting with a 400 that says so', () => {
      const deep = '['.repeat(10_000) + ']'.repeat(10_000);
      rejects(() => parseBody(Buffer.from(deep), 'application/json'), 400, /nesting is deeper than 64/);
      const deepObject = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
      rejects(() => parseBody(Buffer.from(deepObject)), 400, /nesting is deeper than 64/);
    });

    it('allows exactly 64 levels and rejects 65', () => {
      assert.equal(parseBody(Buffer.from('['.repeat(64) + ']'.repeat(64))).length, 1);
      rejects(() => parseBody(Buffer.from('['.repeat(65) + ']'.repeat(65))), 400, /deeper than 64/);
    });

    it('rejects deep nesting inside one NDJSON line, naming the line', () => {
      const body = `${wazuhLine(1)}\n${'['.repeat(100)}${']'.repeat(100)}\n`;
      rejects(() => parseBody(Buffer.from(body), 'application/x-ndjson'), 400, /^line 2: JSON nesting is deeper than 64/);
    });

    it('strips __proto__, constructor and prototype keys and never pollutes prototypes', () => {
      const body = Buffer.from('{"__proto__":{"polluted":1},"title":"x","nested":{"constructor":{"prototype":{"polluted":2}},"prototype":3,"ok":true}}');
      const [item] = parseBody(body, 'application/json') as Record<string, unknown>[];
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal(Object.prototype.hasOwnProperty.call(item, '__proto__'), false);
      assert.equal(Object.getPrototypeOf(item), Object.prototype);
      assert.deepEqual(Object.keys(item), ['title', 'nested']);
      assert.deepEqual(item.nested, { ok: true });

      const { alerts } = normalise([item]);
      assert.equal(alerts.length, 1);
      const alert = alerts[0] as unknown as Record<string, unknown>;
      assert.equal(Object.getPrototypeOf(alert), Object.prototype);
      assert.equal(alert.polluted, undefined);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });

    it('keeps 1e400 in raw but never lets it reach a port or the severity', () => {
      const body = Buffer.from('{"title":"inf","src_ip":"203.0.113.5","src_port":1e400,"dst_port":-1e400,"severity":1e400}');
      const items = parseBody(body, 'application/json');
      const { alerts } = normalise(items, { format: 'generic' });
      const a = alerts[0];
      assert.equal(a.source?.port, undefined);
      assert.equal(a.destination, undefined);
      assert.equal(a.source?.ip, '203.0.113.5');
      assert.equal(a.severity, 0);
      assert.equal((a.raw as Record<string, unknown>).src_port, Infinity);
    });

    it('copes with 2 MB strings: title cut, raw intact, oversized entity fields dropped', () => {
      const huge = 'A'.repeat(2 * 1024 * 1024);
      const body = Buffer.from(JSON.stringify({ title: huge, src_ip: huge, user: huge, description: huge, host: 'ws-1' }));
      const { alerts } = normalise(parseBody(body, 'application/json'), { format: 'generic' });
      const a = alerts[0];
      assert.equal(a.title.length, 1024);
      assert.ok(a.title.endsWith('…'));
      assert.equal(a.description?.length, 16384);
      assert.equal(a.source, undefined);
      assert.equal(a.user, undefined);
      assert.equal(a.host?.name, 'ws-1');
      assert.equal((a.raw as { title: string }).title.length, huge.length);
    });

    it('reads an array of 1,000 alerts into 1,000 normalised alerts', () => {
      const body = Buffer.from(`[${Array.from({ length: 1000 }, (_, i) => wazuhLine(i)).join(',')}]`);
      const items = parseBody(body, 'application/json');
      assert.equal(items.length, 1000);
      const { alerts, ignored } = normalise(items);
      assert.equal(alerts.length, 1000);
      assert.deepEqual(ignored, []);
      assert.equal(new Set(alerts.map((a) => a.id)).size, 1000);
      assert.ok(alerts.every((a) => a.origin.format === 'wazuh'));
    });

    it('only ever throws AlertInputError (400) for garbage bodies, each with its reason', () => {
      // Every body here must throw; asserting inside a catch alone would also pass if none did.
      const bodies: Array<[string, RegExp]> = [
        ['nul', /not valid JSON/],
        ['[1,2', /not valid JSON/],
        ['{"a":"\\ud800"}', /could not recognise the alert format of item 1 \(keys: a\)/],
        ['\u0000', /not valid JSON/],
        ['1e999999', /could not recognise the alert format of item 1 \(a number/],
        ['""', /could not recognise the alert format of item 1 \(a string/],
        ['null', /could not recognise the alert format of item 1 \(null/],
        ['}{', /not valid JSON/],
      ];
      for (const [text, reason] of bodies) {
        assert.throws(
          () => normalise(parseBody(Buffer.from(text), undefined)),
          (err: unknown) => err instanceof AlertInputError && err.status === 400 && reason.test(err.message),
          JSON.stringify(text),
        );
      }
      // An empty batch is not garbage: nothing to record.
      assert.deepEqual(normalise(parseBody(Buffer.from('[]'), undefined)), { alerts: [], ignored: [] });
    });
  });
});
