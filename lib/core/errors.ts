/**
 * The one error type every provider call rejects with. Node-RED-free.
 *
 * A ProviderError never carries the axios error, its config or its request: those hold the request
 * headers, i.e. the API key. Whoever builds one passes an already redacted message.
 */

export type ProviderErrorCode =
  | 'TIMEOUT'
  | 'NETWORK'
  | 'RATE_LIMITED'
  | 'QUOTA_EXHAUSTED'
  | 'AUTH'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_REQUEST'
  | 'CONFLICT'
  | 'SERVER'
  | 'BODY_ERROR'
  | 'CANCELLED';

export interface ProviderErrorInit {
  provider: string;
  code: ProviderErrorCode;
  /** Must already be redacted. */
  message: string;
  status?: number;
  retryable?: boolean;
  retryAfterMs?: number;
  resumeAt?: Date;
  /** Network attempts made before giving up (0 when the call never reached the network). */
  attempts?: number;
  /** The vendor's own error name when it gave one (e.g. VirusTotal "WrongCredentialsError", Slack "channel_not_found"). */
  vendorCode?: string;
  /** Redacted, size-capped copy of the response body, for callers that need vendor details. */
  body?: unknown;
}

export class ProviderError extends Error {
  readonly provider: string;
  readonly code: ProviderErrorCode;
  readonly status?: number;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  readonly resumeAt?: Date;
  readonly attempts?: number;
  readonly vendorCode?: string;
  readonly body?: unknown;

  constructor(init: ProviderErrorInit) {
    super(init.message);
    this.name = 'ProviderError';
    this.provider = init.provider;
    this.code = init.code;
    this.retryable = init.retryable ?? false;
    // Optional fields are only set when present so that JSON/inspect output stays small.
    if (init.status !== undefined) this.status = init.status;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    if (init.resumeAt !== undefined) this.resumeAt = init.resumeAt;
    if (init.attempts !== undefined) this.attempts = init.attempts;
    if (init.vendorCode !== undefined) this.vendorCode = init.vendorCode;
    if (init.body !== undefined) this.body = init.body;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      provider: this.provider,
      code: this.code,
      message: this.message,
      status: this.status,
      retryable: this.retryable,
      retryAfterMs: this.retryAfterMs,
      resumeAt: this.resumeAt?.toISOString(),
      attempts: this.attempts,
      vendorCode: this.vendorCode,
      body: this.body,
    };
  }
}

export function isProviderError(value: unknown): value is ProviderError {
  return value instanceof ProviderError;
}

/**
 * Error code for a non-2xx HTTP status. 408 is a timeout on the server's side; 425 ("too early")
 * is a transient refusal, grouped with SERVER. Statuses outside the table map by class.
 */
export function codeForStatus(status: number): ProviderErrorCode {
  switch (status) {
    case 400:
    case 422:
      return 'BAD_REQUEST';
    case 401:
      return 'AUTH';
    case 403:
      return 'FORBIDDEN';
    case 404:
    case 410:
      return 'NOT_FOUND';
    case 408:
      return 'TIMEOUT';
    case 409:
    case 412:
      return 'CONFLICT';
    case 425:
      return 'SERVER';
    case 429:
      return 'RATE_LIMITED';
  }
  if (status >= 500) return 'SERVER';
  return 'BAD_REQUEST';
}

/** Statuses worth another attempt: 408/425/429 among 4xx, and the gateway-type 5xx. 500 only for idempotent calls. */
export function isRetryableStatus(status: number, idempotent: boolean): boolean {
  if (status === 408 || status === 425 || status === 429) return true;
  if (status === 502 || status === 503 || status === 504) return true;
  if (status === 500) return idempotent;
  return false;
}
