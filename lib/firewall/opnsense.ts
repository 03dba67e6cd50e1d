/**
 * Firewall provider: OPNsense, through the alias_util API (the pf table behind a Host/Network alias).
 * Node-RED-free.
 *
 * Contract (docs/vendor-facts.md §C.3; opnsense/core AliasUtilController.php, AliasController.php):
 * - HTTP Basic auth, API key as user and API secret as password.
 * - POST /api/firewall/alias_util/add/<alias>    {"address": "203.0.113.7"} -> {"status":"done"}
 * - POST /api/firewall/alias_util/delete/<alias> {"address": ...}            -> {"status":"done"}
 * - GET  /api/firewall/alias_util/list/<alias>   -> ["203.0.113.7", ...] (older) or
 *   {"total","rowCount","current","rows":[{"ip":"203.0.113.7"}]} (newer, paged)
 * - GET  /api/firewall/alias/getAliasUUID/<alias> -> {"uuid": "..."} or [] when there is no such alias.
 * - Failures come back as HTTP 200 with {"status":"failed"} / {"status":"not_an_address"}: checkBody turns
 *   them into errors.
 * For Host/Network aliases add/delete also persist to config.xml and update the pf table at once.
 *
 * No native expiry: a TTL is not sent anywhere. The hub's lease scheduler unblocks at expiry, so list()
 * never reports expiresInSeconds.
 */
import { createHttpClient, ProviderError, type HttpClient, type RequestSpec } from '../core/http';
import { parseTarget, type ParsedTarget } from '../core/guardrails';
import { apiRoot, badRequest, parseOrRefuse, parseUnblockAddresses, SerialQueue, unblockEach, withContext, type HttpTuning } from './provider-kit';
import type { BlockTarget, EnforcedBlock, FirewallProvider } from './types';

export interface OpnsenseOptions {
  /** Instance name for logs and leases. Default "opnsense". */
  name?: string;
  /** Firewall address, e.g. "https://fw.example" ("/api" is added when missing). */
  url: string;
  apiKey: string;
  apiSecret: string;
  /** Host or Network type alias used by a block rule. Default "soar_block". */
  alias?: string;
  http?: HttpTuning;
}

const KIND = 'opnsense';
// OPNsense alias names: letters, digits and underscore, at most 32 characters.
const ALIAS_NAME = /^[A-Za-z0-9_]{1,32}$/;
// Types alias_util can fill: host/network persist to config, external lives in the pf table only.
const FILLABLE_TYPES = new Set(['host', 'network', 'external']);
const ALIAS_UTIL = '/firewall/alias_util';
const LIST_PAGE_SIZE = 5000;
const MAX_LIST_PAGES = 200;
const REFUSED = 'refused before calling OPNsense';

/** The address as alias_util takes it: plain IP, or network/len. Only [0-9a-f:./] survive its filter. */
function addressText(target: ParsedTarget): string {
  return target.canonical.toLowerCase();
}

/** The rows of a list answer in either shape; unparseable rows (host names, garbage) are skipped. */
function parseListBody(data: unknown): { addresses: string[]; rowCount: number; total?: number } {
  let rows: unknown[] = [];
  let total: number | undefined;
  if (Array.isArray(data)) {
    rows = data;
  } else if (data && typeof data === 'object') {
    const body = data as { rows?: unknown; total?: unknown };
    if (Array.isArray(body.rows)) rows = body.rows;
    if (typeof body.total === 'number') total = body.total;
  }
  const addresses: string[] = [];
  for (const row of rows) {
    const value = typeof row === 'string' ? row : row && typeof row === 'object' ? (row as { ip?: unknown }).ip : undefined;
    if (typeof value !== 'string') continue;
    const parsed = parseTarget(value);
    if (!('error' in parsed)) addresses.push(parsed.canonical);
  }
  return { addresses, rowCount: rows.length, total };
}

/** The selected option of an OPNsense option field ({host: {value, selected: 1}, ...}), lower-cased. */
function selectedOption(field: unknown): string | undefined {
  if (typeof field === 'string') return field.toLowerCase();
  if (!field || typeof field !== 'object') return undefined;
  for (const [key, option] of Object.entries(field as Record<string, unknown>)) {
    const selected = (option as { selected?: unknown } | null)?.selected;
    if (selected === 1 || selected === '1' || selected === true) return key.toLowerCase();
  }
  return undefined;
}

export class OpnsenseFirewall implements FirewallProvider {
  readonly kind = KIND;
  readonly name: string;
  readonly alias: string;
  private readonly http: HttpClient;
  private ready = false;
  /** One change at a time: the read-then-add in block() must not interleave with another call. */
  private readonly queue = new SerialQueue();

  constructor(options: OpnsenseOptions) {
    this.name = options.name ?? 'opnsense';
    this.alias = options.alias ?? 'soar_block';
    if (!ALIAS_NAME.test(this.alias)) throw badRequest(KIND, `invalid OPNsense alias name "${String(this.alias).slice(0, 40)}" (letters, digits, _; max 32)`);
    if (!options.apiKey || !options.apiSecret) throw badRequest(KIND, 'OPNsense needs an API key and secret (System > Access > Users > API keys)');
    const baseURL = apiRoot(KIND, options.url, '/api', 'OPNsense url must start with https:// (or http://)');
    const basic = Buffer.from(`${options.apiKey}:${options.apiSecret}`, 'utf8').toString('base64');
    this.http = createHttpClient({
      ...options.http,
      provider: KIND,
      baseURL,
      headers: { Authorization: `Basic ${basic}` },
      secrets: [options.apiKey, options.apiSecret, basic],
      checkBody: (data) => {
        if (!data || typeof data !== 'object' || Array.isArray(data)) return undefined;
        const body = data as { status?: unknown; errorMessage?: unknown };
        // alias_util answers {"status":"done"}; anything else it returns with HTTP 200 is a refusal.
        if (typeof body.status === 'string' && !['done', 'ok'].includes(body.status.toLowerCase())) {
          return { code: 'BAD_REQUEST', vendorCode: body.status, message: `OPNsense answered status "${body.status.slice(0, 60)}"` };
        }
        if (typeof body.errorMessage === 'string') return { code: 'BAD_REQUEST', message: body.errorMessage.slice(0, 200) };
        return undefined;
      },
    });
  }

  private request<T>(spec: RequestSpec): Promise<T> {
    return this.http.request<T>(spec).then((response) => response.data);
  }

  /** The alias must exist and be of a type alias_util can fill; say how to create it when it is not. */
  private async checkAlias(): Promise<void> {
    const found = await this.request<unknown>({ url: `/firewall/alias/getAliasUUID/${this.alias}` });
    const uuid = found && typeof found === 'object' && !Array.isArray(found) ? (found as { uuid?: unknown }).uuid : undefined;
    if (typeof uuid !== 'string' || uuid === '') {
      throw new ProviderError({
        provider: KIND,
        code: 'NOT_FOUND',
        attempts: 1,
        message:
          `OPNsense alias "${this.alias}" does not exist. Create it under Firewall > Aliases (Type: Host(s) or Network(s), ` +
          `name ${this.alias}, empty content), add a block rule with it as source on the WAN interface (Firewall > Rules), and Apply.`,
      });
    }
    const item = await this.request<{ alias?: { type?: unknown } }>({ url: `/firewall/alias/getItem/${encodeURIComponent(uuid)}` });
    const type = selectedOption(item?.alias?.type);
    if (type !== undefined && !FILLABLE_TYPES.has(type)) {
      throw new ProviderError({
        provider: KIND,
        code: 'BAD_REQUEST',
        attempts: 1,
        message: `OPNsense alias "${this.alias}" has type "${type}"; blocks need a Host(s), Network(s) or External (advanced) alias`,
      });
    }
    this.ready = true;
  }

  /** Checks the alias exists (and its type). Changes nothing. */
  ensureReady(): Promise<void> {
    return this.queue.run(() => this.checkAlias());
  }

  private async readEntries(): Promise<string[]> {
    const url = `${ALIAS_UTIL}/list/${this.alias}`;
    const first = parseListBody(await this.request<unknown>({ url }));
    if (first.total === undefined || first.rowCount >= first.total) return [...new Set(first.addresses)];
    // A paged answer that did not hold everything: read again with explicit, large pages.
    const addresses = new Set<string>();
    for (let page = 1; page <= MAX_LIST_PAGES; page++) {
      const { addresses: rows, rowCount, total } = parseListBody(await this.request<unknown>({ url, params: { current: page, rowCount: LIST_PAGE_SIZE } }));
      for (const address of rows) addresses.add(address);
      if (rowCount === 0 || total === undefined || page * LIST_PAGE_SIZE >= total) break;
    }
    return [...addresses];
  }

  private async post(action: 'add' | 'delete', target: ParsedTarget): Promise<void> {
    // Adding a present address or deleting an absent one changes nothing, so a retry is safe.
    await this.request({ method: 'POST', url: `${ALIAS_UTIL}/${action}/${this.alias}`, data: { address: addressText(target) }, idempotent: true });
  }

  /**
   * Add every target or none: addresses already in the table are left alone; on a failure the ones
   * this call added are deleted again before the error is thrown. TTL and comment are not sent
   * (no native expiry; the lease scheduler unblocks).
   */
  async block(targets: BlockTarget[]): Promise<void> {
    if (!Array.isArray(targets)) throw badRequest(KIND, 'block() expects an array of targets');
    const parsed = new Map<string, ParsedTarget>();
    for (const target of targets) {
      const one = parseOrRefuse(KIND, target?.address, REFUSED);
      parsed.set(one.canonical, one);
    }
    if (parsed.size === 0) return;
    return this.queue.run(async () => {
      if (!this.ready) await this.checkAlias();
      const present = new Set(await this.readEntries());
      const added: ParsedTarget[] = [];
      try {
        for (const target of parsed.values()) {
          if (present.has(target.canonical)) continue;
          await this.post('add', target);
          added.push(target);
        }
      } catch (error) {
        const undoFailures = await this.undo(added);
        const note =
          undoFailures.length > 0
            ? `; rollback FAILED for ${undoFailures.join(', ')} (still blocked)`
            : added.length > 0
              ? `; rolled back ${added.length} added`
              : '';
        throw withContext(KIND, error, `nothing blocked${note}`);
      }
    });
  }

  private async undo(added: ParsedTarget[]): Promise<string[]> {
    const failed: string[] = [];
    for (const target of added.reverse()) {
      try {
        await this.post('delete', target);
      } catch {
        failed.push(target.canonical);
      }
    }
    return failed;
  }

  /** Delete each address; an absent one is fine. Tries all, then reports the first failure. */
  async unblock(addresses: string[]): Promise<void> {
    const parsed = parseUnblockAddresses(KIND, addresses, REFUSED);
    if (parsed.size === 0) return;
    return this.queue.run(() => unblockEach(KIND, parsed, (target) => this.post('delete', target)));
  }

  /** The pf table behind the alias: what the firewall enforces now. */
  list(): Promise<EnforcedBlock[]> {
    return this.queue.run(async () => (await this.readEntries()).map((address) => ({ address })));
  }

  async close(): Promise<void> {
    await this.queue.idle();
    this.http.close();
  }
}

export function createOpnsenseFirewall(options: OpnsenseOptions): OpnsenseFirewall {
  return new OpnsenseFirewall(options);
}
