// StrykerJS mutation testing: `npm run mutate` (scripts/mutate.js runs one lib/ folder at a time and
// sets SOAR_MUTATE_FOLDER / SOAR_MUTATE_SPECS, and SOAR_MUTATE_FILES for a folder that mutates only
// some files, such as approval). Not part of CI: a full run takes hours on 2 cores.
const folder = process.env.SOAR_MUTATE_FOLDER;
const specs = process.env.SOAR_MUTATE_SPECS ? JSON.parse(process.env.SOAR_MUTATE_SPECS) : ['test/unit/**/*.spec.ts'];
const files = process.env.SOAR_MUTATE_FILES ? JSON.parse(process.env.SOAR_MUTATE_FILES) : undefined;

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'mocha',
  mochaOptions: { config: 'test/.mocharc.json', spec: specs },
  mutate: files ?? (folder ? [`lib/${folder}/**/*.ts`] : ['lib/intake/**/*.ts', 'lib/core/**/*.ts', 'lib/ioc/**/*.ts', 'lib/alert/**/*.ts']),
  ignorePatterns: ['dist', '.hub', 'bench/results', 'reports', '.stryker-tmp', 'test/e2e', 'test/system'],
  coverageAnalysis: 'perTest',
  // Mutants in module-level code (regex and table constants) would each need the whole spec set
  // run again; they are left out of the score (reported as ignored) to keep a run within hours.
  ignoreStatic: true,
  // The machine is shared: one test process at a time.
  concurrency: 1,
  timeoutMS: 10000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress-append-only', 'json'],
  jsonReporter: { fileName: `reports/mutation/${folder ?? 'all'}.json` },
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
