/** Value readers of lib/alert/values.ts at their edges: time fields, offsets, ports, string bounds. */
import assert from 'node:assert/strict';
import { boundedString, toIsoTime, toPort, truncatedString } from '../../../lib/alert/values';

describe('alert value readers at their edges', () => {
  it('time: each calendar and clock field at its last valid value and one past it', () => {
    const table: [string, string | undefined][] = [
      ['2026-12-31T23:59:59Z', '2026-12-31T23:59:59.000Z'],
      ['2026-01-01T00:00:00Z', '2026-01-01T00:00:00.000Z'],
      ['2026-00-10T00:00:00Z', undefined],
      ['2026-13-10T00:00:00Z', undefined],
      ['2026-01-00T00:00:00Z', undefined],
      ['2026-01-32T00:00:00Z', undefined],
      ['2026-02-30T00:00:00Z', undefined],
      ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
      ['2026-01-01T24:00:00Z', undefined],
      ['2026-01-01T00:60:00Z', undefined],
      ['2026-01-01T00:00:60Z', '2026-01-01T00:00:59.000Z'],
      ['2026-01-01T00:00:61Z', undefined],
      ['0000-01-01T00:00:00Z', undefined],
      ['0050-01-01T00:00:00Z', '0050-01-01T00:00:00.000Z'],
    ];
    for (const [text, iso] of table) assert.equal(toIsoTime(text), iso, text);
  });

  it('time: fractions, offsets with and without a colon or minutes, zone words, date only', () => {
    const table: [string, string | undefined][] = [
      ['2026-01-01T00:00:00.1Z', '2026-01-01T00:00:00.100Z'],
      ['2026-01-01T00:00:00,123456789Z', '2026-01-01T00:00:00.123Z'],
      ['2026-01-01T10:00:00+01:00', '2026-01-01T09:00:00.000Z'],
      ['2026-01-01T10:00:00-0530', '2026-01-01T15:30:00.000Z'],
      ['2026-01-01T10:00:00+01', '2026-01-01T09:00:00.000Z'],
      ['2026-01-01T10:00:00+23:59', '2025-12-31T10:01:00.000Z'],
      ['2026-01-01T10:00:00+24:00', undefined],
      ['2026-01-01T10:00:00+01:60', undefined],
      ['2026-01-01T10:00:00 UTC', '2026-01-01T10:00:00.000Z'],
      ['2026-01-01 10:00', '2026-01-01T10:00:00.000Z'],
      ['2026-01-01', '2026-01-01T00:00:00.000Z'],
      ['  ', undefined],
      [`2026-01-01T10:00:00${' '.repeat(60)}Z`, undefined],
    ];
    for (const [text, iso] of table) assert.equal(toIsoTime(text), iso, text);
  });

  it('time: epoch numbers and numeric strings by magnitude, the first of an array', () => {
    assert.equal(toIsoTime(1763806500), '2025-11-22T10:15:00.000Z');
    assert.equal(toIsoTime('1763806500.5'), '2025-11-22T10:15:00.500Z');
    assert.equal(toIsoTime([1763806500000, 0]), '2025-11-22T10:15:00.000Z');
    assert.equal(toIsoTime(1e20), '5138-11-16T09:46:40.000Z');
    assert.equal(toIsoTime(true), undefined);
  });

  it('ports: 0..65535 from integers or digit strings, nothing else', () => {
    const table: [unknown, number | undefined][] = [
      [0, 0],
      [65535, 65535],
      [65536, undefined],
      [-1, undefined],
      [1.5, undefined],
      ['22', 22],
      [' 22 ', 22],
      ['22a', undefined],
      ['0x16', undefined],
      ['123456', undefined],
      [['443', '80'], 443],
      [null, undefined],
    ];
    for (const [value, port] of table) assert.equal(toPort(value), port, JSON.stringify(value));
  });

  it('bounded strings: trimmed, numbers as text, too long dropped (a huge one before it is trimmed)', () => {
    assert.equal(boundedString(' ab ', 2), 'ab');
    assert.equal(boundedString('abc', 2), undefined);
    assert.equal(boundedString(7, 2), '7');
    assert.equal(boundedString(Infinity, 9), undefined);
    assert.equal(boundedString(['x'], 3), 'x');
    assert.equal(boundedString(`a${' '.repeat(30)}`, 2), undefined, 'over twice the bound plus slack is not even trimmed');
    assert.equal(boundedString(`a${' '.repeat(19)}`, 2), 'a', 'within the slack it is trimmed');
    assert.equal(boundedString('   ', 2), undefined);
  });

  it('truncated strings: cut with an ellipsis inside the bound, never through a surrogate pair', () => {
    assert.equal(truncatedString('abcd', 4), 'abcd');
    assert.equal(truncatedString('abcdef', 4), 'abc…');
    assert.equal(truncatedString('ab\u{1F600}cdef', 4), 'ab…');
    assert.equal(truncatedString('a\u{1F600}cdef', 4), 'a\u{1F600}…');
    assert.equal(truncatedString('  x  ', 4), 'x');
    assert.equal(truncatedString(12345, 3), '12…');
    assert.equal(truncatedString(' ', 3), undefined);
    assert.equal(truncatedString(NaN, 3), undefined);
    assert.equal(truncatedString(`${'a'.repeat(20)}   `, 9), 'aaaaaaaa…');
    assert.equal(truncatedString(`   ${'b'.repeat(3)}`, 3), 'bbb', 'a string under twice the bound is trimmed whole');
  });
});
