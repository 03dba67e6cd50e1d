/**
 * Pieces the provider specs share: assertions on ProviderError rejections, and the start/stop of a
 * contract fake on a ManualClock.
 */
import assert from 'node:assert/strict';
import { ProviderError } from '../../lib/core/errors';
import { ManualClock } from './fake-server';

/** The ProviderError the promise rejects with; fails when it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  return promise.then(
    () => assert.fail('expected a rejection'),
    (reason: unknown) => {
      assert.ok(reason instanceof ProviderError, `not a ProviderError: ${String(reason)}`);
      return reason;
    },
  );
}

/** The ProviderError the promise rejects with, checked to carry `code` (and, when given, a message matching `message`). */
export async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<ProviderError> {
  const error = await rejection(promise);
  assert.equal(error.code, code, error.message);
  if (message) assert.match(error.message, message);
  return error;
}

/**
 * A contract fake whose request log runs on a fresh ManualClock. The clock auto-advances, so retry
 * backoffs pass at once; anything else ages only when a test moves the clock.
 */
export async function startOnManualClock<Fake>(
  start: (options: { now: () => number }) => Promise<Fake>,
  startAt: number,
): Promise<{ clock: ManualClock; fake: Fake }> {
  const clock = new ManualClock(startAt, true);
  return { clock, fake: await start({ now: clock.now }) };
}

/** Closes a fake, after asserting that no request the test made broke the vendor contract. */
export async function closeAfterContractCheck(fake: { violations: readonly string[]; close(): Promise<void> }): Promise<void> {
  try {
    assert.deepEqual(fake.violations, [], 'requests that broke the vendor contract');
  } finally {
    await fake.close();
  }
}
