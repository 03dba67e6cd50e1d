import assert from 'node:assert/strict';
import { numberSetting, SettingsParser } from '../../../nodes/shared/settings';

describe('strict numeric node settings', function () {
  const rule = { default: 100, min: 0, integer: true };
  it('blank or absent is the documented default; a valid value is kept, 0 included', function () {
    assert.deepEqual(numberSetting('max', '', rule), { ok: true, value: 100 });
    assert.deepEqual(numberSetting('max', undefined, rule), { ok: true, value: 100 });
    assert.deepEqual(numberSetting('max', ' 0 ', rule), { ok: true, value: 0 });
    assert.deepEqual(numberSetting('max', 25, rule), { ok: true, value: 25 });
  });
  it('negative, non-numeric, fractional where whole is needed, or at an exclusive minimum is an error naming the setting', function () {
    assert.deepEqual(numberSetting('max', '-5', rule), { ok: false, error: 'max must be ≥ 0, got "-5"' });
    assert.deepEqual(numberSetting('max', 'abc', rule), { ok: false, error: 'max must be a whole number ≥ 0, got "abc"' });
    assert.deepEqual(numberSetting('max', '2.5', rule), { ok: false, error: 'max must be a whole number ≥ 0, got "2.5"' });
    assert.deepEqual(numberSetting('days', 0, { default: 7, min: 0, exclusiveMin: true }), { ok: false, error: 'days must be > 0, got 0' });
  });
  it('SettingsParser collects every error', function () {
    const p = new SettingsParser();
    p.number('a', 'x', rule);
    p.number('b', '3', rule);
    p.number('c', '-1', rule);
    assert.equal(p.errors.length, 2);
  });
});
