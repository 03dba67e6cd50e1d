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
});
