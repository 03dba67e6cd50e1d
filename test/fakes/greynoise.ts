/**
 * Contract fake for the GreyNoise Community API, for the intel provider tests.
 *
 * Follows: https://docs.greynoise.io/reference/getcommunityip (GET /v3/community/{ip}, header `key`
 * (APIKeyHeaderAuth, optional on the community tier), 200 `{ip,noise,riot,classification,name,link,
 * last_seen,message:"Success"}`, 404 `{ip,noise:false,riot:false,message:"IP not observed scanning the
 * internet or contained in RIOT data set."}`), https://docs.greynoise.io/docs/using-the-greynoise-community-api
 * (low quota, 429 when used up), and docs/vendor-facts.md §B.3 and §0.4.
 * Uncertain, from memory [M]: the 429 body wording (`plan`, `rate-limit`, "You have hit your daily rate
 * limit ...") and the 400/401 message texts; the switches below make each variant explicit.
 *
 * The fake checks the request shape (recorded in `violations`) and, with `setLimit`, enforces the
 * lookup quota itself: after `limit` answered lookups every request gets the quota 429.
 */
import { isIP } from 'node:net';
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../helpers/fake-server';

export interface GreyNoiseRecord {
  noise: boolean;
  riot: boolean;
  classification: 'benign' | 'malicious' | 'suspicious' | 'unknown';
  name?: string;
  last_seen?: string;
}

export interface GreyNoiseFake {
  server: FakeServer;
  baseURL: string;
  apiKey: string;
  violations: string[];
  /** Lookups answered from the dataset (200 or the not-observed 404). */
  readonly answered: FakeRequest[];
  addIp(ip: string, record: GreyNoiseRecord): void;
  /** After `limit` answered lookups, answer the quota 429 (no Retry-After). */
  setLimit(limit: number): void;
  script(...replies: FakeReply[]): void;
  close(): Promise<void>;
}

export const GREYNOISE_API_KEY = 'greynoise-test-key-7Yk2Qp9Lm4Vx8Zc1Rt6Wn3Bh5Jd0Fs';

const message = (status: number, text: string): FakeReply => ({ status, body: { message: text } });

/** A throttling 429 that names a wait (Retry-After seconds) and no quota. */
export const greyNoiseSlowDown = (retryAfterSeconds: number): FakeReply => ({
  ...message(429, 'Too many requests, slow down.'),
  headers: { 'retry-after': String(retryAfterSeconds) },
});
/** The quota 429 of the community plan. */
export const greyNoiseQuota = (): FakeReply => ({
  status: 429,
  body: {
    plan: 'community',
    'rate-limit': '50-lookups/week',
    plan_url: 'https://greynoise.io/pricing',
    message: 'You have hit your daily rate limit of 50 requests. Please upgrade your plan at https://greynoise.io/pricing.',
  },
});
export const greyNoiseServerError = (status = 503): FakeReply => message(status, 'Service Unavailable');
export const greyNoiseHang = (): FakeReply => ({ hang: true });

export async function startGreyNoiseFake(options: { now?: () => number; apiKey?: string } = {}): Promise<GreyNoiseFake> {
  const server = await startFakeServer({ now: options.now });
  const apiKey = options.apiKey ?? GREYNOISE_API_KEY;
  const violations: string[] = [];
  const answered: FakeRequest[] = [];
  const scripted: FakeReply[] = [];
  const records = new Map<string, GreyNoiseRecord>();
  let limit = Infinity;

  server.route('*', /.*/, (request) => {
    const match = /^\/v3\/community\/([^/]+)$/.exec(request.path);
    if (!match) {
      violations.push(`${request.method} ${request.path}: not the community endpoint`);
      return message(404, 'Not Found');
    }
    if (request.method !== 'GET') {
      violations.push(`${request.method} ${request.path}: community lookups are GET`);
      return message(405, 'Method Not Allowed');
    }
    if (request.headers.authorization || request.query.key) violations.push('key sent outside the `key` header');
    const ip = decodeURIComponent(match[1]);
    if (isIP(ip) !== 4) return message(400, 'Request is not a valid routable IPv4 address');

    const next = scripted.shift();
    if (next) return next;
    const presented = request.headers.key;
    if (presented !== undefined && presented !== apiKey) return message(401, 'Authentication failed: invalid API key');
    if (answered.length >= limit) return greyNoiseQuota();
    answered.push(request);

    const record = records.get(ip);
    if (!record) {
      return { status: 404, body: { ip, noise: false, riot: false, message: 'IP not observed scanning the internet or contained in RIOT data set.' } };
    }
    return {
      status: 200,
      body: {
        ip,
        noise: record.noise,
        riot: record.riot,
        classification: record.classification,
        name: record.name ?? 'unknown',
        link: `https://viz.greynoise.io/ip/${ip}`,
        last_seen: record.last_seen ?? '2026-01-14',
        message: 'Success',
      },
    };
  });

  return {
    server,
    baseURL: server.url,
    apiKey,
    violations,
    answered,
    addIp: (ip, record) => void records.set(ip, record),
    setLimit: (value) => {
      limit = value;
    },
    script: (...replies) => void scripted.push(...replies),
    close: () => server.close(),
  };
}
