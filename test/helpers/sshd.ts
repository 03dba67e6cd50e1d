/**
 * A real OpenSSH server (Debian's openssh-server) inside a network namespace, for the "nftables on a
 * gateway over SSH" system tests.
 *
 *   host (root namespace) ── sgw<id> 198.18.<m>.1/30 ═ veth ═ mgmt0 198.18.<m>.2/30 ── gateway namespace
 *                                                                                       (sshd on :22)
 *
 * The sshd runs with its own config, host key, authorized keys and PidFile in a temp dir
 * (`/usr/sbin/sshd -D -e -f <dir>/sshd_config`), listening only on the namespace address, and is
 * stopped by its PID. The management link is the one interface these tests put into the host
 * namespace; it disappears with the gateway namespace (deleting one end of a veth deletes both).
 *
 * Installs needed: `apt-get install -y openssh-server sudo` (sudo only for the sudo test).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const SSHD = '/usr/sbin/sshd';

function run(command: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 127) : 0;
      resolve({ stdout, stderr: stderr || (error && code === 127 ? error.message : ''), code });
    });
  });
}

async function mustRun(command: string, args: string[]): Promise<string> {
  const result = await run(command, args);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.code}): ${result.stderr.trim()}`);
  return result.stdout;
}

/** Why a real sshd cannot be started here, or undefined when it can. */
export async function sshdUnsupportedReason(): Promise<string | undefined> {
  if (!existsSync(SSHD)) return `${SSHD} is missing (apt-get install -y openssh-server)`;
  const keygen = await run('ssh-keygen', ['-?']);
  if (keygen.code === 127) return 'ssh-keygen is missing (apt-get install -y openssh-client)';
  return undefined;
}

/** Why the sudo test cannot run, or undefined. */
export async function sudoUnsupportedReason(): Promise<string | undefined> {
  if (!existsSync('/usr/bin/sudo')) return '/usr/bin/sudo is missing (apt-get install -y sudo)';
  if (!existsSync('/usr/sbin/useradd')) return 'useradd is missing (passwd package)';
  return undefined;
}

/** Skip (printing why) or, with SOAR_REQUIRE_SYSTEM=1, fail. */
export function skipOrFail(context: Mocha.Context, what: string, reason: string): never {
  if (process.env.SOAR_REQUIRE_SYSTEM === '1') throw new Error(`${what}: ${reason} (SOAR_REQUIRE_SYSTEM=1 forbids skipping)`);
  console.log(`      skipping ${what}: ${reason}`);
  context.skip();
}

export interface KeyPair {
  privateKey: string;
  publicKey: string;
  /** `ssh-keygen -lf` of the public key: "SHA256:...". */
  fingerprint: string;
}

/** A fresh ed25519 key pair made by ssh-keygen (no passphrase unless given). */
export async function generateKey(dir: string, name: string, passphrase = ''): Promise<KeyPair> {
  const file = path.join(dir, name);
  await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', `soar-test-${name}`, '-f', file]);
  const listed = await mustRun('ssh-keygen', ['-lf', `${file}.pub`]);
  const fingerprint = listed.split(' ')[1];
  if (!fingerprint?.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen -lf output: ${listed.trim()}`);
  return { privateKey: readFileSync(file, 'utf8'), publicKey: readFileSync(`${file}.pub`, 'utf8').trim(), fingerprint };
}

export interface ManagementLink {
  hostInterface: string;
  hostAddress: string;
  gatewayAddress: string;
}

/** A free 198.18.<m>.0/30 (no address of the host namespace inside 198.18.<m>.0/24). */
async function freeManagementOctet(): Promise<number> {
  for (let tries = 0; tries < 20; tries++) {
    const octet = 200 + (randomBytes(1)[0] % 50);
    const used = await mustRun('ip', ['-o', '-4', 'addr', 'show', 'to', `198.18.${octet}.0/24`]);
    if (used.trim() === '') return octet;
  }
  throw new Error('no free 198.18.200-249.0/24 subnet for the management link');
}

/** Connect the host namespace to a namespace over a veth pair (the gateway's management interface). */
export async function addManagementLink(namespace: string, id: string): Promise<ManagementLink> {
  const octet = await freeManagementOctet();
  const link: ManagementLink = { hostInterface: `sgw${id.slice(0, 8)}`, hostAddress: `198.18.${octet}.1`, gatewayAddress: `198.18.${octet}.2` };
  await mustRun('ip', ['link', 'add', link.hostInterface, 'type', 'veth', 'peer', 'name', 'mgmt0', 'netns', namespace]);
  try {
    await mustRun('ip', ['addr', 'add', `${link.hostAddress}/30`, 'dev', link.hostInterface]);
    await mustRun('ip', ['link', 'set', link.hostInterface, 'up']);
    await mustRun('ip', ['-n', namespace, 'addr', 'add', `${link.gatewayAddress}/30`, 'dev', 'mgmt0']);
    await mustRun('ip', ['-n', namespace, 'link', 'set', 'mgmt0', 'up']);
  } catch (error) {
    await run('ip', ['link', 'del', link.hostInterface]);
    throw error;
  }
  return link;
}

/**
 * The same link between two namespaces: `fromNamespace` (a hub running in its own namespace, e.g.
 * Node-RED started by nodered-process.ts) gets hostAddress, `namespace` gets gatewayAddress on mgmt0.
 * Nothing appears in the root namespace; the link goes with either namespace.
 */
export async function addNamespaceManagementLink(fromNamespace: string, namespace: string, id: string): Promise<ManagementLink> {
  const octet = await freeManagementOctet();
  const link: ManagementLink = { hostInterface: `hgw${id.slice(0, 8)}`, hostAddress: `198.18.${octet}.1`, gatewayAddress: `198.18.${octet}.2` };
  await mustRun('ip', ['-n', fromNamespace, 'link', 'add', link.hostInterface, 'type', 'veth', 'peer', 'name', 'mgmt0', 'netns', namespace]);
  await mustRun('ip', ['-n', fromNamespace, 'addr', 'add', `${link.hostAddress}/30`, 'dev', link.hostInterface]);
  await mustRun('ip', ['-n', fromNamespace, 'link', 'set', link.hostInterface, 'up']);
  await mustRun('ip', ['-n', namespace, 'addr', 'add', `${link.gatewayAddress}/30`, 'dev', 'mgmt0']);
  await mustRun('ip', ['-n', namespace, 'link', 'set', 'mgmt0', 'up']);
  return link;
}

export async function removeManagementLink(link: ManagementLink | undefined): Promise<void> {
  if (link) await run('ip', ['link', 'del', link.hostInterface]); // already gone with its namespace: fine
}

export interface SshdOptions {
  namespace: string;
  listenAddress: string;
  /** Users allowed in, each with the public key lines accepted for them. */
  authorizedKeys: Record<string, string[]>;
}

export interface RunningSshd {
  dir: string;
  pid: number;
  address: string;
  port: number;
  /** `ssh-keygen -lf` of the server's host key. */
  hostKeySha256: string;
  /** Everything sshd logged (-e), for failure messages. */
  log(): string;
  /** PIDs of the per-connection sshd processes (children of the listener). */
  sessionPids(): number[];
  /** Stop by PID (SIGTERM, then SIGKILL) and remove the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

function childPids(parent: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/<pid>/stat is the parent PID; the command name (field 2) may contain spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === parent) children.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return children;
}

export async function startSshd(options: SshdOptions): Promise<RunningSshd> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const child of running) if (child.pid && child.exitCode === null) killQuietly(child.pid, 'SIGKILL');
    });
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'soar-sshd-'));
  // sshd reads authorized keys as the target user: the files must be readable by non-root users.
  await chmod(dir, 0o755);
  const hostKey = await generateKey(dir, 'ssh_host_ed25519_key');
  const keysDir = path.join(dir, 'authorized_keys');
  await mkdir(keysDir, { mode: 0o755 });
  for (const [user, keys] of Object.entries(options.authorizedKeys)) {
    await writeFile(path.join(keysDir, user), keys.join('\n') + '\n', { mode: 0o644 });
  }
  // Debian's sshd refuses to start without its privilege separation directory.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const config = [
    `ListenAddress ${options.listenAddress}:22`,
    `HostKey ${path.join(dir, 'ssh_host_ed25519_key')}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${keysDir}/%u`,
    // The key files live under /tmp (world-writable): StrictModes would refuse them.
    'StrictModes no',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'UsePAM no',
    `AllowUsers ${Object.keys(options.authorizedKeys).join(' ')}`,
    'LogLevel VERBOSE',
    '',
  ].join('\n');
  const configFile = path.join(dir, 'sshd_config');
  await writeFile(configFile, config, { mode: 0o600 });

  // `ip netns exec` execs sshd in place, so the PID held here is the listener's own.
  const child = spawn('ip', ['netns', 'exec', options.namespace, SSHD, '-D', '-e', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let log = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    log += text;
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = () => {
        if (/Server listening on/.test(log)) {
          child.stderr!.off('data', onData);
          resolve();
        }
      };
      child.stderr!.on('data', onData);
      child.once('error', reject);
      child.once('exit', (code, signal) => reject(new Error(`sshd exited at start (${code ?? signal}): ${log.trim()}`)));
    });
  } catch (error) {
    running.delete(child);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  let stopped = false;
  return {
    dir,
    pid: child.pid!,
    address: options.listenAddress,
    port: 22,
    hostKeySha256: hostKey.fingerprint,
    log: () => log,
    sessionPids: () => childPids(child.pid!),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      // Sessions outlive the listener in OpenSSH: end them too, each by its PID.
      for (const pid of childPids(child.pid!)) killQuietly(pid, 'SIGTERM');
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        killQuietly(child.pid!, 'SIGTERM');
        const timer = setTimeout(() => killQuietly(child.pid!, 'SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      running.delete(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface SudoUser {
  name: string;
  /** Remove what was created (the sudoers rule, and the user when this helper made it). */
  remove(): Promise<void>;
}

/**
 * A non-root system user allowed to run exactly `nftPath` (and `extraCommands`) as root without a password
 * (`<user> ALL=(root) NOPASSWD: <nftPath>` in /etc/sudoers.d), the way a gateway would be set up.
 */
export async function createSudoUser(name: string, nftPath: string, extraCommands: string[] = []): Promise<SudoUser> {
  const existed = (await run('id', ['-u', name])).code === 0;
  // Password "*": no password login, but not "locked" ("!"), which sshd refuses without PAM.
  if (!existed) await mustRun('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/bin/sh', '--password', '*', name]);
  const rule = `/etc/sudoers.d/${name}`;
  await writeFile(rule, `${name} ALL=(root) NOPASSWD: ${[nftPath, ...extraCommands].join(', ')}\n`, { mode: 0o440 });
  const check = await run('visudo', ['-cf', rule]);
  if (check.code !== 0) {
    await rm(rule, { force: true });
    throw new Error(`sudoers rule refused by visudo: ${check.stdout}${check.stderr}`);
  }
  return {
    name,
    remove: async () => {
      await rm(rule, { force: true });
      if (!existed) await run('userdel', [name]);
    },
  };
}
