import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProviderError } from '../../../lib/core/errors';
import { remoteCommand } from '../../../lib/firewall/ssh-runner';
import {
  armArgv,
  armedScript,
  armScript,
  checkTableName,
  confirmScript,
  disarmScript,
  isolationScript,
  parseManagementAddress,
  parseSshConnection,
  rollbackPidFile,
  rollbackUnit,
  sleepRollbackArgv,
  stateScript,
  systemdRunArgv,
} from '../../../lib/edr/isolation-script';

/** Alive and not a zombie (an orphan's parent may reap it late). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function refused(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ProviderError, `expected a ProviderError, got ${String(error)}`);
    assert.equal(error.code, 'BAD_REQUEST');
    assert.match(error.message, message);
    return true;
  });
}

function setLine(script: string, name: string): string {
  const line = script.split('\n').find((l) => l.trim().startsWith(`set ${name} `));
  assert.ok(line, `set ${name} missing`);
  return line;
}

function chain(script: string, name: string): string {
  const start = script.indexOf(`  chain ${name} {`);
  assert.ok(start >= 0, `chain ${name} missing`);
  return script.slice(start, script.indexOf('\n  }', start));
}

describe('isolation script (nft ruleset for host isolation)', () => {
  it('puts IPv4 management addresses in mgmt4 only, canonical and de-duplicated, and keeps the other sets empty', () => {
    const script = isolationScript({ table: 'soar_isolate', management: ['198.18.0.10', '198.18.1.7/24', ' 198.18.0.10 '], dns: [] });
    assert.match(setLine(script, 'mgmt4'), /type ipv4_addr; flags interval; auto-merge; elements = \{ 198\.18\.0\.10, 198\.18\.1\.0\/24 \};/);
    for (const empty of ['mgmt6', 'dns4', 'dns6']) assert.doesNotMatch(setLine(script, empty), /elements/);
    assert.doesNotMatch(script, /elements = \{\s*\}/);
  });

  it('sorts a mixed IPv4/IPv6 set into the right families, maps ::ffff:a.b.c.d to IPv4, and keeps DNS separate', () => {
    const script = isolationScript({
      table: 'soar_isolate',
      management: ['2001:0002:0000::0001', '::ffff:198.18.0.5', '2001:2::ff/64', '198.18.0.9'],
      dns: ['198.18.0.53', '2001:2::53'],
    });
    assert.match(setLine(script, 'mgmt4'), /elements = \{ 198\.18\.0\.5, 198\.18\.0\.9 \}/);
    assert.match(setLine(script, 'mgmt6'), /type ipv6_addr;.*elements = \{ 2001:2::\/64, 2001:2::1 \}/);
    assert.match(setLine(script, 'dns4'), /elements = \{ 198\.18\.0\.53 \}/);
    assert.match(setLine(script, 'dns6'), /elements = \{ 2001:2::53 \}/);
    // DNS only as port 53 outward (answers come back as established), never a blanket accept.
    const output = chain(script, 'output');
    for (const rule of output.split('\n').filter((l) => l.includes('@dns'))) assert.match(rule, /dport 53 accept$/);
    const input = chain(script, 'input');
    for (const rule of input.split('\n').filter((l) => l.includes('@dns'))) assert.match(rule, /sport 53 ct state established accept$/);
  });

  it('drops by default in input, output and forward, for both families (inet), before the usual filter priority', () => {
    const script = isolationScript({ table: 'soar_isolate', management: [], dns: [] });
    assert.match(script, /^table inet soar_isolate \{\}\ndelete table inet soar_isolate\ntable inet soar_isolate \{\n/);
    for (const [name, hook] of [
      ['input', 'input'],
      ['output', 'output'],
      ['forward', 'forward'],
    ]) {
      assert.match(chain(script, name), new RegExp(`type filter hook ${hook} priority -190; policy drop;`));
    }
    assert.doesNotMatch(chain(script, 'forward'), /accept/);
    assert.match(chain(script, 'input'), /iif "lo" accept/);
    assert.match(chain(script, 'output'), /oif "lo" accept/);
    // No blanket "ct state established accept": older connections to other peers are cut.
    for (const line of script.split('\n').filter((l) => /ct state established/.test(l))) assert.match(line, /saddr @dns[46] (udp|tcp) sport 53/);
  });

  it('lets the applying SSH session through by its exact 4-tuple, whatever conntrack thinks of it', () => {
    const session = parseSshConnection('198.18.200.1 51234 198.18.200.2 22\n');
    assert.ok(session);
    const script = isolationScript({ table: 't1', management: [], dns: [], session });
    assert.match(chain(script, 'input'), /ip saddr 198\.18\.200\.1 ip daddr 198\.18\.200\.2 tcp sport 51234 tcp dport 22 accept/);
    assert.match(chain(script, 'output'), /ip saddr 198\.18\.200\.2 ip daddr 198\.18\.200\.1 tcp sport 22 tcp dport 51234 accept/);
    const six = parseSshConnection('2001:2::1 40000 2001:2::2 2222');
    assert.match(
      isolationScript({ table: 't1', management: [], dns: [], session: six }),
      /ip6 saddr 2001:2::1 ip6 daddr 2001:2::2 tcp sport 40000 tcp dport 2222/,
    );
  });

  it('reads SSH_CONNECTION strictly', () => {
    assert.deepEqual(parseSshConnection('::ffff:198.18.0.1 5000 ::ffff:198.18.0.2 22')?.client, { family: 4, text: '198.18.0.1' });
    for (const bad of [
      '',
      '198.18.0.1',
      '198.18.0.1 5000 198.18.0.2',
      'x 1 y 2',
      '198.18.0.1 0 198.18.0.2 22',
      '198.18.0.1 70000 198.18.0.2 22',
      '198.18.0.1 1 2001:2::1 22',
      '198.18.0.1 1; 198.18.0.2 22',
    ]) {
      assert.equal(parseSshConnection(bad), undefined, bad);
    }
  });

  it('refuses anything that is not an address before a script exists', () => {
    const bad = [
      'example.com',
      '1',
      '0x7f000001',
      '010.1.1.1',
      '198.18.0.1/33',
      '2001:2::/129',
      'fe80::1%eth0',
      '',
      '198.18.0.1; flush ruleset',
      '198.18.0.1 }',
      '198.18.0.1\n}',
      '*',
    ];
    for (const input of bad)
      refused(() => isolationScript({ table: 'soar_isolate', management: [input], dns: [] }), /management address .* is not an IP address or CIDR/);
    refused(() => isolationScript({ table: 'soar_isolate', management: [], dns: ['ns1.example'] }), /DNS server "ns1.example"/);
    refused(() => parseManagementAddress(42), /must be a string/);
    refused(() => isolationScript({ table: 'soar_isolate', management: '198.18.0.1' as unknown as string[], dns: [] }), /lists of addresses/);
  });

  it('accepts only plain identifiers as the table name (it also names a systemd unit and a /run file)', () => {
    for (const name of ['soar;flush ruleset', '"soar"', 'soar isolate', '1soar', '$(reboot)', 'soar-x', '../etc', 'a'.repeat(32), '', 'soar\n']) {
      refused(() => isolationScript({ table: name, management: [], dns: [] }), /isolation table name .* is not allowed/);
      refused(() => rollbackUnit(name), /not allowed/);
      refused(() => armArgv(name, 5, 'nft', 'sleep'), /not allowed/);
    }
    refused(() => checkTableName(undefined), /isolation table name undefined/);
    assert.equal(checkTableName('Soar_Isolate_2'), 'Soar_Isolate_2');
    assert.match(isolationScript({ table: 'Soar_Isolate_2', management: [], dns: [] }), /table inet Soar_Isolate_2 \{/);
  });
});

describe('dead-man rollback commands', () => {
  it('builds the systemd-run timer that deletes the table', () => {
    assert.deepEqual(systemdRunArgv('soar_isolate', 300, '/usr/sbin/nft'), [
      'systemd-run',
      '--quiet',
      '--collect',
      '--unit=soar-isolate-rollback-soar_isolate',
      '--on-active=300s',
      '--timer-property=AccuracySec=1s',
      '/usr/sbin/nft',
      'delete',
      'table',
      'inet',
      'soar_isolate',
    ]);
    assert.equal(rollbackUnit('soar_isolate'), 'soar-isolate-rollback-soar_isolate');
    refused(() => systemdRunArgv('soar_isolate', 300, 'nft'), /absolute path/);
    refused(() => systemdRunArgv('soar_isolate', 300, '/usr/sbin/nft; reboot'), /nft path/);
    for (const seconds of [0, -5, 1.5, Number.NaN, 8 * 24 * 3600])
      refused(() => systemdRunArgv('soar_isolate', seconds, '/usr/sbin/nft'), /whole number of seconds/);
  });

  it('the arm script, forced to systemd, calls systemd-run with exactly that argv (fake systemd-run on PATH)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'soar-fake-systemd-'));
    try {
      const record = path.join(dir, 'argv');
      // Each argument on its own line, as systemd-run received it.
      writeFileSync(path.join(dir, 'systemd-run'), `#!/bin/sh\nprintf '%s\\n' systemd-run "$@" > ${record}\n`, { mode: 0o755 });
      writeFileSync(path.join(dir, 'systemctl'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
      const nft = execFileSync('sh', ['-c', 'command -v env'], { encoding: 'utf8' }).trim();
      const argv = armArgv('soar_isolate', 300, 'env', 'systemd');
      const out = execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
      assert.equal(out.trim(), 'unit:soar-isolate-rollback-soar_isolate');
      assert.deepEqual(readFileSync(record, 'utf8').split('\n').slice(0, -1), systemdRunArgv('soar_isolate', 300, nft));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('builds the detached sleeper with the table and pid file as separate arguments', () => {
    assert.equal(rollbackPidFile('soar_isolate'), '/run/soar-isolate-soar_isolate.pid');
    const argv = sleepRollbackArgv('soar_isolate', 5, '/usr/sbin/nft');
    assert.deepEqual(argv.slice(0, 3), ['setsid', 'sh', '-c']);
    assert.deepEqual(argv.slice(4), ['soar-isolate-rollback', '5', '/usr/sbin/nft', 'soar_isolate', '/run/soar-isolate-soar_isolate.pid']);
    assert.doesNotMatch(argv[3], /soar_isolate/);
    // The arm script starts the same sleeper body as the argv above (disarm recognises it by that).
    assert.ok(armScript().includes(argv[3]));
  });

  it('passes every value to the arm/disarm scripts as positional parameters, never inside the script text', () => {
    const argv = armArgv('soar_isolate', 7, '/usr/sbin/nft', 'auto');
    assert.deepEqual(argv.slice(3), ['soar-isolate', 'soar_isolate', '7', '/usr/sbin/nft', 'auto']);
    assert.doesNotMatch(argv[2], /soar_isolate|\/usr\/sbin\/nft/);
    // Over SSH each word is single-quoted; the script's own quotes survive that.
    assert.match(remoteCommand(argv), /^'sh' '-c' 'set -u\n/);
    refused(() => armArgv('soar_isolate', 7, 'nft', 'cron' as 'auto'), /rollback mode/);
  });

  it('generates shell scripts that parse (sh -n)', () => {
    for (const script of [armScript(), disarmScript(), armedScript(), stateScript(), confirmScript()]) execFileSync('sh', ['-n', '-c', script]);
  });

  it('state and confirm scripts read the table through nft (fake nft: present, missing, broken)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'soar-fake-nft-'));
    try {
      const fake = path.join(dir, 'nft');
      const as = (body: string) => writeFileSync(fake, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
      const run = (script: string) => execFileSync('sh', ['-c', script, 'x', 'unit_fake', fake], { encoding: 'utf8' });
      as('exit 0');
      assert.equal(run(stateScript()), 'table yes\ndisarmed\n');
      assert.equal(run(confirmScript()), 'confirmed\n');
      as('echo "Error: No such file or directory" >&2; exit 1');
      assert.equal(run(stateScript()), 'table no\ndisarmed\n');
      assert.equal(run(confirmScript()), 'gone\n');
      // Present at the first look, gone after the disarm: the rollback fired in between.
      as(`if [ -e ${dir}/seen ]; then echo "Error: No such file or directory" >&2; exit 1; fi; touch ${dir}/seen`);
      assert.equal(run(confirmScript()), 'gone-after-disarm\n');
      as('echo "Error: Operation not permitted" >&2; exit 1');
      assert.throws(
        () => execFileSync('sh', ['-c', stateScript(), 'x', 'unit_fake', fake], { stdio: 'pipe' }),
        (error: { status?: number; stderr?: Buffer }) => {
          assert.equal(error.status, 4);
          assert.match(String(error.stderr), /Operation not permitted/);
          return true;
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs the sleeper path for real: arms, reports armed, disarms exactly the recorded PID', function () {
    this.timeout(10_000);
    if (process.getuid?.() !== 0) {
      console.log('      skipping the live sleeper check: needs root (writes /run/soar-isolate-<table>.pid)');
      this.skip();
    }
    // "true" stands in for nft: if the sleeper ever fired it would do nothing here.
    const table = `unit_${process.pid}`;
    const run = (argv: string[]) => execFileSync(argv[0], argv.slice(1), { encoding: 'utf8' });
    const armed = run(armArgv(table, 60, 'true', 'sleep'));
    const pid = Number(/^pid:(\d+)$/m.exec(armed)?.[1]);
    assert.ok(pid > 0, armed);
    try {
      assert.match(run(['sh', '-c', armedScript(), 'x', table]), new RegExp(`^armed pid:${pid}$`, 'm'));
      assert.match(run(['sh', '-c', disarmScript(), 'x', table]), /^disarmed$/m);
      let alive = true;
      for (let i = 0; i < 50 && alive; i++) {
        alive = running(pid);
        if (alive) execFileSync('sleep', ['0.05']);
      }
      assert.equal(alive, false, 'the sleeper survived the disarm');
      assert.match(run(['sh', '-c', armedScript(), 'x', table]), /^disarmed$/m);
    } finally {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
});
