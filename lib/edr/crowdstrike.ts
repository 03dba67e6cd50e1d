/**
 * EDR provider: CrowdStrike Falcon host containment. Node-RED-free.
 *
 * Contract (falcon.crowdstrike.com/documentation "OAuth2 auth token APIs", "Hosts / Host
 * management"; the PSFalcon and FalconPy clients show the same routes):
 * - POST /oauth2/token form client_id, client_secret (member_cid for a child CID) → 201
 *   {"access_token","token_type":"bearer","expires_in":1799}. Tokens last 30 minutes.
 * - GET  /devices/queries/devices/v1?filter=<FQL> → {"resources":["<aid>",…]}; FQL hostname:'x',
 *   local_ip:'x', external_ip:'x'; a comma is OR.
 * - GET  /devices/entities/devices/v2?ids=<aid>&ids=… → resources[].{device_id,hostname,local_ip,
 *   external_ip,status}; status is normal | containment_pending | contained | lift_containment_pending.
 * - POST /devices/entities/devices-actions/v2?action_name=contain|lift_containment {"ids":["<aid>"]}.
 * - Every answer is an envelope {meta, resources, errors}; errors[] may be set on a 2xx too.
 * - 429 carries X-RateLimit-Limit / X-RateLimit-Remaining and X-RateLimit-RetryAfter (epoch seconds).
 */
import { createHttpClient, ProviderError, type HttpClient, type RequestSpec } from '../core/http';
import { cleanTarget, edrError, isAddress, newHandle, pickOne, sameHostName, TokenCache, type EdrContext } from './common';
import type { EdrActionOptions, EdrActionResult, EdrDevice, EdrOp, EdrProgress, EdrProvider, EdrState, EdrStatus, PendingAction } from './types';
import { finalStateOf, pendingStateOf } from './types';

export interface CrowdStrikeOptions extends EdrContext {
  clientId: string;
  clientSecret: string;
  /** Default https://api.crowdstrike.com (US-1); api.us-2 / api.eu-1 / api.laggar.gcw for the other clouds. */
  baseUrl?: string;
  /** Child CID for Flight Control parents. */
  memberCid?: string;
}

interface CsEnvelope<T> {
  resources?: T[];
  errors?: { code?: number; message?: string }[] | null;
}

interface CsDevice {
  device_id: string;
  hostname?: string;
  local_ip?: string;
  external_ip?: string;
  status?: string;
}

const KIND = 'crowdstrike';
const DEFAULT_BASE = 'https://api.crowdstrike.com';
const AID = /^[0-9a-f]{32}$/i;
const STATES: Record<string, EdrState> = {
  normal: 'normal',
  containment_pending: 'pending-isolate',
  contained: 'isolated',
  lift_containment_pending: 'pending-release',
};

export class CrowdStrikeEdr implements EdrProvider {
  readonly kind = KIND;
  readonly name: string;
  readonly capabilities = { status: true, resolveBy: ['name', 'ip', 'id'] as const };
  private readonly http: HttpClient;
  private readonly tokens: TokenCache;
  private readonly now: () => number;
  private readonly secrets: string[];

  constructor(private readonly options: CrowdStrikeOptions) {
    if (!options.clientId || !options.clientSecret)
      throw edrError(KIND, 'BAD_REQUEST', 'CrowdStrike needs an API client id and secret (Hosts: read and write)');
    this.name = options.name ?? KIND;
    this.now = options.http?.now ?? Date.now;
    this.secrets = [options.clientSecret];
    this.http = createHttpClient({
      ...options.http,
      onRetry: (event) => {
        options.log?.(`${KIND}: retry ${event.attempt} after ${event.code}${event.status ? ` (HTTP ${event.status})` : ''}, waiting ${event.delayMs} ms`);
        options.http?.onRetry?.(event);
      },
      provider: KIND,
      baseURL: (options.baseUrl ?? DEFAULT_BASE).replace(/\/+$/, ''),
      headers: { accept: 'application/json' },
      secrets: this.secrets,
      retryAfterHeaders: ['x-ratelimit-retryafter'],
      checkBody: (data) => {
        const errors = (data as CsEnvelope<unknown> | undefined)?.errors;
        if (!Array.isArray(errors) || errors.length === 0) return undefined;
        const first = errors[0] ?? {};
        return {
          code: first.code === 404 ? 'NOT_FOUND' : 'BODY_ERROR',
          vendorCode: first.code !== undefined ? String(first.code) : undefined,
          message: String(first.message ?? 'errors[] in body').slice(0, 300),
        };
      },
    });
    this.tokens = new TokenCache(
      (signal) => this.fetchToken(signal),
      this.now,
      (token) => this.http.setSecrets([...this.secrets, token]),
      options.log,
    );
  }

  private async fetchToken(signal?: AbortSignal) {
    const form = new URLSearchParams({ client_id: this.options.clientId, client_secret: this.options.clientSecret });
    if (this.options.memberCid) form.set('member_cid', this.options.memberCid);
    const { data } = await this.http.request<{ access_token?: string; expires_in?: number }>({
      method: 'POST',
      url: '/oauth2/token',
      data: form.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      // Asking for a token twice is harmless: a rate-limited request may be repeated.
      dedupKey: 'oauth2-token',
      signal,
    });
    if (typeof data?.access_token !== 'string' || !data.access_token) throw edrError(KIND, 'AUTH', 'POST /oauth2/token: no access_token in the answer');
    this.options.log?.(`${KIND}: new OAuth2 token, valid ${data.expires_in ?? '?'} s`);
    return { token: data.access_token, expiresInSeconds: typeof data.expires_in === 'number' ? data.expires_in : 1799 };
  }

  private call<T>(spec: RequestSpec): Promise<CsEnvelope<T>> {
    return this.tokens.withToken(
      async (token) => (await this.http.request<CsEnvelope<T>>({ ...spec, headers: { ...spec.headers, authorization: `Bearer ${token}` } })).data ?? {},
      spec.signal,
    );
  }

  private async devices(ids: string[], signal?: AbortSignal): Promise<CsDevice[]> {
    if (ids.length === 0) return [];
    const query = ids.map((id) => `ids=${encodeURIComponent(id)}`).join('&');
    try {
      const body = await this.call<CsDevice>({ url: `/devices/entities/devices/v2?${query}`, signal });
      return (body.resources ?? []).filter((d) => d && typeof d.device_id === 'string');
    } catch (error) {
      if (error instanceof ProviderError && error.code === 'NOT_FOUND') return [];
      throw error;
    }
  }

  private toDevice(d: CsDevice): EdrDevice {
    return { id: d.device_id, ...(d.hostname ? { name: d.hostname } : {}), addresses: [d.local_ip, d.external_ip].filter((a): a is string => Boolean(a)) };
  }

  async resolve(target: string, signal?: AbortSignal): Promise<EdrDevice> {
    const wanted = cleanTarget(KIND, target);
    if (AID.test(wanted)) {
      const found = await this.devices([wanted.toLowerCase()], signal);
      if (found.length > 0)
        return pickOne(
          KIND,
          wanted,
          found.map((d) => this.toDevice(d)),
        );
    }
    const filter = isAddress(wanted) ? `local_ip:'${wanted}',external_ip:'${wanted}'` : `hostname:'${wanted}'`;
    const ids = await this.call<string>({ url: '/devices/queries/devices/v1', params: { filter, limit: 20 }, signal });
    const details = await this.devices(
      (ids.resources ?? []).filter((id) => typeof id === 'string'),
      signal,
    );
    // FQL matching is looser than ours (wildcards, prefixes): keep only exact matches.
    const exact = details.filter((d) => (isAddress(wanted) ? d.local_ip === wanted || d.external_ip === wanted : sameHostName(d.hostname, wanted)));
    return pickOne(
      KIND,
      wanted,
      exact.map((d) => this.toDevice(d)),
    );
  }

  async status(deviceId: string, signal?: AbortSignal): Promise<EdrStatus> {
    const [device] = await this.devices([deviceId], signal);
    if (!device) throw edrError(KIND, 'NOT_FOUND', `device ${deviceId} not found`, { vendorCode: 'unknown-host' });
    const raw = String(device.status ?? '');
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
    if (before.state === pendingStateOf(op)) {
      return { outcome: 'in-progress', device, status: before, handle: newHandle(KIND, this.name, op, device, this.now()) };
    }
    const action = op === 'isolate' ? 'contain' : 'lift_containment';
    await this.call({
      method: 'POST',
      url: '/devices/entities/devices-actions/v2',
      params: { action_name: action },
      data: { ids: [device.id] },
      headers: { 'content-type': 'application/json' },
      // Containing a contained host changes nothing, so a rate-limited request may be repeated.
      dedupKey: `${action} ${device.id}`,
      signal: options.signal,
    });
    this.options.log?.(`${KIND}: ${action} requested for ${device.id}`);
    return {
      outcome: 'requested',
      device,
      status: { deviceId: device.id, state: pendingStateOf(op), raw: before.raw },
      handle: newHandle(KIND, this.name, op, device, this.now()),
    };
  }

  /** CrowdStrike has no action id: the device's status is the progress; it reports no failure state. */
  async progress(handle: PendingAction, signal?: AbortSignal): Promise<EdrProgress> {
    const status = await this.status(handle.deviceId, signal);
    return { phase: status.state === finalStateOf(handle.op) ? 'succeeded' : 'pending', status };
  }

  async close(): Promise<void> {
    this.http.close();
  }
}

export function createCrowdStrikeEdr(options: CrowdStrikeOptions): CrowdStrikeEdr {
  return new CrowdStrikeEdr(options);
}
