/**
 * Contract fake for the Wazuh manager API 4.x (login, agents, active response), for the Wazuh EDR
 * provider tests.
 *
 * Follows: https://documentation.wazuh.com/current/user-manual/api/reference.html (POST
 * /security/user/authenticate with Basic → {"data":{"token"},"error":0}; GET /agents with
 * agents_list/name/ip/select/limit → {"data":{"affected_items","total_affected_items","failed_items",
 * "total_failed_items"},"message","error"}; PUT /active-response?agents_list= {"command","arguments",
 * "alert"}), https://documentation.wazuh.com/current/user-manual/api/configuration.html (token 900 s,
 * max_request_per_minute), and the per-agent failures of wazuh/wazuh api/test/integration
 * test_active_response_endpoints.tavern.yaml (HTTP 200, error 1 = all failed, 2 = partial; codes 1651
 * agent not active, 1701 agent does not exist). The 429 body shape is a guess: no vendor page gives it.
 *
 * `expireTokens()` invalidates every JWT (401 next). Scripted replies are served first.
 */
import { randomBytes } from 'node:crypto';
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../helpers/fake-server';

export const WAZUH_USER = 'soar-api';
export const WAZUH_PASSWORD = 'Wz-P4ssw0rd.Qk7*Lm2?Tn9';

export interface WazuhFakeAgent {
  id: string;
  name: string;
  ip: string;
  status: 'active' | 'disconnected' | 'never_connected' | 'pending';
}

export interface WazuhFake {
  server: FakeServer;
  url: string;
  violations: string[];
  agents: WazuhFakeAgent[];
  /** Every active-response run an agent took: agent id, command, alert. */
  runs: { agent: string; command: string; alert: unknown }[];
  tokensIssued: string[];
  expireTokens(): void;
  script(method: string, ...replies: (FakeReply | null)[]): void;
  rateLimited(): FakeReply;
  close(): Promise<void>;
}

const problem = (status: number, title: string, detail: string, error?: number): FakeReply => ({
  status,
  body: { title, detail, ...(error !== undefined ? { error } : {}) },
});

export async function startWazuhFake(options: { now?: () => number } = {}): Promise<WazuhFake> {
  const now = options.now ?? Date.now;
  const server = await startFakeServer({ now });
  const tokens = new Map<string, number>();
  const scripted: { method: string; reply: FakeReply | null }[] = [];
  const fake: WazuhFake = {
    server,
    url: server.url,
    violations: [],
    agents: [{ id: '000', name: 'wazuh-manager', ip: '127.0.0.1', status: 'active' }],
    runs: [],
    tokensIssued: [],
    expireTokens: () => tokens.clear(),
    script(method, ...replies) {
      for (const reply of replies) scripted.push({ method: method.toUpperCase(), reply });
    },
    rateLimited: () => problem(429, 'Too Many Requests', 'Maximum number of requests per minute reached', 6001),
    close: () => server.close(),
  };

  const items = (affected: unknown[], failed: { error: { code: number; message: string; remediation?: string }; id: string[] }[], message: string) => {
    const totalFailed = failed.reduce((n, f) => n + f.id.length, 0);
    return {
      data: { affected_items: affected, total_affected_items: affected.length, failed_items: failed, total_failed_items: totalFailed },
      message,
      error: totalFailed === 0 ? 0 : affected.length === 0 ? 1 : 2,
    };
  };

  server.route('*', /.*/, (request: FakeRequest): FakeReply => {
    const index = scripted.findIndex((entry) => entry.method === request.method);
    const reply = index >= 0 ? scripted.splice(index, 1)[0].reply : null;
    if (reply) return reply;

    if (request.path === '/security/user/authenticate') {
      const basic = /^Basic (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (request.method !== 'POST' || !basic) {
        fake.violations.push(`login: ${request.method} without Basic auth`);
        return problem(401, 'Unauthorized', 'No authorization token provided');
      }
      if (Buffer.from(basic, 'base64').toString('utf8') !== `${WAZUH_USER}:${WAZUH_PASSWORD}`) return problem(401, 'Unauthorized', 'Invalid credentials');
      const token = `eyJhbGciOiJFUzUxMiJ9.${randomBytes(30).toString('base64url')}`;
      tokens.set(token, now() + 900_000);
      fake.tokensIssued.push(token);
      return { body: { data: { token }, error: 0 } };
    }
    const bearer = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
    const expiry = bearer ? tokens.get(bearer) : undefined;
    if (expiry === undefined || expiry <= now()) return problem(401, 'Unauthorized', 'Invalid token');

    if (request.method === 'GET' && request.path === '/agents') {
      const q = request.query;
      for (const name of Object.keys(q))
        if (!['agents_list', 'name', 'ip', 'select', 'limit', 'offset'].includes(name)) fake.violations.push(`GET /agents: unexpected parameter ${name}`);
      const ids = q.agents_list?.split(',');
      const found = fake.agents.filter(
        (a) => (!ids || ids.includes(a.id)) && (q.name === undefined || a.name === q.name) && (q.ip === undefined || a.ip === q.ip),
      );
      const fields = q.select?.split(',');
      const view = (a: WazuhFakeAgent) => (fields ? Object.fromEntries(Object.entries(a).filter(([k]) => fields.includes(k))) : a);
      return { body: items(found.map(view), [], found.length ? 'All selected agents information was returned' : 'No agent information was returned') };
    }
    if (request.method === 'PUT' && request.path === '/active-response') {
      const body = request.json as { command?: unknown; arguments?: unknown; alert?: unknown } | undefined;
      if (!/application\/json/.test(request.headers['content-type'] ?? '') || typeof body?.command !== 'string' || !body.command) {
        fake.violations.push('PUT /active-response: body without a command');
        return problem(400, 'Bad Request', "'command' is a required property");
      }
      if (body.arguments !== undefined && !Array.isArray(body.arguments)) fake.violations.push('PUT /active-response: arguments is not an array');
      if (!request.query.agents_list) fake.violations.push('PUT /active-response without agents_list would run on every agent');
      const affected: string[] = [];
      const failed = new Map<number, { error: { code: number; message: string }; id: string[] }>();
      const fail = (code: number, message: string, id: string) => {
        const entry = failed.get(code) ?? { error: { code, message }, id: [] };
        entry.id.push(id);
        failed.set(code, entry);
      };
      for (const id of (request.query.agents_list ?? '').split(',')) {
        const agent = fake.agents.find((a) => a.id === id);
        if (!agent) fail(1701, 'Agent does not exist', id);
        else if (id === '000') fail(1652, 'The command cannot be executed on the manager', id);
        else if (agent.status !== 'active') fail(1651, 'Active response - Agent is not active', id);
        else {
          affected.push(id);
          fake.runs.push({ agent: id, command: body.command, alert: body.alert });
        }
      }
      const message =
        failed.size === 0
          ? 'AR command was sent to all agents'
          : affected.length
            ? 'AR command was sent to some agents'
            : 'AR command was not sent to any agent';
      return { body: items(affected, [...failed.values()], message) };
    }
    fake.violations.push(`${request.method} ${request.path}: no such endpoint`);
    return problem(404, 'Not Found', 'no such endpoint');
  });
  return fake;
}
