/**
 * What the EDR providers share: the context they are built in, host resolution down to exactly one
 * device, a cached bearer token refreshed before expiry and once on a 401, and pending-action
 * handles. Node-RED-free.
 */
import { isIP } from 'node:net';
import { ProviderError, type ProviderErrorCode } from '../core/errors';
import type { HttpClientOptions } from '../core/http';
import { redact } from '../core/redact';
import type { EdrDevice, EdrOp, PendingAction } from './types';

/** Client settings a caller may tune (timeouts, retries, budget, test clock, TLS agent); the provider sets the rest. */
export type EdrHttpTuning = Omit<HttpClientOptions, 'provider' | 'baseURL' | 'headers' | 'secrets' | 'checkBody'>;

export interface EdrContext {
  /** Instance name (config node id). */
  name?: string;
  http?: EdrHttpTuning;
  /** Debug lines (token refreshes, retries). Never given a secret. */
  log?: (line: string) => void;
}

export function edrError(
  provider: string,
  code: ProviderErrorCode,
  message: string,
  extra: { vendorCode?: string; body?: unknown; secrets?: readonly string[] } = {},
): ProviderError {
  return new ProviderError({
    provider,
    code,
    message: redact(`${provider}: ${message}`, extra.secrets ?? []),
    attempts: 0,
    ...(extra.vendorCode !== undefined ? { vendorCode: extra.vendorCode } : {}),
    ...(extra.body !== undefined ? { body: extra.body } : {}),
  });
}

/** What a target looks like: an IP address, or a name/id (the provider decides which by its id shape). */
export function isAddress(target: string): boolean {
  return isIP(target) !== 0;
}

/** Trimmed target, refused when empty or not a plain string (nothing is sent). */
export function cleanTarget(provider: string, target: unknown): string {
  const text = typeof target === 'string' ? target.trim() : '';
  if (!text || text.length > 255 || /[\u0000-\u001f'"\\]/.test(text)) {
    throw edrError(
      provider,
      'BAD_REQUEST',
      `target must be a host name, an IP address or a device id (got ${JSON.stringify(String(target ?? '')).slice(0, 80)})`,
    );
  }
  return text;
}

/** Host names compare without case and, when one side is short, on the first label. */
export function sameHostName(a: string | undefined, b: string): boolean {
  if (!a) return false;
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x === y) return true;
  if (!x.includes('.') || !y.includes('.')) return x.split('.')[0] === y.split('.')[0];
  return false;
}

/**
 * Exactly one device, or an error: NOT_FOUND "unknown host" for none, CONFLICT "ambiguous host"
 * naming the candidates for several (the same id twice counts once).
 */
export function pickOne(provider: string, target: string, devices: EdrDevice[]): EdrDevice {
  const unique = [...new Map(devices.map((d) => [d.id, d])).values()];
  if (unique.length === 1) return unique[0];
  if (unique.length === 0) throw edrError(provider, 'NOT_FOUND', `unknown host "${target}": no device matches`, { vendorCode: 'unknown-host' });
  const names = unique.slice(0, 10).map((d) => `${d.name ?? '?'} (${d.id})`);
  throw edrError(
    provider,
    'CONFLICT',
    `ambiguous host "${target}": ${unique.length} devices match: ${names.join(', ')}${unique.length > 10 ? ', …' : ''}; nothing done`,
    {
      vendorCode: 'ambiguous-host',
    },
  );
}

export function newHandle(kind: string, provider: string, op: EdrOp, device: EdrDevice, requestedAt: number, actionId?: string): PendingAction {
  return {
    v: 1,
    kind,
    provider,
    op,
    deviceId: device.id,
    ...(device.name ? { deviceName: device.name } : {}),
    ...(actionId ? { actionId } : {}),
    requestedAt: new Date(requestedAt).toISOString(),
  };
}

/** A handle read back from JSON (or a stored object), checked; throws a BAD_REQUEST on anything else. */
export function parseHandle(input: unknown): PendingAction {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch {
      throw edrError('edr', 'BAD_REQUEST', 'pending action: not JSON');
    }
  }
  const h = value as Partial<PendingAction> | null;
  const problems: string[] = [];
  if (!h || typeof h !== 'object') throw edrError('edr', 'BAD_REQUEST', 'pending action: not an object');
  if (h.v !== 1) problems.push('v must be 1');
  if (typeof h.kind !== 'string' || !h.kind) problems.push('kind');
  if (typeof h.provider !== 'string' || !h.provider) problems.push('provider');
  if (h.op !== 'isolate' && h.op !== 'release') problems.push('op must be isolate or release');
  if (typeof h.deviceId !== 'string' || !h.deviceId) problems.push('deviceId');
  if (h.actionId !== undefined && typeof h.actionId !== 'string') problems.push('actionId');
  if (typeof h.requestedAt !== 'string' || !Number.isFinite(Date.parse(h.requestedAt))) problems.push('requestedAt must be an ISO time');
  if (problems.length) throw edrError('edr', 'BAD_REQUEST', `pending action: bad ${problems.join(', ')}`);
  return {
    v: 1,
    kind: h.kind!,
    provider: h.provider!,
    op: h.op!,
    deviceId: h.deviceId!,
    ...(h.deviceName ? { deviceName: String(h.deviceName) } : {}),
    ...(h.actionId ? { actionId: h.actionId } : {}),
    requestedAt: h.requestedAt!,
  };
}

export interface IssuedToken {
  token: string;
  /** Lifetime in seconds as the vendor gave it; undefined = until a 401. */
  expiresInSeconds?: number;
}

/**
 * One bearer token at a time: fetched on first use, fetched again REFRESH_MARGIN before it expires,
 * and after a 401 (withToken retries the call once with a fresh one). Concurrent callers share one fetch.
 */
export class TokenCache {
  private current?: { token: string; expiresAt: number };
  private inflight?: Promise<string>;
  static readonly REFRESH_MARGIN_MS = 60_000;

  constructor(
    private readonly fetchToken: (signal?: AbortSignal) => Promise<IssuedToken>,
    private readonly now: () => number,
    private readonly onToken: (token: string) => void,
    private readonly log?: (line: string) => void,
  ) {}

  async get(signal?: AbortSignal): Promise<string> {
    if (this.current && this.now() < this.current.expiresAt - TokenCache.REFRESH_MARGIN_MS) return this.current.token;
    if (this.current) this.log?.('token about to expire: fetching a new one');
    this.inflight ??= (async () => {
      try {
        const issued = await this.fetchToken(signal);
        const lifetime = issued.expiresInSeconds !== undefined && Number.isFinite(issued.expiresInSeconds) ? issued.expiresInSeconds * 1000 : Infinity;
        this.current = { token: issued.token, expiresAt: this.now() + lifetime };
        this.onToken(issued.token);
        return issued.token;
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }

  invalidate(token: string): void {
    if (this.current?.token === token) this.current = undefined;
  }

  /** Runs `call` with a token; a 401 drops that token and runs it once more with a new one. */
  async withToken<T>(call: (token: string) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const token = await this.get(signal);
    try {
      return await call(token);
    } catch (error) {
      if (!(error instanceof ProviderError) || error.status !== 401) throw error;
      this.log?.('token refused (401): fetching a new one and retrying once');
      this.invalidate(token);
      return call(await this.get(signal));
    }
  }
}
