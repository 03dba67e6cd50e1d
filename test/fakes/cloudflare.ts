/**
 * Contract fake for Cloudflare IP Access Rules (API v4), for the Cloudflare firewall provider tests.
 *
 * Follows: https://developers.cloudflare.com/api/resources/firewall/subresources/access_rules/
 * (create/list/edit/delete for accounts and zones; body {mode, configuration{target,value}, notes};
 * result {id, mode, configuration, allowed_modes, notes, created_on, modified_on, scope}),
 * https://developers.cloudflare.com/fundamentals/api/reference/limits/ (1,200 requests / 5 min, 429 with
 * Retry-After), https://developers.cloudflare.com/waf/tools/ip-access-rules/parameters/ (ranges: IPv4
 * /16 and /24, IPv6 /32, /48, /64), the v4 envelope {success, errors[{code,message}], messages, result,
 * result_info}, and docs/vendor-facts.md §C.5 and §0.4.
 * Error codes and texts the docs do not spell out (10000 "Authentication error", the duplicate text
 * "firewallaccessrules.api.duplicate_of_existing") are as seen from well-used clients [D/M: see docs/vendor-facts.md].
 *
 * The fake checks the request shape (Bearer token, JSON body, known mode/target, valid value) and
 * records departures in `violations`. Scripted replies (`script(method, ...)`, `null` = let that one
 * through) are served, in order, before the state answers. `loseNextCreateAnswer` stores a rule and
 * then answers 502, as when the answer is lost on the way back.
 */
import { randomBytes } from 'node:crypto';
import * as ipaddr from 'ipaddr.js';
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../helpers/fake-server';

export const CF_TOKEN = 'cf-token-Zk3Jq8Lw2Nx7Rv5Tb1Yc9Hd4Mf6Ps0Ga';
export const CF_ACCOUNT = '01a7362d577a6c3019a474fd6f485823';
export const CF_ZONE = '023e105f4ecef8ad9ca31a8372d0c353';

export interface CfRule {
  id: string;
  mode: 'block' | 'challenge' | 'whitelist' | 'js_challenge' | 'managed_challenge';
  notes: string;
  configuration: { target: string; value: string };
  scope: string;
  created_on: string;
  modified_on: string;
}

export interface CloudflareFake {
  server: FakeServer;
  /** Base URL to give the provider (…/client/v4). */
  baseUrl: string;
  violations: string[];
  /** Every rule; `scope` is "accounts/<id>" or "zones/<id>". */
  rules: CfRule[];
  loseNextCreateAnswer: boolean;
  addRule(rule: Partial<CfRule> & { value: string; target?: string }, scope?: string): CfRule;
  script(method: string, ...replies: (FakeReply | null)[]): void;
  close(): Promise<void>;
}

const MODES = new Set(['block', 'challenge', 'whitelist', 'js_challenge', 'managed_challenge']);

export const cfFailure = (status: number, code: number, message: string): FakeReply => ({
  status,
  body: { success: false, errors: [{ code, message }], messages: [], result: null },
});

function validValue(target: string, value: string): string | undefined {
  try {
    if (target === 'ip') return ipaddr.IPv4.isValidFourPartDecimal(value) ? undefined : 'not an IPv4 address';
    if (target === 'ip6') return ipaddr.IPv6.isValid(value) && !value.includes('/') ? undefined : 'not an IPv6 address';
    if (target === 'ip_range') {
      const [address, bits] = ipaddr.parseCIDR(value);
      const allowed = address.kind() === 'ipv4' ? [16, 24] : [32, 48, 64];
      return allowed.includes(bits) ? undefined : `ip_range must be one of /${allowed.join(', /')}`;
    }
    return undefined; // asn, country: not used by the provider
  } catch {
    return 'invalid value';
  }
}

export async function startCloudflareFake(options: { now?: () => number } = {}): Promise<CloudflareFake> {
  const now = options.now ?? Date.now;
  const server = await startFakeServer({ now });
  const scripted: { method: string; reply: FakeReply | null }[] = [];
  const fake: CloudflareFake = {
    server,
    baseUrl: `${server.url}/client/v4`,
    violations: [],
    rules: [],
    loseNextCreateAnswer: false,
    addRule(rule, scope = `accounts/${CF_ACCOUNT}`) {
      const stamp = new Date(now()).toISOString();
      const stored: CfRule = {
        id: rule.id ?? randomBytes(16).toString('hex'),
        mode: rule.mode ?? 'block',
        notes: rule.notes ?? '',
        configuration: { target: rule.target ?? (rule.value.includes('/') ? 'ip_range' : rule.value.includes(':') ? 'ip6' : 'ip'), value: rule.value },
        scope,
        created_on: stamp,
        modified_on: stamp,
      };
      fake.rules.push(stored);
      return stored;
    },
    script(method, ...replies) {
      for (const reply of replies) scripted.push({ method: method.toUpperCase(), reply });
    },
    close: () => server.close(),
  };

  const ok = (result: unknown, resultInfo?: unknown): FakeReply => ({
    body: { success: true, errors: [], messages: [], result, ...(resultInfo ? { result_info: resultInfo } : {}) },
  });
  const view = (rule: CfRule) => ({
    id: rule.id,
    paused: false,
    mode: rule.mode,
    allowed_modes: [...MODES],
    configuration: rule.configuration,
    notes: rule.notes,
    created_on: rule.created_on,
    modified_on: rule.modified_on,
    scope: { id: rule.scope.split('/')[1], type: rule.scope.startsWith('accounts') ? 'account' : 'zone' },
  });

  server.route('*', /.*/, (request: FakeRequest): FakeReply => {
    const match = /^\/client\/v4\/((?:accounts|zones)\/[0-9a-f]{32})\/firewall\/access_rules\/rules(?:\/([0-9a-f]{32}))?$/.exec(request.path);
    if (!match) {
      fake.violations.push(`${request.method} ${request.path}: no such endpoint`);
      return cfFailure(404, 7003, 'Could not route to /' + request.path.split('/').slice(3).join('/') + ', perhaps your object identifier is invalid?');
    }
    if (request.headers.authorization !== `Bearer ${CF_TOKEN}`) return cfFailure(403, 10000, 'Authentication error');
    const index = scripted.findIndex((entry) => entry.method === request.method);
    const reply = index >= 0 ? scripted.splice(index, 1)[0].reply : null;
    if (reply) return reply;

    const [, scope, id] = match;
    const inScope = fake.rules.filter((rule) => rule.scope === scope);
    if (request.method === 'GET' && !id) {
      const q = request.query;
      let rows = inScope.filter(
        (rule) =>
          (q['configuration.value'] === undefined || rule.configuration.value === q['configuration.value']) &&
          (q['configuration.target'] === undefined || rule.configuration.target === q['configuration.target']) &&
          (q.mode === undefined || rule.mode === q.mode) &&
          (q.notes === undefined || rule.notes.includes(q.notes)),
      );
      const perPage = Math.min(1000, Number(q.per_page ?? 20));
      const page = Number(q.page ?? 1);
      const total = rows.length;
      rows = rows.slice((page - 1) * perPage, page * perPage);
      return ok(rows.map(view), { page, per_page: perPage, count: rows.length, total_count: total, total_pages: Math.max(1, Math.ceil(total / perPage)) });
    }
    if (request.method === 'POST' && !id) {
      const body = request.json as { mode?: unknown; configuration?: { target?: unknown; value?: unknown }; notes?: unknown } | undefined;
      if (!body || !/application\/json/.test(request.headers['content-type'] ?? '')) {
        fake.violations.push('POST rules: not a JSON body');
        return cfFailure(400, 10026, 'filter.api.parse_error');
      }
      const target = String(body.configuration?.target ?? '');
      const value = String(body.configuration?.value ?? '');
      if (!MODES.has(String(body.mode)) || !['ip', 'ip6', 'ip_range', 'asn', 'country'].includes(target)) {
        fake.violations.push(`POST rules: bad mode/target ${String(body.mode)}/${target}`);
        return cfFailure(400, 10014, 'firewallaccessrules.api.validation_error');
      }
      const invalid = validValue(target, value);
      if (invalid) {
        fake.violations.push(`POST rules: ${value} ${invalid}`);
        return cfFailure(400, 10014, `firewallaccessrules.api.validation_error: ${invalid}`);
      }
      if (inScope.some((rule) => rule.configuration.value === value)) return cfFailure(400, 10009, 'firewallaccessrules.api.duplicate_of_existing');
      const rule = fake.addRule({ mode: body.mode as CfRule['mode'], target, value, notes: typeof body.notes === 'string' ? body.notes : '' }, scope);
      if (fake.loseNextCreateAnswer) {
        fake.loseNextCreateAnswer = false;
        return { status: 502, body: '<html>502 Bad Gateway</html>', headers: { 'content-type': 'text/html' } };
      }
      return ok(view(rule));
    }
    const rule = inScope.find((candidate) => candidate.id === id);
    if (!id || !rule) {
      if (!id) fake.violations.push(`${request.method} rules without an id`);
      return cfFailure(404, 10001, 'firewallaccessrules.api.not_found');
    }
    if (request.method === 'DELETE') {
      fake.rules.splice(fake.rules.indexOf(rule), 1);
      return ok({ id: rule.id });
    }
    if (request.method === 'PATCH') {
      const body = request.json as { notes?: unknown; mode?: unknown } | undefined;
      if (typeof body?.notes === 'string') rule.notes = body.notes;
      if (typeof body?.mode === 'string' && MODES.has(body.mode)) rule.mode = body.mode as CfRule['mode'];
      rule.modified_on = new Date(now()).toISOString();
      return ok(view(rule));
    }
    fake.violations.push(`${request.method} ${request.path}: method not allowed`);
    return cfFailure(405, 10000, 'method not allowed');
  });
  return fake;
}
