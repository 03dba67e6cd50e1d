/**
 * Firewall provider: nftables, on this machine or wherever the runner executes nft (a network
 * namespace in the tests, a gateway over SSH later). Node-RED-free.
 *
 * Every change is ONE `nft -f -` transaction (all targets of a call or none); state is read back with
 * `nft -j`. The script text comes from nft-script.ts; this file only runs it and maps failures.
 */
import { spawn } from 'node:child_process';
import { ProviderError, type ProviderErrorCode } from '../core/errors';
import {
  blockScript,
  checkTableName,
  deleteScript,
  findConflicts,
  parseCounters,
  parseSetMembers,
  parseTableState,
  prepareBlockTargets,
  prepareUnblockAddresses,
  setFor,
  setupScript,
  unblockScript,
  type NftChainName,
  type NftSetSpec,
  type NftLayout,
  type RuleCounter,
  type TableState,
} from './nft-script';
import type { BlockTarget, CommandResult, CommandRunner, EnforcedBlock, FirewallProvider } from './types';

export type { CommandRunner, CommandResult } from './types';
export type { RuleCounter } from './nft-script';

export interface NftablesOptions {
  /** Instance name for logs and leases. Default "nftables". */
  name?: string;
  /** Table of the inet family. Default "soar". */
  table?: string;
  /** Hooks to filter. Default both input (the hub itself) and forward (a gateway). */
  chains?: NftChainName[];
  /** Hook priority. Default -10. */
  priority?: number;
  /** How nft is run. Default: the local `nft` binary, without a shell. */
  runner?: CommandRunner;
}

export interface ExecRunnerOptions {
  /** Kill the command after this long. Default 60 s (a 100,000-element listing takes a while). */
  timeoutMs?: number;
}

/**
 * A runner that spawns `command ...prefixArgs ...args` without a shell and feeds stdin.
 * execRunner() runs nft here; execRunner('ip', ['netns', 'exec', ns, 'nft']) runs it in a namespace.
 */
export function execRunner(command = 'nft', prefixArgs: string[] = [], options: ExecRunnerOptions = {}): CommandRunner {
  return (args, stdin) =>
    new Promise<CommandResult>((resolve, reject) => {
      const child = spawn(command, [...prefixArgs, ...args], {
        shell: false,
        stdio: ['pipe', 'pipe', 'pipe'],
        timeout: options.timeoutMs ?? 60_000,
      });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let settled = false;
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      child.on('error', (error) => {
        if (settled) return;
        settled = true;
        reject(error);
      });
      child.on('close', (code, signal) => {
        if (settled) return;
        settled = true;
        resolve({
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8') + (signal ? `\nkilled by ${signal}` : ''),
          code: code ?? 1,
        });
      });
      // nft may exit before reading all of stdin (parse error): that shows in its exit code, not here.
      child.stdin.on('error', () => undefined);
      child.stdin.end(stdin ?? '');
    });
}

/** nft's own error lines, without the echo of the (possibly huge) offending line. */
function nftErrorSummary(stderr: string): string {
  const errorLines = stderr
    .split('\n')
    .filter((line) => line.startsWith('Error:') || line.includes('killed by'))
    .map((line) => line.trim());
  const unique = [...new Set(errorLines.length > 0 ? errorLines : [stderr.trim().split('\n')[0] ?? ''])];
  const text = unique.slice(0, 3).join(' | ');
  return text.length > 300 ? `${text.slice(0, 300)}...` : text || 'no error text';
}

const MISSING = /No such file or directory/;
const OVERLAP = /interval overlaps|conflicting intervals/;

export class NftablesFirewall implements FirewallProvider {
  readonly kind = 'nftables';
  readonly name: string;
  private readonly layout: NftLayout;
  private readonly runner: CommandRunner;
  private ready = false;
  /** Calls run one after another: ensureReady must not race itself into duplicate rules. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: NftablesOptions = {}) {
    this.name = options.name ?? 'nftables';
    const chains = options.chains ?? ['input', 'forward'];
    if (chains.length === 0 || chains.some((c) => c !== 'input' && c !== 'forward')) {
      throw new ProviderError({ provider: this.kind, code: 'BAD_REQUEST', message: 'chains must be a non-empty list of "input" / "forward"' });
    }
    const priority = options.priority ?? -10;
    if (!Number.isInteger(priority)) {
      throw new ProviderError({ provider: this.kind, code: 'BAD_REQUEST', message: 'priority must be an integer' });
    }
    this.layout = { table: checkTableName(options.table ?? 'soar'), chains: [...new Set(chains)], priority };
    this.runner = options.runner ?? execRunner();
  }

  get table(): string {
    return this.layout.table;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work, work);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async run(args: string[], stdin?: string): Promise<CommandResult> {
    try {
      return await this.runner(args, stdin);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ProviderError({ provider: this.kind, code: 'NETWORK', attempts: 0, message: `could not run nft: ${reason.slice(0, 200)}` });
    }
  }

  private failure(what: string, result: CommandResult): ProviderError {
    const summary = nftErrorSummary(result.stderr);
    let code: ProviderErrorCode = 'SERVER';
    if (OVERLAP.test(summary)) code = 'CONFLICT';
    else if (MISSING.test(summary)) code = 'NOT_FOUND';
    else if (/Operation not permitted|Permission denied/.test(summary)) code = 'FORBIDDEN';
    return new ProviderError({ provider: this.kind, code, attempts: 1, message: `${what} failed (nft exit ${result.code}): ${summary}` });
  }

  /** Table state without elements (-t), or undefined when the table does not exist. */
  private async readTableState(): Promise<TableState | undefined> {
    const result = await this.run(['-j', '-t', 'list', 'table', 'inet', this.layout.table]);
    if (result.code !== 0) {
      if (MISSING.test(result.stderr)) return undefined;
      throw this.failure('reading the table', result);
    }
    return parseTableState(result.stdout, this.layout.table);
  }

  private async setUp(): Promise<void> {
    const existing = await this.readTableState();
    const result = await this.run(['-f', '-'], setupScript(this.layout, existing));
    if (result.code !== 0) throw this.failure('setting up the table', result);
    this.ready = true;
  }

  /** Create the table, sets, chains and missing rules. Idempotent; existing elements stay. */
  ensureReady(): Promise<void> {
    return this.serial(() => this.setUp());
  }

  /**
   * Apply a change script. Set up first if this instance has not; when the table vanished since (a
   * firewall reload flushed the ruleset), set it up again and retry once.
   */
  private async applyChange(what: string, script: string): Promise<CommandResult> {
    if (!this.ready) await this.setUp();
    let result = await this.run(['-f', '-'], script);
    if (result.code !== 0 && MISSING.test(result.stderr) && !OVERLAP.test(result.stderr)) {
      this.ready = false;
      await this.setUp();
      result = await this.run(['-f', '-'], script);
    }
    if (result.code !== 0 && !OVERLAP.test(result.stderr)) throw this.failure(what, result);
    return result;
  }

  /** Block every target (one transaction). Re-blocking an address replaces its timeout and comment. */
  async block(targets: BlockTarget[]): Promise<void> {
    // Parse everything before queueing: an invalid address never gets near nft.
    const elements = prepareBlockTargets(targets);
    if (elements.length === 0) return;
    return this.serial(async () => {
      const result = await this.applyChange('blocking', blockScript(this.layout, elements));
      if (result.code === 0) return;
      // nft refused because a prefix overlaps a different element already in an interval set: name them.
      const intervalElements = (await this.readMembers()).filter((m) => m.set.interval).map((m) => m.block);
      const conflicts = findConflicts(
        elements.map((e) => e.target),
        intervalElements,
      );
      if (conflicts.length === 0) throw this.failure('blocking', result);
      const shown = conflicts.slice(0, 5).map((c) => `${c.target} overlaps ${c.existing}`);
      throw new ProviderError({
        provider: this.kind,
        code: 'CONFLICT',
        attempts: 1,
        message: `nothing blocked: ${shown.join('; ')}${conflicts.length > 5 ? '; ...' : ''} already blocked; unblock the overlapping entry first`,
      });
    });
  }

  /** Unblock every address (one transaction); absent ones are fine. */
  async unblock(addresses: string[]): Promise<void> {
    const targets = prepareUnblockAddresses(addresses);
    if (targets.length === 0) return;
    return this.serial(async () => {
      const result = await this.applyChange('unblocking', unblockScript(this.layout, targets));
      if (result.code === 0) return;
      // The guarding `add` of a prefix clashed with a different, overlapping one (e.g. unblocking a /28
      // inside a blocked /24): that prefix is not an element, so only delete the exact ones present.
      const present = new Set((await this.readMembers()).map((m) => `${m.set.name} ${m.block.address}`));
      const toDelete = targets.filter((t) => present.has(`${setFor(t).name} ${t.canonical}`));
      if (toDelete.length === 0) return;
      const retry = await this.run(['-f', '-'], deleteScript(this.layout, toDelete));
      if (retry.code !== 0) throw this.failure('unblocking', retry);
    });
  }

  private async readMembers(): Promise<{ set: NftSetSpec; block: EnforcedBlock }[]> {
    const result = await this.run(['-j', 'list', 'table', 'inet', this.layout.table]);
    if (result.code !== 0) {
      if (MISSING.test(result.stderr)) return [];
      throw this.failure('listing', result);
    }
    return parseSetMembers(result.stdout, this.layout.table);
  }

  /** Everything the sets hold now (expired elements are not listed). No table = nothing enforced. */
  list(): Promise<EnforcedBlock[]> {
    return this.serial(async () => (await this.readMembers()).map((m) => m.block));
  }

  /** Packet counters of the drop rules (for status and tests). */
  counters(): Promise<RuleCounter[]> {
    return this.serial(async () => {
      const result = await this.run(['-j', '-t', 'list', 'table', 'inet', this.layout.table]);
      if (result.code !== 0) {
        if (MISSING.test(result.stderr)) return [];
        throw this.failure('reading counters', result);
      }
      return parseCounters(result.stdout, this.layout.table);
    });
  }

  async close(): Promise<void> {
    await this.queue;
  }
}
