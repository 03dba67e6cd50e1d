/**
 * The digest that binds an approval to its decisive fields, and the refusals of verifyApproval: what
 * an approver saw must be what an action node acts on, and a malformed msg.approval never passes.
 */
import assert from 'node:assert/strict';
import { approvalDigest, canonicalJson, checkFieldPath, readPath, verifyApproval } from '../../../lib/contract/approval';

type Msg = Record<string, unknown>;
type Approved = Msg & { approval: Msg };

function approved(msg: Msg, fields: string[], extra: Msg = {}): Approved {
  return {
    ...msg,
    approval: { id: 'ap-1', decision: 'approved', by: ['editor:a'], at: '2026-01-01T00:00:00.000Z', digest: approvalDigest(msg, fields), fields, ...extra },
  };
}

const reason = (check: ReturnType<typeof verifyApproval>): string => (check.ok ? '' : check.reason);

describe('approval digest', function () {
  it('is sha256:<64 hex digits>, the same whatever the key order, and changes with any decisive value', function () {
    const a = approvalDigest({ alert: { source: { ip: '192.0.2.1', port: 22 } } }, ['alert.source']);
    assert.match(a, /^sha256:[0-9a-f]{64}$/);
    assert.equal(approvalDigest({ alert: { source: { port: 22, ip: '192.0.2.1' } } }, ['alert.source']), a);
    assert.notEqual(approvalDigest({ alert: { source: { ip: '192.0.2.1', port: 23 } } }, ['alert.source']), a);
  });

  it('names the missing fields: two approvals over different absent fields differ', function () {
    assert.notEqual(approvalDigest({}, ['alert.source.ip']), approvalDigest({}, ['alert.destination.ip']));
  });

  it('treats a path through null, a string or a missing step as absent, not as an error or a value', function () {
    const absent = approvalDigest({}, ['alert.source.ip']);
    assert.equal(approvalDigest({ alert: null }, ['alert.source.ip']), absent);
    assert.equal(approvalDigest({ alert: {} }, ['alert.source.ip']), absent);
    assert.deepEqual(readPath({ alert: 'a string' }, 'alert.length'), { found: false });
    assert.deepEqual(readPath({ alert: {} }, 'alert.source.ip'), { found: false });
    assert.deepEqual(readPath({ alert: { source: { ip: '192.0.2.1' } } }, 'alert.source.ip'), { found: true, value: '192.0.2.1' });
  });

  it('does not read inherited properties: a path naming one is absent', function () {
    assert.deepEqual(readPath({ alert: {} }, 'alert.constructor'), { found: false });
    assert.deepEqual(readPath({}, 'toString'), { found: false });
  });

  it('digests an undefined field as absent, so the held message (JSON) still matches after a restart', function () {
    const live = { alert: { source: { ip: undefined } } };
    const held = JSON.parse(JSON.stringify(live));
    assert.equal(approvalDigest(live, ['alert.source.ip']), approvalDigest(held, ['alert.source.ip']));
    assert.notEqual(approvalDigest(live, ['alert.source.ip']), approvalDigest({ alert: { source: { ip: null } } }, ['alert.source.ip']));
    assert.deepEqual(readPath(live, 'alert.source.ip'), { found: false });
  });

  it('canonical JSON: sorted keys, undefined members dropped, non-finite numbers as null, Buffers and Dates by content', function () {
    assert.equal(canonicalJson({ b: 1, a: [1, undefined, 'x'], c: undefined }), '{"a":[1,null,"x"],"b":1}');
    assert.equal(canonicalJson(NaN), 'null');
    assert.equal(canonicalJson(Infinity), 'null');
    assert.equal(canonicalJson(undefined), 'null');
    assert.equal(canonicalJson(null), 'null');
    assert.equal(canonicalJson(7), '7');
    assert.equal(canonicalJson(Buffer.from('hi')), '{"$buffer":"aGk="}');
    assert.equal(canonicalJson(new Date('2026-01-01T00:00:00Z')), '"2026-01-01T00:00:00.000Z"');
    assert.notEqual(approvalDigest({ d: new Date(0) }, ['d']), approvalDigest({ d: new Date(1000) }, ['d']));
  });

  it('refuses to digest what has no JSON form (BigInt, function, symbol)', function () {
    assert.throws(() => canonicalJson(10n), /cannot digest a bigint/);
    assert.throws(() => canonicalJson(() => 1), /cannot digest a function/);
    assert.throws(() => canonicalJson(Symbol('s')), /cannot digest a symbol/);
  });

  it('accepts dotted message paths only', function () {
    assert.equal(checkFieldPath('alert.source.ip'), 'alert.source.ip');
    for (const bad of ['', 'alert..ip', 'alert[0]', '.alert', 'alert.', 42, undefined]) {
      assert.throws(() => checkFieldPath(bad), /decisive field must be a dotted message path/, String(bad));
    }
    assert.throws(
      () => checkFieldPath('x'.repeat(200) + '!'),
      (err: Error) => err.message.length < 200,
    );
  });
});

describe('verifyApproval refusals', function () {
  const msg = { alert: { source: { ip: '192.0.2.1' } }, port: 22, flag: true, nothing: null as unknown };

  it('refuses a msg.approval that is not an object, or has no id', function () {
    assert.equal(reason(verifyApproval(msg, '192.0.2.1')), 'the message carries no approval (msg.approval)');
    for (const approval of [null, undefined, 'approved', 1, true]) {
      assert.equal(reason(verifyApproval({ ...msg, approval }, '192.0.2.1')), 'the message carries no approval (msg.approval)');
    }
    const good = approved(msg, ['alert.source.ip']);
    for (const id of ['', 7, undefined]) {
      assert.equal(reason(verifyApproval({ ...good, approval: { ...good.approval, id } }, '192.0.2.1')), 'msg.approval has no id');
    }
  });

  it('refuses an approval whose decision is missing, and says so', function () {
    const good = approved(msg, ['alert.source.ip']);
    const check = verifyApproval({ ...good, approval: { ...good.approval, decision: undefined } }, '192.0.2.1');
    assert.equal(reason(check), 'approval ap-1 was no decision, not approved');
  });

  it('refuses an approval without decisive fields or without a digest', function () {
    const good = approved(msg, ['alert.source.ip']);
    for (const change of [{ fields: [] }, { fields: 'alert.source.ip' }, { digest: undefined }, { digest: 5 }]) {
      const check = verifyApproval({ ...good, approval: { ...good.approval, ...change } }, '192.0.2.1');
      assert.equal(reason(check), 'approval ap-1 names no decisive fields or digest', JSON.stringify(change));
    }
  });

  it('refuses, without throwing, an approval naming a bad path or a field that cannot be digested', function () {
    const good = approved(msg, ['alert.source.ip']);
    assert.match(reason(verifyApproval({ ...good, approval: { ...good.approval, fields: ['alert..ip'] } })), /^approval ap-1: decisive field must be a dotted/);
    assert.equal(reason(verifyApproval({ ...good, alert: { source: { ip: 10n } } })), 'approval ap-1: cannot digest a bigint');
  });

  it('names every decisive field in its refusals', function () {
    const good = approved(msg, ['alert.source.ip', 'port']);
    assert.match(reason(verifyApproval({ ...good, port: 23 })), /alert\.source\.ip, port changed after it was approved$/);
    assert.match(reason(verifyApproval(good, '192.0.2.9')), /does not cover 192\.0\.2\.9 \(it covers alert\.source\.ip, port\)$/);
  });

  it('covers numbers as their text, but not booleans, null, or the indexes of a list', function () {
    assert.deepEqual(verifyApproval(approved(msg, ['port']), '22'), { ok: true, id: 'ap-1' });
    assert.equal(verifyApproval(approved(msg, ['flag']), 'true').ok, false);
    assert.equal(verifyApproval(approved(msg, ['nothing']), 'null').ok, false);
    assert.equal(verifyApproval(approved({ list: ['192.0.2.1'] }, ['list']), '0').ok, false);
    assert.equal(verifyApproval(approved({ list: ['192.0.2.1'] }, ['list']), '192.0.2.1').ok, true);
  });
});
