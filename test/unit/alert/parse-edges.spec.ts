/** Request bodies at their edges: content-type parameters, NDJSON types, sniffing, prototype keys; user mapper results. */
import assert from 'node:assert/strict';
import { AlertInputError, checkContentType, normalise, parseBody } from '../../../lib/alert';

const TWO = Buffer.from('[{"a":1},{"b":2}]');

function fails(fn: () => unknown, status: number, message: string): void {
  assert.throws(fn, (err: unknown) => err instanceof AlertInputError && err.status === status && err.message === message);
}

describe('alert body parsing at its edges', () => {
  it('JSON types with any case and parameters: an array body gives its items', () => {
    for (const type of [
      undefined,
      '',
      '  ',
      'application/json',
      'Application/JSON; charset="UTF-8"',
      'application/json; charset=us-ascii',
      'application/json; charset=utf8',
      'application/json; foo=bar',
      'application/json; charset',
      'application/vnd.x+json',
      'text/plain',
      ';charset=utf-8',
    ])
      assert.deepEqual(parseBody(TWO, type), [{ a: 1 }, { b: 2 }], JSON.stringify(type));
  });

  it('NDJSON types read one value per line, so a one-line array stays one item', () => {
    for (const type of ['application/x-ndjson', 'application/jsonl', 'application/x-jsonlines', 'Application/JSONLines'])
      assert.deepEqual(parseBody(TWO, type), [[{ a: 1 }, { b: 2 }]], type);
  });

  it('refuses other charsets and media types with 415, before and after a body', () => {
    fails(() => parseBody(TWO, 'application/json; charset=latin1'), 415, 'charset latin1 is not supported; send UTF-8');
    fails(() => parseBody(TWO, 'application/json; Charset="ISO-8859-1"'), 415, 'charset iso-8859-1 is not supported; send UTF-8');
    const html = 'content type text/html is not supported; send one of application/json, application/x-ndjson, application/jsonl, text/plain';
    fails(() => parseBody(TWO, 'text/html'), 415, html);
    fails(() => checkContentType('text/html'), 415, html);
    assert.doesNotThrow(() => checkContentType(undefined));
    assert.doesNotThrow(() => checkContentType('application/x-ndjson'));
  });

  it('a JSON body that is really NDJSON is read as NDJSON; pretty-printed JSON is not mistaken for it', () => {
    assert.deepEqual(parseBody(Buffer.from('{"a":1}\n{"b":2}\n'), 'application/json'), [{ a: 1 }, { b: 2 }]);
    assert.deepEqual(parseBody(Buffer.from('{\n"a": 1}\n')), [{ a: 1 }]);
    assert.throws(
      () => parseBody(Buffer.from('x\n{"a":1}')),
      (err: unknown) => err instanceof AlertInputError && err.status === 400 && err.message.startsWith('body is not valid JSON: '),
    );
  });

  it('removes prototype keys at every depth, inside arrays too', () => {
    const items = parseBody(Buffer.from('[{"__proto__":{"x":1},"a":[{"constructor":1,"b":2,"prototype":3}],"c":[[{"__proto__":1,"d":4}]]}]'));
    assert.equal(JSON.stringify(items), '[{"a":[{"b":2}],"c":[[{"d":4}]]}]');
  });
});

describe('user mapper results', () => {
  const mapped = (result: Record<string, unknown>) => normalise([{ x: 1 }], { format: 'generic', genericMapper: () => result }).alerts[0];
  const SHA256 = 'a'.repeat(64);

  it('dotted or nested paths; null values and unknown keys skipped', () => {
    const alert = mapped({
      title: 't',
      source: { ip: '198.18.0.1', port: null },
      host: { name: 'h', extra: 1 },
      bogus: { ip: '198.18.0.9' },
      'dns.question.name': 'q.example.com',
    });
    assert.deepEqual(alert.source, { ip: '198.18.0.1' });
    assert.deepEqual(alert.host, { name: 'h' });
    assert.equal(alert.dns?.question?.name, 'q.example.com');
    assert.equal(mapped({ title: 't', source: 'not-an-object' }).source, undefined);
  });

  it('file.hash as an object of named hashes (dotted or nested), or as a value typed by its length', () => {
    assert.deepEqual(mapped({ title: 't', 'file.hash': { sha256: SHA256 } }).file, { hash: { sha256: SHA256 } });
    assert.deepEqual(mapped({ title: 't', file: { hash: { md5: 'c'.repeat(32) } } }).file, { hash: { md5: 'c'.repeat(32) } });
    assert.deepEqual(mapped({ title: 't', 'file.hash': SHA256 }).file, { hash: { sha256: SHA256 } });
    assert.deepEqual(mapped({ title: 't', file: { hash: ['b'.repeat(40)] } }).file, { hash: { sha1: 'b'.repeat(40) } });
  });
});
