/**
 * Contract fake for the OPNsense alias API, for the OPNsense firewall provider tests.
 *
 * Follows: opnsense/core src/opnsense/mvc/app/controllers/OPNsense/Firewall/Api/AliasUtilController.php
 * (add/delete/list/flush, {"status":"done"|"failed"|"not_an_address"} all with HTTP 200, the
 * [^0-9a-f:./_] address filter, "/32" or "/128" appended in config for Host/Network aliases) and
 * AliasController.php (getAliasUUID -> {"uuid"} or [], getItem -> option fields with "selected"),
 * https://docs.opnsense.org/development/api/core/firewall.html (endpoint list),
 * https://docs.opnsense.org/development/how-tos/api.html (Basic auth with key:secret),
 * and docs/vendor-facts.md §C.3 and §0.4 (fake switches).
 *
 * The fake checks the request shape: a wrong method answers {"status":"failed"} as OPNsense does, an
 * unknown path 404s (both recorded in `violations`, which tests assert empty); a wrong or missing Basic
 * header 401s. Scripted replies (`script(pathPart, ...)`) are served, in
 * order, to the next requests whose path contains `pathPart`, before the state answers (`null` = let
 * that one through).
 */
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../helpers/fake-server';

export const OPNSENSE_KEY = 'opn-key-w6fXk2LrQ9aZ0bVt1uYc3dE4';
export const OPNSENSE_SECRET = 'opn-secret-Pq7sT8vW9xY0zA1bC2dE3fG4hJ5kL6mN';

export interface OpnsenseAlias {
  uuid: string;
  type: 'host' | 'network' | 'port' | 'url' | 'urltable' | 'geoip' | 'external';
  /** Config content lines ("203.0.113.7/32"), as alias_util writes them. */
  content: string[];
}

export interface OpnsenseFake {
  server: FakeServer;
  url: string;
  violations: string[];
  aliases: Map<string, OpnsenseAlias>;
  /** pf tables by alias name: what `pfctl -t <alias> -T show` prints (no /32 or /128 for hosts). */
  tables: Map<string, Set<string>>;
  /** Answer list/ in the newer paged shape {total,rowCount,current,rows:[{ip}]}. Default true. */
  paged: boolean;
  /** Rows per page when the caller gives no rowCount (newer firmware pages). Default: all rows. */
  defaultRowCount?: number;
  /** Requests that passed auth and the shape check. */
  readonly accepted: FakeRequest[];
  /** `null` lets that request through to the state (e.g. "second add fails": script(p, null, failed)). */
  script(pathPart: string, ...replies: (FakeReply | null)[]): void;
  close(): Promise<void>;
}

const TYPE_LABELS: Record<string, string> = {
  host: 'Host(s)',
  network: 'Network(s)',
  port: 'Port(s)',
  url: 'URL (IPs)',
  urltable: 'URL Table (IPs)',
  geoip: 'GeoIP',
  external: 'External (advanced)',
};

/** pfctl shows hosts without their full-length mask. */
function tableForm(address: string): string {
  return address.replace(/\/(32|128)$/, '');
}

export async function startOpnsenseFake(options: { now?: () => number; key?: string; secret?: string } = {}): Promise<OpnsenseFake> {
  const server = await startFakeServer({ now: options.now });
  const expectedAuth = `Basic ${Buffer.from(`${options.key ?? OPNSENSE_KEY}:${options.secret ?? OPNSENSE_SECRET}`).toString('base64')}`;
  const scripted: { pathPart: string; reply: FakeReply | null }[] = [];
  const accepted: FakeRequest[] = [];
  const fake: OpnsenseFake = {
    server,
    url: server.url,
    violations: [],
    aliases: new Map([['soar_block', { uuid: '3f2c6b8e-1a2b-4c3d-8e9f-001122334455', type: 'host', content: [] }]]),
    tables: new Map([['soar_block', new Set<string>()]]),
    paged: true,
    accepted,
    script(pathPart, ...replies) {
      for (const reply of replies) scripted.push({ pathPart, reply });
    },
    close: () => server.close(),
  };

  const postAddress = (request: FakeRequest): string | undefined => {
    const fromJson = request.json && typeof request.json === 'object' ? (request.json as { address?: unknown }).address : undefined;
    const value = fromJson ?? request.form?.address;
    return typeof value === 'string' ? value : undefined;
  };

  const handler = (request: FakeRequest): FakeReply => {
    if (request.headers.authorization !== expectedAuth) {
      return { status: 401, body: { status: 401, message: 'Authentication Failed' } };
    }
    const index = scripted.findIndex((entry) => request.path.includes(entry.pathPart));
    const reply = index >= 0 ? scripted.splice(index, 1)[0].reply : null;
    if (reply) return reply;

    let match = /^\/api\/firewall\/alias_util\/(add|delete|list|flush)\/([^/]+)$/.exec(request.path);
    if (match) {
      const [, action, aliasName] = match;
      const table = fake.tables.get(aliasName) ?? new Set<string>();
      fake.tables.set(aliasName, table);
      if (action === 'list') {
        if (request.method !== 'GET' && request.method !== 'POST') {
          fake.violations.push(`${request.method} ${request.path}: list takes GET`);
          return { status: 405, body: { status: 'failed' } };
        }
        accepted.push(request);
        const entries = [...table].sort();
        if (!fake.paged) return { body: entries };
        const rowCount = request.query.rowCount !== undefined ? Number(request.query.rowCount) : (fake.defaultRowCount ?? -1);
        const current = request.query.current !== undefined ? Number(request.query.current) : 1;
        const pageRows = rowCount > 0 ? entries.slice((current - 1) * rowCount, current * rowCount) : entries;
        return { body: { total: entries.length, rowCount: pageRows.length, current, rows: pageRows.map((ip) => ({ ip })) } };
      }
      // add/delete/flush: OPNsense answers a non-POST or a missing address with HTTP 200 {"status":"failed"}.
      if (request.method !== 'POST') {
        fake.violations.push(`${request.method} ${request.path}: ${action} needs POST`);
        return { body: { status: 'failed' } };
      }
      const address = postAddress(request);
      if (action !== 'flush' && address === undefined) {
        fake.violations.push(`POST ${request.path}: no "address" in the body`);
        return { body: { status: 'failed' } };
      }
      accepted.push(request);
      const alias = fake.aliases.get(aliasName);
      if (action === 'flush') {
        table.clear();
        return { body: { status: 'done' } };
      }
      if (action === 'add' && /[^0-9a-f:./_]/.test(address!)) return { body: { status: 'not_an_address' } };
      const withMask = address!.includes('/') ? address! : `${address}/${address!.includes(':') ? 128 : 32}`;
      if (action === 'add') {
        if (alias && (alias.type === 'host' || alias.type === 'network') && !alias.content.includes(withMask)) alias.content.push(withMask);
        table.add(tableForm(withMask));
      } else {
        if (alias) alias.content = alias.content.filter((line) => line !== withMask && line !== address);
        table.delete(tableForm(withMask));
      }
      return { body: { status: 'done' } };
    }

    match = /^\/api\/firewall\/alias\/getAliasUUID\/([^/]+)$/.exec(request.path);
    if (match && request.method === 'GET') {
      accepted.push(request);
      const alias = fake.aliases.get(match[1]);
      return { body: alias ? { uuid: alias.uuid } : [] };
    }
    match = /^\/api\/firewall\/alias\/getItem\/([^/]+)$/.exec(request.path);
    if (match && request.method === 'GET') {
      accepted.push(request);
      const entry = [...fake.aliases.entries()].find(([, alias]) => alias.uuid === match![1]);
      if (!entry) return { body: { alias: {} } };
      const [name, alias] = entry;
      const type = Object.fromEntries(Object.entries(TYPE_LABELS).map(([key, value]) => [key, { value, selected: key === alias.type ? 1 : 0 }]));
      return { body: { alias: { enabled: '1', name, type, content: alias.content.join('\n') } } };
    }
    fake.violations.push(`${request.method} ${request.path}: no such endpoint`);
    return { status: 404, body: { errorMessage: 'Endpoint not found', errorTitle: 'Error' } };
  };

  server.route('*', /.*/, handler);
  return fake;
}
