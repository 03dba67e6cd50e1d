/**
 * Start the hub exactly as the README says (`npm start`, here without its prestart build, which
 * `npm test` already did) in a fresh SOAR_HOME on a free port, and stop it by its process group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { root, tempDir } from './nr';

export interface RunningHub {
  proc: ChildProcess;
  home: string;
  port: number;
  output: () => string;
  banner: Record<string, string>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export interface LaunchedHub {
  proc: ChildProcess;
  home: string;
  port: number;
  output: () => string;
  /** "ready" once the banner is printed, "exited" if the process ended first, "timeout". */
  outcome: Promise<'ready' | 'exited' | 'timeout'>;
  exitCode: () => number | null;
  stop(): Promise<void>;
}

/** Start `npm start` (without its prestart build unless `build`) and report how it went. */
export async function launchHub(env: Record<string, string> = {}, opts: { timeoutMs?: number; build?: boolean } = {}): Promise<LaunchedHub> {
  const timeoutMs = opts.timeoutMs ?? 90000;
  const home = env.SOAR_HOME ?? tempDir('soar-hub-');
  const port = Number(env.PORT ?? (await freePort()));
  const args = opts.build ? ['start', '--silent'] : ['start', '--ignore-scripts', '--silent'];
  const proc = spawn('npm', args, {
    cwd: root,
    env: { ...process.env, SOAR_HOME: home, PORT: String(port), ...env },
    detached: true, // own process group: npm and the hub stop together
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    try {
      process.kill(-proc.pid!, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-proc.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, 10000);
    await exited;
    clearTimeout(timer);
  };
  const outcome = new Promise<'ready' | 'exited' | 'timeout'>((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), timeoutMs);
    const check = () => {
      if (out.includes('Send a sample alert:')) {
        clearTimeout(timer);
        resolve('ready');
      }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', () => {
      clearTimeout(timer);
      // Output may still be in the pipes when "exit" comes.
      setTimeout(() => resolve(out.includes('Send a sample alert:') ? 'ready' : 'exited'), 100);
    });
  });
  return { proc, home, port, output: () => out, outcome, exitCode: () => proc.exitCode, stop };
}

export function parseBanner(out: string): Record<string, string> {
  const banner: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^\s{2}(editor|also at|intake|intake token|editor login|audit log|settings):\s+(.*)$/.exec(line);
    if (m && !(m[1] in banner)) banner[m[1]] = m[2].trim();
  }
  const curl = out.split('\n').find((l) => l.trim().startsWith('curl '));
  if (curl) banner.curl = curl.trim();
  return banner;
}

export async function startHub(env: Record<string, string> = {}, timeoutMs = 90000): Promise<RunningHub> {
  const hub = await launchHub(env, { timeoutMs });
  if ((await hub.outcome) !== 'ready') {
    await hub.stop();
    throw new Error(`hub did not start:\n${hub.output().slice(-4000)}`);
  }
  return { proc: hub.proc, home: hub.home, port: hub.port, output: hub.output, banner: parseBanner(hub.output()), stop: hub.stop };
}
