/**
 * Contract fake for Shodan InternetDB, for the intel provider tests.
 *
 * Follows: https://internetdb.shodan.io/ (GET /{ip}, no authentication, 200
 * `{"cpes":[],"hostnames":[],"ip":"","ports":[int],"tags":[],"vulns":["CVE-…"]}`, 404
 * `{"detail":"No information available"}`), https://book.shodan.io/enterprise/database-files/internetdb
 * (same fields), and docs/vendor-facts.md §B.4 (no published quota; 429 when
 * throttled [D]) and §0.4. The 429 shape is not documented: the variants below cover the hint forms.
 *
 * The fake checks the request shape (GET, a single IP path segment, no credentials sent anywhere)
 * and records breaches in `violations`.
 */
import { isIP } from 'node:net';
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../helpers/fake-server';

export interface InternetDbRecord {
  ports: number[];
  vulns?: string[];
  tags?: string[];
  hostnames?: string[];
  cpes?: string[];
}

export interface InternetDbFake {
  server: FakeServer;
  baseURL: string;
  violations: string[];
  readonly answered: FakeRequest[];
  addIp(ip: string, record: InternetDbRecord): void;
  script(...replies: FakeReply[]): void;
  close(): Promise<void>;
}

export const internetDbThrottled = (retryAfterSeconds?: number): FakeReply => ({
  status: 429,
  body: { detail: 'Too Many Requests' },
  ...(retryAfterSeconds !== undefined ? { headers: { 'retry-after': String(retryAfterSeconds) } } : {}),
});
export const internetDbServerError = (status = 502): FakeReply => ({ status, body: '<html>502 Bad Gateway</html>', headers: { 'content-type': 'text/html' } });
export const internetDbHang = (): FakeReply => ({ hang: true });

export async function startInternetDbFake(options: { now?: () => number } = {}): Promise<InternetDbFake> {
  const server = await startFakeServer({ now: options.now });
  const violations: string[] = [];
  const answered: FakeRequest[] = [];
  const scripted: FakeReply[] = [];
  const records = new Map<string, InternetDbRecord>();

  server.route('*', /.*/, (request) => {
    if (request.method !== 'GET') {
      violations.push(`${request.method} ${request.path}: lookups are GET`);
      return { status: 405, body: { detail: 'Method Not Allowed' } };
    }
    for (const header of ['authorization', 'key', 'x-apikey', 'auth-key']) {
      if (request.headers[header] !== undefined) violations.push(`credential header ${header} sent to a keyless API`);
    }
    if (Object.keys(request.query).length > 0) violations.push(`${request.url}: no query parameters expected`);
    const ip = decodeURIComponent(request.path.slice(1));
    if (!isIP(ip)) {
      violations.push(`${request.path}: not /{ip}`);
      return { status: 404, body: { detail: 'Not Found' } };
    }
    const next = scripted.shift();
    if (next) return next;
    answered.push(request);
    const record = records.get(ip);
    if (!record) return { status: 404, body: { detail: 'No information available' } };
    return {
      status: 200,
      body: { cpes: record.cpes ?? [], hostnames: record.hostnames ?? [], ip, ports: record.ports, tags: record.tags ?? [], vulns: record.vulns ?? [] },
    };
  });

  return {
    server,
    baseURL: server.url,
    violations,
    answered,
    addIp: (ip, record) => void records.set(ip, record),
    script: (...replies) => void scripted.push(...replies),
    close: () => server.close(),
  };
}
