/** Cases a planted bug slipped through before: RFC 6145 addresses, the h**p defang, `name.ext[/]` tails. */
import assert from 'node:assert/strict';
import { classifyIp, clearExtractionCaches, extractFromText, refang } from '../../../lib/ioc';
import { trimUrlTail } from '../../../lib/ioc/extract';

const found = (text: string) => extractFromText(text).map((ioc) => [ioc.type, ioc.value]);

describe('ioc test gaps', () => {
  // Verdicts are cached per process; start cold so every rule runs (a warm cache hides a broken rule).
  beforeEach(clearExtractionCaches);

  it('::ffff:0:a.b.c.d (RFC 6145 IPv4-translated) takes the class of the IPv4 inside', () => {
    assert.deepEqual(classifyIp('::ffff:0:192.168.1.1'), { version: 6, internal: true, range: 'rfc6145' });
    assert.deepEqual(classifyIp('::ffff:0:10.0.0.7'), { version: 6, internal: true, range: 'rfc6145' });
    assert.deepEqual(classifyIp('::ffff:0:127.0.0.1'), { version: 6, internal: true, range: 'rfc6145' });
    // The same in hex groups.
    assert.deepEqual(classifyIp('::ffff:0:c0a8:101'), { version: 6, internal: true, range: 'rfc6145' });
    // A public IPv4 inside stays external.
    assert.deepEqual(classifyIp('::ffff:0:8.8.8.8'), { version: 6, internal: false, range: 'rfc6145' });
  });

  it('extraction marks an RFC 6145 address with a private IPv4 inside as internal', () => {
    assert.deepEqual(extractFromText('connection from ::ffff:0:192.168.1.1 and ::ffff:0:8.8.8.8'), [
      { type: 'ipv4', value: '192.168.1.1', internal: true },
      { type: 'ipv4', value: '8.8.8.8', internal: false },
      { type: 'ipv6', value: '::ffff:0:c0a8:101', internal: true },
      { type: 'ipv6', value: '::ffff:0:808:808', internal: false },
    ]);
  });

  it('refangs h**p and h**ps (any case) like hxxp', () => {
    assert.equal(refang('h**p://evil[.]com/x'), 'http://evil.com/x');
    assert.equal(refang('H**PS://evil[.]com/x'), 'https://evil.com/x');
    assert.deepEqual(found('payload at h**ps://cdn[.]evil[.]com/a'), [
      ['url', 'https://cdn.evil.com/a'],
      ['domain', 'cdn.evil.com'],
    ]);
  });

  it('a defanged `name.ext[/]` tail keeps the file name in the URL and is not a domain', () => {
    assert.deepEqual(found('hxxp://evil[.]com/invoice.zip[/] today'), [
      ['url', 'http://evil.com/invoice.zip/'],
      ['domain', 'evil.com'],
    ]);
    assert.deepEqual(found('Dropper at hxxps://cdn[.]evil[.]org/files/report.pdf[/].'), [
      ['url', 'https://cdn.evil.org/files/report.pdf/'],
      ['domain', 'cdn.evil.org'],
    ]);
    // Without a scheme: the host is the indicator, the file name (a real TLD: .zip) is not.
    assert.deepEqual(found('fetch evil[.]com/invoice.zip[/]'), [['domain', 'evil.com']]);
  });

  it('a UNC path (\\\\host\\share) is context for a host name with a file-extension TLD, only at the start of a word', () => {
    assert.deepEqual(found('open \\\\update.zip\\pub'), [['domain', 'update.zip']]);
    assert.deepEqual(found('\\\\update.zip\\pub'), [['domain', 'update.zip']]);
    assert.deepEqual(found('x\\\\update.zip\\pub'), [], 'glued to a word');
    assert.deepEqual(found('a \\\\\\update.zip\\pub'), [], 'three backslashes');
    assert.deepEqual(found('C:\\update.zip'), [], 'one backslash is a path');
    assert.deepEqual(found('see update.zip'), [], 'no context: a file name');
  });

  it('cuts unbalanced closing brackets and sentence punctuation off a URL, keeps balanced ones', () => {
    assert.equal(trimUrlTail('http://a.example/x]'), 'http://a.example/x');
    assert.equal(trimUrlTail('http://a.example/[x]'), 'http://a.example/[x]');
    assert.equal(trimUrlTail('http://a.example/x[1]]'), 'http://a.example/x[1]');
    assert.equal(trimUrlTail('http://a.example/(x)).'), 'http://a.example/(x)');
    assert.equal(trimUrlTail("http://a.example/x'!?*"), 'http://a.example/x');
    assert.equal(trimUrlTail('http://a.example/a]b'), 'http://a.example/a]b', 'only the tail is cut');
    assert.deepEqual(found('see http://evil.com/x[1]] now'), [
      ['url', 'http://evil.com/x[1]'],
      ['domain', 'evil.com'],
    ]);
  });

  it('IPv6 glued to a word starts after its first colon; a namespace (Foo::Bar, std::12) is no address', () => {
    assert.deepEqual(found('Foo::Bar and std::12 and addr:2001:db8::1 and IPv6:2001:db8::2 and ::1'), [
      ['ipv6', '2001:db8::1'],
      ['ipv6', '2001:db8::2'],
      ['ipv6', '::1'],
    ]);
  });
});
