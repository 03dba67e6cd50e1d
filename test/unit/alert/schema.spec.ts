/** The published JSON Schema and validateAlert(). */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { alertSchema, normalise, validateAlert, type NormalisedAlert } from '../../../lib/alert';
import { sampleJson } from './helpers';

function valid(): NormalisedAlert {
  return normalise([sampleJson('samples', 'wazuh', 'sshd-bruteforce.json')]).alerts[0];
}

describe('alert schema', () => {
  it('is the published file: draft-07 with an $id and described fields', () => {
    const file = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../schema/soar-alert.schema.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(alertSchema, file);
    assert.equal(file.$schema, 'http://json-schema.org/draft-07/schema#');
    assert.match(String(file.$id), /^https:\/\//);
    const props = file.properties as Record<string, { title?: string; description?: string }>;
    for (const name of ['id', 'fingerprint', 'time', 'severity', 'observables', 'raw']) assert.ok(props[name].title, `${name} has a title`);
  });

  it('accepts a normalised alert', () => {
    assert.deepEqual(validateAlert(valid()), []);
  });

  it('reports a hand-broken alert with the failing field', () => {
    const cases: [(a: Record<string, any>) => void, string][] = [
      [(a) => (a.source.port = 70000), 'source.port: must be <= 65535'],
      [(a) => (a.source.ip = '999.1.1.1'), 'source.ip: must be an IPv4 or IPv6 address'],
      [(a) => (a.severity = 7), 'severity: must be <= 6'],
      [(a) => (a.status = 'open'), 'status: must be one of "firing", "resolved"'],
      [(a) => delete a.fingerprint, 'fingerprint: is required'],
      [(a) => (a.observables[0].type = 'mac'), 'observables[0].type: must be one of'],
      [(a) => (a.host.extra = 1), 'host.extra: is not allowed'],
      [(a) => (a.time = '20 Nov 2026'), 'time: must match format "date-time"'],
      [(a) => (a.schema = 'soar.alert/2'), 'schema: must be "soar.alert/1"'],
      [(a) => (a.file = { hash: { md5: 'xyz' } }), 'file.hash.md5: must match pattern'],
    ];
    for (const [breakIt, message] of cases) {
      const alert = structuredClone(valid()) as Record<string, any>;
      breakIt(alert);
      const errors = validateAlert(alert);
      assert.equal(errors.length, 1);
      assert.ok(errors[0].startsWith(message), `${errors[0]} should start with ${message}`);
    }
  });

  it('rejects values that are not alerts at all', () => {
    for (const value of [null, 42, 'alert', [], {}]) assert.ok(validateAlert(value).length > 0, JSON.stringify(value));
  });
});
