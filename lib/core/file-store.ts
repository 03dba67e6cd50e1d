/**
 * Embedded durable StateStore: in-memory maps for reads, a JSON-lines journal for writes (group
 * committed, so every mutation resolves only once it is on disk), and periodic compaction into a
 * snapshot. No server, one process per directory (enforced by a lock file). Node-RED-free.
 *
 * Files in the directory:
 *   store.lock              pid lock of the owning process
 *   snapshot.jsonl          header line {format, version, journalGen, entries} + one "set" line per entry
 *   journal.<gen>.jsonl     ops since the snapshot: {"op":"set","ns","key","value","expiresAt"?} | {"op":"del","ns","key"}
 * The snapshot says which journal generation starts after it; journals of older generations are
 * leftovers of a finished compaction and get deleted.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { SetOptions, StateStore, StoredEntry } from './types';
import { acquireLockFile, type FileLock, fsyncDirectory, GroupCommitFile, scanLines, TORN_TAIL_WINDOW_BYTES } from './group-commit';

export interface FileStateStoreOptions {
  /** fdatasync every journal batch (default true). */
  fsync?: boolean;
  /** Compact once the journal has grown past max(this, size of the last snapshot). Default 4 MiB. */
  compactAfterBytes?: number;
  /** Also compact this often when the journal is not empty (ms, default 1 h, 0 = never). */
  compactIntervalMs?: number;
  /** Drop expired entries from memory this often (ms, default 60 s, 0 = never; reads expire lazily anyway). */
  sweepIntervalMs?: number;
  /** Clock for TTLs (epoch ms). Tests inject one instead of sleeping. */
  now?: () => number;
  /** A malformed journal line this close to the end counts as an interrupted write and is cut off. */
  tornTailWindowBytes?: number;
}

export interface FileStateStoreStats {
  dir: string;
  namespaces: number;
  /** Entries held in memory, including expired ones not yet swept. */
  keys: number;
  journalGeneration: number;
  journalBytes: number;
  snapshotBytes: number;
  /** Journal lines appended but not yet durable. */
  pending: number;
  /** Journal write(+fdatasync) batches since open. */
  batches: number;
  compactions: number;
  /** Bytes of torn journal tail cut off when the store was opened. */
  repairedBytesOnOpen: number;
  lastCompactionError?: string;
}

interface Entry {
  /** The value as JSON text: what is on disk, so reads before and after a restart agree. */
  text: string;
  expiresAt?: number;
}

interface JournalOp {
  op: 'set' | 'del';
  ns: string;
  key: string;
  value?: unknown;
  expiresAt?: number;
}

const LOCK_FILE = 'store.lock';
const SNAPSHOT_FILE = 'snapshot.jsonl';
const SNAPSHOT_TEMP = 'snapshot.jsonl.tmp';
const SNAPSHOT_FORMAT = 'soar-state-snapshot';
const JOURNAL_NAME = /^journal\.(\d+)\.jsonl$/;

function setLine(ns: string, key: string, entry: Entry): string {
  const expiry = entry.expiresAt === undefined ? '' : `,"expiresAt":${entry.expiresAt}`;
  return `{"op":"set","ns":${JSON.stringify(ns)},"key":${JSON.stringify(key)},"value":${entry.text}${expiry}}`;
}

function deleteLine(ns: string, key: string): string {
  return `{"op":"del","ns":${JSON.stringify(ns)},"key":${JSON.stringify(key)}}`;
}

function valueToJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    // Never echo the value: it may be a secret.
    throw new TypeError(`state values must be JSON-serialisable (${(err as Error).message})`);
  }
  if (text === undefined) throw new TypeError('state values must be JSON-serialisable (got undefined, a function or a symbol)');
  return text;
}

function checkName(what: string, name: unknown): asserts name is string {
  if (typeof name !== 'string') throw new TypeError(`${what} must be a string`);
}

/** Parse one journal/snapshot op line; returns a reason string when it is not a valid op. */
function parseOp(bytes: Buffer): JournalOp | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  const op = parsed as Partial<JournalOp> | null;
  if (op === null || typeof op !== 'object') return 'not an object';
  if (typeof op.ns !== 'string' || typeof op.key !== 'string') return 'ns/key missing';
  if (op.op === 'del') return op as JournalOp;
  if (op.op !== 'set') return 'unknown op';
  if (!('value' in op)) return 'set without value';
  if (op.expiresAt !== undefined && typeof op.expiresAt !== 'number') return 'bad expiresAt';
  return op as JournalOp;
}

export class FileStateStore implements StateStore {
  readonly dir: string;
  private readonly lock: FileLock;
  private readonly fsync: boolean;
  private readonly compactAfterBytes: number;
  private readonly tornTailWindowBytes: number;
  private readonly now: () => number;
  private readonly data = new Map<string, Map<string, Entry>>();
  private journal!: GroupCommitFile;
  private journalGen = 1;
  private journalBytes = 0;
  private snapshotBytes = 0;
  private compactions = 0;
  /** Write batches of journals already switched away from (so stats().batches covers the whole run). */
  private retiredBatches = 0;
  private repairedBytesOnOpen = 0;
  private compacting: Promise<void> | undefined;
  private lastCompactionError: Error | undefined;
  private failure: Error | undefined;
  private recovering = false;
  private recoveryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private timers: NodeJS.Timeout[] = [];

  private constructor(dir: string, lock: FileLock, options: FileStateStoreOptions) {
    this.dir = dir;
    this.lock = lock;
    this.fsync = options.fsync ?? true;
    this.compactAfterBytes = options.compactAfterBytes ?? 4 * 1024 * 1024;
    this.tornTailWindowBytes = options.tornTailWindowBytes ?? TORN_TAIL_WINDOW_BYTES;
    this.now = options.now ?? Date.now;
  }

  /** Open (creating if needed) the store in `dir`, replaying snapshot + journal. Fails if another process holds it. */
  static async open(dir: string, options: FileStateStoreOptions = {}): Promise<FileStateStore> {
    const absolute = path.resolve(dir);
    await fsp.mkdir(absolute, { recursive: true, mode: 0o700 });
    const lock = await acquireLockFile(path.join(absolute, LOCK_FILE), `state directory ${absolute}`);
    const store = new FileStateStore(absolute, lock, options);
    try {
      await store.load();
    } catch (err) {
      await lock.release();
      throw err;
    }
    store.startTimers(options.sweepIntervalMs ?? 60_000, options.compactIntervalMs ?? 3_600_000);
    return store;
  }

  // ----- StateStore -------------------------------------------------------------------------

  async get<T = unknown>(ns: string, key: string): Promise<T | undefined> {
    this.assertOpen();
    const entry = this.live(ns, key);
    return entry === undefined ? undefined : (JSON.parse(entry.text) as T);
  }

  async set<T = unknown>(ns: string, key: string, value: T, opts?: SetOptions): Promise<void> {
    this.assertWritable();
    checkName('ns', ns);
    checkName('key', key);
    const entry: Entry = { text: valueToJson(value), expiresAt: this.expiryFrom(opts) };
    this.put(ns, key, entry);
    return this.record(setLine(ns, key, entry));
  }

  async setIfAbsent<T = unknown>(ns: string, key: string, value: T, opts?: SetOptions): Promise<boolean> {
    this.assertWritable();
    checkName('ns', ns);
    checkName('key', key);
    const entry: Entry = { text: valueToJson(value), expiresAt: this.expiryFrom(opts) };
    // Decided and applied synchronously, before any await: no other call can interleave here.
    if (this.live(ns, key) !== undefined) return false;
    this.put(ns, key, entry);
    await this.record(setLine(ns, key, entry));
    return true;
  }

  async delete(ns: string, key: string): Promise<boolean> {
    this.assertWritable();
    checkName('ns', ns);
    checkName('key', key);
    if (this.live(ns, key) === undefined) return false;
    this.remove(ns, key);
    await this.record(deleteLine(ns, key));
    return true;
  }

  async list<T = unknown>(ns: string): Promise<StoredEntry<T>[]> {
    this.assertOpen();
    const keys = this.data.get(ns);
    if (keys === undefined) return [];
    const now = this.now();
    const result: StoredEntry<T>[] = [];
    for (const [key, entry] of keys) {
      if (entry.expiresAt !== undefined && entry.expiresAt <= now) continue;
      const item: StoredEntry<T> = { key, value: JSON.parse(entry.text) as T };
      if (entry.expiresAt !== undefined) item.expiresAt = entry.expiresAt;
      result.push(item);
    }
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    clearTimeout(this.recoveryTimer);
    if (this.compacting) await this.compacting.catch(() => undefined);
    await this.journal.close();
    await this.lock.release();
  }

  // ----- extras -----------------------------------------------------------------------------

  /** Resolves once every mutation issued so far is durable. */
  async flush(): Promise<void> {
    await this.journal.flush();
  }

  /** Journal lines not yet durable: back-pressure signal. */
  get pending(): number {
    return this.journal.pending;
  }

  /** Drop expired entries from memory; returns how many. (Disk drops them at the next compaction.) */
  sweep(): number {
    const now = this.now();
    let removed = 0;
    for (const [ns, keys] of this.data) {
      for (const [key, entry] of keys) {
        if (entry.expiresAt !== undefined && entry.expiresAt <= now) {
          keys.delete(key);
          removed += 1;
        }
      }
      if (keys.size === 0) this.data.delete(ns);
    }
    return removed;
  }

  stats(): FileStateStoreStats {
    let keys = 0;
    for (const inner of this.data.values()) keys += inner.size;
    const result: FileStateStoreStats = {
      dir: this.dir,
      namespaces: this.data.size,
      keys,
      journalGeneration: this.journalGen,
      journalBytes: this.journalBytes,
      snapshotBytes: this.snapshotBytes,
      pending: this.journal.pending,
      batches: this.retiredBatches + this.journal.stats().batches,
      compactions: this.compactions,
      repairedBytesOnOpen: this.repairedBytesOnOpen,
    };
    if (this.lastCompactionError) result.lastCompactionError = this.lastCompactionError.message;
    return result;
  }

  /**
   * Write a snapshot of the live state and drop the journals it covers. Writes keep flowing during
   * it: they go to a fresh journal generation that replays on top of the snapshot.
   */
  compact(): Promise<void> {
    if (this.compacting) return this.compacting;
    try {
      this.assertWritable();
    } catch (err) {
      return Promise.reject(err);
    }
    const run = this.runCompaction().finally(() => {
      this.compacting = undefined;
    });
    // Writes kept coming during the compaction: the new journal may already be due again.
    run.then(
      () => this.maybeCompact(),
      () => undefined,
    );
    this.compacting = run;
    return run;
  }

  // ----- internals --------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new Error(`state store ${this.dir} is closed`);
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.failure) {
      throw new Error(`state store ${this.dir} refuses writes after a journal write failure (${this.failure.message}); reopen it`);
    }
  }

  private expiryFrom(opts: SetOptions | undefined): number | undefined {
    if (opts?.ttlMs === undefined) return undefined;
    if (typeof opts.ttlMs !== 'number' || !Number.isFinite(opts.ttlMs) || opts.ttlMs <= 0) {
      throw new RangeError('ttlMs must be a positive number of milliseconds');
    }
    return this.now() + opts.ttlMs;
  }

  /** The live entry, expiring it lazily when its time has passed. */
  private live(ns: string, key: string): Entry | undefined {
    const keys = this.data.get(ns);
    const entry = keys?.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= this.now()) {
      this.remove(ns, key);
      return undefined;
    }
    return entry;
  }

  private put(ns: string, key: string, entry: Entry): void {
    let keys = this.data.get(ns);
    if (keys === undefined) {
      keys = new Map();
      this.data.set(ns, keys);
    }
    keys.set(key, entry);
  }

  private remove(ns: string, key: string): void {
    const keys = this.data.get(ns);
    if (keys === undefined) return;
    keys.delete(key);
    if (keys.size === 0) this.data.delete(ns);
  }

  /** A journal file, watched so the store recovers once a failed journal takes writes again. */
  private openJournal(gen: number): GroupCommitFile {
    const journal = new GroupCommitFile(this.journalPath(gen), { fsync: this.fsync });
    journal.onStateChange((state) => {
      if (state === 'ok' && journal === this.journal) this.recover();
    });
    return journal;
  }

  /**
   * After a failed journal write memory may hold changes the disk lacks. Once the journal takes
   * writes again, a compaction writes all of memory to a snapshot and writes are accepted again
   * (so a change whose write was refused may still take effect: its outcome was unknown).
   */
  private recover(): void {
    if (!this.failure || this.closed || this.recovering) return;
    const failure = this.failure;
    this.failure = undefined; // compact() refuses while failing
    this.recovering = true;
    this.compact().then(
      () => {
        this.recovering = false;
      },
      (err: Error) => {
        this.recovering = false;
        this.failure ??= err ?? failure;
        if (this.closed) return;
        this.recoveryTimer = setTimeout(() => this.recover(), 5000);
        this.recoveryTimer.unref();
      },
    );
  }

  /** Append one op to the journal; the memory change was already made by the caller. */
  private record(line: string): Promise<void> {
    const written = this.journal.append(line);
    this.journalBytes += Buffer.byteLength(line) + 1;
    this.maybeCompact();
    return written.catch((err: Error) => {
      // Memory may now hold changes that are not on disk: stop taking writes until recover() has
      // written a snapshot of memory (or a reopen reloads the truth).
      this.failure ??= err;
      throw err;
    });
  }

  private maybeCompact(): void {
    if (this.compacting || this.closed || this.failure) return;
    if (this.journalBytes < Math.max(this.compactAfterBytes, this.snapshotBytes)) return;
    this.compact().catch((err: Error) => {
      this.lastCompactionError = err;
    });
  }

  private startTimers(sweepIntervalMs: number, compactIntervalMs: number): void {
    if (sweepIntervalMs > 0) {
      this.timers.push(setInterval(() => this.sweep(), sweepIntervalMs).unref());
    }
    if (compactIntervalMs > 0) {
      const timer = setInterval(() => {
        if (this.journalBytes > 0 && !this.compacting && !this.closed && !this.failure) {
          this.compact().catch((err: Error) => {
            this.lastCompactionError = err;
          });
        }
      }, compactIntervalMs);
      this.timers.push(timer.unref());
    }
  }

  private journalPath(gen: number): string {
    return path.join(this.dir, `journal.${gen}.jsonl`);
  }

  private applyOp(op: JournalOp, now: number): void {
    if (op.op === 'del') {
      this.remove(op.ns, op.key);
      return;
    }
    if (op.expiresAt !== undefined && op.expiresAt <= now) {
      // An expired set still replaces whatever was there before it.
      this.remove(op.ns, op.key);
      return;
    }
    this.put(op.ns, op.key, { text: JSON.stringify(op.value), expiresAt: op.expiresAt });
  }

  private async load(): Promise<void> {
    await fsp.rm(path.join(this.dir, SNAPSHOT_TEMP), { force: true });
    const now = this.now();
    let baseGen = 1;
    const snapshotPath = path.join(this.dir, SNAPSHOT_FILE);
    if (fs.existsSync(snapshotPath)) {
      baseGen = await this.loadSnapshot(snapshotPath, now);
      this.snapshotBytes = (await fsp.stat(snapshotPath)).size;
    }

    const generations: number[] = [];
    for (const name of await fsp.readdir(this.dir)) {
      const match = JOURNAL_NAME.exec(name);
      if (!match) continue;
      const gen = Number(match[1]);
      if (gen < baseGen) await fsp.rm(path.join(this.dir, name), { force: true });
      else generations.push(gen);
    }
    generations.sort((a, b) => a - b);

    let journalBytes = 0;
    for (const [index, gen] of generations.entries()) {
      const file = this.journalPath(gen);
      const { goodEnd, size } = await this.replayJournal(file, now);
      const newest = index === generations.length - 1;
      if (goodEnd < size) {
        this.repairedBytesOnOpen += size - goodEnd;
        // Only the journal we append to must be cut; older ones are dropped at the next compaction.
        if (newest) await truncateDurably(file, goodEnd);
      }
      journalBytes += goodEnd;
    }
    this.journalGen = generations.length > 0 ? generations[generations.length - 1] : baseGen;
    this.journalBytes = journalBytes;
    this.journal = this.openJournal(this.journalGen);
  }

  private async loadSnapshot(file: string, now: number): Promise<number> {
    let header: { format?: unknown; journalGen?: unknown; entries?: unknown } | undefined;
    let count = 0;
    const damaged = (why: string) => new Error(`state snapshot ${file} is damaged (${why}); restore it from a backup or move it away`);
    for await (const lines of scanLines(file)) {
      for (const line of lines) {
        if (!line.terminated) throw damaged(`line ${line.lineNo} is incomplete`);
        if (header === undefined) {
          try {
            header = JSON.parse(line.bytes.toString('utf8'));
          } catch {
            throw damaged('bad header');
          }
          if (header?.format !== SNAPSHOT_FORMAT || !Number.isInteger(header.journalGen)) throw damaged('bad header');
          continue;
        }
        const op = parseOp(line.bytes);
        if (typeof op === 'string') throw damaged(`line ${line.lineNo}: ${op}`);
        this.applyOp(op, now);
        count += 1;
      }
    }
    if (header === undefined) throw damaged('empty');
    if (header.entries !== count) throw damaged(`expected ${String(header.entries)} entries, found ${count}`);
    return header.journalGen as number;
  }

  /** Apply a journal; returns where its valid part ends (a torn tail from a crash is left out). */
  private async replayJournal(file: string, now: number): Promise<{ goodEnd: number; size: number }> {
    const size = (await fsp.stat(file)).size;
    for await (const lines of scanLines(file)) {
      for (const line of lines) {
        const op = line.terminated ? parseOp(line.bytes) : 'incomplete last line';
        if (typeof op !== 'string') {
          this.applyOp(op, now);
          continue;
        }
        // Batches go out one at a time, each only after the previous one's fsync, so damage from an
        // interrupted write can only sit in the last batch. Anything further back is real corruption.
        if (size - line.start <= this.tornTailWindowBytes) return { goodEnd: line.start, size };
        throw new Error(`state journal ${file} is corrupt at line ${line.lineNo} (${op}), too far from its end to be an interrupted write`);
      }
    }
    return { goodEnd: size, size };
  }

  private async runCompaction(): Promise<void> {
    const oldJournal = this.journal;
    const newGen = this.journalGen + 1;
    // Switch first, synchronously with the capture below, so the snapshot holds exactly the ops
    // in generations < newGen and every later op lands in newGen.
    this.journal = this.openJournal(newGen);
    this.journalGen = newGen;
    this.journalBytes = 0;
    const now = this.now();
    const captured: Array<[string, string, Entry]> = [];
    for (const [ns, keys] of this.data) {
      for (const [key, entry] of keys) {
        if (entry.expiresAt === undefined || entry.expiresAt > now) captured.push([ns, key, entry]);
      }
    }
    // The snapshot must not contain anything that is not durable in the old journal.
    try {
      await oldJournal.flush();
    } finally {
      await oldJournal.close();
      this.retiredBatches += oldJournal.stats().batches;
    }

    const temp = path.join(this.dir, SNAPSHOT_TEMP);
    const handle = await fsp.open(temp, 'w', 0o600);
    let bytes = 0;
    try {
      const header = { format: SNAPSHOT_FORMAT, version: 1, journalGen: newGen, entries: captured.length, createdAt: new Date(now).toISOString() };
      let chunk = JSON.stringify(header) + '\n';
      for (const [ns, key, entry] of captured) {
        chunk += setLine(ns, key, entry) + '\n';
        if (chunk.length >= 256 * 1024) {
          bytes += (await handle.write(chunk)).bytesWritten;
          chunk = '';
        }
      }
      if (chunk.length > 0) bytes += (await handle.write(chunk)).bytesWritten;
      await handle.sync();
    } catch (err) {
      await handle.close();
      await fsp.rm(temp, { force: true });
      throw err;
    }
    await handle.close();
    await fsp.rename(temp, path.join(this.dir, SNAPSHOT_FILE));
    await fsyncDirectory(this.dir);
    this.snapshotBytes = bytes;

    for (const name of await fsp.readdir(this.dir)) {
      const match = JOURNAL_NAME.exec(name);
      if (match && Number(match[1]) < newGen) await fsp.rm(path.join(this.dir, name), { force: true });
    }
    this.compactions += 1;
    this.lastCompactionError = undefined;
  }
}

async function truncateDurably(file: string, length: number): Promise<void> {
  const handle = await fsp.open(file, 'r+');
  try {
    await handle.truncate(length);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
