import assert from 'node:assert/strict';
import { migrateConfig, migrations } from '../../../nodes/shared/migrations';

describe('config migrations: core', function () {
  it('knows each registered type by its current version; unregistered types are version 0', function () {
    assert.equal(migrations().currentVersion('soar-block-ip'), 1);
    assert.equal(migrations().currentVersion('soar-not-a-type'), 0);
  });

  it('migrates a config without a version (saved before versioning) through every step, without changing the original', function () {
    const saved = { id: 'b1', type: 'soar-block-ip', target: 'alert.source.ip', targetType: 'msg', ttl: 1 };
    const result = migrations().migrate(saved);
    assert.deepEqual(result, { config: { ...saved, gate: 'off', configVersion: 1 }, from: 0, to: 1, changed: true });
    assert.equal((saved as Record<string, unknown>).configVersion, undefined, 'migrate() copies');
  });

  it('leaves a current config, an unknown type and a config from a newer release as they are', function () {
    const current = { id: 'b2', type: 'soar-block-ip', configVersion: 1, gate: 'malicious' };
    assert.equal(migrations().migrate(current).changed, false);
    assert.equal(migrations().migrate({ id: 'x', type: 'debug' }).changed, false);
    const newer = { id: 'b3', type: 'soar-block-ip', configVersion: 7, gate: 'something-new' };
    const result = migrations().migrate(newer);
    assert.equal(result.changed, false);
    assert.equal(result.newer, true);
    const warnings: string[] = [];
    assert.equal(
      migrateConfig(newer, (m) => warnings.push(m)),
      newer,
    );
    assert.match(warnings[0], /newer than this release knows/);
  });

  it('migrateConfig changes the runtime config in place, keeping properties a copy would lose', function () {
    const saved: Record<string, unknown> = { id: 'b4', type: 'soar-block-ip', target: 'alert.source.ip' };
    const flow = {};
    Object.defineProperty(saved, '_flow', { value: flow, enumerable: false });
    const out = migrateConfig(saved);
    assert.equal(out, saved);
    assert.equal(out._flow, flow);
    assert.equal(out.gate, 'off');
    assert.equal(out.configVersion, 1);
  });
});
