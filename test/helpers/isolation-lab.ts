/**
 * The lab of the SSH + nftables isolation system tests: the netns.ts lab's victim is the "host"
 * (Debian's sshd on a management veth, the banner service on br0), its attacker is the "peer" (with a
 * banner service too, for host → peer probes), and the hub reaches the host over the management link:
 * from the root namespace (the test process itself), or from a namespace of its own (a Node-RED
 * process started by nodered-process.ts).
 *
 *   hub ──veth 198.18.<m>.1 → .2──► host: sshd, service on br0 198.18.<n>.200 / 2001:2::200
 *                                     └── peer 198.18.<n>.2 / 2001:2::2 (service too)
 *
 * The SSH user is a key-only system user with NOPASSWD sudo for nft and sh, the way a host would be
 * set up (root's login shell may run slow profile scripts on every SSH exec; /bin/sh does not).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createLab, requireSystemOrSkip, type NetnsLab, type ProbeResult } from './netns';
import {
  addManagementLink,
  addNamespaceManagementLink,
  createSudoUser,
  generateKey,
  removeManagementLink,
  skipOrFail,
  sshdUnsupportedReason,
  startSshd,
  sudoUnsupportedReason,
  type KeyPair,
  type ManagementLink,
  type RunningSshd,
  type SudoUser,
} from './sshd';

export const ISOLATION_NFT = '/usr/sbin/nft';

/** One TCP attempt from inside a namespace; "connected" only when the lab service's banner arrived. */
export function probeFrom(ns: string, host: string, port: number, timeoutMs = 1000): Promise<ProbeResult> {
  const source = `
const s = require('node:net').connect({ host: ${JSON.stringify(host)}, port: ${port} });
const done = (r) => { process.stdout.write(r); process.exit(0); };
setTimeout(() => done('timeout'), ${timeoutMs});
s.once('data', (d) => done(String(d).startsWith('soar-lab') ? 'connected' : 'error'));
s.once('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : 'error'));`;
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += String(d)));
    child.once('exit', () => resolve((out.trim() || 'error') as ProbeResult));
  });
}

/** The lab's banner service inside a namespace (the peer's, for host → peer probes). */
export function startServiceIn(ns: string, children: ChildProcess[]): Promise<number> {
  const source = `
const server = require('node:net').createServer((s) => { s.on('error', () => {}); s.write('soar-lab hello\\n'); s.pipe(s); });
server.listen({ host: '::', port: 0, ipv6Only: false }, () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\\n'));`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`service in ${ns} exited (${code})`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
  });
}

/** Run a command to completion; rejects with its stderr when it fails. */
export function runOrThrow(command: string, args: string[], stdin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += String(d)));
    child.stderr!.on('data', (d: Buffer) => (err += String(d)));
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(stdin ?? '');
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(' ')}: ${err.trim()}`))));
  });
}

export const ipRun = (args: string[]): Promise<void> => runOrThrow('ip', args).then(() => undefined);

/** Bounded polling of state in another process or namespace; resolves with the time it took. */
export async function waitFor(what: string, check: () => Promise<boolean>, withinMs: number, describe: () => string = () => ''): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > withinMs) throw new Error(`${what}: not within ${withinMs} ms${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface IsolationLabOptions {
  /** The lab's 198.18.<n>.0/24. */
  subnetOctet: number;
  /** The SSH user created on this machine (NOPASSWD sudo for nft and sh). */
  user: string;
  /** Give the hub a namespace of its own (for Node-RED); default: the hub is the root namespace. */
  hubNamespace?: boolean;
  /** Shown when skipping. */
  what: string;
}

export interface IsolationLab {
  lab: NetnsLab;
  link: ManagementLink;
  sshd: RunningSshd;
  key: KeyPair;
  user: string;
  /** The hub's own namespace, when asked for. */
  hubNs?: string;
  hostPort: number;
  peerPort: number;
  /** Children to kill at the end (services, long-lived clients). */
  children: ChildProcess[];
  peerToHost(family: 4 | 6, timeoutMs?: number): Promise<ProbeResult>;
  hostToPeer(family: 4 | 6, timeoutMs?: number): Promise<ProbeResult>;
  /** Both directions, both families connect. */
  allReachable(): Promise<void>;
  /** Whether `table` (an inet table) exists in the host namespace, read with nft itself. */
  tableOnHost(table?: string): Promise<boolean>;
  destroy(): Promise<void>;
}

/**
 * In a mocha before(): the whole lab, or a skip with the reason printed (a failure with
 * SOAR_REQUIRE_SYSTEM=1). What was built is torn down again when a later step fails.
 */
export async function setupIsolationLab(context: Mocha.Context, options: IsolationLabOptions): Promise<IsolationLab> {
  await requireSystemOrSkip(context, options.what);
  const missing = (await sshdUnsupportedReason()) ?? (await sudoUnsupportedReason());
  if (missing) skipOrFail(context, options.what, missing);

  const children: ChildProcess[] = [];
  let lab: NetnsLab | undefined;
  let link: ManagementLink | undefined;
  let sshd: RunningSshd | undefined;
  let sudoUser: SudoUser | undefined;
  let hubNs: string | undefined;
  const destroy = async (): Promise<void> => {
    for (const child of children) {
      if (!child.pid || child.exitCode !== null || child.signalCode !== null) continue;
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await sshd?.stop();
    await sudoUser?.remove();
    await lab?.destroy();
    if (hubNs) await runOrThrow('ip', ['netns', 'del', hubNs]).catch(() => undefined);
    else await removeManagementLink(link);
  };

  try {
    sudoUser = await createSudoUser(options.user, ISOLATION_NFT, ['/bin/sh', '/usr/bin/sh']);
    lab = await createLab({ subnetOctet: options.subnetOctet });
    if (options.hubNamespace) {
      hubNs = `soar-hub-${randomBytes(4).toString('hex')}`;
      await ipRun(['netns', 'add', hubNs]);
      await ipRun(['-n', hubNs, 'link', 'set', 'lo', 'up']);
      link = await addNamespaceManagementLink(hubNs, lab.victim.ns, lab.id);
    } else {
      link = await addManagementLink(lab.victim.ns, lab.id);
    }
    const keyDir = await mkdtemp(path.join(tmpdir(), 'soar-isokeys-'));
    const key = await generateKey(keyDir, 'hub_key');
    await rm(keyDir, { recursive: true, force: true });
    sshd = await startSshd({ namespace: lab.victim.ns, listenAddress: link.gatewayAddress, authorizedKeys: { [options.user]: [key.publicKey] } });
    const hostPort = await lab.startService();
    const peerPort = await startServiceIn(lab.attacker.ns, children);
    const built: NetnsLab = lab;
    const peerToHost = (family: 4 | 6, timeoutMs = 1000) =>
      built.connect('attacker', family === 4 ? built.victim.ipv4 : built.victim.ipv6, hostPort, timeoutMs);
    const hostToPeer = (family: 4 | 6, timeoutMs = 1000) =>
      probeFrom(built.victim.ns, family === 4 ? built.attacker.ipv4 : built.attacker.ipv6, peerPort, timeoutMs);
    const allReachable = async (): Promise<void> => {
      for (const family of [4, 6] as const) {
        assert.equal(await peerToHost(family), 'connected', `peer → host IPv${family}`);
        assert.equal(await hostToPeer(family), 'connected', `host → peer IPv${family}`);
      }
    };
    await waitFor('lab up', async () => (await peerToHost(4)) === 'connected' && (await hostToPeer(6)) === 'connected', 10_000);
    await allReachable();
    return {
      lab,
      link,
      sshd,
      key,
      user: options.user,
      hubNs,
      hostPort,
      peerPort,
      children,
      peerToHost,
      hostToPeer,
      allReachable,
      tableOnHost: async (table = 'soar_isolate') => {
        const out = await runOrThrow('ip', ['netns', 'exec', built.victim.ns, 'nft', 'list', 'tables']);
        return new RegExp(`^table inet ${table}$`, 'm').test(out);
      },
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}
