/* Config migrations of soar-wait-approval; how they are loaded and applied: ./core.js. */
(function (root) {
  'use strict';
  var spec = {
    type: 'soar-wait-approval',
    steps: [
      {
        // 0 -> 1: the first released shape; a config without a version gets the documented defaults.
        describe: 'first version: blank timeout outcome and decisive fields get their defaults',
        up: function (config) {
          if (!config.onTimeout) config.onTimeout = 'deny';
          if (config.fields === undefined || config.fields === null) config.fields = 'alert.source.ip';
          return config;
        },
      },
    ],
  };
  if (typeof module === 'object' && module.exports) module.exports = spec;
  else (root.SoarMigrations = root.SoarMigrations || { types: {} }).types[spec.type] = spec;
})(typeof window !== 'undefined' ? window : typeof globalThis !== 'undefined' ? globalThis : this);
