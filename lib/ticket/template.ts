/**
 * Mustache-style templates for ticket titles, bodies and comments. Node-RED-free, pure.
 *
 * Supported: `{{a.b}}`, `{{.}}`, sections `{{#list}}…{{/list}}` (arrays repeat, objects and true
 * values render once with themselves as context), inverted sections `{{^x}}…{{/x}}`, comments
 * `{{! … }}`, and `{{{x}}}` / `{{&x}}` for unescaped output when HTML escaping is on.
 * Not supported, refused at compile time: partials, delimiter changes. Functions in the data are
 * never called (a function counts as missing): a template cannot execute anything.
 * Lookups use own properties only, so `{{constructor}}` or `{{__proto__}}` find nothing.
 */

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

type Node =
  | { t: 'text'; text: string }
  | { t: 'var'; path: string[]; raw: string; escape: boolean; line: number }
  | { t: 'section'; path: string[]; raw: string; inverted: boolean; children: Node[]; line: number };

export interface CompiledTemplate {
  readonly source: string;
  /** Every path the template reads outside any section (checked against the known roots). */
  readonly topPaths: string[];
  render(view: unknown, options?: RenderOptions): RenderResult;
}

export interface CompileOptions {
  /**
   * First path segments a message can have. A top-level reference to anything else is refused
   * (a typo such as `{{alrt.title}}` is caught at deploy, not as an empty ticket). Omit to allow all.
   */
  roots?: readonly string[];
  /** Longest accepted template (characters). Default 65,536. */
  maxLength?: number;
}

export interface RenderOptions {
  /**
   * How `{{x}}` values are escaped: "none" (default), "html" (& < > " '), or a function (a tracker's
   * escaper, lib/ticket/markup.ts). `{{{x}}}` and `{{&x}}` are never escaped.
   */
  escape?: 'none' | 'html' | ((text: string) => string);
  /** Output cap (characters); rendering stops with a TemplateError past it. Default 1,000,000. */
  maxOutput?: number;
}

export interface RenderResult {
  text: string;
  /** Variables that were referenced but absent (rendered as empty), each once, in order of first use. */
  missing: string[];
}

/** The roots of a SOAR message the templates may read (plus `hub`, `sighting` and `incident`, added by the caller). */
export const MESSAGE_ROOTS: readonly string[] = [
  'alert',
  'enrichment',
  'iocs',
  'actions',
  'approval',
  'payload',
  'topic',
  'incident',
  'ticket',
  'hub',
  'sighting',
  '_msgid',
];

const MAX_DEPTH = 16;
const NAME = /^(?:\.|[A-Za-z_$][\w$-]*(?:\.(?:[A-Za-z_$][\w$-]*|\d+))*)$/;

function position(source: string, index: number): string {
  const before = source.slice(0, index);
  const line = before.split('\n').length;
  const col = index - before.lastIndexOf('\n');
  return `line ${line}, column ${col}`;
}

function parsePath(raw: string, source: string, index: number): string[] {
  const name = raw.trim();
  if (!NAME.test(name)) throw new TemplateError(`template: "{{${raw}}}" at ${position(source, index)} is not a field path (letters, digits, _ and dots)`);
  return name === '.' ? [] : name.split('.');
}

function parse(source: string): Node[] {
  const root: Node[] = [];
  const stack: Array<{ node: Extract<Node, { t: 'section' }>; index: number }> = [];
  let current = root;
  let at = 0;
  while (at < source.length) {
    const open = source.indexOf('{{', at);
    if (open < 0) {
      current.push({ t: 'text', text: source.slice(at) });
      break;
    }
    if (open > at) current.push({ t: 'text', text: source.slice(at, open) });
    const triple = source.startsWith('{{{', open);
    const close = source.indexOf(triple ? '}}}' : '}}', open + (triple ? 3 : 2));
    if (close < 0) throw new TemplateError(`template: "{{" at ${position(source, open)} is never closed`);
    const inner = source.slice(open + (triple ? 3 : 2), close);
    const line = source.slice(0, open).split('\n').length;
    at = close + (triple ? 3 : 2);
    if (triple) {
      current.push({ t: 'var', path: parsePath(inner, source, open), raw: inner.trim(), escape: false, line });
      continue;
    }
    const sigil = inner.trimStart()[0];
    const rest = inner.trimStart().slice(1);
    switch (sigil) {
      case '!':
        break;
      case '>':
        throw new TemplateError(`template: partials ("{{>…}}" at ${position(source, open)}) are not supported`);
      case '=':
        throw new TemplateError(`template: delimiter changes ("{{=…=}}" at ${position(source, open)}) are not supported`);
      case '&':
        current.push({ t: 'var', path: parsePath(rest, source, open), raw: rest.trim(), escape: false, line });
        break;
      case '#':
      case '^': {
        if (stack.length >= MAX_DEPTH) throw new TemplateError(`template: sections nested deeper than ${MAX_DEPTH} at ${position(source, open)}`);
        const node: Extract<Node, { t: 'section' }> = {
          t: 'section',
          path: parsePath(rest, source, open),
          raw: rest.trim(),
          inverted: sigil === '^',
          children: [],
          line,
        };
        current.push(node);
        stack.push({ node, index: open });
        current = node.children;
        break;
      }
      case '/': {
        const top = stack.pop();
        const name = rest.trim();
        if (!top) throw new TemplateError(`template: "{{/${name}}}" at ${position(source, open)} closes a section that was never opened`);
        if (top.node.raw !== name) {
          throw new TemplateError(
            `template: "{{/${name}}}" at ${position(source, open)} does not match "{{#${top.node.raw}}}" at ${position(source, top.index)}`,
          );
        }
        current = stack.length ? stack[stack.length - 1].node.children : root;
        break;
      }
      default:
        if (inner.trim() === '') throw new TemplateError(`template: empty "{{}}" at ${position(source, open)}`);
        current.push({ t: 'var', path: parsePath(inner, source, open), raw: inner.trim(), escape: true, line });
    }
  }
  if (stack.length) {
    const top = stack[stack.length - 1];
    throw new TemplateError(`template: section "{{#${top.node.raw}}}" at ${position(source, top.index)} is never closed`);
  }
  return root;
}

const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

function step(value: unknown, key: string): { found: boolean; value?: unknown } {
  if (value === null || value === undefined) return { found: false };
  if (typeof value !== 'object') return { found: false };
  if (!has(value, key)) return { found: false };
  const next = (value as Record<string, unknown>)[key];
  return typeof next === 'function' ? { found: false } : { found: true, value: next };
}

/** Mustache lookup: the first segment from the innermost context that has it, the rest from there. */
function lookup(stack: unknown[], path: string[]): { found: boolean; value?: unknown } {
  if (path.length === 0) return { found: true, value: stack[stack.length - 1] };
  for (let i = stack.length - 1; i >= 0; i -= 1) {
    const first = step(stack[i], path[0]);
    if (!first.found) continue;
    let value = first.value;
    for (const key of path.slice(1)) {
      const next = step(value, key);
      if (!next.found) return { found: false };
      value = next.value;
    }
    return { found: true, value };
  }
  return { found: false };
}

function scalarText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value) && value.every((v) => v === null || typeof v !== 'object')) return value.map(scalarText).join(', ');
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) ?? '';
  } catch {
    return '[unprintable]';
  }
}

const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return Boolean(value) && typeof value !== 'function';
}

export function compileTemplate(source: string, options: CompileOptions = {}): CompiledTemplate {
  if (typeof source !== 'string') throw new TemplateError('template: must be text');
  const maxLength = options.maxLength ?? 65_536;
  if (source.length > maxLength) throw new TemplateError(`template: ${source.length} characters, at most ${maxLength}`);
  const nodes = parse(source);
  const topPaths: string[] = [];
  for (const node of nodes) if (node.t !== 'text') topPaths.push(node.raw);
  if (options.roots) {
    const roots = new Set(options.roots);
    for (const node of nodes) {
      if (node.t === 'text' || node.path.length === 0) continue;
      if (!roots.has(node.path[0])) {
        throw new TemplateError(`template: "${node.raw}" (line ${node.line}) is not a message field; fields start with ${[...roots].join(', ')}`);
      }
    }
  }

  return {
    source,
    topPaths,
    render(view: unknown, renderOptions: RenderOptions = {}): RenderResult {
      const escape =
        typeof renderOptions.escape === 'function'
          ? renderOptions.escape
          : renderOptions.escape === 'html'
            ? (text: string) => text.replace(/[&<>"']/g, (c) => HTML[c])
            : undefined;
      const maxOutput = renderOptions.maxOutput ?? 1_000_000;
      const missing: string[] = [];
      const seen = new Set<string>();
      const out: string[] = [];
      let size = 0;
      const emit = (text: string) => {
        size += text.length;
        if (size > maxOutput) throw new TemplateError(`template: output over ${maxOutput} characters`);
        out.push(text);
      };
      const miss = (path: string) => {
        if (!seen.has(path)) {
          seen.add(path);
          missing.push(path);
        }
      };
      const walk = (list: Node[], stack: unknown[]) => {
        for (const node of list) {
          if (node.t === 'text') {
            emit(node.text);
            continue;
          }
          const got = lookup(stack, node.path);
          if (node.t === 'var') {
            if (!got.found || got.value === undefined) {
              miss(node.raw);
              continue;
            }
            const text = scalarText(got.value);
            emit(escape && node.escape ? escape(text) : text);
            continue;
          }
          // An absent section is plain "false" in mustache: conditionals over optional fields are normal.
          const on = got.found && truthy(got.value);
          if (node.inverted) {
            if (!on) walk(node.children, stack);
            continue;
          }
          if (!on) continue;
          if (Array.isArray(got.value)) {
            for (const item of got.value) walk(node.children, [...stack, item]);
          } else if (typeof got.value === 'object') {
            walk(node.children, [...stack, got.value]);
          } else {
            walk(node.children, stack);
          }
        }
      };
      walk(nodes, [view]);
      return { text: out.join(''), missing };
    },
  };
}

/** Compile and render in one go (tests, one-off text). */
export function renderTemplate(source: string, view: unknown, options: RenderOptions & CompileOptions = {}): RenderResult {
  return compileTemplate(source, options).render(view, options);
}
