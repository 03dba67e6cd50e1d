/* Config migrations of soar-isolate-host; how they are loaded and applied: ./core.js. */
(function (root) {
  'use strict';
  var spec = {
    type: 'soar-isolate-host',
    steps: [
      {
        // 0 -> 1: the first saved shape. A config without a version (written by hand) gets the
        // defaults a new node has, the condition included.
        describe: 'defaults of the first version',
        up: function (config) {
          if (config.gate === undefined || config.gate === null || config.gate === '') config.gate = 'malicious';
          if (!config.action) config.action = 'isolate';
          if (!config.target) {
            config.target = 'alert.host.name';
            config.targetType = 'msg';
          }
          return config;
        },
      },
    ],
  };
  if (typeof module === 'object' && module.exports) module.exports = spec;
  else (root.SoarMigrations = root.SoarMigrations || { types: {} }).types[spec.type] = spec;
})(typeof window !== 'undefined' ? window : typeof globalThis !== 'undefined' ? globalThis : this);
