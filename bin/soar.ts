#!/usr/bin/env node
/**
 * The `soar` command line: verify the audit chain, replay recorded alerts into an intake.
 * Dependency-free on purpose (node:util parseArgs, global fetch).
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { readAudit, verifyAudit } from '../lib/core/audit';

export interface CliIo {
  /** Writes one line of normal output. */
  out: (line: string) => void;
  /** Writes one line of diagnostics. */
  err: (line: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  fetch: typeof fetch;
}

/** Alerts per request; the intake accepts NDJSON batches up to this size. */
const REPLAY_BATCH = 500;
const REQUEST_TIMEOUT_MS = 60_000;
const MAX_BODY_SHOWN = 2000;

const USAGE = `usage:
  soar audit verify [--file F] [--key-file K] [--checkpoint C]
      Verify the keyed chain of the audit log (default $SOAR_HOME/soar/audit.jsonl, SOAR_HOME defaults to .hub)
      against its key (default audit.key next to the log) and its signed head checkpoint (default <log>.head).
      Prints ok, or: broken at line N, truncated, key missing, checkpoint missing/invalid (exit 1).
  soar replay --url URL [--file F] [--id ID ...] [--since ISO] [--until ISO] [--token T] [--dry-run]
      POST the alerts of matching alert.received records to the intake as NDJSON (batches of ${REPLAY_BATCH}),
      with ?replay=1 so the intake skips dedup. The bearer token comes from --token or, better (not visible
      in the process list), the SOAR_INTAKE_TOKEN environment variable. --since is inclusive, --until exclusive.`;

class UsageError extends Error {}

function defaultAuditFile(io: CliIo): string {
  return path.resolve(io.cwd, io.env.SOAR_HOME || '.hub', 'soar', 'audit.jsonl');
}

function errorCode(err: unknown): string {
  const error = err as NodeJS.ErrnoException & { cause?: { code?: string; message?: string } };
  return error.code ?? error.cause?.code ?? error.cause?.message ?? error.message ?? String(err);
}

function parseDate(option: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new UsageError(`--${option} needs an ISO date/time, got "${value}"`);
  return new Date(time);
}

async function auditVerify(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { file: { type: 'string' }, 'key-file': { type: 'string' }, checkpoint: { type: 'string' } },
    strict: true,
  });
  const file = values.file ? path.resolve(io.cwd, values.file) : defaultAuditFile(io);
  const keyFile = values['key-file'] ? path.resolve(io.cwd, values['key-file']) : undefined;
  const checkpointFile = values.checkpoint ? path.resolve(io.cwd, values.checkpoint) : undefined;
  let result;
  try {
    result = await verifyAudit(file, { keyFile, checkpointFile });
  } catch (err) {
    io.err(`cannot read audit log ${file}: ${errorCode(err)}`);
    return 2;
  }
  const unkeyed =
    result.unkeyedUpTo === 0
      ? ''
      : result.unkeyedUpTo >= result.records && !result.checkpoint
        ? ''
        : `; unkeyed up to line ${result.unkeyedUpTo} (written before the key)`;
  if (result.ok) {
    if (!result.checkpoint) {
      io.out(`ok: ${result.records} records, chain intact; unkeyed (no audit key): corruption is detected, rewriting is not`);
    } else {
      io.out(`ok: ${result.records} records, chain intact up to the signed checkpoint (seq ${result.checkpoint.seq})${unkeyed}`);
    }
    return 0;
  }
  const broken = result.firstBroken!;
  const where = broken.seq === undefined ? `line ${broken.line}` : `line ${broken.line} (seq ${broken.seq})`;
  const label: Record<string, string> = {
    broken: `broken at ${where}`,
    truncated: `truncated at ${where}`,
    'key-missing': 'key missing',
    'checkpoint-missing': 'checkpoint missing',
    'checkpoint-invalid': 'checkpoint invalid',
  };
  io.out(`${label[result.status]}: ${broken.reason} (${result.records} records verified${unkeyed})`);
  return 1;
}

async function replay(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      file: { type: 'string' },
      id: { type: 'string', multiple: true },
      since: { type: 'string' },
      until: { type: 'string' },
      url: { type: 'string' },
      token: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const file = values.file ? path.resolve(io.cwd, values.file) : defaultAuditFile(io);
  const since = parseDate('since', values.since);
  const until = parseDate('until', values.until);
  const dryRun = values['dry-run'] === true;
  const token = values.token ?? io.env.SOAR_INTAKE_TOKEN;

  let target: URL | undefined;
  if (!dryRun) {
    if (!values.url) throw new UsageError('replay needs --url (the intake, e.g. http://127.0.0.1:1880/soar/alerts)');
    try {
      target = new URL(values.url);
    } catch {
      throw new UsageError('--url is not a valid URL');
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new UsageError('--url must be http or https');
    target.searchParams.set('replay', '1');
  }
  // Shown in messages: never the query or any user:password part.
  const shownUrl = target ? `${target.origin}${target.pathname}` : '';
  const redact = (text: string) => (token ? text.split(token).join('***') : text);

  let batch: unknown[] = [];
  let matched = 0;
  let sent = 0;
  let requests = 0;
  let skipped = 0;

  const send = async (alerts: unknown[]): Promise<boolean> => {
    const headers: Record<string, string> = { 'content-type': 'application/x-ndjson' };
    if (token) headers.authorization = `Bearer ${token}`;
    const body = alerts.map((alert) => JSON.stringify(alert)).join('\n') + '\n';
    let response: Response;
    let text: string;
    try {
      response = await io.fetch(target!, { method: 'POST', headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      text = await response.text();
    } catch (err) {
      io.err(`could not reach ${shownUrl}: ${redact(errorCode(err))}`);
      return false;
    }
    requests += 1;
    let shown = redact(text.trim());
    if (shown.length > MAX_BODY_SHOWN) shown = `${shown.slice(0, MAX_BODY_SHOWN)}... (${shown.length} chars)`;
    if (!response.ok) {
      io.err(`intake answered ${response.status} ${response.statusText} to request ${requests} (${alerts.length} alerts): ${shown}`);
      return false;
    }
    sent += alerts.length;
    io.out(`request ${requests}: ${alerts.length} alerts -> ${response.status} ${shown}`);
    return true;
  };

  try {
    for await (const record of readAudit(file, { types: ['alert.received'], ids: values.id, since, until })) {
      const alert = record.alert;
      if (alert === null || typeof alert !== 'object') {
        skipped += 1;
        continue;
      }
      matched += 1;
      if (dryRun) {
        const id = (alert as { id?: unknown }).id;
        io.out(id === undefined ? `(no id, audit seq ${record.seq})` : String(id));
        continue;
      }
      batch.push(alert);
      if (batch.length >= REPLAY_BATCH) {
        if (!(await send(batch))) return 1;
        batch = [];
      }
    }
  } catch (err) {
    io.err(`cannot read audit log ${file}: ${errorCode(err)}`);
    return 2;
  }
  if (skipped > 0) io.err(`skipped ${skipped} alert.received records without an alert object`);
  if (dryRun) {
    io.out(`dry run: ${matched} alerts would be replayed`);
    return 0;
  }
  if (batch.length > 0 && !(await send(batch))) return 1;
  io.out(`replayed ${sent} alerts in ${requests} requests to ${shownUrl}`);
  return 0;
}

/** Run the CLI; resolves with the exit code. */
export async function main(argv: string[], overrides: Partial<CliIo> = {}): Promise<number> {
  const io: CliIo = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
    cwd: process.cwd(),
    fetch: globalThis.fetch,
    ...overrides,
  };
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      io.out(USAGE);
      return command === undefined ? 2 : 0;
    }
    if (command === 'audit' && rest[0] === 'verify') return await auditVerify(rest.slice(1), io);
    if (command === 'replay') return await replay(rest, io);
    throw new UsageError(`unknown command: ${argv.slice(0, 2).join(' ')}`);
  } catch (err) {
    const isUsage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    if (!isUsage) throw err;
    io.err((err as Error).message);
    io.err(USAGE);
    return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`soar: ${(err as Error).message}\n`);
      process.exitCode = 2;
    },
  );
}
