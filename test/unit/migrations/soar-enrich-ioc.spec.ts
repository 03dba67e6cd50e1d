import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { migrations } from '../../../nodes/shared/migrations';

const root = path.resolve(__dirname, '..', '..', '..');
type Config = Record<string, unknown>;

describe('config migrations: soar-enrich-ioc', function () {
  it('is at version 1', function () {
    assert.equal(migrations().currentVersion('soar-enrich-ioc'), 1);
  });

  it('0 -> 1: the old sources array goes into the slots in its order, and the array is emptied', function () {
    const { config, changed } = migrations().migrate<Config>({ id: 'e', type: 'soar-enrich-ioc', sources: ['a', 'b', 'c'], malicious: 70 });
    assert.equal(changed, true);
    assert.deepEqual(
      [1, 2, 3, 4].map((i) => config[`source${i}`]),
      ['a', 'b', 'c', undefined],
    );
    assert.deepEqual(config.sources, []);
    assert.equal(config.malicious, 70);
    assert.equal(config.configVersion, 1);
  });

  it('0 -> 1 keeps slots already set, fills the free ones, and does not repeat an id', function () {
    const { config } = migrations().migrate<Config>({ id: 'e', type: 'soar-enrich-ioc', source1: 'a', source3: 'x', sources: ['a', 'b', 'c', '', 7] });
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((i) => config[`source${i}`]),
      ['a', 'b', 'x', 'c', undefined],
    );
    assert.deepEqual(config.sources, []);
  });

  it('0 -> 1 loses no source: ids beyond the eighth slot stay in the array (the runtime reads them)', function () {
    const ids = Array.from({ length: 10 }, (_, i) => `s${i + 1}`);
    const { config } = migrations().migrate<Config>({ id: 'e', type: 'soar-enrich-ioc', sources: ids });
    assert.deepEqual(
      Array.from({ length: 8 }, (_, i) => config[`source${i + 1}`]),
      ids.slice(0, 8),
    );
    assert.deepEqual(config.sources, ['s9', 's10']);
  });

  it('0 -> 1 leaves a node saved with slots only as it was (but for the version)', function () {
    const saved = { id: 'e', type: 'soar-enrich-ioc', source1: 'a', source2: 'b', sources: [] };
    const { config } = migrations().migrate<Config>(saved);
    assert.deepEqual(config, { ...saved, configVersion: 1 });
  });

  it('the quickstart saved by release 0.1.0 (unchanged fixture): its three sources land in slots 1-3', function () {
    const flow = JSON.parse(fs.readFileSync(path.join(root, 'test', 'fixtures', 'flows', 'Quickstart playbook.json'), 'utf8')) as Config[];
    const saved = flow.find((n) => n.type === 'soar-enrich-ioc')!;
    assert.deepEqual(saved.sources, ['soar-quickstart-feed', 'soar-quickstart-kev', 'soar-quickstart-epss'], 'the fixture has the old array');
    const { config } = migrations().migrate<Config>(saved);
    assert.deepEqual(config, {
      ...saved,
      sources: [],
      source1: 'soar-quickstart-feed',
      source2: 'soar-quickstart-kev',
      source3: 'soar-quickstart-epss',
      configVersion: 1,
    });
  });

  it('the shipped quickstart is already current', function () {
    const flow = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'Quickstart playbook.json'), 'utf8')) as Config[];
    const enrich = flow.find((n) => n.type === 'soar-enrich-ioc')!;
    assert.equal(migrations().migrate(enrich).changed, false, JSON.stringify(enrich));
  });
});
