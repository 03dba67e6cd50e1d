/**
 * The approval records without the engine: the policy checks that decide who may decide and how many
 * must agree, the held message (what runs once approved), and the summary an approver reads.
 */
import assert from 'node:assert/strict';
import {
  ApprovalError,
  normaliseIdentity,
  normalisePolicy,
  renderSummary,
  restoreMessage,
  serialiseMessage,
  type ApprovalPolicy,
} from '../../../lib/approval/records';
import { ANA, BEN, BOSS } from './helpers';
import { approvalDigest, verifyApproval } from '../../../lib/contract/approval';

const badPolicy = (policy: unknown, message: RegExp) => () =>
  assert.throws(
    () => normalisePolicy(policy as ApprovalPolicy),
    (err: Error) => err instanceof ApprovalError && err.code === 'bad-policy' && message.test(err.message),
  );

describe('approval policy', function () {
  const base = { approvers: [ANA, BEN], timeoutMs: 60_000 };

  it('normalises identities: trimmed, e-mail without case, other ids as given', function () {
    assert.equal(normaliseIdentity('  email:Ana@Example.org '), 'email:ana@example.org');
    assert.equal(normaliseIdentity('slack:U0Ana'), 'slack:U0Ana');
    for (const bad of [42, undefined, 'email:', 'icq:1', 'email:a b']) {
      assert.throws(
        () => normaliseIdentity(bad),
        (err: Error) =>
          err instanceof ApprovalError &&
          err.name === 'ApprovalError' &&
          err.code === 'bad-policy' &&
          err.message.startsWith('approver identity must be <channel>:<id> with channel editor, email, slack, telegram, mattermost (got '),
        String(bad),
      );
    }
    assert.throws(
      () => normaliseIdentity(`icq:${'1'.repeat(500)}`),
      (err: Error) => err.message.length < 250,
    );
  });

  it('fills the documented defaults', function () {
    assert.deepEqual(normalisePolicy(base), {
      approvers: [
        { name: 'Ana', identities: ['email:ana@example.org', 'slack:U0ANA'] },
        { name: 'Ben', identities: ['email:ben@example.org', 'telegram:1001'] },
      ],
      quorum: 1,
      denyNeedsQuorum: false,
      timeoutMs: 60_000,
      onTimeout: 'deny',
      remindAfterMs: [],
      escalation: [],
      escalationTimeoutMs: 60_000,
      fields: ['alert.source.ip'],
    });
    assert.deepEqual(normalisePolicy({ ...base, fields: [] }).fields, ['alert.source.ip']);
  });

  it('trims names, merges repeated identities of one person, and sorts reminders without repeats', function () {
    const p = normalisePolicy({
      ...base,
      approvers: [{ name: '  Ana ', identities: ['email:ANA@example.org', 'email:ana@example.org'] }],
      remindAfterMs: [20_000, 5_000, 20_000, 10_000],
    });
    assert.deepEqual(p.approvers, [{ name: 'Ana', identities: ['email:ana@example.org'] }]);
    assert.deepEqual(p.remindAfterMs, [5_000, 10_000, 20_000]);
  });

  it('lets one person be both an approver and on the escalation list', function () {
    const p = normalisePolicy({ ...base, escalation: [ANA] });
    assert.deepEqual(
      p.escalation.map((e) => e.name),
      ['Ana'],
    );
  });

  it('refuses a policy without approvers', badPolicy(undefined, /an approval needs at least one approver/));
  it('refuses an empty approver list', badPolicy({ ...base, approvers: [] }, /an approval needs at least one approver/));
  it('refuses approvers that are not a list', badPolicy({ ...base, approvers: 'Ana' }, /approvers must be a list of persons/));
  it('refuses a person without a name', badPolicy({ ...base, approvers: [{ identities: ['editor:a'] }] }, /approvers\[0\] has no name/));
  it('refuses a person whose name is blank', badPolicy({ ...base, approvers: [{ name: '  ', identities: ['editor:a'] }] }, /approvers\[0\] has no name/));
  it('refuses a missing person', badPolicy({ ...base, approvers: [ANA, null] }, /approvers\[1\] has no name/));
  it('refuses a person without identities', badPolicy({ ...base, approvers: [{ name: 'Ana', identities: [] }] }, /approvers Ana has no identities/));
  it('refuses identities that are not a list', badPolicy({ ...base, approvers: [{ name: 'Ana', identities: 'editor:a' }] }, /approvers Ana has no identities/));
  it(
    'refuses one identity for two persons',
    badPolicy({ ...base, approvers: [ANA, { name: 'Eve', identities: ['slack:U0ANA'] }] }, /identity slack:U0ANA is listed for both Ana and Eve/),
  );
  it(
    'refuses an approver identity on another escalation person',
    badPolicy({ ...base, escalation: [{ name: 'Eve', identities: ['slack:U0ANA'] }] }, /identity slack:U0ANA is listed for both Ana and Eve/),
  );
  it(
    'refuses a nameless escalation person, naming the list',
    badPolicy({ ...base, escalation: [{ identities: ['editor:x'] }] }, /escalation\[0\] has no name/),
  );
  it('refuses a person listed twice', badPolicy({ ...base, approvers: [ANA, { name: 'Ana', identities: ['editor:ana2'] }] }, /approver Ana is listed twice/));
  it('refuses a quorum of 0', badPolicy({ ...base, quorum: 0 }, /quorum must be a whole number of at least 1 \(got 0\)/));
  it('refuses a fractional quorum', badPolicy({ ...base, quorum: 1.5 }, /quorum must be a whole number of at least 1 \(got 1.5\)/));
  it(
    'names one approver in the singular',
    badPolicy({ ...base, approvers: [ANA], quorum: 2 }, /quorum 2 is larger than the 1 listed approver: it could never be reached/),
  );
  for (const timeoutMs of [0, -1, NaN, Infinity, '60000', undefined]) {
    it(`refuses timeoutMs ${String(timeoutMs)}`, badPolicy({ ...base, timeoutMs }, /timeoutMs must be a positive number of milliseconds/));
  }
  it('refuses an unknown timeout outcome', badPolicy({ ...base, onTimeout: 'maybe' }, /onTimeout must be deny, approve or escalate \(got maybe\)/));
  it('refuses an escalate timeout without an escalation list', badPolicy({ ...base, onTimeout: 'escalate' }, /onTimeout escalate needs an escalation list/));
  it('refuses a reminder at 0 ms', badPolicy({ ...base, remindAfterMs: [0] }, /remindAfterMs must be a positive number/));
  it('refuses escalateAfterMs without an escalation list', badPolicy({ ...base, escalateAfterMs: 1000 }, /escalateAfterMs needs an escalation list/));
  it('refuses a bad escalateAfterMs', badPolicy({ ...base, escalation: [BOSS], escalateAfterMs: -5 }, /escalateAfterMs must be a positive number/));
  it('refuses a bad escalationTimeoutMs', badPolicy({ ...base, escalationTimeoutMs: 0 }, /escalationTimeoutMs must be a positive number/));
  it('refuses a decisive field that is not a message path', badPolicy({ ...base, fields: ['alert..ip'] }, /decisive field must be a dotted message path/));
});

describe('the held message', function () {
  const refused = (msg: unknown, message: RegExp) =>
    assert.throws(
      () => serialiseMessage(msg),
      (err: Error) => err instanceof ApprovalError && err.code === 'not-serialisable' && message.test(err.message),
    );

  it('must be an object', function () {
    for (const msg of [null, 'x', 1, [1]]) refused(msg, /the message must be an object/);
  });

  it('refuses what does not survive as JSON, naming where it is', function () {
    refused({ a: NaN }, /msg\.a is NaN/);
    refused({ a: { b: -Infinity } }, /msg\.a\.b is -Infinity/);
    refused({ a: Symbol('s') }, /msg\.a is a symbol/);
    refused({ a: [1, 2n] }, /msg\.a\[1\] is a BigInt, which/);
    refused({ a: new Date('not a date') }, /msg\.a is an invalid Date/);
    refused({ a: Object.create(Object.create(null)) }, /msg\.a is a non-plain object/);
  });

  it('keeps null, turns Dates into ISO text, undefined list items into null, and drops undefined members', function () {
    const { json } = serialiseMessage({ a: null, d: new Date('2026-01-01T00:00:00Z'), list: [1, undefined], u: undefined, n: 0, f: false });
    assert.equal(json, '{"a":null,"d":"2026-01-01T00:00:00.000Z","list":[1,null],"n":0,"f":false}');
  });

  it('holds objects without a prototype, as parsed query strings are', function () {
    const query = Object.assign(Object.create(null), { ip: '192.0.2.1' });
    assert.equal(serialiseMessage({ query }).json, '{"query":{"ip":"192.0.2.1"}}');
  });

  it('drops req and res only at the top of the message', function () {
    const { json, dropped } = serialiseMessage({ req: {}, res: {}, payload: { req: 'kept', res: 'kept' } });
    assert.deepEqual(dropped, ['req', 'res']);
    assert.deepEqual(restoreMessage(json), { payload: { req: 'kept', res: 'kept' } });
  });

  it('holds an object that appears twice without being circular', function () {
    const shared = { ip: '192.0.2.1' };
    assert.deepEqual(restoreMessage(serialiseMessage({ a: shared, b: [shared, shared] }).json), { a: shared, b: [shared, shared] });
  });

  it('holds a message of exactly the size limit and refuses one byte more', function () {
    const size = Buffer.byteLength(JSON.stringify({ payload: 'x'.repeat(100) }));
    assert.equal(serialiseMessage({ payload: 'x'.repeat(100) }, size).json.length, size);
    assert.throws(
      () => serialiseMessage({ payload: 'x'.repeat(101) }, size),
      (err: Error) => err instanceof ApprovalError && err.code === 'too-large' && err.message.includes(`${size + 1} bytes as JSON, more than ${size}`),
    );
  });
});

describe('the summary an approver reads', function () {
  it('says "Approval requested" and nothing else for a message with nothing to show', function () {
    assert.deepEqual(renderSummary({}), { title: 'Approval requested', reasons: [] });
    assert.deepEqual(renderSummary({ alert: null, enrichment: { why: 'not a list' } }), { title: 'Approval requested', reasons: [] });
  });

  it('shows the alert, the verdict, the action and the target asked for', function () {
    const msg = {
      alert: { title: 'SSH brute force', severity: 3, source: { ip: '192.0.2.1' } },
      enrichment: { verdict: 'malicious', score: 0, why: ['feed A', 7, { x: 1 }, ' '] },
    };
    assert.deepEqual(renderSummary(msg, { action: 'block IP' }), {
      title: 'SSH brute force',
      severity: '3',
      verdict: 'malicious',
      score: 0,
      reasons: ['feed A', '7'],
      action: 'block IP',
      target: '192.0.2.1',
    });
    assert.equal(renderSummary(msg, { target: '192.0.2.9', title: 'Block it?' }).target, '192.0.2.9');
    assert.equal(renderSummary(msg, { title: 'Block it?' }).title, 'Block it?');
    assert.equal(renderSummary({ alert: { severity: 3, severity_label: 'high' } }).severity, 'high');
  });

  it('shows at most 20 reasons and cuts long text at 300 characters', function () {
    const why = Array.from({ length: 25 }, (_, i) => `reason ${i}`);
    const summary = renderSummary({ alert: { title: 't'.repeat(301) }, enrichment: { why } });
    assert.deepEqual(summary.reasons, why.slice(0, 20));
    assert.equal(summary.title, `${'t'.repeat(299)}…`);
    assert.equal(renderSummary({ alert: { title: 't'.repeat(300) } }).title, 't'.repeat(300));
  });

  it('takes the target from the first decisive field that has a value, through nothing else', function () {
    const msg = { a: null, b: 'text', c: { ip: '192.0.2.7' } };
    assert.equal(renderSummary(msg, {}, ['a.x', 'b.length', 'c.ip']).target, '192.0.2.7');
    assert.equal(renderSummary(msg, {}, ['a.x', 'b.length']).target, undefined);
  });

  it('lists what every decisive field covers, worst verdict first, then by score and name: map keys, list items, plain values', function () {
    const msg = {
      list: ['192.0.2.50'],
      when: new Date(0),
      blob: Buffer.from('x'),
      nothing: null,
      indicators: {
        b: { verdict: 'suspicious', score: 10 },
        a: { verdict: 'suspicious', score: 10 },
        c: { verdict: 'suspicious', score: 40 },
        d: null,
        e: { score: Infinity },
        f: 'malicious',
      },
    };
    const summary = renderSummary(msg, {}, ['list', 'when', 'blob', 'nothing', 'indicators', 'missing']);
    assert.deepEqual(summary.covers, [
      { field: 'indicators', value: 'c', verdict: 'suspicious', score: 40 },
      { field: 'indicators', value: 'a', verdict: 'suspicious', score: 10 },
      { field: 'indicators', value: 'b', verdict: 'suspicious', score: 10 },
      { field: 'list', value: '192.0.2.50' },
      { field: 'indicators', value: 'd' },
      { field: 'indicators', value: 'e' },
      { field: 'indicators', value: 'f' },
    ]);
    assert.equal(summary.target, '192.0.2.50');
  });

  it('shows the approver every address the approval lets act on when several fields or a list decide', function () {
    const two = { alert: { source: { ip: '192.0.2.1' }, destination: { ip: '198.51.100.7' } } };
    const summary = renderSummary(two, {}, ['alert.source.ip', 'alert.destination.ip']);
    assert.equal(summary.target, '192.0.2.1');
    assert.deepEqual(
      summary.covers?.map((c) => c.value),
      ['192.0.2.1', '198.51.100.7'],
    );
    const list = renderSummary({ targets: ['203.0.113.5', '203.0.113.4', 7] }, {}, ['targets']);
    assert.equal(list.target, '203.0.113.5, 203.0.113.4, 7');
    assert.deepEqual(
      list.covers?.map((c) => c.value),
      ['203.0.113.4', '203.0.113.5', '7'],
    );
    // One plain value that is the target already: nothing more to list.
    assert.equal(renderSummary(two, {}, ['alert.source.ip']).covers, undefined);
  });

  it('lists exactly the values the shared check before an action accepts as covered', function () {
    const msg: Record<string, unknown> = {
      alert: { source: { ip: '192.0.2.1' }, destination: { ip: '198.51.100.7' } },
      targets: ['203.0.113.5', 12],
      enrichment: { indicators: { '198.51.100.5': { verdict: 'malicious' }, 'evil.example': { verdict: 'suspicious' } } },
      when: new Date(0),
    };
    const fields = ['alert.source.ip', 'alert.destination.ip', 'targets', 'enrichment.indicators', 'when', 'missing.path'];
    const listed = (renderSummary(msg, {}, fields).covers ?? []).map((c) => c.value);
    msg.approval = { id: 'ap-1', decision: 'approved', fields, digest: approvalDigest(msg, fields) };
    const candidates = [...listed, '203.0.113.6', '1970-01-01T00:00:00.000Z', 'missing', '0'];
    for (const candidate of candidates) {
      assert.equal(verifyApproval(msg, candidate).ok, listed.includes(candidate), candidate);
    }
    assert.equal(listed.length, 6);
  });

  it('keeps an explicit or plain target over the indicators the verdict accused', function () {
    const msg = { alert: { source: { ip: '192.0.2.1' } }, enrichment: { indicators: { '198.51.100.5': { verdict: 'malicious' } } } };
    assert.equal(renderSummary(msg, { target: '192.0.2.9' }, ['enrichment.indicators']).target, '192.0.2.9');
    assert.equal(renderSummary(msg, {}, ['alert.source.ip', 'enrichment.indicators']).target, '192.0.2.1');
    assert.equal(renderSummary(msg, {}, ['enrichment.indicators']).target, '198.51.100.5');
  });

  it('ranks a score of 0 before no score, and lists at most 100 covered values', function () {
    assert.deepEqual(
      renderSummary({ m: { y: { verdict: 'benign' }, x: { verdict: 'benign', score: 0 } } }, {}, ['m']).covers?.map((c) => c.value),
      ['x', 'y'],
    );
    const many = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`198.51.100.${i}`, { verdict: 'malicious' }]));
    assert.equal(renderSummary({ m: many }, {}, ['m']).covers?.length, 100);
  });

  it('names a blank indicator key as it is', function () {
    assert.deepEqual(renderSummary({ m: { ' ': { verdict: 'benign' } } }, {}, ['m']).covers, [{ field: 'm', value: ' ', verdict: 'benign' }]);
  });
});
