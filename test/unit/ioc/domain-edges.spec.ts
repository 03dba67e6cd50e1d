/** Host-name rules of lib/ioc/domain.ts at their edges (mutation testing found them unchecked). */
import assert from 'node:assert/strict';
import { clearExtractionCaches } from '../../../lib/ioc';
import { assessDomain, checkDomain } from '../../../lib/ioc/domain';

describe('domain edges', () => {
  // Verdicts are cached per process; start cold so every rule runs (a warm cache hides a broken rule).
  beforeEach(clearExtractionCaches);

  it('needs an ICANN public suffix, and answers the same from its cache', () => {
    for (let i = 0; i < 2; i++) {
      assert.equal(checkDomain('evil.com', false), 'evil.com');
      assert.equal(checkDomain('EVIL.Co.UK', true), 'evil.co.uk');
      assert.equal(checkDomain('evil.notarealtld', true), undefined);
      assert.equal(checkDomain('co.uk', true), undefined, 'a bare public suffix is no registrable domain');
    }
  });

  it('syntax: length, labels, hyphens, TLD shape', () => {
    const label63 = 'a'.repeat(63);
    const at253 = `${label63}.${label63}.${label63}.${'b'.repeat(57)}.com`;
    assert.equal(at253.length, 253);
    assert.equal(checkDomain(at253, true), at253);
    assert.equal(checkDomain(`c${at253}`, true), undefined, '254 characters');
    assert.equal(checkDomain(`${'a'.repeat(64)}.com`, true), undefined, 'a 64-character label');
    assert.equal(checkDomain('com', true), undefined);
    assert.equal(checkDomain('.com', true), undefined);
    assert.equal(checkDomain('-evil.com', true), undefined);
    assert.equal(checkDomain('evil-.com', true), undefined);
    assert.equal(checkDomain('ev_il.com', true), undefined);
    assert.equal(checkDomain('evil.c0m', true), undefined);
    assert.equal(checkDomain('evil..com', true), undefined);
    assert.equal(checkDomain('bücher.de', false), 'bücher.de');
    assert.equal(checkDomain('xn--bcher-kva.de', false), 'xn--bcher-kva.de');
  });

  it('field paths, Title-case and camelCase need strong context; other two-label names do not', () => {
    // Namespace + a leaf of 4+ letters or a listed short leaf: looks like a field.
    for (const name of ['user.name', 'user.info', 'user.dev', 'event.id']) {
      assert.equal(checkDomain(name, false), undefined, name);
      assert.equal(checkDomain(name, true), name, name);
      assert.equal(assessDomain(name)?.needsContext, true, name);
    }
    // A short leaf that is not a listed field leaf, or a namespace that is not listed: a domain.
    assert.equal(checkDomain('user.pro', false), 'user.pro');
    assert.equal(checkDomain('mailer.info', false), 'mailer.info');
    assert.equal(checkDomain('a.user.name', false), 'a.user.name', 'three labels are no field path');
    assert.equal(checkDomain('evil.Com', false), undefined, 'Title-case TLD');
    assert.equal(checkDomain('evil.Com', true), 'evil.com');
    assert.equal(checkDomain('myObject.com', false), undefined, 'camelCase label');
    assert.equal(checkDomain('EVIL.COM', false), 'evil.com', 'all capitals are neither');
  });
});
