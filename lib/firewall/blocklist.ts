/**
 * The published blocklist: a firewall provider that enforces nothing itself but keeps a list that
 * firewalls pull over HTTP (`/soar/blocklist/<name>.txt` on the hub): pfSense/OPNsense URL Table
 * aliases, FortiGate external threat feeds, PAN-OS external dynamic lists, MikroTik fetch scripts.
 * No root and no firewall credentials needed: the quickstart default. Node-RED-free.
 *
 * Entries live in the StateStore namespace `blocklist:<name>` (key = canonical address, value
 * {address, expiresAt?, comment?, addedAt}); the time of the last change in `blocklist-meta:<name>`.
 * Both survive restarts. TTLs are native here: an entry past its expiresAt is never rendered, even
 * before anything has swept it; sweep() (called by every block/unblock/list) deletes it for good.
 *
 * Formats:
 * - text  (default): `#` header lines (name, updated, count), then one address/CIDR per line. pfSense
 *   and OPNsense URL Table aliases skip `#` comment lines; so do FortiGate/FortiMail threat feeds.
 * - plain: the same lines without any header, for pullers that document no whole-line comments
 *   (PAN-OS EDLs accept a comment only after an entry on the same line).
 * - json: {name, updatedAt, count, entries: [{address, expiresAt?, comment?}]}.
 * The ETag is a hash of the exact body, so a puller's If-None-Match gets a 304 until the list changes.
 *
 * blocklistHandler() serves it with node:http req/res (the route on Node-RED's server is the node glue's).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProviderError } from '../core/errors';
import { parseTarget, type ParsedTarget } from '../core/guardrails';
import type { StateStore } from '../core/types';
import { secretEquals } from '../core/secret';
import { badRequest, cleanComment, parseOrRefuse, parseUnblockAddresses, SerialQueue } from './provider-kit';
import type { BlockTarget, EnforcedBlock, FirewallProvider } from './types';

export type BlocklistFormat = 'text' | 'plain' | 'json';

export interface PublishedBlocklistOptions {
  /** Letters, digits, "_" and "-" (it becomes part of the URL). */
  name: string;
  store: StateStore;
  now?: () => number;
}

export interface BlocklistSnapshot {
  body: string;
  /** Strong ETag, quoted. */
  etag: string;
  /** Last change of the list (a block, an unblock, or an entry running out). */
  updatedAt: Date;
  count: number;
  contentType: string;
}

export interface PublishedBlocklist extends FirewallProvider {
  /** The list now, without expired entries. Throws until ensureReady() has loaded the store. */
  render(format?: BlocklistFormat): string;
  snapshot(format?: BlocklistFormat): BlocklistSnapshot;
  /** ETag of the text format. */
  readonly etag: string;
  readonly updatedAt: Date;
  readonly loaded: boolean;
  /** Delete expired entries from the store (rendering already hides them). */
  sweep(): Promise<void>;
}

interface StoredBlock {
  address: string;
  /** Epoch ms; absent = permanent. */
  expiresAt?: number;
  comment?: string;
  addedAt: number;
}

interface ListMeta {
  changedAt: number;
}

const KIND = 'blocklist';
const LIST_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const COMMENT_MAX = 200;
const META_KEY = 'state';
const CONTENT_TYPES: Record<BlocklistFormat, string> = {
  text: 'text/plain; charset=utf-8',
  plain: 'text/plain; charset=utf-8',
  json: 'application/json; charset=utf-8',
};

/** IPv4 before IPv6, then by address bytes, then by prefix length: a stable, readable order. */
function compareTargets(a: ParsedTarget, b: ParsedTarget): number {
  if (a.family !== b.family) return a.family - b.family;
  const aBytes = a.address.toByteArray();
  const bBytes = b.address.toByteArray();
  for (let i = 0; i < aBytes.length; i++) if (aBytes[i] !== bBytes[i]) return aBytes[i] - bBytes[i];
  return a.prefixLength - b.prefixLength;
}

function sameBlock(a: StoredBlock | undefined, b: StoredBlock): boolean {
  return a !== undefined && a.expiresAt === b.expiresAt && a.comment === b.comment;
}

function storeError(what: string, error: unknown): ProviderError {
  const reason = error instanceof Error ? error.message : String(error);
  return new ProviderError({
    provider: KIND,
    code: 'SERVER',
    attempts: 0,
    message: `${what}: state store write failed (${reason.slice(0, 200)}); the list is unchanged`,
  });
}

class StoredBlocklist implements PublishedBlocklist {
  readonly kind = KIND;
  readonly name: string;
  private readonly store: StateStore;
  private readonly now: () => number;
  private readonly namespace: string;
  private readonly metaNamespace: string;
  private entries = new Map<string, StoredBlock>();
  private changedAt = 0;
  private isLoaded = false;
  private loading?: Promise<void>;
  /** Bumped on every change in memory; the render cache is keyed on it. */
  private version = 0;
  private cache = new Map<BlocklistFormat, { version: number; validUntil: number; snapshot: BlocklistSnapshot }>();
  private readonly queue = new SerialQueue();

  constructor(options: PublishedBlocklistOptions) {
    if (typeof options?.name !== 'string' || !LIST_NAME.test(options.name)) {
      throw badRequest(KIND, `invalid blocklist name "${String(options?.name).slice(0, 40)}" (letters, digits, _ and -; max 64)`);
    }
    if (!options.store) throw badRequest(KIND, 'a published blocklist needs a state store');
    this.name = options.name;
    this.store = options.store;
    this.now = options.now ?? Date.now;
    this.namespace = `blocklist:${options.name}`;
    this.metaNamespace = `blocklist-meta:${options.name}`;
  }

  get loaded(): boolean {
    return this.isLoaded;
  }

  private async load(): Promise<void> {
    if (this.isLoaded) return;
    this.loading ??= (async () => {
      const rows = await this.store.list<StoredBlock>(this.namespace);
      const meta = await this.store.get<ListMeta>(this.metaNamespace, META_KEY);
      const entries = new Map<string, StoredBlock>();
      for (const row of rows) {
        const parsed = parseTarget(row.value?.address);
        // A row we cannot read is left in the store for a human to look at, never published.
        if ('error' in parsed || parsed.canonical !== row.key) continue;
        entries.set(row.key, row.value);
      }
      this.entries = entries;
      const newest = Math.max(0, ...[...entries.values()].map((entry) => entry.addedAt ?? 0));
      this.changedAt = typeof meta?.changedAt === 'number' ? Math.max(meta.changedAt, newest) : newest || this.now();
      this.version++;
      this.isLoaded = true;
    })().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  /** Loads the list from the store (once). */
  ensureReady(): Promise<void> {
    return this.queue.run(() => this.load());
  }

  private isLive(entry: StoredBlock, now: number): boolean {
    return entry.expiresAt === undefined || entry.expiresAt > now;
  }

  /** Delete expired entries from store and memory; their expiry counts as a change of the list. */
  private async sweepNow(): Promise<void> {
    const now = this.now();
    const expired = [...this.entries.values()].filter((entry) => !this.isLive(entry, now));
    if (expired.length === 0) return;
    const lastExpiry = Math.max(...expired.map((entry) => entry.expiresAt!));
    try {
      await Promise.all([
        ...expired.map((entry) => this.store.delete(this.namespace, entry.address)),
        this.store.set<ListMeta>(this.metaNamespace, META_KEY, { changedAt: Math.max(this.changedAt, lastExpiry) }),
      ]);
    } catch (error) {
      throw storeError('sweeping expired entries', error);
    }
    for (const entry of expired) this.entries.delete(entry.address);
    this.changedAt = Math.max(this.changedAt, lastExpiry);
    this.version++;
  }

  sweep(): Promise<void> {
    return this.queue.run(async () => {
      await this.load();
      await this.sweepNow();
    });
  }

  /**
   * Add or update every target, or none: all store writes must succeed before memory (and so the
   * published list) changes. A TTL sets expiresAt; a re-block replaces the expiry (and the comment, when
   * it brings one).
   */
  async block(targets: BlockTarget[]): Promise<void> {
    if (!Array.isArray(targets)) throw badRequest(KIND, 'block() expects an array of targets');
    const wanted = new Map<string, { ttlSeconds?: number; comment?: string }>();
    for (const target of targets) {
      const parsed = parseOrRefuse(KIND, target?.address, 'refused');
      const ttl = target.ttlSeconds;
      if (ttl !== undefined && ttl !== null && (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0)) {
        throw badRequest(KIND, `ttlSeconds for ${parsed.canonical} must be a positive number of seconds (omit it for a permanent block)`);
      }
      wanted.set(parsed.canonical, { ttlSeconds: ttl ?? undefined, comment: cleanComment(target.comment, COMMENT_MAX) });
    }
    if (wanted.size === 0) return;
    return this.queue.run(async () => {
      await this.load();
      await this.sweepNow();
      const now = this.now();
      const changes: { previous?: StoredBlock; next: StoredBlock }[] = [];
      for (const [address, { ttlSeconds, comment }] of wanted) {
        const previous = this.entries.get(address);
        const next: StoredBlock = { address, addedAt: previous?.addedAt ?? now };
        if (ttlSeconds !== undefined) next.expiresAt = now + Math.ceil(ttlSeconds * 1000);
        // A re-block without a comment keeps the earlier one.
        const keptComment = comment ?? previous?.comment;
        if (keptComment !== undefined) next.comment = keptComment;
        if (!sameBlock(previous, next)) changes.push({ previous, next });
      }
      if (changes.length === 0) return;
      const results = await Promise.allSettled([
        ...changes.map(({ next }) => this.store.set(this.namespace, next.address, next)),
        this.store.set<ListMeta>(this.metaNamespace, META_KEY, { changedAt: Math.max(this.changedAt, now) }),
      ]);
      const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failure) {
        // Put back what did get written, so store and memory agree again (best effort: the store is failing).
        await Promise.allSettled(
          changes.map(({ previous, next }) =>
            previous ? this.store.set(this.namespace, next.address, previous) : this.store.delete(this.namespace, next.address),
          ),
        );
        throw storeError('nothing blocked', failure.reason);
      }
      for (const { next } of changes) this.entries.set(next.address, next);
      this.changedAt = Math.max(this.changedAt, now);
      this.version++;
    });
  }

  /** Remove these addresses; absent ones are fine. */
  async unblock(addresses: string[]): Promise<void> {
    const remove = new Set(parseUnblockAddresses(KIND, addresses, 'refused').keys());
    if (remove.size === 0) return;
    return this.queue.run(async () => {
      await this.load();
      await this.sweepNow();
      const present = [...remove].filter((address) => this.entries.has(address));
      if (present.length === 0) return;
      const now = this.now();
      try {
        await Promise.all([
          ...present.map((address) => this.store.delete(this.namespace, address)),
          this.store.set<ListMeta>(this.metaNamespace, META_KEY, { changedAt: Math.max(this.changedAt, now) }),
        ]);
      } catch (error) {
        throw storeError('unblock', error);
      }
      for (const address of present) this.entries.delete(address);
      this.changedAt = Math.max(this.changedAt, now);
      this.version++;
    });
  }

  /** What pullers get now, with the seconds each entry has left. */
  list(): Promise<EnforcedBlock[]> {
    return this.queue.run(async () => {
      await this.load();
      await this.sweepNow();
      const now = this.now();
      return this.sorted(now).map(({ entry }) => {
        const block: EnforcedBlock = { address: entry.address };
        if (entry.expiresAt !== undefined) block.expiresInSeconds = Math.max(1, Math.ceil((entry.expiresAt - now) / 1000));
        if (entry.comment !== undefined) block.comment = entry.comment;
        return block;
      });
    });
  }

  /** Live entries in publishing order. */
  private sorted(now: number): { entry: StoredBlock; target: ParsedTarget }[] {
    const live: { entry: StoredBlock; target: ParsedTarget }[] = [];
    for (const entry of this.entries.values()) {
      if (!this.isLive(entry, now)) continue;
      live.push({ entry, target: parseTarget(entry.address) as ParsedTarget });
    }
    return live.sort((a, b) => compareTargets(a.target, b.target));
  }

  /** Time of the last change, counting entries that ran out but were not swept yet. */
  private effectiveUpdatedAt(now: number): number {
    let updated = this.changedAt;
    for (const entry of this.entries.values()) {
      if (entry.expiresAt !== undefined && entry.expiresAt <= now && entry.expiresAt > updated) updated = entry.expiresAt;
    }
    return updated;
  }

  snapshot(format: BlocklistFormat = 'text'): BlocklistSnapshot {
    if (!this.isLoaded)
      throw new ProviderError({ provider: KIND, code: 'SERVER', attempts: 0, message: `blocklist "${this.name}" is not loaded yet (call ensureReady())` });
    if (!(format in CONTENT_TYPES)) throw badRequest(KIND, `unknown blocklist format "${String(format).slice(0, 20)}" (text, plain, json)`);
    const now = this.now();
    const cached = this.cache.get(format);
    if (cached && cached.version === this.version && now < cached.validUntil) return cached.snapshot;

    const live = this.sorted(now);
    const updatedAt = new Date(this.effectiveUpdatedAt(now));
    let body: string;
    if (format === 'json') {
      const entries = live.map(({ entry }) => ({
        address: entry.address,
        ...(entry.expiresAt !== undefined ? { expiresAt: new Date(entry.expiresAt).toISOString() } : {}),
        ...(entry.comment !== undefined ? { comment: entry.comment } : {}),
      }));
      body = `${JSON.stringify({ name: this.name, updatedAt: updatedAt.toISOString(), count: live.length, entries })}\n`;
    } else {
      const lines = live.map(({ entry }) => entry.address);
      if (format === 'text') lines.unshift(`# SOAR published blocklist: ${this.name}`, `# updated: ${updatedAt.toISOString()}`, `# entries: ${live.length}`);
      body = lines.length > 0 ? `${lines.join('\n')}\n` : '';
    }
    const snapshot: BlocklistSnapshot = {
      body,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`,
      updatedAt,
      count: live.length,
      contentType: CONTENT_TYPES[format],
    };
    // Valid until the next entry runs out (or the next change).
    const nextExpiry = Math.min(Infinity, ...live.map(({ entry }) => entry.expiresAt ?? Infinity));
    this.cache.set(format, { version: this.version, validUntil: nextExpiry, snapshot });
    return snapshot;
  }

  render(format: BlocklistFormat = 'text'): string {
    return this.snapshot(format).body;
  }

  get etag(): string {
    return this.snapshot('text').etag;
  }

  get updatedAt(): Date {
    return this.snapshot('text').updatedAt;
  }

  async close(): Promise<void> {
    await this.queue.idle();
  }
}

export function createPublishedBlocklist(options: PublishedBlocklistOptions): PublishedBlocklist {
  return new StoredBlocklist(options);
}

export interface BlocklistHandlerOptions {
  /**
   * When set, a request needs `Authorization: Bearer <token>` or `?token=<token>`. The query form
   * exists because URL Table aliases and threat feeds can only be given a URL; it shows up in access
   * logs, so prefer the header where the puller supports it.
   */
  token?: string;
  /** Format when the request names none (`?format=` or a `.json` path). Default "text". */
  defaultFormat?: BlocklistFormat;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** If-None-Match (weak comparison, RFC 9110 §13.1.2): "*" or any listed tag equal to ours. */
function etagMatches(header: string, etag: string): boolean {
  const ours = etag.replace(/^W\//, '');
  return header.split(',').some((tag) => {
    const candidate = tag.trim();
    return candidate === '*' || candidate.replace(/^W\//, '') === ours;
  });
}

/**
 * A node:http request handler serving one published blocklist: GET/HEAD, bearer or ?token= auth,
 * ETag + If-None-Match (304), Last-Modified + If-Modified-Since, Cache-Control: no-cache (pullers
 * revalidate every time; a 304 costs a few bytes). 503 until the list is loaded.
 */
export function blocklistHandler(list: PublishedBlocklist, options: BlocklistHandlerOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const token = options.token || undefined;
  const defaultFormat = options.defaultFormat ?? 'text';
  return (req, res) => {
    const send = (status: number, headers: Record<string, string>, body?: string) => {
      res.writeHead(status, {
        'X-Content-Type-Options': 'nosniff',
        ...headers,
        ...(body !== undefined ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const method = (req.method ?? 'GET').toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') {
      send(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }, 'method not allowed\n');
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://blocklist.invalid');
    } catch {
      send(400, { 'Content-Type': 'text/plain; charset=utf-8' }, 'bad request\n');
      return;
    }
    if (token) {
      const authorization = headerValue(req.headers.authorization) ?? '';
      const bearer = /^Bearer\s+(.+)$/i.exec(authorization)?.[1]?.trim();
      const given = bearer ?? url.searchParams.get('token') ?? '';
      if (!secretEquals(given, token)) {
        send(
          401,
          { 'WWW-Authenticate': 'Bearer realm="soar-blocklist"', 'Cache-Control': 'no-store', 'Content-Type': 'text/plain; charset=utf-8' },
          'unauthorized\n',
        );
        return;
      }
    }
    const requested = url.searchParams.get('format') ?? (url.pathname.endsWith('.json') ? 'json' : defaultFormat);
    if (!(requested in CONTENT_TYPES)) {
      send(400, { 'Content-Type': 'text/plain; charset=utf-8' }, 'unknown format (text, plain, json)\n');
      return;
    }
    let snapshot: BlocklistSnapshot;
    try {
      snapshot = list.snapshot(requested as BlocklistFormat);
    } catch {
      send(503, { 'Retry-After': '5', 'Cache-Control': 'no-store', 'Content-Type': 'text/plain; charset=utf-8' }, 'blocklist not loaded yet\n');
      return;
    }
    const headers: Record<string, string> = {
      ETag: snapshot.etag,
      'Last-Modified': snapshot.updatedAt.toUTCString(),
      'Cache-Control': token ? 'private, no-cache' : 'no-cache',
      Vary: 'Authorization',
    };
    const ifNoneMatch = headerValue(req.headers['if-none-match']);
    const ifModifiedSince = headerValue(req.headers['if-modified-since']);
    const notModified =
      ifNoneMatch !== undefined
        ? etagMatches(ifNoneMatch, snapshot.etag)
        : ifModifiedSince !== undefined && Math.floor(snapshot.updatedAt.getTime() / 1000) <= Math.floor(Date.parse(ifModifiedSince) / 1000);
    if (notModified) {
      res.writeHead(304, { 'X-Content-Type-Options': 'nosniff', ...headers });
      res.end();
      return;
    }
    send(200, { ...headers, 'Content-Type': snapshot.contentType }, snapshot.body);
  };
}
