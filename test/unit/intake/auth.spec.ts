import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { IntakeAuthenticator, addressAllowed, parseAllowlist, secretEquals } from '../../../lib/intake/auth';

const body = Buffer.from('{"title":"x"}');

describe('intake authentication', function () {
  it('compares secrets exactly, whatever their lengths', function () {
    assert.equal(secretEquals('abc', 'abc'), true);
    assert.equal(secretEquals('abc', 'abd'), false);
    assert.equal(secretEquals('abc', 'abcd'), false);
    assert.equal(secretEquals('', 'abc'), false);
  });

  it('checks bearer tokens', function () {
    const auth = new IntakeAuthenticator({ type: 'bearer', token: 't0ken' });
    assert.deepEqual(auth.check({ headers: { authorization: 'Bearer t0ken' } }), { ok: true });
    assert.deepEqual(auth.check({ headers: { authorization: 'bearer   t0ken' } }), { ok: true });
    const wrong = auth.check({ headers: { authorization: 'Bearer t0ke' } });
    assert.equal(wrong.ok, false);
    assert.equal(!wrong.ok && wrong.status, 401);
    assert.ok(!JSON.stringify(wrong).includes('t0ken'));
    assert.match(JSON.stringify(auth.check({ headers: {} })), /missing bearer token/);
  });

  it('checks basic credentials, including passwords with colons', function () {
    const auth = new IntakeAuthenticator({ type: 'basic', basicUser: 'wazuh', basicPassword: 'p:w' });
    const basic = (s: string) => ({ headers: { authorization: 'Basic ' + Buffer.from(s).toString('base64') } });
    assert.deepEqual(auth.check(basic('wazuh:p:w')), { ok: true });
    assert.equal(auth.check(basic('wazuh:p')).ok, false);
    assert.equal(auth.check(basic('other:p:w')).ok, false);
  });

  it('checks the HMAC-SHA256 signature of the raw body before and after reading it', function () {
    const auth = new IntakeAuthenticator({ type: 'hmac', hmacSecret: 's3cret', hmacHeader: 'X-Signature' });
    const sig = 'sha256=' + createHmac('sha256', 's3cret').update(body).digest('hex');
    assert.equal(auth.needsRawBody, true);
    assert.deepEqual(auth.checkBeforeBody({ headers: { 'x-signature': sig } }), { ok: true });
    assert.match(JSON.stringify(auth.checkBeforeBody({ headers: { 'x-signature': 'md5=abc' } })), /sha256=<64 hex digits>/);
    assert.match(JSON.stringify(auth.checkBeforeBody({ headers: {} })), /missing signature header x-signature/);
    assert.deepEqual(auth.check({ headers: { 'x-signature': sig }, rawBody: body }), { ok: true });
    assert.deepEqual(auth.check({ headers: { 'x-signature': sig.toUpperCase().replace('SHA256=', 'sha256=') }, rawBody: body }), { ok: true });
    assert.match(JSON.stringify(auth.check({ headers: { 'x-signature': sig }, rawBody: Buffer.from('{"title":"y"}') })), /does not match/);
    assert.match(JSON.stringify(auth.check({ headers: { 'x-signature': sig } })), /parsed the request body/);
  });

  it('refuses a configuration without its secret', function () {
    assert.throws(() => new IntakeAuthenticator({ type: 'bearer' }), /needs a token/);
    assert.throws(() => new IntakeAuthenticator({ type: 'hmac' }), /needs a secret/);
    assert.throws(() => new IntakeAuthenticator({ type: 'basic', basicUser: 'u' }), /user and a password/);
    assert.throws(() => parseAllowlist(['10.0.0.0/8', 'nonsense']), /"nonsense"/);
  });

  it('applies the source allowlist to IPv4, IPv6 and IPv4-mapped addresses', function () {
    const ranges = parseAllowlist(['198.18.0.0/15', '2001:db8::/32', '127.0.0.1']);
    assert.equal(addressAllowed('198.19.4.5', ranges), true);
    assert.equal(addressAllowed('::ffff:198.18.0.9', ranges), true);
    assert.equal(addressAllowed('127.0.0.1', ranges), true);
    assert.equal(addressAllowed('127.0.0.2', ranges), false);
    assert.equal(addressAllowed('2001:db8::5', ranges), true);
    assert.equal(addressAllowed('2001:db9::5', ranges), false);
    assert.equal(addressAllowed(undefined, ranges), false);
    assert.equal(addressAllowed('203.0.113.1', []), true);
    const auth = new IntakeAuthenticator({ type: 'none', allowFrom: ['198.18.0.0/15'] });
    const refused = auth.check({ headers: {}, remoteAddress: '203.0.113.1' });
    assert.equal(!refused.ok && refused.status, 403);
  });
});
