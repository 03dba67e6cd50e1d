/** Severity mappings at their band edges, where an off-by-one (< vs <=, a missing case) hides. */
import assert from 'node:assert/strict';
import { normalise, type NormalisedAlert } from '../../../lib/alert';
import { sampleJson } from './helpers';

const RECEIVED = new Date('2026-11-23T00:00:00.000Z');

function one(item: unknown): NormalisedAlert {
  const { alerts, ignored } = normalise([item], { received: RECEIVED });
  assert.deepEqual(ignored, []);
  assert.equal(alerts.length, 1);
  return alerts[0];
}

describe('severity boundaries', () => {
  it('Graylog: priority 4 (critical on newer releases) is 5, unknown priorities are 0', () => {
    const note = sampleJson('samples', 'graylog', 'http-notification.json');
    const event = note.event as Record<string, unknown>;
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((priority) => one({ ...note, event: { ...event, priority } }).severity),
      [0, 2, 3, 4, 5, 0],
    );
    assert.equal(one({ ...note, event: { ...event, priority: 4 } }).severity_label, '4');
  });

  it('Elastic risk score bands: 0-21 low, 22-47 medium, 48-73 high, 74-100 critical, edges included', () => {
    const base = { 'kibana.alert.uuid': 'u', 'kibana.alert.rule.name': 'r' };
    const scores = [0, 21, 22, 47, 48, 73, 74, 100, 101, -1];
    assert.deepEqual(
      scores.map((score) => one({ ...base, 'kibana.alert.risk_score': score }).severity),
      [2, 2, 3, 3, 4, 4, 5, 5, 0, 0],
    );
  });

  it('Elastic: the severity word wins over the risk score', () => {
    const base = { 'kibana.alert.uuid': 'u', 'kibana.alert.rule.name': 'r' };
    assert.equal(one({ ...base, 'kibana.alert.severity': 'Low', 'kibana.alert.risk_score': 99 }).severity, 2);
    assert.equal(one({ ...base, 'kibana.alert.severity': 'CRITICAL', 'kibana.alert.risk_score': 1 }).severity, 5);
    // An unknown word falls back to the score.
    assert.equal(one({ ...base, 'kibana.alert.severity': 'urgent', 'kibana.alert.risk_score': 48 }).severity, 4);
  });
});
