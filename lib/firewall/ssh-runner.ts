/**
 * A CommandRunner that runs nft on a remote Linux gateway over SSH (ssh2, key authentication, optional
 * `sudo -n`), so that NftablesFirewall applies the same rules there as it does locally:
 *
 *   const runner = createSshRunner({ host: '198.18.0.1', username: 'soar', privateKey, hostKeySha256: 'SHA256:...', sudo: true });
 *   const fw = new NftablesFirewall({ runner, chains: ['forward'] });
 *
 * One connection is opened on first use and reused; when it drops, the next command opens a new one.
 * An SSH "exec" always goes through the remote user's login shell, so every argument is single-quoted
 * for a POSIX shell (sh, dash, bash, zsh) even though nft-script has already validated addresses.
 * Node-RED-free. The private key and passphrase never appear in an error or a log line.
 */
import { createHash } from 'node:crypto';
import { Client, utils, type ClientChannel, type ConnectConfig } from 'ssh2';
import { ProviderError } from '../core/errors';
import type { CommandResult, CommandRunner } from './types';

export interface SshRunnerOptions {
  host: string;
  /** Default 22. */
  port?: number;
  username: string;
  /** OpenSSH (or PEM) private key text. */
  privateKey: string | Buffer;
  /** For an encrypted private key. */
  passphrase?: string | Buffer;
  /**
   * Pin of the gateway's host key as `ssh-keygen -lf <key>.pub` prints it ("SHA256:<base64>").
   * Set: any other key is refused. Unset: any key is accepted and shown by hostKeySha256() for pinning.
   */
  hostKeySha256?: string;
  /** Run the command through `sudo -n` (never prompts: a sudoers NOPASSWD rule is needed). */
  sudo?: boolean;
  /** The program the runner's arguments are given to. Default "nft" (found through the remote PATH). */
  nftPath?: string;
  /** Per command: no exit status within this long rejects the call. Default 60 s. */
  timeoutMs?: number;
  /** SSH handshake + authentication. Default 20 s. */
  connectTimeoutMs?: number;
  /** SSH-level keepalive, so a silently dead gateway is noticed. Default 15 s; 0 disables. */
  keepaliveIntervalMs?: number;
}

/** A CommandRunner with a connection behind it. */
export type SshRunner = CommandRunner & {
  /** Open the connection now (e.g. to show the host key for pinning); resolves with its fingerprint. */
  connect(): Promise<string>;
  /** The host key fingerprint seen on the last handshake ("SHA256:..."), or undefined before one. */
  hostKeySha256(): string | undefined;
  /** Close the connection; later commands open a new one. */
  close(): Promise<void>;
  /**
   * Run any program (not only nft) on the same connection: `sudo -n --` first when the runner uses
   * sudo, unless `asUser` (e.g. to read the session's own environment, which sudo resets).
   */
  exec(argv: string[], stdin?: string, options?: { asUser?: boolean }): Promise<CommandResult>;
};

const DEFAULTS = { port: 22, nftPath: 'nft', timeoutMs: 60_000, connectTimeoutMs: 20_000, keepaliveIntervalMs: 15_000 };
const FINGERPRINT = /^SHA256:([A-Za-z0-9+/]{43})=?$/;
/** sshd's own notice on a session's stderr; nft's error mapping must not read its "No such file or directory". */
const SSHD_NO_HOME = /^Could not chdir to home directory [^\n]*\n?/;
/** ssh2's errors for a channel asked of a connection that is gone. */
const CONNECTION_GONE = /Not connected|No response from server/;
const SUDO_NEEDS_PASSWORD = /sudo: (a )?password is required|sudo: a terminal is required|sudo: no tty present/;

/** Quote one argument for a POSIX shell: inside single quotes nothing is special but the quote itself. */
export function shellQuote(arg: string): string {
  if (typeof arg !== 'string') throw new TypeError('shell arguments must be strings');
  // A NUL cannot travel in an SSH exec request's command string (the remote side cuts it there).
  if (arg.includes('\0')) throw new TypeError('shell arguments cannot contain NUL bytes');
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command line the remote shell receives: every word quoted, so it runs exactly these words. */
export function remoteCommand(argv: string[]): string {
  if (argv.length === 0) throw new TypeError('empty command');
  return argv.map(shellQuote).join(' ');
}

/** OpenSSH's SHA256 fingerprint of a raw host key blob: "SHA256:" + unpadded base64 of its SHA-256. */
export function hostKeyFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** Normalise a pin ("SHA256:abc..." with or without the base64 padding) or throw. */
export function parseHostKeyPin(pin: string): string {
  const match = FINGERPRINT.exec(typeof pin === 'string' ? pin.trim() : '');
  if (!match) {
    throw new ProviderError({
      provider: 'ssh',
      code: 'BAD_REQUEST',
      attempts: 0,
      message: 'hostKeySha256 must look like "SHA256:<43 base64 characters>", as `ssh-keygen -lf <host key>.pub` prints it',
    });
  }
  return `SHA256:${match[1]}`;
}

function badOption(message: string): ProviderError {
  return new ProviderError({ provider: 'ssh', code: 'BAD_REQUEST', attempts: 0, message });
}

/** A thrown error that is safe to show: ssh2's messages, never the key or the options. */
function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** A live (or opening) connection. */
interface Connection {
  client: Client;
  ready: Promise<Client>;
  /** Resolves once the socket is gone. */
  ended: Promise<void>;
  closed: boolean;
}

export function createSshRunner(options: SshRunnerOptions): SshRunner {
  const host = typeof options.host === 'string' ? options.host.trim() : '';
  if (host === '') throw badOption('ssh runner: host is required');
  const port = options.port ?? DEFAULTS.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw badOption(`ssh runner: invalid port ${String(port)}`);
  if (typeof options.username !== 'string' || options.username === '') throw badOption('ssh runner: username is required');
  const username = options.username;
  const pin = options.hostKeySha256 === undefined || options.hostKeySha256 === '' ? undefined : parseHostKeyPin(options.hostKeySha256);
  // Parse the key now so a wrong key or passphrase shows at configuration time, not at the first block.
  const parsedKey = utils.parseKey(options.privateKey, options.passphrase);
  if (parsedKey instanceof Error) throw badOption(`ssh runner: cannot use the private key: ${describe(parsedKey)}`);
  const nftPath = options.nftPath ?? DEFAULTS.nftPath;
  if (typeof nftPath !== 'string' || nftPath === '') throw badOption('ssh runner: nftPath must be a non-empty string');
  const timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
  const keepaliveIntervalMs = options.keepaliveIntervalMs ?? DEFAULTS.keepaliveIntervalMs;
  const target = `${username}@${host}:${port}`;
  const prefix = options.sudo ? ['sudo', '-n', '--', nftPath] : [nftPath];

  let current: Connection | undefined;
  let seenFingerprint: string | undefined;

  function open(): Connection {
    const client = new Client();
    const connection: Connection = {
      client,
      ready: Promise.resolve(client),
      ended: new Promise<void>((resolve) => client.once('close', () => resolve())),
      closed: false,
    };
    let pinMismatch: string | undefined;
    connection.ready = new Promise<Client>((resolve, reject) => {
      let settled = false;
      const fail = (error: Error) => {
        connection.closed = true;
        if (current === connection) current = undefined;
        if (settled) return;
        settled = true;
        reject(error);
      };
      client.once('ready', () => {
        settled = true;
        resolve(client);
      });
      client.on('error', (error: Error & { level?: string }) => {
        if (pinMismatch) {
          fail(new Error(pinMismatch));
          return;
        }
        const authFailed = error.level === 'client-authentication';
        fail(new Error(`ssh to ${target}: ${authFailed ? 'authentication failed (is the public key in authorized_keys?): ' : ''}${describe(error)}`));
      });
      client.on('close', () => fail(new Error(`ssh to ${target}: connection closed during the handshake`)));
      const config: ConnectConfig = {
        host,
        port,
        username,
        privateKey: options.privateKey,
        passphrase: options.passphrase,
        readyTimeout: connectTimeoutMs,
        keepaliveInterval: keepaliveIntervalMs,
        keepaliveCountMax: 3,
        hostVerifier: (keyBlob: Buffer): boolean => {
          const fingerprint = hostKeyFingerprint(keyBlob);
          seenFingerprint = fingerprint;
          if (pin === undefined || fingerprint === pin) return true;
          pinMismatch = `ssh to ${target}: host key ${fingerprint} does not match the pinned ${pin}; refusing to connect (another machine, or the gateway's key changed)`;
          return false;
        },
      };
      try {
        client.connect(config);
      } catch (error) {
        fail(new Error(`ssh to ${target}: ${describe(error)}`));
      }
    });
    // Nobody may be awaiting `ready` when a dropped connection rejects it.
    connection.ready.catch(() => undefined);
    return connection;
  }

  function connection(): Connection {
    if (!current || current.closed) current = open();
    return current;
  }

  /** Open a session channel and start the command; rejects only when the command cannot have started. */
  function startCommand(client: Client, command: string): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      try {
        client.exec(command, (error, channel) => (error ? reject(error) : resolve(channel)));
      } catch (error) {
        reject(error as Error);
      }
    });
  }

  function discard(conn: Connection): void {
    conn.closed = true;
    if (current === conn) current = undefined;
    conn.client.destroy();
  }

  /**
   * Start the command, opening or replacing the connection as needed. `attempt.abandoned` is set when
   * the caller's deadline passed: nothing new may start after that.
   */
  async function startWithReconnect(command: string, attempt: { abandoned: boolean }): Promise<ClientChannel> {
    const first = connection();
    // A failed handshake (unreachable, refused key, wrong host key) is reported as it is, not retried.
    const firstClient = await first.ready;
    let channel: ClientChannel;
    try {
      if (attempt.abandoned) throw new Error('deadline passed');
      channel = await startCommand(firstClient, command);
    } catch (error) {
      if (attempt.abandoned) throw error;
      // A refusal on a live connection (e.g. sshd's MaxSessions) is reported; the connection stays for
      // the other commands on it.
      if (!first.closed && !CONNECTION_GONE.test(describe(error))) {
        throw new Error(`ssh to ${target}: could not start the command: ${describe(error)}`);
      }
      // The channel never opened, so the command never ran: a connection that died since its last use
      // is replaced once and the command started again.
      discard(first);
      try {
        const second = connection();
        const client = await second.ready;
        if (attempt.abandoned) throw new Error('deadline passed');
        channel = await startCommand(client, command);
      } catch (retryError) {
        throw new Error(`ssh to ${target}: could not start the command: ${describe(retryError)} (first attempt: ${describe(error)})`);
      }
    }
    if (attempt.abandoned) channel.close();
    return channel;
  }

  /** startWithReconnect within the deadline; a hanging connection is dropped so the next call opens a new one. */
  function startWithin(command: string, ms: number): Promise<ClientChannel> {
    const attempt = { abandoned: false };
    return new Promise<ClientChannel>((resolve, reject) => {
      const timer = setTimeout(() => {
        attempt.abandoned = true;
        if (current) discard(current);
        reject(new Error(`ssh to ${target}: could not start the command within ${ms} ms`));
      }, ms);
      startWithReconnect(command, attempt).then(
        (channel) => {
          clearTimeout(timer);
          resolve(channel);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  function collect(channel: ClientChannel, stdin: string | undefined, ms: number): Promise<CommandResult> {
    return new Promise<CommandResult>((resolve, reject) => {
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let exitCode: number | undefined;
      let exitSignal: string | undefined;
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        channel.close();
        reject(new Error(`ssh to ${target}: no exit status within ${timeoutMs} ms (the command may still have run)`));
      }, ms);
      channel.on('data', (chunk: Buffer) => stdout.push(chunk));
      channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      channel.on('exit', (code: number | null, signal?: string) => {
        if (typeof code === 'number') exitCode = code;
        else if (signal) exitSignal = signal;
      });
      channel.on('close', () => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        if (exitCode === undefined && exitSignal === undefined) {
          reject(new Error(`ssh to ${target}: the connection ended before the command reported an exit status (it may have run)`));
          return;
        }
        let errorText = Buffer.concat(stderr).toString('utf8').replace(SSHD_NO_HOME, '');
        if (exitSignal !== undefined) errorText += `\nkilled by ${exitSignal}`;
        const code = exitCode ?? 1;
        if (options.sudo && code !== 0 && SUDO_NEEDS_PASSWORD.test(errorText)) {
          // nftables.ts reports stderr lines starting with "Error:"; "Permission denied" maps to FORBIDDEN.
          errorText = `Error: Permission denied: sudo on ${host} wants a password for ${username}; add a NOPASSWD sudoers rule for ${nftPath}\n${errorText}`;
        }
        resolve({ stdout: Buffer.concat(stdout).toString('utf8'), stderr: errorText, code });
      });
      channel.on('error', () => undefined);
      // nft may exit before reading all of its input (a parse error): its exit status tells, not a write error.
      channel.end(stdin ?? '');
    });
  }

  async function runArgv(argv: string[], stdin?: string): Promise<CommandResult> {
    const command = remoteCommand(argv);
    const started = Date.now();
    const channel = await startWithin(command, timeoutMs);
    return collect(channel, stdin, Math.max(1, timeoutMs - (Date.now() - started)));
  }

  const run: CommandRunner = async (args: string[], stdin?: string): Promise<CommandResult> => {
    if (!Array.isArray(args) || args.some((arg) => typeof arg !== 'string')) throw new TypeError('runner arguments must be strings');
    return runArgv([...prefix, ...args], stdin);
  };

  const runner = run as SshRunner;
  runner.connect = async () => {
    await connection().ready;
    return seenFingerprint as string;
  };
  runner.hostKeySha256 = () => seenFingerprint;
  runner.exec = async (argv, stdin, execOptions) => {
    if (!Array.isArray(argv) || argv.length === 0 || argv.some((arg) => typeof arg !== 'string'))
      throw new TypeError('exec arguments must be non-empty strings');
    const sudo = options.sudo && !execOptions?.asUser ? ['sudo', '-n', '--'] : [];
    return runArgv([...sudo, ...argv], stdin);
  };
  runner.close = async () => {
    const closing = current;
    current = undefined;
    if (!closing) return;
    closing.closed = true;
    const client = await closing.ready.catch(() => undefined);
    if (!client) return;
    client.end();
    await closing.ended;
  };
  return runner;
}
