/**
 * Local threat-intel feeds: lists of IPs, CIDRs, domains, URLs, hashes (plain text, CSV or JSON)
 * from a file or a URL, kept in memory and refreshed on a schedule. The embedded default source:
 * no key, no lookups leaving the machine (a URL feed is downloaded, then looked up locally).
 *
 * FeedLoader is the shared machinery (also used by the CISA KEV and EPSS providers):
 * - URL sources are fetched with the shared HTTP client (timeouts, retries, redaction of keys in
 *   headers) as conditional GETs (If-None-Match / If-Modified-Since); a 304 keeps the copy.
 * - File sources are re-read on their schedule; a copy whose bytes did not change is not re-parsed.
 * - A failed refresh (HTTP error, unreachable server, unreadable file, empty or totally unparsable
 *   content) keeps the last good copy and is reported in stats().lastError and onRefresh.
 * - After a failure the next attempt comes sooner: min(refresh interval, 5 minutes).
 * - Timers are unref'd (they never keep the process alive) and cleared by close().
 *
 * Matching rules (CIDRs, subdomains, URL and domain normalisation) are in ../feed-parse.ts.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { createHttpClient, ProviderError, type HttpClient, type HttpClientOptions, type ProviderErrorCode } from '../../core/http';
import { IOC_TYPES, type IocType } from '../../ioc';
import { parseFeedAsync, type FeedBody, type FeedFormat, type FeedIndex } from '../feed-parse';
import type { Indicator, IntelLevel, IntelProvider, IntelProviderOptions, IntelResult } from '../types';
import { resultBuilder, type IntelAnswer } from './common';

const gunzipAsync = promisify(gunzip);

/** Where a feed comes from. `refreshSeconds` 0 means: load once, refresh only on request. */
export type FeedSource =
  | { file: string; /** default 60: re-read the file (parsed again only when its bytes changed) */ refreshSeconds?: number }
  | { url: string; /** default 3600 */ refreshSeconds?: number; headers?: Record<string, string> };

export interface RefreshOutcome {
  trigger: 'initial' | 'schedule' | 'manual';
  ok: boolean;
  /** A new copy replaced the previous one. */
  changed: boolean;
  /** The server answered 304 Not Modified. */
  notModified: boolean;
  /** Entries in the copy in use after this attempt (the last good copy after a failure). */
  entries: number;
  /** Redacted reason of a failure. */
  error?: string;
  code?: ProviderErrorCode;
}

/** Options every local-feed provider (feed, KEV, EPSS) accepts besides IntelProviderOptions. */
export interface FeedTransportOptions {
  /** Largest feed accepted, download or file (after gunzip). Default 64 MiB. */
  maxBytes?: number;
  /** Passed on to the HTTP client. */
  http?: Pick<HttpClientOptions, 'retry' | 'proxy' | 'httpAgent' | 'httpsAgent' | 'onRetry'>;
  /** Called after every refresh attempt: initial load, schedule, refresh(). Must not throw (errors are ignored). */
  onRefresh?: (outcome: RefreshOutcome) => void;
}

export interface FeedStats {
  entries: number;
  /** Entries per kind: indicator types, plus `ipv4Cidr` / `ipv6Cidr` for networks. */
  byType: Record<string, number>;
  /** Entries of the current copy that were not indicators (comments and blank lines not counted). */
  skipped: number;
  skippedExamples: string[];
  duplicates: number;
  /** Entries left out by the `types` restriction. */
  filtered: number;
  /** ISO time of the last successful check (a new copy, the same bytes, or 304). */
  lastRefresh?: string;
  /** ISO time the copy in use was loaded. */
  lastChange?: string;
  /** Redacted reason of the latest failed refresh; cleared by the next success. */
  lastError?: string;
  lastErrorAt?: string;
  etag?: string;
  lastModified?: string;
  /** Refresh attempts that succeeded / failed since creation. */
  refreshes: number;
  failures: number;
  /** Facts the source states about itself (KEV catalogVersion, EPSS scoreDate, ...). */
  info?: Record<string, string>;
}

/** A local-feed provider: an IntelProvider whose data can be awaited, refreshed and inspected. */
export interface LocalFeedProvider extends IntelProvider {
  /** Resolves once a copy is loaded; rejects with the reason when the first load failed and none is. */
  ready(): Promise<void>;
  /** Fetch/read now. Rejects with a ProviderError when this attempt fails (the last good copy stays). */
  refresh(): Promise<{ changed: boolean }>;
  stats(): FeedStats;
  close(): Promise<void>;
}

/** What a format parser makes of one download. */
export interface LoadedCopy<T> {
  data: T;
  entries: number;
  byType: Record<string, number>;
  skipped: number;
  skippedExamples: string[];
  duplicates?: number;
  filtered?: number;
  info?: Record<string, string>;
}

export interface FeedLoaderOptions<T> extends FeedTransportOptions {
  /** Provider kind, used in error messages ("feed", "kev", "epss"). */
  kind: string;
  name: string;
  source: FeedSource;
  /** Builds the lookup structure (may yield to the event loop); throws when the content is unusable as a whole. */
  parse(body: FeedBody): LoadedCopy<T> | Promise<LoadedCopy<T>>;
  apiKey?: string;
  timeoutMs?: number;
  budget?: HttpClientOptions['budget'];
  now?: () => number;
  sleep?: HttpClientOptions['sleep'];
}

const DEFAULT_URL_REFRESH_SECONDS = 3600;
const DEFAULT_FILE_REFRESH_SECONDS = 60;
const FAILURE_RETRY_MS = 5 * 60_000;
/** setTimeout fires at once for delays past 2^31-1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const MIN_TIMER_MS = 10;
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/** A whole feed downloads in one attempt: allow for slow links. */
const DEFAULT_TIMEOUT_MS = 60_000;

interface CurrentCopy<T> extends LoadedCopy<T> {
  hash: string;
  loadedAt: number;
}

type Fetched = { notModified: true } | { notModified: false; body: FeedBody; hash: string; etag?: string; lastModified?: string };

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function isoTime(epochMs: number | undefined): string | undefined {
  return epochMs === undefined ? undefined : new Date(epochMs).toISOString();
}

/** Checks a source and returns its refresh interval in ms (0 = none). Config errors never echo the URL (it may hold a key). */
function validateSource(source: FeedSource): number {
  if (!source || typeof source !== 'object') throw new TypeError('feed source must be { file } or { url }');
  const hasFile = 'file' in source && source.file !== undefined;
  const hasUrl = 'url' in source && source.url !== undefined;
  if (hasFile === hasUrl) throw new TypeError('feed source must have exactly one of file or url');
  if (hasFile && (typeof (source as { file: unknown }).file !== 'string' || (source as { file: string }).file === '')) {
    throw new TypeError('feed source file must be a non-empty path');
  }
  if (hasUrl) {
    let protocol: string;
    try {
      protocol = new URL((source as { url: string }).url).protocol;
    } catch {
      throw new TypeError('feed source url is not a valid URL');
    }
    if (protocol !== 'http:' && protocol !== 'https:') throw new TypeError('feed source url must be http or https');
  }
  const seconds = source.refreshSeconds ?? (hasUrl ? DEFAULT_URL_REFRESH_SECONDS : DEFAULT_FILE_REFRESH_SECONDS);
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) throw new TypeError('feed refreshSeconds must be a number >= 0');
  return Math.round(seconds * 1000);
}

/** Loads a feed from its source, keeps the last good copy, refreshes it on a schedule. */
export class FeedLoader<T> {
  private readonly refreshMs: number;
  private readonly now: () => number;
  private readonly client?: HttpClient;
  private readonly closing = new AbortController();
  private readonly maxBytes: number;
  private current?: CurrentCopy<T>;
  private etag?: string;
  private lastModified?: string;
  private lastRefreshAt?: number;
  private lastError?: ProviderError;
  private lastErrorAt?: number;
  private refreshes = 0;
  private failures = 0;
  private inFlight?: Promise<{ changed: boolean }>;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private readonly initial: Promise<void>;

  constructor(private readonly options: FeedLoaderOptions<T>) {
    this.refreshMs = validateSource(options.source);
    this.now = options.now ?? Date.now;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    if ('url' in options.source) {
      this.client = createHttpClient({
        provider: options.kind,
        baseURL: options.source.url,
        headers: options.source.headers,
        secrets: options.apiKey ? [options.apiKey] : [],
        timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        budget: options.budget,
        maxBodyBytes: this.maxBytes,
        now: options.now,
        sleep: options.sleep,
        ...options.http,
      });
    }
    this.initial = this.run('initial').then(
      () => this.scheduleNext(false),
      () => this.scheduleNext(true),
    );
  }

  /** The copy in use, if any. */
  get copy(): LoadedCopy<T> | undefined {
    return this.current;
  }

  /** When the copy in use was loaded (epoch ms). */
  get loadedAt(): number | undefined {
    return this.current?.loadedAt;
  }

  async ready(): Promise<void> {
    await this.initial;
    if (!this.current) throw this.noDataError();
  }

  /** The copy for a lookup: waits for the first load; rejects when there is still none. */
  async whenLoaded(): Promise<LoadedCopy<T>> {
    if (!this.current) await this.initial;
    if (!this.current) throw this.noDataError();
    return this.current;
  }

  refresh(): Promise<{ changed: boolean }> {
    return this.run('manual');
  }

  stats(): FeedStats {
    const copy = this.current;
    return {
      entries: copy?.entries ?? 0,
      byType: { ...(copy?.byType ?? {}) },
      skipped: copy?.skipped ?? 0,
      skippedExamples: [...(copy?.skippedExamples ?? [])],
      duplicates: copy?.duplicates ?? 0,
      filtered: copy?.filtered ?? 0,
      lastRefresh: isoTime(this.lastRefreshAt),
      lastChange: isoTime(copy?.loadedAt),
      lastError: this.lastError?.message,
      lastErrorAt: isoTime(this.lastErrorAt),
      etag: this.etag,
      lastModified: this.lastModified,
      refreshes: this.refreshes,
      failures: this.failures,
      ...(copy?.info ? { info: { ...copy.info } } : {}),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.closing.abort();
    this.client?.close();
    await this.inFlight?.catch(() => undefined);
  }

  private noDataError(): ProviderError {
    const reason = this.lastError;
    // A missing file or a 404 feed URL is a configuration problem, not "indicator unknown".
    const code: ProviderErrorCode = !reason || reason.code === 'NOT_FOUND' ? 'BAD_REQUEST' : reason.code;
    return new ProviderError({
      provider: this.options.kind,
      code,
      message: `${this.options.kind} "${this.options.name}" has no data${reason ? `: ${reason.message}` : ''}`,
      retryable: true,
      status: reason?.status,
    });
  }

  /** One refresh at a time: callers arriving while one runs share its result. */
  private run(trigger: RefreshOutcome['trigger']): Promise<{ changed: boolean }> {
    if (this.closed) {
      return Promise.reject(
        new ProviderError({ provider: this.options.kind, code: 'CANCELLED', message: `${this.options.kind} "${this.options.name}" is closed` }),
      );
    }
    if (this.inFlight) return this.inFlight;
    const attempt = this.load().then(
      (result) => {
        this.refreshes++;
        this.lastRefreshAt = this.now();
        this.lastError = undefined;
        this.lastErrorAt = undefined;
        this.report({ trigger, ok: true, changed: result.changed, notModified: result.notModified, entries: this.current?.entries ?? 0 });
        return { changed: result.changed };
      },
      (error: unknown) => {
        const failure = this.asProviderError(error);
        if (!this.closed) {
          this.failures++;
          this.lastError = failure;
          this.lastErrorAt = this.now();
          this.report({
            trigger,
            ok: false,
            changed: false,
            notModified: false,
            entries: this.current?.entries ?? 0,
            error: failure.message,
            code: failure.code,
          });
        }
        throw failure;
      },
    );
    const tracked: Promise<{ changed: boolean }> = attempt.finally(() => {
      if (this.inFlight === tracked) this.inFlight = undefined;
    });
    this.inFlight = tracked;
    return tracked;
  }

  private report(outcome: RefreshOutcome): void {
    try {
      this.options.onRefresh?.(outcome);
    } catch {
      // A status callback must not break refreshing.
    }
  }

  private scheduleNext(afterFailure: boolean): void {
    if (this.closed || this.refreshMs === 0) return;
    const wanted = afterFailure ? Math.min(this.refreshMs, FAILURE_RETRY_MS) : this.refreshMs;
    // A floor so a mistyped tiny interval cannot turn into a busy loop against the feed server.
    const delay = Math.min(Math.max(wanted, MIN_TIMER_MS), MAX_TIMER_MS);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.run('schedule').then(
        () => this.scheduleNext(false),
        () => this.scheduleNext(true),
      );
    }, delay);
    this.timer.unref();
  }

  private async load(): Promise<{ changed: boolean; notModified: boolean }> {
    const fetched = 'url' in this.options.source ? await this.download(this.options.source.url) : await this.readFile(this.options.source.file);
    if (fetched.notModified) return { changed: false, notModified: true };
    if (this.current && this.current.hash === fetched.hash) {
      // Same bytes (a server without validators, an untouched file): keep the parsed copy.
      this.etag = fetched.etag;
      this.lastModified = fetched.lastModified;
      return { changed: false, notModified: false };
    }
    let parsed: LoadedCopy<T>;
    try {
      parsed = await this.options.parse(fetched.body);
    } catch (error) {
      throw this.bodyError(`content unusable: ${(error as Error)?.message ?? String(error)}`);
    }
    if (parsed.entries === 0) {
      throw this.bodyError(parsed.skipped > 0 ? `no usable entries (${parsed.skipped} unparsable)` : 'no entries (empty feed)');
    }
    if (this.closed) throw this.asProviderError(new Error('closed'));
    this.current = { ...parsed, hash: fetched.hash, loadedAt: this.now() };
    // Validators belong to the copy they describe: a failed download never sets them.
    this.etag = fetched.etag;
    this.lastModified = fetched.lastModified;
    return { changed: true, notModified: false };
  }

  private async download(url: string): Promise<Fetched> {
    const conditional: Record<string, string> = {};
    if (this.current) {
      if (this.etag) conditional['If-None-Match'] = this.etag;
      if (this.lastModified) conditional['If-Modified-Since'] = this.lastModified;
    }
    const response = await this.client!.request<unknown>({ url, headers: conditional, signal: this.closing.signal });
    if (response.status === 304) {
      if (!this.current) throw this.bodyError('server answered 304 Not Modified but no copy is loaded');
      return { notModified: true };
    }
    const data = response.data;
    const body: FeedBody = { contentType: response.headers['content-type'], origin: new URL(url).pathname };
    let hashed: string;
    if (typeof data === 'string') {
      body.text = data;
      hashed = data;
    } else if (data === undefined || data === null) {
      body.text = '';
      hashed = '';
    } else {
      body.json = data;
      hashed = JSON.stringify(data) ?? '';
    }
    if (hashed.trim() === '') throw this.bodyError(`empty download (HTTP ${response.status})`);
    return { notModified: false, body, hash: sha256(hashed), etag: response.headers.etag, lastModified: response.headers['last-modified'] };
  }

  private async readFile(path: string): Promise<Fetched> {
    let bytes: Buffer;
    try {
      const info = await fs.stat(path);
      if (!info.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
      if (info.size > this.maxBytes) throw this.bodyError(`file is larger than ${this.maxBytes} bytes`);
      bytes = await fs.readFile(path);
      if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = await gunzipAsync(bytes, { maxOutputLength: this.maxBytes });
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      throw this.fileError(path, error);
    }
    const text = bytes.toString('utf8');
    if (text.trim() === '') throw this.bodyError('empty file');
    return { notModified: false, body: { text, origin: path.replace(/\.gz$/i, '') }, hash: sha256(text) };
  }

  private fileError(path: string, error: unknown): ProviderError {
    const errno = String((error as { code?: unknown })?.code ?? '');
    // ERR_BUFFER_TOO_LARGE: gunzip output over maxBytes; Z_DATA_ERROR: a damaged .gz.
    const code: ProviderErrorCode =
      errno === 'ENOENT'
        ? 'NOT_FOUND'
        : errno === 'EACCES' || errno === 'EPERM'
          ? 'FORBIDDEN'
          : errno.startsWith('ERR_BUFFER') || errno.startsWith('Z_')
            ? 'BODY_ERROR'
            : 'BAD_REQUEST';
    const reason =
      errno === 'ENOENT' ? 'no such file' : errno === 'EACCES' || errno === 'EPERM' ? 'permission denied' : ((error as Error)?.message ?? String(error));
    return new ProviderError({
      provider: this.options.kind,
      code,
      message: `${this.options.kind}: cannot read ${path}: ${reason}`,
      retryable: code !== 'BAD_REQUEST',
    });
  }

  private bodyError(message: string): ProviderError {
    return new ProviderError({
      provider: this.options.kind,
      code: 'BODY_ERROR',
      message: `${this.options.kind} "${this.options.name}": ${message}`,
      retryable: true,
    });
  }

  private asProviderError(error: unknown): ProviderError {
    if (error instanceof ProviderError) return error;
    if (this.closed)
      return new ProviderError({ provider: this.options.kind, code: 'CANCELLED', message: `${this.options.kind} "${this.options.name}" is closed` });
    return this.bodyError((error as Error)?.message ?? String(error));
  }
}

function cancelled(kind: string): ProviderError {
  return new ProviderError({ provider: kind, code: 'CANCELLED', message: `${kind}: lookup cancelled` });
}

/** The shell every local-feed provider shares: loader plumbing, cancellation, fetchedAt. */
export function localFeedProvider<T>(
  loader: FeedLoader<T>,
  shape: {
    kind: string;
    name: string;
    types: () => readonly IocType[];
    answer: (copy: LoadedCopy<T>, indicator: Indicator) => IntelAnswer;
    now: () => number;
  },
): LocalFeedProvider {
  const answerFor = resultBuilder(shape.kind, shape.name, shape.now);
  return {
    kind: shape.kind,
    name: shape.name,
    get types() {
      return shape.types();
    },
    external: false,
    cacheable: false,
    async lookup(indicator: Indicator, signal?: AbortSignal): Promise<IntelResult> {
      if (signal?.aborted) throw cancelled(shape.kind);
      const copy = await loader.whenLoaded();
      if (signal?.aborted) throw cancelled(shape.kind);
      return answerFor(indicator, shape.answer(copy, indicator));
    },
    ready: () => loader.ready(),
    refresh: () => loader.refresh(),
    stats: () => loader.stats(),
    close: () => loader.close(),
  };
}

export interface FeedOptions extends IntelProviderOptions, FeedTransportOptions {
  name: string;
  source: FeedSource;
  /** text: one entry per line, `#` comments; csv: column by name/index; json: array of strings or of objects with a field. Default auto. */
  format?: FeedFormat;
  /** CSV column: header name (case-insensitive) or 0-based index. */
  csvColumn?: string | number;
  /** JSON member holding the indicator (dotted path allowed). */
  jsonField?: string;
  /** What a hit means. Default malicious. */
  level?: 'malicious' | 'suspicious';
  /** Keep only these types. Default: whatever the entries are. */
  types?: IocType[];
}

function describeMatch(name: string, level: IntelLevel, by: 'exact' | 'cidr' | 'subdomain', entry: string): string {
  const where = by === 'cidr' ? ` (in ${entry})` : by === 'subdomain' ? ` (subdomain of ${entry})` : '';
  return `${name}: listed as ${level}${where}`;
}

/** A local blocklist feed (file or URL) as an IntelProvider. Lookups never leave the machine. */
export function createFeed(opts: FeedOptions): LocalFeedProvider {
  if (!opts || typeof opts.name !== 'string' || opts.name.trim() === '') throw new TypeError('createFeed: name is required');
  const level = opts.level ?? 'malicious';
  if (level !== 'malicious' && level !== 'suspicious') throw new TypeError('createFeed: level must be malicious or suspicious');
  if (opts.format !== undefined && !['auto', 'text', 'csv', 'json'].includes(opts.format))
    throw new TypeError('createFeed: format must be auto, text, csv or json');
  const unknownType = opts.types?.find((type) => !IOC_TYPES.includes(type));
  if (unknownType !== undefined) throw new TypeError(`createFeed: unknown indicator type "${String(unknownType).slice(0, 40)}"`);
  const now = opts.now ?? Date.now;
  const name = opts.name;

  const loader = new FeedLoader<FeedIndex>({
    ...opts,
    kind: 'feed',
    name,
    parse: async (body) => {
      const parsed = await parseFeedAsync(body, { format: opts.format, csvColumn: opts.csvColumn, jsonField: opts.jsonField, types: opts.types });
      return {
        data: parsed.index,
        entries: parsed.index.size,
        byType: parsed.index.byType(),
        skipped: parsed.skipped,
        skippedExamples: parsed.skippedExamples,
        duplicates: parsed.duplicates,
        filtered: parsed.filtered,
        info: { format: parsed.format },
      };
    },
  });

  return localFeedProvider(loader, {
    kind: 'feed',
    name,
    now,
    // Declared from the loaded copy, so the broker never asks for a type the feed has none of.
    types: () => loader.copy?.data.types() ?? [],
    answer: (copy, indicator) => {
      const match = copy.data.lookup(indicator);
      if (!match) return { level: 'unknown', found: false, evidence: { listed: false }, summary: `${name}: not listed` };
      return {
        level,
        found: true,
        evidence: { listed: true, matchedBy: match.by, matchedEntry: match.entry, listUpdated: isoTime(loader.loadedAt) },
        summary: describeMatch(name, level, match.by, match.entry),
      };
    },
  });
}
