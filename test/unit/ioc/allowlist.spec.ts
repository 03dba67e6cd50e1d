import assert from 'node:assert/strict';
import { Allowlist, type Ioc } from '../../../lib/ioc';

describe('ioc Allowlist', () => {
  const allowlist = new Allowlist({
    values: ['8.8.8.8', '2001:DB8:0::1', 'D41D8CD98F00B204E9800998ECF8427E', 'trusted.example.net'],
    cidrs: ['203.0.113.0/24', '2001:db8:aaaa::/48'],
    domainSuffixes: ['example.org', '*.corp-cdn.com', '.microsoft.com'],
  });
  const check = (ioc: Ioc): boolean => allowlist.matches(ioc);

  it('matches exact values whatever their spelling', () => {
    assert.equal(check({ type: 'ipv4', value: '8.8.8.8' }), true);
    assert.equal(check({ type: 'ipv6', value: '2001:db8::1' }), true);
    assert.equal(check({ type: 'md5', value: 'd41d8cd98f00b204e9800998ecf8427e' }), true);
    assert.equal(check({ type: 'domain', value: 'trusted.example.net' }), true);
    assert.equal(check({ type: 'domain', value: 'sub.trusted.example.net' }), false);
    assert.equal(check({ type: 'ipv4', value: '8.8.4.4' }), false);
  });

  it('matches IPs inside CIDR ranges, IPv4-mapped addresses included', () => {
    assert.equal(check({ type: 'ipv4', value: '203.0.113.77' }), true);
    assert.equal(check({ type: 'ipv4', value: '203.0.114.1' }), false);
    assert.equal(check({ type: 'ipv6', value: '2001:db8:aaaa:1::5' }), true);
    assert.equal(check({ type: 'ipv6', value: '2001:db8:bbbb::5' }), false);
    assert.equal(check({ type: 'ipv6', value: '::ffff:cb00:7105' }), true, '::ffff:203.0.113.5');
  });

  it('matches a domain suffix on label boundaries only', () => {
    assert.equal(check({ type: 'domain', value: 'example.org' }), true);
    assert.equal(check({ type: 'domain', value: 'www.example.org' }), true);
    assert.equal(check({ type: 'domain', value: 'badexample.org' }), false);
    assert.equal(check({ type: 'domain', value: 'a.corp-cdn.com' }), true);
    assert.equal(check({ type: 'domain', value: 'login.microsoft.com' }), true);
    assert.equal(check({ type: 'domain', value: 'microsoft.com.evil.net' }), false);
  });

  it('matches URLs by host and e-mail addresses by domain', () => {
    assert.equal(check({ type: 'url', value: 'https://www.example.org/login' }), true);
    assert.equal(check({ type: 'url', value: 'http://203.0.113.9:8080/x' }), true);
    assert.equal(check({ type: 'url', value: 'http://[2001:db8:aaaa::9]/x' }), true);
    assert.equal(check({ type: 'url', value: 'http://user@8.8.8.8/x' }), true);
    assert.equal(check({ type: 'url', value: 'https://evil.net/?r=example.org' }), false);
    assert.equal(check({ type: 'email', value: 'alice@mail.example.org' }), true);
    assert.equal(check({ type: 'email', value: 'alice@evil.net' }), false);
  });

  it('does not apply IP ranges to hashes or CVEs', () => {
    assert.equal(check({ type: 'cve', value: 'CVE-2024-3400' }), false);
    assert.equal(check({ type: 'sha1', value: 'da39a3ee5e6b4b0d3255bfef95601890afd80709' }), false);
  });

  it('refuses a malformed CIDR, naming it', () => {
    assert.throws(() => new Allowlist({ cidrs: ['10.0.0.0/33'] }), /10\.0\.0\.0\/33/);
    assert.throws(() => new Allowlist({ cidrs: ['not-a-range'] }), /not-a-range/);
  });

  it('an empty allowlist matches nothing', () => {
    assert.equal(new Allowlist({}).matches({ type: 'ipv4', value: '10.0.0.1' }), false);
  });

  it('normalises its entries: blanks, case, IPv6 spelling, "*." and leading or trailing dots of suffixes', () => {
    const list = new Allowlist({
      values: [' Good.Example ', '2001:DB8:0::1'],
      cidrs: [' 10.0.0.0/8 ', '2001:2::/48'],
      domainSuffixes: ['*.corp.example', '..trusted.example.', ' ', 'Upper.Example'],
    });
    const allowed = (type: Ioc['type'], value: string) => list.matches({ type, value, internal: false });
    assert.ok(allowed('domain', 'GOOD.EXAMPLE'));
    assert.ok(allowed('ipv6', '2001:db8::1'));
    assert.ok(allowed('ipv4', '10.1.2.3'));
    assert.ok(!allowed('ipv4', '11.1.2.3'));
    assert.ok(allowed('ipv6', '::ffff:10.1.2.3'), 'an IPv4-mapped address is its IPv4');
    assert.ok(!allowed('ipv6', '64:ff9b::10.1.2.3'), 'a NAT64 address is another host');
    assert.ok(allowed('domain', 'corp.example') && allowed('domain', 'a.corp.example'));
    assert.ok(!allowed('domain', 'xcorp.example'), 'a suffix matches whole labels');
    assert.ok(allowed('domain', 'trusted.example') && allowed('domain', 'a.trusted.example'));
    assert.ok(allowed('domain', 'x.upper.example'));
    assert.ok(!allowed('domain', 'example'), 'the blank suffix was dropped, not kept as a match-all');
  });

  it('e-mail addresses by the domain after the last @, URLs by their host (user info and port ignored)', () => {
    const list = new Allowlist({ values: ['good.example'], cidrs: ['10.0.0.0/8', '2001:2::/48'], domainSuffixes: ['corp.example'] });
    const allowed = (type: Ioc['type'], value: string) => list.matches({ type, value, internal: false });
    assert.ok(allowed('email', 'bob@a.corp.example'));
    assert.ok(!allowed('email', 'bob@corp.example.evil.com'));
    assert.ok(allowed('email', 'a@b@good.example'));
    assert.ok(!allowed('email', 'corp.example@evil.com'), 'the local part is not the domain');
    assert.ok(allowed('url', 'https://user@a.corp.example:8443/x'));
    assert.ok(allowed('url', 'http://[2001:2::5]/x'));
    assert.ok(allowed('url', 'http://10.9.9.9:80/'));
    assert.ok(allowed('url', 'http://GOOD.example/'));
    assert.ok(!allowed('url', 'not a url'));
    assert.ok(!allowed('url', 'http://evil.com/?q=a.corp.example'), 'only the host counts');
    assert.ok(!allowed('url', 'http://corp.example@evil.com/'), 'user info is not the host');
    assert.ok(!allowed('sha256', 'a'.repeat(64)));
  });
});
