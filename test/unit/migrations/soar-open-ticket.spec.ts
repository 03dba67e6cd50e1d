import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { migrations } from '../../../nodes/shared/migrations';

const root = path.resolve(__dirname, '..', '..', '..');

describe('config migrations: soar-open-ticket', function () {
  it('0 -> 1: a node without a version (written by hand) gets the documented defaults', function () {
    const { config, from, to } = migrations().migrate<Record<string, unknown>>({ id: 'o', type: 'soar-open-ticket', ticketing: 't' });
    assert.deepEqual([from, to], [0, 1]);
    assert.deepEqual(
      [config.incident, config.incidentType, config.coalesceMinutes, config.closedPolicy, config.configVersion],
      ['alert.fingerprint', 'msg', 5, 'link', 1],
    );
  });

  it('0 -> 1 keeps what a version-0 config sets', function () {
    const { config } = migrations().migrate<Record<string, unknown>>({
      id: 'o',
      type: 'soar-open-ticket',
      incident: 'alert.source.ip',
      incidentType: 'msg',
      coalesceMinutes: 0,
      closedPolicy: 'comment',
    });
    assert.deepEqual([config.incident, config.coalesceMinutes, config.closedPolicy], ['alert.source.ip', 0, 'comment']);
  });

  it('the shipped quickstart open-ticket node is current', function () {
    const flow = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'Quickstart playbook.json'), 'utf8')) as Record<string, unknown>[];
    const node = flow.find((n) => n.type === 'soar-open-ticket')!;
    assert.equal(migrations().migrate(node).changed, false);
  });
});
