import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { root, tempDir } from '../helpers/nr';

/**
 * `npm run build` in a copy of the checkout (so a planted compile error never touches the real
 * one), under the heap cap the README advises for small boards.
 */
describe('the build (scripts/build.js) under a heap cap, failing and succeeding (system)', function () {
  this.timeout(400000);
  let copy: string;
  const dist = () => path.join(copy, 'dist');
  const build = () =>
    spawnSync(process.execPath, [path.join(copy, 'scripts', 'build.js')], {
      cwd: copy,
      env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=128' },
      encoding: 'utf8',
    });
  const leftovers = () => fs.readdirSync(copy).filter((n) => n.startsWith('.dist-'));

  before(function () {
    copy = tempDir('soar-build-');
    for (const d of ['scripts', 'nodes', 'lib', 'bin', 'icons', 'locales']) fs.cpSync(path.join(root, d), path.join(copy, d), { recursive: true });
    for (const f of ['tsconfig.json', 'package.json']) fs.copyFileSync(path.join(root, f), path.join(copy, f));
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'));
    fs.mkdirSync(path.join(dist(), 'nodes'), { recursive: true });
    fs.writeFileSync(path.join(dist(), 'nodes', 'previous.js'), '// the build before\n');
  });
  after(function () {
    fs.rmSync(copy, { recursive: true, force: true });
  });

  it('a failed build leaves the previous dist/ intact', function () {
    const bad = path.join(copy, 'lib', 'zz-broken.ts');
    fs.writeFileSync(bad, "export const n: number = 'not a number';\n");
    try {
      const r = build();
      assert.notEqual(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stderr, /build failed: TypeScript compile failed.*dist\/ was left as it was/);
      assert.equal(fs.readFileSync(path.join(dist(), 'nodes', 'previous.js'), 'utf8'), '// the build before\n');
      assert.deepEqual(leftovers(), []);
    } finally {
      fs.rmSync(bad);
    }
  });

  it('builds with NODE_OPTIONS=--max-old-space-size=128 and swaps the new dist/ in whole', function () {
    const r = build();
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stderr, /heap out of memory/i);
    assert.ok(!fs.existsSync(path.join(dist(), 'nodes', 'previous.js')), 'the old tree is gone');
    for (const f of ['nodes/hub.js', 'nodes/hub.html', 'nodes/icons', 'nodes/locales/en-US', 'bin/soar.js', 'lib'])
      assert.ok(fs.existsSync(path.join(dist(), f)), f);
    assert.deepEqual(leftovers(), []);
  });
});
