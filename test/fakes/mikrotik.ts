/**
 * Contract fake for the MikroTik RouterOS v7 REST API (firewall address-list), for the MikroTik
 * firewall provider tests.
 *
 * Follows: https://help.mikrotik.com/docs/spaces/ROS/pages/47579162/REST+API (Basic auth; GET with
 * property filters in the query; PUT creates and answers the new object with ".id"; PATCH /<.id>
 * updates; DELETE /<.id> answers 204; every value is a string; errors {"error":<status>,"message",
 * "detail"}), https://help.mikrotik.com/docs/spaces/ROS/pages/48660587/Address-lists (list, address,
 * timeout, comment; timed entries are dynamic), and docs/vendor-facts.md §C.6 and §0.4.
 * Marked [M] there and configurable here: how RouterOS spells IPv6 host entries (`ipv6HostSuffix`: with
 * "/128") and durations (`clockStyleTimeouts`: the older "1d23:59:58" form).
 *
 * The fake checks the request shape (Basic auth, JSON body of strings, required fields) and records
 * departures in `violations`. Entries expire on the fake's clock. Scripted replies (`script(method, ...)`,
 * `null` = let that one through) are served, in order, before the state answers.
 */
import * as ipaddr from 'ipaddr.js';
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../helpers/fake-server';

export const MIKROTIK_USER = 'soar';
export const MIKROTIK_PASSWORD = 'mt-pass-Hq3!Vz8#Lk1$';

export interface MtEntry {
  id: string;
  family: 4 | 6;
  list: string;
  address: string;
  comment?: string;
  disabled: boolean;
  /** Epoch ms; undefined = permanent (static). */
  expiresAt?: number;
  created: number;
}

export interface MikrotikFake {
  server: FakeServer;
  url: string;
  violations: string[];
  entries: MtEntry[];
  version: string;
  rawRules: Record<string, string>[];
  filterRules: Record<string, string>[];
  ipv6HostSuffix: boolean;
  clockStyleTimeouts: boolean;
  addEntry(entry: { list?: string; address: string; timeoutSeconds?: number; comment?: string; disabled?: boolean }): MtEntry;
  /** Live entries of a list, as [address, seconds left or undefined]. */
  snapshot(list?: string): [string, number | undefined][];
  script(method: string, ...replies: (FakeReply | null)[]): void;
  close(): Promise<void>;
}

export const mtError = (status: number, message: string, detail?: string): FakeReply => ({
  status,
  body: { error: status, message, ...(detail ? { detail } : {}) },
});

const MAX_TIMEOUT_SECONDS = 21_474_836;

function parseDuration(text: string): number | undefined {
  const match = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!match || text === '') return undefined;
  const [, w, d, h, m, s] = match.map((part) => Number(part ?? 0));
  return w * 604_800 + d * 86_400 + h * 3_600 + m * 60 + s;
}

function showDuration(seconds: number, clockStyle: boolean): string {
  const whole = Math.max(0, Math.floor(seconds));
  const weeks = Math.floor(whole / 604_800);
  const days = Math.floor((whole % 604_800) / 86_400);
  const hours = Math.floor((whole % 86_400) / 3_600);
  const minutes = Math.floor((whole % 3_600) / 60);
  const secs = whole % 60;
  const prefix = `${weeks ? `${weeks}w` : ''}${days ? `${days}d` : ''}`;
  if (clockStyle) return `${prefix}${String(hours).padStart(2, '0')}:${String(minutes).padStart(2, '0')}:${String(secs).padStart(2, '0')}`;
  const text = `${prefix}${hours ? `${hours}h` : ''}${minutes ? `${minutes}m` : ''}${secs ? `${secs}s` : ''}`;
  return text || '0s';
}

/** How RouterOS stores an address: network bits cleared; IPv6 hosts optionally with /128. */
function normalise(address: string, family: 4 | 6, ipv6HostSuffix: boolean): string | undefined {
  try {
    if (address.includes('/')) {
      const [ip, bits] = ipaddr.parseCIDR(address);
      if ((ip.kind() === 'ipv4' ? 4 : 6) !== family) return undefined;
      const network = ip.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(address) : ipaddr.IPv6.networkAddressFromCIDR(address);
      const text = network.kind() === 'ipv6' ? (network as ipaddr.IPv6).toRFC5952String() : network.toString();
      if (bits === (family === 4 ? 32 : 128)) return family === 6 && ipv6HostSuffix ? `${text}/128` : text;
      return `${text}/${bits}`;
    }
    if (family === 4) return ipaddr.IPv4.isValidFourPartDecimal(address) ? address : undefined;
    if (!ipaddr.IPv6.isValid(address)) return undefined;
    const text = ipaddr.IPv6.parse(address).toRFC5952String();
    return ipv6HostSuffix ? `${text}/128` : text;
  } catch {
    return undefined;
  }
}

export async function startMikrotikFake(options: { now?: () => number } = {}): Promise<MikrotikFake> {
  const now = options.now ?? Date.now;
  const server = await startFakeServer({ now });
  const basic = `Basic ${Buffer.from(`${MIKROTIK_USER}:${MIKROTIK_PASSWORD}`).toString('base64')}`;
  const scripted: { method: string; reply: FakeReply | null }[] = [];
  let nextId = 0x1a;
  const live = () => {
    fake.entries = fake.entries.filter((entry) => entry.expiresAt === undefined || entry.expiresAt > now());
    return fake.entries;
  };
  const fake: MikrotikFake = {
    server,
    url: server.url,
    violations: [],
    entries: [],
    version: '7.16.2 (stable)',
    rawRules: [{ '.id': '*1', chain: 'prerouting', action: 'drop', 'src-address-list': 'soar_block', disabled: 'false', comment: 'soar' }],
    filterRules: [],
    ipv6HostSuffix: true,
    clockStyleTimeouts: false,
    addEntry({ list = 'soar_block', address, timeoutSeconds, comment, disabled = false }) {
      const family = address.includes(':') ? 6 : 4;
      const entry: MtEntry = {
        id: `*${(nextId++).toString(16).toUpperCase()}`,
        family,
        list,
        address: normalise(address, family, fake.ipv6HostSuffix) ?? address,
        comment,
        disabled,
        expiresAt: timeoutSeconds !== undefined ? now() + timeoutSeconds * 1000 : undefined,
        created: now(),
      };
      fake.entries.push(entry);
      return entry;
    },
    snapshot(list = 'soar_block') {
      return live()
        .filter((entry) => entry.list === list)
        .map((entry) => [entry.address, entry.expiresAt === undefined ? undefined : Math.round((entry.expiresAt - now()) / 1000)]);
    },
    script(method, ...replies) {
      for (const reply of replies) scripted.push({ method: method.toUpperCase(), reply });
    },
    close: () => server.close(),
  };

  const view = (entry: MtEntry): Record<string, string> => ({
    '.id': entry.id,
    address: entry.address,
    ...(entry.comment !== undefined ? { comment: entry.comment } : {}),
    'creation-time': new Date(entry.created).toISOString().replace('T', ' ').slice(0, 19),
    disabled: String(entry.disabled),
    dynamic: String(entry.expiresAt !== undefined),
    list: entry.list,
    ...(entry.expiresAt !== undefined ? { timeout: showDuration((entry.expiresAt - now()) / 1000, fake.clockStyleTimeouts) } : {}),
  });

  const stringBody = (request: FakeRequest): { fields: Record<string, string> } | { refusal: FakeReply } => {
    if (!/application\/json/.test(request.headers['content-type'] ?? '') || !request.json || typeof request.json !== 'object') {
      fake.violations.push(`${request.method} ${request.path}: not a JSON object body`);
      return { refusal: mtError(400, 'Bad Request', 'JSON body expected') };
    }
    const body = request.json as Record<string, unknown>;
    for (const [key, value] of Object.entries(body)) {
      if (typeof value !== 'string') {
        fake.violations.push(`${request.method} ${request.path}: ${key} is not a string`);
        return { refusal: mtError(400, 'Bad Request', `invalid value for argument ${key}`) };
      }
    }
    return { fields: body as Record<string, string> };
  };

  const timeoutOf = (value: string | undefined): number | undefined | FakeReply => {
    if (value === undefined || value === '') return undefined;
    const seconds = parseDuration(value);
    if (seconds === undefined || seconds > MAX_TIMEOUT_SECONDS) return mtError(400, 'Bad Request', 'value of timeout out of range');
    return seconds;
  };

  server.route('*', /.*/, (request): FakeReply => {
    if (request.headers.authorization !== basic) return mtError(401, 'Unauthorized');
    const index = scripted.findIndex((entry) => entry.method === request.method);
    const reply = index >= 0 ? scripted.splice(index, 1)[0].reply : null;
    if (reply) return reply;

    if (request.method === 'GET' && request.path === '/rest/system/resource') {
      return { body: { version: fake.version, 'board-name': 'CHR', uptime: '1d2h3m4s', 'cpu-load': '1' } };
    }
    if (request.method === 'GET' && request.path === '/rest/ip/firewall/raw') return { body: fake.rawRules };
    if (request.method === 'GET' && request.path === '/rest/ip/firewall/filter') return { body: fake.filterRules };

    const match = /^\/rest\/(ip|ipv6)\/firewall\/address-list(?:\/(\*[0-9A-F]+))?$/.exec(request.path);
    if (!match) {
      fake.violations.push(`${request.method} ${request.path}: no such menu`);
      return mtError(400, 'Bad Request', 'no such command or directory');
    }
    const family = match[1] === 'ip' ? 4 : 6;
    const id = match[2];
    const entries = live().filter((entry) => entry.family === family);
    if (request.method === 'GET' && !id) {
      const rows = entries.filter((entry) => Object.entries(request.query).every(([key, value]) => view(entry)[key] === value));
      return { body: rows.map(view) };
    }
    if (request.method === 'PUT' && !id) {
      const body = stringBody(request);
      if ('refusal' in body) return body.refusal;
      const { fields } = body;
      if (!fields.list || !fields.address) {
        fake.violations.push('PUT address-list: list and address are required');
        return mtError(400, 'Bad Request', 'missing value(s) of argument(s) list address');
      }
      const address = normalise(fields.address, family, fake.ipv6HostSuffix);
      if (!address) return mtError(400, 'Bad Request', 'invalid value for argument address');
      const timeout = timeoutOf(fields.timeout);
      if (typeof timeout === 'object') return timeout;
      if (entries.some((entry) => entry.list === fields.list && entry.address === address))
        return mtError(400, 'Bad Request', 'failure: already have such entry');
      const entry = fake.addEntry({
        list: fields.list,
        address,
        timeoutSeconds: timeout,
        comment: fields.comment,
        disabled: fields.disabled === 'true' || fields.disabled === 'yes',
      });
      return { status: 201, body: view(entry) };
    }
    const entry = entries.find((candidate) => candidate.id === id);
    if (!id) {
      fake.violations.push(`${request.method} address-list without an id`);
      return mtError(400, 'Bad Request', 'no such command');
    }
    if (!entry) return mtError(404, 'Not Found', 'no such item');
    if (request.method === 'DELETE') {
      fake.entries.splice(fake.entries.indexOf(entry), 1);
      return { status: 204 };
    }
    if (request.method === 'PATCH') {
      const body = stringBody(request);
      if ('refusal' in body) return body.refusal;
      const { fields } = body;
      if (fields.timeout !== undefined) {
        const timeout = timeoutOf(fields.timeout);
        if (typeof timeout === 'object') return timeout;
        // RouterOS only lets a dynamic (timed) entry take a new timeout.
        if (entry.expiresAt === undefined) return mtError(400, 'Bad Request', 'failure: can not change timeout of static entry');
        entry.expiresAt = timeout === undefined ? undefined : now() + timeout * 1000;
      }
      if (fields.comment !== undefined) entry.comment = fields.comment;
      if (fields.disabled !== undefined) entry.disabled = fields.disabled === 'true' || fields.disabled === 'yes';
      return { body: view(entry) };
    }
    fake.violations.push(`${request.method} ${request.path}: method not allowed`);
    return mtError(400, 'Bad Request', 'unknown method');
  });
  return fake;
}
