/**
 * Small pieces the firewall providers share, so each provider file keeps only its vendor's contract:
 * the errors raised before anything is sent, address parsing for block/unblock, TTL checks, the
 * one-change-at-a-time queue, and the API root and client options of the HTTP-based providers.
 * Node-RED-free.
 */
import { ProviderError } from '../core/errors';
import { parseTarget, type ParsedTarget } from '../core/guardrails';
import type { HttpClientOptions } from '../core/http';

/** Client settings a caller may tune (timeouts, retries, budget, TLS agent, test clock); the provider sets the rest. */
export type HttpTuning = Omit<HttpClientOptions, 'provider' | 'baseURL' | 'headers' | 'secrets' | 'checkBody'>;

/** Refused before any request was made (attempts 0). */
export function badRequest(provider: string, message: string): ProviderError {
  return new ProviderError({ provider, code: 'BAD_REQUEST', message, attempts: 0 });
}

/** The same error with some fields changed; status, retry hints, attempts, vendor code and body are kept. */
export function rewrap(error: ProviderError, changes: { code?: ProviderError['code']; message?: string; retryable?: boolean }): ProviderError {
  return new ProviderError({
    provider: error.provider,
    code: changes.code ?? error.code,
    message: changes.message ?? error.message,
    status: error.status,
    retryable: changes.retryable ?? error.retryable,
    retryAfterMs: error.retryAfterMs,
    resumeAt: error.resumeAt,
    attempts: error.attempts,
    vendorCode: error.vendorCode,
    body: error.body,
  });
}

/** The same error with more context in front (the original message is already redacted). */
export function withContext(provider: string, error: unknown, context: string): ProviderError {
  if (!(error instanceof ProviderError)) {
    return new ProviderError({ provider, code: 'NETWORK', message: `${context}: ${String(error).slice(0, 200)}` });
  }
  return rewrap(error, { message: `${context}: ${error.message}` });
}

/** Parses one address; one that does not parse is refused with "<refusal>: <why>" before anything is sent. */
export function parseOrRefuse(provider: string, address: unknown, refusal: string): ParsedTarget {
  const parsed = parseTarget(address);
  if ('error' in parsed) throw badRequest(provider, `${refusal}: ${parsed.error}`);
  return parsed;
}

/** The addresses of an unblock() call, keyed by canonical form (so two spellings of one address count once). */
export function parseUnblockAddresses(provider: string, addresses: unknown, refusal: string): Map<string, ParsedTarget> {
  if (!Array.isArray(addresses)) throw badRequest(provider, 'unblock() expects an array of addresses');
  const parsed = new Map<string, ParsedTarget>();
  for (const address of addresses) {
    const one = parseOrRefuse(provider, address, refusal);
    parsed.set(one.canonical, one);
  }
  return parsed;
}

/**
 * Unblocks every address even after one fails (an expiring lease must lift as much as it can), then
 * throws the first failure, naming every address that failed.
 */
export async function unblockEach<T>(provider: string, items: Map<string, T>, unblockOne: (item: T, address: string) => Promise<void>): Promise<void> {
  const failures: { address: string; error: unknown }[] = [];
  for (const [address, item] of items) {
    try {
      await unblockOne(item, address);
    } catch (error) {
      failures.push({ address, error });
    }
  }
  if (failures.length > 0) throw withContext(provider, failures[0].error, `unblock failed for ${failures.map((f) => f.address).join(', ')}`);
}

/** A single host (/32 or /128), as opposed to a network. */
export function isSingleAddress(target: ParsedTarget): boolean {
  return target.prefixLength === (target.family === 4 ? 32 : 128);
}

/**
 * A block's TTL in whole seconds (rounded up), undefined for a permanent block. Refused when it is not
 * a positive number, or longer than the firewall can hold (`limit.described` names that limit).
 */
export function checkTtl(provider: string, ttl: unknown, address: string, limit: { maxSeconds: number; described: string }): number | undefined {
  if (ttl === undefined || ttl === null) return undefined;
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
    throw badRequest(provider, `ttlSeconds for ${address} must be a positive number of seconds (omit it for a permanent block)`);
  }
  const seconds = Math.ceil(ttl);
  if (seconds > limit.maxSeconds) throw badRequest(provider, `ttlSeconds for ${address} is above ${limit.described}; omit it for a permanent block`);
  return seconds;
}

/** A comment on one line without control characters, at most `maxLength` long; undefined when nothing is left. */
export function cleanComment(comment: unknown, maxLength: number): string | undefined {
  if (typeof comment !== 'string') return undefined;
  const text = comment
    .replace(/[\u0000-\u001f\u007f]/g, ' ')
    .trim()
    .slice(0, maxLength);
  return text === '' ? undefined : text;
}

/**
 * The REST root under a device address, e.g. "https://fw.example" + "/api"; kept as it is when the user
 * already wrote the path. Anything but http(s) is refused with `notHttp`.
 */
export function apiRoot(provider: string, url: unknown, apiPath: string, notHttp: string): string {
  const base = String(url ?? '').replace(/\/+$/, '');
  if (!/^https?:\/\//i.test(base)) throw badRequest(provider, notHttp);
  return base.toLowerCase().endsWith(apiPath.toLowerCase()) ? base : `${base}${apiPath}`;
}

/**
 * Runs changes one at a time: a provider's read-then-write (find, then add) must not interleave with
 * another call. A failed change does not stop the ones queued after it.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work, work);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Settles once everything queued so far has finished (never rejects). */
  idle(): Promise<unknown> {
    return this.tail;
  }
}
