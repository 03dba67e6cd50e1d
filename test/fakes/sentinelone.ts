/**
 * Contract fake for the SentinelOne Management API v2.1 (agents and network quarantine), for the
 * SentinelOne EDR provider tests.
 *
 * Follows: the tenant API doc (https://<tenant>.sentinelone.net/api-doc/overview; "Agents: Get Agents",
 * "Agent Actions: Disconnect From Network / Connect To Network"), the request and answer shapes of
 * Kibana's SentinelOne API emulator (elastic/kibana …/api_emulator/emulator_plugins/sentinelone/routes:
 * POST /web/api/v2.1/agents/actions/disconnect|connect {"filter":{…}} → {"data":{"affected":n}}),
 * `Authorization: ApiToken <token>` as Tracecat's SentinelOne actions send it, and the error envelope
 * {"errors":[{"code","detail","title"}]}. Query parameters (computerName, ids, uuids,
 * networkInterfaceInet__contains) and the 429 Retry-After are as well-used clients use them.
 *
 * networkStatus moves disconnecting → disconnected (connecting → connected) after `pendingReads`
 * agent reads (Infinity: never). `revokeToken()` makes the API token invalid (401). `affectNothing`
 * answers the next action with affected 0. Scripted replies are served first.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../helpers/fake-server';

export const S1_TOKEN = 'eyJraWQiOiJ1cy1lYXN0LTEtcHJvZC0wIiwiYWxnIjoiRVMyNTYifQ.s1-Zq4Wm8Rt2Yp6Lk0Jh';

export interface S1FakeAgent {
  id: string;
  uuid: string;
  computerName: string;
  networkStatus: 'connected' | 'disconnecting' | 'disconnected' | 'connecting';
  lastIpToMgmt: string;
  networkInterfaces: { inet: string[]; inet6: string[]; name: string }[];
}

export interface SentinelOneFake {
  server: FakeServer;
  url: string;
  violations: string[];
  agents: S1FakeAgent[];
  pendingReads: number;
  affectNothing: boolean;
  addAgent(agent: { computerName: string; ip: string; id?: string; networkStatus?: S1FakeAgent['networkStatus'] }): S1FakeAgent;
  revokeToken(): void;
  script(method: string, ...replies: (FakeReply | null)[]): void;
  close(): Promise<void>;
}

const s1Error = (status: number, code: number, title: string, detail: string): FakeReply => ({ status, body: { errors: [{ code, title, detail }] } });

export async function startSentinelOneFake(options: { now?: () => number } = {}): Promise<SentinelOneFake> {
  const server = await startFakeServer({ now: options.now });
  const reads = new Map<string, number>();
  const scripted: { method: string; reply: FakeReply | null }[] = [];
  let tokenValid = true;
  let nextId = 1_900_000_000_000_000_000n;
  const fake: SentinelOneFake = {
    server,
    url: server.url,
    violations: [],
    agents: [],
    pendingReads: 1,
    affectNothing: false,
    addAgent({ computerName, ip, id, networkStatus }) {
      const agent: S1FakeAgent = {
        id: id ?? String(nextId++),
        uuid: randomUUID().replace(/-/g, ''),
        computerName,
        networkStatus: networkStatus ?? 'connected',
        lastIpToMgmt: ip,
        networkInterfaces: [{ name: 'eth0', inet: [ip], inet6: [`fe80::${randomBytes(2).toString('hex')}`] }],
      };
      fake.agents.push(agent);
      return agent;
    },
    revokeToken: () => {
      tokenValid = false;
    },
    script(method, ...replies) {
      for (const reply of replies) scripted.push({ method: method.toUpperCase(), reply });
    },
    close: () => server.close(),
  };

  const step = (agent: S1FakeAgent) => {
    if (agent.networkStatus !== 'disconnecting' && agent.networkStatus !== 'connecting') return;
    const left = (reads.get(agent.id) ?? fake.pendingReads) - 1;
    reads.set(agent.id, left);
    if (left < 0) agent.networkStatus = agent.networkStatus === 'disconnecting' ? 'disconnected' : 'connected';
  };

  server.route('*', /.*/, (request: FakeRequest): FakeReply => {
    const index = scripted.findIndex((entry) => entry.method === request.method);
    const reply = index >= 0 ? scripted.splice(index, 1)[0].reply : null;
    if (reply) return reply;
    if (!request.path.startsWith('/web/api/v2.1/')) {
      fake.violations.push(`${request.method} ${request.path}: not under /web/api/v2.1`);
      return s1Error(404, 4040010, 'Not Found', 'no such endpoint');
    }
    if (!tokenValid || request.headers.authorization !== `ApiToken ${S1_TOKEN}`) {
      if (!/^ApiToken /.test(request.headers.authorization ?? '')) fake.violations.push('Authorization is not "ApiToken <token>"');
      return s1Error(401, 4010010, 'Authentication Failed', 'Unauthorized access');
    }
    const path = request.path.slice('/web/api/v2.1'.length);
    if (request.method === 'GET' && path === '/agents') {
      const q = request.query;
      const known = new Set(['computerName', 'ids', 'uuids', 'networkInterfaceInet__contains', 'limit', 'cursor']);
      for (const name of Object.keys(q)) if (!known.has(name)) fake.violations.push(`GET /agents: unexpected parameter ${name}`);
      const list = (v?: string) => (v === undefined ? undefined : v.split(','));
      const found = fake.agents.filter(
        (a) =>
          (q.computerName === undefined || a.computerName.toLowerCase() === q.computerName.toLowerCase()) &&
          (list(q.ids)?.includes(a.id) ?? true) &&
          (list(q.uuids)?.includes(a.uuid) ?? true) &&
          (q.networkInterfaceInet__contains === undefined || a.networkInterfaces.some((n) => n.inet.some((i) => i.includes(q.networkInterfaceInet__contains)))),
      );
      for (const agent of found) step(agent);
      return { body: { data: found, pagination: { nextCursor: null, totalItems: found.length } } };
    }
    const action = /^\/agents\/actions\/(disconnect|connect)$/.exec(path);
    if (request.method === 'POST' && action) {
      const ids = (request.json as { filter?: { ids?: unknown } } | undefined)?.filter?.ids;
      if (!/application\/json/.test(request.headers['content-type'] ?? '') || !Array.isArray(ids) || ids.length === 0) {
        fake.violations.push(`${action[1]}: body is not {"filter":{"ids":[…]}}`);
        return s1Error(400, 4000010, 'Validation Error', 'filter is required');
      }
      if (fake.affectNothing) {
        fake.affectNothing = false;
        return { body: { data: { affected: 0 } } };
      }
      let affected = 0;
      for (const agent of fake.agents.filter((a) => ids.includes(a.id))) {
        agent.networkStatus = action[1] === 'disconnect' ? 'disconnecting' : 'connecting';
        reads.set(agent.id, fake.pendingReads);
        affected++;
      }
      return { body: { data: { affected } } };
    }
    fake.violations.push(`${request.method} ${request.path}: no such endpoint`);
    return s1Error(404, 4040010, 'Not Found', 'no such endpoint');
  });
  return fake;
}
