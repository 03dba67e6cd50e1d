import assert from 'node:assert/strict';
import { refang, refangWithMarks } from '../../../lib/ioc';
import { defang } from '../../../lib/ioc/defang';

describe('ioc refang', () => {
  it('turns the common defanged forms back', () => {
    assert.equal(refang('hxxp://evil[.]com'), 'http://evil.com');
    assert.equal(refang('hXXps://evil(.)com[/]a'), 'https://evil.com/a');
    assert.equal(refang('evil[dot]com and evil{.}org and evil(DOT)net'), 'evil.com and evil.org and evil.net');
    assert.equal(refang('http[:]//x[.]y and http[://]x[.]y'), 'http://x.y and http://x.y');
    assert.equal(refang('bob[@]x[.]y, eve[at]x[.]y, joe(at)x[.]y'), 'bob@x.y, eve@x.y, joe@x.y');
    assert.equal(refang('fxp://files[.]example[.]org'), 'ftp://files.example.org');
    assert.equal(refang('example\\.com'), 'example.com');
  });

  it('swallows the spaces around a spaced-out dot or at', () => {
    assert.equal(refang('evil [.] example [dot] com'), 'evil.example.com');
    assert.equal(refang('spam [at] bulk [dot] biz'), 'spam@bulk.biz');
  });

  it('leaves ordinary text alone', () => {
    const text = 'Normal text (with brackets) [and] {braces}; http://plain.example.com stays; hex 0xff.';
    assert.equal(refang(text), text);
  });

  it('records where replacements landed in the output', () => {
    const result = refangWithMarks('a evil[.]com b');
    assert.equal(result.text, 'a evil.com b');
    assert.deepEqual(result.marks, [6]);
    assert.equal(result.text[result.marks[0]], '.');
  });
});

describe('ioc defang', () => {
  it('makes schemes, separators and addresses unclickable', () => {
    assert.equal(defang('https://evil.example/a.php'), 'hxxps[://]evil[.]example/a[.]php');
    assert.equal(defang('see http://a.b and ftp://c.d'), 'see hxxp[://]a[.]b and fxp[://]c[.]d');
    assert.equal(defang('HTTP://X.Y'), 'HxxP[://]X[.]Y', 'the letters keep their case');
    assert.equal(defang('FTP://A.B'), 'Fxp[://]A[.]B');
    assert.equal(defang('bob@evil.example', 'email'), 'bob[@]evil[.]example');
    assert.equal(defang('(http://a.b)'), '(hxxp[://]a[.]b)');
  });

  it('rewrites a scheme only where it starts a word, and only before ://', () => {
    assert.equal(defang('xhttp://a.b'), 'xhttp[://]a[.]b');
    assert.equal(defang('1http://a.b'), '1http[://]a[.]b');
    assert.equal(defang('_ftp://a.b'), '_ftp[://]a[.]b');
    assert.equal(defang('httpss://a'), 'httpss[://]a');
    assert.equal(defang('http:/a and ftp:a'), 'http:/a and ftp:a');
  });

  it('brackets IPv6 colons only for an ipv6 value, and leaves hashes and CVE ids alone', () => {
    assert.equal(defang('2001:db8::1', 'ipv6'), '2001[:]db8[:][:]1');
    assert.equal(defang('2001:db8::1'), '2001:db8::1');
    for (const type of ['md5', 'sha1', 'sha256', 'sha512', 'cve']) assert.equal(defang('a.b@c', type), 'a.b@c', type);
    assert.equal(defang('a.b@c', 'domain'), 'a[.]b[@]c');
  });

  it('refang undoes every form it writes, whatever precedes the scheme', () => {
    const values: [string, string?][] = [
      ['https://evil.example.com/a.php?x=1', 'url'],
      ['ftp://files.example.org/x', 'url'],
      ['HTTPS://Evil.Example/', 'url'],
      ['1http://a.example', 'url'],
      ['x_https://a.example', 'url'],
      ['(ftp://a.example)', 'url'],
      ['203.0.113.7', 'ipv4'],
      ['2001:db8::1', 'ipv6'],
      ['bob@evil.example', 'email'],
    ];
    for (const [value, type] of values) {
      const safe = defang(value, type);
      assert.notEqual(safe, value);
      assert.equal(refang(safe).toLowerCase(), value.toLowerCase(), `${value} -> ${safe} -> ${refang(safe)}`);
    }
  });
});
