/**
 * Contract fake for the AbuseIPDB API v2 `check` endpoint, for the intel provider tests.
 *
 * Follows: https://docs.abuseipdb.com/#check-endpoint (GET /api/v2/check?ipAddress=&maxAgeInDays=,
 * headers `Key` and `Accept: application/json`, `data{ipAddress,isPublic,ipVersion,isWhitelisted,
 * abuseConfidenceScore,countryCode,usageType,isp,domain,hostnames,isTor,totalReports,numDistinctUsers,
 * lastReportedAt}`), https://docs.abuseipdb.com/#rate-limiting (X-RateLimit-Limit/-Remaining/-Reset,
 * 429 with Retry-After when the daily limit is used up), https://docs.abuseipdb.com/#error-handling
 * (JSON:API `{"errors":[{"detail","status","source"}]}`), and docs/vendor-facts.md
 * §B.2 and §0.4.
 *
 * The fake enforces the request shape (wrong method/path/headers/params are answered like AbuseIPDB
 * would and recorded in `violations`) and, when `setDailyLimit` is used, the daily quota itself:
 * once used up it answers 429 "Daily rate limit ..." until the next 00:00 UTC on its clock.
 */
import { isIP } from 'node:net';
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../helpers/fake-server';

export interface AbuseIpdbRecord {
  abuseConfidenceScore: number;
  totalReports: number;
  numDistinctUsers?: number;
  isWhitelisted?: boolean | null;
  lastReportedAt?: string | null;
  countryCode?: string;
  usageType?: string;
  isp?: string;
  domain?: string;
  isTor?: boolean;
}

export type DailyLimitHint = 'retry-after' | 'reset-epoch';

export interface AbuseIpdbFake {
  server: FakeServer;
  baseURL: string;
  apiKey: string;
  violations: string[];
  /** Check requests that passed auth and the quota and were answered from the dataset. */
  readonly answered: FakeRequest[];
  addIp(ip: string, record: AbuseIpdbRecord): void;
  /** Enforce a daily quota of `limit` checks; `hint` picks which header(s) the 429 carries. */
  setDailyLimit(limit: number, hint?: DailyLimitHint): void;
  script(...replies: FakeReply[]): void;
  close(): Promise<void>;
}

export const ABUSEIPDB_API_KEY = 'abuseipdb-test-key-5f1c0e9a7b3d2c4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f';
const DAY_MS = 86_400_000;

const jsonApiError = (status: number, detail: string, parameter?: string): FakeReply => ({
  status,
  body: { errors: [{ detail, status, ...(parameter ? { source: { parameter } } : {}) }] },
});

/** A short-window 429 with Retry-After seconds and no daily wording. */
export const abuseTooManyRequests = (retryAfterSeconds: number): FakeReply => ({
  ...jsonApiError(429, 'Too Many Requests.'),
  headers: { 'retry-after': String(retryAfterSeconds) },
});
export const abuseServerError = (status = 502): FakeReply => ({ status, body: 'Bad Gateway', headers: { 'content-type': 'text/html' } });
export const abuseHang = (): FakeReply => ({ hang: true });

export async function startAbuseIpdbFake(options: { now?: () => number; apiKey?: string } = {}): Promise<AbuseIpdbFake> {
  const now = options.now ?? Date.now;
  const server = await startFakeServer({ now });
  const apiKey = options.apiKey ?? ABUSEIPDB_API_KEY;
  const violations: string[] = [];
  const answered: FakeRequest[] = [];
  const scripted: FakeReply[] = [];
  const records = new Map<string, AbuseIpdbRecord>();
  let dailyLimit = Infinity;
  let limitHint: DailyLimitHint = 'retry-after';
  let usedToday = 0;
  let dayEndsAt = 0;

  const rollDay = () => {
    const current = now();
    if (current >= dayEndsAt) {
      usedToday = 0;
      dayEndsAt = Math.floor(current / DAY_MS) * DAY_MS + DAY_MS;
    }
  };

  server.route('*', /.*/, (request) => {
    if (request.path !== '/api/v2/check') {
      violations.push(`${request.method} ${request.path}: not the check endpoint`);
      return jsonApiError(404, 'Not found');
    }
    if (request.method !== 'GET') {
      violations.push(`${request.method} ${request.path}: check is GET`);
      return jsonApiError(405, 'Method not allowed');
    }
    if (!/application\/json/.test(request.headers.accept ?? '')) violations.push('Accept: application/json missing');
    if (request.query.key || request.headers.authorization) violations.push('key sent outside the Key header');
    const ip = request.query.ipAddress;
    if (!ip || !isIP(ip)) return jsonApiError(422, 'The ip address must be a valid IPv4 or IPv6 address (e.g. 8.8.8.8 or 2001:4860:4860::8888).', 'ipAddress');
    const maxAge = Number(request.query.maxAgeInDays ?? '30');
    if (!Number.isInteger(maxAge) || maxAge < 1 || maxAge > 365) return jsonApiError(422, 'The max age in days must be between 1 and 365.', 'maxAgeInDays');

    const next = scripted.shift();
    if (next) return next;
    if (request.headers.key !== apiKey) {
      return jsonApiError(401, 'Authentication failed. Your API key is either missing, incorrect, or revoked. Note: The APIv2 key differs from the APIv1 key.');
    }

    rollDay();
    const resetEpochSeconds = Math.floor(dayEndsAt / 1000);
    if (usedToday >= dailyLimit) {
      const headers: Record<string, string> = {
        'x-ratelimit-limit': String(dailyLimit),
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(resetEpochSeconds),
      };
      if (limitHint === 'retry-after') headers['retry-after'] = String(Math.ceil((dayEndsAt - now()) / 1000));
      return { ...jsonApiError(429, `Daily rate limit of ${dailyLimit} requests exceeded for this endpoint. See headers for additional details.`), headers };
    }
    usedToday++;
    answered.push(request);
    const record = records.get(ip) ?? { abuseConfidenceScore: 0, totalReports: 0, numDistinctUsers: 0, lastReportedAt: null };
    return {
      status: 200,
      headers: Number.isFinite(dailyLimit) ? { 'x-ratelimit-limit': String(dailyLimit), 'x-ratelimit-remaining': String(dailyLimit - usedToday) } : {},
      body: {
        data: {
          ipAddress: ip,
          isPublic: true,
          ipVersion: isIP(ip),
          isWhitelisted: null,
          countryCode: 'ZZ',
          usageType: 'Data Center/Web Hosting/Transit',
          isp: 'Example Hosting',
          domain: 'example.net',
          hostnames: [],
          isTor: false,
          numDistinctUsers: 0,
          lastReportedAt: null,
          ...record,
        },
      },
    };
  });

  return {
    server,
    baseURL: `${server.url}/api/v2`,
    apiKey,
    violations,
    answered,
    addIp: (ip, record) => void records.set(ip, record),
    setDailyLimit: (limit, hint = 'retry-after') => {
      dailyLimit = limit;
      limitHint = hint;
    },
    script: (...replies) => void scripted.push(...replies),
    close: () => server.close(),
  };
}
