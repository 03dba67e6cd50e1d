/**
 * One parser for every "wait this long" hint a vendor can send (docs/vendor-facts.md §0.2).
 * Node-RED-free.
 *
 * Shapes understood, in the order they are consulted:
 *   1. `Retry-After`: delta-seconds (`30`) or HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`);
 *   2. caller-named vendor headers (`extraHeaders`), any value shape below;
 *   3. `X-Ratelimit-Retryafter` (CrowdStrike: epoch seconds);
 *   4. `X-RateLimit-Reset` / `RateLimit-Reset`, only when the matching `...-Remaining` header is absent or 0
 *      (GitHub sends reset on every answer; it only means "wait" once remaining hits 0). Epoch seconds
 *      (GitHub) or ISO-8601 (Jira `2026-11-27T10:15Z`);
 *   5. in-body seconds: `parameters.retry_after` (Telegram) or top-level `retry_after`.
 *
 * A value is read as: a number below 1e9 = delta seconds, 1e9..1e12 = epoch seconds, larger = epoch ms;
 * otherwise an HTTP-date or ISO-8601 timestamp (no zone means UTC). Times in the past give 0.
 */

export type HeaderValue = string | string[] | number | undefined | null;
export type HeaderBag = Record<string, HeaderValue>;

export interface RetryAfterOptions {
  /** Vendor headers to consult after Retry-After, e.g. ['x-ratelimit-retryafter', 'x-ratelimit-reset']. */
  extraHeaders?: string[];
}

const EPOCH_SECONDS_FLOOR = 1e9; // 2001-09-09: no vendor sends a delta this large
const EPOCH_MS_FLOOR = 1e12;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}/;
const ISO_HAS_ZONE = /(?:Z|[+-]\d{2}:?\d{2})$/i;
const HTTP_DATE_SHAPE = /[A-Za-z]{3}.*\b\d{4}\b/;

function lowerCaseKeys(headers: HeaderBag | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  if (!headers) return result;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || value === null) continue;
    result[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return result;
}

/** Milliseconds to wait according to one hint value, or undefined when it is not a hint at all. */
export function parseHintValue(value: string | number, now: number = Date.now()): number | undefined {
  const text = String(value).trim();
  if (text === '') return undefined;
  if (/^\d+(?:\.\d+)?$/.test(text)) {
    const number = Number(text);
    if (number >= EPOCH_MS_FLOOR) return Math.max(0, Math.ceil(number - now));
    if (number >= EPOCH_SECONDS_FLOOR) return Math.max(0, Math.ceil(number * 1000 - now));
    return Math.ceil(number * 1000);
  }
  let timestamp = NaN;
  if (ISO_DATE.test(text)) {
    const withZone = text.includes('T') && !ISO_HAS_ZONE.test(text) ? text + 'Z' : text;
    timestamp = Date.parse(withZone);
  } else if (HTTP_DATE_SHAPE.test(text)) {
    timestamp = Date.parse(text);
  }
  if (!Number.isFinite(timestamp)) return undefined;
  return Math.max(0, Math.ceil(timestamp - now));
}

function resetHint(headers: Record<string, string>, resetName: string, remainingName: string, now: number) {
  const reset = headers[resetName];
  if (reset === undefined) return undefined;
  const remaining = headers[remainingName];
  if (remaining !== undefined && Number(remaining) > 0) return undefined;
  return parseHintValue(reset, now);
}

function bodyHint(body: unknown, now: number): number | undefined {
  let parsed = body;
  if (typeof body === 'string' && /^\s*\{/.test(body)) {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (!parsed || typeof parsed !== 'object') return undefined;
  const record = parsed as Record<string, unknown>;
  const parameters = record.parameters as Record<string, unknown> | undefined;
  const candidates = [parameters && typeof parameters === 'object' ? parameters.retry_after : undefined, record.retry_after];
  for (const candidate of candidates) {
    if (typeof candidate === 'number' && Number.isFinite(candidate) && candidate >= 0) return Math.ceil(candidate * 1000);
    if (typeof candidate === 'string') {
      const hint = parseHintValue(candidate, now);
      if (hint !== undefined) return hint;
    }
  }
  return undefined;
}

/**
 * How long the vendor asks us to wait, in ms, or undefined when the answer carries no hint.
 * `headers` may use any letter case; `body` may be parsed JSON or raw text.
 */
export function parseRetryAfter(headers: HeaderBag | undefined, body?: unknown, now: number = Date.now(), options: RetryAfterOptions = {}): number | undefined {
  const normalized = lowerCaseKeys(headers);
  const named = ['retry-after', ...(options.extraHeaders ?? []).map((name) => name.toLowerCase()), 'x-ratelimit-retryafter'];
  for (const name of named) {
    const value = normalized[name];
    if (value === undefined) continue;
    const hint = parseHintValue(value, now);
    if (hint !== undefined) return hint;
  }
  const reset =
    resetHint(normalized, 'x-ratelimit-reset', 'x-ratelimit-remaining', now) ?? resetHint(normalized, 'ratelimit-reset', 'ratelimit-remaining', now);
  if (reset !== undefined) return reset;
  return bodyHint(body, now);
}
