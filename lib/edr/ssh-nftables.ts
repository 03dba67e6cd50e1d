/**
 * Host isolation without an EDR: a dedicated nftables table on a Linux host, over SSH. Node-RED-free.
 *
 *   isolate(device)  1. read SSH_CONNECTION (the hub's address as the host sees it, and the session),
 *                    2. arm the dead-man rollback (systemd-run timer, or a detached sleeper whose PID
 *                       is kept in /run/soar-isolate-<table>.pid),
 *                    3. apply the whole table with one `nft -f -` (script on stdin, no temp file).
 *                    → "requested" with a PendingAction handle: the host is isolated but unconfirmed.
 *   confirm(handle)  a FRESH SSH connection (new TCP) must get through the new rules and see the
 *                    table; only then is the rollback disarmed. On failure the rollback stays armed
 *                    and the host restores itself when it fires.
 *   release(device)  delete the table and disarm any rollback; "not-isolated" when there was none.
 *   status(id)       isolated / pending-isolate (rollback still armed) / normal, read from the host.
 *
 * progress(handle) is confirm(handle), so a stored handle is followed like any EDR's pending action;
 * a hub killed between apply and confirm leaves the rollback armed, and the host comes back alone.
 * Every host must be in the inventory with its host key pin; SSH goes through ../firewall/ssh-runner.
 * The remote user is root, or has NOPASSWD sudo for sh and nft (`sudo: true`).
 */
import { utils } from 'ssh2';
import { ProviderError, type ProviderErrorCode } from '../core/errors';
import { createSshRunner, parseHostKeyPin, type SshRunner } from '../firewall/ssh-runner';
import {
  DEFAULT_TABLE,
  armArgv,
  badInput,
  checkTableName,
  confirmScript,
  disarmScript,
  isolationScript,
  parseManagementAddress,
  parseSshConnection,
  shArgv,
  stateScript,
  type RollbackMode,
  type SessionTuple,
} from './isolation-script';

import type { EdrOp, EdrState, EdrDevice, EdrStatus, PendingAction, EdrOutcome, EdrActionResult, EdrProgress, EdrActionOptions } from './types';
export type { EdrOp, EdrState, EdrDevice, EdrStatus, PendingAction, EdrOutcome, EdrActionResult, EdrProgress, EdrActionOptions };

export const KIND = 'ssh-nftables';

export interface SshIsolationHost {
  /** Inventory key (default: name, else address). */
  id?: string;
  name?: string;
  /** Where the hub connects (IP address). */
  address: string;
  port?: number;
  /** `ssh-keygen -lf` of the host's key: required, a host is never contacted unpinned. */
  hostKeySha256: string;
  /** Per-host table name (default: the provider's). */
  table?: string;
}

export interface SshNftablesOptions {
  /** Instance name (config node id). */
  name: string;
  /** Shown in messages instead of the id (the config node's name). */
  label?: string;
  username: string;
  privateKey: string | Buffer;
  passphrase?: string | Buffer;
  /** Run sh and nft through `sudo -n`. */
  sudo?: boolean;
  /** Default "nft" (remote PATH). */
  nftPath?: string;
  hosts: SshIsolationHost[];
  /** The hub's own addresses as the hosts see them (added to the session's SSH_CONNECTION address). */
  hubAddresses?: string[];
  /** Jump hosts, EDR/log managers: allowed both ways. */
  management?: string[];
  /** DNS servers: only udp/tcp 53 to them. */
  dns?: string[];
  /**
   * Allow the address SSH_CONNECTION shows (default true). Turn off only when the hub reaches hosts
   * through a NAT or jump host whose address is in hubAddresses/management instead.
   */
  allowSessionAddress?: boolean;
  /** Default "soar_isolate". */
  table?: string;
  /** The table removes itself this long after isolate() unless confirmed. Default 300 s. */
  rollbackSeconds?: number;
  /** "auto" (default): systemd-run when PID 1 is systemd in the same network namespace, else sleeper. */
  rollbackMode?: RollbackMode;
  /** Hosts worked on at the same time. Default 8. */
  concurrency?: number;
  /** SSH handshake. Default 10 s. */
  connectTimeoutMs?: number;
  /** Per remote command. Default 30 s. */
  commandTimeoutMs?: number;
  /** The confirming fresh session's handshake. Default 10 s. */
  confirmTimeoutMs?: number;
  /** Called with each SSH handshake's and command's duration (for benchmarks and logs). */
  onTiming?: (event: { host: string; phase: 'handshake' | 'command'; ms: number }) => void;
  now?: () => number;
}

interface Host {
  id: string;
  name?: string;
  address: string;
  port: number;
  pin: string;
  table: string;
}

function fail(code: ProviderErrorCode, message: string): ProviderError {
  return new ProviderError({ provider: KIND, code, attempts: 1, message });
}

function firstErrorLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}...` : line.trim();
}

/** Runs at most `limit` tasks at once, in arrival order. */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

const NO_TABLE = /No such file or directory|does not exist/;

export class SshNftablesIsolation {
  readonly kind = KIND;
  readonly name: string;
  readonly capabilities: { status: true; resolveBy: readonly ('name' | 'ip' | 'id')[]; settleMs: number };
  private readonly hosts: Host[];
  private readonly limiter: Limiter;
  private readonly rollbackSeconds: number;
  private readonly now: () => number;
  private readonly fixedManagement: string[];
  private readonly hubAddresses: string[];
  private readonly dns: string[];

  constructor(private readonly options: SshNftablesOptions) {
    if (typeof options.name !== 'string' || options.name === '') throw badInput('ssh-nftables: name is required');
    if (typeof options.username !== 'string' || options.username === '') throw badInput('ssh-nftables: username is required');
    this.name = options.name;
    // An isolate request answers with the confirmation (its handshake and command) rather than "pending".
    this.capabilities = {
      status: true,
      resolveBy: ['name', 'ip', 'id'],
      settleMs: (options.confirmTimeoutMs ?? 10_000) + (options.commandTimeoutMs ?? 30_000),
    };
    // A wrong key or passphrase shows at configuration time, not at the first isolation.
    const parsedKey = utils.parseKey(options.privateKey, options.passphrase);
    if (parsedKey instanceof Error) throw badInput(`ssh-nftables: cannot use the private key: ${parsedKey.message.slice(0, 200)}`);
    // Parsed now: a bad address is a configuration error, never a surprise on the host.
    this.hubAddresses = (options.hubAddresses ?? []).map((a) => parseManagementAddress(a, 'hub address').text);
    this.fixedManagement = (options.management ?? []).map((a) => parseManagementAddress(a).text);
    this.dns = (options.dns ?? []).map((a) => parseManagementAddress(a, 'DNS server').text);
    const defaultTable = checkTableName(options.table ?? DEFAULT_TABLE);
    this.rollbackSeconds = options.rollbackSeconds ?? 300;
    if (!Number.isInteger(this.rollbackSeconds) || this.rollbackSeconds < 1) throw badInput('ssh-nftables: rollbackSeconds must be a whole number >= 1');
    const concurrency = options.concurrency ?? 8;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw badInput('ssh-nftables: concurrency must be a whole number >= 1');
    this.limiter = new Limiter(concurrency);
    this.now = options.now ?? Date.now;
    if (!Array.isArray(options.hosts)) throw badInput('ssh-nftables: hosts must be a list');
    const seen = new Set<string>();
    this.hosts = options.hosts.map((entry, index) => {
      const address = parseManagementAddress(entry?.address, `hosts[${index}].address`);
      if (address.text.includes('/')) throw badInput(`hosts[${index}].address must be one address, not a network`);
      const id = entry.id ?? entry.name ?? address.text;
      if (seen.has(id)) throw badInput(`ssh-nftables: host id ${JSON.stringify(id)} appears twice`);
      seen.add(id);
      const port = entry.port ?? 22;
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw badInput(`hosts[${index}].port is not a TCP port`);
      if (!entry.hostKeySha256) throw badInput(`hosts[${index}] (${id}) has no hostKeySha256 pin`);
      return {
        id,
        name: entry.name,
        address: address.text,
        port,
        pin: parseHostKeyPin(entry.hostKeySha256),
        table: checkTableName(entry.table ?? defaultTable),
      };
    });
  }

  // ---- resolve ----

  async resolve(target: string): Promise<EdrDevice> {
    if (typeof target !== 'string' || target.trim() === '') throw fail('BAD_REQUEST', 'no host given');
    const wanted = target.trim();
    let asAddress: string | undefined;
    try {
      asAddress = parseManagementAddress(wanted).text;
    } catch {
      asAddress = undefined;
    }
    const byId = this.hosts.filter((h) => h.id === wanted);
    const matches =
      byId.length > 0 ? byId : this.hosts.filter((h) => h.name?.toLowerCase() === wanted.toLowerCase() || (asAddress !== undefined && h.address === asAddress));
    if (matches.length === 0)
      throw fail(
        'NOT_FOUND',
        `unknown host ${JSON.stringify(wanted.slice(0, 80))}: not in the host list of EDR ${JSON.stringify(this.options.label ?? this.name)}`,
      );
    if (matches.length > 1) throw fail('CONFLICT', `ambiguous host ${JSON.stringify(wanted.slice(0, 80))}: matches ${matches.map((h) => h.id).join(', ')}`);
    return this.device(matches[0]);
  }

  private device(host: Host): EdrDevice {
    return { id: host.id, name: host.name, addresses: [host.address] };
  }

  private host(deviceId: string): Host {
    const host = this.hosts.find((h) => h.id === deviceId);
    if (!host) throw fail('NOT_FOUND', `unknown host id ${JSON.stringify(String(deviceId).slice(0, 80))}`);
    return host;
  }

  // ---- SSH plumbing ----

  private runner(host: Host, connectTimeoutMs = this.options.connectTimeoutMs ?? 10_000): SshRunner {
    return createSshRunner({
      host: host.address,
      port: host.port,
      username: this.options.username,
      privateKey: this.options.privateKey,
      passphrase: this.options.passphrase,
      hostKeySha256: host.pin,
      sudo: this.options.sudo,
      nftPath: this.options.nftPath ?? 'nft',
      timeoutMs: this.options.commandTimeoutMs ?? 30_000,
      connectTimeoutMs,
      keepaliveIntervalMs: 0,
    });
  }

  /** Open a new connection (timed) and run `work` on it; always closed afterwards. */
  private async session<T>(host: Host, work: (runner: SshRunner) => Promise<T>, connectTimeoutMs?: number): Promise<T> {
    const runner = this.runner(host, connectTimeoutMs);
    try {
      const started = this.now();
      try {
        await runner.connect();
      } catch (error) {
        throw fail('NETWORK', error instanceof Error ? error.message : String(error));
      }
      this.options.onTiming?.({ host: host.id, phase: 'handshake', ms: this.now() - started });
      return await work(runner);
    } finally {
      await runner.close().catch(() => undefined);
    }
  }

  private async timed<T>(host: Host, call: () => Promise<T>): Promise<T> {
    const started = this.now();
    try {
      return await call();
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      throw fail('NETWORK', error instanceof Error ? error.message : String(error));
    } finally {
      this.options.onTiming?.({ host: host.id, phase: 'command', ms: this.now() - started });
    }
  }

  private nft(): string {
    return this.options.nftPath ?? 'nft';
  }

  /** One round trip: is the table there, and is a rollback armed ("unit:<name>" / "pid:<n>")? */
  private async hostState(host: Host, runner: SshRunner): Promise<{ table: boolean; armed?: string }> {
    const result = await this.timed(host, () => runner.exec(shArgv(stateScript(), host.table, this.nft())));
    const table = /^table (yes|no)$/m.exec(result.stdout)?.[1];
    if (result.code !== 0 || !table)
      throw fail('SERVER', `${host.id}: could not read the isolation state: ${firstErrorLine(result.stderr) || `exit ${result.code}`}`);
    const match = /^armed (unit|pid:\d+)$/m.exec(result.stdout);
    const armed = match ? (match[1] === 'unit' ? `unit:soar-isolate-rollback-${host.table}` : match[1]) : undefined;
    return { table: table === 'yes', armed };
  }

  private async disarm(host: Host, runner: SshRunner): Promise<void> {
    const result = await this.timed(host, () => runner.exec(shArgv(disarmScript(), host.table)));
    if (result.code !== 0 || !/^disarmed$/m.test(result.stdout)) {
      throw fail('SERVER', `${host.id}: could not disarm the rollback: ${firstErrorLine(result.stderr) || `exit ${result.code}`}`);
    }
  }

  private async sessionTuple(host: Host, runner: SshRunner): Promise<SessionTuple | undefined> {
    const result = await this.timed(host, () => runner.exec(['sh', '-c', 'printf "%s\\n" "${SSH_CONNECTION:-}"'], undefined, { asUser: true }));
    return result.code === 0 ? parseSshConnection(result.stdout) : undefined;
  }

  private handle(host: Host, actionId: string | undefined, requestedAt: number): PendingAction {
    return {
      v: 1,
      kind: KIND,
      provider: this.name,
      op: 'isolate',
      deviceId: host.id,
      deviceName: host.name,
      actionId,
      requestedAt: new Date(requestedAt).toISOString(),
    };
  }

  // ---- operations ----

  /** Arm the rollback, then apply the table. Resolves "requested" (confirm next), or the state found. */
  async isolate(device: EdrDevice, _options: EdrActionOptions = {}): Promise<EdrActionResult> {
    const host = this.host(device.id);
    return this.limiter.run(() =>
      this.session(host, async (runner) => {
        const session = await this.sessionTuple(host, runner);
        const management = [...this.hubAddresses, ...this.fixedManagement];
        if (session && this.options.allowSessionAddress !== false) management.push(session.client.text);
        if (!session && this.hubAddresses.length === 0) {
          throw fail(
            'BAD_REQUEST',
            `${host.id}: the SSH session shows no SSH_CONNECTION and no hub address is configured; refusing to isolate (the hub could lock itself out)`,
          );
        }
        // Built (and every address checked) before anything changes on the host.
        const script = isolationScript({ table: host.table, management, dns: this.dns, session });
        const state = await this.hostState(host, runner);
        if (state.table) {
          const armed = state.armed;
          const status: EdrStatus = { deviceId: host.id, state: armed ? 'pending-isolate' : 'isolated', raw: armed ? 'rollback-armed' : 'table-present' };
          if (armed) return { outcome: 'in-progress', device: this.device(host), status, handle: this.handle(host, armed, this.now()) };
          return { outcome: 'already-isolated', device: this.device(host), status };
        }
        const requestedAt = this.now();
        const armed = await this.timed(host, () => runner.exec(armArgv(host.table, this.rollbackSeconds, this.nft(), this.options.rollbackMode ?? 'auto')));
        const actionId = /^(unit:[\w.-]+|pid:\d+)$/m.exec(armed.stdout)?.[1];
        if (armed.code !== 0 || !actionId) {
          throw fail('SERVER', `${host.id}: could not arm the rollback, nothing applied: ${firstErrorLine(armed.stderr) || `exit ${armed.code}`}`);
        }
        let applied;
        try {
          applied = await this.timed(host, () => runner(['-f', '-'], script));
        } catch (error) {
          // Unknown whether nft ran: the armed rollback settles it either way.
          throw fail(
            'NETWORK',
            `${host.id}: no answer to the apply (${(error as Error).message}); the rollback stays armed and removes the table within ${this.rollbackSeconds} s`,
          );
        }
        if (applied.code !== 0) {
          // nft -f is one transaction: nothing was applied, so the rollback is not needed.
          await this.disarm(host, runner).catch(() => undefined);
          throw fail('SERVER', `${host.id}: nft refused the isolation table: ${firstErrorLine(applied.stderr)}`);
        }
        return {
          outcome: 'requested',
          device: this.device(host),
          status: { deviceId: host.id, state: 'pending-isolate', raw: 'rollback-armed' },
          handle: this.handle(host, actionId, requestedAt),
        };
      }),
    );
  }

  /**
   * A fresh SSH session must get through the rules and see the table; then the rollback is disarmed.
   * "failed" leaves the rollback armed (the host restores itself), never a half-confirmed isolation.
   */
  async confirm(handle: PendingAction): Promise<EdrProgress> {
    if (!handle || handle.kind !== KIND || handle.op !== 'isolate') throw fail('BAD_REQUEST', 'not an ssh-nftables isolate handle');
    const host = this.host(handle.deviceId);
    const deadline = Date.parse(handle.requestedAt) + this.rollbackSeconds * 1000;
    const restoresBy = new Date(deadline).toISOString();
    const failed = (reason: string, state: EdrState = 'pending-isolate'): EdrProgress => ({
      phase: 'failed',
      status: { deviceId: host.id, state, raw: 'unconfirmed' },
      reason,
    });
    return this.limiter.run(async () => {
      let outcome: EdrProgress | undefined;
      try {
        outcome = await this.session(
          host,
          async (runner) => {
            const result = await this.timed(host, () => runner.exec(shArgv(confirmScript(), host.table, this.nft())));
            const word = /^(confirmed|gone|gone-after-disarm)$/m.exec(result.stdout)?.[1];
            if (result.code !== 0 || !word) throw new Error(`the confirming command failed: ${firstErrorLine(result.stderr) || `exit ${result.code}`}`);
            if (word === 'gone') return failed('the isolation table is gone (rolled back or removed): host not isolated', 'normal');
            // The rollback fired between the look and the disarm.
            if (word === 'gone-after-disarm') return failed('the rollback removed the table before it was disarmed: host not isolated', 'normal');
            return { phase: 'succeeded', status: { deviceId: host.id, state: 'isolated', raw: 'confirmed' } };
          },
          this.options.confirmTimeoutMs ?? 10_000,
        );
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return failed(`a fresh SSH session could not confirm the isolation (${message}); the rollback stays armed and restores the host by ${restoresBy}`);
      }
      return outcome;
    });
  }

  progress(handle: PendingAction): Promise<EdrProgress> {
    return this.confirm(handle);
  }

  /** isolate() then confirm(): "done" when confirmed; a failed confirmation throws (rollback armed). */
  async isolateAndConfirm(device: EdrDevice, options: EdrActionOptions = {}): Promise<EdrActionResult> {
    const result = await this.isolate(device, options);
    if (!result.handle) return result;
    const progress = await this.confirm(result.handle);
    if (progress.phase !== 'succeeded') throw fail('BODY_ERROR', `${device.id}: isolation not confirmed: ${progress.reason ?? 'no reason'}`);
    return { outcome: 'done', device: result.device, status: progress.status };
  }

  /** Delete the table and disarm any rollback. */
  async release(device: EdrDevice, _options: EdrActionOptions = {}): Promise<EdrActionResult> {
    const host = this.host(device.id);
    return this.limiter.run(() =>
      this.session(host, async (runner) => {
        const existed = (await this.hostState(host, runner)).table;
        if (existed) {
          const result = await this.timed(host, () => runner(['delete', 'table', 'inet', host.table]));
          if (result.code !== 0 && !NO_TABLE.test(result.stderr)) throw fail('SERVER', `${host.id}: nft delete table failed: ${firstErrorLine(result.stderr)}`);
        }
        await this.disarm(host, runner);
        return { outcome: existed ? 'done' : 'not-isolated', device: this.device(host), status: { deviceId: host.id, state: 'normal' } };
      }),
    );
  }

  async status(deviceId: string): Promise<EdrStatus> {
    const host = this.host(deviceId);
    return this.limiter.run(() =>
      this.session(host, async (runner) => {
        const { table, armed } = await this.hostState(host, runner);
        if (!table) return { deviceId: host.id, state: 'normal' as const };
        return armed ? { deviceId: host.id, state: 'pending-isolate' as const, raw: 'rollback-armed' } : { deviceId: host.id, state: 'isolated' as const };
      }),
    );
  }

  async close(): Promise<void> {
    // Every operation closes its own connections.
  }
}
