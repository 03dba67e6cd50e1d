/*
 * Versioned node config for the SOAR nodes. One file serves both sides: the runtime require()s it
 * (nodes/shared/migrations.ts) and each node's editor HTML loads it as
 * resources/node-red-contrib-soar/migrations/core.js, so a flow is migrated the same way when it
 * is deployed and when the editor loads it. Plain ES5 without dependencies: it runs as is in both.
 *
 * A node type's config carries its version in `configVersion` (absent = 0; not `v`: the editor
 * drops single-letter properties from node definitions). Each type's module
 * (./<type>.js) lists steps; step i turns version i into i + 1.
 */
(function (root) {
  'use strict';
  var commonJs = typeof module === 'object' && module.exports;
  // The editor shares one registry on window (type modules may load before this file); the
  // runtime keeps it in the module.
  var shared = commonJs ? { types: {} } : (root.SoarMigrations = root.SoarMigrations || { types: {} });
  if (shared.migrate) return; // every SOAR node's HTML loads this file; the first copy wins

  function currentVersion(type) {
    var spec = shared.types[type];
    return spec ? spec.steps.length : 0;
  }

  /**
   * Migrate a saved config (not changed in place). Returns {config, from, to, changed}; a config
   * saved by a newer release is returned unchanged with `newer: true`.
   */
  function migrate(config) {
    var spec = config && shared.types[config.type];
    var to = spec ? spec.steps.length : 0;
    var raw = config ? config.configVersion : undefined;
    var from = raw === undefined || raw === null || raw === '' ? 0 : Number(raw);
    if (!spec || from === to) return { config: config, from: from, to: to, changed: false };
    if (!(from >= 0 && from < to && Math.floor(from) === from)) {
      return { config: config, from: from, to: to, changed: false, newer: from > to };
    }
    var out = {};
    for (var key in config) if (Object.prototype.hasOwnProperty.call(config, key)) out[key] = config[key];
    for (var i = from; i < to; i++) {
      out = spec.steps[i].up(out) || out;
      out.configVersion = i + 1;
    }
    return { config: out, from: from, to: to, changed: true };
  }

  /** Editor: migrate a node object in place (its defaults only); true when something changed. */
  function migrateEditorNode(node) {
    if (!node || !shared.types[node.type]) return false;
    var defaults = (node._def && node._def.defaults) || {};
    var plain = { type: node.type, id: node.id };
    for (var key in defaults) if (Object.prototype.hasOwnProperty.call(defaults, key)) plain[key] = node[key];
    var result = migrate(plain);
    if (!result.changed) return false;
    for (var k in result.config) {
      if (k === 'type' || k === 'id' || !Object.prototype.hasOwnProperty.call(defaults, k)) continue;
      if (result.config[k] !== node[k]) node[k] = result.config[k];
    }
    return true;
  }

  /**
   * Editor: migrate every SOAR node as it is added to the workspace — flows loaded at start,
   * imports and pastes — so the dialog shows, and the next deploy writes, the current shape.
   */
  function installEditor(RED) {
    if (shared.editorInstalled || !RED || !RED.events) return;
    shared.editorInstalled = true;
    RED.events.on('nodes:add', function (node) {
      if (!migrateEditorNode(node)) return;
      // A migration may move config-node references (enrich IOC's sources): count the new users.
      if (RED.nodes && RED.nodes.updateConfigNodeUsers) RED.nodes.updateConfigNodeUsers(node);
      if (RED.editor && RED.editor.validateNode) RED.editor.validateNode(node);
    });
  }

  function register(spec) {
    shared.types[spec.type] = spec;
  }

  shared.register = register;
  shared.currentVersion = currentVersion;
  shared.migrate = migrate;
  shared.migrateEditorNode = migrateEditorNode;
  shared.installEditor = installEditor;
  if (commonJs) module.exports = shared;
  else if (root.RED) installEditor(root.RED);
})(typeof window !== 'undefined' ? window : typeof globalThis !== 'undefined' ? globalThis : this);
