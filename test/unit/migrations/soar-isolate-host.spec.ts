import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { migrations } from '../../../nodes/shared/migrations';

const root = path.resolve(__dirname, '..', '..', '..');

describe('config migrations: soar-isolate-host and soar-edr (version 1 from the start)', function () {
  it('a version-0 isolate node (written by hand) gets the defaults of a new node, the condition on', function () {
    const { config, to } = migrations().migrate<Record<string, unknown>>({ id: 'i', type: 'soar-isolate-host', edr: 'e' });
    assert.equal(to, 1);
    assert.deepEqual(
      [config.gate, config.action, config.target, config.targetType, config.configVersion],
      ['malicious', 'isolate', 'alert.host.name', 'msg', 1],
    );
  });

  it('keeps what a version-0 config already says', function () {
    const { config } = migrations().migrate<Record<string, unknown>>({
      id: 'i',
      type: 'soar-isolate-host',
      gate: 'off',
      action: 'release',
      target: 'host',
      targetType: 'flow',
    });
    assert.deepEqual([config.gate, config.action, config.target, config.targetType], ['off', 'release', 'host', 'flow']);
  });

  it('new nodes are saved at the current version, so nothing migrates and no "newer" warning is given', function () {
    for (const [type, file] of [
      ['soar-isolate-host', 'isolate-host.html'],
      ['soar-edr', 'edr.html'],
    ]) {
      const html = fs.readFileSync(path.join(root, 'nodes', file), 'utf8');
      assert.match(html, /configVersion: \{ value: 1 \}/, file);
      assert.match(html, new RegExp(`migrations/${type}\\.js`), file);
      const result = migrations().migrate({ id: 'x', type, configVersion: 1 });
      assert.equal(result.changed, false, type);
      assert.equal(result.newer, undefined, type);
    }
  });
});
