#!/usr/bin/env node
// `npm run mutate [-- folder ...]`: StrykerJS mutation testing, one lib/ folder at a time (intake,
// core, ioc, alert by default), each with only the unit specs that exercise it so a run stays
// within hours on a 2-core machine. Concurrency 1 (stryker.config.mjs); reports land in
// reports/mutation/<folder>.json and the score is printed at the end of each run.
//   npm run mutate                 all four folders (hours)
//   npm run mutate -- intake ioc   only these
//   npm run mutate -- approval     the approval decision files (FILES.approval), not run by default
//   npm run mutate -- ticket       the ticketing engine files (FILES.ticket), not run by default
//   npm run mutate -- lease        the lease engines (FILES.lease: lib/core/leases, EDR isolations and follow)
'use strict';
const { spawnSync } = require('child_process');
const path = require('path');

const SPECS = {
  intake: ['test/unit/intake/*.spec.ts'],
  // Crash tests and the CLI spawn child processes per test: too slow to repeat for every mutant.
  core: [
    'test/unit/core/audit.spec.ts',
    'test/unit/core/audit-keyed.spec.ts',
    'test/unit/core/group-commit-recovery.spec.ts',
    'test/unit/core/store.spec.ts',
    'test/unit/core/store-group-commit.spec.ts',
    'test/unit/core/budget.spec.ts',
    'test/unit/core/http-*.spec.ts',
    'test/unit/core/retry-after.spec.ts',
    'test/unit/core/redact-gaps.spec.ts',
    'test/unit/guardrails.spec.ts',
  ],
  // linear-time.spec.ts feeds MiB-sized inputs to check complexity, not results: under Stryker's
  // instrumentation it takes minutes per mutant, so it is left out here (npm test still runs it).
  ioc: [
    'test/unit/ioc/alert.spec.ts',
    'test/unit/ioc/allowlist.spec.ts',
    'test/unit/ioc/classify.spec.ts',
    'test/unit/ioc/extract.spec.ts',
    'test/unit/ioc/quality.spec.ts',
    'test/unit/ioc/refang.spec.ts',
    'test/unit/ioc/test-gaps.spec.ts',
    'test/unit/ioc/domain-edges.spec.ts',
  ],
  alert: ['test/unit/alert/*.spec.ts'],
  // The approval decision code (quorum, who may decide, single-use links, digest binding), not the
  // channels, the page or dispatch: FILES below narrows the mutated files to these.
  approval: ['test/unit/approval/*.spec.ts', 'test/unit/contract/*.spec.ts'],
  // The ticketing engine behind "open ticket" (outbox, dedup, coalescing, templates, markup), not
  // the per-tracker adapters: FILES below narrows the mutated files. No ticket spec spawns a process.
  ticket: ['test/unit/ticket/*.spec.ts'],
  // The lease engines behind destructive actions (FILES.lease). The core engine is mostly exercised
  // through its block family, so the firewall lease and reconcile specs are in. Left out:
  // test/unit/firewall/leases-crash.spec.ts and test/unit/edr/isolate-crash.spec.ts, which spawn
  // and kill child processes (too slow per mutant; npm test still runs them).
  lease: [
    'test/unit/core/leases/*.spec.ts',
    'test/unit/edr/leases.spec.ts',
    'test/unit/edr/follow.spec.ts',
    'test/unit/edr/follow-end.spec.ts',
    'test/unit/firewall/leases.spec.ts',
    'test/unit/firewall/reconcile.spec.ts',
  ],
};

/** Folders whose run mutates only some files (each with lib/ in front), instead of lib/<folder>/**. */
const FILES = {
  approval: [
    'lib/approval/guard.ts',
    'lib/approval/links.ts',
    'lib/approval/persons.ts',
    'lib/approval/records.ts',
    'lib/approval/engine.ts',
    'lib/contract/approval.ts',
  ],
  ticket: ['lib/ticket/outbox.ts', 'lib/ticket/template.ts', 'lib/ticket/defaults.ts', 'lib/ticket/markup.ts', 'lib/ticket/local.ts', 'lib/ticket/common.ts'],
  lease: ['lib/core/leases/*.ts', 'lib/edr/leases.ts', 'lib/edr/follow.ts'],
};

const DEFAULT_FOLDERS = ['intake', 'core', 'ioc', 'alert'];
const folders = process.argv.slice(2).length ? process.argv.slice(2) : DEFAULT_FOLDERS;
let failed = false;
for (const folder of folders) {
  if (!SPECS[folder]) {
    console.error(`unknown folder "${folder}" (one of ${Object.keys(SPECS).join(', ')})`);
    process.exit(2);
  }
  console.log(`\n=== mutating lib/${folder}`);
  const stryker = path.join(__dirname, '..', 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js');
  const shim = path.join(__dirname, 'mocha12-compat.cjs');
  // Stryker has no CLI flag for mocha's spec list: stryker.config.mjs reads these.
  // NODE_OPTIONS carries the mocha 12 shim into every process Stryker starts.
  const nodeOptions = `${process.env.NODE_OPTIONS ?? ''} --require ${JSON.stringify(shim)}`.trim();
  const result = spawnSync(process.execPath, [stryker, 'run'], {
    stdio: 'inherit',
    env: {
      ...process.env,
      NODE_OPTIONS: nodeOptions,
      SOAR_MUTATE_FOLDER: folder,
      SOAR_MUTATE_SPECS: JSON.stringify(SPECS[folder]),
      ...(FILES[folder] ? { SOAR_MUTATE_FILES: JSON.stringify(FILES[folder]) } : {}),
    },
  });
  if (result.status !== 0) failed = true;
}
process.exitCode = failed ? 1 : 0;
