/**
 * The shared outbound HTTP client every provider calls its vendor through. Node-RED-free.
 *
 * What a provider gets for free: per-attempt timeout, retries with capped exponential backoff and full
 * jitter (idempotent calls and writes with a dedup key only), every Retry-After shape, daily-quota
 * detection that pauses the client instead of hammering the vendor, a per-provider FIFO budget,
 * HTTP-200-with-failure-in-body via `checkBody`, lower-cased response headers, and errors that never
 * contain a secret (no axios config/request on them, messages and bodies redacted).
 */
import axios, { type AxiosInstance, type AxiosProxyConfig, type AxiosResponse } from 'axios';
import type { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { Budget, defaultSleep, type BudgetLimits, type BudgetState, type SleepFn } from './budget';
import { codeForStatus, isRetryableStatus, ProviderError, type ProviderErrorCode } from './errors';
import { redact, redactValue, secretsFromHeaders, secretsFromUrl } from './redact';
import { parseRetryAfter } from './retry-after';

export { ProviderError, type ProviderErrorCode } from './errors';
export { describeBudget, type BudgetLimits, type BudgetState } from './budget';

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface BodyCheckFailure {
  code: ProviderErrorCode;
  message: string;
  retryable?: boolean;
  /** The body reports a used-up quota: pause the client like a quota 429 does. */
  quota?: boolean;
  /** The vendor's own error name, copied to ProviderError.vendorCode. */
  vendorCode?: string;
}

/** Inspects a 2xx answer; returns a failure when the vendor reports one in the body (Slack ok:false, ...). */
export interface BodyCheck {
  (data: unknown, status: number, headers: Record<string, string>): undefined | BodyCheckFailure;
}

export interface RetryOptions {
  /** Attempts in total, first one included. Default 4. */
  maxAttempts?: number;
  /** Backoff base; attempt n waits up to base * 2^(n-1). Default 500. */
  baseDelayMs?: number;
  /** Backoff cap. Default 30,000. */
  maxDelayMs?: number;
  /** Longer vendor hints are not waited out: the call rejects with retryAfterMs. Default 120,000. */
  maxRetryAfterMs?: number;
}

export interface RetryEvent {
  provider: string;
  attempt: number;
  code: ProviderErrorCode;
  status?: number;
  /** The wait before the next attempt: a backoff delay, or the vendor's hint. */
  delayMs: number;
}

export interface HttpClientOptions {
  provider: string;
  baseURL: string;
  headers?: Record<string, string>;
  /** Values to redact wherever they could appear (api keys, tokens, passwords). Credential-looking headers are added automatically. */
  secrets?: string[];
  /** Per attempt, connect + response + body. Default 15,000. */
  timeoutMs?: number;
  retry?: RetryOptions;
  /** Requests over a limit wait in a FIFO queue; they do not fail. */
  budget?: BudgetLimits;
  /** 200-with-error-in-body, per vendor. */
  checkBody?: BodyCheck;
  /** Vendor headers to consult besides Retry-After (e.g. 'x-ratelimit-retryafter', 'x-ratelimit-reset'). */
  retryAfterHeaders?: string[];
  /**
   * Decides whether a 429 is a used-up quota rather than a rate limit. Default: the body mentions a
   * quota or a daily/per-day limit (VirusTotal QuotaExceededError, AbuseIPDB "Daily rate limit"), or
   * the vendor's hint reaches past the next day reset.
   */
  isQuota?: (status: number, data: unknown, headers: Record<string, string>) => boolean;
  /** Largest response body accepted. Default 10 MiB. */
  maxBodyBytes?: number;
  /** Injectable for tests. */
  now?: () => number;
  sleep?: SleepFn;
  /** Jitter source in [0,1). */
  random?: () => number;
  /** Called before each retry (for node status / debug); receives no secrets. */
  onRetry?: (event: RetryEvent) => void;
  httpAgent?: HttpAgent;
  httpsAgent?: HttpsAgent;
  /** axios proxy setting; default: axios' own (environment variables). */
  proxy?: AxiosProxyConfig | false;
}

export interface RequestSpec {
  method?: HttpMethod;
  /** Relative to baseURL. An absolute URL must have the baseURL's origin (credentials never leave it). */
  url: string;
  params?: Record<string, unknown>;
  data?: unknown;
  headers?: Record<string, string>;
  /** Default: true for GET/HEAD/PUT/DELETE. */
  idempotent?: boolean;
  /** A write with a dedup key may be retried (the vendor or the caller recognises the repeat). */
  dedupKey?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Budget units, default 1. */
  cost?: number;
}

export interface HttpResponse<T = unknown> {
  status: number;
  data: T;
  headers: Record<string, string>;
}

export interface HttpClient {
  request<T = unknown>(spec: RequestSpec): Promise<HttpResponse<T>>;
  /** Remaining per window, paused until, queued count — for node status like "VT 3/4 min". */
  budgetState(): BudgetState;
  /** Replace the explicit secret list (e.g. after a credential change). */
  setSecrets(values: string[]): void;
  /** Lift a quota/rate pause early (e.g. the user entered a new API key). */
  resume(): void;
  /** Reject queued requests with CANCELLED and refuse new ones (Node-RED node close). */
  close(): void;
}

const DEFAULTS = {
  timeoutMs: 15_000,
  maxAttempts: 4,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
  maxBodyBytes: 10 * 1024 * 1024,
};
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);
const QUOTA_TEXT = /quota|\bdaily\b|per[ -]day/i;
// A hint ending within this much of the next day reset counts as "until the reset" (clock skew).
const DAY_RESET_SLACK_MS = 60_000;
const ABSOLUTE_URL = /^(?:[a-z][a-z0-9+.-]*:)?\/\//i;

/** What went wrong with one attempt, before it becomes a (redacted) ProviderError. */
interface Failure {
  code: ProviderErrorCode;
  message: string;
  retryable: boolean;
  status?: number;
  hintMs?: number;
  quota?: boolean;
  vendorCode?: string;
  body?: unknown;
}

function normalizeHeaders(raw: unknown): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!raw || typeof raw !== 'object') return headers;
  const plain = typeof (raw as { toJSON?: unknown }).toJSON === 'function' ? (raw as { toJSON(): object }).toJSON() : raw;
  for (const [name, value] of Object.entries(plain as Record<string, unknown>)) {
    if (value === undefined || value === null) continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.map(String).join(', ') : String(value);
  }
  return headers;
}

function pathOnly(url: string): string {
  const cut = url.search(/[?#]/);
  return cut < 0 ? url : url.slice(0, cut);
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function parseMaybeJson(data: unknown): unknown {
  if (typeof data === 'string' && /^\s*[[{]/.test(data)) {
    try {
      return JSON.parse(data);
    } catch {
      return data;
    }
  }
  return data;
}

/** The vendor's error name and human message from the common error body shapes. */
function vendorDetails(data: unknown): { vendorCode?: string; vendorMessage?: string } {
  const body = asRecord(parseMaybeJson(data));
  if (!body) {
    const text = typeof data === 'string' ? data.trim() : '';
    return text ? { vendorMessage: text.slice(0, 200) } : {};
  }
  const error = asRecord(body.error);
  const firstError = Array.isArray(body.errors) ? asRecord(body.errors[0]) : undefined;
  const pickString = (...values: unknown[]) => values.find((value): value is string => typeof value === 'string' && value !== '');
  const vendorCode = pickString(
    error?.code,
    typeof body.error === 'string' && body.error.length <= 80 ? body.error : undefined,
    firstError?.code,
    body.code,
    body.type,
  );
  const vendorMessage = pickString(
    error?.message,
    firstError?.detail,
    firstError?.message,
    body.message,
    body.description,
    body.detail,
    body.error_description,
    typeof body.error === 'string' ? body.error : undefined,
  );
  return { vendorCode, vendorMessage: vendorMessage?.slice(0, 300) };
}

function bodyText(data: unknown): string {
  if (typeof data === 'string') return data;
  try {
    return JSON.stringify(data) ?? '';
  } catch {
    return '';
  }
}

class Client implements HttpClient {
  private readonly axios: AxiosInstance;
  private readonly budget: Budget;
  private readonly now: () => number;
  private readonly sleep: SleepFn;
  private readonly random: () => number;
  private readonly retry: Required<RetryOptions>;
  private readonly baseOrigin?: string;
  private readonly impliedSecrets: string[];
  private explicitSecrets: string[];

  constructor(private readonly options: HttpClientOptions) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
    this.retry = {
      maxAttempts: Math.max(1, options.retry?.maxAttempts ?? DEFAULTS.maxAttempts),
      baseDelayMs: options.retry?.baseDelayMs ?? DEFAULTS.baseDelayMs,
      maxDelayMs: options.retry?.maxDelayMs ?? DEFAULTS.maxDelayMs,
      maxRetryAfterMs: options.retry?.maxRetryAfterMs ?? DEFAULTS.maxRetryAfterMs,
    };
    this.budget = new Budget({ provider: options.provider, limits: options.budget, now: this.now, sleep: this.sleep });
    this.explicitSecrets = [...(options.secrets ?? [])];
    this.impliedSecrets = [...secretsFromHeaders(options.headers), ...secretsFromUrl(options.baseURL)];
    try {
      this.baseOrigin = new URL(options.baseURL).origin;
    } catch {
      this.baseOrigin = undefined;
    }
    this.axios = axios.create({
      baseURL: options.baseURL,
      headers: { ...options.headers },
      httpAgent: options.httpAgent,
      httpsAgent: options.httpsAgent,
      ...(options.proxy !== undefined ? { proxy: options.proxy } : {}),
    });
  }

  budgetState(): BudgetState {
    return this.budget.state();
  }

  setSecrets(values: string[]): void {
    this.explicitSecrets = [...values];
  }

  resume(): void {
    this.budget.resume();
  }

  close(): void {
    this.budget.close();
  }

  async request<T = unknown>(spec: RequestSpec): Promise<HttpResponse<T>> {
    const method = (spec.method ?? 'GET').toUpperCase() as HttpMethod;
    const idempotent = spec.idempotent ?? IDEMPOTENT_METHODS.has(method);
    const mayRetry = idempotent || Boolean(spec.dedupKey);
    const maxAttempts = mayRetry ? this.retry.maxAttempts : 1;
    const secrets = [
      ...this.explicitSecrets,
      ...this.impliedSecrets,
      ...secretsFromHeaders(spec.headers),
      ...secretsFromHeaders(spec.params),
      ...secretsFromUrl(spec.url),
    ];
    const label = `${method} ${pathOnly(spec.url)}`;
    const provider = this.options.provider;

    const targetProblem = this.checkTarget(spec.url);
    if (targetProblem) {
      throw this.toError({ code: 'BAD_REQUEST', message: `${label}: ${targetProblem}`, retryable: false }, 0, secrets);
    }

    for (let attempt = 1; ; attempt++) {
      try {
        await this.budget.acquire(spec.cost ?? 1, spec.signal);
      } catch (error) {
        throw this.withAttempts(error as ProviderError, attempt - 1, secrets);
      }

      const outcome = await this.attempt(method, spec, label, idempotent, mayRetry);
      if (!('failure' in outcome)) return outcome.response as HttpResponse<T>;
      const failure = outcome.failure;

      if (failure.quota) {
        const resumeAt = new Date(failure.hintMs !== undefined ? this.now() + failure.hintMs : this.budget.nextReset().getTime());
        this.budget.pause(resumeAt, 'QUOTA_EXHAUSTED', `vendor reported quota exhausted (HTTP ${failure.status ?? '?'})`);
        throw this.toError(
          {
            ...failure,
            code: 'QUOTA_EXHAUSTED',
            message: `quota exhausted, paused until ${resumeAt.toISOString()}: ${failure.message}`,
            retryable: true,
            hintMs: Math.max(0, resumeAt.getTime() - this.now()),
          },
          attempt,
          secrets,
          resumeAt,
        );
      }

      if (failure.hintMs !== undefined) {
        const until = this.now() + failure.hintMs;
        if (failure.hintMs > this.retry.maxRetryAfterMs) {
          // Too long to wait in memory: fail this call (and the next ones, fast) and let the caller queue it.
          if (failure.code === 'RATE_LIMITED') {
            this.budget.pause(new Date(until), 'RATE_LIMITED', `vendor asked to wait ${Math.ceil(failure.hintMs / 1000)} s`);
          }
          throw this.toError(failure, attempt, secrets, failure.code === 'RATE_LIMITED' ? new Date(until) : undefined);
        }
        // Every request of this provider backs off, not only this one.
        this.budget.hold(until);
      }

      if (!failure.retryable || !mayRetry || attempt >= maxAttempts || spec.signal?.aborted) {
        throw this.toError(failure, attempt, secrets);
      }

      const delayMs = failure.hintMs ?? this.backoff(attempt);
      this.options.onRetry?.({ provider, attempt, code: failure.code, status: failure.status, delayMs });
      if (failure.hintMs === undefined) {
        try {
          await this.sleep(delayMs, spec.signal);
        } catch {
          throw this.toError({ code: 'CANCELLED', message: `${label}: cancelled during retry backoff`, retryable: false }, attempt, secrets);
        }
      }
      // With a hint, the budget hold makes the next acquire() wait.
    }
  }

  /** Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]. */
  private backoff(attempt: number): number {
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    return Math.floor(this.random() * ceiling);
  }

  private checkTarget(url: string): string | undefined {
    if (!ABSOLUTE_URL.test(url)) return undefined;
    try {
      const target = new URL(url, this.options.baseURL);
      if (this.baseOrigin && target.origin === this.baseOrigin) return undefined;
    } catch {
      return 'invalid URL';
    }
    return 'absolute URL outside the configured base URL refused';
  }

  private async attempt(
    method: HttpMethod,
    spec: RequestSpec,
    label: string,
    idempotent: boolean,
    mayRetry: boolean,
  ): Promise<{ response: HttpResponse } | { failure: Failure }> {
    const timeoutMs = spec.timeoutMs ?? this.options.timeoutMs ?? DEFAULTS.timeoutMs;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onCallerAbort = () => controller.abort();
    spec.signal?.addEventListener('abort', onCallerAbort, { once: true });
    if (spec.signal?.aborted) controller.abort();

    let response: AxiosResponse;
    try {
      response = await this.axios.request({
        method,
        url: spec.url,
        params: spec.params,
        data: spec.data,
        headers: spec.headers,
        signal: controller.signal,
        validateStatus: () => true,
        maxRedirects: 0,
        maxContentLength: this.options.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
        timeout: 0,
      });
    } catch (error) {
      return { failure: this.transportFailure(error, label, timedOut, timeoutMs, Boolean(spec.signal?.aborted), mayRetry) };
    } finally {
      clearTimeout(timer);
      spec.signal?.removeEventListener('abort', onCallerAbort);
    }

    const status = response.status;
    const headers = normalizeHeaders(response.headers);
    const data = response.data;

    if ((status >= 200 && status < 300) || status === 304) {
      let complaint: BodyCheckFailure | undefined;
      try {
        complaint = this.options.checkBody?.(data, status, headers);
      } catch (error) {
        // A throwing check is a provider bug; report it without letting the raw exception (and body) escape.
        complaint = { code: 'BODY_ERROR', message: `body check failed: ${(error as Error)?.message ?? String(error)}` };
      }
      if (!complaint) return { response: { status, data, headers } };
      const failure: Failure = {
        code: complaint.code,
        message: `${label} → HTTP ${status}, failure in body: ${complaint.message}`,
        retryable: complaint.retryable ?? false,
        status,
        quota: complaint.quota,
        vendorCode: complaint.vendorCode,
        body: data,
      };
      if (complaint.code === 'RATE_LIMITED' || complaint.quota) failure.hintMs = this.hint(headers, data);
      return { failure };
    }

    if (status >= 300 && status < 400) {
      return {
        failure: {
          code: 'BAD_REQUEST',
          message: `${label} → HTTP ${status} redirect to ${headers.location ?? '(no location)'}; check the base URL`,
          retryable: false,
          status,
        },
      };
    }

    const { vendorCode, vendorMessage } = vendorDetails(data);
    const rateLimited = status === 429 || (status === 403 && this.looksRateLimited(headers));
    const code: ProviderErrorCode = rateLimited ? 'RATE_LIMITED' : codeForStatus(status);
    const failure: Failure = {
      code,
      message: `${label} → HTTP ${status} ${code}${vendorCode ? ` (${vendorCode})` : ''}${vendorMessage ? `: ${vendorMessage}` : ''}`,
      retryable: rateLimited || (isRetryableStatus(status, idempotent) && mayRetry),
      status,
      vendorCode,
      body: data,
    };
    if (rateLimited || status === 503) failure.hintMs = this.hint(headers, data);
    if (rateLimited) failure.quota = this.isQuota(status, data, headers, failure.hintMs);
    return { failure };
  }

  private hint(headers: Record<string, string>, data: unknown): number | undefined {
    return parseRetryAfter(headers, data, this.now(), { extraHeaders: this.options.retryAfterHeaders });
  }

  /** GitHub answers a primary rate limit with 403 + x-ratelimit-remaining: 0 (or a Retry-After). */
  private looksRateLimited(headers: Record<string, string>): boolean {
    return headers['retry-after'] !== undefined || headers['x-ratelimit-remaining'] === '0';
  }

  private isQuota(status: number, data: unknown, headers: Record<string, string>, hintMs: number | undefined): boolean {
    if (this.options.isQuota) return this.options.isQuota(status, data, headers);
    if (QUOTA_TEXT.test(bodyText(data).slice(0, 4096))) return true;
    if (hintMs === undefined) return false;
    return this.now() + hintMs >= this.budget.nextReset().getTime() - DAY_RESET_SLACK_MS;
  }

  private transportFailure(error: unknown, label: string, timedOut: boolean, timeoutMs: number, callerAborted: boolean, mayRetry: boolean): Failure {
    if (timedOut) {
      return { code: 'TIMEOUT', message: `${label}: no complete answer within ${timeoutMs} ms`, retryable: mayRetry };
    }
    if (callerAborted || axios.isCancel(error)) {
      return { code: 'CANCELLED', message: `${label}: cancelled`, retryable: false };
    }
    const errorCode = String((error as { code?: unknown })?.code ?? '');
    const errorMessage = String((error as { message?: unknown })?.message ?? error);
    if (errorCode === 'ECONNABORTED' || errorCode === 'ETIMEDOUT') {
      return { code: 'TIMEOUT', message: `${label}: ${errorMessage}`, retryable: mayRetry };
    }
    if (/maxContentLength/.test(errorMessage)) {
      return { code: 'BODY_ERROR', message: `${label}: response body too large (${errorMessage})`, retryable: false };
    }
    if (errorCode === 'ERR_INVALID_URL' || errorCode === 'ERR_BAD_OPTION_VALUE' || errorCode === 'ERR_BAD_OPTION') {
      return { code: 'BAD_REQUEST', message: `${label}: ${errorMessage}`, retryable: false };
    }
    return { code: 'NETWORK', message: `${label}: ${errorCode ? errorCode + ' ' : ''}${errorMessage}`, retryable: mayRetry };
  }

  /** The only place errors are built from a failure: everything goes through redaction here. */
  private toError(failure: Failure, attempts: number, secrets: string[], resumeAt?: Date): ProviderError {
    const provider = this.options.provider;
    return new ProviderError({
      provider,
      code: failure.code,
      message: redact(`${provider}: ${failure.message}`, secrets),
      status: failure.status,
      retryable: failure.retryable,
      retryAfterMs: failure.hintMs,
      resumeAt,
      attempts,
      vendorCode: failure.vendorCode === undefined ? undefined : redact(failure.vendorCode, secrets),
      body: failure.body === undefined || failure.body === '' ? undefined : redactValue(failure.body, secrets),
    });
  }

  private withAttempts(error: ProviderError, attempts: number, secrets: string[]): ProviderError {
    if (!(error instanceof ProviderError)) {
      return new ProviderError({ provider: this.options.provider, code: 'NETWORK', message: redact(String(error), secrets), attempts });
    }
    return new ProviderError({
      provider: error.provider,
      code: error.code,
      message: redact(error.message, secrets),
      status: error.status,
      retryable: error.retryable,
      retryAfterMs: error.retryAfterMs,
      resumeAt: error.resumeAt,
      attempts,
    });
  }
}

export function createHttpClient(options: HttpClientOptions): HttpClient {
  if (!options.provider) throw new TypeError('createHttpClient: provider is required');
  if (!options.baseURL) throw new TypeError('createHttpClient: baseURL is required');
  return new Client(options);
}
