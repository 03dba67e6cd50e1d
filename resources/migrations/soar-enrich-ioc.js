/* Config migrations of soar-enrich-ioc; how they are loaded and applied: ./core.js. */
(function (root) {
  'use strict';
  var SLOTS = 8;
  var spec = {
    type: 'soar-enrich-ioc',
    steps: [
      {
        // 0 -> 1: sources became config-reference slots (source1..8), which the editor counts,
        // exports and checks; flows saved before kept the ids in a `sources` array. Ids go into the
        // free slots in their order; any that do not fit stay in `sources` (the runtime still reads
        // them), so nothing a flow refers to is dropped.
        describe: 'sources array moved into the source1..8 slots',
        up: function (config) {
          var old = Array.isArray(config.sources) ? config.sources : [];
          var used = [];
          var i;
          for (i = 1; i <= SLOTS; i++) if (config['source' + i]) used.push(config['source' + i]);
          var left = [];
          var slot = 1;
          for (var k = 0; k < old.length; k++) {
            var id = old[k];
            if (typeof id !== 'string' || id === '' || used.indexOf(id) >= 0) continue;
            while (slot <= SLOTS && config['source' + slot]) slot++;
            if (slot <= SLOTS) {
              config['source' + slot] = id;
              used.push(id);
            } else if (left.indexOf(id) < 0) left.push(id);
          }
          config.sources = left;
          return config;
        },
      },
    ],
  };
  if (typeof module === 'object' && module.exports) module.exports = spec;
  else (root.SoarMigrations = root.SoarMigrations || { types: {} }).types[spec.type] = spec;
})(typeof window !== 'undefined' ? window : typeof globalThis !== 'undefined' ? globalThis : this);
