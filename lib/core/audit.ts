/**
 * Tamper-evident audit log: append-only JSON lines, each carrying a MAC of itself and the one before.
 *
 * Line format (byte-exact, so verification never depends on how JSON.parse orders keys):
 *   body = JSON.stringify({seq, time, type, ...fields, prev})
 *   hash = HMAC-SHA256(key, body) hex   (logs written before the key existed: sha256 hex of body)
 *   line = body without its final "}" + ',"hash":"<hash>"}'
 * Verification strips the trailing 75-byte hash member, appends "}" and MACs those bytes.
 * The first record's prev is 64 zeros; seq starts at 1. An unkeyed prefix (old logs) may be followed
 * by keyed records, never the other way round.
 *
 * The key lives outside the log (default <dir>/audit.key, 0600, made once). A signed head checkpoint
 * (default <log>.head: last durable seq and hash, the seq where keying began, HMAC'd) is rewritten
 * after every durable batch, so cutting records off the end is reported, and a reopened log
 * continues after the checkpoint's seq even when the file was cut (no seq is used twice).
 * What this proves and what it does not: lib/core/README.md.
 * Node-RED-free.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { AuditRecord } from './types';
import { acquireLockFile, type FileLock, fsyncDirectory, GroupCommitFile, scanLines, TORN_TAIL_WINDOW_BYTES, type WriterState } from './group-commit';

export const GENESIS_PREV = '0'.repeat(64);
/** Length of `,"hash":"<64 hex>"}` at the end of every line. */
const HASH_MEMBER_LENGTH = 75;
const HASH_MEMBER_PREFIX = ',"hash":"';
const RESERVED_FIELDS = new Set(['seq', 'time', 'type', 'prev', 'hash']);

export interface AuditLogOptions {
  /** fdatasync every batch (default true). */
  fsync?: boolean;
  /** MAC key (at least 16 bytes). Default: read from keyFile, which is created once when absent. */
  key?: Buffer;
  /** Default: audit.key next to the log. */
  keyFile?: string;
  /** Default: the log's path + ".head". */
  checkpointFile?: string;
  /**
   * false writes the old unkeyed chain with no checkpoint: only for the benchmark baseline and for
   * tests that need a log as the previous version wrote it.
   */
  keyed?: boolean;
  /** After a failed write, probe the disk again after this long, doubling up to probeMaxMs. */
  probeInitialMs?: number;
  probeMaxMs?: number;
  /** Clock for record times; tests inject one. */
  now?: () => Date;
  /** Damage this close to the end counts as an interrupted write and is repaired on open. */
  tornTailWindowBytes?: number;
}

/** What open() cut off the end of the log (also recorded as an `audit.repaired` record). */
export interface AuditRepair {
  reason: string;
  removedBytes: number;
  removedSha256: string;
  /** File name (next to the log) holding the removed bytes, kept for forensics. */
  savedAs: string;
  /** seq of the last intact record before the cut (0 when none). */
  afterSeq: number;
}

export interface AuditEntry {
  type: string;
  fields?: Record<string, unknown>;
}

export interface AuditFilter {
  types?: string[];
  /** Matches record.alert?.id. */
  ids?: string[];
  /** Inclusive. */
  since?: Date;
  /** Exclusive. */
  until?: Date;
}

/**
 * ok: chain intact up to the signed checkpoint (or an old unkeyed log with neither key nor checkpoint).
 * broken: a line fails its MAC/hash or its link. truncated: records the checkpoint vouches for are
 * missing. key-missing: the log is keyed but the key cannot be read. checkpoint-missing/-invalid:
 * a key exists but the signed head does not, or fails its MAC.
 */
export type AuditStatus = 'ok' | 'broken' | 'truncated' | 'key-missing' | 'checkpoint-missing' | 'checkpoint-invalid';

export interface AuditVerification {
  ok: boolean;
  status: AuditStatus;
  /** Records verified before the first problem (all of them when ok). */
  records: number;
  /** Lines 1..unkeyedUpTo carry the old plain SHA-256 chain (0: none). */
  unkeyedUpTo: number;
  /** The signed head, when it was read and its MAC holds. */
  checkpoint?: { seq: number; hash: string; keyedFrom: number };
  firstBroken?: { line: number; seq?: number; reason: string };
}

export interface AuditVerifyOptions {
  key?: Buffer;
  keyFile?: string;
  checkpointFile?: string;
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function defaultKeyFile(logFile: string): string {
  return path.join(path.dirname(path.resolve(logFile)), 'audit.key');
}

export function defaultCheckpointFile(logFile: string): string {
  return `${path.resolve(logFile)}.head`;
}

const KEY_BYTES = 32;

/** Read the hex key file; undefined when it does not exist. Tightens a looser mode to 0600. */
async function readKeyFile(file: string): Promise<Buffer | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const hex = text.trim();
  if (!/^(?:[0-9a-f]{2}){16,}$/i.test(hex)) throw new Error(`audit key file ${file} does not hold a hex key of at least 16 bytes`);
  try {
    const mode = (await fsp.stat(file)).mode & 0o777;
    if ((mode & 0o077) !== 0) await fsp.chmod(file, 0o600);
  } catch {
    // Not ours to tighten (read-only copy for verification): the key is still usable.
  }
  return Buffer.from(hex, 'hex');
}

/** Create the key file once (exclusive create, 0600); a concurrent creator's key wins. */
async function createKeyFile(file: string): Promise<Buffer> {
  const key = randomBytes(KEY_BYTES);
  try {
    await fsp.writeFile(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    const handle = await fsp.open(file, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsyncDirectory(path.dirname(file));
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return (await readKeyFile(file))!;
  }
}

// ---------------------------------------------------------------------------------------------
// Signed head checkpoint: two fixed 256-byte slots written in turn, so a torn write of one slot
// leaves the other (one batch older) readable.
// ---------------------------------------------------------------------------------------------

const SLOT_BYTES = 256;

interface Head {
  seq: number;
  hash: string;
  keyedFrom: number;
}

function headMac(key: Buffer, head: Head): string {
  return createHmac('sha256', key).update(`soar-audit-head:v1:${head.seq}:${head.hash}:${head.keyedFrom}`).digest('hex');
}

function macEqual(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'));
}

type CheckpointRead = { state: 'absent' } | { state: 'invalid'; reason: string } | { state: 'valid'; head: Head };

async function readCheckpoint(file: string, key: Buffer): Promise<CheckpointRead> {
  let data: Buffer;
  try {
    data = await fsp.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' };
    throw err;
  }
  let best: Head | undefined;
  for (let offset = 0; offset < Math.min(data.length, 2 * SLOT_BYTES); offset += SLOT_BYTES) {
    let parsed: { seq?: unknown; hash?: unknown; keyedFrom?: unknown; mac?: unknown };
    try {
      parsed = JSON.parse(data.toString('utf8', offset, Math.min(data.length, offset + SLOT_BYTES)));
    } catch {
      continue;
    }
    const { seq, hash, keyedFrom, mac } = parsed ?? {};
    if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(keyedFrom) || typeof hash !== 'string' || typeof mac !== 'string') continue;
    const head = { seq: seq as number, hash, keyedFrom: keyedFrom as number };
    if (!macEqual(headMac(key, head), mac)) continue;
    if (!best || head.seq > best.seq) best = head;
  }
  if (best) return { state: 'valid', head: best };
  return { state: 'invalid', reason: data.length === 0 ? 'empty' : 'no slot carries a valid MAC (tampered, or written with another key)' };
}

class CheckpointWriter {
  private writes = 0;
  private constructor(
    private readonly fd: number,
    private readonly key: Buffer,
    private readonly sync: boolean,
  ) {}

  static open(file: string, key: Buffer, sync: boolean): CheckpointWriter {
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    return new CheckpointWriter(fd, key, sync);
  }

  async write(head: Head): Promise<void> {
    const text = JSON.stringify({ v: 1, ...head, mac: headMac(this.key, head) });
    const slot = Buffer.alloc(SLOT_BYTES, 0x20);
    slot.write(text, 0, 'utf8');
    slot[SLOT_BYTES - 1] = 10;
    const position = (this.writes % 2) * SLOT_BYTES;
    this.writes += 1;
    await new Promise<void>((resolve, reject) =>
      fs.write(this.fd, slot, 0, SLOT_BYTES, position, (err, n) =>
        err ? reject(err) : n !== SLOT_BYTES ? reject(new Error('short write of the audit head checkpoint')) : resolve(),
      ),
    );
    // No fdatasync per batch: the log itself is already durable when this runs, so the checkpoint
    // can only lag behind it after a power loss (never run ahead), and the pages reach the disk with
    // the kernel's writeback within seconds; an extra sync per batch would halve group commit.
  }

  /** fdatasync the checkpoint (when the log syncs). */
  async flush(): Promise<void> {
    if (this.sync) await new Promise<void>((resolve, reject) => fs.fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  async close(): Promise<void> {
    await this.flush().catch(() => undefined);
    await new Promise<void>((resolve) => fs.close(this.fd, () => resolve()));
  }
}

/** JSON.stringify replacer that refuses what JSON would silently mangle (never echoing values). */
function rejectUnsafeJson(this: unknown, key: string, value: unknown): unknown {
  switch (typeof value) {
    case 'bigint':
    case 'function':
    case 'symbol':
      throw new TypeError(`audit field ${key ? `"${key}" ` : ''}holds a ${typeof value}, which is not JSON`);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`audit field ${key ? `"${key}" ` : ''}holds a non-finite number`);
      return value;
    default:
      return value;
  }
}

type LineCheck = { record: AuditRecord; keyed: boolean } | { reason: string; record?: Record<string, unknown> };

function lineDigest(bytes: Buffer, key: Buffer | undefined): string {
  const n = bytes.length;
  const digest = key ? createHmac('sha256', key) : createHash('sha256');
  return digest
    .update(bytes.subarray(0, n - HASH_MEMBER_LENGTH))
    .update('}')
    .digest('hex');
}

/**
 * Parse one line and check its own MAC (not its place in the chain). `mode` "keyed" accepts only
 * the HMAC, "unkeyed" only the plain hash, "either" tries the plain hash first (old prefix).
 */
function checkLine(bytes: Buffer, key?: Buffer, mode: 'keyed' | 'unkeyed' | 'either' = 'either'): LineCheck {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { reason: 'not JSON' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { reason: 'not a JSON object' };
  const record = parsed as Record<string, unknown>;
  const n = bytes.length;
  if (
    n < HASH_MEMBER_LENGTH + 2 ||
    bytes.toString('latin1', n - HASH_MEMBER_LENGTH, n - HASH_MEMBER_LENGTH + HASH_MEMBER_PREFIX.length) !== HASH_MEMBER_PREFIX ||
    bytes.toString('latin1', n - 2) !== '"}'
  ) {
    return { reason: 'no hash member at the end of the line', record };
  }
  const claimed = bytes.toString('latin1', n - 66, n - 2);
  if (record.hash !== claimed) return { reason: 'hash mismatch', record };
  let keyed: boolean;
  if (mode !== 'keyed' && lineDigest(bytes, undefined) === claimed) keyed = false;
  // Plain comparison: verification compares two values it holds itself, there is no timing oracle.
  else if (mode !== 'unkeyed' && key && lineDigest(bytes, key) === claimed) keyed = true;
  else return { reason: mode === 'keyed' || key ? 'MAC mismatch' : 'hash mismatch', record };
  if (!Number.isSafeInteger(record.seq) || typeof record.prev !== 'string' || typeof record.type !== 'string') {
    return { reason: 'seq, type or prev missing', record };
  }
  return { record: record as AuditRecord, keyed };
}

interface TailState {
  size: number;
  /** Offset just after the last intact, newline-terminated record. */
  goodEnd: number;
  last?: { seq: number; hash: string; keyed: boolean };
  reason?: string;
}

/** Find the last intact record without reading the whole file. */
async function inspectTail(file: string, windowBytes: number, key: Buffer | undefined): Promise<TailState> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { size: 0, goodEnd: 0 };
    throw err;
  }
  try {
    const size = (await handle.stat()).size;
    if (size === 0) return { size, goodEnd: 0 };
    let span = Math.min(size, 64 * 1024);
    for (;;) {
      const start = size - span;
      const buffer = Buffer.alloc(span);
      await handle.read(buffer, 0, span, start);
      let invalidLines = 0;
      let end = buffer.lastIndexOf(10);
      const unterminated = end !== buffer.length - 1;
      while (end !== -1) {
        const previousNewline = end === 0 ? -1 : buffer.lastIndexOf(10, end - 1);
        if (previousNewline === -1 && start > 0) break; // the line may begin before the window
        const checked = checkLine(buffer.subarray(previousNewline + 1, end), key);
        if (!('reason' in checked)) {
          const goodEnd = start + end + 1;
          if (size - goodEnd > windowBytes) throw tooMuchDamage(file, size - goodEnd);
          return {
            size,
            goodEnd,
            last: { seq: checked.record.seq, hash: checked.record.hash, keyed: checked.keyed },
            reason: describeDamage(unterminated, invalidLines),
          };
        }
        invalidLines += 1;
        end = previousNewline;
      }
      if (start === 0) {
        if (size > windowBytes) throw tooMuchDamage(file, size);
        return { size, goodEnd: 0, reason: describeDamage(unterminated, invalidLines) };
      }
      if (span >= 2 * windowBytes) throw tooMuchDamage(file, span);
      span = Math.min(size, span * 4);
    }
  } finally {
    await handle.close();
  }
}

function tooMuchDamage(file: string, bytes: number): Error {
  return new Error(
    `audit log ${file}: the last ${bytes} bytes hold no intact record, more than an interrupted write can leave; ` +
      `not repairing automatically (run "soar audit verify")`,
  );
}

function describeDamage(unterminated: boolean, invalidLines: number): string | undefined {
  const parts: string[] = [];
  if (unterminated) parts.push('incomplete last line');
  if (invalidLines > 0) parts.push(`${invalidLines} unreadable line${invalidLines === 1 ? '' : 's'} at the end`);
  return parts.length > 0 ? `${parts.join(' and ')} (interrupted write)` : undefined;
}

/** Save the damaged tail next to the log (for forensics), then cut it off durably. */
async function cutTail(file: string, tail: TailState): Promise<AuditRepair> {
  const removedBytes = tail.size - tail.goodEnd;
  const handle = await fsp.open(file, 'r+');
  try {
    const removed = Buffer.alloc(removedBytes);
    await handle.read(removed, 0, removedBytes, tail.goodEnd);
    const savedAs = `${path.basename(file)}.torn-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    const savedPath = path.join(path.dirname(file), savedAs);
    await fsp.writeFile(savedPath, removed, { mode: 0o600, flag: 'wx' });
    await handle.truncate(tail.goodEnd);
    await handle.sync();
    await fsyncDirectory(path.dirname(file));
    return {
      reason: tail.reason ?? 'damaged tail',
      removedBytes,
      removedSha256: sha256Hex(removed),
      savedAs,
      afterSeq: tail.last?.seq ?? 0,
    };
  } finally {
    await handle.close();
  }
}

/** Seq of the first keyed record (scan; only when the checkpoint that says so is gone). */
async function firstKeyedSeq(file: string, key: Buffer): Promise<number | undefined> {
  for await (const lines of scanLines(file)) {
    for (const line of lines) {
      if (!line.terminated) return undefined;
      const checked = checkLine(line.bytes, key);
      if (!('reason' in checked) && checked.keyed) return checked.record.seq;
    }
  }
  return undefined;
}

export class AuditLog {
  readonly file: string;
  /** Set when open() had to cut a torn tail off. */
  readonly repaired: AuditRepair | undefined;
  /** Set when open() found fewer records than the signed checkpoint vouches for. */
  readonly truncated: { fileLastSeq: number; checkpointSeq: number } | undefined;
  private readonly writer: GroupCommitFile;
  private readonly lock: FileLock;
  private readonly now: () => Date;
  private readonly key: Buffer | undefined;
  private readonly keyedFrom: number;
  private checkpoint: CheckpointWriter | undefined;
  private seq: number;
  private lastHash: string;
  /** Newest record known to be on disk (with its checkpoint): where a failed batch rewinds to. */
  private durable: { seq: number; hash: string };
  private closed = false;

  private constructor(
    file: string,
    lock: FileLock,
    head: { seq: number; hash: string },
    keying: { key?: Buffer; keyedFrom: number; checkpoint?: CheckpointWriter },
    repaired: AuditRepair | undefined,
    truncated: AuditLog['truncated'],
    options: AuditLogOptions,
  ) {
    this.file = file;
    this.lock = lock;
    this.repaired = repaired;
    this.truncated = truncated;
    this.now = options.now ?? (() => new Date());
    this.key = keying.key;
    this.keyedFrom = keying.keyedFrom;
    this.checkpoint = keying.checkpoint;
    this.seq = head.seq;
    this.lastHash = head.hash;
    this.durable = { ...head };
    this.writer = new GroupCommitFile(file, {
      fsync: options.fsync ?? true,
      probeInitialMs: options.probeInitialMs,
      probeMaxMs: options.probeMaxMs,
      onDurable: async (tag) => {
        const head = tag as { seq: number; hash: string };
        if (this.checkpoint) await this.checkpoint.write({ seq: head.seq, hash: head.hash, keyedFrom: this.keyedFrom });
        this.durable = head;
      },
    });
    // Records of a failed batch (and those chained behind it) never reached the disk: the chain
    // continues from the last durable record once writes work again.
    this.writer.onStateChange((state) => {
      if (state === 'ok') {
        this.seq = this.durable.seq;
        this.lastHash = this.durable.hash;
      }
    });
  }

  /**
   * Open (creating if needed) the log, continuing its chain. A torn tail left by a crash is saved
   * aside, cut off, and the repair itself is recorded as an `audit.repaired` record. Records missing
   * behind the signed checkpoint are recorded as `audit.truncated`, and the chain goes on from the
   * checkpoint (seq numbers are never reused).
   */
  static async open(file: string, options: AuditLogOptions = {}): Promise<AuditLog> {
    const absolute = path.resolve(file);
    await fsp.mkdir(path.dirname(absolute), { recursive: true, mode: 0o700 });
    const lock = await acquireLockFile(`${absolute}.lock`, `audit log ${absolute}`);
    let log: AuditLog | undefined;
    let checkpoint: CheckpointWriter | undefined;
    try {
      const keyed = options.keyed ?? true;
      const checkpointFile = options.checkpointFile ?? defaultCheckpointFile(absolute);
      const keyFile = options.keyFile ?? defaultKeyFile(absolute);
      let key: Buffer | undefined;
      let stored: Head | undefined;
      if (keyed) {
        if (options.key !== undefined && options.key.length < 16) throw new Error('the audit key must be at least 16 bytes');
        key = options.key ?? (await readKeyFile(keyFile));
        const read = key ? await readCheckpoint(checkpointFile, key) : fs.existsSync(checkpointFile) ? undefined : ({ state: 'absent' } as const);
        if (read === undefined) {
          throw new Error(`audit key ${keyFile} is missing but the log ${absolute} is keyed (${checkpointFile} exists); restore the key file`);
        }
        if (read.state === 'invalid') {
          throw new Error(
            `audit head checkpoint ${checkpointFile}: ${read.reason}; the log may have been tampered with. ` +
              `Run "soar audit verify", then move the checkpoint aside to continue`,
          );
        }
        if (read.state === 'valid') stored = read.head;
        key ??= await createKeyFile(keyFile);
      }
      const tail = await inspectTail(absolute, options.tornTailWindowBytes ?? TORN_TAIL_WINDOW_BYTES, key);
      const repaired = tail.goodEnd < tail.size ? await cutTail(absolute, tail) : undefined;
      const fileHead = { seq: tail.last?.seq ?? 0, hash: tail.last?.hash ?? GENESIS_PREV };
      let head = fileHead;
      let truncated: AuditLog['truncated'];
      let keyedFrom = 0;
      if (key) {
        if (stored) keyedFrom = stored.keyedFrom;
        else if (tail.last?.keyed) keyedFrom = (await firstKeyedSeq(absolute, key)) ?? fileHead.seq + 1;
        else keyedFrom = fileHead.seq + 1;
        if (stored && stored.seq > fileHead.seq) {
          truncated = { fileLastSeq: fileHead.seq, checkpointSeq: stored.seq };
          head = { seq: stored.seq, hash: stored.hash };
        }
        checkpoint = CheckpointWriter.open(checkpointFile, key, options.fsync ?? true);
        if (!stored || stored.seq !== head.seq || stored.hash !== head.hash) {
          await checkpoint.write({ ...head, keyedFrom });
          await checkpoint.flush();
        }
      }
      log = new AuditLog(absolute, lock, head, { key, keyedFrom, checkpoint }, repaired, truncated, options);
      checkpoint = undefined;
      if (truncated) {
        await log.append('audit.truncated', {
          fileLastSeq: fileHead.seq,
          fileLastHash: fileHead.hash,
          checkpointSeq: truncated.checkpointSeq,
          checkpointHash: head.hash,
        });
      }
      if (repaired) await log.append('audit.repaired', { ...repaired });
      return log;
    } catch (err) {
      if (log) await log.close().catch(() => undefined);
      else {
        await checkpoint?.close();
        await lock.release();
      }
      throw err;
    }
  }

  /** Lines appended but not yet on disk: back-pressure signal. */
  get pending(): number {
    return this.writer.pending;
  }

  /** "failing" after a failed write until a probe finds the disk writable again (appends reject meanwhile). */
  get state(): WriterState {
    return this.writer.state;
  }

  /** Called once per change of `state`; returns the unsubscribe function. */
  onStateChange(listener: (state: WriterState, cause?: Error) => void): () => void {
    return this.writer.onStateChange(listener);
  }

  /** Whether new records carry the HMAC (false only for logs opened with keyed: false). */
  get keyed(): boolean {
    return this.key !== undefined;
  }

  /** seq and hash of the newest record (durable or about to be). */
  get head(): { seq: number; hash: string } {
    return { seq: this.seq, hash: this.lastHash };
  }

  stats(): { lastSeq: number; pending: number; batches: number; linesWritten: number; largestBatchLines: number } {
    const writer = this.writer.stats();
    return {
      lastSeq: this.seq,
      pending: writer.pending,
      batches: writer.batches,
      linesWritten: writer.linesWritten,
      largestBatchLines: writer.largestBatchLines,
    };
  }

  /** Append one record; resolves with it once it is on disk. */
  append(type: string, fields: Record<string, unknown> = {}): Promise<AuditRecord> {
    return this.appendMany([{ type, fields }]).then((records) => records[0]);
  }

  /** Append several records that go to disk in the same write. */
  appendMany(entries: AuditEntry[]): Promise<AuditRecord[]> {
    if (this.closed) return Promise.reject(new Error(`audit log ${this.file} is closed`));
    const failure = this.writer.failed;
    if (failure) {
      return Promise.reject(new Error(`audit log ${this.file} refuses appends until its disk takes writes again (${failure.message})`));
    }
    const records: AuditRecord[] = [];
    const lines: string[] = [];
    let seq = this.seq;
    let prev = this.lastHash;
    try {
      for (const entry of entries) {
        const { record, line } = this.build(seq + 1, prev, entry.type, entry.fields ?? {});
        records.push(record);
        lines.push(line);
        seq = record.seq;
        prev = record.hash;
      }
    } catch (err) {
      return Promise.reject(err);
    }
    // Chain state moves on synchronously, so concurrent appends line up in call order.
    this.seq = seq;
    this.lastHash = prev;
    return this.writer.append(lines, records.length > 0 ? { seq, hash: prev } : undefined).then(() => records);
  }

  /** Resolves once every record appended so far, and the checkpoint vouching for them, is on disk. */
  async flush(): Promise<void> {
    await this.writer.flush();
    await this.checkpoint?.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer.close();
    await this.checkpoint?.close();
    this.checkpoint = undefined;
    await this.lock.release();
  }

  private build(seq: number, prev: string, type: string, fields: Record<string, unknown>): { record: AuditRecord; line: string } {
    if (typeof type !== 'string' || type.length === 0) throw new TypeError('audit record type must be a non-empty string');
    if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) throw new TypeError('audit fields must be an object');
    for (const key of Object.keys(fields)) {
      if (RESERVED_FIELDS.has(key)) throw new TypeError(`audit field "${key}" is reserved`);
    }
    // Spread defines own properties (a "__proto__" key stays data); prev goes last, right before hash.
    const body: Record<string, unknown> = { seq, time: this.now().toISOString(), type, ...fields, prev };
    let text: string;
    try {
      text = JSON.stringify(body, rejectUnsafeJson);
    } catch (err) {
      if (err instanceof TypeError && err.message.startsWith('audit field')) throw err;
      throw new TypeError(`audit fields must be JSON-safe (${(err as Error).message.split('\n')[0]})`);
    }
    const hash = this.key ? createHmac('sha256', this.key).update(text).digest('hex') : sha256Hex(text);
    const line = `${text.slice(0, -1)}${HASH_MEMBER_PREFIX}${hash}"}`;
    return { record: { ...body, hash } as AuditRecord, line };
  }
}

/**
 * Verify the whole chain, streaming, against the key and the signed head checkpoint (defaults next to
 * the log). Reports the first problem. Throws if the log cannot be read.
 */
export async function verifyAudit(file: string, options: AuditVerifyOptions = {}): Promise<AuditVerification> {
  const keyFile = options.keyFile ?? defaultKeyFile(file);
  const checkpointFile = options.checkpointFile ?? defaultCheckpointFile(file);
  const key = options.key ?? (await readKeyFile(keyFile));
  let checkpoint: Head | undefined;
  let problem: { status: AuditStatus; reason: string } | undefined;
  if (key) {
    const read = await readCheckpoint(checkpointFile, key);
    if (read.state === 'valid') checkpoint = read.head;
    else if (read.state === 'invalid') problem = { status: 'checkpoint-invalid', reason: `head checkpoint ${checkpointFile}: ${read.reason}` };
    else problem = { status: 'checkpoint-missing', reason: `head checkpoint ${checkpointFile} is missing: truncation cannot be ruled out` };
  } else if (fs.existsSync(checkpointFile)) {
    problem = { status: 'key-missing', reason: `audit key ${keyFile} is missing: only the unkeyed part of the log can be checked` };
  }
  const keyedFrom = checkpoint?.keyedFrom;

  let records = 0;
  let unkeyedUpTo = 0;
  let keyedSeen = false;
  let expectedPrev = GENESIS_PREV;
  let previousSeq = 0;
  let previousLine = 0;
  let checkpointMatched = false;
  const result = (status: AuditStatus, broken?: AuditVerification['firstBroken']): AuditVerification => ({
    ok: status === 'ok',
    status,
    records,
    unkeyedUpTo,
    ...(checkpoint ? { checkpoint } : {}),
    ...(broken ? { firstBroken: broken } : {}),
  });
  for await (const lines of scanLines(file)) {
    for (const line of lines) {
      const broken = (reason: string, seq?: unknown, status: AuditStatus = 'broken'): AuditVerification =>
        result(status, Number.isSafeInteger(seq) ? { line: line.lineNo, seq: seq as number, reason } : { line: line.lineNo, reason });
      if (!line.terminated) return broken('incomplete last line (interrupted write; opening the log repairs it)');
      const mode = keyedSeen ? 'keyed' : 'either';
      const checked = checkLine(line.bytes, key, mode);
      if ('reason' in checked) {
        if (!key && problem?.status === 'key-missing') return broken(problem.reason, checked.record?.seq, 'key-missing');
        return broken(checked.reason, checked.record?.seq);
      }
      const record = checked.record;
      if (checked.keyed) keyedSeen = true;
      else if (keyedFrom !== undefined && record.seq >= keyedFrom) {
        return broken(`unkeyed record where the checkpoint says the chain is keyed from seq ${keyedFrom}`, record.seq);
      }
      if (checked.keyed && keyedFrom !== undefined && record.seq < keyedFrom) {
        return broken(`keyed record before seq ${keyedFrom}, where the checkpoint says keying began`, record.seq);
      }
      if (
        record.type === 'audit.truncated' &&
        record.prev === record.checkpointHash &&
        record.seq === (record.checkpointSeq as number) + 1 &&
        record.fileLastSeq === previousSeq &&
        record.fileLastHash === expectedPrev
      ) {
        return broken(
          `records ${previousSeq + 1}..${record.checkpointSeq as number} are missing (found cut off when the log was opened)`,
          record.seq,
          'truncated',
        );
      }
      if (record.prev !== expectedPrev) {
        return broken(
          previousLine === 0 ? 'prev of the first record is not the genesis value' : `prev does not match the hash of line ${previousLine}`,
          record.seq,
        );
      }
      if (record.seq !== previousSeq + 1) {
        return broken(previousLine === 0 ? `seq ${record.seq} at the start (expected 1)` : `seq ${record.seq} follows ${previousSeq}`, record.seq);
      }
      if (checkpoint && record.seq === checkpoint.seq) {
        if (record.hash !== checkpoint.hash) return broken('differs from the record the signed checkpoint vouches for', record.seq);
        checkpointMatched = true;
      }
      expectedPrev = record.hash;
      previousSeq = record.seq;
      previousLine = line.lineNo;
      records += 1;
      if (!checked.keyed) unkeyedUpTo = line.lineNo;
    }
  }
  if (problem) {
    return result(problem.status, { line: previousLine + 1, reason: problem.reason });
  }
  if (checkpoint && !checkpointMatched && checkpoint.seq > 0) {
    return result('truncated', {
      line: previousLine + 1,
      reason: `the log ends at seq ${previousSeq} but the signed checkpoint vouches for seq ${checkpoint.seq}`,
    });
  }
  return result('ok');
}

/**
 * Stream the records matching all given filters. An interrupted last line is skipped; any other
 * unreadable line throws (run verifyAudit to locate damage).
 */
export async function* readAudit(file: string, filter: AuditFilter = {}): AsyncGenerator<AuditRecord> {
  const types = filter.types && filter.types.length > 0 ? new Set(filter.types) : undefined;
  // Cheap byte pre-check before parsing: our writer always spells the type member exactly so.
  const typeNeedles = types ? [...types].map((type) => Buffer.from(`"type":${JSON.stringify(type)}`)) : undefined;
  const ids = filter.ids && filter.ids.length > 0 ? new Set(filter.ids) : undefined;
  const since = filter.since?.getTime();
  const until = filter.until?.getTime();
  for await (const lines of scanLines(file)) {
    const matches: AuditRecord[] = [];
    for (const line of lines) {
      if (!line.terminated) break;
      if (typeNeedles && !typeNeedles.some((needle) => line.bytes.includes(needle))) continue;
      let record: AuditRecord;
      try {
        record = JSON.parse(line.bytes.toString('utf8')) as AuditRecord;
      } catch {
        throw new Error(`audit log ${file}: line ${line.lineNo} is not JSON (run "soar audit verify")`);
      }
      if (types && !types.has(record.type)) continue;
      if (ids) {
        const id = (record.alert as { id?: unknown } | undefined)?.id;
        if (id === undefined || id === null || !ids.has(String(id))) continue;
      }
      if (since !== undefined || until !== undefined) {
        const time = Date.parse(record.time);
        if (since !== undefined && !(time >= since)) continue;
        if (until !== undefined && !(time < until)) continue;
      }
      matches.push(record);
    }
    yield* matches;
  }
}
