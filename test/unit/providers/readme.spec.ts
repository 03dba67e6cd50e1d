import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { END, providerTables, START, withProviderTables } from '../../../lib/providers/readme';

const readmeFile = path.join(__dirname, '..', '..', '..', 'README.md');

describe('README provider tables', () => {
  it('match the descriptors (run `node scripts/provider-tables.js` after adding or changing a provider)', () => {
    const readme = fs.readFileSync(readmeFile, 'utf8');
    assert.ok(readme.includes(START) && readme.includes(END), 'README.md has the generated section');
    assert.equal(withProviderTables(readme), readme);
  });

  it('list every kind with what it supports, and catch a stale table', () => {
    const tables = providerTables();
    assert.match(tables, /\| `shodan-internetdb` \| Shodan InternetDB \| ipv4 \| 1\/s \| — \|/);
    assert.match(tables, /\| `mikrotik` \| MikroTik RouterOS \| yes \| yes \| yes \|/);
    const stale = fs.readFileSync(readmeFile, 'utf8').replace(/\| `feodo` \|[^\n]*\n/, '');
    assert.notEqual(withProviderTables(stale), stale);
  });
});
