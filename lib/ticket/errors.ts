/**
 * Ticket failures as the outbox sees them: transient (deliver later with backoff), permanent (show
 * the tracker's message, do not retry) or duplicate (the tracker already has this incident: find it).
 */
import { ProviderError, type ProviderErrorInit } from '../core/errors';
import type { TicketFailure, TicketRef } from './types';

/** The tracker refused a create because the incident is already there (TheHive's unique sourceRef). */
export class TicketDuplicateError extends ProviderError {
  readonly existing?: TicketRef;

  constructor(init: Omit<ProviderErrorInit, 'code'>, existing?: TicketRef) {
    super({ ...init, code: 'CONFLICT', retryable: false });
    this.name = 'TicketDuplicateError';
    if (existing) this.existing = existing;
  }
}

const TRANSIENT = new Set(['NETWORK', 'TIMEOUT', 'RATE_LIMITED', 'QUOTA_EXHAUSTED', 'SERVER', 'CANCELLED']);

export function classifyTicketError(error: unknown): TicketFailure {
  if (error instanceof TicketDuplicateError) {
    return { kind: 'duplicate', code: error.code, message: error.message, status: error.status, ...(error.existing ? { existing: error.existing } : {}) };
  }
  if (error instanceof ProviderError) {
    const failure: TicketFailure = {
      kind: TRANSIENT.has(error.code) ? 'transient' : 'permanent',
      code: error.code,
      message: error.message,
    };
    if (error.status !== undefined) failure.status = error.status;
    if (error.retryAfterMs !== undefined) failure.retryAfterMs = error.retryAfterMs;
    if (error.resumeAt !== undefined) failure.resumeAt = error.resumeAt;
    return failure;
  }
  // Not from a client (a bug, or a plain Error from a caller's template): retrying cannot fix it.
  const message = error instanceof Error ? error.message : String(error);
  return { kind: 'permanent', code: 'INTERNAL', message };
}
