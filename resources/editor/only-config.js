/*
 * A new node uses the only config node of a type its dialog refers to (the only hub, firewall,
 * EDR, ticketing system) instead of "none". An existing node keeps what it was saved with, even
 * "none". Loaded by each node's HTML as resources/node-red-contrib-soar/editor/only-config.js
 * (before its inline script). Plain ES5 without dependencies.
 */
(function (root) {
  'use strict';
  if (root.SoarOnlyConfig) return; // every node HTML that needs it loads this file; the first copy wins

  /** The id of the one config node of type (other than node), or "" when there are none or several. */
  function only(type, node) {
    var ids = [];
    RED.nodes.eachConfig(function (c) {
      if (c.type === type && (!node || c.id !== node.id)) ids.push(c.id);
    });
    return ids.length === 1 ? ids[0] : '';
  }

  /**
   * onadd of a flow node: fills each empty property of refs ({ hub: "soar-hub" }) with the only
   * config node of its type. Node-RED also calls onadd for pasted and imported nodes; those are
   * already in the workspace and keep their saved choice.
   */
  function onadd(node, refs) {
    if (RED.nodes.node(node.id)) return;
    Object.keys(refs).forEach(function (prop) {
      if (node[prop]) return;
      var id = only(refs[prop], node);
      if (id) node[prop] = id;
    });
  }

  /**
   * oneditprepare of a config node: a config node being added (not yet in RED.nodes) shows the
   * only config node of each type of refs selected in its select (node-config-input-<prop>).
   */
  function prepareConfig(node, refs) {
    if (RED.nodes.node(node.id)) return;
    Object.keys(refs).forEach(function (prop) {
      if (node[prop]) return;
      var id = only(refs[prop], node);
      if (id)
        $('#node-config-input-' + prop)
          .val(id)
          .trigger('change');
    });
  }

  root.SoarOnlyConfig = { only: only, onadd: onadd, prepareConfig: prepareConfig };
})(typeof window !== 'undefined' ? window : this);
