/**
 * Adversarial 1 MiB inputs aimed at each pattern's worst case (long runs that almost match).
 * A pattern that backtracks quadratically would not finish within mocha's timeout; the assertions
 * themselves check the answers, not the time.
 */
import assert from 'node:assert/strict';
import { extractFromText, refang } from '../../../lib/ioc';

const MIB = 1 << 20;

describe('ioc extraction on adversarial 1 MiB inputs', function () {
  this.timeout(60000);

  const nothingToFind: Array<[string, string]> = [
    ['one hex run longer than any hash', 'a'.repeat(MIB)],
    ['hex run ending in a letter', 'f'.repeat(MIB) + 'g'],
    ['labels and dots without a TLD', 'a.'.repeat(MIB / 2)],
    ['digits and dots', '1.'.repeat(MIB / 2)],
    ['colons only', ':'.repeat(MIB)],
    ['hex and colons', 'a:'.repeat(MIB / 2) + 'x'],
    ['digit groups and colons', '1:'.repeat(MIB / 2)],
    ['at signs between letters', 'a@'.repeat(MIB / 2)],
    ['a local part and a dotless domain', 'a'.repeat(MIB / 2) + '@' + 'b'.repeat(MIB / 2)],
    ['CVE with an endless number', 'CVE-2024-' + '1'.repeat(MIB)],
    ['defang brackets', '[.]'.repeat(MIB / 3)],
    ['hyphens', '-'.repeat(MIB)],
    ['Cyrillic letters and dots', 'й.'.repeat(MIB / 2)],
    ['a scheme followed by a giant host', 'http://' + 'a'.repeat(MIB)],
    ['percent-escapes, double-encoded', '%25'.repeat(MIB / 3) + 'x'],
    ['percent signs', '%'.repeat(MIB)],
    ['underscores and dots', '_.'.repeat(MIB / 2)],
    ['an underscore run before a TLD', '_'.repeat(MIB) + '.com'],
    ['a hyphen run inside a name', 'a' + '-'.repeat(MIB) + 'b.com-'],
    ['flags glued together', '--a.com'.repeat(MIB / 7)],
    ['CPE names with address-shaped versions', 'cpe:2.3:a:v:p:1.2.3.4:*:*:*:*:*:*:* '.repeat(MIB / 36)],
    ['a hostless URL over and over', 'http://.'.repeat(MIB / 8)],
  ];
  for (const [name, text] of nothingToFind) {
    it(`finds nothing in ${name}`, () => {
      assert.deepEqual(extractFromText(text), []);
    });
  }

  it('cuts a long run of unbalanced parentheses off a URL', () => {
    const iocs = extractFromText('http://x.example.com/' + ')'.repeat(MIB));
    assert.deepEqual(
      iocs.map((ioc) => ioc.value),
      ['http://x.example.com/', 'x.example.com'],
    );
  });

  it('stops a URL at Markdown link joints and non-ASCII closing quotes', () => {
    const joints = extractFromText('[x](http://x.example.com/' + ']('.repeat(MIB / 2));
    assert.deepEqual(
      joints.map((ioc) => ioc.value),
      ['http://x.example.com/', 'x.example.com'],
    );
    const quotes = extractFromText('http://x.example.com/a' + '”'.repeat(MIB));
    assert.deepEqual(
      quotes.map((ioc) => ioc.value),
      ['http://x.example.com/a', 'x.example.com'],
    );
  });

  it('looks back a bounded distance for a CPE name before each address', () => {
    // Past 256 characters a token is no CPE name: the later addresses count.
    const iocs = extractFromText('cpe:2.3:a:v:p:' + '1.2.3.4:'.repeat(MIB / 8));
    assert.deepEqual(
      iocs.map((ioc) => ioc.value),
      ['1.2.3.4'],
    );
  });

  it('checks a version suffix after an address without reading a long digit run', () => {
    const iocs = extractFromText('1.2.3.4-' + '9'.repeat(MIB));
    assert.deepEqual(
      iocs.map((ioc) => ioc.value),
      ['1.2.3.4'],
    );
  });

  it('looks back over URL user-info a bounded distance for every e-mail', () => {
    const chunk = '~'.repeat(1000) + 'a@evil-cdn.com ';
    const iocs = extractFromText(chunk.repeat(Math.ceil(MIB / chunk.length)));
    assert.deepEqual(
      iocs.map((ioc) => `${ioc.type}:${ioc.value}`),
      ['email:a@evil-cdn.com', 'domain:evil-cdn.com'],
    );
  });

  it('finds every real indicator in a megabyte of repeated alert text', () => {
    const line = 'Failed password for root from 203.0.113.44 port 22; see hxxp://evil[.]example[.]com/a?b=1 ';
    const text = line.repeat(Math.ceil(MIB / line.length));
    const iocs = extractFromText(text);
    assert.deepEqual(
      iocs.map((ioc) => `${ioc.type}:${ioc.value}`),
      ['url:http://evil.example.com/a?b=1', 'ipv4:203.0.113.44', 'domain:evil.example.com'],
    );
  });

  it('refangs a megabyte of defanged dots', () => {
    assert.equal(refang('x[.]'.repeat(MIB / 4)), 'x.'.repeat(MIB / 4));
  });
});
