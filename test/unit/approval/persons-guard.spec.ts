import assert from 'node:assert/strict';
import { carriesApproval, checkApprovalFor } from '../../../lib/approval/guard';
import { parsePersons } from '../../../lib/approval/persons';
import { normalisePolicy } from '../../../lib/approval/records';
import { approvalDigest } from '../../../lib/contract/approval';
import { migrations } from '../../../nodes/shared/migrations';

describe('approver lists as text (soar-wait-approval settings)', function () {
  it('reads "name: identities" lines, identity-only lines, comments and blank lines', function () {
    const persons = parsePersons(
      'alice: editor:alice, email:Alice@Example.org\n# on call\n\neditor:bob, slack:U024BE7LH\neditor: editor:ed # a person named editor',
      'approvers',
    );
    assert.deepEqual(persons, [
      { name: 'alice', identities: ['editor:alice', 'email:Alice@Example.org'] },
      { name: 'bob', identities: ['editor:bob', 'slack:U024BE7LH'] },
      { name: 'editor', identities: ['editor:ed'] },
    ]);
    // The engine's policy check normalises them (e-mail without case) and accepts the list.
    assert.equal(normalisePolicy({ approvers: persons, timeoutMs: 1000 }).approvers[0].identities[1], 'email:alice@example.org');
  });

  it('refuses a line without a colon, and lets the policy refuse an unknown channel', function () {
    assert.throws(() => parsePersons('alice', 'approvers'), /approvers: 'alice' is not 'name: channel:id, \.\.\.'/);
    assert.throws(
      () => normalisePolicy({ approvers: parsePersons('alice: icq:1234', 'approvers'), timeoutMs: 1000 }),
      /approver identity must be <channel>:<id>/,
    );
  });

  it('reads nothing from a setting that is not text', function () {
    assert.deepEqual(parsePersons(undefined, 'approvers'), []);
    assert.deepEqual(parsePersons(42, 'approvers'), []);
  });

  it('trims names and identities, skips blank lines and empty list items', function () {
    assert.deepEqual(parsePersons('   \n  alice : editor:alice , email:a@example.org,\n\teditor:bob ,slack:U1  \n', 'approvers'), [
      { name: 'alice', identities: ['editor:alice', 'email:a@example.org'] },
      { name: 'bob', identities: ['editor:bob', 'slack:U1'] },
    ]);
  });

  it('refuses a line without a name before the colon, quoting at most 80 characters of it', function () {
    assert.throws(() => parsePersons(': editor:alice', 'approvers'), /approvers: ': editor:alice' is not 'name: channel:id, \.\.\.'/);
    const long = `${'x'.repeat(200)}`;
    assert.throws(
      () => parsePersons(long, 'approvers'),
      (err: Error) => err.message === `approvers: '${'x'.repeat(80)}' is not 'name: channel:id, ...'`,
    );
  });

  it('migrating a config without a version fills the documented defaults', function () {
    const { config } = migrations().migrate<Record<string, unknown>>({ id: 'w', type: 'soar-wait-approval', approvers: 'editor:a' });
    assert.equal(config.configVersion, migrations().currentVersion('soar-wait-approval'));
    assert.equal(config.onTimeout, 'deny');
    assert.equal(config.fields, 'alert.source.ip');
  });
});

describe('checkApprovalFor: the shared check of action nodes', function () {
  const msg = (ip: string) => ({ alert: { source: { ip } } });
  const approved = (m: Record<string, unknown>) => ({
    ...m,
    approval: {
      id: 'ap-1',
      decision: 'approved',
      by: ['editor:a'],
      at: '2026-01-01T00:00:00.000Z',
      digest: approvalDigest(m, ['alert.source.ip']),
      fields: ['alert.source.ip'],
    },
  });

  it('a message that is not an object carries no approval', async function () {
    for (const m of [null, undefined, 'approval', 42]) assert.equal(carriesApproval(m), false, String(m));
    assert.deepEqual(await checkApprovalFor(null, '203.0.113.7'), { carried: false });
    assert.equal(carriesApproval({ approval: {} }), true);
  });

  it('says when a message carries no approval (the node condition decides then)', async function () {
    assert.deepEqual(await checkApprovalFor(msg('203.0.113.7'), '203.0.113.7'), { carried: false });
    assert.deepEqual(await checkApprovalFor({ ...msg('203.0.113.7'), approval: null }, '203.0.113.7'), { carried: false });
  });

  it('accepts the approved target and refuses another target or a changed field', async function () {
    const m = approved(msg('203.0.113.7'));
    assert.deepEqual(await checkApprovalFor(m, '203.0.113.7'), { carried: true, ok: true, id: 'ap-1' });
    const other = await checkApprovalFor(m, '203.0.113.8');
    assert.equal(other.carried && other.ok, false);
    const changed = await checkApprovalFor({ ...m, alert: { source: { ip: '198.51.100.1' } } }, '198.51.100.1');
    assert.ok(changed.carried && !changed.ok && /changed after it was approved/.test(changed.reason));
  });

  it('asks the engine when one is given: a digest anyone can compute is not enough', async function () {
    const m = approved(msg('203.0.113.7'));
    const engine = { confirm: async () => ({ ok: false as const, reason: 'approval ap-1 is not one this hub decided' }) };
    const r = await checkApprovalFor(m, '203.0.113.7', engine);
    assert.deepEqual(r, { carried: true, ok: false, reason: 'approval ap-1 is not one this hub decided' });
  });
});
