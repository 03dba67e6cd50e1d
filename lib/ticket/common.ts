/** Helpers the tracker clients share: severity scale, text limits, incident labels, refs. */
import { createHash } from 'node:crypto';
import type { BudgetLimits } from '../core/budget';
import { ProviderError } from '../core/errors';
import { createHttpClient, type HttpClient, type RequestSpec } from '../core/http';
import { sliceWhole } from '../core/text';
import type { TicketProviderOptions, TicketSeverity } from './types';

/** OCSF severity_id names, 0..6 (99 "other" and anything out of range count as unknown). */
export const SEVERITY_NAMES = ['unknown', 'informational', 'low', 'medium', 'high', 'critical', 'fatal'] as const;

export function clampSeverity(severity: unknown): TicketSeverity {
  const n = typeof severity === 'number' ? severity : Number(severity);
  if (!Number.isInteger(n) || n < 0 || n > 6) return 0;
  return n as TicketSeverity;
}

/** Picks from a table of 7 entries (one per severity 0..6). */
export function bySeverity<T>(table: readonly T[], severity: unknown): T {
  return table[clampSeverity(severity)];
}

/**
 * Text cut to `max` characters with a note saying so (never silently). The note is part of the
 * budget, so the result is never longer than `max`. Cuts between UTF-16 surrogates are avoided.
 */
export function fitText(text: string, max: number, what = 'text', limitHolder = 'the tracker accepts'): string {
  if (text.length <= max) return text;
  const note = `\n\n[… ${what} cut by SOAR: ${text.length} characters, ${limitHolder} ${max}]`;
  if (max <= note.length) return sliceWhole(text, max);
  return sliceWhole(text, max - note.length) + note;
}

/** A one-line title cut to `max` with an ellipsis (titles have no room for a note). */
export function fitTitle(title: string, max: number): string {
  const line = title.replace(/\s+/g, ' ').trim();
  if (line.length <= max) return line;
  return sliceWhole(line, max - 1) + '…';
}

const SAFE_LABEL = /^[A-Za-z0-9._:-]{1,40}$/;

/**
 * The label that carries an incident key on Jira, GitHub and GitLab: `soar-<key>` when the key is
 * short and has no spaces or commas (Jira labels cannot hold spaces, GitLab splits on commas, GitHub
 * labels end at 50 characters), otherwise `soar-` and the first 16 hex digits of its SHA-256.
 */
export function incidentLabel(incidentKey: string): string {
  const key = incidentKey.trim();
  if (SAFE_LABEL.test(key)) return `soar-${key}`;
  return `soar-${createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 16)}`;
}

/** Refuses an empty title or incident key before anything is sent (a clear error, not a vendor 400). */
export function checkCreateInput(provider: string, input: { title?: unknown; incidentKey?: unknown; body?: unknown }): void {
  const problems: string[] = [];
  if (typeof input.title !== 'string' || input.title.trim() === '') problems.push('the title is empty');
  if (typeof input.incidentKey !== 'string' || input.incidentKey.trim() === '') problems.push('the incident key is empty');
  if (input.body !== undefined && typeof input.body !== 'string') problems.push('the body is not text');
  if (problems.length) throw new ProviderError({ provider, code: 'BAD_REQUEST', message: `${provider}: ${problems.join('; ')}` });
}

export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

export function asString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** An answer without the field a client needs: a wrong base URL or a proxy page, not retryable. */
export function badAnswer(provider: string, what: string): ProviderError {
  return new ProviderError({ provider, code: 'BODY_ERROR', message: `${provider}: answer has no ${what}; check the URL` });
}

/** A base URL without its trailing slashes; refuses one without an http(s) scheme. */
export function cleanBaseUrl(provider: string, url: string | undefined, fallback?: string): string {
  const value = (url ?? fallback ?? '').trim().replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/i.test(value)) {
    throw new ProviderError({
      provider,
      code: 'BAD_REQUEST',
      message: `${provider}: the URL must start with http:// or https:// (got ${value ? JSON.stringify(value.slice(0, 80)) : 'nothing'})`,
    });
  }
  return value;
}

/** The body's marker line, so a person (and a body search) sees the incident key. */
export function incidentMarker(incidentKey: string): string {
  return `SOAR incident: ${incidentKey}`;
}

/**
 * The same error with the tracker's own words added, for error bodies the shared client does not
 * read (Redmine `errors: [..]`, Jira `errors: {field: ..}`, GitLab `message: {field: [..]}`). The body
 * on a ProviderError is already redacted, so the added text is too.
 */
export function withVendorMessage(error: unknown, extract: (body: unknown) => string | undefined): unknown {
  if (!(error instanceof ProviderError) || error.body === undefined) return error;
  let detail: string | undefined;
  try {
    detail = extract(error.body)?.trim();
  } catch {
    detail = undefined;
  }
  if (!detail || error.message.includes(detail)) return error;
  return new ProviderError({
    provider: error.provider,
    code: error.code,
    message: `${error.message}: ${detail.slice(0, 500)}`,
    status: error.status,
    retryable: error.retryable,
    retryAfterMs: error.retryAfterMs,
    resumeAt: error.resumeAt,
    attempts: error.attempts,
    vendorCode: error.vendorCode,
    body: error.body,
  });
}

/** Strings of an array, or of the values of an object of strings/arrays ({field: ["msg"]} shapes). */
export function messagesIn(value: unknown): string[] {
  if (typeof value === 'string') return value ? [value] : [];
  if (Array.isArray(value)) return value.flatMap((v) => messagesIn(v));
  const record = asRecord(value);
  if (!record) return [];
  return Object.entries(record).flatMap(([field, v]) => messagesIn(v).map((m) => (/^\d+$/.test(field) ? m : `${field}: ${m}`)));
}

/** The text line that links a closed earlier ticket of the same incident. */
export function linkLine(ref: { key: string; url: string }): string {
  return `Earlier ticket for this incident (closed): ${ref.key}${ref.url ? ` ${ref.url}` : ''}`;
}

/** What differs between the trackers' HTTP clients; the rest comes from the common options. */
export interface TrackerHttpSpec {
  provider: string;
  baseURL: string;
  headers: Record<string, string>;
  /** Never shown in a message (tokens, and their Basic encodings). */
  secrets: string[];
  /** The tracker's default budget, used when the settings give none. */
  budget: BudgetLimits;
  /** Adds the tracker's own words to an error (withVendorMessage) or reclassifies it; default as is. */
  explain?: (error: unknown) => unknown;
}

/**
 * The HTTP client of a tracker and `call`, which answers the body of a request or rejects with the
 * explained error: one place for the plumbing every client shares (timeouts, retries, budget, clock).
 */
export function trackerHttp(opts: TicketProviderOptions, spec: TrackerHttpSpec): { client: HttpClient; call<T>(request: RequestSpec): Promise<T> } {
  const client = createHttpClient({
    provider: spec.provider,
    baseURL: spec.baseURL,
    headers: spec.headers,
    secrets: spec.secrets,
    budget: opts.budget ?? spec.budget,
    timeoutMs: opts.timeoutMs,
    retry: opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : undefined,
    now: opts.now,
    sleep: opts.sleep,
  });
  const explain = spec.explain ?? ((error: unknown) => error);
  return {
    client,
    async call<T>(request: RequestSpec): Promise<T> {
      try {
        return (await client.request<T>(request)).data;
      } catch (error) {
        throw explain(error);
      }
    },
  };
}
