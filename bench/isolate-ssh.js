#!/usr/bin/env node
/**
 * Host isolation over SSH (lib/edr/ssh-nftables): 50 hosts isolated and confirmed with the provider's
 * bounded concurrency (8) vs one at a time, in the same run.
 *
 * One network namespace runs Debian's sshd (test/helpers/sshd.ts, loaded through tsx); the 50 "hosts"
 * are inventory entries that all point at it, each with its own table (soar_iso_01 ...), so every
 * isolation is the full procedure: SSH session 1 (SSH_CONNECTION, arm the rollback, nft -f), SSH
 * session 2 (fresh handshake through the new rules, list the table, disarm). Hosts are released
 * between the two rounds (not timed). Reported: wall time of each round, their ratio, and the share
 * of the summed per-host time spent in SSH handshakes (connect + key exchange + auth).
 *
 * Needs root, nft, ip, /usr/sbin/sshd and the compiled provider (`npx tsc -p .`). Otherwise it prints
 * why and exits 0.   Usage: node bench/isolate-ssh.js   (or require('./bench/isolate-ssh').run())
 */
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { execFileSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');

const DIST = process.env.SOAR_DIST ? path.resolve(process.env.SOAR_DIST) : path.join(__dirname, '..', 'dist');
const HOSTS = Number(process.env.SOAR_BENCH_ISOLATE_HOSTS ?? 50);
const CONCURRENCY = 8;
const USER = 'soar-iso-bench';

function unsupportedReason() {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (network namespaces, nftables, sshd)';
  for (const [command, args, hint] of [
    ['nft', ['--version'], 'apt-get install nftables'],
    ['ip', ['-V'], 'apt-get install iproute2'],
  ]) {
    try {
      execFileSync(command, args, { stdio: 'ignore' });
    } catch {
      return `${command} is not available (${hint})`;
    }
  }
  if (!fs.existsSync('/usr/sbin/sshd')) return '/usr/sbin/sshd is missing (apt-get install openssh-server)';
  if (!fs.existsSync('/usr/bin/sudo') || !fs.existsSync('/usr/sbin/useradd')) return 'sudo or useradd is missing (apt-get install sudo passwd)';
  try {
    require.resolve(path.join(DIST, 'lib', 'edr', 'ssh-nftables.js'));
  } catch {
    return `compiled provider not found under ${DIST} (run npx tsc -p . first)`;
  }
  try {
    require.resolve('tsx/cjs');
  } catch {
    return 'tsx is not installed (npm ci) — needed to load test/helpers/sshd.ts';
  }
  return undefined;
}

async function round(Provider, baseOptions, concurrency) {
  const timings = { handshake: 0, command: 0, handshakes: 0 };
  const provider = new Provider({
    ...baseOptions,
    concurrency,
    onTiming: (event) => {
      timings[event.phase] += event.ms;
      if (event.phase === 'handshake') timings.handshakes++;
    },
  });
  const ids = baseOptions.hosts.map((h) => h.id);
  const start = process.hrtime.bigint();
  const results = await Promise.all(ids.map((id) => provider.isolateAndConfirm({ id })));
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const notDone = results.filter((r) => r.outcome !== 'done');
  if (notDone.length > 0) throw new Error(`${notDone.length} isolations did not end "done"`);
  // Untimed: back to normal for the next round.
  const releaser = new Provider({ ...baseOptions, concurrency: CONCURRENCY });
  await Promise.all(ids.map((id) => releaser.release({ id })));
  const perHostMs = timings.handshake + timings.command;
  return {
    concurrency,
    hosts: ids.length,
    wallMs: Math.round(wallMs),
    handshakes: timings.handshakes,
    handshakeMsTotal: Math.round(timings.handshake),
    commandMsTotal: Math.round(timings.command),
    handshakeShare: Number((timings.handshake / perHostMs).toFixed(3)),
    meanHandshakeMs: Number((timings.handshake / timings.handshakes).toFixed(1)),
  };
}

async function run() {
  const reason = unsupportedReason();
  if (reason) {
    console.log(`isolate-ssh benchmark skipped: ${reason}`);
    return { skipped: reason };
  }
  require('tsx/cjs');
  const { startSshd, addManagementLink, removeManagementLink, generateKey, createSudoUser } = require('../test/helpers/sshd.ts');
  const { SshNftablesIsolation } = require(path.join(DIST, 'lib', 'edr', 'ssh-nftables.js'));
  const id = randomBytes(4).toString('hex');
  const ns = `soar-bench-iso-${id}`;
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  let link;
  let sshd;
  let user;
  try {
    // A key-only user with NOPASSWD sudo for nft and sh, as on a real host (root's login shell may
    // source slow profile scripts on every SSH exec, which would measure the profile, not the provider).
    user = await createSudoUser(USER, '/usr/sbin/nft', ['/bin/sh', '/usr/bin/sh']);
    link = await addManagementLink(ns, id);
    const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-bench-key-'));
    const key = await generateKey(keyDir, 'hub_key');
    fs.rmSync(keyDir, { recursive: true, force: true });
    sshd = await startSshd({ namespace: ns, listenAddress: link.gatewayAddress, authorizedKeys: { [USER]: [key.publicKey] } });
    const hosts = Array.from({ length: HOSTS }, (_, i) => {
      const n = String(i + 1).padStart(2, '0');
      return { id: `h${n}`, address: link.gatewayAddress, hostKeySha256: sshd.hostKeySha256, table: `soar_iso_${n}` };
    });
    const baseOptions = {
      name: 'bench',
      username: USER,
      sudo: true,
      privateKey: key.privateKey,
      nftPath: '/usr/sbin/nft',
      hosts,
      rollbackSeconds: 300,
      dns: ['198.18.0.53'],
    };
    // Warm-up (sshd's first fork, page cache), not counted.
    await round(SshNftablesIsolation, { ...baseOptions, hosts: hosts.slice(0, 2) }, 1);
    const sequential = await round(SshNftablesIsolation, baseOptions, 1);
    const concurrent = await round(SshNftablesIsolation, baseOptions, CONCURRENCY);
    const ratio = Number((sequential.wallMs / concurrent.wallMs).toFixed(2));
    console.log(`\nisolating ${HOSTS} hosts over SSH (isolate + fresh-session confirm each; ${os.cpus().length} CPUs)\n`);
    for (const r of [sequential, concurrent]) {
      console.log(
        `  concurrency ${String(r.concurrency).padStart(2)}: ${String(r.wallMs).padStart(6)} ms wall, ` +
          `${r.handshakes} handshakes, mean ${r.meanHandshakeMs} ms, handshakes ${(r.handshakeShare * 100).toFixed(0)}% of per-host time`,
      );
    }
    console.log(`\n  bounded concurrency (${CONCURRENCY}) vs one at a time: ${ratio}x faster wall time`);
    return { sequential, concurrent, ratio };
  } finally {
    await sshd?.stop();
    await user?.remove();
    await removeManagementLink(link);
    execFileSync('ip', ['netns', 'del', ns]);
  }
}

module.exports = { run };

if (require.main === module) {
  run().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
