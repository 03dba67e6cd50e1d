/* Config migrations of soar-wait-approval; how they are loaded and applied: ./core.js. */
(function (root) {
  'use strict';
  var SLOTS = 4;
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
      {
        // 1 -> 2: approval channels became config-reference slots (channel1..4), which the editor
        // counts, exports and checks; version 1 kept ids in a `channels` array (unused then, so
        // usually empty). Ids go into the free slots in order; any that do not fit stay in
        // `channels` (the runtime still reads them), so nothing a flow refers to is dropped.
        // Blank quorum and timeout already meant 1 and 60 minutes; they are written out so the
        // dialog shows them (nodes imported without them showed empty fields).
        describe: 'channels array moved into the channel1..4 slots; blank quorum and timeout written as 1 and 60',
        up: function (config) {
          if (config.quorum === undefined || config.quorum === null || String(config.quorum).trim() === '') config.quorum = 1;
          if (config.timeout === undefined || config.timeout === null || String(config.timeout).trim() === '') config.timeout = 60;
          var old = Array.isArray(config.channels) ? config.channels : [];
          var used = [];
          var i;
          for (i = 1; i <= SLOTS; i++) if (config['channel' + i]) used.push(config['channel' + i]);
          var left = [];
          var slot = 1;
          for (var k = 0; k < old.length; k++) {
            var id = old[k];
            if (typeof id !== 'string' || id === '' || used.indexOf(id) >= 0) continue;
            while (slot <= SLOTS && config['channel' + slot]) slot++;
            if (slot <= SLOTS) {
              config['channel' + slot] = id;
              used.push(id);
            } else if (left.indexOf(id) < 0) left.push(id);
          }
          config.channels = left;
          return config;
        },
      },
    ],
  };
  if (typeof module === 'object' && module.exports) module.exports = spec;
  else (root.SoarMigrations = root.SoarMigrations || { types: {} }).types[spec.type] = spec;
})(typeof window !== 'undefined' ? window : typeof globalThis !== 'undefined' ? globalThis : this);
