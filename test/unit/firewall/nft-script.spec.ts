import assert from 'node:assert/strict';
import { ProviderError } from '../../../lib/core/errors';
import {
  blockScript,
  checkTableName,
  deleteScript,
  findConflicts,
  MAX_TTL_SECONDS,
  parseCounters,
  parseSetElements,
  parseSetMembers,
  parseTableState,
  prepareBlockTargets,
  prepareUnblockAddresses,
  sanitiseComment,
  setupScript,
  unblockScript,
  type NftLayout,
} from '../../../lib/firewall/nft-script';
import { FULL_TABLE_JSON, TERSE_TABLE_JSON } from './nft-fixtures';

const layout: NftLayout = { table: 'soar', chains: ['input', 'forward'], priority: -10 };

function rejectsWith(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ProviderError, `expected a ProviderError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
}

describe('nft-script: preparing targets', () => {
  it('canonicalises, keeps ttl and comment, and merges duplicates (last wins)', () => {
    const elements = prepareBlockTargets([
      { address: '198.18.5.1', ttlSeconds: 60 },
      { address: '::ffff:198.18.5.2', ttlSeconds: 1.2, comment: 'alert 42' },
      { address: '2001:0002::0001/128' },
      { address: '198.18.6.77/28' },
      { address: '198.18.5.1/32', ttlSeconds: 3600 },
    ]);
    assert.deepEqual(
      elements.map((e) => [e.target.canonical, e.ttlSeconds, e.comment]),
      [
        ['198.18.5.2', 2, 'alert 42'],
        ['2001:2::1', undefined, undefined],
        ['198.18.6.64/28', undefined, undefined],
        ['198.18.5.1', 3600, undefined],
      ],
    );
  });

  it('throws before anything runs on an invalid address, ttl or shape', () => {
    rejectsWith(() => prepareBlockTargets([{ address: '198.18.5.1 timeout 1s, 0.0.0.0/0' }]), 'BAD_REQUEST', /refused before running nft/);
    rejectsWith(() => prepareBlockTargets([{ address: '127.1' }]), 'BAD_REQUEST', /not a valid/);
    rejectsWith(() => prepareBlockTargets([{ address: '198.18.5.1', ttlSeconds: 0 }]), 'BAD_REQUEST', /positive number/);
    rejectsWith(() => prepareBlockTargets([{ address: '198.18.5.1', ttlSeconds: Number.NaN }]), 'BAD_REQUEST', /positive number/);
    rejectsWith(() => prepareBlockTargets([{ address: '198.18.5.1', ttlSeconds: MAX_TTL_SECONDS + 1 }]), 'BAD_REQUEST', /one year/);
    rejectsWith(() => prepareBlockTargets('198.18.5.1' as never), 'BAD_REQUEST', /array/);
    rejectsWith(() => prepareBlockTargets([null as never]), 'BAD_REQUEST', /object/);
    rejectsWith(() => prepareUnblockAddresses(['198.18.5.1', 'nope']), 'BAD_REQUEST', /"nope"/);
  });

  it('refuses targets that overlap each other within a batch', () => {
    rejectsWith(
      () => prepareBlockTargets([{ address: '198.18.5.0/24' }, { address: '198.18.9.9' }, { address: '198.18.5.64/26' }]),
      'CONFLICT',
      /198\.18\.5\.0\/24 overlaps 198\.18\.5\.64\/26/,
    );
    rejectsWith(() => prepareBlockTargets([{ address: '2001:2::/64' }, { address: '2001:2::/56' }]), 'CONFLICT', /2001:2::\/56 overlaps 2001:2::\/64/);
    // A single address lives in its own set: it may sit inside a blocked prefix.
    assert.equal(prepareBlockTargets([{ address: '198.18.5.0/24' }, { address: '198.18.5.7' }]).length, 2);
    // Same numbers in different families do not overlap.
    assert.equal(prepareBlockTargets([{ address: '0.0.0.0/31' }, { address: '::/127' }]).length, 2);
    // Adjacent ranges do not overlap.
    assert.equal(prepareBlockTargets([{ address: '198.18.5.0/25' }, { address: '198.18.5.128/25' }]).length, 2);
  });

  it('reduces comments to characters that cannot break out of the quoted string', () => {
    assert.equal(sanitiseComment('alert "x" }; flush ruleset\n#'), 'alert _x_ __ flush ruleset__');
    assert.equal(sanitiseComment('   '), undefined);
    assert.equal(sanitiseComment(42), undefined);
    assert.equal(sanitiseComment('a'.repeat(500))!.length, 100);
  });

  it('accepts only identifier-like table names', () => {
    assert.equal(checkTableName('soar_test1'), 'soar_test1');
    for (const bad of ['', '1soar', 'soar;', 'so ar', 'a'.repeat(33)]) rejectsWith(() => checkTableName(bad), 'BAD_REQUEST', /table name/);
  });
});

describe('nft-script: scripts', () => {
  it('writes a block batch as add / delete / add per set, so a re-block replaces the timeout', () => {
    const script = blockScript(
      layout,
      prepareBlockTargets([
        { address: '198.18.5.1', ttlSeconds: 3600, comment: 'case 7' },
        { address: '2001:2::1', ttlSeconds: 60 },
        { address: '198.18.6.0/28' },
      ]),
    );
    assert.equal(
      script,
      [
        'add element inet soar blocked4 { 198.18.5.1 }',
        'delete element inet soar blocked4 { 198.18.5.1 }',
        'add element inet soar blocked4 { 198.18.5.1 timeout 3600s comment "case 7" }',
        'add element inet soar blocked4_nets { 198.18.6.0/28 }',
        'delete element inet soar blocked4_nets { 198.18.6.0/28 }',
        'add element inet soar blocked4_nets { 198.18.6.0/28 }',
        'add element inet soar blocked6 { 2001:2::1 }',
        'delete element inet soar blocked6 { 2001:2::1 }',
        'add element inet soar blocked6 { 2001:2::1 timeout 60s }',
        '',
      ].join('\n'),
    );
  });

  it('splits big batches into lines of 500 elements inside one script', () => {
    const targets = Array.from({ length: 1201 }, (_, i) => ({ address: `198.18.${Math.floor(i / 256)}.${i % 256}`, ttlSeconds: 10 }));
    const lines = blockScript(layout, prepareBlockTargets(targets)).trim().split('\n');
    assert.equal(lines.length, 9); // 3 steps x 3 chunks
    assert.deepEqual(
      lines.map((l) => l.split(' ')[0]),
      ['add', 'add', 'add', 'delete', 'delete', 'delete', 'add', 'add', 'add'],
    );
    const elementsPerLine = lines.map((l) => l.slice(l.indexOf('{') + 1, l.lastIndexOf('}')).split(',').length);
    assert.deepEqual(elementsPerLine, [500, 500, 201, 500, 500, 201, 500, 500, 201]);
    assert.match(lines[8], /198\.18\.4\.176 timeout 10s }$/);
  });

  it('writes unblock as add-then-delete, and delete alone for the fallback', () => {
    const targets = prepareUnblockAddresses(['198.18.5.1', '2001:2::/64', '198.18.5.1']);
    assert.equal(
      unblockScript(layout, targets),
      'add element inet soar blocked4 { 198.18.5.1 }\ndelete element inet soar blocked4 { 198.18.5.1 }\n' +
        'add element inet soar blocked6_nets { 2001:2::/64 }\ndelete element inet soar blocked6_nets { 2001:2::/64 }\n',
    );
    assert.equal(deleteScript(layout, targets), 'delete element inet soar blocked4 { 198.18.5.1 }\ndelete element inet soar blocked6_nets { 2001:2::/64 }\n');
  });

  it('sets everything up from nothing', () => {
    assert.equal(
      setupScript({ table: 'soar', chains: ['input'], priority: -10 }, undefined),
      [
        'add table inet soar',
        'add set inet soar blocked4 { type ipv4_addr; flags timeout; }',
        'add set inet soar blocked4_nets { type ipv4_addr; flags interval, timeout; }',
        'add set inet soar blocked6 { type ipv6_addr; flags timeout; }',
        'add set inet soar blocked6_nets { type ipv6_addr; flags interval, timeout; }',
        'add chain inet soar input { type filter hook input priority -10; policy accept; }',
        'add rule inet soar input ip saddr @blocked4 counter drop',
        'add rule inet soar input ip saddr @blocked4_nets counter drop',
        'add rule inet soar input ip6 saddr @blocked6 counter drop',
        'add rule inet soar input ip6 saddr @blocked6_nets counter drop',
        '',
      ].join('\n'),
    );
  });

  it('adds only the rules that are missing when the table exists', () => {
    const state = parseTableState(TERSE_TABLE_JSON, 'soar');
    // The fixture has all four rules in input and only the blocked4 one in forward.
    const script = setupScript(layout, state);
    const rules = script.split('\n').filter((l) => l.startsWith('add rule'));
    assert.deepEqual(rules, [
      'add rule inet soar forward ip saddr @blocked4_nets counter drop',
      'add rule inet soar forward ip6 saddr @blocked6 counter drop',
      'add rule inet soar forward ip6 saddr @blocked6_nets counter drop',
    ]);
    assert.match(script, /^add table inet soar$/m);
    assert.doesNotMatch(script, /flush|delete/);
  });

  it('refuses to build on an incompatible existing set or chain', () => {
    const state = parseTableState(TERSE_TABLE_JSON, 'soar');
    state.sets.set('blocked4_nets', { type: 'ipv4_addr', flags: ['timeout'] });
    assert.throws(() => setupScript(layout, state), /blocked4_nets exists as type ipv4_addr flags \[timeout\]; expected ipv4_addr with interval, timeout/);
    const wrongType = parseTableState(TERSE_TABLE_JSON, 'soar');
    wrongType.sets.set('blocked6', { type: 'ipv4_addr', flags: ['timeout'] });
    assert.throws(() => setupScript(layout, wrongType), /blocked6 exists as type ipv4_addr/);
    const otherState = parseTableState(TERSE_TABLE_JSON, 'soar');
    otherState.chains.get('input')!.hook = 'output';
    assert.throws(() => setupScript(layout, otherState), /chain soar input exists with hook output/);
  });
});

describe('nft-script: reading nft -j output', () => {
  it('parses plain, prefix and range elements, with and without timeout', () => {
    assert.deepEqual(parseSetElements(FULL_TABLE_JSON, 'soar'), [
      { address: '198.18.5.1', expiresInSeconds: 3599, comment: 'hello' },
      { address: '198.18.9.9' },
      { address: '198.18.6.0/28', expiresInSeconds: 99 },
      { address: '198.18.7.1-198.18.7.9' },
      { address: '198.18.70.1-198.18.70.5', expiresInSeconds: 59, comment: 'r' },
      { address: '2001:2::1', expiresInSeconds: 59 },
      { address: '2001:2:1::/64' },
    ]);
  });

  it('ignores other tables and sets, and copes with empty sets', () => {
    assert.deepEqual(parseSetElements(FULL_TABLE_JSON, 'other'), []);
    assert.deepEqual(parseSetElements(TERSE_TABLE_JSON, 'soar'), []);
  });

  it('reads the drop-rule counters', () => {
    assert.deepEqual(parseCounters(FULL_TABLE_JSON, 'soar'), [
      { chain: 'input', set: 'blocked4', family: 4, packets: 12, bytes: 720 },
      { chain: 'input', set: 'blocked4_nets', family: 4, packets: 5, bytes: 300 },
      { chain: 'input', set: 'blocked6', family: 6, packets: 3, bytes: 240 },
      { chain: 'input', set: 'blocked6_nets', family: 6, packets: 0, bytes: 0 },
    ]);
  });

  it('reports output that is not nft JSON', () => {
    assert.throws(() => parseSetElements('Error: oops', 'soar'), /not JSON/);
    assert.throws(() => parseSetElements('{"x": 1}', 'soar'), /no "nftables" array/);
  });
});

describe('nft-script: conflicts with existing elements', () => {
  it('names interval-set elements that overlap a prefix target, but not the same element', () => {
    const members = parseSetMembers(FULL_TABLE_JSON, 'soar');
    assert.deepEqual(
      members.map((m) => `${m.set.name} ${m.block.address}`),
      [
        'blocked4 198.18.5.1',
        'blocked4 198.18.9.9',
        'blocked4_nets 198.18.6.0/28',
        'blocked4_nets 198.18.7.1-198.18.7.9',
        'blocked4_nets 198.18.70.1-198.18.70.5',
        'blocked6 2001:2::1',
        'blocked6_nets 2001:2:1::/64',
      ],
    );
    const intervalElements = members.filter((m) => m.set.interval).map((m) => m.block);
    const targets = prepareUnblockAddresses([
      '198.18.6.0/24',
      '198.18.7.4/30',
      '198.18.6.0/28',
      '198.18.7.5',
      '2001:2:1::/96',
      '198.18.0.0/16',
      '198.18.8.0/24',
    ]);
    assert.deepEqual(findConflicts(targets, intervalElements), [
      { target: '198.18.6.0/24', existing: '198.18.6.0/28' },
      { target: '198.18.7.4/30', existing: '198.18.7.1-198.18.7.9' },
      { target: '2001:2:1::/96', existing: '2001:2:1::/64' },
      { target: '198.18.0.0/16', existing: '198.18.6.0/28' },
      { target: '198.18.0.0/16', existing: '198.18.7.1-198.18.7.9' },
      { target: '198.18.0.0/16', existing: '198.18.70.1-198.18.70.5' },
    ]);
  });
});
