/**
 * Low-level durable file machinery shared by the state store and the audit log:
 *  - GroupCommitFile: an append-only line file where every append resolves only once its bytes are
 *    written and fdatasync'd, and everything that queued up while one write+fsync was in flight goes
 *    out together in the next single write + single fdatasync (group commit).
 *  - scanLines: streaming line reader over a file that reports byte offsets (needed to cut torn tails).
 *  - acquireLockFile: an exclusive pid lock file with takeover of locks left by dead processes.
 * Node-RED-free.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

/** Default upper bound of one batch (characters of line text; UTF-8 bytes can be up to 3x). */
export const DEFAULT_MAX_BATCH_CHARS = 1024 * 1024;

/**
 * How far from the end of a file a malformed line may start and still be treated as the remains of
 * the last (never acknowledged) write batch. A batch is at most DEFAULT_MAX_BATCH_CHARS characters,
 * i.e. at most 3x that in bytes; anything further back than this cannot be an interrupted write.
 */
export const TORN_TAIL_WINDOW_BYTES = 4 * DEFAULT_MAX_BATCH_CHARS;

export interface GroupCommitOptions {
  /** fdatasync after each batch (default true). false only for tests and benchmarks. */
  fsync?: boolean;
  /** Upper bound of one batch in characters; a single larger append still goes out alone. */
  maxBatchChars?: number;
  /**
   * Runs after a batch is durable and before its appends resolve, with the tag of the batch's last
   * tagged append (the audit log writes its signed head checkpoint here). A throw fails the batch.
   */
  onDurable?: (lastTag: unknown) => Promise<void>;
  /** After a failed write, probe again after this long, doubling up to probeMaxMs (defaults 200 / 5000). */
  probeInitialMs?: number;
  probeMaxMs?: number;
}

/** "failing" from a failed write until a probe shows the disk takes writes again. */
export type WriterState = 'ok' | 'failing';

export interface GroupCommitStats {
  /** Completed write(+fdatasync) rounds. */
  batches: number;
  linesWritten: number;
  bytesWritten: number;
  /** Most lines that went out in one batch. */
  largestBatchLines: number;
  /** Lines appended but not yet durable (queued or in flight). */
  pending: number;
}

interface QueuedAppend {
  text: string;
  lineCount: number;
  tag?: unknown;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class GroupCommitFile {
  readonly path: string;
  private readonly fsyncEnabled: boolean;
  private readonly maxBatchChars: number;
  private fd: number | undefined;
  private queue: QueuedAppend[] = [];
  private queuedLines = 0;
  private inFlightLines = 0;
  private writing = false;
  private drainScheduled = false;
  private closed = false;
  private failure: Error | undefined;
  private counters = { batches: 0, linesWritten: 0, bytesWritten: 0, largestBatchLines: 0 };
  private readonly onDurable: ((lastTag: unknown) => Promise<void>) | undefined;
  private readonly probeInitialMs: number;
  private readonly probeMaxMs: number;
  /** File size covered by acknowledged batches: a failed batch's partial bytes are cut back to it. */
  private durableSize: number;
  private probeTimer: NodeJS.Timeout | undefined;
  private probeDelayMs = 0;
  private probeBytes = 4096;
  private readonly listeners = new Set<(state: WriterState, cause?: Error) => void>();

  constructor(filePath: string, options: GroupCommitOptions = {}) {
    this.path = filePath;
    this.fsyncEnabled = options.fsync ?? true;
    this.maxBatchChars = Math.max(1, options.maxBatchChars ?? DEFAULT_MAX_BATCH_CHARS);
    this.onDurable = options.onDurable;
    this.probeInitialMs = Math.max(1, options.probeInitialMs ?? 200);
    this.probeMaxMs = Math.max(this.probeInitialMs, options.probeMaxMs ?? 5000);
    fs.mkdirSync(path.dirname(filePath), { recursive: true, mode: 0o700 });
    const flags = fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT;
    this.fd = fs.openSync(filePath, flags, 0o600);
    this.durableSize = fs.fstatSync(this.fd).size;
  }

  /** "failing" while appends are refused after a failed write; probes bring it back to "ok". */
  get state(): WriterState {
    return this.failure ? 'failing' : 'ok';
  }

  /** Called once per state change (not per refused append). Returns the unsubscribe function. */
  onStateChange(listener: (state: WriterState, cause?: Error) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Lines appended but not yet durable: the back-pressure signal callers can watch. */
  get pending(): number {
    return this.queuedLines + this.inFlightLines;
  }

  stats(): GroupCommitStats {
    return { ...this.counters, pending: this.pending };
  }

  /** The error that stopped this file while it is failing (every append rejects until a probe succeeds). */
  get failed(): Error | undefined {
    return this.failure;
  }

  /**
   * Append one line or several lines (written together, in the same batch). Lines must not contain
   * a newline; one is added to each. Resolves when the lines are on disk.
   */
  append(lines: string | string[], tag?: unknown): Promise<void> {
    const list = typeof lines === 'string' ? [lines] : lines;
    for (const line of list) {
      if (typeof line !== 'string') return Promise.reject(new TypeError('GroupCommitFile.append takes strings'));
      if (line.includes('\n')) return Promise.reject(new TypeError('a line must not contain a newline'));
    }
    if (this.closed) return Promise.reject(new Error(`${this.path} is closed`));
    if (this.failure) return Promise.reject(this.refusal());
    const text = list.length === 0 ? '' : list.join('\n') + '\n';
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ text, lineCount: list.length, tag, resolve, reject });
      this.queuedLines += list.length;
      this.scheduleDrain();
    });
  }

  /** Resolves once everything appended before this call is durable; rejects if the file has failed. */
  flush(): Promise<void> {
    if (this.failure) return Promise.reject(this.refusal());
    if (this.queue.length === 0 && !this.writing) return Promise.resolve();
    // An empty entry rides along with the next batch, which goes out after all earlier ones.
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ text: '', lineCount: 0, resolve, reject });
      this.scheduleDrain();
    });
  }

  /** Flush what is queued, then close the file. Later appends reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true; // refuse new appends; what is already queued still goes out
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    try {
      await this.flush();
    } catch {
      // Already reported to the appenders whose lines failed; closing must still release the fd.
    }
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
  }

  private refusal(): Error {
    const err = new Error(`${this.path}: not written because an earlier write failed (${this.failure?.message}); retrying in the background`);
    (err as Error & { cause?: unknown }).cause = this.failure;
    return err;
  }

  private scheduleDrain(): void {
    if (this.writing || this.drainScheduled) return;
    this.drainScheduled = true;
    // A microtask, not a timer: an idle file writes right away, yet every append made in the
    // same synchronous stretch of code still lands in that first batch.
    queueMicrotask(() => {
      this.drainScheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.queue.length > 0 && !this.failure) {
        const batch = this.takeBatch();
        const lineCount = batch.reduce((sum, entry) => sum + entry.lineCount, 0);
        this.queuedLines -= lineCount;
        this.inFlightLines = lineCount;
        const text = batch.length === 1 ? batch[0].text : batch.map((entry) => entry.text).join('');
        let written = 0;
        try {
          if (text.length > 0) {
            const bytes = await this.writeFully(Buffer.from(text, 'utf8'));
            if (this.fsyncEnabled) await this.datasync();
            written = bytes;
            this.counters.batches += 1;
            this.counters.linesWritten += lineCount;
            this.counters.bytesWritten += bytes;
            this.counters.largestBatchLines = Math.max(this.counters.largestBatchLines, lineCount);
          }
          if (this.onDurable) {
            let tag: unknown;
            for (const entry of batch) if (entry.tag !== undefined) tag = entry.tag;
            if (tag !== undefined) await this.onDurable(tag);
          }
          this.durableSize += written;
        } catch (err) {
          this.inFlightLines = 0;
          this.fail(err as Error, batch);
          return;
        }
        this.inFlightLines = 0;
        for (const entry of batch) entry.resolve();
      }
    } finally {
      this.writing = false;
    }
  }

  private takeBatch(): QueuedAppend[] {
    let chars = 0;
    let count = 0;
    while (count < this.queue.length) {
      const size = this.queue[count].text.length;
      if (count > 0 && chars + size > this.maxBatchChars) break;
      chars += size;
      count += 1;
    }
    return this.queue.splice(0, count);
  }

  /**
   * A failed write or fsync leaves the file's tail in an unknown state (and after a failed fsync the
   * page cache cannot be trusted), so the file stops: the failing batch and everything queued behind
   * it reject, and so does every append until a probe (with backoff) finds the file writable again.
   */
  private fail(cause: Error, batch: QueuedAppend[]): void {
    const code = (cause as NodeJS.ErrnoException).code;
    this.failure = new Error(`write to ${this.path} failed: ${code ?? cause.message}`);
    (this.failure as Error & { cause?: unknown }).cause = cause;
    this.probeBytes = Math.max(
      4096,
      batch.reduce((sum, entry) => sum + Buffer.byteLength(entry.text), 0),
    );
    for (const entry of batch) entry.reject(this.failure);
    const queued = this.queue;
    this.queue = [];
    this.queuedLines = 0;
    for (const entry of queued) entry.reject(this.refusal());
    this.probeDelayMs = this.probeInitialMs;
    this.scheduleProbe();
    this.notify('failing', this.failure);
  }

  private notify(state: WriterState, cause?: Error): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(state, cause);
      } catch {
        // A listener's bug must not stop the writer.
      }
    }
  }

  private scheduleProbe(): void {
    if (this.closed) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      void this.probe();
    }, this.probeDelayMs);
    this.probeTimer.unref();
  }

  private async probe(): Promise<void> {
    if (this.closed || !this.failure) return;
    // Probe the file itself (no scratch file elsewhere): cut it back to its acknowledged end, write
    // and sync as many bytes as the failed batch, cut them off again. A crash in between leaves
    // zero bytes at the end, which opening cuts off like any torn tail.
    try {
      const fd = this.requireFd();
      const truncate = () => new Promise<void>((resolve, reject) => fs.ftruncate(fd, this.durableSize, (err) => (err ? reject(err) : resolve())));
      await truncate();
      await this.writeFully(Buffer.alloc(this.probeBytes));
      await this.datasync();
      await truncate();
      await this.datasync();
    } catch {
      if (this.closed) return;
      this.probeDelayMs = Math.min(this.probeMaxMs, this.probeDelayMs * 2);
      this.scheduleProbe();
      return;
    }
    if (this.closed) return;
    this.failure = undefined;
    this.notify('ok');
  }

  private async writeFully(buffer: Buffer): Promise<number> {
    let offset = 0;
    while (offset < buffer.length) {
      const fd = this.requireFd();
      const written = await new Promise<number>((resolve, reject) =>
        fs.write(fd, buffer, offset, buffer.length - offset, null, (err, n) => (err ? reject(err) : resolve(n))),
      );
      if (written <= 0) throw new Error('write made no progress');
      offset += written;
    }
    return buffer.length;
  }

  private datasync(): Promise<void> {
    const fd = this.requireFd();
    return new Promise<void>((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  }

  private requireFd(): number {
    if (this.fd === undefined) throw new Error(`${this.path} is closed`);
    return this.fd;
  }
}

/** fsync a directory so a rename or file creation inside it survives power loss. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Streaming line reader with byte offsets
// ---------------------------------------------------------------------------------------------

export interface FileLine {
  /** Raw bytes of the line without its newline. */
  bytes: Buffer;
  /** 1-based line number. */
  lineNo: number;
  /** Byte offset of the first byte of the line. */
  start: number;
  /** False only for a last line that has no newline after it (an interrupted write). */
  terminated: boolean;
}

/**
 * Read a file as lines, one array per chunk read, so large files stream in bounded memory and
 * callers avoid a promise per line.
 */
export async function* scanLines(file: string, chunkBytes = 1024 * 1024): AsyncGenerator<FileLine[]> {
  const handle = await fsp.open(file, 'r');
  try {
    let carry: Buffer[] = [];
    let carryStart = 0;
    let position = 0;
    let lineNo = 0;
    for (;;) {
      // A fresh buffer per read: lines are views into it, no per-line copy.
      const chunk = Buffer.allocUnsafe(chunkBytes);
      const { bytesRead } = await handle.read(chunk, 0, chunkBytes, position);
      if (bytesRead === 0) break;
      const data = chunk.subarray(0, bytesRead);
      const lines: FileLine[] = [];
      let from = 0;
      for (;;) {
        const newline = data.indexOf(10, from);
        if (newline === -1) break;
        const piece = data.subarray(from, newline);
        let bytes: Buffer;
        let start: number;
        if (carry.length > 0) {
          bytes = Buffer.concat([...carry, piece]);
          start = carryStart;
          carry = [];
        } else {
          bytes = piece;
          start = position + from;
        }
        lineNo += 1;
        lines.push({ bytes, lineNo, start, terminated: true });
        from = newline + 1;
      }
      if (from < bytesRead) {
        if (carry.length === 0) carryStart = position + from;
        carry.push(data.subarray(from));
      }
      position += bytesRead;
      if (lines.length > 0) yield lines;
    }
    if (carry.length > 0) {
      lineNo += 1;
      yield [{ bytes: Buffer.concat(carry), lineNo, start: carryStart, terminated: false }];
    }
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Exclusive lock file
// ---------------------------------------------------------------------------------------------

export interface FileLock {
  readonly path: string;
  /** Remove the lock file if it is still ours. */
  release(): Promise<void>;
}

interface LockHolder {
  pid?: number;
  /** Start time of that process (Linux /proc), to tell a live holder from a reused pid. */
  start?: string;
  token?: string;
}

/** Tokens of the locks this process holds, to tell "already open here" from a stale lock with our pid. */
const locksHeldHere = new Set<string>();

/** Process start time in clock ticks since boot (field 22 of /proc/<pid>/stat); undefined off Linux. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ")".
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the lock's holder is still running (and is the same process, not a reuse of its pid). */
function holderIsAlive(holder: LockHolder): boolean {
  if (holder.pid === undefined) return false;
  if (holder.pid === process.pid) return holder.token !== undefined && locksHeldHere.has(holder.token);
  if (!processIsAlive(holder.pid)) return false;
  const start = processStartTime(holder.pid);
  return holder.start === undefined || start === undefined || start === holder.start;
}

async function readLockHolder(lockPath: string): Promise<LockHolder | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(lockPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as { pid?: unknown; start?: unknown; token?: unknown };
    return {
      pid: Number.isInteger(parsed.pid) ? (parsed.pid as number) : undefined,
      start: typeof parsed.start === 'string' ? parsed.start : undefined,
      token: typeof parsed.token === 'string' ? parsed.token : undefined,
    };
  } catch {
    return {};
  }
}

function lockedError(what: string, lockPath: string, pid: number): Error {
  const who = pid === process.pid ? `this process (${pid}); it is already open` : `process ${pid}`;
  return new Error(`${what} is locked by ${who}; lock file ${lockPath}. Only one process may use it at a time.`);
}

/**
 * Take an exclusive lock: a file holding our pid, created atomically (hard link of a fully written
 * temp file, so nobody ever reads a half-written lock). A lock whose process is gone is taken over:
 * pid dead, pid reused by another process (start time differs), or our own pid but not a lock we
 * hold (a container restarted with the same pid).
 * `what` names the protected thing in error messages.
 */
export async function acquireLockFile(lockPath: string, what: string): Promise<FileLock> {
  await fsp.mkdir(path.dirname(lockPath), { recursive: true, mode: 0o700 });
  const token = randomBytes(12).toString('hex');
  const identity = { pid: process.pid, start: processStartTime(process.pid), token, host: os.hostname(), since: new Date().toISOString() };
  const content = JSON.stringify(identity) + '\n';
  const temp = `${lockPath}.${process.pid}.${token}.tmp`;
  await fsp.writeFile(temp, content, { mode: 0o600 });
  const lock: FileLock = {
    path: lockPath,
    release: async () => {
      const holder = await readLockHolder(lockPath);
      if (holder?.token === token) await fsp.unlink(lockPath).catch(() => undefined);
      locksHeldHere.delete(token);
    },
  };
  try {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      try {
        await fsp.link(temp, lockPath);
        locksHeldHere.add(token);
        return lock;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') {
          if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw err;
          // File systems without hard links: exclusive create instead (content written right after).
          try {
            await fsp.writeFile(lockPath, content, { flag: 'wx', mode: 0o600 });
            locksHeldHere.add(token);
            return lock;
          } catch (createErr) {
            if ((createErr as NodeJS.ErrnoException).code !== 'EEXIST') throw createErr;
          }
        }
      }
      const holder = await readLockHolder(lockPath);
      if (holder === undefined) continue; // released meanwhile: try again
      if (holderIsAlive(holder)) throw lockedError(what, lockPath, holder.pid!);
      // Stale. Move it aside atomically, then make sure what we moved is the stale lock we judged and
      // not a fresh lock another starting process put there in the meantime.
      const aside = `${lockPath}.stale.${process.pid}.${token}`;
      try {
        await fsp.rename(lockPath, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      const moved = await readLockHolder(aside);
      if (moved !== undefined && moved.token !== holder.token && holderIsAlive(moved)) {
        await fsp.link(aside, lockPath).catch(() => undefined);
        await fsp.unlink(aside).catch(() => undefined);
        throw lockedError(what, lockPath, moved.pid!);
      }
      await fsp.unlink(aside).catch(() => undefined);
    }
    throw new Error(`${what}: could not take the lock file ${lockPath} (other processes keep contending for it)`);
  } finally {
    await fsp.unlink(temp).catch(() => undefined);
  }
}
