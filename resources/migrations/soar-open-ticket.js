/* Config migrations of soar-open-ticket; how they are loaded and applied: ./core.js. */
(function (root) {
  'use strict';
  var spec = {
    type: 'soar-open-ticket',
    steps: [
      {
        // 0 -> 1: the first saved shape. A node written by hand or by an older export without a
        // version gets the documented defaults for what it leaves out.
        describe: 'defaults for the incident key, coalescing time and closed-ticket policy',
        up: function (config) {
          if (config.incident === undefined || config.incident === null || config.incident === '') {
            config.incident = 'alert.fingerprint';
            config.incidentType = 'msg';
          }
          if (config.coalesceMinutes === undefined || config.coalesceMinutes === null || config.coalesceMinutes === '') config.coalesceMinutes = 5;
          if (config.closedPolicy !== 'comment') config.closedPolicy = 'link';
          return config;
        },
      },
    ],
  };
  if (typeof module === 'object' && module.exports) module.exports = spec;
  else (root.SoarMigrations = root.SoarMigrations || { types: {} }).types[spec.type] = spec;
})(typeof window !== 'undefined' ? window : typeof globalThis !== 'undefined' ? globalThis : this);
