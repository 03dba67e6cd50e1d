/**
 * Contract fake for the abuse.ch URLhaus API v1 lookups, for the intel provider tests.
 *
 * Follows: https://urlhaus-api.abuse.ch/ — "Obtain an Auth-Key (Required)" (header `Auth-Key`),
 * "Query URL information" (POST /v1/url/, form `url`), "Query host information" (POST /v1/host/, form
 * `host`), "Query payload information" (POST /v1/payload/, form `md5_hash` or `sha256_hash`); answers
 * carry `query_status` (`ok`, `no_results`, `invalid_url`, `invalid_host`, `invalid_md5`,
 * `invalid_sha256`, `http_post_expected`, `unknown_auth_key`) with HTTP 200. Field lists follow the
 * doc's examples (numbers as strings, e.g. `url_count: "12"`). Also docs/vendor-facts.md
 * §0.1, §B.5 and §0.4. Whether a bad key comes with HTTP 200 or 401 is not settled [M]: `authFailureStatus`
 * picks it.
 *
 * The fake checks the request shape (POST, form encoding, the field per endpoint, key only in the
 * header) and records breaches in `violations`.
 */
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../helpers/fake-server';

export interface UrlhausUrlEntry {
  url_status: 'online' | 'offline' | 'unknown';
  threat?: string;
  tags?: string[];
  date_added?: string;
  spamhaus_dbl?: string;
}

export interface UrlhausHostEntry {
  urls: { url: string; url_status: 'online' | 'offline' | 'unknown'; tags?: string[] }[];
  firstseen?: string;
  spamhaus_dbl?: string;
  surbl?: string;
}

export interface UrlhausPayloadEntry {
  md5: string;
  sha256: string;
  file_type: string;
  file_size: number;
  signature: string | null;
  url_count: number;
}

export interface UrlhausFake {
  server: FakeServer;
  baseURL: string;
  apiKey: string;
  violations: string[];
  /** Lookups that passed the shape and key checks. */
  readonly answered: FakeRequest[];
  addUrl(url: string, entry: UrlhausUrlEntry): void;
  addHost(host: string, entry: UrlhausHostEntry): void;
  addPayload(entry: UrlhausPayloadEntry): void;
  /** HTTP status of the `unknown_auth_key` answer (default 200). */
  authFailureStatus: number;
  script(...replies: FakeReply[]): void;
  close(): Promise<void>;
}

export const URLHAUS_AUTH_KEY = 'urlhaus-test-auth-key-0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b';

const status = (query_status: string, httpStatus = 200): FakeReply => ({ status: httpStatus, body: { query_status } });
export const urlhausServerError = (httpStatus = 502): FakeReply => ({ status: httpStatus, body: 'Bad Gateway', headers: { 'content-type': 'text/plain' } });
export const urlhausThrottled = (retryAfterSeconds: number): FakeReply => ({
  status: 429,
  body: 'Too Many Requests',
  headers: { 'retry-after': String(retryAfterSeconds), 'content-type': 'text/plain' },
});
export const urlhausHang = (): FakeReply => ({ hang: true });

const HOST_NAME = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/i;
const IPV4 = /^(?:\d{1,3}\.){3}\d{1,3}$/;

export async function startUrlhausFake(options: { now?: () => number; apiKey?: string } = {}): Promise<UrlhausFake> {
  const server = await startFakeServer({ now: options.now });
  const apiKey = options.apiKey ?? URLHAUS_AUTH_KEY;
  const violations: string[] = [];
  const answered: FakeRequest[] = [];
  const scripted: FakeReply[] = [];
  const urls = new Map<string, { id: number; entry: UrlhausUrlEntry }>();
  const hosts = new Map<string, UrlhausHostEntry>();
  const payloads = new Map<string, UrlhausPayloadEntry>();
  let nextId = 3_100_000;

  const fake: UrlhausFake = {
    server,
    baseURL: `${server.url}/v1`,
    apiKey,
    violations,
    answered,
    authFailureStatus: 200,
    addUrl: (url, entry) => void urls.set(url, { id: nextId++, entry }),
    addHost: (host, entry) => void hosts.set(host, entry),
    addPayload: (entry) => {
      payloads.set(entry.md5, entry);
      payloads.set(entry.sha256, entry);
    },
    script: (...replies) => void scripted.push(...replies),
    close: () => server.close(),
  };

  server.route('*', /.*/, (request) => {
    const endpoint = /^\/v1\/(url|host|payload)\/$/.exec(request.path)?.[1];
    if (!endpoint) {
      violations.push(`${request.method} ${request.path}: not a lookup endpoint`);
      return { status: 404, body: 'Not Found', headers: { 'content-type': 'text/plain' } };
    }
    if (request.method !== 'POST') {
      violations.push(`${request.method} ${request.path}: lookups are POST`);
      return status('http_post_expected');
    }
    if (!/application\/x-www-form-urlencoded/.test(request.headers['content-type'] ?? '')) violations.push(`${request.path}: body is not form-encoded`);
    if (Object.keys(request.query).length > 0) violations.push(`${request.url}: fields belong in the form body`);
    const form = request.form ?? {};
    if (Object.values(form).includes(apiKey) || request.headers.authorization) violations.push('key sent outside the Auth-Key header');

    const next = scripted.shift();
    if (next) return next;
    if (request.headers['auth-key'] !== apiKey) return status('unknown_auth_key', fake.authFailureStatus);

    if (endpoint === 'url') {
      const url = form.url;
      if (!url || !/^https?:\/\/\S+$/i.test(url)) return status('invalid_url');
      answered.push(request);
      const known = urls.get(url);
      if (!known) return status('no_results');
      const { id, entry } = known;
      return {
        status: 200,
        body: {
          query_status: 'ok',
          id: String(id),
          urlhaus_reference: `https://urlhaus.abuse.ch/url/${id}/`,
          url,
          url_status: entry.url_status,
          host: new URL(url).hostname,
          date_added: entry.date_added ?? '2026-01-10 08:15:02 UTC',
          last_online: null,
          threat: entry.threat ?? 'malware_download',
          blacklists: { spamhaus_dbl: entry.spamhaus_dbl ?? 'not listed', surbl: 'not listed' },
          reporter: 'abuse_ch',
          larted: 'true',
          takedown_time_seconds: null,
          tags: entry.tags ?? null,
          payloads: [],
        },
      };
    }

    if (endpoint === 'host') {
      const host = form.host;
      if (!host || !(HOST_NAME.test(host) || IPV4.test(host))) return status('invalid_host');
      answered.push(request);
      const entry = hosts.get(host);
      if (!entry) return status('no_results');
      return {
        status: 200,
        body: {
          query_status: 'ok',
          urlhaus_reference: `https://urlhaus.abuse.ch/host/${host}/`,
          host,
          firstseen: entry.firstseen ?? '2025-11-02 10:00:00 UTC',
          url_count: String(entry.urls.length),
          blacklists: { spamhaus_dbl: entry.spamhaus_dbl ?? 'not listed', surbl: entry.surbl ?? 'not listed' },
          urls: entry.urls.map((listed, index) => ({
            id: String(9_000_000 + index),
            urlhaus_reference: `https://urlhaus.abuse.ch/url/${9_000_000 + index}/`,
            url: listed.url,
            url_status: listed.url_status,
            date_added: '2026-01-01 00:00:00 UTC',
            threat: 'malware_download',
            reporter: 'abuse_ch',
            larted: 'false',
            takedown_time_seconds: null,
            tags: listed.tags ?? null,
          })),
        },
      };
    }

    const md5 = form.md5_hash;
    const sha256 = form.sha256_hash;
    if (md5 === undefined && sha256 === undefined) return status('invalid_md5');
    if (md5 !== undefined && !/^[0-9a-f]{32}$/i.test(md5)) return status('invalid_md5');
    if (sha256 !== undefined && !/^[0-9a-f]{64}$/i.test(sha256)) return status('invalid_sha256');
    answered.push(request);
    const entry = payloads.get((md5 ?? sha256 ?? '').toLowerCase());
    if (!entry) return status('no_results');
    return {
      status: 200,
      body: {
        query_status: 'ok',
        md5_hash: entry.md5,
        sha256_hash: entry.sha256,
        file_type: entry.file_type,
        file_size: String(entry.file_size),
        signature: entry.signature,
        firstseen: '2026-01-05 12:00:00',
        lastseen: '2026-01-14 18:30:00',
        url_count: String(entry.url_count),
        urlhaus_download: `https://urlhaus-api.abuse.ch/v1/download/${entry.sha256}/`,
        virustotal: null,
        imphash: null,
        ssdeep: null,
        tlsh: null,
        urls: [],
      },
    };
  });

  return fake;
}
