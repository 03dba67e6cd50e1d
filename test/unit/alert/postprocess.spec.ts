/** The common post-processing: time, refang, dropping invalid values, observables, id, fingerprint. */
import assert from 'node:assert/strict';
import { normalise, refang, TIME_UNPARSED_TAG, type NormalisedAlert, type NormaliseOptions } from '../../../lib/alert';
import { sampleJson } from './helpers';

const RECEIVED = new Date('2026-11-23T00:00:00.000Z');

function generic(item: Record<string, unknown>, opts: NormaliseOptions = {}): NormalisedAlert {
  return normalise([{ title: 'test alert', ...item }], { format: 'generic', received: RECEIVED, ...opts }).alerts[0];
}

describe('alert post-processing', () => {
  describe('time', () => {
    const cases: [unknown, string][] = [
      ['2026-11-20T21:05:44.120931+0100', '2026-11-20T20:05:44.120Z'],
      ['2026-11-20T21:05:44.120931+0000', '2026-11-20T21:05:44.120Z'],
      ['2026-11-20T08:14:03.512-0530', '2026-11-20T13:44:03.512Z'],
      ['2026-11-20T12:00:00+01:00', '2026-11-20T11:00:00.000Z'],
      ['2026-11-20T12:00:00Z', '2026-11-20T12:00:00.000Z'],
      ['2026-11-20 12:00:00', '2026-11-20T12:00:00.000Z'],
      ['2026-11-20T12:00:00.1234567Z', '2026-11-20T12:00:00.123Z'],
      ['2026-11-20', '2026-11-20T00:00:00.000Z'],
      [1763806500, '2025-11-22T10:15:00.000Z'],
      [1763806500123, '2025-11-22T10:15:00.123Z'],
      ['1763806500.5', '2025-11-22T10:15:00.500Z'],
      [1763806500123456, '2025-11-22T10:15:00.123Z'],
      ['Sat, 22 Nov 2025 10:15:00 GMT', '2025-11-22T10:15:00.000Z'],
      ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
    ];
    for (const [input, want] of cases) {
      it(`reads ${JSON.stringify(input)}`, () => {
        const alert = generic({ time: input });
        assert.equal(alert.time, want);
        assert.ok(!alert.tags.includes(TIME_UNPARSED_TAG));
      });
    }

    it('uses the receive time, tagged, when the time cannot be read', () => {
      for (const bad of ['yesterday', '2026-02-30T00:00:00Z', '2026-13-01', 'Nov 20 08:14:03', -5, '2026-11-20T25:00:00Z', '99999-01-01T00:00:00Z']) {
        const alert = generic({ time: bad });
        assert.equal(alert.time, RECEIVED.toISOString(), JSON.stringify(bad));
        assert.ok(alert.tags.includes(TIME_UNPARSED_TAG), JSON.stringify(bad));
      }
    });

    it('uses the receive time without a tag when there is no time at all', () => {
      const alert = generic({});
      assert.equal(alert.time, RECEIVED.toISOString());
      assert.deepEqual(alert.tags, []);
      // Values that are no time at all (not a string or finite number) count as missing.
      for (const none of [Infinity, { t: 1 }, null]) assert.equal(generic({ time: none }).time, RECEIVED.toISOString());
    });
  });

  describe('refang', () => {
    it('undoes the usual defanging', () => {
      assert.equal(refang('hxxps://evil[.]example(.)com[/]a'), 'https://evil.example.com/a');
      assert.equal(refang('hXXp[:]//x[dot]org'), 'http://x.org');
      assert.equal(refang('bob[@]corp{.}example'), 'bob@corp.example');
      assert.equal(refang('203.0.113[.]7'), '203.0.113.7');
      assert.equal(refang('plain.example.org'), 'plain.example.org');
    });

    it('refangs structured fields before validating them', () => {
      const alert = generic({ src_ip: '203.0.113[.]7', url: 'hxxp://bad[.]example/x', domain: 'c2[.]example[.]net', dst_ip: '2001:db8[:]:1' });
      assert.equal(alert.source?.ip, '203.0.113.7');
      assert.equal(alert.url?.full, 'http://bad.example/x');
      assert.equal(alert.dns?.question?.name, 'c2.example.net');
      assert.equal(alert.destination?.ip, '2001:db8::1');
    });
  });

  describe('invalid values are dropped, not fatal', () => {
    it('drops ports that are not integers 0..65535', () => {
      for (const port of [70000, -1, 1.5, '80/tcp', '', '0x50', true, [], {}]) {
        assert.equal(generic({ src_ip: '203.0.113.1', src_port: port }).source?.port, undefined, JSON.stringify(port));
      }
      assert.equal(generic({ src_port: '0' }).source?.port, 0);
      assert.equal(generic({ src_port: ' 443 ' }).source?.port, 443);
    });

    it('drops addresses ipaddr.js cannot parse strictly and canonicalises the rest', () => {
      for (const ip of ['999.1.1.1', '127.1', '0x7f.0.0.1', '010.0.0.1', '1.2.3.4:80', 'fe80::1%eth0', 'not-an-ip', 12345]) {
        assert.equal(generic({ src_ip: ip }).source, undefined, String(ip));
      }
      assert.equal(generic({ src_ip: '2001:DB8:0:0:0:0:0:1' }).source?.ip, '2001:db8::1');
      assert.equal(generic({ src_ip: '::ffff:203.0.113.9' }).source?.ip, '203.0.113.9');
      assert.equal(generic({ src_ip: ' 203.0.113.9 ' }).source?.ip, '203.0.113.9');
    });

    it('classifies hashes by length and hex, lower-cased, whatever key they came under', () => {
      const md5 = 'D41D8CD98F00B204E9800998ECF8427E';
      const alert = generic({ sha256: md5, hash: ['zz', 'a'.repeat(40), 'b'.repeat(63)] });
      assert.deepEqual(alert.file?.hash, { md5: md5.toLowerCase(), sha1: 'a'.repeat(40) });
    });

    it('drops relative URLs, bad DNS names and MITRE ids that are not ids', () => {
      const alert = generic({ url: '/admin.php', domain: 'not a domain', mitre: ['T1110', 't1059.001', 'Brute Force'] });
      assert.equal(alert.url, undefined);
      assert.equal(alert.dns, undefined);
      assert.deepEqual(alert.rule.mitre, ['T1110', 'T1059.001']);
    });

    it('splits DOMAIN\\user when no domain is given', () => {
      assert.deepEqual(generic({ user: 'CORP\\alice' }).user, { name: 'alice', domain: 'CORP' });
    });
  });

  describe('observables', () => {
    it('come from the structured fields, deduplicated, with the field they came from', () => {
      const alert = generic({
        src_ip: '203.0.113.5',
        dst_ip: '203.0.113.5',
        host: 'ws-1',
        user: 'carol@corp.example',
        url: 'https://203.0.113.5/x',
        sha1: 'c'.repeat(40),
      });
      assert.deepEqual(alert.observables, [
        { type: 'ip', value: '203.0.113.5', field: 'source.ip' },
        { type: 'host', value: 'ws-1', field: 'host.name' },
        { type: 'email', value: 'carol@corp.example', field: 'user.name' },
        { type: 'url', value: 'https://203.0.113.5/x', field: 'url.full' },
        { type: 'sha1', value: 'c'.repeat(40), field: 'file.hash.sha1' },
      ]);
    });
  });

  describe('id and fingerprint', () => {
    const wazuh = sampleJson('samples', 'wazuh', 'sshd-bruteforce.json');
    const run = (item: unknown) => normalise([item], { received: RECEIVED }).alerts[0];

    it('keeps a native id and derives a stable one otherwise', () => {
      assert.equal(run(wazuh).id, '1763626443.882211');
      const a = generic({ src_ip: '203.0.113.5', time: '2026-11-20T12:00:00Z' });
      const b = generic({ src_ip: '203.0.113.5', time: '2026-11-20T12:00:00Z' });
      const c = generic({ src_ip: '203.0.113.5', time: '2026-11-20T12:05:00Z' });
      assert.equal(a.id, b.id);
      assert.notEqual(a.id, c.id);
    });

    it('gives the same fingerprint to two deliveries of the same incident', () => {
      const first = run(wazuh);
      const second = run({
        ...wazuh,
        id: '1763626999.1',
        timestamp: '2026-11-20T09:00:00.000+0000',
        full_log: 'another line',
        rule: { ...(wazuh.rule as object), firedtimes: 9 },
      });
      assert.notEqual(second.id, first.id);
      assert.equal(second.fingerprint, first.fingerprint);
      assert.match(first.fingerprint, /^[0-9a-f]{32}$/);
    });

    it('gives another fingerprint for another source address, rule or format', () => {
      const first = run(wazuh);
      const otherIp = run({ ...wazuh, data: { ...(wazuh.data as object), srcip: '203.0.113.45' } });
      const otherRule = run({ ...wazuh, rule: { ...(wazuh.rule as object), id: '5710' } });
      assert.notEqual(otherIp.fingerprint, first.fingerprint);
      assert.notEqual(otherRule.fingerprint, first.fingerprint);
      const asGeneric = generic({ title: first.title, rule_id: '5712', src_ip: '203.0.113.44' });
      assert.notEqual(asGeneric.fingerprint, first.fingerprint);
    });

    it('falls back from source.ip to user, host, file hash and URL for the primary entity', () => {
      const fp = (item: Record<string, unknown>) => generic({ rule_id: 'r1', ...item }).fingerprint;
      assert.equal(fp({ user: 'bob', host: 'a' }), fp({ user: 'bob', host: 'b' }));
      assert.notEqual(fp({ user: 'bob' }), fp({ user: 'eve' }));
      assert.equal(fp({ host: 'h1', title: 'one' }), fp({ host: 'h1', title: 'two' }), 'the rule id, not the title, names the rule');
      assert.notEqual(fp({ host: 'h1' }), fp({ host: 'h2' }));
      assert.notEqual(fp({ sha256: 'd'.repeat(64) }), fp({ sha256: 'e'.repeat(64) }));
      assert.notEqual(fp({ url: 'https://a.example/' }), fp({ url: 'https://b.example/' }));
      assert.equal(fp({ src_ip: '203.0.113.1', user: 'bob' }), fp({ src_ip: '203.0.113.1', user: 'eve' }), 'source.ip wins over user');
    });
  });
});
