/**
 * Tamper-evident audit log: append-only JSON lines, each carrying the hash of the one before.
 *
 * Line format (byte-exact, so verification never depends on how JSON.parse orders keys):
 *   body = JSON.stringify({seq, time, type, ...fields, prev})
 *   hash = sha256 hex of body
 *   line = body without its final "}" + ',"hash":"<hash>"}'
 * Verification strips the trailing 75-byte hash member, appends "}" and hashes those bytes.
 * The first record's prev is 64 zeros; seq starts at 1.
 * Node-RED-free.
 */
import { createHash } from "node:crypto";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import type { AuditRecord } from "./types";
import {
  acquireLockFile,
  type FileLock,
  fsyncDirectory,
  GroupCommitFile,
  scanLines,
  TORN_TAIL_WINDOW_BYTES,
} from "./group-commit";

export const GENESIS_PREV = "0".repeat(64);
/** Length of `,"hash":"<64 hex>"}` at the end of every line. */
const HASH_MEMBER_LENGTH = 75;
const HASH_MEMBER_PREFIX = ',"hash":"';
const RESERVED_FIELDS = new Set(["seq", "time", "type", "prev", "hash"]);

export interface AuditLogOptions {
  /** fdatasync every batch (default true). */
  fsync?: boolean;
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

export interface AuditVerification {
  ok: boolean;
  /** Records verified before the first break (all of them when ok). */
  records: number;
  firstBroken?: { line: number; seq?: number; reason: string };
}

function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** JSON.stringify replacer that refuses what JSON would silently mangle (never echoing values). */
function rejectUnsafeJson(this: unknown, key: string, value: unknown): unknown {
  switch (typeof value) {
    case "bigint":
    case "function":
    case "symbol":
      throw new TypeError(`audit field ${key ? `"${key}" ` : ""}holds a ${typeof value}, which is not JSON`);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`audit field ${key ? `"${key}" ` : ""}holds a non-finite number`);
      return value;
    default:
      return value;
  }
}

type LineCheck = { record: AuditRecord } | { reason: string; record?: Record<string, unknown> };

/** Parse one line and check its own hash (not its place in the chain). */
function checkLine(bytes: Buffer): LineCheck {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch {
    return { reason: "not JSON" };
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return { reason: "not a JSON object" };
  const record = parsed as Record<string, unknown>;
  const n = bytes.length;
  if (
    n < HASH_MEMBER_LENGTH + 2 ||
    bytes.toString("latin1", n - HASH_MEMBER_LENGTH, n - HASH_MEMBER_LENGTH + HASH_MEMBER_PREFIX.length) !== HASH_MEMBER_PREFIX ||
    bytes.toString("latin1", n - 2) !== '"}'
  ) {
    return { reason: "no hash member at the end of the line", record };
  }
  const claimed = bytes.toString("latin1", n - 66, n - 2);
  const actual = createHash("sha256").update(bytes.subarray(0, n - HASH_MEMBER_LENGTH)).update("}").digest("hex");
  if (actual !== claimed || record.hash !== claimed) return { reason: "hash mismatch", record };
  if (!Number.isSafeInteger(record.seq) || typeof record.prev !== "string" || typeof record.type !== "string") {
    return { reason: "seq, type or prev missing", record };
  }
  return { record: record as AuditRecord };
}

interface TailState {
  size: number;
  /** Offset just after the last intact, newline-terminated record. */
  goodEnd: number;
  last?: { seq: number; hash: string };
  reason?: string;
}

/** Find the last intact record without reading the whole file. */
async function inspectTail(file: string, windowBytes: number): Promise<TailState> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { size: 0, goodEnd: 0 };
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
        const checked = checkLine(buffer.subarray(previousNewline + 1, end));
        if (!("reason" in checked)) {
          const goodEnd = start + end + 1;
          if (size - goodEnd > windowBytes) throw tooMuchDamage(file, size - goodEnd);
          return {
            size,
            goodEnd,
            last: { seq: checked.record.seq, hash: checked.record.hash },
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
  if (unterminated) parts.push("incomplete last line");
  if (invalidLines > 0) parts.push(`${invalidLines} unreadable line${invalidLines === 1 ? "" : "s"} at the end`);
  return parts.length > 0 ? `${parts.join(" and ")} (interrupted write)` : undefined;
}

/** Save the damaged tail next to the log (for forensics), then cut it off durably. */
async function cutTail(file: string, tail: TailState): Promise<AuditRepair> {
  const removedBytes = tail.size - tail.goodEnd;
  const handle = await fsp.open(file, "r+");
  try {
    const removed = Buffer.alloc(removedBytes);
    await handle.read(removed, 0, removedBytes, tail.goodEnd);
    const savedAs = `${path.basename(file)}.torn-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    const savedPath = path.join(path.dirname(file), savedAs);
    await fsp.writeFile(savedPath, removed, { mode: 0o600, flag: "wx" });
    await handle.truncate(tail.goodEnd);
    await handle.sync();
    await fsyncDirectory(path.dirname(file));
    return {
      reason: tail.reason ?? "damaged tail",
      removedBytes,
      removedSha256: sha256Hex(removed),
      savedAs,
      afterSeq: tail.last?.seq ?? 0,
    };
  } finally {
    await handle.close();
  }
}

export class AuditLog {
  readonly file: string;
  /** Set when open() had to cut a torn tail off. */
  readonly repaired: AuditRepair | undefined;
  private readonly writer: GroupCommitFile;
  private readonly lock: FileLock;
  private readonly now: () => Date;
  private seq: number;
  private lastHash: string;
  private failure: Error | undefined;
  private closed = false;

  private constructor(file: string, lock: FileLock, tail: TailState, repaired: AuditRepair | undefined, options: AuditLogOptions) {
    this.file = file;
    this.lock = lock;
    this.repaired = repaired;
    this.now = options.now ?? (() => new Date());
    this.seq = tail.last?.seq ?? 0;
    this.lastHash = tail.last?.hash ?? GENESIS_PREV;
    this.writer = new GroupCommitFile(file, { fsync: options.fsync ?? true });
  }

  /**
   * Open (creating if needed) the log, continuing its chain. A torn tail left by a crash is saved
   * aside, cut off, and the repair itself is recorded as an `audit.repaired` record.
   */
  static async open(file: string, options: AuditLogOptions = {}): Promise<AuditLog> {
    const absolute = path.resolve(file);
    await fsp.mkdir(path.dirname(absolute), { recursive: true, mode: 0o700 });
    const lock = await acquireLockFile(`${absolute}.lock`, `audit log ${absolute}`);
    let log: AuditLog | undefined;
    try {
      const tail = await inspectTail(absolute, options.tornTailWindowBytes ?? TORN_TAIL_WINDOW_BYTES);
      const repaired = tail.goodEnd < tail.size ? await cutTail(absolute, tail) : undefined;
      log = new AuditLog(absolute, lock, tail, repaired, options);
      if (repaired) await log.append("audit.repaired", { ...repaired });
      return log;
    } catch (err) {
      if (log) await log.writer.close();
      await lock.release();
      throw err;
    }
  }

  /** Lines appended but not yet on disk: back-pressure signal. */
  get pending(): number {
    return this.writer.pending;
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
    if (this.failure) {
      return Promise.reject(new Error(`audit log ${this.file} refuses appends after a write failure (${this.failure.message}); reopen it`));
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
    return this.writer.append(lines).then(
      () => records,
      (err: Error) => {
        // Records queued after a lost one chain onto it; nothing more may be written until reopen.
        this.failure ??= err;
        throw err;
      },
    );
  }

  async flush(): Promise<void> {
    await this.writer.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer.close();
    await this.lock.release();
  }

  private build(seq: number, prev: string, type: string, fields: Record<string, unknown>): { record: AuditRecord; line: string } {
    if (typeof type !== "string" || type.length === 0) throw new TypeError("audit record type must be a non-empty string");
    if (fields === null || typeof fields !== "object" || Array.isArray(fields)) throw new TypeError("audit fields must be an object");
    for (const key of Object.keys(fields)) {
      if (RESERVED_FIELDS.has(key)) throw new TypeError(`audit field "${key}" is reserved`);
    }
    // Spread defines own properties (a "__proto__" key stays data); prev goes last, right before hash.
    const body: Record<string, unknown> = { seq, time: this.now().toISOString(), type, ...fields, prev };
    let text: string;
    try {
      text = JSON.stringify(body, rejectUnsafeJson);
    } catch (err) {
      if (err instanceof TypeError && err.message.startsWith("audit field")) throw err;
      throw new TypeError(`audit fields must be JSON-safe (${(err as Error).message.split("\n")[0]})`);
    }
    const hash = sha256Hex(text);
    const line = `${text.slice(0, -1)}${HASH_MEMBER_PREFIX}${hash}"}`;
    return { record: { ...body, hash } as AuditRecord, line };
  }
}

/** Verify the whole chain, streaming. Reports the first broken line. Throws if the file cannot be read. */
export async function verifyAudit(file: string): Promise<AuditVerification> {
  let records = 0;
  let expectedPrev = GENESIS_PREV;
  let previousSeq = 0;
  let previousLine = 0;
  for await (const lines of scanLines(file)) {
    for (const line of lines) {
      const broken = (reason: string, seq?: unknown): AuditVerification => ({
        ok: false,
        records,
        firstBroken: Number.isSafeInteger(seq) ? { line: line.lineNo, seq: seq as number, reason } : { line: line.lineNo, reason },
      });
      if (!line.terminated) return broken("incomplete last line (interrupted write; opening the log repairs it)");
      const checked = checkLine(line.bytes);
      if ("reason" in checked) return broken(checked.reason, checked.record?.seq);
      const record = checked.record;
      if (record.prev !== expectedPrev) {
        return broken(previousLine === 0 ? "prev of the first record is not the genesis value" : `prev does not match the hash of line ${previousLine}`, record.seq);
      }
      if (record.seq !== previousSeq + 1) {
        return broken(previousLine === 0 ? `seq ${record.seq} at the start (expected 1)` : `seq ${record.seq} follows ${previousSeq}`, record.seq);
      }
      expectedPrev = record.hash;
      previousSeq = record.seq;
      previousLine = line.lineNo;
      records += 1;
    }
  }
  return { ok: true, records };
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
        record = JSON.parse(line.bytes.toString("utf8")) as AuditRecord;
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
