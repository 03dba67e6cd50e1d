import assert from 'node:assert/strict';
import { classifyIp, clearExtractionCaches } from '../../../lib/ioc';

describe('ioc classifyIp', () => {
  // Verdicts are cached per process; start cold so every rule runs (a warm cache hides a broken rule).
  beforeEach(clearExtractionCaches);

  const cases: Array<[string, 4 | 6, boolean, string]> = [
    ['8.8.8.8', 4, false, 'unicast'],
    ['10.1.2.3', 4, true, 'private'],
    ['172.16.5.4', 4, true, 'private'],
    ['192.168.0.1', 4, true, 'private'],
    ['127.0.0.1', 4, true, 'loopback'],
    ['169.254.169.254', 4, true, 'linkLocal'],
    ['100.64.0.9', 4, true, 'carrierGradeNat'],
    ['224.0.0.251', 4, true, 'multicast'],
    ['255.255.255.255', 4, true, 'broadcast'],
    ['0.0.0.0', 4, true, 'unspecified'],
    ['198.18.0.5', 4, true, 'reserved'],
    ['240.0.0.1', 4, true, 'reserved'],
    ['192.0.2.10', 4, false, 'documentation'],
    ['198.51.100.23', 4, false, 'documentation'],
    ['203.0.113.44', 4, false, 'documentation'],
    ['2606:4700:4700::1111', 6, false, 'unicast'],
    ['::1', 6, true, 'loopback'],
    ['fe80::1', 6, true, 'linkLocal'],
    ['fe80::1%eth0', 6, true, 'linkLocal'],
    ['fd12:3456::1', 6, true, 'uniqueLocal'],
    ['ff02::1', 6, true, 'multicast'],
    ['2001:db8::1', 6, false, 'documentation'],
    ['::ffff:10.0.0.1', 6, true, 'ipv4Mapped'],
    ['::ffff:8.8.8.8', 6, false, 'ipv4Mapped'],
    ['64:ff9b::c0a8:101', 6, true, 'rfc6052'],
    ['[2001:db8::5]', 6, false, 'documentation'],
  ];
  for (const [ip, version, internal, range] of cases) {
    it(`${ip} is v${version}, ${internal ? 'internal' : 'external'}, ${range}`, () => {
      assert.deepEqual(classifyIp(ip), { version, internal, range });
    });
  }

  it('rejects what is not an address, including ambiguous IPv4 spellings', () => {
    for (const text of ['', 'example.com', '1.2.3', '256.1.1.1', '010.1.1.1', '1.2.3.4.5', '12:34:56', '00:1a:2b:3c:4d:5e', 'gggg::1']) {
      assert.equal(classifyIp(text), undefined, text);
    }
  });
});
