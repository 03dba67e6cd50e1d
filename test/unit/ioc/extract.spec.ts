import assert from 'node:assert/strict';
import { clearExtractionCaches, extractFromText, type IocType } from '../../../lib/ioc';

function valuesOf(text: string, type: IocType): string[] {
  return extractFromText(text)
    .filter((ioc) => ioc.type === type)
    .map((ioc) => ioc.value);
}

describe('ioc extractFromText', () => {
  // Verdicts are cached per process; start cold so every rule runs (a warm cache hides a broken rule).
  beforeEach(clearExtractionCaches);

  describe('ipv4', () => {
    it('finds addresses with ports, in brackets and in CIDRs, and flags internal ones', () => {
      const iocs = extractFromText('from 203.0.113.9:22 to [10.0.0.5] net 198.51.100.0/24');
      assert.deepEqual(
        iocs.map((ioc) => [ioc.type, ioc.value, ioc.internal]),
        [
          ['ipv4', '203.0.113.9', false],
          ['ipv4', '10.0.0.5', true],
          ['ipv4', '198.51.100.0', false],
        ],
      );
    });

    it('ignores version numbers, OIDs, out-of-range octets and leading zeros', () => {
      assert.deepEqual(valuesOf('version 1.2.3.4, v2.0.1.7, kernel 5.15.0.91, OID 1.3.6.1.4.1.2021, 300.1.1.1, 010.0.0.1', 'ipv4'), []);
    });

    it('still finds an address after an ordinary word', () => {
      assert.deepEqual(valuesOf('upgraded from 8.8.4.4 to 8.8.8.8', 'ipv4'), ['8.8.4.4', '8.8.8.8']);
    });
  });

  describe('ipv6', () => {
    it('canonicalises full, compressed, bracketed and zoned forms', () => {
      const text = '2001:0DB8:0000:0000:0000:0000:0000:0001 [2001:db8::2]:443 fe80::1%eth0 addr:2001:db8::3.';
      assert.deepEqual(valuesOf(text, 'ipv6'), ['2001:db8::1', '2001:db8::2', 'fe80::1', '2001:db8::3']);
    });

    it('gives an IPv4-mapped address and its IPv4', () => {
      const iocs = extractFromText('src ::ffff:10.1.2.3');
      assert.deepEqual(
        iocs.map((ioc) => [ioc.type, ioc.value, ioc.internal]),
        [
          ['ipv4', '10.1.2.3', true],
          ['ipv6', '::ffff:a01:203', true],
        ],
      );
    });

    it('ignores MAC addresses, clock times, C++ scopes and letters-only tokens', () => {
      assert.deepEqual(valuesOf('00:1a:2b:3c:4d:5e 10:20:30 12:30:45.5 std::vector Foo::Bar dead::beef ::', 'ipv6'), []);
    });
  });

  describe('url', () => {
    it('keeps ports, queries and fragments and cuts trailing punctuation', () => {
      const text = '(see https://files.example.net:8443/a/b.tar.gz?x=1&y=2#frag), or "http://cdn.example.com/a.js".';
      assert.deepEqual(valuesOf(text, 'url'), ['https://files.example.net:8443/a/b.tar.gz?x=1&y=2#frag', 'http://cdn.example.com/a.js']);
    });

    it('keeps balanced parentheses inside the URL', () => {
      assert.deepEqual(valuesOf('at https://example.org/wiki/Foo_(bar).', 'url'), ['https://example.org/wiki/Foo_(bar)']);
    });

    it('refangs hxxp and defanged hosts, lower-cases scheme and host only', () => {
      assert.deepEqual(valuesOf('hXXps://Evil[.]Example[.]com/Login?User=A', 'url'), ['https://evil.example.com/Login?User=A']);
    });

    it('handles IPv6 hosts and yields the host as its own indicator', () => {
      const iocs = extractFromText('GET http://[2001:db8::10]:8080/status');
      assert.deepEqual(
        iocs.map((ioc) => `${ioc.type}:${ioc.value}`),
        ['url:http://[2001:db8::10]:8080/status', 'ipv6:2001:db8::10'],
      );
    });

    it('yields the domain of a URL even with a file-extension TLD', () => {
      assert.deepEqual(valuesOf('hxxp://payload.zip/x', 'domain'), ['payload.zip']);
    });

    it('marks URLs to internal addresses and intranet names internal', () => {
      const iocs = extractFromText('http://10.0.0.1/admin http://intranet.corp.local/wiki http://localhost:3000/ https://example.com/');
      assert.deepEqual(
        iocs.filter((ioc) => ioc.type === 'url').map((ioc) => [ioc.value, ioc.internal]),
        [
          ['http://10.0.0.1/admin', true],
          ['http://intranet.corp.local/wiki', true],
          ['http://localhost:3000/', true],
          ['https://example.com/', false],
        ],
      );
    });

    it('needs a scheme and a valid host and port', () => {
      assert.deepEqual(valuesOf('example.com/path http:// http://x.com:99999/ http://999.1.1.1/', 'url'), []);
    });
  });

  describe('domain', () => {
    it('finds domains with public suffixes, lower-cased, in Unicode and punycode', () => {
      const text = 'Seen: Evil.Example.CO.UK, xn--80ak6aa92e.com, пример.рф and login.microsoftonline.com.';
      assert.deepEqual(valuesOf(text, 'domain'), ['evil.example.co.uk', 'xn--80ak6aa92e.com', 'пример.рф', 'login.microsoftonline.com']);
    });

    it('does not take file names for domains', () => {
      assert.deepEqual(valuesOf('Open invoice.pdf, config.json, readme.md, main.py, setup.exe, archive.tar.gz, backup.sh', 'domain'), []);
    });

    it('accepts a file-extension TLD with context: defanged, www., DNS word, e-mail', () => {
      assert.deepEqual(valuesOf('evil[.]zip www.promo.mov; DNS query for stage.zip; bob@mail.zip', 'domain'), [
        'evil.zip',
        'www.promo.mov',
        'stage.zip',
        'mail.zip',
      ]);
    });

    it('does not take code, field paths, abbreviations or path segments for domains', () => {
      const text = 'os.path.join(a) obj.method() user.name=x rule.id: 5 e.g. i.e. U.S. Net.WebClient /usr/lib/apt.py $foo.com failed.Click';
      assert.deepEqual(valuesOf(text, 'domain'), []);
    });

    it('rejects names without a public suffix', () => {
      assert.deepEqual(valuesOf('host.local fileserver.corp evil.example foo.invalid', 'domain'), []);
    });

    it('cuts a following sentence glued on without a space', () => {
      assert.deepEqual(valuesOf('Visit phish-login.com.Then click', 'domain'), ['phish-login.com']);
    });
  });

  describe('email', () => {
    it('finds plain and defanged addresses, lower-cased, and their domains', () => {
      const iocs = extractFromText('From Payroll.Update@HR-Portal.com, cc: bob[@]evil[.]org, eve [at] evil [dot] net');
      assert.deepEqual(
        iocs.map((ioc) => `${ioc.type}:${ioc.value}`),
        ['email:payroll.update@hr-portal.com', 'email:bob@evil.org', 'email:eve@evil.net', 'domain:hr-portal.com', 'domain:evil.org', 'domain:evil.net'],
      );
    });

    it('does not take URL user-info or addresses at IPs or bad local parts', () => {
      assert.deepEqual(valuesOf('http://user:pw@evil.com/ ftp://anon@files.example.org/ root@10.0.0.1 .bad@example.com', 'email'), []);
    });
  });

  describe('hashes', () => {
    it('types hashes by length and lower-cases them', () => {
      const sha512 = 'CF83E1357EEFB8BDF1542850D66D8007D620E4050B5715DC83F4A921D36CE9CE47D0D13C5D85F2B0FF8318D2877EEC2F63B931BD47417A81A538327AF927DA3E';
      const text =
        `md5 D41D8CD98F00B204E9800998ECF8427E sha1=da39a3ee5e6b4b0d3255bfef95601890afd80709 ` +
        `sha256:E3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 ${sha512}`;
      assert.deepEqual(
        extractFromText(text).map((ioc) => `${ioc.type}:${ioc.value}`),
        [
          'md5:d41d8cd98f00b204e9800998ecf8427e',
          'sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709',
          'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
          `sha512:${sha512.toLowerCase()}`,
        ],
      );
    });

    it('never reports a slice of a longer hex run, an 0x constant, a UUID or an all-digit number', () => {
      const sha256 = 'a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3';
      const text = `${sha256} ${sha256}ab 0xdeadbeefdeadbeefdeadbeefdeadbeef 550e8400-e29b-41d4-a716-446655440000 12345678901234567890123456789012`;
      assert.deepEqual(
        extractFromText(text).map((ioc) => ioc.type),
        ['sha256'],
      );
    });
  });

  describe('cve', () => {
    it('finds CVE ids in any case, with 4 to 7 digit numbers, upper-cased', () => {
      assert.deepEqual(valuesOf('cve-2021-44228, CVE-2024-123456, CVE\u20112024\u201121412, CVE-17-0144, CVE-2017-14, XCVE-2020-1234', 'cve'), [
        'CVE-2021-44228',
        'CVE-2024-123456',
        'CVE-2024-21412',
      ]);
    });
  });

  describe('kinds found on text the corpus had not seen', () => {
    it('takes no address out of a version string, a file name or a CPE name, but keeps ranges', () => {
      assert.deepEqual(valuesOf('agent 1.2.3.4-beta, 3.0.11.1+deb12u2, 9.2.1.1-2ubuntu1, pkg-1.2.3.4.tar.gz', 'ipv4'), []);
      assert.deepEqual(valuesOf('cpe:2.3:a:vendor:product:1.2.3.4:*:*:*:*:*:*:* cpe:/a:acme:os:10.0.0.1', 'ipv4'), []);
      assert.deepEqual(valuesOf('203.0.113.10-203.0.113.20, 198.51.100.7-255, from 203.0.113.5.Then', 'ipv4'), [
        '203.0.113.10',
        '203.0.113.20',
        '198.51.100.7',
        '203.0.113.5',
      ]);
    });

    it('takes DNS names with underscore labels whole, and snake_case code not at all', () => {
      assert.deepEqual(valuesOf('_dmarc.phish-login.com _sip._tcp.voip-corp.net build_srv01.evil-cdn.net', 'domain'), [
        '_dmarc.phish-login.com',
        '_sip._tcp.voip-corp.net',
        'build_srv01.evil-cdn.net',
      ]);
      assert.deepEqual(valuesOf('self._cache.name = file_info.name; my_var.com', 'domain'), []);
    });

    it('drops hyphens around a name, and takes no flag after `--` as a name', () => {
      assert.deepEqual(valuesOf('list:-evil-cdn.net, bad-host.com-- and --web.page or --cluster.name', 'domain'), ['evil-cdn.net', 'bad-host.com']);
    });

    it('ends URLs at non-ASCII closing punctuation and Markdown link joints', () => {
      const text =
        '“https://a-host.com/x” 「https://b-host.com/y」と «https://c-host.com/z» https://d-host.com/lo… [https://e-host.com/1](https://e-host.com/2)';
      assert.deepEqual(valuesOf(text, 'url'), [
        'https://a-host.com/x',
        'https://b-host.com/y',
        'https://c-host.com/z',
        'https://d-host.com/lo',
        'https://e-host.com/1',
        'https://e-host.com/2',
      ]);
    });

    it('needs a host in a URL', () => {
      assert.deepEqual(valuesOf('http://.com https://..net/x http://a..com/ https://-a.com/ http://intranet/wiki', 'url'), ['http://intranet/wiki']);
    });

    it('takes no e-mail from URL user-info of any scheme or from an SSH target', () => {
      const text = 'ssh://git@git-host.net/r ftp://anon@ftp-host.org/ redis://:pw@cache-host.io git@git-host.net:org/r.git mailto:alice@corp-mail.com';
      assert.deepEqual(valuesOf(text, 'email'), ['alice@corp-mail.com']);
    });

    it('reads percent-escapes as separators outside URLs', () => {
      const iocs = extractFromText('u=https%3A%2F%2Fevil-cdn.net%2Fx %252F203.0.113.77 h%3Dd41d8cd98f00b204e9800998ecf8427e');
      assert.deepEqual(
        iocs.map((ioc) => `${ioc.type}:${ioc.value}`),
        ['ipv4:203.0.113.77', 'domain:evil-cdn.net', 'md5:d41d8cd98f00b204e9800998ecf8427e'],
      );
    });
  });

  it('deduplicates and honours the types option', () => {
    const text = 'evil.com EVIL.COM evil[.]com 8.8.8.8 8.8.8.8';
    assert.deepEqual(
      extractFromText(text).map((ioc) => `${ioc.type}:${ioc.value}`),
      ['ipv4:8.8.8.8', 'domain:evil.com'],
    );
    assert.deepEqual(
      extractFromText(text, { types: ['domain'] }).map((ioc) => ioc.value),
      ['evil.com'],
    );
    assert.deepEqual(
      extractFromText('http://evil.com/x', { types: ['domain'] }).map((ioc) => ioc.value),
      ['evil.com'],
    );
  });
});
