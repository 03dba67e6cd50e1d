/*
 * What the playbook action nodes (block IP, isolate host, open ticket) share in the editor: the
 * parts of their definition that are not per node (name, label, label style) and the condition
 * row ("act only on": a malicious or suspicious verdict, or an approval; or every message) with its
 * default. Loaded by each such node's HTML as resources/node-red-contrib-soar/editor/action-node.js
 * (before its inline script). The registerType call itself stays literal in each HTML file: the
 * Flow Library's checks read the type and category from it. Plain ES5 without dependencies.
 */
(function (root) {
  'use strict';
  if (root.SoarActionNode) return; // every node HTML that needs it loads this file; the first copy wins

  // The runtime's conditions (lib/contract/condition.ts); new nodes act only on a malicious verdict.
  var GATES = ['malicious', 'suspicious', 'off'];

  /**
   * The node's defaults with the shared ones: the name (after configVersion), and with
   * opts.condition the condition (after action; new nodes: on). Node-RED saves a node's
   * properties in this order, so flows saved before keep their shape.
   */
  function defaults(own, opts) {
    var out = {};
    var keys = Object.keys(own);
    if (keys.indexOf('configVersion') < 0) out.name = { value: '' };
    keys.forEach(function (key) {
      out[key] = own[key];
      if (key === 'configVersion') out.name = { value: '' };
      if (key === 'action' && opts && opts.condition) out.gate = { value: GATES[0] };
    });
    return out;
  }

  /** The node's label: its name, else the label of its action (byAction), else fallback. */
  function label(byAction, fallback) {
    return function () {
      return this.name || (byAction && byAction[this.action]) || fallback;
    };
  }

  function labelStyle() {
    return this.name ? 'node_label_italic' : '';
  }

  /**
   * oneditprepare: fills the template's <div class="form-row soar-condition"> with the condition's
   * label and select (node-input-gate, texts from the node's catalog), set to the node's value.
   */
  function conditionRow(node) {
    var ns = node.type;
    var row = $('.soar-condition').empty();
    $('<label for="node-input-gate">')
      .append('<i class="fa fa-gavel"></i> ')
      .append($('<span>').text(node._(ns + '.label.gate')))
      .appendTo(row);
    row.append(' '); // as between the label and the input of a template row
    var select = $('<select id="node-input-gate" style="width:70%">').appendTo(row);
    GATES.forEach(function (g) {
      $('<option>')
        .val(g)
        .text(node._(ns + '.gate.' + g))
        .appendTo(select);
    });
    select.val(node.gate);
    return select;
  }

  root.SoarActionNode = { gates: GATES, defaults: defaults, label: label, labelStyle: labelStyle, conditionRow: conditionRow };
})(typeof window !== 'undefined' ? window : this);
