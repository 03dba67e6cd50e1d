/**
 * Contract fake for the pfSense REST API v2 (pfSense-pkg-RESTAPI, "pfrest"), firewall alias endpoints,
 * for the pfSense firewall provider tests.
 *
 * Follows: jaredhendrickson13/pfsense-api docs/AUTHENTICATION_AND_AUTHORIZATION.md (X-API-Key, Basic,
 * JWT from POST /api/v2/auth/jwt -> {"code":200,"status":"ok","response_id":"SUCCESS","message":"",
 * "data":{"token"}}), docs/COMMON_CONTROL_PARAMETERS.md and WORKING_WITH_OBJECT_IDS.md (the id is the
 * config array index; plural endpoints filter by query), Models/FirewallAlias.inc (name, type, descr,
 * address[], detail[]), the generated Swagger (GET /api/v2/firewall/aliases, PATCH /api/v2/firewall/alias,
 * POST /api/v2/firewall/apply), and docs/vendor-facts.md §C.4 and §0.4.
 *
 * Every answer uses the envelope {code, status, response_id, message, data}. The fake checks the
 * request shape (auth header, JSON body, id present, address array, detail not longer than address)
 * and records departures in `violations`. `applied` is the list the filter enforces: it only changes on
 * POST /firewall/apply. Scripted replies (`script(pathEnd, ...)`, `null` = let that one through) are
 * served, in order, to the next requests whose path ends with `pathEnd`, before the state answers.
 */
import { createHmac } from 'node:crypto';
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../helpers/fake-server';

export const PFSENSE_API_KEY = 'pf-key-5a0d2e7c9b1f4a3e8d6c0b2a4f6e8d1c';
export const PFSENSE_USER = 'soar-api';
export const PFSENSE_PASSWORD = 'pf-pass-Xr4#Tq9!mZ2@vL7$';

export interface PfAliasState {
  name: string;
  type: 'host' | 'network' | 'port' | 'url';
  descr: string;
  address: string[];
  detail: string[];
}

export interface PfsenseFake {
  server: FakeServer;
  url: string;
  violations: string[];
  /** The configured aliases; the array index is the pfrest id. */
  aliases: PfAliasState[];
  /** Address list per alias name as last applied to the filter. */
  applied: Map<string, string[]>;
  /** JWTs issued so far (the last one is valid, unless revoked). */
  tokens: string[];
  /** Lifetime of issued tokens in seconds (JWT exp). */
  tokenLifetimeSeconds: number;
  revokeTokens(): void;
  script(pathEnd: string, ...replies: (FakeReply | null)[]): void;
  close(): Promise<void>;
}

export const pfEnvelope = (code: number, responseId: string, message = '', data: unknown = []): FakeReply => ({
  status: code,
  body: {
    code,
    status: code < 300 ? 'ok' : code === 401 ? 'unauthorized' : code === 404 ? 'not found' : 'bad request',
    response_id: responseId,
    message,
    data,
  },
});

/** The same failure envelope, but with HTTP 200 (a proxy or an older package that hides the status). */
export const pfFailureIn200 = (code: number, responseId: string, message: string): FakeReply => ({
  status: 200,
  body: { code, status: 'bad request', response_id: responseId, message, data: [] },
});

export async function startPfsenseFake(options: { now?: () => number } = {}): Promise<PfsenseFake> {
  const now = options.now ?? Date.now;
  const server = await startFakeServer({ now });
  const scripted: { pathPart: string; reply: FakeReply | null }[] = [];
  const basic = `Basic ${Buffer.from(`${PFSENSE_USER}:${PFSENSE_PASSWORD}`).toString('base64')}`;
  const revoked = new Set<string>();
  const fake: PfsenseFake = {
    server,
    url: server.url,
    violations: [],
    aliases: [
      { name: 'lan_servers', type: 'host', descr: 'not ours', address: ['192.0.2.10'], detail: ['web'] },
      { name: 'soar_block', type: 'network', descr: 'SOAR', address: [], detail: [] },
    ],
    applied: new Map([['soar_block', []]]),
    tokens: [],
    tokenLifetimeSeconds: 3600,
    revokeTokens() {
      for (const token of fake.tokens) revoked.add(token);
    },
    script(pathPart, ...replies) {
      for (const reply of replies) scripted.push({ pathPart, reply });
    },
    close: () => server.close(),
  };

  const issueToken = (): string => {
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(
      JSON.stringify({ iss: 'pfsense', sub: PFSENSE_USER, exp: Math.floor(now() / 1000) + fake.tokenLifetimeSeconds, n: fake.tokens.length }),
    ).toString('base64url');
    const signature = createHmac('sha256', 'fake-server-key').update(`${header}.${payload}`).digest('base64url');
    const token = `${header}.${payload}.${signature}`;
    fake.tokens.push(token);
    return token;
  };

  const authorised = (request: FakeRequest): boolean => {
    if (request.headers['x-api-key'] !== undefined) return request.headers['x-api-key'] === PFSENSE_API_KEY;
    const authorization = request.headers.authorization ?? '';
    if (authorization.startsWith('Basic ')) return authorization === basic;
    if (authorization.startsWith('Bearer ')) {
      const token = authorization.slice(7);
      if (!fake.tokens.includes(token) || revoked.has(token)) return false;
      const exp = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).exp as number;
      return exp * 1000 > now();
    }
    return false;
  };

  server.route('*', /.*/, (request) => {
    if (request.path === '/api/v2/auth/jwt') {
      if (request.method !== 'POST') {
        fake.violations.push(`${request.method} /auth/jwt: needs POST`);
        return pfEnvelope(405, 'ENDPOINT_METHOD_NOT_ALLOWED');
      }
      // Only Basic auth may obtain a JWT.
      if (request.headers.authorization !== basic) return pfEnvelope(401, 'AUTH_AUTHENTICATION_FAILED', 'Authentication failed.');
      return pfEnvelope(200, 'SUCCESS', '', { token: issueToken() });
    }
    if (!authorised(request)) return pfEnvelope(401, 'AUTH_AUTHENTICATION_FAILED', 'Authentication failed.');
    const index = scripted.findIndex((entry) => request.path.endsWith(entry.pathPart));
    const reply = index >= 0 ? scripted.splice(index, 1)[0].reply : null;
    if (reply) return reply;

    if (request.path === '/api/v2/firewall/aliases' && request.method === 'GET') {
      const rows = fake.aliases
        .map((alias, id) => ({ id, ...alias }))
        .filter((row) =>
          Object.entries(request.query).every(([key, value]) => key === 'limit' || key === 'offset' || String((row as Record<string, unknown>)[key]) === value),
        );
      return pfEnvelope(200, 'SUCCESS', '', rows);
    }
    if (request.path === '/api/v2/firewall/alias' && request.method === 'PATCH') {
      const body = request.json as { id?: unknown; address?: unknown; detail?: unknown; name?: unknown } | undefined;
      if (!/application\/json/.test(request.headers['content-type'] ?? '') || !body) {
        fake.violations.push('PATCH /firewall/alias: not a JSON body');
        return pfEnvelope(400, 'INVALID_REQUEST_BODY');
      }
      if (typeof body.id !== 'number' || !fake.aliases[body.id])
        return pfEnvelope(404, 'MODEL_OBJECT_NOT_FOUND', `Object with ID ${String(body.id)} does not exist`);
      if (body.name !== undefined) fake.violations.push('PATCH /firewall/alias: name is not editable');
      const alias = fake.aliases[body.id];
      if (!Array.isArray(body.address) || body.address.some((a) => typeof a !== 'string'))
        return pfEnvelope(400, 'FIELD_INVALID_TYPE', 'Field `address` must be of type `array`');
      if (body.detail !== undefined && (!Array.isArray(body.detail) || body.detail.length > body.address.length)) {
        return pfEnvelope(400, 'FIREWALL_ALIAS_DETAIL_FIELD_EXCEEDS_ADDRESS_FIELD', 'Field `detail` cannot have more items than `address`.');
      }
      if (alias.type === 'host' && (body.address as string[]).some((a) => a.includes('/'))) {
        return pfEnvelope(400, 'INVALID_HOST_ALIAS_ADDRESS', 'Host alias `address` values must be valid IPs or FQDNs.');
      }
      alias.address = [...(body.address as string[])];
      if (Array.isArray(body.detail)) alias.detail = (body.detail as unknown[]).map(String);
      return pfEnvelope(200, 'SUCCESS', '', { id: body.id, ...alias });
    }
    if (request.path === '/api/v2/firewall/apply' && request.method === 'POST') {
      for (const alias of fake.aliases) fake.applied.set(alias.name, [...alias.address]);
      return pfEnvelope(200, 'SUCCESS', '', { applied: true, pending_subsystems: [] });
    }
    fake.violations.push(`${request.method} ${request.path}: no such endpoint`);
    return pfEnvelope(404, 'ENDPOINT_NOT_FOUND');
  });
  return fake;
}
