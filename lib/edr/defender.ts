/**
 * EDR provider: Microsoft Defender for Endpoint machine isolation. Node-RED-free.
 *
 * Contract (learn.microsoft.com/defender-endpoint/api/isolate-machine, unisolate-machine,
 * get-machineaction-object, get-machines, exposed-apis-create-app-webapp):
 * - Token: POST https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token, form grant_type=
 *   client_credentials, client_id, client_secret, scope=https://api.securitycenter.microsoft.com/.default
 *   → {"token_type":"Bearer","expires_in":3599,"access_token"}. Application permission Machine.Isolate
 *   (and Machine.Read.All to resolve).
 * - GET  /api/machines/<id>, GET /api/machines?$filter=… (computerDnsName, lastIpAddress) → {"value":[…]}.
 * - POST /api/machines/<id>/isolate {"Comment","IsolationType":"Full"|"Selective"} → 201 MachineAction;
 *   POST /api/machines/<id>/unisolate {"Comment"} → 201 MachineAction.
 * - GET  /api/machineactions/<id> → {"id","type","status":"Pending"|"InProgress"|"Succeeded"|"Failed"|"TimeOut"|"Cancelled",…};
 *   GET /api/machineactions?$filter=machineId eq '<id>' → {"value":[…]}.
 * - An action of the same kind already pending answers 400 with error.code ActiveRequestAlreadyExists:
 *   that action is found and followed.
 * - Limits 100 calls/minute and 1,500/hour; a 429 carries Retry-After (seconds).
 * Defender has no isolation flag on the machine: the latest Isolate/Unisolate action says the state.
 */
import { createHttpClient, ProviderError, type HttpClient, type RequestSpec, type RetryEvent } from '../core/http';
import { cleanTarget, edrError, isAddress, newHandle, pickOne, sameHostName, TokenCache, type EdrContext } from './common';
import type { EdrActionOptions, EdrActionResult, EdrDevice, EdrOp, EdrProgress, EdrProvider, EdrState, EdrStatus, PendingAction } from './types';
import { finalStateOf, pendingStateOf } from './types';

export interface DefenderOptions extends EdrContext {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  isolationType?: 'Full' | 'Selective';
  /** Default https://api.securitycenter.microsoft.com (regional: https://eu.api.security.microsoft.com …). */
  apiUrl?: string;
  /** Default https://login.microsoftonline.com. */
  loginUrl?: string;
}

interface Machine {
  id: string;
  computerDnsName?: string;
  lastIpAddress?: string;
  lastExternalIpAddress?: string;
}

interface MachineAction {
  id: string;
  type?: string;
  status?: string;
  machineId?: string;
  creationDateTimeUtc?: string;
  requestorComment?: string;
  cancellationComment?: string;
}

const KIND = 'defender';
const SCOPE = 'https://api.securitycenter.microsoft.com/.default';
const MACHINE_ID = /^[0-9a-f]{40}$/i;
const TENANT = /^[A-Za-z0-9.-]{1,100}$/;
const RUNNING = new Set(['Pending', 'InProgress']);
const FAILED = new Set(['Failed', 'TimeOut', 'Cancelled']);
const TYPE_OF: Record<EdrOp, string> = { isolate: 'Isolate', release: 'Unisolate' };

export class DefenderEdr implements EdrProvider {
  readonly kind = KIND;
  readonly name: string;
  readonly capabilities = { status: true, resolveBy: ['name', 'ip', 'id'] as const };
  private readonly api: HttpClient;
  private readonly login: HttpClient;
  private readonly tokens: TokenCache;
  private readonly now: () => number;
  private readonly secrets: string[];
  private readonly isolationType: 'Full' | 'Selective';

  constructor(private readonly options: DefenderOptions) {
    if (!options.tenantId || !options.clientId || !options.clientSecret)
      throw edrError(KIND, 'BAD_REQUEST', 'Defender needs a tenant id, an app (client) id and its secret');
    if (!TENANT.test(options.tenantId)) throw edrError(KIND, 'BAD_REQUEST', 'Defender tenant id must be a GUID or a domain name');
    if (options.isolationType !== undefined && options.isolationType !== 'Full' && options.isolationType !== 'Selective') {
      throw edrError(KIND, 'BAD_REQUEST', 'isolationType must be Full or Selective');
    }
    this.isolationType = options.isolationType ?? 'Full';
    this.name = options.name ?? KIND;
    this.now = options.http?.now ?? Date.now;
    this.secrets = [options.clientSecret];
    const common = {
      ...options.http,
      onRetry: (event: RetryEvent) => {
        options.log?.(`${KIND}: retry ${event.attempt} after ${event.code}${event.status ? ` (HTTP ${event.status})` : ''}, waiting ${event.delayMs} ms`);
        options.http?.onRetry?.(event);
      },
      provider: KIND,
      headers: { accept: 'application/json' },
      secrets: this.secrets,
    };
    this.api = createHttpClient({ ...common, baseURL: (options.apiUrl ?? 'https://api.securitycenter.microsoft.com').replace(/\/+$/, '') });
    this.login = createHttpClient({ ...common, baseURL: (options.loginUrl ?? 'https://login.microsoftonline.com').replace(/\/+$/, '') });
    this.tokens = new TokenCache(
      (signal) => this.fetchToken(signal),
      this.now,
      (token) => this.api.setSecrets([...this.secrets, token]),
      options.log,
    );
  }

  private async fetchToken(signal?: AbortSignal) {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: this.options.clientId,
      client_secret: this.options.clientSecret,
      scope: SCOPE,
    });
    const { data } = await this.login.request<{ access_token?: string; expires_in?: number | string }>({
      method: 'POST',
      url: `/${encodeURIComponent(this.options.tenantId)}/oauth2/v2.0/token`,
      data: form.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      dedupKey: 'aad-token',
      signal,
    });
    if (typeof data?.access_token !== 'string' || !data.access_token) throw edrError(KIND, 'AUTH', 'token endpoint: no access_token in the answer');
    const lifetime = Number(data.expires_in);
    this.options.log?.(`${KIND}: new token, valid ${Number.isFinite(lifetime) ? lifetime : '?'} s`);
    return { token: data.access_token, expiresInSeconds: Number.isFinite(lifetime) ? lifetime : 3599 };
  }

  private async call<T>(spec: RequestSpec): Promise<T> {
    return this.tokens.withToken(
      async (token) => (await this.api.request<T>({ ...spec, headers: { ...spec.headers, authorization: `Bearer ${token}` } })).data,
      spec.signal,
    );
  }

  private toDevice(m: Machine): EdrDevice {
    return {
      id: m.id,
      ...(m.computerDnsName ? { name: m.computerDnsName } : {}),
      addresses: [m.lastIpAddress, m.lastExternalIpAddress].filter((a): a is string => Boolean(a)),
    };
  }

  private async machines(filter: string, signal?: AbortSignal): Promise<Machine[]> {
    const body = await this.call<{ value?: Machine[] }>({ url: '/api/machines', params: { $filter: filter, $top: 20 }, signal });
    return (body?.value ?? []).filter((m) => m && typeof m.id === 'string');
  }

  async resolve(target: string, signal?: AbortSignal): Promise<EdrDevice> {
    const wanted = cleanTarget(KIND, target);
    if (MACHINE_ID.test(wanted)) {
      try {
        const machine = await this.call<Machine>({ url: `/api/machines/${wanted.toLowerCase()}`, signal });
        if (machine?.id) return this.toDevice(machine);
      } catch (error) {
        if (!(error instanceof ProviderError) || error.code !== 'NOT_FOUND') throw error;
      }
    }
    if (isAddress(wanted)) {
      const found = await this.machines(`lastIpAddress eq '${wanted}' or lastExternalIpAddress eq '${wanted}'`, signal);
      return pickOne(
        KIND,
        wanted,
        found.map((m) => this.toDevice(m)),
      );
    }
    // computerDnsName is usually the FQDN: a short name matches its first label.
    const found = await this.machines(`startswith(computerDnsName,'${wanted.toLowerCase()}')`, signal);
    return pickOne(
      KIND,
      wanted,
      found.filter((m) => sameHostName(m.computerDnsName, wanted)).map((m) => this.toDevice(m)),
    );
  }

  private async actionsOf(deviceId: string, signal?: AbortSignal): Promise<MachineAction[]> {
    const body = await this.call<{ value?: MachineAction[] }>({ url: '/api/machineactions', params: { $filter: `machineId eq '${deviceId}'` }, signal });
    return (body?.value ?? [])
      .filter((a) => a && (a.type === 'Isolate' || a.type === 'Unisolate'))
      .sort((a, b) => Date.parse(b.creationDateTimeUtc ?? '') - Date.parse(a.creationDateTimeUtc ?? ''));
  }

  private stateOf(actions: MachineAction[]): { state: EdrState; raw?: string; action?: MachineAction } {
    for (const action of actions) {
      if (FAILED.has(action.status ?? '')) continue; // a failed action changed nothing
      const raw = `${action.type} ${action.status}`;
      if (RUNNING.has(action.status ?? '')) return { state: action.type === 'Isolate' ? 'pending-isolate' : 'pending-release', raw, action };
      if (action.status === 'Succeeded') return { state: action.type === 'Isolate' ? 'isolated' : 'normal', raw, action };
    }
    return { state: 'normal', raw: 'no isolation action' };
  }

  async status(deviceId: string, signal?: AbortSignal): Promise<EdrStatus> {
    const { state, raw } = this.stateOf(await this.actionsOf(deviceId, signal));
    return { deviceId, state, ...(raw ? { raw } : {}) };
  }

  isolate(device: EdrDevice, options: EdrActionOptions = {}): Promise<EdrActionResult> {
    return this.act('isolate', device, options);
  }

  release(device: EdrDevice, options: EdrActionOptions = {}): Promise<EdrActionResult> {
    return this.act('release', device, options);
  }

  private async act(op: EdrOp, device: EdrDevice, options: EdrActionOptions): Promise<EdrActionResult> {
    const before = this.stateOf(await this.actionsOf(device.id, options.signal));
    const status = (state: EdrState, raw?: string): EdrStatus => ({ deviceId: device.id, state, ...(raw ? { raw } : {}) });
    if (before.state === finalStateOf(op))
      return { outcome: op === 'isolate' ? 'already-isolated' : 'not-isolated', device, status: status(before.state, before.raw) };
    if (before.state === pendingStateOf(op) && before.action) {
      return {
        outcome: 'in-progress',
        device,
        status: status(before.state, before.raw),
        handle: newHandle(KIND, this.name, op, device, this.now(), before.action.id),
      };
    }
    const comment = (options.comment?.replace(/[\r\n\t]+/g, ' ').trim() || `SOAR ${op}`).slice(0, 1000);
    const body = op === 'isolate' ? { Comment: comment, IsolationType: this.isolationType } : { Comment: comment };
    let action: MachineAction;
    try {
      action = await this.call<MachineAction>({
        method: 'POST',
        url: `/api/machines/${encodeURIComponent(device.id)}/${op === 'isolate' ? 'isolate' : 'unisolate'}`,
        data: body,
        headers: { 'content-type': 'application/json' },
        // A repeat is answered ActiveRequestAlreadyExists and followed: safe to retry on a 429.
        dedupKey: `${op} ${device.id}`,
        signal: options.signal,
      });
    } catch (error) {
      if (!(error instanceof ProviderError) || error.status !== 400 || error.vendorCode !== 'ActiveRequestAlreadyExists') throw error;
      const pending = (await this.actionsOf(device.id, options.signal)).find((a) => RUNNING.has(a.status ?? ''));
      if (!pending) throw error;
      this.options.log?.(`${KIND}: ${pending.type} ${pending.id} already pending for ${device.id}: following it`);
      const state = pending.type === 'Isolate' ? 'pending-isolate' : 'pending-release';
      return {
        outcome: 'in-progress',
        device,
        status: status(state, `${pending.type} ${pending.status}`),
        handle: newHandle(KIND, this.name, op, device, this.now(), pending.id),
      };
    }
    if (typeof action?.id !== 'string') throw edrError(KIND, 'BODY_ERROR', `${op}: the answer carries no MachineAction id`);
    return {
      outcome: 'requested',
      device,
      status: status(pendingStateOf(op), `${action.type ?? TYPE_OF[op]} ${action.status ?? 'Pending'}`),
      handle: newHandle(KIND, this.name, op, device, this.now(), action.id),
    };
  }

  async progress(handle: PendingAction, signal?: AbortSignal): Promise<EdrProgress> {
    if (!handle.actionId) {
      const status = await this.status(handle.deviceId, signal);
      return { phase: status.state === finalStateOf(handle.op) ? 'succeeded' : 'pending', status };
    }
    const action = await this.call<MachineAction>({ url: `/api/machineactions/${encodeURIComponent(handle.actionId)}`, signal });
    const raw = `${action?.type ?? TYPE_OF[handle.op]} ${action?.status ?? '?'}`;
    if (action?.status === 'Succeeded') return { phase: 'succeeded', status: { deviceId: handle.deviceId, state: finalStateOf(handle.op), raw } };
    if (FAILED.has(action?.status ?? '')) {
      const why = action.cancellationComment ? `: ${String(action.cancellationComment).slice(0, 200)}` : '';
      return {
        phase: 'failed',
        status: { deviceId: handle.deviceId, state: 'unknown', raw: action.status },
        reason: `machine action ${action.id} ${action.status}${why}`,
      };
    }
    return { phase: 'pending', status: { deviceId: handle.deviceId, state: pendingStateOf(handle.op), raw } };
  }

  async close(): Promise<void> {
    this.api.close();
    this.login.close();
  }
}

export function createDefenderEdr(options: DefenderOptions): DefenderEdr {
  return new DefenderEdr(options);
}
