#!/usr/bin/env node
// Build what Node-RED loads: compiled JS under dist/, and next to each node's .js its editor
// .html, icons/ and locales/ (Node-RED only looks beside the registered .js file).
// Everything is built into a fresh folder next to dist/ and swapped in only when complete, so a
// failed or killed build leaves the previous dist/ as it was.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');

/**
 * NODE_OPTIONS without heap limits: a cap meant for the hub on a small board
 * (`--max-old-space-size=128`) makes the compiler run out of memory.
 */
function compilerNodeOptions(value) {
  return (value || '')
    .split(/\s+/)
    .filter((opt) => opt && !/^--(max-old-space-size|max-semi-space-size|max_old_space_size|max_semi_space_size)(=|$)/.test(opt))
    .join(' ');
}

function build() {
  const stamp = `${process.pid}-${Date.now()}`;
  const tmp = path.join(root, `.dist-build-${stamp}`);
  const old = path.join(root, `.dist-old-${stamp}`);
  // Leftovers of builds that were killed half-way.
  for (const name of fs.readdirSync(root)) {
    if (/^\.dist-(build|old)-/.test(name)) fs.rmSync(path.join(root, name), { recursive: true, force: true });
  }
  try {
    const env = { ...process.env, NODE_OPTIONS: compilerNodeOptions(process.env.NODE_OPTIONS) };
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', root, '--outDir', tmp], { stdio: 'inherit', env });
    if (tsc.status !== 0) {
      throw new Error(`TypeScript compile failed (${tsc.signal ? `signal ${tsc.signal}` : `exit ${tsc.status}`}); dist/ was left as it was`);
    }
    const nodesOut = path.join(tmp, 'nodes');
    for (const file of fs.readdirSync(path.join(root, 'nodes'))) {
      if (file.endsWith('.html')) fs.copyFileSync(path.join(root, 'nodes', file), path.join(nodesOut, file));
    }
    fs.cpSync(path.join(root, 'icons'), path.join(nodesOut, 'icons'), { recursive: true });
    fs.cpSync(path.join(root, 'locales'), path.join(nodesOut, 'locales'), { recursive: true });
    const cli = path.join(tmp, 'bin', 'soar.js');
    if (fs.existsSync(cli)) fs.chmodSync(cli, 0o755);

    // Swap: two renames in one folder; dist/ is never a half-written tree.
    if (fs.existsSync(dist)) fs.renameSync(dist, old);
    fs.renameSync(tmp, dist);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(dist) && fs.existsSync(old)) fs.renameSync(old, dist);
    throw err;
  }
  fs.rmSync(old, { recursive: true, force: true });
}

module.exports = { compilerNodeOptions };
if (require.main === module) {
  try {
    build();
    console.log('built dist/ (nodes with html, icons, locales)');
  } catch (err) {
    console.error(`build failed: ${err.message}`);
    process.exit(1);
  }
}
