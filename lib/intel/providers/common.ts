/**
 * Small helpers the threat-intel providers share, so each provider file keeps only its vendor's
 * contract: reading untyped vendor JSON, keeping evidence small, the errors every provider raises
 * the same way, result stamping, and the budget/close plumbing of a provider built on the HTTP
 * client. Node-RED-free.
 */
import https from 'node:https';
import { ProviderError, type HttpClient } from '../../core/http';
import type { Indicator, IntelProvider, IntelResult } from '../types';

/** What a provider says about an indicator; resultBuilder adds who answered, about what, and when. */
export type IntelAnswer = Omit<IntelResult, 'source' | 'provider' | 'indicator' | 'fetchedAt'>;

/** The value as a plain object; undefined for arrays, null and primitives. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** A non-empty string cut to `max` characters; undefined for anything else. */
export function text(value: unknown, max = 200): string | undefined {
  return typeof value === 'string' && value !== '' ? value.slice(0, max) : undefined;
}

/** A vendor count: a positive finite number rounded down, 0 for anything else. */
export function countOrZero(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

/** Drops undefined members so evidence stays small and JSON-safe. */
export function compact(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}

/** The distinct non-empty strings, in order of first appearance, at most `limit` of them. */
export function unique(values: (string | null | undefined)[], limit: number): string[] {
  return [...new Set(values.filter((value): value is string => typeof value === 'string' && value !== ''))].slice(0, limit);
}

/** The base URL without credentials, query or trailing slash, for links a person may open. */
export function webBase(baseURL: string): string {
  try {
    const url = new URL(baseURL);
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    return url.toString().replace(/\/+$/, '');
  } catch {
    return baseURL.replace(/\/+$/, '');
  }
}

/** Raised before any request: the broker only asks declared types, so this means a caller's mistake. */
export function unsupportedIndicator(kind: string, type: string): ProviderError {
  return new ProviderError({ provider: kind, code: 'BAD_REQUEST', message: `${kind}: cannot look up ${type} indicators`, attempts: 0 });
}

/** Raised before any request when the source needs a key and none is configured. */
export function missingKey(kind: string, keyName: string): ProviderError {
  return new ProviderError({ provider: kind, code: 'AUTH', message: `${kind}: no ${keyName} configured`, attempts: 0 });
}

/**
 * Some vendors answer a wrong key with 403; when the body speaks of credentials the broker should
 * see AUTH (fix the key), not FORBIDDEN (missing permission). Anything else is returned unchanged.
 */
export function forbiddenAsAuth(error: ProviderError, credentialWords: RegExp): ProviderError {
  if (error.code !== 'FORBIDDEN' || !credentialWords.test(JSON.stringify(error.body ?? ''))) return error;
  return new ProviderError({
    provider: error.provider,
    code: 'AUTH',
    message: error.message.replace('FORBIDDEN', 'AUTH'),
    status: error.status,
    retryable: false,
    attempts: error.attempts,
    vendorCode: error.vendorCode,
    body: error.body,
  });
}

/**
 * Turns a provider's answer into an IntelResult: source name, provider kind, a copy of the indicator
 * (results are cached and must not share the caller's object) and the time of the answer.
 */
export function resultBuilder(kind: string, name: string, now: () => number): (indicator: Indicator, answer: IntelAnswer) => IntelResult {
  return (indicator, answer) => ({
    source: name,
    provider: kind,
    indicator: { ...indicator },
    ...answer,
    fetchedAt: new Date(now()).toISOString(),
  });
}

/** An https agent that accepts self-signed certificates, only when the user switched checking off. */
export function selfSignedAgent(verifyTls: boolean | undefined): https.Agent | undefined {
  return verifyTls === false ? new https.Agent({ rejectUnauthorized: false, keepAlive: true }) : undefined;
}

/** budgetState and close of a provider built on one HTTP client (and, for self-hosted servers, its TLS agent). */
export function budgetAndClose(client: HttpClient, agent?: https.Agent): Required<Pick<IntelProvider, 'budgetState' | 'close'>> {
  return {
    budgetState: () => client.budgetState(),
    close: async () => {
      client.close();
      agent?.destroy();
    },
  };
}
