/**
 * EDR provider: SentinelOne network quarantine ("disconnect from network"), Management API v2.1.
 * Node-RED-free.
 *
 * Contract (the console's API doc at /api-doc on every tenant, "Agents" and "Agent Actions"; Kibana's
 * SentinelOne API emulator has the same routes and envelopes):
 * - Auth header `Authorization: ApiToken <token>`; a token is issued in the console and does not
 *   refresh: a 401 is reported as AUTH (a new token must be entered).
 * - GET  /web/api/v2.1/agents?computerName=|ids=|uuids=|networkInterfaceInet__contains= →
 *   {"data":[{"id","uuid","computerName","networkStatus","lastIpToMgmt","networkInterfaces":[{"inet":[…]}]}],"pagination":{…}}
 *   networkStatus: connected | disconnecting | disconnected | connecting.
 * - POST /web/api/v2.1/agents/actions/disconnect | connect {"filter":{"ids":["<id>"]}} → {"data":{"affected":n}};
 *   affected 0 means nothing matched: a failure.
 * - Errors {"errors":[{"code","title","detail"}]}; a 429 may carry Retry-After.
 */
import { createHttpClient, type HttpClient, type RequestSpec } from '../core/http';
import { cleanTarget, edrError, isAddress, newHandle, pickOne, sameHostName, type EdrContext } from './common';
import type { EdrActionOptions, EdrActionResult, EdrDevice, EdrOp, EdrProgress, EdrProvider, EdrState, EdrStatus, PendingAction } from './types';
import { finalStateOf, pendingStateOf } from './types';

export interface SentinelOneOptions extends EdrContext {
  /** The console URL, e.g. https://example.sentinelone.net. */
  url: string;
  apiToken: string;
}

interface S1Agent {
  id: string;
  uuid?: string;
  computerName?: string;
  networkStatus?: string;
  lastIpToMgmt?: string;
  externalIp?: string;
  networkInterfaces?: { inet?: string[]; inet6?: string[] }[];
}

const KIND = 'sentinelone';
const API = '/web/api/v2.1';
const AGENT_ID = /^\d{6,20}$/;
const UUID = /^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;
const STATES: Record<string, EdrState> = {
  connected: 'normal',
  disconnecting: 'pending-isolate',
  disconnected: 'isolated',
  connecting: 'pending-release',
};

function addressesOf(agent: S1Agent): string[] {
  const found = new Set<string>();
  for (const nic of agent.networkInterfaces ?? []) for (const a of [...(nic?.inet ?? []), ...(nic?.inet6 ?? [])]) if (typeof a === 'string') found.add(a);
  if (agent.lastIpToMgmt) found.add(agent.lastIpToMgmt);
  if (agent.externalIp) found.add(agent.externalIp);
  return [...found];
}

export class SentinelOneEdr implements EdrProvider {
  readonly kind = KIND;
  readonly name: string;
  readonly capabilities = { status: true, resolveBy: ['name', 'ip', 'id'] as const };
  private readonly http: HttpClient;
  private readonly now: () => number;

  constructor(private readonly options: SentinelOneOptions) {
    if (!options.url || !/^https?:\/\//.test(options.url))
      throw edrError(KIND, 'BAD_REQUEST', 'SentinelOne needs the console URL (https://<tenant>.sentinelone.net)');
    if (!options.apiToken) throw edrError(KIND, 'BAD_REQUEST', 'SentinelOne needs an API token');
    this.name = options.name ?? KIND;
    this.now = options.http?.now ?? Date.now;
    this.http = createHttpClient({
      ...options.http,
      onRetry: (event) => {
        options.log?.(`${KIND}: retry ${event.attempt} after ${event.code}${event.status ? ` (HTTP ${event.status})` : ''}, waiting ${event.delayMs} ms`);
        options.http?.onRetry?.(event);
      },
      provider: KIND,
      baseURL: options.url.replace(/\/+$/, '') + API,
      headers: { authorization: `ApiToken ${options.apiToken}`, accept: 'application/json' },
      secrets: [options.apiToken],
    });
  }

  private async call<T>(spec: RequestSpec): Promise<T> {
    try {
      return (await this.http.request<T>(spec)).data;
    } catch (error) {
      if (error instanceof Error && 'status' in error && (error as { status?: number }).status === 401) {
        this.options.log?.(`${KIND}: API token refused (401); API tokens do not refresh, a new one is needed`);
      }
      throw error;
    }
  }

  private async agents(params: Record<string, string>, signal?: AbortSignal): Promise<S1Agent[]> {
    const body = await this.call<{ data?: S1Agent[] }>({ url: '/agents', params: { ...params, limit: 20 }, signal });
    return (body?.data ?? []).filter((a) => a && typeof a.id === 'string');
  }

  private toDevice(agent: S1Agent): EdrDevice {
    return { id: agent.id, ...(agent.computerName ? { name: agent.computerName } : {}), addresses: addressesOf(agent) };
  }

  async resolve(target: string, signal?: AbortSignal): Promise<EdrDevice> {
    const wanted = cleanTarget(KIND, target);
    let found: S1Agent[] = [];
    if (AGENT_ID.test(wanted)) found = await this.agents({ ids: wanted }, signal);
    else if (UUID.test(wanted))
      found = (await this.agents({ uuids: wanted.toLowerCase() }, signal)).filter((a) => a.uuid?.toLowerCase() === wanted.toLowerCase());
    if (found.length > 0)
      return pickOne(
        KIND,
        wanted,
        found.map((a) => this.toDevice(a)),
      );
    if (isAddress(wanted)) {
      const candidates = await this.agents({ networkInterfaceInet__contains: wanted }, signal);
      // "contains" also matches 10.0.0.10 for 10.0.0.1: keep exact addresses only.
      return pickOne(
        KIND,
        wanted,
        candidates.filter((a) => addressesOf(a).includes(wanted)).map((a) => this.toDevice(a)),
      );
    }
    const candidates = await this.agents({ computerName: wanted }, signal);
    return pickOne(
      KIND,
      wanted,
      candidates.filter((a) => sameHostName(a.computerName, wanted)).map((a) => this.toDevice(a)),
    );
  }

  async status(deviceId: string, signal?: AbortSignal): Promise<EdrStatus> {
    const [agent] = await this.agents({ ids: deviceId }, signal);
    if (!agent) throw edrError(KIND, 'NOT_FOUND', `agent ${deviceId} not found`, { vendorCode: 'unknown-host' });
    const raw = String(agent.networkStatus ?? '');
    return { deviceId, state: STATES[raw] ?? 'unknown', raw };
  }

  isolate(device: EdrDevice, options: EdrActionOptions = {}): Promise<EdrActionResult> {
    return this.act('isolate', device, options);
  }

  release(device: EdrDevice, options: EdrActionOptions = {}): Promise<EdrActionResult> {
    return this.act('release', device, options);
  }

  private async act(op: EdrOp, device: EdrDevice, options: EdrActionOptions): Promise<EdrActionResult> {
    const before = await this.status(device.id, options.signal);
    if (before.state === finalStateOf(op)) return { outcome: op === 'isolate' ? 'already-isolated' : 'not-isolated', device, status: before };
    if (before.state === pendingStateOf(op))
      return { outcome: 'in-progress', device, status: before, handle: newHandle(KIND, this.name, op, device, this.now()) };
    const action = op === 'isolate' ? 'disconnect' : 'connect';
    const body = await this.call<{ data?: { affected?: number } }>({
      method: 'POST',
      url: `/agents/actions/${action}`,
      data: { filter: { ids: [device.id] } },
      headers: { 'content-type': 'application/json' },
      // Disconnecting a disconnected agent changes nothing: a rate-limited request may be repeated.
      dedupKey: `${action} ${device.id}`,
      signal: options.signal,
    });
    const affected = Number(body?.data?.affected);
    if (!(affected > 0)) {
      throw edrError(
        KIND,
        'BODY_ERROR',
        `${action} of agent ${device.id}: affected ${Number.isFinite(affected) ? affected : '(missing)'}, the agent was not matched`,
        { vendorCode: 'affected-0', body },
      );
    }
    return {
      outcome: 'requested',
      device,
      status: { deviceId: device.id, state: pendingStateOf(op), raw: before.raw },
      handle: newHandle(KIND, this.name, op, device, this.now()),
    };
  }

  async progress(handle: PendingAction, signal?: AbortSignal): Promise<EdrProgress> {
    const status = await this.status(handle.deviceId, signal);
    return { phase: status.state === finalStateOf(handle.op) ? 'succeeded' : 'pending', status };
  }

  async close(): Promise<void> {
    this.http.close();
  }
}

export function createSentinelOneEdr(options: SentinelOneOptions): SentinelOneEdr {
  return new SentinelOneEdr(options);
}
