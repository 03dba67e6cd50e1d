import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { normalise } from '../../../lib/alert';
import { accusedTargets, checkActionCondition, CONTRACT_SCHEMAS, validateMessage, validatePart, type MsgApproval } from '../../../lib/contract';
import { computeVerdict } from '../../../lib/intel/verdict';
import type { IntelResult } from '../../../lib/intel/types';
import { extractFromAlert } from '../../../lib/ioc';

const root = path.resolve(__dirname, '..', '..', '..');
const sample = (file: string) => JSON.parse(fs.readFileSync(path.join(root, 'test', 'fixtures', 'samples', file), 'utf8'));

/** A message as the current nodes build it, through the library they use. */
function pipelineMessage() {
  const alert = normalise([sample('wazuh/sshd-bruteforce.json')]).alerts[0];
  const iocs = extractFromAlert(alert as never, { textFields: ['description', 'title', 'raw.full_log'] });
  const results: IntelResult[] = iocs.map((ioc) => ({
    source: 'demo feed',
    provider: 'feed',
    indicator: { type: ioc.type, value: ioc.value },
    level: ioc.value === '203.0.113.44' ? 'malicious' : 'unknown',
    found: ioc.value === '203.0.113.44',
    evidence: {},
    summary: 'demo feed: listed',
    fetchedAt: '2026-11-20T08:14:04.000Z',
  }));
  const enrichment = computeVerdict({ results, notes: [], lookups: { requested: results.length, cached: 0, shared: 0 } });
  return { alert, iocs, enrichment };
}

describe('message contract', function () {
  it('publishes one JSON Schema per message part next to the alert schema', function () {
    for (const file of Object.values(CONTRACT_SCHEMAS)) assert.ok(fs.existsSync(path.join(root, 'schema', file)), file);
  });

  it('the alert, indicators and enrichment the library produces validate', function () {
    const msg = pipelineMessage();
    assert.ok(msg.iocs.length > 0);
    assert.deepEqual(validateMessage(msg), []);
    assert.equal(msg.enrichment.indicators['203.0.113.44'].verdict, 'malicious');
  });

  it('an approval as the approval node will send it validates; a wrong decision or a missing digest does not', function () {
    const approval: MsgApproval = {
      id: 'ap-1',
      decision: 'approved',
      by: ['alice@example.org'],
      at: '2026-11-20T08:20:00.000Z',
      digest: 'sha256:0f1e',
      fields: ['alert.source.ip'],
    };
    assert.deepEqual(validatePart('approval', approval), []);
    assert.deepEqual(validatePart('approval', { ...approval, decision: 'maybe' }), ['approval.decision: must be one of "approved", "denied", "expired"']);
    const { digest: _digest, ...noDigest } = approval;
    assert.deepEqual(validatePart('approval', noDigest), ['approval.digest: is required']);
  });

  it('refuses what breaks the contract, naming the field', function () {
    const { enrichment } = pipelineMessage();
    const { indicators: _indicators, ...old } = enrichment;
    assert.deepEqual(validatePart('enrichment', old), ['enrichment.indicators: is required']);
    assert.deepEqual(validatePart('actions', [{ kind: 'block', target: '203.0.113.44', provider: 'edge', status: 'done', simulated: false }]), [
      'actions.0.status: must be one of "blocked", "extended", "simulated", "unblocked", "refused", "not-found", "failed", "isolated", "released", "already-isolated", "not-isolated", "pending"',
    ]);
    assert.deepEqual(validatePart('iocs', [{ type: 'ip', value: '203.0.113.44' }]), [
      'iocs.0.type: must be one of "ipv4", "ipv6", "domain", "url", "email", "md5", "sha1", "sha256", "sha512", "cve"',
    ]);
    assert.match(validateMessage({ alert: { id: 'x' } })[0], /^alert\./);
  });

  it('the action condition: a verdict at the level or an approval; denied or expired approvals always refuse', function () {
    const { enrichment } = pipelineMessage();
    assert.deepEqual(checkActionCondition({ enrichment }, 'malicious'), { allowed: true, by: 'verdict' });
    assert.equal(checkActionCondition({ enrichment: { ...enrichment, verdict: 'suspicious' } }, 'malicious').allowed, false);
    assert.deepEqual(checkActionCondition({ enrichment: { ...enrichment, verdict: 'suspicious' } }, 'suspicious'), { allowed: true, by: 'verdict' });
    assert.deepEqual(checkActionCondition({ approval: { decision: 'approved' } }, 'malicious'), { allowed: true, by: 'approval' });
    assert.deepEqual(checkActionCondition({ enrichment, approval: { id: 'ap-2', decision: 'denied' } }, 'off'), {
      allowed: false,
      reason: 'approval ap-2 was denied',
    });
    assert.deepEqual(checkActionCondition({}, 'off'), { allowed: true, by: 'off' });
    assert.match((checkActionCondition({ enrichment: { verdict: 'nonsense' } }, 'malicious') as { reason: string }).reason, /no verdict/);
  });

  it('accused targets are the addresses whose own verdict reached the level', function () {
    const { enrichment } = pipelineMessage();
    assert.deepEqual(accusedTargets(enrichment, 'malicious'), [{ value: '203.0.113.44', verdict: 'malicious', score: 100 }]);
    assert.deepEqual(accusedTargets(undefined, 'malicious'), []);
    assert.deepEqual(accusedTargets({ verdict: 'malicious' }, 'malicious'), [], 'an enrichment without per-indicator verdicts accuses nobody');
  });
});
