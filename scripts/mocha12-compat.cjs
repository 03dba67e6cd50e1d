// Lets @stryker-mutator/mocha-runner 9 (written for mocha < 12) load mocha 12, which renamed the
// CommonJS CLI helpers it requires (lib/cli/run-helpers, options, collect-files) to *.cjs.
// Preloaded with --require by scripts/mutate.js, in the Stryker process and its test runners.
'use strict';
const Module = require('module');

const original = Module._resolveFilename;
const RENAMED = /[\\/]mocha[\\/]lib[\\/]cli[\\/](run-helpers|options|collect-files)$/;

Module._resolveFilename = function resolveFilename(request, ...rest) {
  return original.call(this, RENAMED.test(request) ? `${request}.cjs` : request, ...rest);
};
