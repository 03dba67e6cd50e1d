import assert from 'node:assert/strict';
import { DEFAULT_PROTECTED_CIDRS, defaultGateways, GuardrailPolicy, parseTarget } from '../../lib/core/guardrails';

/** A policy that does not look at this machine's interfaces, so results do not depend on the host. */
function policy(spec: ConstructorParameters<typeof GuardrailPolicy>[0] = {}, now?: () => number): GuardrailPolicy {
  return new GuardrailPolicy(spec, { ownAddresses: () => [], ownHostname: () => 'soar-hub.test', ownGateways: () => [], now });
}

function refusal(check: ReturnType<GuardrailPolicy['checkAddress']>): string {
  assert.equal(check.allowed, false, `expected a refusal, got ${JSON.stringify(check)}`);
  return (check as { reason: string }).reason;
}

describe('guardrails: parseTarget', () => {
  it('canonicalises addresses and CIDRs', () => {
    const cases: [string, string][] = [
      ['198.18.5.1', '198.18.5.1'],
      [' 198.18.5.1 ', '198.18.5.1'],
      ['198.18.5.1/32', '198.18.5.1'],
      ['198.18.5.77/24', '198.18.5.0/24'], // host bits cleared
      ['2001:0002:0000::0001', '2001:2::1'],
      ['2001:2::1/128', '2001:2::1'],
      ['2001:2:0:0:ABCD::/64', '2001:2::/64'],
      ['::ffff:198.18.5.1', '198.18.5.1'], // IPv4-mapped becomes IPv4
      ['::ffff:198.18.5.0/120', '198.18.5.0/24'],
    ];
    for (const [input, expected] of cases) {
      const parsed = parseTarget(input);
      assert.ok(!('error' in parsed), `${input}: ${JSON.stringify(parsed)}`);
      assert.equal(parsed.canonical, expected, input);
    }
  });

  it('refuses ambiguous and malformed input with a reason', () => {
    for (const input of [
      '127.1',
      '0x7f.0.0.1',
      '010.1.2.3',
      '1.2.3.4/33',
      '1.2.3.4/',
      '1.2.3.4/ 8',
      'fe80::1%eth0',
      'example.com',
      '',
      '1.2.3.4; rm',
      '2001:2::/129',
    ]) {
      const parsed = parseTarget(input);
      assert.ok('error' in parsed, `${JSON.stringify(input)} should be refused`);
      assert.match(parsed.error, /address|prefix|empty/);
    }
    assert.ok('error' in parseTarget(42 as unknown as string));
  });
});

describe('guardrails: checkAddress', () => {
  it('allows benchmarking and documentation addresses (our test "internet")', () => {
    const p = policy();
    assert.deepEqual(p.checkAddress('198.18.5.1'), { allowed: true, normalised: '198.18.5.1' });
    assert.deepEqual(p.checkAddress('198.18.0.0/15'), { allowed: true, normalised: '198.18.0.0/15' });
    assert.deepEqual(p.checkAddress('2001:2::1'), { allowed: true, normalised: '2001:2::1' });
    assert.deepEqual(p.checkAddress('203.0.113.0/24'), { allowed: true, normalised: '203.0.113.0/24' });
    assert.ok(!DEFAULT_PROTECTED_CIDRS.some((c) => c.startsWith('198.18.')));
  });

  it('refuses every default protected range, naming the rule', () => {
    const p = policy();
    const expectations: [string, RegExp][] = [
      ['127.0.0.1', /127\.0\.0\.1 is in protected 127\.0\.0\.0\/8 \(default: loopback\)/],
      ['10.20.30.40', /10\.0\.0\.0\/8 \(default: private\)/],
      ['172.16.5.5', /172\.16\.0\.0\/12/],
      ['192.168.1.1', /192\.168\.0\.0\/16/],
      ['169.254.1.1', /link-local/],
      ['100.64.1.1', /carrier-grade NAT/],
      ['0.0.0.0', /this network/],
      ['224.0.0.1', /multicast/],
      ['255.255.255.255', /reserved\/broadcast/],
      ['::1', /::1\/128 \(default: loopback\)/],
      ['::', /unspecified/],
      ['fd12:3456::1', /fc00::\/7 \(default: unique local\)/],
      ['fe80::1', /fe80::\/10/],
      ['ff02::1', /ff00::\/8/],
    ];
    for (const [target, reason] of expectations) assert.match(refusal(p.checkAddress(target)), reason, target);
  });

  it('refuses CIDRs that overlap a protected range, even when they are wider', () => {
    const p = policy();
    assert.match(refusal(p.checkAddress('10.0.0.0/8')), /10\.0\.0\.0\/8 overlaps protected 10\.0\.0\.0\/8/);
    assert.match(refusal(p.checkAddress('0.0.0.0/0')), /^0\.0\.0\.0\/0 overlaps protected/);
    assert.match(refusal(p.checkAddress('8.0.0.0/6')), /overlaps protected 10\.0\.0\.0\/8/);
    assert.match(refusal(p.checkAddress('10.1.0.0/16')), /overlaps protected 10\.0\.0\.0\/8/);
    assert.match(refusal(p.checkAddress('::/0')), /^::\/0 overlaps protected/);
    // An IPv6 range over the IPv4-mapped space covers IPv4 ranges too.
    assert.match(refusal(p.checkAddress('::ffff:0:0/96')), /overlaps protected/);
    assert.equal(p.checkAddress('11.0.0.0/8').allowed, true);
  });

  it('checks IPv4-mapped IPv6 as IPv4', () => {
    const p = policy();
    assert.match(refusal(p.checkAddress('::ffff:10.1.2.3')), /^10\.1\.2\.3 is in protected 10\.0\.0\.0\/8/);
    assert.deepEqual(p.checkAddress('::ffff:198.18.1.1'), { allowed: true, normalised: '198.18.1.1' });
  });

  it('names configured ranges, gateways, DNS servers and own addresses', () => {
    const p = new GuardrailPolicy(
      { protectedCidrs: ['203.0.113.7'], gateways: ['198.18.0.1'], dnsServers: ['2001:2::53'] },
      { ownAddresses: () => ['198.18.9.9', '127.0.0.1', 'not-an-address'], ownHostname: () => 'hub' },
    );
    assert.equal(refusal(p.checkAddress('203.0.113.0/24')), '203.0.113.0/24 overlaps protected 203.0.113.7/32 (configured)');
    assert.match(refusal(p.checkAddress('198.18.0.1')), /\(gateway\)/);
    assert.match(refusal(p.checkAddress('2001:2::/64')), /2001:2::53\/128 \(DNS server\)/);
    assert.match(refusal(p.checkAddress('198.18.9.9')), /\(own address\)/);
    assert.equal(p.checkAddress('198.18.9.10').allowed, true);
  });

  it('uses os.networkInterfaces() by default and can leave own addresses or defaults out', () => {
    // The loopback interface exists on every machine these tests run on.
    assert.match(refusal(new GuardrailPolicy({ includeDefaults: false }).checkAddress('127.0.0.1')), /own address/);
    const bare = new GuardrailPolicy({ includeDefaults: false, includeOwnAddresses: false });
    assert.equal(bare.checkAddress('127.0.0.1').allowed, true);
    assert.equal(bare.checkAddress('10.0.0.0/8').allowed, true);
  });

  it('refuses invalid targets with a clear reason', () => {
    const p = policy();
    assert.match(refusal(p.checkAddress('999.1.1.1')), /not a valid IPv4\/IPv6 address or CIDR/);
    assert.match(refusal(p.checkAddress('198.18.0.0/40')), /invalid prefix length/);
  });

  it('fails closed when the configuration has an invalid entry', () => {
    const p = policy({ protectedCidrs: ['10.0.0.0/8', 'not-a-cidr'], maxActionsPerHour: 5 });
    assert.match(refusal(p.checkAddress('198.18.5.1')), /guardrail configuration is invalid.*configured: "not-a-cidr"/);
    assert.equal(p.checkHost('victim.example').allowed, false);
    assert.equal(p.takeActionSlot('nftables').allowed, false);
    const description = p.describe() as { valid: boolean; errors: string[] };
    assert.equal(description.valid, false);
    assert.equal(description.errors.length, 1);
  });
});

describe('guardrails: checkHost', () => {
  const p = policy({ protectedHosts: ['DC01.corp.example.', '*.mgmt.example', '198.18.44.4'] });

  it('refuses protected names case-insensitively, wildcard suffixes and the own host name', () => {
    assert.match(p.checkHost('dc01.CORP.example')!.reason!, /dc01\.corp\.example is protected/);
    assert.equal(p.checkHost('dc02.corp.example').allowed, true);
    assert.match(p.checkHost('sw1.mgmt.example')!.reason!, /matches protected \*\.mgmt\.example/);
    assert.match(p.checkHost('a.b.mgmt.example')!.reason!, /mgmt/);
    assert.equal(p.checkHost('evilmgmt.example').allowed, true);
    assert.match(p.checkHost('SOAR-HUB.test')!.reason!, /own host name/);
  });

  it('treats addresses as addresses, in both directions', () => {
    assert.match(p.checkHost('198.18.44.4')!.reason!, /protected host/);
    assert.match(refusal(p.checkAddress('198.18.44.0/24')), /198\.18\.44\.4\/32 \(protected host\)/);
  });

  it('lets hosts in internal networks be isolated, but not loopback, link-local, ranges or configured addresses', () => {
    const q = policy({ protectedCidrs: ['10.9.0.0/16'], gateways: ['10.0.0.1'], dnsServers: ['fd00::53'] });
    // Blocking an internal address is refused; isolating an internal host is what isolation is for.
    assert.match(refusal(q.checkAddress('10.1.1.1')), /private/);
    assert.equal(q.checkHost('10.1.1.1').allowed, true);
    assert.equal(q.checkHost('192.168.1.20').allowed, true);
    assert.equal(q.checkHost('fd00::20').allowed, true);
    assert.match(q.checkHost('127.0.0.1')!.reason!, /loopback/);
    assert.match(q.checkHost('169.254.1.1')!.reason!, /link-local/);
    assert.match(q.checkHost('10.9.3.3')!.reason!, /configured/);
    assert.match(q.checkHost('10.0.0.1')!.reason!, /gateway/);
    assert.match(q.checkHost('fd00::53')!.reason!, /DNS server/);
    assert.match(refusal(q.checkHostAddress('10.1.1.0/24')), /a range, not one host/);
  });

  it('matches glob patterns within a label, on the whole name or its first label', () => {
    const q = policy({ protectedHosts: ['dc-*', 'sql-??.db.example', '*.corp.example'] });
    assert.match(q.checkHost('dc-01')!.reason!, /matches protected dc-\*/);
    assert.match(q.checkHost('DC-02.branch.example')!.reason!, /matches protected dc-\*/);
    assert.equal(q.checkHost('adc-01').allowed, true);
    assert.equal(q.checkHost('dc01').allowed, true);
    assert.match(q.checkHost('sql-01.db.example')!.reason!, /sql-\?\?/);
    assert.equal(q.checkHost('sql-001.db.example').allowed, true);
    assert.equal(q.checkHost('sql-01.other.example').allowed, true);
    assert.match(q.checkHost('x.corp.example')!.reason!, /\*\.corp\.example/);
    assert.ok((q.describe() as { protectedHosts: string[] }).protectedHosts.includes('dc-*'));
    assert.equal((policy({ protectedHosts: ['*'] }).describe() as { valid: boolean }).valid, false, 'a bare * is not a pattern: the policy fails closed');
  });

  it('always protects the hub itself: its host name (short or full) and its default gateways', () => {
    const q = new GuardrailPolicy(
      {},
      { ownAddresses: () => ['198.18.7.7'], ownHostname: () => 'pi.lab.example', ownGateways: () => ['192.168.1.1', 'fe80::1'] },
    );
    assert.match(q.checkHost('pi')!.reason!, /own host name/);
    assert.match(q.checkHost('PI.lab.example')!.reason!, /own host name/);
    assert.equal(q.checkHost('pi.other.example').allowed, true);
    assert.match(q.checkHost('192.168.1.1')!.reason!, /own gateway/);
    assert.match(q.checkHost('198.18.7.7')!.reason!, /own address/);
    assert.equal(q.checkHost('192.168.1.2').allowed, true);
    // The default reader (Linux /proc) gives addresses the policy can parse.
    for (const gateway of defaultGateways()) assert.ok(!('error' in parseTarget(gateway)), gateway);
  });

  it('reads default gateways from /proc/net/route and /proc/net/ipv6_route as Linux writes them', () => {
    // Copied in shape from a Debian machine's /proc; addresses changed to documentation ranges.
    const files: Record<string, string> = {
      '/proc/net/route': [
        'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
        'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
        'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
        'eth1\t0012A8C0\tFE12A8C0\t0003\t0\t0\t0\t00FFFFFF\t0\t0\t0',
        '',
      ].join('\n'),
      '/proc/net/ipv6_route': [
        'fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0',
        '00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000003 00000000 00000003     eth0',
        '00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000abc 00000400 00000001 00000000 00000003     eth1',
        '00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo',
        '20010db8000000000000000000000000 20 00000000000000000000000000000000 00 fd000000000000000000000000000009 00000400 00000001 00000000 00000003     eth0',
        '',
      ].join('\n'),
    };
    const read = (file: string): string => {
      if (!(file in files)) throw new Error(`ENOENT ${file}`);
      return files[file];
    };
    // Only default routes with a next hop; IPv6 written the way reasons show addresses.
    assert.deepEqual(defaultGateways(read), ['192.0.2.1', 'fd00::1', 'fe80::abc']);
    // A machine without IPv6 (no ipv6_route file) still gives its IPv4 gateway.
    assert.deepEqual(
      defaultGateways((file) => (file === '/proc/net/route' ? files[file] : read('/nope'))),
      ['192.0.2.1'],
    );
  });

  it('refuses invalid names and numeric forms of addresses', () => {
    assert.equal(p.checkHost('').allowed, false);
    assert.match(p.checkHost('bad name')!.reason!, /not a valid host name/);
    assert.match(p.checkHost('127.1')!.reason!, /non-standard form/);
    assert.match(p.checkHost('0x7f.1')!.reason!, /non-standard form/);
  });
});

describe('guardrails: takeActionSlot', () => {
  it('caps actions per provider in a sliding hour', () => {
    let now = 1_000_000;
    const p = policy({ maxActionsPerHour: 3 }, () => now);
    for (let i = 0; i < 3; i++) {
      assert.equal(p.takeActionSlot('nftables').allowed, true);
      now += 10 * 60_000; // t = 0, 10, 20 min
    }
    const capped = p.takeActionSlot('nftables');
    assert.equal(capped.allowed, false);
    assert.match(capped.reason!, /cap of 3 actions per hour for provider "nftables" reached \(3 used\); next slot in 30 min/);
    // Another provider has its own budget.
    assert.equal(p.takeActionSlot('crowdsec').allowed, true);
    // Sliding: the first grant (t=0) leaves the window at t=60 min, not at a clock hour.
    now = 1_000_000 + 60 * 60_000;
    assert.equal(p.takeActionSlot('nftables').allowed, true);
    assert.equal(p.takeActionSlot('nftables').allowed, false);
    assert.deepEqual((p.describe() as { actionsLastHour: Record<string, number> }).actionsLastHour, { nftables: 3, crowdsec: 1 });
  });

  it('takes several slots all or none', () => {
    const p = policy({ maxActionsPerHour: 10 }, () => 0);
    assert.equal(p.takeActionSlot('nftables', 8).allowed, true);
    assert.match(p.takeActionSlot('nftables', 3).reason!, /8 used, 3 asked/);
    assert.equal(p.takeActionSlot('nftables', 2).allowed, true);
    assert.equal(p.takeActionSlot('nftables', 1).allowed, false);
  });

  it('defaults to 100 per hour; 0 refuses everything', () => {
    const p = policy({}, () => 0);
    assert.equal(p.takeActionSlot('x', 100).allowed, true);
    assert.equal(p.takeActionSlot('x').allowed, false);
    assert.equal(policy({ maxActionsPerHour: 0 }).takeActionSlot('x').allowed, false);
  });

  it('keeps counters across a redeploy with carryOverFrom', () => {
    const old = policy({ maxActionsPerHour: 2 }, () => 0);
    old.takeActionSlot('nftables', 2);
    const fresh = policy({ maxActionsPerHour: 2 }, () => 0);
    fresh.carryOverFrom(old);
    assert.equal(fresh.takeActionSlot('nftables').allowed, false);
  });
});

describe('guardrails: describe', () => {
  it('summarises the policy for the editor', () => {
    const d = policy({ protectedCidrs: ['203.0.113.7'], protectedHosts: ['*.corp.example'], maxActionsPerHour: 7 }).describe() as {
      valid: boolean;
      protectedRanges: { cidr: string; source: string }[];
      protectedHosts: string[];
      maxActionsPerHour: number;
    };
    assert.equal(d.valid, true);
    assert.equal(d.maxActionsPerHour, 7);
    assert.equal(d.protectedRanges.length, DEFAULT_PROTECTED_CIDRS.length + 1);
    assert.deepEqual(d.protectedRanges.at(-1), { cidr: '203.0.113.7/32', source: 'configured' });
    assert.deepEqual(d.protectedHosts.sort(), ['*.corp.example', 'soar-hub.test']);
  });

  describe('own addresses at the moment of each action', () => {
    it('protects an address the machine gained after the policy was built', () => {
      let addresses = ['198.18.1.1'];
      let hostname = 'hub-a';
      const p = new GuardrailPolicy({ includeDefaults: false }, { ownAddresses: () => addresses, ownHostname: () => hostname, ownAddressCacheMs: 0 });
      assert.equal(p.checkAddress('198.18.2.2').allowed, true);
      addresses = ['198.18.1.1', '198.18.2.2']; // DHCP, a new interface, an IPv6 privacy address...
      hostname = 'hub-b';
      const check = p.checkAddress('198.18.2.2');
      assert.equal(check.allowed, false);
      assert.match((check as { reason: string }).reason, /own address/);
      assert.equal(p.checkHost('hub-b').allowed, false);
      addresses = ['198.18.2.2'];
      assert.equal(p.checkAddress('198.18.1.1').allowed, true, 'an address given up is no longer protected');
    });

    it('reads the addresses at most once per cache period', () => {
      let reads = 0;
      const p = new GuardrailPolicy(
        { includeDefaults: false },
        { ownAddresses: () => (reads++, ['198.18.1.1']), ownHostname: () => 'hub', ownAddressCacheMs: 60_000 },
      );
      for (let i = 0; i < 50; i++) p.checkAddress('198.18.3.3');
      assert.equal(reads, 1);
    });
  });
});
