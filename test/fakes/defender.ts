/**
 * Contract fake for Microsoft Defender for Endpoint machine isolation (and the Entra ID token
 * endpoint), for the Defender EDR provider tests.
 *
 * Follows: https://learn.microsoft.com/en-us/defender-endpoint/api/isolate-machine (POST
 * /api/machines/{id}/isolate {"Comment","IsolationType":"Full"|"Selective"} → 201 MachineAction),
 * https://learn.microsoft.com/en-us/defender-endpoint/api/unisolate-machine ({"Comment"}),
 * https://learn.microsoft.com/en-us/defender-endpoint/api/get-machineaction-object and
 * .../api/machineaction (status Pending|InProgress|Succeeded|Failed|TimeOut|Cancelled),
 * https://learn.microsoft.com/en-us/defender-endpoint/api/get-machines (OData $filter on
 * computerDnsName, lastIpAddress), https://learn.microsoft.com/en-us/defender-endpoint/api/exposed-apis-create-app-webapp
 * (client-credentials token from login.microsoftonline.com/<tenant>/oauth2/v2.0/token, scope
 * https://api.securitycenter.microsoft.com/.default), and the API limits (100/min; 429 + Retry-After).
 * The duplicate-action answer (400, error.code "ActiveRequestAlreadyExists") is as integrations
 * report it, not from a Microsoft page.
 *
 * Login and API share this one server (the provider gets both roots pointing here). An isolate stays
 * Pending/InProgress for `pendingReads` reads of the action (Infinity: never ends); `nextOutcome` sets
 * how it ends. `expireTokens()` invalidates every token. Scripted replies are served first.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../helpers/fake-server';

export const MDE_TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const MDE_CLIENT_ID = '0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d';
export const MDE_CLIENT_SECRET = 'mdeSecret~Xq8.Lw2Nx7Rv5Tb1Yc9Hd4Mf6Ps0GaZk';

export interface MdeMachine {
  id: string;
  computerDnsName: string;
  lastIpAddress: string;
  lastExternalIpAddress?: string;
}

export interface MdeAction {
  id: string;
  type: 'Isolate' | 'Unisolate';
  scope?: string;
  status: 'Pending' | 'InProgress' | 'Succeeded' | 'Failed' | 'TimeOut' | 'Cancelled';
  machineId: string;
  requestor: string;
  requestorComment: string;
  creationDateTimeUtc: string;
  lastUpdateDateTimeUtc: string;
  cancellationComment?: string;
}

export interface DefenderFake {
  server: FakeServer;
  url: string;
  violations: string[];
  machines: MdeMachine[];
  actions: MdeAction[];
  pendingReads: number;
  nextOutcome: MdeAction['status'];
  tokensIssued: string[];
  addMachine(machine: Partial<MdeMachine> & { computerDnsName: string; lastIpAddress: string }): MdeMachine;
  expireTokens(): void;
  script(method: string, ...replies: (FakeReply | null)[]): void;
  close(): Promise<void>;
}

const odataError = (status: number, code: string, message: string): FakeReply => ({ status, body: { error: { code, message, target: randomUUID() } } });

export async function startDefenderFake(options: { now?: () => number } = {}): Promise<DefenderFake> {
  const now = options.now ?? Date.now;
  const server = await startFakeServer({ now });
  const tokens = new Map<string, number>();
  const reads = new Map<string, number>();
  const scripted: { method: string; reply: FakeReply | null }[] = [];
  const fake: DefenderFake = {
    server,
    url: server.url,
    violations: [],
    machines: [],
    actions: [],
    pendingReads: 1,
    nextOutcome: 'Succeeded',
    tokensIssued: [],
    addMachine(machine) {
      const stored: MdeMachine = { id: machine.id ?? randomBytes(20).toString('hex'), ...machine };
      fake.machines.push(stored);
      return stored;
    },
    expireTokens: () => tokens.clear(),
    script(method, ...replies) {
      for (const reply of replies) scripted.push({ method: method.toUpperCase(), reply });
    },
    close: () => server.close(),
  };

  const step = (action: MdeAction) => {
    if (action.status !== 'Pending' && action.status !== 'InProgress') return;
    const left = (reads.get(action.id) ?? 0) - 1;
    reads.set(action.id, left);
    action.status = left < 0 ? fake.nextOutcome : 'InProgress';
    action.lastUpdateDateTimeUtc = new Date(now()).toISOString();
  };

  // The OData shapes the provider may send: eq on a field (or two joined by "or"), startswith on computerDnsName.
  const filterMachines = (filter: string): MdeMachine[] | undefined => {
    const starts = /^startswith\(computerDnsName,'([^']*)'\)$/.exec(filter);
    if (starts) return fake.machines.filter((m) => m.computerDnsName.toLowerCase().startsWith(starts[1].toLowerCase()));
    const clauses = filter.split(' or ').map((c) => /^(lastIpAddress|lastExternalIpAddress|computerDnsName) eq '([^']*)'$/.exec(c.trim()));
    if (clauses.some((c) => !c)) return undefined;
    return fake.machines.filter((m) => clauses.some((c) => (m as unknown as Record<string, string | undefined>)[c![1]] === c![2]));
  };

  server.route('*', /.*/, (request: FakeRequest): FakeReply => {
    const index = scripted.findIndex((entry) => entry.method === request.method);
    const reply = index >= 0 ? scripted.splice(index, 1)[0].reply : null;
    if (reply) return reply;

    if (request.path === `/${MDE_TENANT}/oauth2/v2.0/token`) {
      const form = request.form;
      if (
        request.method !== 'POST' ||
        !form ||
        form.grant_type !== 'client_credentials' ||
        form.scope !== 'https://api.securitycenter.microsoft.com/.default'
      ) {
        fake.violations.push(`token request: ${request.method} ${request.body.replace(/client_secret=[^&]*/, 'client_secret=…')}`);
        return { status: 400, body: { error: 'invalid_request', error_description: 'AADSTS900144: bad request' } };
      }
      if (form.client_id !== MDE_CLIENT_ID || form.client_secret !== MDE_CLIENT_SECRET) {
        return { status: 401, body: { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' } };
      }
      const token = `eyJ0eXAiOiJKV1Qi.${randomBytes(24).toString('base64url')}`;
      tokens.set(token, now() + 3599_000);
      fake.tokensIssued.push(token);
      return { body: { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token } };
    }
    const bearer = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
    const expiry = bearer ? tokens.get(bearer) : undefined;
    if (expiry === undefined || expiry <= now()) return odataError(401, 'Unauthorized', 'Authorization token is invalid or expired');

    if (request.method === 'GET' && request.path === '/api/machines') {
      const found = filterMachines(request.query.$filter ?? '');
      if (!found) {
        fake.violations.push(`unsupported $filter ${request.query.$filter}`);
        return odataError(400, 'InvalidRequestBody', 'Invalid filter');
      }
      return { body: { '@odata.context': 'https://api.securitycenter.microsoft.com/api/$metadata#Machines', value: found } };
    }
    const machineMatch = /^\/api\/machines\/([^/]+)(?:\/(isolate|unisolate))?$/.exec(request.path);
    if (machineMatch) {
      const machine = fake.machines.find((m) => m.id === machineMatch[1]);
      if (!machine) return odataError(404, 'ResourceNotFound', `Machine ${machineMatch[1]} was not found`);
      if (request.method === 'GET' && !machineMatch[2]) return { body: machine };
      if (request.method !== 'POST' || !machineMatch[2]) {
        fake.violations.push(`${request.method} ${request.path}`);
        return odataError(405, 'MethodNotAllowed', 'method not allowed');
      }
      const body = request.json as { Comment?: unknown; IsolationType?: unknown } | undefined;
      const isolate = machineMatch[2] === 'isolate';
      if (!/application\/json/.test(request.headers['content-type'] ?? '') || typeof body?.Comment !== 'string' || !body.Comment) {
        fake.violations.push(`${machineMatch[2]}: Comment is required in a JSON body`);
        return odataError(400, 'InvalidRequestBody', 'Comment is required');
      }
      if (isolate && body.IsolationType !== 'Full' && body.IsolationType !== 'Selective') {
        fake.violations.push(`isolate: IsolationType ${String(body.IsolationType)}`);
        return odataError(400, 'InvalidRequestBody', 'IsolationType must be Full or Selective');
      }
      const type = isolate ? 'Isolate' : 'Unisolate';
      if (fake.actions.some((a) => a.machineId === machine.id && a.type === type && (a.status === 'Pending' || a.status === 'InProgress'))) {
        return odataError(400, 'ActiveRequestAlreadyExists', `Action is already in progress`);
      }
      const stamp = new Date(now()).toISOString();
      const action: MdeAction = {
        id: randomUUID(),
        type,
        ...(isolate ? { scope: body.IsolationType as string } : {}),
        status: 'Pending',
        machineId: machine.id,
        requestor: MDE_CLIENT_ID,
        requestorComment: body.Comment,
        creationDateTimeUtc: stamp,
        lastUpdateDateTimeUtc: stamp,
      };
      fake.actions.push(action);
      reads.set(action.id, fake.pendingReads);
      return { status: 201, body: action };
    }
    if (request.method === 'GET' && request.path === '/api/machineactions') {
      const m = /^machineId eq '([^']+)'$/.exec(request.query.$filter ?? '');
      if (!m) {
        fake.violations.push(`machineactions: unsupported $filter ${request.query.$filter}`);
        return odataError(400, 'InvalidRequestBody', 'Invalid filter');
      }
      return { body: { value: fake.actions.filter((a) => a.machineId === m[1]) } };
    }
    const actionMatch = /^\/api\/machineactions\/([^/]+)$/.exec(request.path);
    if (request.method === 'GET' && actionMatch) {
      const action = fake.actions.find((a) => a.id === actionMatch[1]);
      if (!action) return odataError(404, 'ResourceNotFound', 'Machine action was not found');
      step(action);
      return { body: action };
    }
    fake.violations.push(`${request.method} ${request.path}: no such endpoint`);
    return odataError(404, 'ResourceNotFound', 'no such endpoint');
  });
  return fake;
}
