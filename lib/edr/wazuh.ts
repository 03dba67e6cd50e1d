/**
 * EDR provider: Wazuh active response (manager API 4.x) running our isolation script on the agent.
 * Node-RED-free.
 *
 * Contract (documentation.wazuh.com/current/user-manual/api/reference.html: "Security:
 * Login", "Agents: List agents", "Active-response: Run command"; the tavern tests in
 * wazuh/wazuh api/test/integration):
 * - POST /security/user/authenticate with HTTP Basic → {"data":{"token":"<jwt>"},"error":0}; the
 *   token lasts 900 s by default (auth_token_exp_timeout). Later calls send Bearer <jwt>; a 401 means
 *   log in again.
 * - GET /agents?name=|ip=|agents_list= → {"data":{"affected_items":[{"id","name","ip","status"}],…},"error":0}.
 * - PUT /active-response?agents_list=<id,…> {"command","arguments":[],"alert":{…}} → 200 with
 *   {"data":{"affected_items":[ids],"failed_items":[{"error":{"code","message"},"id":[ids]}],
 *   "total_affected_items","total_failed_items"},"error":0|1|2}: a failed agent is reported in the body
 *   even on HTTP 200 (1651 agent not active, 1701 no such agent, 1750 active response disabled…).
 *
 * Wazuh has no call that says whether the script isolated the host: status() answers "unknown" and
 * isolate()/release() answer "sent". The isolation lease is the record of what was done, and the
 * caller decides already-isolated / not-isolated from it. The agent-side script and the ossec.conf
 * entries are in docs/edr/wazuh-isolation.md; the script is idempotent, so a repeat is harmless.
 */
import { createHttpClient, type HttpClient, type RequestSpec } from '../core/http';
import { ProviderError } from '../core/errors';
import { parseTarget } from '../core/guardrails';
import { cleanTarget, edrError, isAddress, pickOne, sameHostName, TokenCache, type EdrContext } from './common';
import type { EdrActionOptions, EdrActionResult, EdrDevice, EdrOp, EdrProgress, EdrProvider, EdrStatus, PendingAction } from './types';

export interface WazuhEdrOptions extends EdrContext {
  /** Manager API, e.g. https://wazuh.example:55000. */
  url: string;
  username: string;
  password: string;
  /** The <command> name declared on the manager. Default "soar-isolate". */
  command?: string;
  /** Addresses the isolated agent must still reach (manager, SOAR hub, jump hosts, DNS): sent to the script. */
  allow?: string[];
}

interface WazuhAgent {
  id: string;
  name?: string;
  ip?: string;
  status?: string;
}

interface WazuhItems<T> {
  data?: {
    affected_items?: T[];
    failed_items?: { error?: { code?: number; message?: string }; id?: string[] }[];
    total_affected_items?: number;
    total_failed_items?: number;
  };
  error?: number;
  message?: string;
}

export interface WazuhFailedAgent {
  id: string;
  code?: number;
  message?: string;
}

/** What one PUT /active-response did, agent by agent. */
export interface WazuhDispatch {
  affected: string[];
  failed: WazuhFailedAgent[];
}

const KIND = 'wazuh';
const AGENT_ID = /^\d{1,8}$/;
const COMMAND = /^!?[A-Za-z0-9_.-]{1,64}$/;

export class WazuhEdr implements EdrProvider {
  readonly kind = KIND;
  readonly name: string;
  readonly capabilities = { status: false, resolveBy: ['name', 'ip', 'id'] as const };
  private readonly http: HttpClient;
  private readonly tokens: TokenCache;
  private readonly secrets: string[];
  private readonly command: string;
  private readonly allow: string[];

  constructor(private readonly options: WazuhEdrOptions) {
    if (!options.url || !/^https?:\/\//.test(options.url)) throw edrError(KIND, 'BAD_REQUEST', 'Wazuh needs the manager API URL (https://manager:55000)');
    if (!options.username || !options.password) throw edrError(KIND, 'BAD_REQUEST', 'Wazuh needs an API user and password');
    this.command = options.command ?? 'soar-isolate';
    if (!COMMAND.test(this.command))
      throw edrError(KIND, 'BAD_REQUEST', 'Wazuh command must be a command name (letters, digits, . _ -; "!" for a script not declared on the manager)');
    // The list ends up in a root shell script on the agent: addresses and networks only.
    this.allow = (options.allow ?? []).map((entry) => {
      const parsed = parseTarget(String(entry).trim());
      if ('error' in parsed)
        throw edrError(KIND, 'BAD_REQUEST', `allow: ${JSON.stringify(String(entry)).slice(0, 60)} is not an address or network (${parsed.error})`);
      return parsed.canonical;
    });
    this.name = options.name ?? KIND;
    const basic = Buffer.from(`${options.username}:${options.password}`, 'utf8').toString('base64');
    this.secrets = [options.password, basic];
    this.http = createHttpClient({
      ...options.http,
      onRetry: (event) => {
        options.log?.(`${KIND}: retry ${event.attempt} after ${event.code}${event.status ? ` (HTTP ${event.status})` : ''}, waiting ${event.delayMs} ms`);
        options.http?.onRetry?.(event);
      },
      provider: KIND,
      baseURL: options.url.replace(/\/+$/, ''),
      headers: { accept: 'application/json' },
      secrets: this.secrets,
    });
    this.tokens = new TokenCache(
      async (signal) => {
        const { data } = await this.http.request<{ data?: { token?: string } }>({
          method: 'POST',
          url: '/security/user/authenticate',
          headers: { authorization: `Basic ${basic}` },
          dedupKey: 'login',
          signal,
        });
        const token = data?.data?.token;
        if (typeof token !== 'string' || !token) throw edrError(KIND, 'AUTH', 'login: no token in the answer');
        options.log?.(`${KIND}: logged in to the manager API`);
        return { token, expiresInSeconds: 900 };
      },
      options.http?.now ?? Date.now,
      (token) => this.http.setSecrets([...this.secrets, token]),
      options.log,
    );
  }

  private call<T>(spec: RequestSpec): Promise<T> {
    return this.tokens.withToken(
      async (token) => (await this.http.request<T>({ ...spec, headers: { ...spec.headers, authorization: `Bearer ${token}` } })).data,
      spec.signal,
    );
  }

  private async agents(params: Record<string, string>, signal?: AbortSignal): Promise<WazuhAgent[]> {
    const body = await this.call<WazuhItems<WazuhAgent>>({ url: '/agents', params: { ...params, select: 'id,name,ip,status', limit: 20 }, signal });
    return (body?.data?.affected_items ?? []).filter((a) => a && typeof a.id === 'string');
  }

  private toDevice(agent: WazuhAgent): EdrDevice {
    return { id: agent.id, ...(agent.name ? { name: agent.name } : {}), addresses: agent.ip ? [agent.ip] : [] };
  }

  async resolve(target: string, signal?: AbortSignal): Promise<EdrDevice> {
    const wanted = cleanTarget(KIND, target);
    let device: EdrDevice;
    if (AGENT_ID.test(wanted)) {
      const id = wanted.padStart(3, '0');
      device = pickOne(
        KIND,
        wanted,
        (await this.agents({ agents_list: id }, signal)).filter((a) => a.id === id).map((a) => this.toDevice(a)),
      );
    } else if (isAddress(wanted)) {
      device = pickOne(
        KIND,
        wanted,
        (await this.agents({ ip: wanted }, signal)).filter((a) => a.ip === wanted).map((a) => this.toDevice(a)),
      );
    } else {
      device = pickOne(
        KIND,
        wanted,
        (await this.agents({ name: wanted }, signal)).filter((a) => sameHostName(a.name, wanted)).map((a) => this.toDevice(a)),
      );
    }
    if (device.id === '000') throw edrError(KIND, 'BAD_REQUEST', `"${wanted}" is the Wazuh manager itself (agent 000): never isolated`);
    return device;
  }

  /** Wazuh cannot tell: the lease is the record. */
  async status(deviceId: string): Promise<EdrStatus> {
    return { deviceId, state: 'unknown' };
  }

  /**
   * Runs the isolation script on several agents in one call. Resolves when every agent took it;
   * otherwise rejects BODY_ERROR naming the failed agents (with Wazuh's codes) and the ones that did
   * take it, with the split in `body` ({affected, failed}) so the caller can record those.
   */
  async dispatch(op: EdrOp, agentIds: string[], options: EdrActionOptions = {}): Promise<WazuhDispatch> {
    if (!Array.isArray(agentIds) || agentIds.some((id) => typeof id !== 'string' || !AGENT_ID.test(id))) {
      throw edrError(KIND, 'BAD_REQUEST', 'active response needs Wazuh agent ids (e.g. 001)');
    }
    const ids = [...new Set(agentIds.map((id) => id.padStart(3, '0')))];
    if (ids.length === 0) throw edrError(KIND, 'BAD_REQUEST', 'active response needs Wazuh agent ids (e.g. 001)');
    if (ids.includes('000')) throw edrError(KIND, 'BAD_REQUEST', 'agent 000 is the manager itself: never isolated');
    const comment = options.comment
      ?.replace(/[\r\n\t]+/g, ' ')
      .trim()
      .slice(0, 500);
    const body = await this.call<WazuhItems<string>>({
      method: 'PUT',
      url: '/active-response',
      params: { agents_list: ids.join(',') },
      data: {
        command: this.command,
        arguments: [],
        alert: { data: { soar_action: op, allow: this.allow, ...(comment ? { comment } : {}) } },
      },
      headers: { 'content-type': 'application/json' },
      signal: options.signal,
    });
    const affected = (body?.data?.affected_items ?? []).map(String);
    const failed: WazuhFailedAgent[] = [];
    for (const item of body?.data?.failed_items ?? []) {
      for (const id of item?.id ?? [])
        failed.push({ id: String(id), code: item?.error?.code, message: item?.error?.message ? String(item.error.message).slice(0, 200) : undefined });
    }
    // error 1/2 or a failed count without items still means not every agent took it.
    const missing = ids.filter((id) => !affected.includes(id) && !failed.some((f) => f.id === id));
    for (const id of missing) failed.push({ id, message: `not in affected_items (error ${body?.error ?? '?'})` });
    if (failed.length > 0) {
      const list = failed.map((f) => `${f.id} (${f.code ?? '?'}${f.message ? ` ${f.message}` : ''})`).join(', ');
      throw new ProviderError({
        provider: KIND,
        code: 'BODY_ERROR',
        message: `${KIND}: active response ${this.command} (${op}) failed for agent(s) ${list}${affected.length ? `; taken by ${affected.join(', ')}` : ''}`,
        status: 200,
        vendorCode: failed[0].code !== undefined ? String(failed[0].code) : undefined,
        body: { affected, failed },
      });
    }
    this.options.log?.(`${KIND}: ${op} sent to agent(s) ${affected.join(', ')}`);
    return { affected, failed };
  }

  isolate(device: EdrDevice, options: EdrActionOptions = {}): Promise<EdrActionResult> {
    return this.act('isolate', device, options);
  }

  release(device: EdrDevice, options: EdrActionOptions = {}): Promise<EdrActionResult> {
    return this.act('release', device, options);
  }

  private async act(op: EdrOp, device: EdrDevice, options: EdrActionOptions): Promise<EdrActionResult> {
    await this.dispatch(op, [device.id], options);
    return { outcome: 'sent', device, status: { deviceId: device.id, state: 'unknown' } };
  }

  /** Nothing to follow: the command was taken when dispatch() resolved. */
  async progress(handle: PendingAction): Promise<EdrProgress> {
    return { phase: 'succeeded', status: { deviceId: handle.deviceId, state: 'unknown' } };
  }

  async close(): Promise<void> {
    this.http.close();
  }
}

export function createWazuhEdr(options: WazuhEdrOptions): WazuhEdr {
  return new WazuhEdr(options);
}
