/* Config migrations of soar-block-ip; how they are loaded and applied: ./core.js. */
(function (root) {
  'use strict';
  var spec = {
    type: 'soar-block-ip',
    steps: [
      {
        // 0 -> 1: the verdict/approval condition. Nodes saved before it acted on every message, so
        // they get the condition off and keep their target; new nodes default to it on.
        describe: 'condition (gate) off for nodes saved before it existed',
        up: function (config) {
          if (config.gate === undefined || config.gate === null || config.gate === '') config.gate = 'off';
          return config;
        },
      },
    ],
  };
  if (typeof module === 'object' && module.exports) module.exports = spec;
  else (root.SoarMigrations = root.SoarMigrations || { types: {} }).types[spec.type] = spec;
})(typeof window !== 'undefined' ? window : typeof globalThis !== 'undefined' ? globalThis : this);
