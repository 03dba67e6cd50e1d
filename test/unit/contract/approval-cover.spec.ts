/**
 * What an approval covers when its decisive field is the verdict's indicators (the quickstart's
 * setting): block IP acts on the addresses the verdict accused, which are keys of
 * msg.enrichment.indicators, so the shared check must find the target among those keys, and still
 * refuse anything else or any change made after the approval.
 */
import assert from 'node:assert/strict';
import { accusedTargets, approvalDigest, verifyApproval } from '../../../lib/contract';

type Msg = Record<string, any>;

const FIELDS = ['enrichment.indicators'];

function message(): Msg {
  const result = (value: string, level: string) => [{ indicator: { type: 'ipv4', value }, level, found: level !== 'unknown' }];
  return {
    alert: { id: 'a1', title: 'ssh brute force', source: { ip: '198.51.100.10' } },
    enrichment: {
      verdict: 'malicious',
      score: 100,
      why: [],
      results: { '198.51.100.10': result('198.51.100.10', 'unknown'), '198.51.100.23': result('198.51.100.23', 'malicious') },
      indicators: { '198.51.100.10': { verdict: 'unknown' }, '198.51.100.23': { verdict: 'malicious', score: 100 } },
    },
  };
}

function approved(msg: Msg, fields = FIELDS): Msg {
  return {
    ...msg,
    approval: { id: 'ap-1', decision: 'approved', by: ['editor:admin'], at: '2026-12-07T05:00:00.000Z', digest: approvalDigest(msg, fields), fields },
  };
}

describe('approval coverage of a map field (enrichment.indicators)', function () {
  it('covers the address the verdict accused, the one block IP acts on', function () {
    const msg = approved(message());
    assert.deepEqual(
      accusedTargets(msg.enrichment, 'malicious').map((t) => t.value),
      ['198.51.100.23'],
    );
    assert.deepEqual(verifyApproval(msg, '198.51.100.23'), { ok: true, id: 'ap-1' });
  });

  it('refuses an address that is not among the approved indicators', function () {
    const check = verifyApproval(approved(message()), '203.0.113.9');
    assert.equal(check.ok, false);
    assert.match((check as { reason: string }).reason, /does not cover 203\.0\.113\.9 \(it covers enrichment\.indicators\)/);
  });

  it('refuses once an indicator was added or its verdict changed after the approval', function () {
    const added = approved(message());
    added.enrichment.indicators['203.0.113.9'] = { verdict: 'malicious', score: 100 };
    assert.match((verifyApproval(added, '203.0.113.9') as { reason: string }).reason, /changed after it was approved/);
    const flipped = approved(message());
    flipped.enrichment.indicators['198.51.100.10'] = { verdict: 'malicious', score: 100 };
    assert.match((verifyApproval(flipped, '198.51.100.10') as { reason: string }).reason, /changed after it was approved/);
  });

  it("an approval of the alert's source alone does not cover the accused address", function () {
    const check = verifyApproval(approved(message(), ['alert.source.ip']), '198.51.100.23');
    assert.match((check as { reason: string }).reason, /does not cover 198\.51\.100\.23/);
  });

  it('lists and plain values keep their meaning: the items and the value, never an object inside a list', function () {
    const msg = { targets: ['192.0.2.1', { '192.0.2.2': true }], one: '192.0.2.3' };
    const list = approved(msg, ['targets', 'one']);
    assert.equal(verifyApproval(list, '192.0.2.1').ok, true);
    assert.equal(verifyApproval(list, '192.0.2.3').ok, true);
    assert.equal(verifyApproval(list, '192.0.2.2').ok, false);
  });
});
