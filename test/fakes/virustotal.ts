/**
 * Contract fake for the VirusTotal API v3 (object lookups only), for the intel provider tests.
 *
 * Follows: https://docs.virustotal.com/reference/overview (header `x-apikey`),
 * https://docs.virustotal.com/reference/ip-info, /domain-info, /url-info, /file-info,
 * https://docs.virustotal.com/reference/url (URL identifiers: unpadded base64url of the URL),
 * https://docs.virustotal.com/reference/errors (`{"error":{"code","message"}}`: 401 WrongCredentialsError,
 * 404 NotFoundError, 429 QuotaExceededError / TooManyRequestsError, 503 TransientError),
 * and docs/vendor-facts.md §B.1 and §0.4 (fake switches).
 *
 * The fake checks the request shape itself: a wrong method, path or missing key header answers the
 * way VirusTotal would (400/401/404) and is recorded in `violations`, which tests assert empty.
 * Scripted replies (`script(...)`) are served, in order, before the dataset answers: 429s, 5xx, hangs.
 */
import { createHash } from 'node:crypto';
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../helpers/fake-server';

export interface VtStats {
  malicious?: number;
  suspicious?: number;
  harmless?: number;
  undetected?: number;
  timeout?: number;
}

export interface VtObject {
  stats: VtStats;
  /** Extra attributes merged into data.attributes (as_owner, registrar, meaningful_name, ...). */
  attributes?: Record<string, unknown>;
}

export interface VirusTotalFake {
  server: FakeServer;
  baseURL: string;
  apiKey: string;
  /** Requests that did not follow the contract (wrong method/path/header). */
  violations: string[];
  /** Lookups that reached the dataset (auth passed, no scripted reply). */
  readonly requests: FakeRequest[];
  addIp(ip: string, object: VtObject): void;
  addDomain(domain: string, object: VtObject): void;
  /** Stored under every hash given. */
  addFile(hashes: { md5?: string; sha1?: string; sha256: string }, object: VtObject): void;
  addUrl(url: string, object: VtObject): void;
  /** The next requests (after the shape check) get these replies, in order. */
  script(...replies: FakeReply[]): void;
  close(): Promise<void>;
}

export const VT_API_KEY = 'vt-test-key-0123456789abcdef0123456789abcdef0123456789abcdef01234567';

const vtError = (status: number, code: string, message: string): FakeReply => ({ status, body: { error: { code, message } } });

/** 429 for a used-up daily/monthly quota (no Retry-After: VirusTotal documents none). */
export const vtQuotaExceeded = (): FakeReply => vtError(429, 'QuotaExceededError', 'Quota exceeded');
/** 429 for too many requests at once; `retryAfterSeconds` adds a Retry-After header. */
export const vtTooManyRequests = (retryAfterSeconds?: number): FakeReply => ({
  ...vtError(429, 'TooManyRequestsError', 'Too many requests'),
  ...(retryAfterSeconds !== undefined ? { headers: { 'retry-after': String(retryAfterSeconds) } } : {}),
});
export const vtTransient = (): FakeReply => vtError(503, 'TransientError', 'Try again later');
export const vtHang = (): FakeReply => ({ hang: true });

function fullStats(stats: VtStats) {
  return { malicious: 0, suspicious: 0, harmless: 0, undetected: 0, timeout: 0, ...stats };
}

export async function startVirusTotalFake(options: { now?: () => number; apiKey?: string } = {}): Promise<VirusTotalFake> {
  const server = await startFakeServer({ now: options.now });
  const apiKey = options.apiKey ?? VT_API_KEY;
  const violations: string[] = [];
  const requests: FakeRequest[] = [];
  const scripted: FakeReply[] = [];
  const ips = new Map<string, VtObject>();
  const domains = new Map<string, VtObject>();
  const files = new Map<string, { sha256: string; object: VtObject }>();
  const urls = new Map<string, { url: string; object: VtObject }>();

  const objectReply = (type: string, id: string, object: VtObject): FakeReply => ({
    status: 200,
    body: {
      data: {
        id,
        type,
        links: { self: `https://www.virustotal.com/api/v3/${type}s/${id}` },
        attributes: { last_analysis_date: 1767225600, reputation: 0, ...object.attributes, last_analysis_stats: fullStats(object.stats) },
      },
    },
  });
  const notFound = (what: string) => vtError(404, 'NotFoundError', `${what} not found`);

  server.route('*', /.*/, (request) => {
    if (request.method !== 'GET') {
      violations.push(`${request.method} ${request.path}: lookups are GET`);
      return vtError(405, 'MethodNotAllowedError', 'method not allowed');
    }
    if (request.headers.authorization || request.query.apikey) violations.push(`${request.path}: key sent outside x-apikey`);
    const match = /^\/api\/v3\/(ip_addresses|domains|urls|files)\/([^/]+)$/.exec(request.path);
    if (!match) {
      violations.push(`${request.path}: not a v3 object lookup`);
      return vtError(404, 'NotFoundError', 'Resource not found');
    }
    const next = scripted.shift();
    if (next) return next;
    const presented = request.headers['x-apikey'];
    if (!presented) return vtError(401, 'AuthenticationRequiredError', 'X-Apikey header is missing');
    // Echoes the presented key (some vendors do), so the tests prove the client redacts it.
    if (presented !== apiKey) return vtError(401, 'WrongCredentialsError', `Wrong API key ${presented}`);
    requests.push(request);

    const [, collection, rawId] = match;
    const id = decodeURIComponent(rawId);
    if (collection === 'ip_addresses') {
      const object = ips.get(id);
      return object ? objectReply('ip_address', id, object) : notFound(`IP address "${id}"`);
    }
    if (collection === 'domains') {
      const object = domains.get(id);
      return object ? objectReply('domain', id, object) : notFound(`Domain "${id}"`);
    }
    if (collection === 'files') {
      if (!/^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64})$/i.test(id)) return vtError(400, 'InvalidArgumentError', `Invalid file hash ${id}`);
      const entry = files.get(id.toLowerCase());
      return entry ? objectReply('file', entry.sha256, entry.object) : notFound(`File "${id}"`);
    }
    // urls: the id must be unpadded base64url (or a SHA-256, which this fake does not index).
    if (/[=+/]/.test(id) || !/^[A-Za-z0-9_-]+$/.test(id)) {
      violations.push(`${request.path}: URL id is not unpadded base64url`);
      return vtError(400, 'InvalidArgumentError', 'Invalid URL identifier');
    }
    const entry = urls.get(Buffer.from(id, 'base64url').toString('utf8'));
    return entry ? objectReply('url', sha256Hex(entry.url), entry.object) : notFound(`URL "${id}"`);
  });

  return {
    server,
    baseURL: `${server.url}/api/v3`,
    apiKey,
    violations,
    requests,
    addIp: (ip, object) => void ips.set(ip, object),
    addDomain: (domain, object) => void domains.set(domain, object),
    addFile: (hashes, object) => {
      for (const hash of [hashes.md5, hashes.sha1, hashes.sha256]) if (hash) files.set(hash.toLowerCase(), { sha256: hashes.sha256, object });
    },
    addUrl: (url, object) => void urls.set(url, { url, object }),
    script: (...replies) => void scripted.push(...replies),
    close: () => server.close(),
  };
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
