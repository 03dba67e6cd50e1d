#!/usr/bin/env node
// Rewrites the provider tables in README.md from the descriptors (lib/intel/kinds/, lib/firewall/kinds/).
// test/unit/providers/readme.spec.ts fails when README.md is out of date; run this after adding a provider.
'use strict';
require('tsx/cjs');
const fs = require('fs');
const path = require('path');
const { withProviderTables } = require('../lib/providers/readme.ts');

const file = path.join(__dirname, '..', 'README.md');
const before = fs.readFileSync(file, 'utf8');
const after = withProviderTables(before);
if (after !== before) fs.writeFileSync(file, after);
console.log(after !== before ? 'README.md: provider tables updated' : 'README.md: provider tables up to date');
