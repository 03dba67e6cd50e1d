import assert from 'node:assert/strict';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createGuard, parseHost } = require('../../../scripts/hub/guard');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { intakePaths } = require('../../../scripts/hub/intake-gate');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { composeSettings } = require('../../../scripts/hub/settings');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { compilerNodeOptions } = require('../../../scripts/build');

type Req = { method: string; url: string; headers: Record<string, string> };
const req = (headers: Record<string, string>, method = 'POST', url = '/admin/flows'): Req => ({ method, url, headers });

describe('hub server pieces (scripts/hub)', function () {
  describe('admin guard', function () {
    const guard = createGuard({ host: '127.0.0.1', port: 1880, adminRoot: '/admin/' });

    it("accepts the hub's own names with the hub's port only", function () {
      for (const host of ['127.0.0.1:1880', 'localhost:1880', 'LOCALHOST:1880', '[::1]:1880']) assert.equal(guard.refusal(req({ host })), undefined, host);
      for (const host of ['127.0.0.1:1881', '127.0.0.1', 'evil.example:1880', '127.0.0.1.evil.example:1880', 'localhost:1880@evil', '']) {
        assert.equal(guard.refusal(req({ host })), 'foreign Host header', host);
      }
      assert.equal(guard.refusal({ method: 'GET', url: '/admin/', headers: {} }), 'foreign Host header');
    });

    it('refuses foreign origins and cross-site state changes, allows following a link', function () {
      const host = '127.0.0.1:1880';
      assert.equal(guard.refusal(req({ host, origin: 'http://localhost:1880' })), undefined);
      assert.equal(guard.refusal(req({ host, origin: 'http://127.0.0.1:8080' })), 'foreign Origin');
      assert.equal(guard.refusal(req({ host, origin: 'null' })), 'foreign Origin');
      assert.equal(guard.refusal(req({ host, origin: 'https://127.0.0.1:1880' })), 'foreign Origin');
      assert.match(guard.refusal(req({ host, 'sec-fetch-site': 'same-site' })), /cross-site/);
      assert.match(guard.refusal(req({ host, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' }, 'GET')), /cross-site/);
      assert.equal(guard.refusal(req({ host, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' }, 'GET', '/admin/')), undefined);
      assert.equal(guard.refusal(req({ host, 'sec-fetch-site': 'same-origin' })), undefined);
    });

    it('leaves non-admin paths alone and removes CORS headers on admin answers', function () {
      let passed = 0;
      guard.middleware(req({ host: 'siem.example' }, 'POST', '/soar/alerts'), {}, () => passed++);
      guard.middleware(req({ host: 'siem.example' }, 'POST', '/administrator'), {}, () => passed++);
      assert.equal(passed, 2);
      const set: Record<string, string> = {};
      const res = {
        setHeader(n: string, v: string) {
          set[n.toLowerCase()] = v;
          return this;
        },
      };
      guard.middleware(req({ host: '127.0.0.1:1880' }, 'GET', '/admin/flows'), res, () => passed++);
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('Content-Type', 'application/json');
      assert.deepEqual(set, { 'content-type': 'application/json' });
    });

    it('parses Host headers strictly', function () {
      assert.deepEqual(parseHost('[::1]:80'), { name: '::1', port: 80 });
      assert.deepEqual(parseHost('Example.org.'), { name: 'example.org', port: undefined });
      assert.equal(parseHost('a b:1'), undefined);
      assert.equal(parseHost('user@host:1'), undefined);
    });
  });

  it('reads intake paths of enabled intakes on enabled tabs, normalised as Express matches them', function () {
    const paths = intakePaths([
      { id: 't1', type: 'tab' },
      { id: 't2', type: 'tab', disabled: true },
      { id: 'a', z: 't1', type: 'soar-alert-intake', path: 'soar/Wazuh/' },
      { id: 'b', z: 't1', type: 'soar-alert-intake' },
      { id: 'c', z: 't1', type: 'soar-alert-intake', path: '/off', d: true },
      { id: 'd', z: 't2', type: 'soar-alert-intake', path: '/tab-off' },
      { id: 'e', z: 't1', type: 'http in', url: '/other' },
    ]);
    assert.deepEqual([...paths].sort(), ['/soar/alerts', '/soar/wazuh']);
  });

  it('merges user settings over the defaults but keeps the forced keys and a login off loopback', function () {
    const defaults = { editorTheme: { tours: false, palette: { editable: true } }, adminAuth: { type: 'credentials', users: [{ username: 'admin' }] } };
    const { settings, warnings } = composeSettings({
      defaults,
      user: { uiPort: 1, credentialSecret: 'x', editorTheme: { header: { title: 'Blue team' } }, adminAuth: null, https: { key: 'k' } },
      forced: { uiPort: 1880, credentialSecret: 'kept' },
      requireLogin: true,
    });
    assert.equal(settings.uiPort, 1880);
    assert.equal(settings.credentialSecret, 'kept');
    assert.equal(settings.https, undefined);
    assert.deepEqual(settings.editorTheme, { tours: false, palette: { editable: true }, header: { title: 'Blue team' } });
    assert.deepEqual(settings.adminAuth, defaults.adminAuth);
    assert.equal(warnings.length, 4, warnings.join('\n'));
    const own = composeSettings({ defaults, user: { adminAuth: { type: 'strategy', strategy: {} } }, forced: {}, requireLogin: true });
    assert.deepEqual(own.settings.adminAuth, { type: 'strategy', strategy: {} }, "a user's login replaces ours whole");
  });

  it("builds without the runtime's heap cap", function () {
    assert.equal(compilerNodeOptions('--max-old-space-size=128 --enable-source-maps'), '--enable-source-maps');
    assert.equal(compilerNodeOptions('--max_old_space_size=96'), '');
    assert.equal(compilerNodeOptions(undefined), '');
  });
});
