/**
 * lib/core is the bottom layer: it imports no provider family (lib/firewall, lib/intel, ...), no
 * intake, no hub (the composition root above it) and nothing of Node-RED.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const CORE = path.resolve(__dirname, '../../../lib/core');
const LIB = path.resolve(__dirname, '../../../lib');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return /\.ts$/.test(entry.name) ? [full] : [];
  });
}

/** Module specifiers of import/export-from/require/dynamic import statements. */
export function importsOf(text: string): string[] {
  const found: string[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm;
  for (const match of text.matchAll(pattern)) found.push(match[1]);
  return found;
}

describe('layering: lib/core imports no family', () => {
  it('finds the imports it is meant to check (the scanner itself works)', () => {
    assert.deepEqual(
      importsOf(
        `import { a } from '../firewall/leases';\nexport * from "./x";\nconst y = require('../intel/registry');\nimport "../hub/hub";\nawait import("node-red");`,
      ),
      ['../firewall/leases', './x', '../intel/registry', '../hub/hub', 'node-red'],
    );
  });

  it('no file under lib/core imports lib/firewall, lib/intel, lib/intake, lib/hub, lib/alert, lib/ioc or Node-RED', () => {
    const files = sources(CORE);
    assert.ok(files.length > 10, 'lib/core was found');
    const offences: string[] = [];
    for (const file of files) {
      for (const spec of importsOf(fs.readFileSync(file, 'utf8'))) {
        if (spec.startsWith('.')) {
          const target = path.resolve(path.dirname(file), spec);
          if (!target.startsWith(CORE + path.sep) && target !== CORE) offences.push(`${path.relative(LIB, file)} imports ${spec}`);
        } else if (/^(node-red|@node-red\/)/.test(spec)) {
          offences.push(`${path.relative(LIB, file)} imports ${spec}`);
        }
      }
    }
    assert.deepEqual(offences, []);
  });

  it('lib/firewall imports only lib/core, the family-neutral lib/providers/descriptor and itself (no intake, no other family, no hub)', () => {
    const own = path.join(LIB, 'firewall');
    const offences: string[] = [];
    for (const file of sources(own)) {
      for (const spec of importsOf(fs.readFileSync(file, 'utf8'))) {
        if (!spec.startsWith('.')) continue;
        const target = path.resolve(path.dirname(file), spec);
        if (!target.startsWith(own + path.sep) && !target.startsWith(CORE + path.sep) && target !== path.join(LIB, 'providers', 'descriptor'))
          offences.push(`${path.relative(LIB, file)} imports ${spec}`);
      }
    }
    assert.deepEqual(offences, []);
  });
});
