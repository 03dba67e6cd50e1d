import assert from 'node:assert/strict';
import { migrations } from '../../../nodes/shared/migrations';

type Config = Record<string, unknown>;

describe('config migrations: soar-wait-approval', function () {
  it('is at version 2', function () {
    assert.equal(migrations().currentVersion('soar-wait-approval'), 2);
  });

  it('1 -> 2: a version 1 node with an empty channels array loads unchanged but for the version', function () {
    const saved = {
      id: 'w',
      type: 'soar-wait-approval',
      configVersion: 1,
      approvers: 'alice: editor:alice',
      quorum: 1,
      timeout: 60,
      onTimeout: 'deny',
      fields: 'alert.source.ip',
      channels: [],
    };
    const { config, changed, from, to } = migrations().migrate<Config>(saved);
    assert.equal(changed, true);
    assert.deepEqual([from, to], [1, 2]);
    assert.deepEqual(config, { ...saved, configVersion: 2 });
  });

  it('1 -> 2: channel ids go into the slots in order; ids beyond the fourth stay in the array', function () {
    const { config } = migrations().migrate<Config>({ id: 'w', type: 'soar-wait-approval', configVersion: 1, channels: ['a', 'b', '', 'a', 7, 'c', 'd', 'e'] });
    assert.deepEqual(
      [1, 2, 3, 4].map((i) => config[`channel${i}`]),
      ['a', 'b', 'c', 'd'],
    );
    assert.deepEqual(config.channels, ['e']);
  });

  it('1 -> 2 keeps slots already set and fills the free ones', function () {
    const { config } = migrations().migrate<Config>({ id: 'w', type: 'soar-wait-approval', configVersion: 1, channel2: 'x', channels: ['x', 'y'] });
    assert.deepEqual(
      [1, 2, 3, 4].map((i) => config[`channel${i}`]),
      ['y', 'x', undefined, undefined],
    );
    assert.deepEqual(config.channels, []);
  });

  it('1 -> 2: blank quorum and timeout (their runtime defaults) are written as 1 and 60; set ones are kept', function () {
    const blank = migrations().migrate<Config>({ id: 'w', type: 'soar-wait-approval', configVersion: 1, quorum: '', channels: [] }).config;
    assert.equal(blank.quorum, 1);
    assert.equal(blank.timeout, 60);
    const set = migrations().migrate<Config>({ id: 'w', type: 'soar-wait-approval', configVersion: 1, quorum: '2', timeout: 5 }).config;
    assert.equal(set.quorum, '2');
    assert.equal(set.timeout, 5);
  });

  it('0 -> 2: a node without a version gets the defaults and the slots', function () {
    const { config } = migrations().migrate<Config>({ id: 'w', type: 'soar-wait-approval', channels: ['m'] });
    assert.equal(config.onTimeout, 'deny');
    assert.equal(config.fields, 'alert.source.ip');
    assert.equal(config.channel1, 'm');
    assert.equal(config.configVersion, 2);
  });
});
