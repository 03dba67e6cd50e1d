import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { migrations } from '../../../nodes/shared/migrations';

const root = path.resolve(__dirname, '..', '..', '..');

describe('config migrations: soar-block-ip', function () {
  it('0 -> 1: a node saved before the condition existed acts on every message, as it did (condition off)', function () {
    const { config } = migrations().migrate<Record<string, unknown>>({
      id: 'b',
      type: 'soar-block-ip',
      action: 'block',
      target: 'alert.source.ip',
      targetType: 'msg',
    });
    assert.equal(config.gate, 'off');
    assert.equal(config.target, 'alert.source.ip');
    assert.equal(config.targetType, 'msg');
  });

  it('0 -> 1 keeps a condition a version-0 config already carries (a hand-edited flow)', function () {
    const { config } = migrations().migrate<Record<string, unknown>>({ id: 'b', type: 'soar-block-ip', gate: 'suspicious' });
    assert.equal(config.gate, 'suspicious');
    assert.equal(config.configVersion, 1);
  });

  it('the quickstart saved by release 0.1.0 migrates: its block node only by gate off + configVersion 1, the nodes of unversioned types not at all', function () {
    const flow = JSON.parse(fs.readFileSync(path.join(root, 'test', 'fixtures', 'flows', 'Quickstart playbook.json'), 'utf8')) as Record<string, unknown>[];
    for (const node of flow) {
      const result = migrations().migrate(node);
      if (node.type === 'soar-block-ip') {
        assert.equal(result.changed, true);
        assert.deepEqual(result.config, { ...node, gate: 'off', configVersion: 1 });
      } else if (node.type === 'soar-enrich-ioc') {
        // Versioned too: its own steps are checked in soar-enrich-ioc.spec.ts.
        assert.equal(result.changed, true);
      } else {
        assert.equal(result.changed, false, `${String(node.type)} unchanged`);
      }
    }
  });

  it('the shipped quickstart is already current (nothing to migrate) and has the condition on, acting on accused addresses', function () {
    const flow = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'Quickstart playbook.json'), 'utf8')) as Record<string, unknown>[];
    const block = flow.find((n) => n.type === 'soar-block-ip')!;
    assert.equal(migrations().migrate(block).changed, false);
    assert.equal(block.gate, 'malicious');
    assert.equal(block.targetType, 'accused');
  });
});
