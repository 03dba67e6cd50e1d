/* Config migrations of soar-edr; how they are loaded and applied: ./core.js. */
(function (root) {
  'use strict';
  var spec = {
    type: 'soar-edr',
    steps: [
      {
        // 0 -> 1: the first saved shape. A config without a version (written by hand) gets the
        // same meaning (blank numbers are the documented defaults).
        describe: 'defaults of the first version',
        up: function (config) {
          return config;
        },
      },
    ],
  };
  if (typeof module === 'object' && module.exports) module.exports = spec;
  else (root.SoarMigrations = root.SoarMigrations || { types: {} }).types[spec.type] = spec;
})(typeof window !== 'undefined' ? window : typeof globalThis !== 'undefined' ? globalThis : this);
