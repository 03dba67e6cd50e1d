/**
 * Golden tests: every sample under test/fixtures/samples{,-extra}/<format>/ normalised (auto-detected and
 * with the format fixed) and compared with expected/<format>/<same name>.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { detectFormat, normalise, parseBody, validateAlert, type AlertFormat, type NormalisedAlert } from '../../../lib/alert';
import { at, goldenCases, type ExpectedAlert } from './helpers';

const RECEIVED = new Date('2026-11-23T00:00:00.000Z');

function check(alerts: NormalisedAlert[], expected: { count: number; alerts: ExpectedAlert[] }): void {
  assert.equal(alerts.length, expected.count, 'number of alerts');
  expected.alerts.forEach((want, i) => {
    const got = alerts[i];
    for (const [pathText, value] of Object.entries(want)) {
      if (pathText === 'observables_include') continue;
      assert.deepEqual(at(got, pathText), value, `alert ${i} ${pathText}`);
    }
    for (const obs of want.observables_include ?? []) {
      const found = got.observables.some((o) => o.type === obs.type && o.value === obs.value && (obs.field === undefined || o.field === obs.field));
      assert.ok(found, `alert ${i} lacks observable ${JSON.stringify(obs)}; has ${JSON.stringify(got.observables)}`);
    }
    assert.deepEqual(validateAlert(got), [], `alert ${i} validates against the schema`);
  });
}

describe('alert golden samples', () => {
  const cases = goldenCases();

  it('finds the shipped samples', () => {
    const formats = new Set(cases.map((c) => c.format));
    for (const f of ['wazuh', 'suricata', 'elastic', 'alertmanager', 'splunk', 'graylog', 'crowdsec', 'msgraph', 'ocsf', 'generic']) {
      assert.ok(formats.has(f), `a sample for ${f}`);
    }
  });

  for (const c of cases) {
    describe(`${c.root}/${c.format}/${c.name}`, () => {
      const body = fs.readFileSync(c.samplePath);

      it('auto-detects the format', () => {
        const items = parseBody(body, 'application/json');
        assert.equal(detectFormat(items[0]), c.format);
        const result = normalise(items, { received: RECEIVED });
        assert.deepEqual(result.ignored, []);
        check(result.alerts, c.expected);
      });

      it('normalises with the format fixed', () => {
        const result = normalise(parseBody(body, 'application/json'), { format: c.format as AlertFormat, received: RECEIVED });
        check(result.alerts, c.expected);
      });

      it('keeps the original item as raw and is stable across deliveries', () => {
        const first = normalise(parseBody(body), { received: RECEIVED }).alerts;
        const again = normalise(parseBody(body), { received: new Date('2026-11-24T00:00:00.000Z') }).alerts;
        assert.deepEqual(
          again.map((a) => [a.id, a.fingerprint]),
          first.map((a) => [a.id, a.fingerprint]),
        );
        for (const a of first) {
          assert.equal(typeof a.raw, 'object');
          assert.notEqual(a.raw, null);
          assert.equal(a.received, RECEIVED.toISOString());
        }
      });
    });
  }
});
