/**
 * Contract fake for the CrowdSec Local API (LAPI) v1, the parts the firewall provider uses.
 *
 * Follows: the LAPI swagger `pkg/models/localapi_swagger.yaml` in github.com/crowdsecurity/crowdsec
 * (POST /v1/watchers/login, POST/GET /v1/alerts, GET/DELETE /v1/decisions, DELETE /v1/decisions/{id};
 * the Alert required fields), https://docs.crowdsec.net/docs/local_api/intro, and
 * docs/vendor-facts.md §C.2 and §A.7 — corrected where crowdsec 1.4.6 (Debian 12),
 * run by test/system/crowdsec.spec.ts, answers differently:
 *   - bad machine credentials → 401 {"code":401,"message":"incorrect Username or Password"} (not 403);
 *   - bouncer route without a valid X-Api-Key → 403 {"message":"access forbidden"};
 *   - watcher route with an invalid/expired JWT → 401 {"code":401,"message":"..."};
 *   - GET /v1/decisions with nothing found → `null`; `duration` is Go duration text of the time left;
 *   - `ip=`/`range=` filters match decisions *containing* the value (so a /24 around an ip matches);
 *   - DELETE /v1/decisions?ip= deletes containing ranges too; `?scope=` → 500 "'scope' doesn't exist: invalid filter";
 *   - DELETE /v1/decisions/{unknown id} → 500 "decision with id 'N' doesn't exist: unable to delete";
 *   - GET /v1/alerts with `limit` larger than the matches never answers (1.4.6 loops): the fake hangs too;
 *   - a LAPI restart makes every issued JWT invalid (`restart()`).
 * Decisions are stored with an absolute expiry from the injected clock, so a ManualClock drives them.
 *
 * Contract breaches by the client (a missing alert field, a wrong header) answer like the LAPI (400/401/403)
 * and are recorded in `violations`, which tests assert empty. `script(...)` serves canned replies first.
 */
import { randomBytes } from 'node:crypto';
import { parseTarget, type ParsedTarget } from '../../lib/core/guardrails';
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../helpers/fake-server';

export interface FakeDecision {
  id: number;
  alertId: number;
  origin: string;
  type: string;
  scope: string;
  value: string;
  scenario: string;
  /** Epoch ms. */
  until: number;
  deleted: boolean;
}

export interface CrowdsecFake {
  server: FakeServer;
  baseURL: string;
  machineId: string;
  password: string;
  bouncerKey: string;
  violations: string[];
  decisions: FakeDecision[];
  /** Every accepted login. */
  logins: number;
  /** JWT lifetime in ms (the LAPI's default is one hour). */
  tokenLifetimeMs: number;
  /** Active decisions (not deleted, not expired). */
  active(): FakeDecision[];
  /** A decision made by someone else (CrowdSec itself, cscli, a blocklist). */
  addDecision(decision: { origin: string; scope: string; value: string; seconds: number; type?: string }): FakeDecision;
  /** Canned replies for the next matching requests (method + path), served before the model answers. */
  script(method: string, path: string | RegExp, ...replies: FakeReply[]): void;
  /** Forget every issued JWT (what a LAPI restart does). */
  restart(): void;
  close(): Promise<void>;
}

export const CROWDSEC_MACHINE = 'soar-test';
export const CROWDSEC_PASSWORD = 'fake-machine-password-8f2c1d';
export const CROWDSEC_BOUNCER_KEY = 'fakebouncerkey0123456789abcdef01';

/** Alert fields the swagger marks required. */
const REQUIRED_ALERT_FIELDS = [
  'scenario',
  'scenario_hash',
  'scenario_version',
  'message',
  'events_count',
  'start_at',
  'stop_at',
  'capacity',
  'leakspeed',
  'simulated',
  'events',
  'source',
];
const REQUIRED_DECISION_FIELDS = ['duration', 'origin', 'scenario', 'scope', 'type', 'value'];

/** Go's time.Duration text for a span in ms, as the LAPI prints time left ("9m59.8s", "-182ms"). */
export function goDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${rest}ms`;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = (rest / 1000).toString();
  return `${sign}${hours ? `${hours}h` : ''}${hours || minutes ? `${minutes}m` : ''}${seconds}s`;
}

function parseDuration(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const match = /^(\d+)(h|m|s)$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * { h: 3_600_000, m: 60_000, s: 1000 }[match[2] as 'h' | 'm' | 's'];
}

function interval(target: ParsedTarget): { family: number; first: bigint; last: bigint } {
  let value = 0n;
  for (const byte of target.address.toByteArray()) value = (value << 8n) | BigInt(byte);
  const bits = target.family === 4 ? 32 : 128;
  return { family: target.family, first: value, last: value + (1n << BigInt(bits - target.prefixLength)) - 1n };
}

/** Does the decision's value contain the filter value (LAPI default, contains=true)? */
function contains(decisionValue: string, filter: ParsedTarget): boolean {
  const parsed = parseTarget(decisionValue);
  if ('error' in parsed) return false;
  const outer = interval(parsed);
  const inner = interval(filter);
  return outer.family === inner.family && outer.first <= inner.first && inner.last <= outer.last;
}

const json = (status: number, body: unknown): FakeReply => ({ status, body });

export async function startCrowdsecFake(options: { now?: () => number } = {}): Promise<CrowdsecFake> {
  const now = options.now ?? Date.now;
  const server = await startFakeServer({ now });
  const tokens = new Map<string, number>(); // token → expiry (epoch ms)
  const scripted: { method: string; path: string | RegExp; reply: FakeReply }[] = [];
  let nextDecisionId = 1;
  let nextAlertId = 1;

  const fake: CrowdsecFake = {
    server,
    baseURL: server.url,
    machineId: CROWDSEC_MACHINE,
    password: CROWDSEC_PASSWORD,
    bouncerKey: CROWDSEC_BOUNCER_KEY,
    violations: [],
    decisions: [],
    logins: 0,
    tokenLifetimeMs: 3_600_000,
    active: () => fake.decisions.filter((d) => !d.deleted && d.until > now()),
    addDecision: ({ origin, scope, value, seconds, type = 'ban' }) => {
      const decision: FakeDecision = {
        id: nextDecisionId++,
        alertId: nextAlertId++,
        origin,
        type,
        scope,
        value,
        scenario: 'crowdsecurity/ssh-bf',
        until: now() + seconds * 1000,
        deleted: false,
      };
      fake.decisions.push(decision);
      return decision;
    },
    script: (method, path, ...replies) => {
      for (const reply of replies) scripted.push({ method: method.toUpperCase(), path, reply });
    },
    restart: () => tokens.clear(),
    close: () => server.close(),
  };

  const violation = (text: string, reply: FakeReply): FakeReply => {
    fake.violations.push(text);
    return reply;
  };

  const view = (d: FakeDecision) => ({
    duration: goDuration(d.until - now()),
    id: d.id,
    origin: d.origin,
    scenario: d.scenario,
    scope: d.scope,
    type: d.type,
    value: d.value,
  });

  const watcherAuth = (request: FakeRequest): FakeReply | undefined => {
    const match = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '');
    if (!match) return violation(`${request.method} ${request.path} without a Bearer token`, json(401, { code: 401, message: 'cookie token is empty' }));
    const expires = tokens.get(match[1]);
    if (expires === undefined) return json(401, { code: 401, message: 'signature is invalid' });
    if (expires <= now()) return json(401, { code: 401, message: 'Token is expired' });
    return undefined;
  };

  const bouncerAuth = (request: FakeRequest): FakeReply | undefined => {
    if (request.headers['x-api-key'] === CROWDSEC_BOUNCER_KEY) return undefined;
    if (request.headers['x-api-key'] === undefined) fake.violations.push(`${request.method} ${request.path} without X-Api-Key`);
    return json(403, { message: 'access forbidden' });
  };

  /** Decisions matching the ip/range/scope/value filters of a query (LAPI semantics). */
  const filtered = (query: Record<string, string>): FakeDecision[] | FakeReply => {
    let result = fake.active();
    for (const [name, value] of Object.entries(query)) {
      if (name === 'ip' || name === 'range') {
        const parsed = parseTarget(value);
        if ('error' in parsed) return json(400, { message: `unable to convert '${value}' to int: invalid address` });
        result = result.filter((d) => contains(d.value, parsed));
      } else if (name === 'scope') {
        result = result.filter((d) => d.scope.toLowerCase() === value.toLowerCase());
      } else if (name === 'value') {
        result = result.filter((d) => d.value === value);
      } else if (name !== 'has_active_decision' && name !== 'limit' && name !== 'contains') {
        return json(500, { message: `'${name}' doesn't exist: invalid filter` });
      }
    }
    return result;
  };

  const handlers: Record<string, (request: FakeRequest) => FakeReply> = {
    'POST /v1/watchers/login': (request) => {
      const body = request.json as { machine_id?: unknown; password?: unknown; scenarios?: unknown } | undefined;
      if (!body || !Array.isArray(body.scenarios)) fake.violations.push('login body without a scenarios list');
      if (body?.machine_id !== CROWDSEC_MACHINE || body?.password !== CROWDSEC_PASSWORD) {
        return json(401, { code: 401, message: 'incorrect Username or Password' });
      }
      fake.logins++;
      const token = randomBytes(24).toString('base64url');
      const expires = now() + fake.tokenLifetimeMs;
      tokens.set(token, expires);
      return json(200, { code: 200, expire: new Date(expires).toISOString().replace(/\.\d{3}Z$/, 'Z'), token });
    },
    'POST /v1/alerts': (request) => {
      const denied = watcherAuth(request);
      if (denied) return denied;
      const alerts = request.json;
      if (!Array.isArray(alerts)) return violation('alerts body is not a list', json(400, { message: 'body should be an array' }));
      for (const alert of alerts as Record<string, unknown>[]) {
        const missing = REQUIRED_ALERT_FIELDS.filter((field) => !(field in alert));
        if (missing.length > 0)
          return violation(`alert without ${missing.join(', ')}`, json(422, { message: `validation failure: ${missing.join(', ')} required` }));
        for (const decision of (alert.decisions ?? []) as Record<string, unknown>[]) {
          const missingInDecision = REQUIRED_DECISION_FIELDS.filter((field) => !(field in decision));
          if (missingInDecision.length > 0) return violation(`decision without ${missingInDecision.join(', ')}`, json(422, { message: 'validation failure' }));
          if (parseDuration(decision.duration) === undefined)
            return violation(`unreadable duration ${String(decision.duration)}`, json(500, { message: 'time: invalid duration' }));
        }
      }
      const ids: string[] = [];
      for (const alert of alerts as { decisions?: Record<string, string>[] }[]) {
        const alertId = nextAlertId++;
        ids.push(String(alertId));
        for (const decision of alert.decisions ?? []) {
          fake.decisions.push({
            id: nextDecisionId++,
            alertId,
            origin: decision.origin,
            type: decision.type,
            scope: decision.scope,
            value: decision.value,
            scenario: decision.scenario,
            until: now() + parseDuration(decision.duration)!,
            deleted: false,
          });
        }
      }
      return json(201, ids);
    },
    'GET /v1/alerts': (request) => {
      const denied = watcherAuth(request);
      if (denied) return denied;
      const { limit, ...query } = request.query;
      const decisions = filtered(query);
      if (!Array.isArray(decisions)) return decisions;
      const byAlert = new Map<number, FakeDecision[]>();
      for (const decision of decisions) byAlert.set(decision.alertId, [...(byAlert.get(decision.alertId) ?? []), decision]);
      if (limit === undefined && byAlert.size > 100)
        return json(
          200,
          [...byAlert.values()].slice(0, 100).map((list) => alertView(list)),
        );
      if (limit !== undefined && Number(limit) > byAlert.size) {
        return violation(`GET /v1/alerts with limit=${limit} above the ${byAlert.size} matches (1.4.6 never answers)`, { hang: true });
      }
      return json(
        200,
        [...byAlert.values()].map((list) => alertView(list)),
      );
    },
    'GET /v1/decisions': (request) => {
      const denied = bouncerAuth(request);
      if (denied) return denied;
      const decisions = filtered(request.query);
      if (!Array.isArray(decisions)) return decisions;
      return json(200, decisions.length === 0 ? null : decisions.map(view));
    },
    'DELETE /v1/decisions': (request) => {
      const denied = watcherAuth(request);
      if (denied) return denied;
      const decisions = filtered(request.query);
      if (!Array.isArray(decisions)) return decisions;
      for (const decision of decisions) decision.deleted = true;
      return json(200, { nbDeleted: String(decisions.length) });
    },
  };

  const alertView = (decisions: FakeDecision[]) => ({
    id: decisions[0].alertId,
    scenario: decisions[0].scenario,
    machine_id: CROWDSEC_MACHINE,
    source: { scope: decisions[0].scope, value: decisions[0].value },
    decisions: decisions.map((d) => ({ ...view(d), simulated: false })),
  });

  server.route('*', /.*/, (request) => {
    const index = scripted.findIndex((s) => s.method === request.method && (typeof s.path === 'string' ? s.path === request.path : s.path.test(request.path)));
    if (index !== -1) return scripted.splice(index, 1)[0].reply;
    const byId = /^\/v1\/decisions\/(\d+)$/.exec(request.path);
    if (byId && request.method === 'DELETE') {
      const denied = watcherAuth(request);
      if (denied) return denied;
      const decision = fake.decisions.find((d) => d.id === Number(byId[1]));
      if (!decision) return json(500, { message: `decision with id '${byId[1]}' doesn't exist: unable to delete` });
      decision.deleted = true;
      return json(200, { nbDeleted: '1' });
    }
    const handler = handlers[`${request.method} ${request.path}`];
    if (!handler) return violation(`no such route: ${request.method} ${request.path}`, json(404, { message: 'Page or Method not found' }));
    return handler(request);
  });
  return fake;
}
