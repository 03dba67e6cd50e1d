/**
 * A real Node-RED process (this checkout's node_modules/node-red, with the pack loaded from the
 * repository root through nodesDir) running inside a network namespace, for system tests that kill
 * it with -9 and start it again on the same user directory.
 *
 * The test process stays in the root namespace and cannot reach 127.0.0.1 inside the namespace, so
 * HTTP goes through a small relay process started in that namespace (JSON lines on stdin/stdout, like
 * the prober in netns.ts). The relay outlives Node-RED restarts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { root } from './nr';

export interface HttpReply {
  status: number;
  text: string;
}

/** Children not yet stopped, killed by PID if mocha exits before after() ran. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) if (child.pid && child.exitCode === null && child.signalCode === null) killQuietly(child.pid, 'SIGKILL');
  });
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function exitOf(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * The relay: node:http with agent:false, so no pooled socket to a Node-RED that was killed is ever
 * reused (undici's fetch would keep one and fail the first request after a restart).
 */
const RELAY_SOURCE = `
const http = require('node:http');
const rl = require('node:readline').createInterface({ input: process.stdin });
const reply = (value) => process.stdout.write(JSON.stringify(value) + '\\n');
rl.on('line', (line) => {
  const { id, method, port, path, body, headers, timeoutMs } = JSON.parse(line);
  const req = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false, timeout: timeoutMs }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => reply({ id, status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
    res.on('error', (e) => reply({ id, error: e.code || e.message }));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => reply({ id, error: e.code || e.message }));
  req.end(body === undefined ? undefined : body);
});
rl.on('close', () => process.exit(0));
`;

/** HTTP requests to 127.0.0.1:<port> inside a network namespace. */
export class NamespaceHttp {
  private nextId = 1;
  private readonly pending = new Map<number, (reply: HttpReply | Error) => void>();

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const message = JSON.parse(line) as { id: number; status?: number; text?: string; error?: string };
      const settle = this.pending.get(message.id);
      this.pending.delete(message.id);
      settle?.(message.error !== undefined ? new Error(`request failed: ${message.error}`) : { status: message.status!, text: message.text ?? '' });
    });
    child.on('exit', () => {
      for (const settle of this.pending.values()) settle(new Error('the HTTP relay exited'));
      this.pending.clear();
    });
    child.stdin!.on('error', () => undefined);
  }

  static start(ns: string): NamespaceHttp {
    installExitHook();
    // `ip netns exec` execs node in place: the PID we hold is the relay's own.
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', RELAY_SOURCE], { stdio: ['pipe', 'pipe', 'inherit'] });
    liveChildren.add(child);
    return new NamespaceHttp(child);
  }

  /** Rejects when the connection fails (nothing listening yet, server killed); resolves with any status. */
  request(port: number, method: string, urlPath: string, body?: unknown, timeoutMs = 10_000): Promise<HttpReply> {
    const id = this.nextId++;
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (text !== undefined) headers['content-type'] = 'application/json';
    return new Promise((resolve, reject) => {
      if (hasExited(this.child)) return reject(new Error('the HTTP relay exited'));
      this.pending.set(id, (reply) => (reply instanceof Error ? reject(reply) : resolve(reply)));
      this.child.stdin!.write(JSON.stringify({ id, method, port, path: urlPath, body: text, headers, timeoutMs }) + '\n');
    });
  }

  async close(): Promise<void> {
    liveChildren.delete(this.child);
    if (hasExited(this.child) || !this.child.pid) return;
    const exited = exitOf(this.child);
    killQuietly(this.child.pid, 'SIGKILL');
    await exited;
  }
}

export interface NodeRedUserDir {
  userDir: string;
  settingsFile: string;
  port: number;
  /** <userDir>/soar/audit.jsonl, where the default hub folder puts the audit log. */
  auditFile: string;
}

/** Write settings.js and flows.json (flows only when given: a restart keeps the deployed ones). */
export function prepareUserDir(userDir: string, port: number, flows?: unknown[]): NodeRedUserDir {
  const settingsFile = path.join(userDir, 'settings.js');
  const settings = {
    uiHost: '127.0.0.1',
    uiPort: port,
    httpAdminRoot: '/admin',
    httpNodeRoot: '/',
    userDir,
    flowFile: 'flows.json',
    nodesDir: [root],
    credentialSecret: 'block-ip-system-test',
    editorTheme: { tours: false, palette: { catalogues: [] }, projects: { enabled: false } },
    externalModules: { palette: { allowInstall: false } },
    telemetry: { enabled: false },
    diagnostics: { enabled: false },
    logging: { console: { level: 'warn', metrics: false, audit: false } },
  };
  fs.writeFileSync(settingsFile, `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
  if (flows) fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows, null, 2));
  return { userDir, settingsFile, port, auditFile: path.join(userDir, 'soar', 'audit.jsonl') };
}

export interface NodeRedProcess {
  /** Node-RED's own PID (ip netns exec has exec'd into node). */
  pid: number;
  /** Date.now() just before the spawn. */
  spawnedAt: number;
  /** stdout and stderr so far (the tail), for failure messages. */
  output(): string;
  /** SIGKILL by PID; resolves once the process is gone. */
  kill9(): Promise<void>;
  /** SIGTERM by PID, SIGKILL if it has not exited after a few seconds. */
  stop(): Promise<void>;
}

const OUTPUT_LIMIT = 20_000;

/** Inode of a network namespace, from /run/netns/<ns> or /proc/<pid>/ns/net. */
export function namespaceInode(nsOrPid: string | number): number {
  return fs.statSync(typeof nsOrPid === 'number' ? `/proc/${nsOrPid}/ns/net` : `/run/netns/${nsOrPid}`).ino;
}

/**
 * Start Node-RED in `ns` on a prepared user directory and wait (bounded) until its admin API answers.
 * Checks that the PID it returns is node itself, in that namespace, so a kill by PID hits Node-RED.
 */
export async function startNodeRedInNamespace(ns: string, dir: NodeRedUserDir, http: NamespaceHttp, readyTimeoutMs = 60_000): Promise<NodeRedProcess> {
  installExitHook();
  const redJs = require.resolve('node-red/red.js');
  const spawnedAt = Date.now();
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, redJs, '-u', dir.userDir, '-s', dir.settingsFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  liveChildren.add(child);
  let log = '';
  const collect = (chunk: Buffer) => {
    log = (log + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    if (hasExited(child) || !child.pid) return;
    const exited = exitOf(child);
    killQuietly(child.pid, signal);
    await exited;
  };
  const stop = async (): Promise<void> => {
    liveChildren.delete(child);
    if (hasExited(child) || !child.pid) return;
    const exited = exitOf(child);
    killQuietly(child.pid, 'SIGTERM');
    const timer = setTimeout(() => child.pid && killQuietly(child.pid, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (hasExited(child)) throw new Error(`Node-RED exited while starting (code ${child.exitCode}, signal ${child.signalCode}):\n${log}`);
    const reply = await Promise.race([http.request(dir.port, 'GET', '/admin/settings', undefined, 2000).catch(() => undefined), spawnError]);
    if (reply instanceof Error) throw new Error(`could not start Node-RED: ${reply.message}`);
    if (reply?.status === 200) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Node-RED did not answer within ${readyTimeoutMs} ms:\n${log}`);
    }
    // Poll interval while it starts (there is no event to await from another namespace's port).
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  const pid = child.pid!;
  // The PID we spawned must be Node-RED itself (ip exec'd into node), running in the namespace.
  const exe = fs.readlinkSync(`/proc/${pid}/exe`);
  if (exe !== fs.realpathSync(process.execPath)) {
    await stop();
    throw new Error(`PID ${pid} runs ${exe}, not node: a kill by PID would miss Node-RED`);
  }
  if (namespaceInode(pid) !== namespaceInode(ns)) {
    await stop();
    throw new Error(`PID ${pid} is not in network namespace ${ns}`);
  }

  return {
    pid,
    spawnedAt,
    output: () => log,
    kill9: async () => {
      liveChildren.delete(child);
      await kill('SIGKILL');
      if (child.signalCode !== 'SIGKILL') throw new Error(`Node-RED ended with ${child.signalCode ?? `exit code ${child.exitCode}`} before the kill`);
    },
    stop,
  };
}
