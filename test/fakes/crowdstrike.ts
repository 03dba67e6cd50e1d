/**
 * Contract fake for CrowdStrike Falcon host containment, for the CrowdStrike EDR provider tests.
 *
 * Follows: https://falcon.crowdstrike.com/documentation/page/a2a7fc0e/crowdstrike-oauth2-based-apis
 * (POST /oauth2/token, form client_id/client_secret → 201 {access_token, token_type, expires_in 1799}),
 * https://falcon.crowdstrike.com/documentation/page/d6b1b6c3/host-and-host-group-management-apis
 * (GET /devices/queries/devices/v1?filter=FQL, GET /devices/entities/devices/v2?ids=,
 * POST /devices/entities/devices-actions/v2?action_name=contain|lift_containment {"ids":[…]}),
 * the {meta, resources, errors} envelope and error bodies as Kibana's CrowdStrike API emulator has them
 * (elastic/kibana …/api_emulator/emulator_plugins/crowdstrike/routes), and the X-RateLimit-* headers with
 * X-RateLimit-RetryAfter in epoch seconds as PSFalcon and gofalcon read them.
 *
 * A contained/lifted device passes through the pending status for `pendingReads` status reads
 * (Infinity: it never finishes). `expireTokens()` makes every issued token invalid (a 401 next).
 * Scripted replies (`script(method, …)`) are served first. Request-shape problems go to `violations`.
 */
import { randomBytes } from 'node:crypto';
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../helpers/fake-server';

export const CS_CLIENT_ID = 'f3a9c1d2e4b5467a8b9c0d1e2f3a4b5c';
export const CS_CLIENT_SECRET = 'csSecret-Q7w8E9r0T1y2U3i4O5p6A7s8D9f0G1h2';

export interface CsFakeDevice {
  device_id: string;
  hostname: string;
  local_ip: string;
  external_ip?: string;
  status: 'normal' | 'containment_pending' | 'contained' | 'lift_containment_pending';
}

export interface CrowdStrikeFake {
  server: FakeServer;
  baseUrl: string;
  violations: string[];
  devices: CsFakeDevice[];
  /** Status reads a device stays pending after an action. */
  pendingReads: number;
  tokensIssued: string[];
  addDevice(device: Partial<CsFakeDevice> & { hostname: string; local_ip: string }): CsFakeDevice;
  expireTokens(): void;
  script(method: string, ...replies: (FakeReply | null)[]): void;
  /** A 429 as CrowdStrike sends it, asking to wait `seconds`. */
  rateLimited(seconds: number): FakeReply;
  close(): Promise<void>;
}

const meta = () => ({ query_time: 0.01, powered_by: 'device-api', trace_id: randomBytes(8).toString('hex') });
const envelope = (resources: unknown[], errors: unknown[] = []) => ({ meta: meta(), resources, errors });
const failure = (status: number, message: string): FakeReply => ({ status, body: { meta: meta(), resources: [], errors: [{ code: status, message }] } });

export async function startCrowdStrikeFake(options: { now?: () => number } = {}): Promise<CrowdStrikeFake> {
  const now = options.now ?? Date.now;
  const server = await startFakeServer({ now });
  const tokens = new Map<string, number>();
  const remaining = new Map<string, number>();
  const scripted: { method: string; reply: FakeReply | null }[] = [];
  const fake: CrowdStrikeFake = {
    server,
    baseUrl: server.url,
    violations: [],
    devices: [],
    pendingReads: 1,
    tokensIssued: [],
    addDevice(device) {
      const stored: CsFakeDevice = { device_id: device.device_id ?? randomBytes(16).toString('hex'), status: 'normal', ...device };
      fake.devices.push(stored);
      return stored;
    },
    expireTokens: () => tokens.clear(),
    script(method, ...replies) {
      for (const reply of replies) scripted.push({ method: method.toUpperCase(), reply });
    },
    rateLimited: (seconds) => ({
      ...failure(429, 'API rate limit exceeded.'),
      headers: { 'x-ratelimit-limit': '300', 'x-ratelimit-remaining': '0', 'x-ratelimit-retryafter': String(Math.ceil(now() / 1000) + seconds) },
    }),
    close: () => server.close(),
  };

  const advance = (device: CsFakeDevice) => {
    if (device.status !== 'containment_pending' && device.status !== 'lift_containment_pending') return;
    const left = (remaining.get(device.device_id) ?? fake.pendingReads) - 1;
    remaining.set(device.device_id, left);
    if (left < 0) device.status = device.status === 'containment_pending' ? 'contained' : 'normal';
  };

  // One clause `field:'value'`, joined by commas (OR); the fields the provider may use.
  const matchesFql = (device: CsFakeDevice, filter: string): boolean | undefined => {
    const clauses = filter.split(',');
    let any = false;
    for (const clause of clauses) {
      const m = /^(hostname|local_ip|external_ip):'([^']*)'$/.exec(clause.trim());
      if (!m) return undefined;
      const value = (device as unknown as Record<string, string | undefined>)[m[1]];
      if (value !== undefined && value.toLowerCase() === m[2].toLowerCase()) any = true;
    }
    return any;
  };

  server.route('*', /.*/, (request: FakeRequest): FakeReply => {
    const index = scripted.findIndex((entry) => entry.method === request.method);
    const reply = index >= 0 ? scripted.splice(index, 1)[0].reply : null;
    if (reply) return reply;

    if (request.path === '/oauth2/token') {
      if (request.method !== 'POST' || !request.form) {
        fake.violations.push(`${request.method} /oauth2/token without a form body`);
        return failure(400, 'invalid request');
      }
      if (request.form.client_id !== CS_CLIENT_ID || request.form.client_secret !== CS_CLIENT_SECRET)
        return failure(403, 'Failed to issue access token - Not Authorized');
      const token = `cs-token-${randomBytes(24).toString('base64url')}`;
      tokens.set(token, now() + 1799_000);
      fake.tokensIssued.push(token);
      return { status: 201, body: { access_token: token, token_type: 'bearer', expires_in: 1799 } };
    }
    const bearer = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
    const expiry = bearer ? tokens.get(bearer) : undefined;
    if (expiry === undefined || expiry <= now()) return failure(401, 'access denied, invalid bearer token');

    if (request.method === 'GET' && request.path === '/devices/queries/devices/v1') {
      const filter = request.query.filter ?? '';
      const found: string[] = [];
      for (const device of fake.devices) {
        const hit = matchesFql(device, filter);
        if (hit === undefined) {
          fake.violations.push(`unsupported FQL filter ${filter}`);
          return failure(400, 'Invalid filter');
        }
        if (hit) found.push(device.device_id);
      }
      return { body: { meta: { ...meta(), pagination: { offset: 0, limit: 100, total: found.length } }, resources: found, errors: [] } };
    }
    if (request.method === 'GET' && request.path === '/devices/entities/devices/v2') {
      const ids = new URL(request.url, 'http://x').searchParams.getAll('ids');
      if (ids.length === 0) {
        fake.violations.push('GET devices v2 without ids');
        return failure(400, 'ids is required');
      }
      const found = fake.devices.filter((d) => ids.includes(d.device_id));
      for (const device of found) advance(device);
      if (found.length === 0) return { status: 404, body: envelope([], [{ code: 404, message: 'Device not found.' }]) };
      return { body: envelope(found.map((d) => ({ ...d, platform_name: 'Linux', agent_version: '7.10.0' }))) };
    }
    if (request.method === 'POST' && request.path === '/devices/entities/devices-actions/v2') {
      const action = request.query.action_name;
      const ids = (request.json as { ids?: unknown } | undefined)?.ids;
      if (!/application\/json/.test(request.headers['content-type'] ?? '') || !Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) {
        fake.violations.push('devices-actions: body is not {"ids":[…]} JSON');
        return failure(400, "Provided data does not match expected 'Action Parameter' format");
      }
      if (action !== 'contain' && action !== 'lift_containment') {
        fake.violations.push(`devices-actions: action_name ${String(action)}`);
        return failure(400, 'invalid action_name');
      }
      const resources = [];
      for (const id of ids as string[]) {
        const device = fake.devices.find((d) => d.device_id === id);
        if (!device) return failure(404, `No matching device found for ID ${id}`);
        device.status = action === 'contain' ? 'containment_pending' : 'lift_containment_pending';
        remaining.set(id, fake.pendingReads);
        resources.push({ id, path: '' });
      }
      return { status: 202, body: envelope(resources) };
    }
    fake.violations.push(`${request.method} ${request.path}: no such endpoint`);
    return failure(404, 'Not Found');
  });
  return fake;
}
