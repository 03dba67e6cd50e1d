/**
 * A real Node-RED child process (this checkout's node_modules/node-red, the pack from dist/ through
 * nodesDir) on a user directory prepared by prepareUserDir (test/helpers/nodered-process.ts), for
 * system tests that kill it with -9 and start it again on the same directory. Talks to 127.0.0.1 only;
 * every request uses agent:false, so no pooled socket to a killed process is ever reused.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import type { NodeRedUserDir } from './nodered-process';

export interface HttpReply {
  status: number;
  text: string;
}

/** A free port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** One HTTP request to 127.0.0.1:<port>; rejects when the connection fails, resolves with any status. */
export function request(port: number, method: string, urlPath: string, body = '', type = 'application/json'): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method, agent: false, timeout: 15_000, headers: { 'content-type': type } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Poll `check` until it gives a value (not undefined); on timeout the error carries Node-RED's output. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, output: () => string, ms = 90_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 200)); // poll interval while Node-RED works
  }
}

const live = new Set<ChildProcess>();
let exitHook = false;

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export interface RestartableNodeRed {
  readonly child: ChildProcess;
  /** The tail of stdout and stderr, for failure messages. */
  output(): string;
  /** SIGKILL by PID; resolves once the process is gone. */
  kill9(): Promise<void>;
  /** Resolves once the intake at `urlPath` answers an empty POST with 400 (the route is up, the hub is open). */
  waitForIntake(urlPath?: string, ms?: number): Promise<void>;
}

export interface StartOptions {
  /** Extra environment for the child (e.g. SOAR_TICKET_BACKOFF_MS). */
  env?: NodeJS.ProcessEnv;
  /** How much output to keep (characters). Default 50,000. */
  keep?: number;
}

/** Start Node-RED on a prepared user directory. Left-over children are killed by PID when mocha exits. */
export function startNodeRed(dir: NodeRedUserDir, options: StartOptions = {}): RestartableNodeRed {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const c of live) if (c.pid && !exited(c)) process.kill(c.pid, 'SIGKILL');
    });
  }
  const child = spawn(process.execPath, [require.resolve('node-red/red.js'), '-u', dir.userDir, '-s', dir.settingsFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const keep = options.keep ?? 50_000;
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log = (log + d.toString('utf8')).slice(-keep)));
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString('utf8')).slice(-keep)));
  const output = () => log;
  return {
    child,
    output,
    async kill9() {
      if (exited(child)) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      process.kill(child.pid!, 'SIGKILL');
      await gone;
    },
    async waitForIntake(urlPath = '/soar/alerts', ms = 90_000) {
      await until(
        'the intake',
        async () => {
          if (exited(child)) throw new Error(`Node-RED exited:\n${log}`);
          // An empty body is a 400 from the intake: the route is there and the hub is open.
          const reply = await request(dir.port, 'POST', urlPath).catch(() => undefined);
          return reply?.status === 400 ? true : undefined;
        },
        output,
        ms,
      );
    },
  };
}

/** A change node moving msg.<prop> to the payload, wired to a file node that appends it as one JSON line to `file`; ids `<id>-payload`, `<id>-file`. */
export function toFileNodes(id: string, file: string, prop: string): unknown[] {
  return [
    { id: `${id}-payload`, z: 'tab', type: 'change', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: prop, tot: 'msg' }], wires: [[`${id}-file`]] },
    {
      id: `${id}-file`,
      z: 'tab',
      type: 'file',
      filename: file,
      filenameType: 'str',
      appendNewline: true,
      createDir: true,
      overwriteFile: 'false',
      encoding: 'none',
      wires: [],
    },
  ];
}

/** The intake 'intake' of hub 'the-hub' at /soar/alerts, open to 127.0.0.1 without a token, its output wired to `next`. */
export function intakeNode(next: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'intake',
    z: 'tab',
    type: 'soar-alert-intake',
    hub: 'the-hub',
    path: '/soar/alerts',
    authType: 'none',
    allowFrom: '127.0.0.1/32',
    format: 'auto',
    dedupWindow: 300,
    duplicateMode: 'suppress',
    maxBodyKb: 1024,
    maxBacklog: 5000,
    bodyTimeout: 10,
    ...extra,
    wires: [next],
  };
}
