/**
 * followUntilDone against a scripted EDR: how a pending action ends (contained, failed with the
 * vendor's reason, timed out naming what was last seen), what is polled through and what is not,
 * and that the allowance counts from the request, not from the follow (a restart gets no fresh one).
 */
import assert from 'node:assert/strict';
import { ProviderError } from '../../../lib/core/errors';
import { edrError, newHandle } from '../../../lib/edr/common';
import { followUntilDone, type FollowOptions } from '../../../lib/edr/follow';
import type { EdrProgress, EdrProvider, EdrStatus, PendingAction } from '../../../lib/edr/types';

const START = Date.UTC(2026, 0, 15, 12, 0, 0);
const MINUTE = 60_000;

/** An EDR whose progress() answers come from a script, one per poll (the last one repeats). */
function scripted(script: (EdrProgress | Error)[]): EdrProvider & { polls: number } {
  const edr = {
    kind: 'fake',
    polls: 0,
    capabilities: { status: true, resolveBy: ['id'] as const },
    async progress(): Promise<EdrProgress> {
      const answer = script[Math.min(edr.polls, script.length - 1)];
      edr.polls++;
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
  return edr as unknown as EdrProvider & { polls: number };
}

const status = (state: EdrStatus['state'], raw?: string): EdrStatus => ({ deviceId: 'aid1', state, ...(raw ? { raw } : {}) });
const pending = (raw?: string): EdrProgress => ({ phase: 'pending', status: status('pending-isolate', raw) });
const contained: EdrProgress = { phase: 'succeeded', status: status('isolated', 'contained') };

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ProviderError, `a ProviderError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}

describe('followUntilDone: the end of a pending EDR action', () => {
  let clock: number;
  let slept: number[];
  let handle: PendingAction;
  const options = (extra: Partial<FollowOptions> = {}): FollowOptions => ({
    timeoutMs: 10 * MINUTE,
    pollMs: MINUTE,
    now: () => clock,
    sleep: async (ms) => {
      slept.push(ms);
      clock += ms;
    },
    ...extra,
  });

  beforeEach(() => {
    clock = START;
    slept = [];
    handle = newHandle('fake', 'edr1', 'isolate', { id: 'aid1', name: 'web01' }, START);
  });

  it('polls until contained and reports the final status and the number of polls', async () => {
    const edr = scripted([pending(), pending(), contained]);
    const seen: [string, number][] = [];
    const done = await followUntilDone(edr, handle, options({ onPoll: (s, n) => seen.push([s.state, n]) }));
    assert.deepEqual(done, { status: contained.status, polls: 3 });
    assert.deepEqual(seen, [
      ['pending-isolate', 1],
      ['pending-isolate', 2],
      ['isolated', 3],
    ]);
    assert.deepEqual(slept, [MINUTE, MINUTE]);
  });

  it("a vendor-side failure ends the follow at once as BODY_ERROR with the vendor's reason, or its raw status", async () => {
    const withReason = scripted([pending(), { phase: 'failed', status: status('normal', 'Failed'), reason: 'agent offline' }]);
    const error = await failure(followUntilDone(withReason, handle, options()));
    assert.equal(error.code, 'BODY_ERROR');
    assert.equal(error.message, 'fake: isolate of web01 (aid1) failed: agent offline');
    assert.equal(error.attempts, 2);
    assert.equal(withReason.polls, 2, 'not polled again after the failure');

    const rawOnly = scripted([{ phase: 'failed', status: status('normal', 'Cancelled') }]);
    assert.match((await failure(followUntilDone(rawOnly, handle, options()))).message, /failed: Cancelled$/);
    const nothing = scripted([{ phase: 'failed', status: status('normal') }]);
    assert.match((await failure(followUntilDone(nothing, handle, options()))).message, /failed: no reason given$/);
  });

  it('times out as a clear TIMEOUT naming the action, the allowance, the last state seen and the last poll problem', async () => {
    const { deviceName: _name, ...unnamed } = handle;
    const edr = scripted([pending('containment_pending')]);
    const error = await failure(followUntilDone(edr, unnamed, options()));
    assert.equal(error.code, 'TIMEOUT');
    assert.equal(error.message, 'fake: isolate of aid1 not finished 600 s after it was requested; last state pending-isolate (containment_pending)');
    assert.equal(error.attempts, 11, 'polled at 0, 1, ..., 10 minutes');
    assert.equal(clock, START + 10 * MINUTE);

    clock = START;
    const flaky = scripted([pending(), edrError('fake', 'SERVER', 'HTTP 503 maintenance')]);
    const late = await failure(followUntilDone(flaky, handle, options()));
    assert.equal(late.code, 'TIMEOUT');
    assert.match(late.message, /; last state pending-isolate; last poll: fake: HTTP 503 maintenance$/);

    clock = START;
    const down = scripted([edrError('fake', 'NETWORK', 'ECONNREFUSED')]);
    assert.match(
      (await failure(followUntilDone(down, handle, options()))).message,
      /not finished 600 s after it was requested; no state seen; last poll: fake: ECONNREFUSED$/,
    );
  });

  it('counts the timeout from the request: a follow resumed after downtime gets only what is left', async () => {
    clock = START + 8 * MINUTE; // picked up again eight minutes after the request
    const edr = scripted([pending()]);
    const error = await failure(followUntilDone(edr, JSON.stringify(handle), options({ pollMs: 5 * MINUTE })));
    assert.equal(error.code, 'TIMEOUT');
    assert.deepEqual(slept, [2 * MINUTE], 'the last sleep is cut to the time left, never past the deadline');
    assert.equal(edr.polls, 2);

    clock = START + 11 * MINUTE; // already past its deadline: one last look, then the timeout
    const late = scripted([pending()]);
    assert.equal((await failure(followUntilDone(late, handle, options()))).code, 'TIMEOUT');
    assert.equal(late.polls, 1);
    clock = START + 11 * MINUTE;
    assert.deepEqual(
      await followUntilDone(scripted([contained]), handle, options()),
      { status: contained.status, polls: 1 },
      'an end found on that look still counts',
    );
  });

  it('polls through network, server, rate-limit and poll timeouts only; anything else ends the follow', async () => {
    for (const code of ['NETWORK', 'SERVER', 'RATE_LIMITED', 'TIMEOUT'] as const) {
      clock = START;
      const edr = scripted([edrError('fake', code, 'trouble'), contained]);
      assert.equal((await followUntilDone(edr, handle, options())).polls, 2, code);
    }
    for (const code of ['AUTH', 'FORBIDDEN', 'NOT_FOUND', 'BAD_REQUEST', 'BODY_ERROR'] as const) {
      clock = START;
      const edr = scripted([edrError('fake', code, 'trouble'), contained]);
      assert.equal((await failure(followUntilDone(edr, handle, options()))).code, code);
      assert.equal(edr.polls, 1, `${code}: not polled again`);
    }
    const bug = scripted([new TypeError('cannot read properties of undefined'), contained]);
    await assert.rejects(followUntilDone(bug, handle, options()), TypeError);
    assert.equal(bug.polls, 1);
  });

  it('waits 5 s between polls by default and at least 1 ms', async () => {
    await followUntilDone(scripted([pending(), contained]), handle, options({ pollMs: undefined }));
    await followUntilDone(scripted([pending(), contained]), handle, options({ pollMs: 0 }));
    assert.deepEqual(slept, [5_000, 1]);
  });

  it('refuses a missing or non-positive timeout before polling, and a cancelled follow does not poll', async () => {
    for (const timeoutMs of [0, -1, Number.NaN]) {
      const edr = scripted([contained]);
      const error = await failure(followUntilDone(edr, handle, options({ timeoutMs })));
      assert.equal(error.code, 'BAD_REQUEST');
      assert.match(error.message, /positive timeoutMs/);
      assert.equal(edr.polls, 0);
    }
    const edr = scripted([contained]);
    const controller = new AbortController();
    controller.abort();
    const error = await failure(followUntilDone(edr, handle, options({ signal: controller.signal })));
    assert.equal(error.code, 'CANCELLED');
    assert.equal(error.message, 'fake: isolate of web01 (aid1): follow cancelled');
    assert.equal(edr.polls, 0);

    const stopped = scripted([pending()]);
    const interrupted = await failure(
      followUntilDone(stopped, handle, {
        ...options(),
        sleep: () => Promise.reject(new Error('aborted')),
      }),
    );
    assert.equal(interrupted.code, 'CANCELLED');
    assert.equal(interrupted.message, 'fake: isolate of web01 (aid1): follow cancelled');
  });
});
