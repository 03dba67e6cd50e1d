/*
 * The editor side of the provider descriptors (lib/providers/descriptor.ts): config nodes whose
 * settings depend on a kind (intel source, firewall) get their defaults, credentials, validation
 * and per-kind form from the descriptors the runtime exports in RED.settings. Loaded by each such
 * node's HTML as resources/node-red-contrib-soar/editor/kind-form.js (before its inline script).
 * Plain ES5 without dependencies.
 */
(function (root) {
  'use strict';
  if (root.SoarKindForm) return; // every node HTML that needs it loads this file; the first copy wins

  /**
   * kinds: the descriptors' editor view; opts.namespace: the node type ("soar-firewall"), also its
   * catalog; opts.defaultKind; opts.box: id of the element the field rows go in; opts.rowClass.
   */
  function SoarKindForm(kinds, opts) {
    kinds = kinds || [];
    function descriptor(kind) {
      for (var i = 0; i < kinds.length; i++) if (kinds[i].kind === kind) return kinds[i];
      return null;
    }
    function fieldOf(kind, name) {
      var d = descriptor(kind);
      if (!d) return null;
      for (var i = 0; i < d.fields.length; i++) if (d.fields[i].name === name) return d.fields[i];
      return null;
    }
    // While the dialog is open, the kind chosen in it decides which rules apply.
    function currentKind(node) {
      var select = $('#node-config-input-kind');
      return select.length && select.data('soar-editing') === node.id ? select.val() : node.kind;
    }
    // A group such as a feed's file or URL: one of them is enough.
    function oneOfFilled(node, field) {
      var d = descriptor(currentKind(node));
      var editing = $('#node-config-input-kind').data('soar-editing') === node.id;
      return d.fields.some(function (g) {
        if (g.oneOf !== field.oneOf) return false;
        // Credentials reach the editor only when the dialog opens: until then, assume the key is there.
        if (g.credential && !editing && !node.credentials) return true;
        var v =
          editing && $('#node-config-input-' + g.name).length
            ? $('#node-config-input-' + g.name).val()
            : g.credential
              ? node.credentials && (node.credentials[g.name] || node.credentials['has_' + g.name])
              : node[g.name];
        return v !== undefined && v !== null && v !== false && String(v).trim() !== '';
      });
    }
    function fieldValidator(name) {
      return function (v) {
        var f = fieldOf(currentKind(this), name);
        if (!f) return true;
        var empty = v === undefined || v === null || String(v).trim() === '';
        if (empty && f.oneOf) return oneOfFilled(this, f);
        if (empty) return !f.required;
        if (f.type === 'number') {
          var n = Number(v);
          return isFinite(n) && (f.min === undefined || n >= f.min);
        }
        if (f.pattern && f.type === 'string') return new RegExp(f.pattern).test(String(v).trim());
        return true;
      };
    }

    /** Adds every kind's fields to the node type's defaults and credentials: a kind added later needs no edit. */
    function addFields(defaults, credentials) {
      kinds.forEach(function (d) {
        d.fields.forEach(function (f) {
          if (f.credential) {
            credentials[f.name] = credentials[f.name] || { type: 'password' };
            return;
          }
          if (!defaults[f.name]) defaults[f.name] = { value: f.default !== undefined ? f.default : f.type === 'boolean' ? false : '' };
          if (f.type !== 'boolean' && f.type !== 'select') defaults[f.name].validate = fieldValidator(f.name);
        });
      });
    }

    /**
     * oneditprepare: the kind list, one row per field of any kind (shown for the chosen kind only),
     * validation marks. onShow(d, tr) shows what the node's form adds for the chosen kind.
     */
    function prepare(node, onShow) {
      var ns = opts.namespace;
      var tr = function (key, fallback) {
        var out = node._(ns + '.' + key);
        return out && out.indexOf(ns + '.') < 0 ? out : fallback;
      };
      var select = $('#node-config-input-kind').empty().data('soar-editing', node.id);
      kinds.forEach(function (d) {
        $('<option>')
          .val(d.kind)
          .text(tr('kind.' + d.kind, d.label))
          .appendTo(select);
      });
      var box = $('#' + opts.box).empty();
      var rows = {};
      kinds.forEach(function (d) {
        d.fields.forEach(function (f) {
          if (rows[f.name] || f.hidden) return;
          var id = 'node-config-input-' + f.name;
          var row = $('<div class="form-row">').addClass(opts.rowClass).attr('data-field', f.name).appendTo(box);
          $('<label>')
            .attr('for', id)
            .text(tr('label.' + f.name, f.name))
            .appendTo(row);
          row.append(' '); // as between the label and the input of a template row: the inputs line up
          var input;
          if (f.type === 'boolean') {
            input = $('<input type="checkbox" style="width:auto">').prop(
              'checked',
              node[f.name] === undefined ? f.default !== false : node[f.name] === true || node[f.name] === 'true',
            );
          } else if (f.type === 'select') {
            input = $("<select style='width:auto'>");
            (f.options || []).forEach(function (o) {
              $('<option>').val(o).text(o).appendTo(input);
            });
            input.val(node[f.name] !== undefined && node[f.name] !== '' ? node[f.name] : f.default);
          } else if (f.type === 'text' || f.type === 'secret-text') {
            input = $('<textarea rows="4" style="width:70%; font-family:monospace; font-size:11px" spellcheck="false">');
          } else {
            input = $('<input>').attr('type', f.credential ? 'password' : 'text');
            if (f.type === 'number') input.css('width', '80px');
          }
          input.attr('id', id).appendTo(row);
          if (f.placeholder) input.attr('placeholder', f.placeholder);
          if (f.credential) {
            var has = node.credentials && (node.credentials['has_' + f.name] || node.credentials[f.name]);
            input.val(node.credentials && node.credentials[f.name] ? node.credentials[f.name] : has ? '__PWRD__' : '');
          } else if (f.type !== 'boolean' && f.type !== 'select') {
            input.val(node[f.name] !== undefined ? node[f.name] : f.default !== undefined ? f.default : '');
          }
          var hint = tr('hint.' + f.name, '');
          if (hint) $('<div class="form-tips" style="margin-left:105px">').text(hint).appendTo(row);
          rows[f.name] = row;
        });
      });
      function check() {
        var kind = select.val();
        box.find('[data-field]').each(function () {
          var name = $(this).attr('data-field');
          var f = fieldOf(kind, name);
          var input = $('#node-config-input-' + name);
          if (!f || f.credential || f.type === 'boolean' || f.type === 'select') {
            input.removeClass('input-error');
            return;
          }
          input.toggleClass('input-error', !fieldValidator(name).call(node, input.val()));
        });
      }
      function show() {
        var d = descriptor(select.val());
        box.find('[data-field]').hide();
        (d ? d.fields : []).forEach(function (f) {
          if (f.hidden) return;
          box.find('[data-field="' + f.name + '"]').show();
          // Rows are shared by kinds: the placeholder is the chosen kind's own.
          fitPlaceholder($('#node-config-input-' + f.name)[0], f.placeholder || '');
        });
        if (onShow) onShow(d, tr);
        check();
      }
      select.val(node.kind || opts.defaultKind).on('change', show);
      box.on('change keyup', 'input,textarea,select', check);
      show();
    }

    return { descriptor: descriptor, fieldOf: fieldOf, fieldValidator: fieldValidator, addFields: addFields, prepare: prepare };
  }

  /**
   * Sets an input's placeholder, cut in the middle when it is wider than the box (a default URL
   * keeps its host and its file name: "https://www.cisa.gov/…/known_exploited_vulnerabilities.json");
   * the whole text is then the tooltip. Measured once the dialog is laid out.
   */
  function fitPlaceholder(el, text, tries) {
    if (!el) return;
    el.setAttribute('placeholder', text);
    if (el.tagName !== 'INPUT' || !text) return el.removeAttribute('title');
    if (el.clientWidth === 0) {
      // Not laid out yet (the tray is opening) or hidden: try again shortly.
      if ((tries || 0) < 20 && $(el).is(':visible'))
        setTimeout(function () {
          if (el.getAttribute('placeholder') === text) fitPlaceholder(el, text, (tries || 0) + 1);
        }, 50);
      return;
    }
    var style = root.getComputedStyle(el);
    var ctx = (fitPlaceholder.canvas = fitPlaceholder.canvas || root.document.createElement('canvas')).getContext('2d');
    ctx.font = style.font;
    var room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 2;
    if (ctx.measureText(text).width <= room) return el.removeAttribute('title');
    var head = Math.ceil(text.length / 2);
    var tail = text.length - head;
    var cut = text;
    while ((head > 1 || tail > 1) && ctx.measureText(cut).width > room) {
      if (head >= tail) head--;
      else tail--;
      cut = text.slice(0, head) + '\u2026' + text.slice(text.length - tail);
    }
    el.setAttribute('placeholder', cut);
    el.setAttribute('title', text);
  }

  SoarKindForm.fitPlaceholder = fitPlaceholder;
  root.SoarKindForm = SoarKindForm;
})(typeof window !== 'undefined' ? window : this);
