import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { extractFromText } from '../../../lib/ioc';
import type { IocType } from '../../../lib/ioc';
import { classifyEntry, csvRows, FeedIndex, FeedParseError, parseFeed, parseFeedAsync, type FeedEntry } from '../../../lib/intel/feed-parse';

const FIXTURES = path.join(__dirname, '../../fixtures/feeds');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name), 'utf8');

function indexOf(lines: string[]): FeedIndex {
  return parseFeed({ text: lines.join('\n') }, { format: 'text' }).index;
}

describe('feed parsing: entry classification', () => {
  const cases: Array<[string, Partial<FeedEntry> | undefined]> = [
    ['203.0.113.7', { kind: 'exact', type: 'ipv4', value: '203.0.113.7' }],
    ['2001:DB8:0:0:0:0:0:BEEF', { kind: 'exact', type: 'ipv6', value: '2001:db8::beef' }],
    ['[2001:db8::1]', { kind: 'exact', type: 'ipv6', value: '2001:db8::1' }],
    ['fe80::1%eth0', { kind: 'exact', type: 'ipv6', value: 'fe80::1' }],
    ['::ffff:203.0.113.99', { kind: 'exact', type: 'ipv4', value: '203.0.113.99' }],
    ['198.51.100.0/24', { kind: 'cidr', type: 'ipv4', value: '198.51.100.0/24', prefix: 24 }],
    ['192.0.2.77/26', { kind: 'cidr', type: 'ipv4', value: '192.0.2.64/26', prefix: 26 }],
    ['203.0.113.9/32', { kind: 'exact', type: 'ipv4', value: '203.0.113.9' }],
    ['2001:db8:dead:beef::/48', { kind: 'cidr', type: 'ipv6', value: '2001:db8:dead::/48', prefix: 48 }],
    ['2001:db8::5/128', { kind: 'exact', type: 'ipv6', value: '2001:db8::5' }],
    ['203[.]0[.]113[.]5', { kind: 'exact', type: 'ipv4', value: '203.0.113.5' }],
    ['Evil-Domain.COM', { kind: 'exact', type: 'domain', value: 'evil-domain.com' }],
    ['evil[.]zip', { kind: 'exact', type: 'domain', value: 'evil.zip' }],
    ['*.wildcard-example.net', { kind: 'exact', type: 'domain', value: 'wildcard-example.net' }],
    ['.dotted-example.org', { kind: 'exact', type: 'domain', value: 'dotted-example.org' }],
    ['trailing-dot.info.', { kind: 'exact', type: 'domain', value: 'trailing-dot.info' }],
    ['пример.рф', { kind: 'exact', type: 'domain', value: 'xn--e1afmkfd.xn--p1ai' }],
    ['hxxp://evil[.]example/x', { kind: 'exact', type: 'url', value: 'http://evil.example/x' }],
    ['HTTPS://Bad-Host.COM/Login?next=%2F', { kind: 'exact', type: 'url', value: 'https://bad-host.com/Login?next=%2F' }],
    ['http://slash-only.com/', { kind: 'exact', type: 'url', value: 'http://slash-only.com' }],
    ['44D88612FEA8A8F36DE82E1278ABB02F', { kind: 'exact', type: 'md5', value: '44d88612fea8a8f36de82e1278abb02f' }],
    ['3395856ce81f2b7382dee72602f798b642f14140', { kind: 'exact', type: 'sha1' }],
    ['b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9', { kind: 'exact', type: 'sha256' }],
    ['a'.repeat(128), { kind: 'exact', type: 'sha512' }],
    ['cve-2021-44228', { kind: 'exact', type: 'cve', value: 'CVE-2021-44228' }],
    ['Phisher@Evil-Domain.com', { kind: 'exact', type: 'email', value: 'phisher@evil-domain.com' }],
    // Not indicators:
    ['12345678901234567890123456789012', undefined], // 32 decimal digits: a number, not an MD5
    ['999.1.1.1', undefined],
    ['010.1.1.1', undefined],
    ['203.0.113.0/33', undefined],
    ['2001:db8::/129', undefined],
    ['evil.com/path', undefined],
    ['tcp://203.0.113.10:4444', undefined],
    ['readme', undefined],
    ['intranet.local', undefined],
    ['', undefined],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} -> ${expected ? `${expected.type} ${expected.value ?? ''}` : 'not an indicator'}`, () => {
      const entry = classifyEntry(input);
      if (expected === undefined) {
        assert.equal(entry, undefined);
        return;
      }
      assert.ok(entry, 'classified');
      for (const [key, value] of Object.entries(expected)) assert.equal((entry as unknown as Record<string, unknown>)[key], value, key);
    });
  }
});

describe('feed parsing: matching what extraction produces', () => {
  it('a defanged feed line matches the indicator lib/ioc extracts from an alert', () => {
    const index = indexOf([
      'hxxp://evil[.]example/x',
      'hxxps://login-example[.]com/reset',
      'login-example[.]com',
      '2001:0DB8:0000:0000:0000:0000:0000:0042',
      'B94D27B9934D3E08A52E52D7DA7DABFAC484EFE37A5380EE9088F7ACE2EFCDE9',
      'cve-2023-4966',
    ]);
    const alertText =
      'User clicked http://evil.example/x and https://LOGIN-EXAMPLE.com/reset from 2001:db8::42; ' +
      'dropped b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9, exploit for CVE-2023-4966';
    const extracted = extractFromText(alertText);
    const wanted: Array<[IocType, string]> = [
      ['url', 'http://evil.example/x'],
      ['url', 'https://login-example.com/reset'],
      ['domain', 'login-example.com'],
      ['ipv6', '2001:db8::42'],
      ['sha256', 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9'],
      ['cve', 'CVE-2023-4966'],
    ];
    for (const [type, value] of wanted) {
      const indicator = extracted.find((ioc) => ioc.type === type && ioc.value === value);
      assert.ok(indicator, `extraction yields ${type} ${value}`);
      assert.ok(index.lookup(indicator), `feed lists ${type} ${value}`);
    }
    assert.equal(index.lookup({ type: 'url', value: 'http://evil.example/y' }), undefined);
  });

  it('an IPv4-mapped IPv6 lookup matches IPv4 entries and networks', () => {
    const index = indexOf(['203.0.113.7', '198.51.100.0/24']);
    assert.deepEqual(index.lookup({ type: 'ipv6', value: '::ffff:203.0.113.7' }), { by: 'exact', entry: '203.0.113.7' });
    assert.deepEqual(index.lookup({ type: 'ipv6', value: '::ffff:198.51.100.9' }), { by: 'cidr', entry: '198.51.100.0/24' });
    assert.equal(index.lookup({ type: 'ipv6', value: '::ffff:203.0.113.8' }), undefined);
  });
});

describe('feed parsing: CIDR lookups', () => {
  it('IPv4 networks match every address inside and nothing outside', () => {
    const index = indexOf(['198.51.100.0/24', '192.0.2.77/26', '203.0.113.9']);
    assert.deepEqual(index.lookup({ type: 'ipv4', value: '198.51.100.0' }), { by: 'cidr', entry: '198.51.100.0/24' });
    assert.deepEqual(index.lookup({ type: 'ipv4', value: '198.51.100.255' }), { by: 'cidr', entry: '198.51.100.0/24' });
    assert.equal(index.lookup({ type: 'ipv4', value: '198.51.101.0' }), undefined);
    assert.equal(index.lookup({ type: 'ipv4', value: '198.51.99.255' }), undefined);
    // Host bits of 192.0.2.77/26 are cleared: the network is .64-.127.
    assert.deepEqual(index.lookup({ type: 'ipv4', value: '192.0.2.64' }), { by: 'cidr', entry: '192.0.2.64/26' });
    assert.deepEqual(index.lookup({ type: 'ipv4', value: '192.0.2.127' }), { by: 'cidr', entry: '192.0.2.64/26' });
    assert.equal(index.lookup({ type: 'ipv4', value: '192.0.2.128' }), undefined);
    assert.equal(index.lookup({ type: 'ipv4', value: '192.0.2.63' }), undefined);
    assert.deepEqual(index.lookup({ type: 'ipv4', value: '203.0.113.9' }), { by: 'exact', entry: '203.0.113.9' });
    assert.equal(index.lookup({ type: 'ipv4', value: 'not-an-ip' }), undefined);
  });

  it('the most specific listed network is reported; /0 lists everything', () => {
    const index = indexOf(['198.51.0.0/16', '198.51.100.0/24', '198.51.100.128/25']);
    assert.equal(index.lookup({ type: 'ipv4', value: '198.51.100.200' })?.entry, '198.51.100.128/25');
    assert.equal(index.lookup({ type: 'ipv4', value: '198.51.100.100' })?.entry, '198.51.100.0/24');
    assert.equal(index.lookup({ type: 'ipv4', value: '198.51.7.1' })?.entry, '198.51.0.0/16');
    const everything = indexOf(['0.0.0.0/0']);
    assert.equal(everything.lookup({ type: 'ipv4', value: '255.255.255.255' })?.entry, '0.0.0.0/0');
    assert.equal(everything.lookup({ type: 'ipv4', value: '0.0.0.0' })?.entry, '0.0.0.0/0');
  });

  it('IPv6 networks, including prefixes that end inside a hex digit', () => {
    const index = indexOf(['2001:db8:dead::/48', '2001:db8:abc0::/44', '2001:db8::7']);
    assert.deepEqual(index.lookup({ type: 'ipv6', value: '2001:db8:dead:beef::1' }), { by: 'cidr', entry: '2001:db8:dead::/48' });
    assert.equal(index.lookup({ type: 'ipv6', value: '2001:db8:deae::1' }), undefined);
    // /44 covers 2001:db8:abc0:: to 2001:db8:abcf:ffff:...
    assert.equal(index.lookup({ type: 'ipv6', value: '2001:db8:abcf:ffff::1' })?.entry, '2001:db8:abc0::/44');
    assert.equal(index.lookup({ type: 'ipv6', value: '2001:db8:abc0::' })?.entry, '2001:db8:abc0::/44');
    assert.equal(index.lookup({ type: 'ipv6', value: '2001:db8:abd0::1' }), undefined);
    assert.equal(index.lookup({ type: 'ipv6', value: '2001:db8:abbf::1' }), undefined);
    assert.deepEqual(index.lookup({ type: 'ipv6', value: '2001:0db8:0:0::7' }), { by: 'exact', entry: '2001:db8::7' });
    assert.equal(index.lookup({ type: 'ipv6', value: '2001:db8::8' }), undefined);
    assert.deepEqual(index.types().sort(), ['ipv6']);
  });
});

describe('feed parsing: domains, URLs, hashes, CVEs, e-mail', () => {
  it('a domain entry lists the domain and its subdomains, not look-alikes', () => {
    const index = indexOf(['evil-domain.com', '*.wildcard-example.net']);
    assert.deepEqual(index.lookup({ type: 'domain', value: 'evil-domain.com' }), { by: 'exact', entry: 'evil-domain.com' });
    assert.deepEqual(index.lookup({ type: 'domain', value: 'a.b.evil-domain.com' }), { by: 'subdomain', entry: 'evil-domain.com' });
    assert.deepEqual(index.lookup({ type: 'domain', value: 'WWW.Evil-Domain.com.' }), { by: 'subdomain', entry: 'evil-domain.com' });
    assert.equal(index.lookup({ type: 'domain', value: 'notevil-domain.com' }), undefined);
    assert.equal(index.lookup({ type: 'domain', value: 'evil-domain.com.au' }), undefined);
    assert.equal(index.lookup({ type: 'domain', value: 'com' }), undefined);
    assert.deepEqual(index.lookup({ type: 'domain', value: 'wildcard-example.net' }), { by: 'exact', entry: 'wildcard-example.net' });
    assert.deepEqual(index.lookup({ type: 'domain', value: 'x.wildcard-example.net' }), { by: 'subdomain', entry: 'wildcard-example.net' });
  });

  it('Unicode and punycode spellings of a name match each other', () => {
    const unicodeEntry = indexOf(['пример.рф']);
    assert.ok(unicodeEntry.lookup({ type: 'domain', value: 'xn--e1afmkfd.xn--p1ai' }));
    assert.ok(unicodeEntry.lookup({ type: 'domain', value: 'mail.пример.рф' }));
    const punycodeEntry = indexOf(['xn--e1afmkfd.xn--p1ai']);
    assert.ok(punycodeEntry.lookup({ type: 'domain', value: 'пример.рф' }));
  });

  it('URLs match exactly (scheme and host case-insensitive, a bare "/" path ignored)', () => {
    const index = indexOf(['http://slash-only.com/', 'https://bad-host.com/Login', 'http://no-slash.com']);
    assert.ok(index.lookup({ type: 'url', value: 'http://slash-only.com' }));
    assert.ok(index.lookup({ type: 'url', value: 'HTTP://SLASH-ONLY.COM/' }));
    assert.ok(index.lookup({ type: 'url', value: 'http://no-slash.com/' }));
    assert.ok(index.lookup({ type: 'url', value: 'https://BAD-HOST.com/Login' }));
    assert.equal(index.lookup({ type: 'url', value: 'https://bad-host.com/login' }), undefined, 'paths stay case-sensitive');
    assert.equal(index.lookup({ type: 'url', value: 'https://slash-only.com' }), undefined, 'scheme matters');
    assert.equal(index.lookup({ type: 'domain', value: 'bad-host.com' }), undefined, 'a URL does not list its host');
  });

  it('hashes, CVEs and e-mail addresses match by normalised value', () => {
    const index = indexOf(['44D88612FEA8A8F36DE82E1278ABB02F', 'cve-2021-44228', 'Phisher@Evil-Domain.com']);
    assert.ok(index.lookup({ type: 'md5', value: '44d88612fea8a8f36de82e1278abb02f' }));
    assert.ok(index.lookup({ type: 'md5', value: '44D88612FEA8A8F36DE82E1278ABB02F' }));
    assert.equal(index.lookup({ type: 'sha1', value: '44d88612fea8a8f36de82e1278abb02f' }), undefined, 'types are separate');
    assert.ok(index.lookup({ type: 'cve', value: 'CVE-2021-44228' }));
    assert.ok(index.lookup({ type: 'email', value: 'phisher@evil-domain.com' }));
    assert.equal(index.lookup({ type: 'email', value: 'other@evil-domain.com' }), undefined);
    assert.deepEqual(index.types().sort(), ['cve', 'email', 'md5']);
  });
});

describe('feed parsing: formats', () => {
  it('plain text: comments, trailing comments, hosts-file lines, junk counted, duplicates counted', () => {
    const parsed = parseFeed({ text: fixture('mixed.txt'), origin: 'mixed.txt' });
    assert.equal(parsed.format, 'text');
    assert.deepEqual(parsed.index.byType(), {
      ipv4: 4,
      ipv4Cidr: 2,
      ipv6: 1,
      ipv6Cidr: 1,
      domain: 7,
      url: 3,
      md5: 1,
      sha1: 1,
      sha256: 1,
      cve: 1,
      email: 1,
    });
    assert.equal(parsed.index.size, 23);
    assert.equal(parsed.skipped, 5);
    assert.deepEqual(parsed.skippedExamples, ['not an indicator at all', '999.1.1.1', '203.0.113.0/33', 'tcp://203.0.113.10:4444', 'readme']);
    assert.equal(parsed.duplicates, 1);
    const index = parsed.index;
    assert.ok(index.lookup({ type: 'ipv4', value: '203.0.113.8' }), 'first token of a tab-separated line');
    assert.ok(index.lookup({ type: 'domain', value: 'hosts-second.com' }), 'every name of a hosts-file line');
    assert.ok(index.lookup({ type: 'domain', value: 'localhost-style.com' }));
    assert.equal(index.lookup({ type: 'ipv4', value: '0.0.0.0' }), undefined, 'the hosts-file sink is not listed');
    assert.equal(index.lookup({ type: 'ipv4', value: '127.0.0.1' }), undefined);
    assert.ok(index.lookup({ type: 'ipv4', value: '198.51.100.77' }), 'Spamhaus DROP style line with "; SBL" comment');
  });

  it('CSV: header by known name, quoted cells with commas, quotes and line breaks', () => {
    const parsed = parseFeed({ text: fixture('indicators.csv'), origin: '/feeds/indicators.csv' });
    assert.equal(parsed.format, 'csv');
    assert.deepEqual(parsed.index.byType(), { ipv4: 1, domain: 1, url: 1, ipv4Cidr: 1, sha256: 1 });
    assert.equal(parsed.skipped, 2);
    const index = parsed.index;
    assert.ok(index.lookup({ type: 'url', value: 'https://bad-csv-domain.com/a?b=1' }));
    assert.ok(index.lookup({ type: 'ipv4', value: '198.51.100.70' }));
    assert.ok(index.lookup({ type: 'sha256', value: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' }));
  });

  it('CSV: column by name or 0-based index; a missing named column is an error', () => {
    const text = 'when,addr,note\n2024-01-01,203.0.113.1,x\n2024-01-02,203.0.113.2,y\n';
    const byName = parseFeed({ text }, { format: 'csv', csvColumn: 'ADDR' });
    assert.equal(byName.index.size, 2);
    assert.equal(byName.skipped, 0);
    // By index the header row is recognised as not-an-indicator and not counted as skipped.
    const byIndex = parseFeed({ text }, { format: 'csv', csvColumn: 1 });
    assert.equal(byIndex.index.size, 2);
    assert.equal(byIndex.skipped, 0);
    const headerless = parseFeed({ text: '203.0.113.5,scanner\n203.0.113.6,c2\n' }, { format: 'csv' });
    assert.equal(headerless.index.size, 2, 'the first row is data when it is an indicator');
    assert.throws(() => parseFeed({ text }, { format: 'csv', csvColumn: 'ip' }), FeedParseError);
    assert.throws(() => parseFeed({ text }, { format: 'csv', csvColumn: -1 }), FeedParseError);
  });

  it('CSV: semicolon and tab delimiters are detected', () => {
    assert.equal(parseFeed({ text: 'ip;comment\n203.0.113.1;a, b\n203.0.113.2;c\n' }, { format: 'csv' }).index.size, 2);
    assert.equal(parseFeed({ text: 'ip\tcomment\n203.0.113.1\ta, b\n' }, { format: 'csv' }).index.size, 1);
  });

  it('csvRows: quoting, CRLF, comment lines, blank lines', () => {
    const rows = [...csvRows('# comment\r\na,"b,1","say ""hi"""\r\n\r\n"multi\nline",x\n#,not a comment row? yes it is\nlast,row')];
    assert.deepEqual(rows, [
      ['a', 'b,1', 'say "hi"'],
      ['multi\nline', 'x'],
      ['last', 'row'],
    ]);
  });

  it('JSON: object with one entry array; objects take a well-known member; non-strings are skipped', () => {
    const parsed = parseFeed({ text: fixture('indicators.json'), origin: 'x.json' });
    assert.equal(parsed.format, 'json');
    assert.deepEqual(parsed.index.byType(), { ipv4: 2, domain: 1, ipv6: 1 });
    assert.equal(parsed.skipped, 2);
  });

  it('JSON: jsonField with a dotted path; an already parsed body (HTTP client) works the same', () => {
    const text = fixture('nested.json');
    const fromText = parseFeed({ text }, { jsonField: 'observable.data' });
    const fromParsed = parseFeed({ json: JSON.parse(text) }, { jsonField: 'observable.data' });
    for (const parsed of [fromText, fromParsed]) {
      assert.equal(parsed.index.size, 2);
      assert.equal(parsed.skipped, 1);
      assert.ok(parsed.index.lookup({ type: 'domain', value: 'nested-json.com' }));
    }
  });

  it('JSON: NDJSON lines; a document without an entry array is an error', () => {
    const parsed = parseFeed({ text: '{"ioc":"203.0.113.1"}\n{"ioc":"evil-domain.com"}\nnot json\n' }, { format: 'json' });
    assert.equal(parsed.index.size, 2);
    assert.equal(parsed.skipped, 1);
    assert.throws(() => parseFeed({ text: '{"a":1}' }, { format: 'json' }), FeedParseError);
    assert.throws(() => parseFeed({ text: '{"a":[1],"b":[2]}' }, { format: 'json' }), /several arrays/);
    assert.throws(() => parseFeed({ text: 'plain words' }, { format: 'json' }), /not JSON/);
  });

  it('auto mode: extension, content type, shape', () => {
    assert.equal(parseFeed({ text: '203.0.113.1\n' }).format, 'text');
    assert.equal(parseFeed({ text: 'ip,note\n203.0.113.1,x\n' }).format, 'csv');
    assert.equal(parseFeed({ text: '203.0.113.1\n', contentType: 'text/csv; charset=utf-8' }).format, 'csv');
    assert.equal(parseFeed({ text: '["203.0.113.1"]' }).format, 'json');
    assert.equal(parseFeed({ json: ['203.0.113.1'] }).format, 'json');
    // URLs may hold commas: a URL list stays text.
    const urls = parseFeed({ text: 'http://evil-domain.com/a,b\nhttp://evil-domain.com/c\n' });
    assert.equal(urls.format, 'text');
    assert.ok(urls.index.lookup({ type: 'url', value: 'http://evil-domain.com/a,b' }));
    // A one-line feed the HTTP stack parsed as a JSON scalar is still read.
    assert.equal(parseFeed({ json: 'evil-domain.com' }).index.size, 1);
  });

  it('types restriction: other entries are counted as filtered, not skipped', () => {
    const parsed = parseFeed({ text: fixture('mixed.txt') }, { types: ['ipv4', 'domain'] });
    assert.deepEqual(parsed.index.types().sort(), ['domain', 'ipv4']);
    assert.equal(parsed.index.size, 4 + 2 + 7);
    assert.equal(parsed.skipped, 5);
    assert.ok(parsed.filtered > 0);
    assert.equal(parsed.index.lookup({ type: 'md5', value: '44d88612fea8a8f36de82e1278abb02f' }), undefined);
  });

  it('a BOM is ignored; an empty or comment-only feed has no entries', () => {
    assert.equal(parseFeed({ text: '\ufeff203.0.113.1\n' }).index.size, 1);
    assert.equal(parseFeed({ text: '# only a comment\n\n' }).index.size, 0);
  });

  it('parseFeedAsync builds the same index as parseFeed, across many slices', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 12_000; i++) lines.push(`10.${(i >> 8) & 255}.${i & 255}.1`.replace(/^10\./, '203.'));
    for (let i = 0; i < 3_000; i++) lines.push(`host-${i}.bulk-example.com`);
    lines.push('junk line', '198.51.100.0/24');
    const text = lines.join('\n');
    const sync = parseFeed({ text });
    const sliced = await parseFeedAsync({ text });
    assert.deepEqual(sliced.index.byType(), sync.index.byType());
    assert.equal(sliced.skipped, 1);
    assert.equal(sliced.index.size, 12_000 + 3_000 + 1 - sync.duplicates);
    assert.ok(sliced.index.lookup({ type: 'ipv4', value: '203.46.223.1' }));
    assert.ok(sliced.index.lookup({ type: 'domain', value: 'www.host-2999.bulk-example.com' }));
    assert.ok(sliced.index.lookup({ type: 'ipv4', value: '198.51.100.4' }));
  });
});
