/**
 * Following a pending EDR action to its end, for every vendor alike. Node-RED-free.
 *
 * The timeout counts from the handle's requestedAt, not from this call: an action picked up again
 * after a restart does not get a fresh allowance. Transient trouble while polling (network, 5xx, rate
 * limits, a timed-out poll) is polled through; anything else (auth, not found) ends the follow.
 */
import { defaultSleep } from '../core/budget';
import { ProviderError } from '../core/errors';
import { edrError, parseHandle } from './common';
import type { EdrProvider, EdrStatus, PendingAction } from './types';

export interface FollowOptions {
  /** Give up this long after handle.requestedAt. */
  timeoutMs: number;
  /** Between polls. Default 5,000. */
  pollMs?: number;
  signal?: AbortSignal;
  /** Injectable for tests. */
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Each poll's outcome (for a node status); no secrets in it. */
  onPoll?: (status: EdrStatus, polls: number) => void;
}

export interface FollowResult {
  status: EdrStatus;
  polls: number;
}

const TRANSIENT = new Set(['NETWORK', 'SERVER', 'RATE_LIMITED', 'TIMEOUT']);

function describe(handle: PendingAction): string {
  return `${handle.op} of ${handle.deviceName ? `${handle.deviceName} (${handle.deviceId})` : handle.deviceId}`;
}

/**
 * Polls provider.progress() until the action succeeds (resolves with the final status), fails
 * (rejects BODY_ERROR with the vendor's reason) or runs out of time (rejects TIMEOUT naming the last
 * state seen). `handle` may be the stored JSON text or object.
 */
export async function followUntilDone(provider: EdrProvider, stored: PendingAction | string, options: FollowOptions): Promise<FollowResult> {
  const handle = parseHandle(stored);
  if (handle.kind !== provider.kind) {
    throw edrError(provider.kind, 'BAD_REQUEST', `pending action belongs to a ${handle.kind} provider, not ${provider.kind}`);
  }
  if (!(options.timeoutMs > 0)) throw edrError(provider.kind, 'BAD_REQUEST', 'followUntilDone needs a positive timeoutMs');
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const pollMs = Math.max(1, options.pollMs ?? 5_000);
  const deadline = Date.parse(handle.requestedAt) + options.timeoutMs;
  let polls = 0;
  let last: EdrStatus | undefined;
  let lastProblem: string | undefined;
  for (;;) {
    if (options.signal?.aborted) throw edrError(provider.kind, 'CANCELLED', `${describe(handle)}: follow cancelled`);
    polls++;
    try {
      const progress = await provider.progress(handle, options.signal);
      last = progress.status;
      lastProblem = undefined;
      options.onPoll?.(progress.status, polls);
      if (progress.phase === 'succeeded') return { status: progress.status, polls };
      if (progress.phase === 'failed') {
        throw new ProviderError({
          provider: provider.kind,
          code: 'BODY_ERROR',
          message: `${provider.kind}: ${describe(handle)} failed: ${progress.reason ?? progress.status.raw ?? 'no reason given'}`,
          vendorCode: progress.status.raw,
          attempts: polls,
        });
      }
    } catch (error) {
      if (!(error instanceof ProviderError) || error.code === 'BODY_ERROR' || !TRANSIENT.has(error.code)) throw error;
      lastProblem = error.message;
    }
    const left = deadline - now();
    if (left <= 0) {
      const seen = last ? `last state ${last.state}${last.raw ? ` (${last.raw})` : ''}` : 'no state seen';
      throw new ProviderError({
        provider: provider.kind,
        code: 'TIMEOUT',
        message: `${provider.kind}: ${describe(handle)} not finished ${Math.round(options.timeoutMs / 1000)} s after it was requested; ${seen}${lastProblem ? `; last poll: ${lastProblem}` : ''}`,
        attempts: polls,
      });
    }
    try {
      await sleep(Math.min(pollMs, left), options.signal);
    } catch {
      throw edrError(provider.kind, 'CANCELLED', `${describe(handle)}: follow cancelled`);
    }
  }
}
