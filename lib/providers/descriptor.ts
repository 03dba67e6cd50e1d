/**
 * Provider descriptors: one object per provider kind (one file each, under lib/<family>/kinds/) that
 * says everything the rest of the pack needs to know about it — its settings with their types,
 * defaults and validation, which of them are credentials, what it supports, its default budget, and
 * the factory. The registry, the config nodes, the editor forms and the README tables all read
 * descriptors, so adding a provider is one file plus its catalog strings and its test.
 * Family-neutral and Node-RED-free.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * string: one line; text: several lines (kept as typed); list: one entry per line or comma;
 * secret / secret-text: a credential (one line / several lines, e.g. a PEM key), never in the flow.
 */
export type FieldType = 'string' | 'text' | 'number' | 'boolean' | 'select' | 'list' | 'secret' | 'secret-text';

export interface FieldSpec {
  /** The config property (or credential) name; kinds that share a setting use the same name. */
  name: string;
  type: FieldType;
  /** Needed for this kind: an empty value is refused at deploy and marked in the editor. */
  required?: boolean;
  default?: string | number | boolean;
  /** select: the values offered. */
  options?: readonly string[];
  /** Placeholder shown in the editor (not a default). */
  placeholder?: string;
  /** number: the smallest accepted value. */
  min?: number;
  /** string: a regular expression (source text, so the editor can use it too) a non-empty value must match. */
  pattern?: string;
  /** What the pattern means, for the error, e.g. "an https:// URL". */
  patternHint?: string;
  /** Group of fields where one of them is enough (e.g. a feed's file or URL). */
  oneOf?: string;
  /** Read from the flow but not shown in the form (e.g. a service's API root, which tests point elsewhere). */
  hidden?: boolean;
}

export function isCredential(field: FieldSpec): boolean {
  return field.type === 'secret' || field.type === 'secret-text';
}

export type FieldValue = string | number | boolean | string[] | undefined;
export type FieldValues = Record<string, FieldValue>;

export interface ProviderDescriptor<Built = unknown, Context = unknown, Supports = Record<string, unknown>> {
  kind: string;
  /** The product's name, as the README and the editor (when the catalog has no label) show it. */
  label: string;
  /** One line for the README table: what it is and what it needs. */
  summary: string;
  fields: readonly FieldSpec[];
  supports: Supports;
  /** Default budget (the vendor's free tier or a polite rate); the user may lower it. */
  budget?: { perSecond?: number; perMinute?: number; perHour?: number; perDay?: number };
  /** Cross-field rules the field specs cannot say; returns a message, or undefined when fine. */
  check?(values: FieldValues): string | undefined;
  create(values: FieldValues, context: Context): Built;
}

/** The catalog key of a kind's label (the editor falls back to `label`). */
export function kindLabelKey(family: string, kind: string): string {
  return `${family}.kind.${kind}`;
}

function parseField(field: FieldSpec, raw: unknown, problems: string[]): FieldValue {
  const blank = raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '');
  switch (field.type) {
    case 'boolean':
      if (blank) return typeof field.default === 'boolean' ? field.default : undefined;
      return raw === true || raw === 'true';
    case 'number': {
      if (blank) return typeof field.default === 'number' ? field.default : undefined;
      const n = Number(raw);
      if (!Number.isFinite(n) || (field.min !== undefined && n < field.min)) {
        problems.push(`${field.name} must be a number${field.min !== undefined ? ` of at least ${field.min}` : ''}`);
        return undefined;
      }
      return n;
    }
    case 'list': {
      if (Array.isArray(raw))
        return raw
          .map(String)
          .map((s) => s.trim())
          .filter(Boolean);
      if (blank) return [];
      return String(raw)
        .split(/[\n,]/)
        .map((line) => line.replace(/#.*/, '').trim())
        .filter(Boolean);
    }
    case 'secret-text':
      // Kept as entered (a PEM key needs its line breaks); only surrounding blank space is dropped.
      return blank ? undefined : String(raw).replace(/\r\n/g, '\n').trim() + '\n';
    case 'secret':
      return blank ? undefined : String(raw).trim();
    case 'text':
      return blank ? (typeof field.default === 'string' ? field.default : undefined) : String(raw);
    default: {
      const value = blank ? (typeof field.default === 'string' && field.default !== '' ? field.default : undefined) : String(raw).trim();
      if (value !== undefined && field.type === 'select' && field.options && !field.options.includes(value)) {
        problems.push(`${field.name} must be one of ${field.options.join(', ')}`);
        return undefined;
      }
      if (value !== undefined && field.pattern && !new RegExp(field.pattern).test(value)) {
        problems.push(`${field.name} must be ${field.patternHint ?? `like ${field.pattern}`}`);
        return undefined;
      }
      return value;
    }
  }
}

function isEmpty(value: FieldValue): boolean {
  return value === undefined || value === '' || (Array.isArray(value) && value.length === 0);
}

/**
 * A kind's settings from a flat config object and its credentials, typed, defaulted and checked.
 * Throws one error naming every problem (never a value: credentials stay out of messages).
 */
export function readFields(
  descriptor: ProviderDescriptor<unknown, unknown, unknown>,
  config: Record<string, unknown>,
  credentials: Record<string, unknown> = {},
): FieldValues {
  const problems: string[] = [];
  const values: FieldValues = {};
  const invalid = new Set<string>();
  for (const field of descriptor.fields) {
    const before = problems.length;
    values[field.name] = parseField(field, isCredential(field) ? credentials[field.name] : config[field.name], problems);
    if (problems.length > before) invalid.add(field.name);
  }
  const missing = descriptor.fields.filter((f) => f.required && !invalid.has(f.name) && isEmpty(values[f.name])).map((f) => f.name);
  if (missing.length) problems.unshift(`needs ${missing.join(', ')}`);
  const groups = new Map<string, string[]>();
  for (const f of descriptor.fields) if (f.oneOf) groups.set(f.oneOf, [...(groups.get(f.oneOf) ?? []), f.name]);
  for (const [, names] of groups) {
    if (names.every((n) => isEmpty(values[n]))) problems.push(`needs one of ${names.join(', ')}`);
  }
  if (!problems.length) {
    const extra = descriptor.check?.(values);
    if (extra) problems.push(extra);
  }
  if (problems.length) throw new Error(`${descriptor.kind}: ${problems.join('; ')}`);
  return values;
}

/** The JSON the editor gets (functions left out): fields, supports and budget per kind. */
export function editorView(descriptors: readonly ProviderDescriptor<unknown, unknown, unknown>[]): Record<string, unknown>[] {
  return descriptors.map((d) => ({
    kind: d.kind,
    label: d.label,
    summary: d.summary,
    fields: d.fields.map((f) => ({ ...f, credential: isCredential(f) })),
    supports: d.supports,
    ...(d.budget ? { budget: d.budget } : {}),
  }));
}

/**
 * Every descriptor file in a folder (its default export or `descriptor`), in file-name order with
 * `first` in front. A new kind is found by being there: no list to edit.
 */
export function loadDescriptors<D extends { kind: string }>(dir: string, first: readonly string[] = []): D[] {
  const files = fs
    .readdirSync(dir)
    .filter((f) => /\.(js|ts)$/.test(f) && !f.endsWith('.d.ts') && !f.startsWith('index.'))
    .sort();
  const seen = new Map<string, D>();
  for (const file of files) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(dir, file)) as { default?: D; descriptor?: D };
    const d = mod.descriptor ?? mod.default;
    if (!d || typeof d.kind !== 'string') continue;
    if (seen.has(d.kind)) continue; // the same kind compiled and as source: the first found wins
    seen.set(d.kind, d);
  }
  const ordered = first.filter((k) => seen.has(k)).map((k) => seen.get(k)!);
  return [...ordered, ...[...seen.values()].filter((d) => !first.includes(d.kind))];
}
