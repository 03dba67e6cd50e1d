/**
 * A small network lab in Linux network namespaces, for tests that need real packets.
 *
 *   soar-attacker-<id> (eth0) ──┐
 *                               ├── br0 in soar-victim-<id>  (the victim holds the bridge and the nft table)
 *   soar-other-<id>    (eth0) ──┘
 *
 * Addresses come from the benchmarking ranges only: 198.18.<n>.0/24 and 2001:2::/64. The namespaces
 * are private, so parallel labs may reuse addresses; only the namespace names carry a random id.
 * Nothing here touches the host's own ruleset or interfaces: every interface is created inside a
 * namespace, and nft runs through `ip netns exec <victim>`.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { execRunner } from '../../lib/firewall/nftables';
import type { CommandRunner } from '../../lib/firewall/types';

export type LabHostName = 'victim' | 'attacker' | 'other';
export type ProbeResult = 'connected' | 'timeout' | 'refused' | 'unreachable' | 'error';

export interface LabHost {
  ns: string;
  ipv4: string;
  ipv6: string;
}

function run(command: string, args: string[], stdin?: string): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 127) : 0;
      resolve({ stdout, stderr: stderr || (error && code === 127 ? error.message : ''), code });
    });
    // A command that exits without reading stdin makes the write fail with EPIPE: its exit code tells.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(stdin ?? '');
  });
}

async function ip(args: string[]): Promise<void> {
  const result = await run('ip', args);
  if (result.code !== 0) throw new Error(`ip ${args.join(' ')} failed: ${result.stderr.trim()}`);
}

/** Why real-packet tests cannot run here, or undefined when they can. */
export async function systemUnsupportedReason(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (network namespaces, nftables)';
  const nft = await run('nft', ['--version']);
  if (nft.code !== 0) return 'nft is not installed (apt-get install nftables)';
  const ipVersion = await run('ip', ['-V']);
  if (ipVersion.code !== 0) return 'ip is not installed (apt-get install iproute2)';
  const probe = `soar-probe-${randomBytes(4).toString('hex')}`;
  const created = await run('ip', ['netns', 'add', probe]);
  if (created.code !== 0) return `cannot create a network namespace: ${created.stderr.trim()}`;
  const nftInside = await run('ip', ['netns', 'exec', probe, 'nft', 'list', 'ruleset']);
  await run('ip', ['netns', 'del', probe]);
  if (nftInside.code !== 0) return `nft does not work inside a namespace: ${nftInside.stderr.trim()}`;
  return undefined;
}

/**
 * In a mocha before(): skip the suite with the reason printed, or fail when SOAR_REQUIRE_SYSTEM=1
 * (CI must not pass by skipping).
 */
export async function requireSystemOrSkip(context: Mocha.Context, what: string): Promise<void> {
  const reason = await systemUnsupportedReason();
  if (reason === undefined) return;
  if (process.env.SOAR_REQUIRE_SYSTEM === '1') throw new Error(`${what}: ${reason} (SOAR_REQUIRE_SYSTEM=1 forbids skipping)`);
  console.log(`      skipping ${what}: ${reason}`);
  context.skip();
}

/** A long-lived helper process in a namespace that makes TCP connection attempts on request. */
const PROBER_SOURCE = `
const net = require('node:net');
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const { id, host, port, timeoutMs } = JSON.parse(line);
  let done = false;
  const finish = (result) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.destroy();
    process.stdout.write(JSON.stringify({ id, result }) + '\\n');
  };
  const socket = net.connect({ host, port });
  const timer = setTimeout(() => finish('timeout'), timeoutMs);
  socket.once('data', (data) => finish(String(data).startsWith('soar-lab') ? 'connected' : 'error'));
  socket.once('error', (e) => finish(e.code === 'ECONNREFUSED' ? 'refused' : /UNREACH/.test(e.code || '') ? 'unreachable' : 'error'));
});
rl.on('close', () => process.exit(0));
`;

/** The victim's service: greets with a banner, then echoes. Prints its port once listening. */
const SERVICE_SOURCE = `
const net = require('node:net');
const server = net.createServer((socket) => {
  socket.on('error', () => {});
  socket.write('soar-lab hello\\n');
  socket.pipe(socket);
});
server.listen({ host: '::', port: 0, ipv6Only: false }, () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\\n');
});
`;

class Prober {
  private nextId = 1;
  private readonly pending = new Map<number, (result: ProbeResult) => void>();

  constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const { id, result } = JSON.parse(line) as { id: number; result: ProbeResult };
      this.pending.get(id)?.(result);
      this.pending.delete(id);
    });
    child.on('exit', () => {
      for (const resolve of this.pending.values()) resolve('error');
      this.pending.clear();
    });
  }

  connect(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.child.stdin!.write(JSON.stringify({ id, host, port, timeoutMs }) + '\n');
    });
  }
}

export interface NetnsLab {
  id: string;
  victim: LabHost;
  attacker: LabHost;
  other: LabHost;
  /** The shared IPv4 subnet, e.g. 198.18.7.0/24. */
  subnet4: string;
  /** Runs nft inside the victim namespace. */
  nftRunner: CommandRunner;
  /** Start the TCP service in the victim; resolves with its port once it listens. */
  startService(): Promise<number>;
  /** A TCP connection attempt from a lab host; "connected" only when the service's banner arrived. */
  connect(from: 'attacker' | 'other', host: string, port: number, timeoutMs?: number): Promise<ProbeResult>;
  /** Kill the lab's processes by PID and delete its namespaces. Safe to call twice. */
  destroy(): Promise<void>;
}

/** Labs not yet destroyed, for the exit safety net. */
const liveLabs = new Set<{ namespaces: string[]; children: ChildProcess[] }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // mocha's --exit ends the process after the run; a lab whose after() never ran still goes away.
  process.on('exit', () => {
    for (const lab of liveLabs) {
      for (const child of lab.children) if (child.pid && child.exitCode === null) tryKill(child.pid);
      for (const ns of lab.namespaces) {
        try {
          execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
        } catch {
          /* already gone */
        }
      }
    }
  });
}

function tryKill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

export interface LabOptions {
  /** Third octet of 198.18.<n>.0/24. Default 7. */
  subnetOctet?: number;
}

export async function createLab(options: LabOptions = {}): Promise<NetnsLab> {
  installExitHook();
  const id = randomBytes(4).toString('hex');
  const octet = options.subnetOctet ?? 7;
  const prefix4 = `198.18.${octet}`;
  // Attacker sits low (inside 198.18.n.0/28 and 2001:2::/120, the ranges the range-block tests use);
  // victim and other sit outside both.
  const hosts: Record<LabHostName, LabHost> = {
    victim: { ns: `soar-victim-${id}`, ipv4: `${prefix4}.200`, ipv6: '2001:2::200' },
    attacker: { ns: `soar-attacker-${id}`, ipv4: `${prefix4}.2`, ipv6: '2001:2::2' },
    other: { ns: `soar-other-${id}`, ipv4: `${prefix4}.100`, ipv6: '2001:2::100' },
  };
  const record = { namespaces: [] as string[], children: [] as ChildProcess[] };
  liveLabs.add(record);

  let destroyed = false;
  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    for (const child of record.children) {
      if (child.exitCode !== null || child.signalCode !== null || !child.pid) continue;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      tryKill(child.pid);
      await exited;
    }
    for (const ns of record.namespaces) await run('ip', ['netns', 'del', ns]);
    liveLabs.delete(record);
  };

  try {
    for (const host of Object.values(hosts)) {
      await ip(['netns', 'add', host.ns]);
      record.namespaces.push(host.ns);
      await ip(['-n', host.ns, 'link', 'set', 'lo', 'up']);
    }
    const victim = hosts.victim.ns;
    await ip(['-n', victim, 'link', 'add', 'br0', 'type', 'bridge']);
    await ip(['-n', victim, 'addr', 'add', `${hosts.victim.ipv4}/24`, 'dev', 'br0']);
    await ip(['-n', victim, 'addr', 'add', `${hosts.victim.ipv6}/64`, 'dev', 'br0', 'nodad']);
    await ip(['-n', victim, 'link', 'set', 'br0', 'up']);
    for (const name of ['attacker', 'other'] as const) {
      const host = hosts[name];
      const port = name === 'attacker' ? 'p-att' : 'p-oth';
      // Created inside the namespaces directly: no interface ever appears in the host namespace.
      await ip(['-n', host.ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', victim]);
      await ip(['-n', victim, 'link', 'set', port, 'master', 'br0']);
      await ip(['-n', victim, 'link', 'set', port, 'up']);
      await ip(['-n', host.ns, 'addr', 'add', `${host.ipv4}/24`, 'dev', 'eth0']);
      await ip(['-n', host.ns, 'addr', 'add', `${host.ipv6}/64`, 'dev', 'eth0', 'nodad']);
      await ip(['-n', host.ns, 'link', 'set', 'eth0', 'up']);
    }
  } catch (error) {
    await destroy();
    throw error;
  }

  const spawnIn = (ns: string, source: string): ChildProcess => {
    // `ip netns exec` execs the command in place, so the PID we hold is node's own.
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', source], { stdio: ['pipe', 'pipe', 'inherit'] });
    record.children.push(child);
    // Writing to a helper that died would raise EPIPE; its exit already resolves pending probes as 'error'.
    child.stdin?.on('error', () => undefined);
    return child;
  };

  const probers = new Map<string, Prober>();
  const proberFor = (name: 'attacker' | 'other'): Prober => {
    let prober = probers.get(name);
    if (!prober) {
      prober = new Prober(spawnIn(hosts[name].ns, PROBER_SOURCE));
      probers.set(name, prober);
    }
    return prober;
  };

  return {
    id,
    ...hosts,
    subnet4: `${prefix4}.0/24`,
    nftRunner: execRunner('ip', ['netns', 'exec', hosts.victim.ns, 'nft']),
    startService: () =>
      new Promise<number>((resolve, reject) => {
        const child = spawnIn(hosts.victim.ns, SERVICE_SOURCE);
        child.once('error', reject);
        child.once('exit', (code) => reject(new Error(`victim service exited early (code ${code})`)));
        createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
      }),
    connect: (from, host, port, timeoutMs = 1000) => proberFor(from).connect(host, port, timeoutMs),
    destroy,
  };
}
