import assert from 'node:assert/strict';
import { CompletionTracker, LEGACY_GRACE_MS, completionTrackerFor } from '../../../lib/intake/completion';

const turn = () => new Promise((r) => setImmediate(r));
const deliver = (t: CompletionTracker, msgid: string, dest: string, doneCapable = true) =>
  t.preDeliver({ msg: { _msgid: msgid }, destination: { id: dest, node: { _expectedDoneCount: doneCapable ? 1 : 0 } } });
const done = (t: CompletionTracker, msgid: string, node: string) => t.onComplete({ msg: { _msgid: msgid }, node: { id: node } });

describe('completion tracker', function () {
  it('completes when every delivery was answered by done(), counting what nodes send on before done()', async function () {
    const t = new CompletionTracker();
    let completed = 0;
    t.track('m1', 'o', true, () => completed++);
    deliver(t, 'm1', 'a');
    deliver(t, 'm1', 'b'); // two wires
    deliver(t, 'm1', 'c'); // a sends on to c ...
    done(t, 'm1', 'a'); // ... then calls done
    done(t, 'm1', 'b');
    await turn();
    assert.equal(completed, 0, 'c still has it');
    done(t, 'm1', 'c');
    await turn();
    assert.equal(completed, 1);
    assert.equal(t.size, 0);
  });

  it("ignores done() of nodes it was not delivered to (the intake's own input, upstream nodes)", async function () {
    const t = new CompletionTracker();
    let completed = 0;
    t.track('m1', 'o', true, () => completed++);
    deliver(t, 'm1', 'a');
    done(t, 'm1', 'intake');
    done(t, 'm1', 'upstream');
    await turn();
    assert.equal(completed, 0);
  });

  it('does not complete in the gap where a node calls done() before sending in the same turn', async function () {
    const t = new CompletionTracker();
    let completed = 0;
    t.track('m1', 'o', true, () => completed++);
    deliver(t, 'm1', 'a');
    done(t, 'm1', 'a');
    deliver(t, 'm1', 'b');
    await turn();
    assert.equal(completed, 0);
  });

  it('completes a message sent on no wire at once, and a wired one only after a delivery', async function () {
    const t = new CompletionTracker();
    let completed = 0;
    t.track('none', 'o', false, () => completed++);
    t.sent('none');
    t.track('wired', 'o', true, () => completed++);
    t.sent('wired');
    await turn();
    assert.equal(completed, 1);
    assert.equal(t.size, 1);
  });

  it('answers a node without done() when its handler returned, after a grace period for a queued send', async function () {
    const t = new CompletionTracker();
    let completed = 0;
    t.track('m1', 'o', true, () => completed++);
    deliver(t, 'm1', 'switch', false);
    done(t, 'm1', 'switch'); // never happens for such a node; if it did, it is not counted twice
    t.postReceive({ msg: { _msgid: 'm1' }, destination: { id: 'switch' } });
    await new Promise((r) => setTimeout(r, LEGACY_GRACE_MS / 5));
    deliver(t, 'm1', 'block'); // sent from its queue a moment later
    await new Promise((r) => setTimeout(r, LEGACY_GRACE_MS + 50));
    assert.equal(completed, 0);
    done(t, 'm1', 'block');
    await new Promise((r) => setTimeout(r, LEGACY_GRACE_MS + 50));
    assert.equal(completed, 1);
  });

  it("calls every alert sharing one _msgid back, and forgets an owner's messages", async function () {
    const t = new CompletionTracker();
    const calls: string[] = [];
    t.track('m1', 'o1', true, () => calls.push('x'));
    t.track('m1', 'o1', true, () => calls.push('y'));
    t.track('m2', 'o2', true, () => calls.push('z'));
    t.forget('o2');
    assert.equal(t.size, 1);
    deliver(t, 'm1', 'a');
    done(t, 'm1', 'a');
    await turn();
    assert.deepEqual(calls, ['x', 'y']);
  });

  it('registers its hooks once per hooks object, and not at all without a hooks API', function () {
    const added: string[] = [];
    const hooks = { add: (id: string) => added.push(id), has: (id: string) => added.includes(id) };
    const a = completionTrackerFor(hooks);
    const b = completionTrackerFor(hooks);
    assert.equal(a, b);
    assert.deepEqual(added, ['preDeliver.soar-intake', 'onComplete.soar-intake', 'postReceive.soar-intake']);
    assert.equal(completionTrackerFor(undefined), undefined);
  });
});
