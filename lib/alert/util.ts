/**
 * Small, allocation-light helpers the adapters share for reading loosely shaped JSON.
 */
import type { Severity } from './types';
import { sliceWhole } from '../core/text';

export type JsonObject = Record<string, unknown>;

export function isRecord(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const hasOwn = Object.prototype.hasOwnProperty;

/** An own property only: never reaches into Object.prototype (`constructor`, `toString`, ...). */
export function own(obj: unknown, key: string): unknown {
  if (typeof obj !== 'object' || obj === null) return undefined;
  return hasOwn.call(obj, key) ? (obj as JsonObject)[key] : undefined;
}

/** A child object, or undefined. */
export function obj(parent: unknown, key: string): JsonObject | undefined {
  const v = own(parent, key);
  return isRecord(v) ? v : undefined;
}

/** A child array, or undefined. */
export function arr(parent: unknown, key: string): unknown[] | undefined {
  const v = own(parent, key);
  return Array.isArray(v) ? v : undefined;
}

/** A non-empty trimmed string; finite numbers become strings (ids, ports and levels arrive as either). */
export function str(value: unknown): string | undefined {
  if (typeof value === 'string') {
    const t = value.trim();
    return t === '' ? undefined : t;
  }
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** The first argument that is not undefined, null or an empty string. */
export function first(...values: unknown[]): unknown {
  for (const v of values) {
    if (v === undefined || v === null) continue;
    if (typeof v === 'string' && v.trim() === '') continue;
    return v;
  }
  return undefined;
}

/** A finite number from a number or a numeric string; anything else (including 1e400) is undefined. */
export function num(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/**
 * A dotted path compiled once: lookups try flat dotted keys ("kibana.alert.uuid" as one key, as in
 * Elastic alert documents) as well as nesting, longest key first, without re-splitting per call.
 */
export interface CompiledPath {
  readonly text: string;
  readonly segs: readonly string[];
  /** keys[start][end] = segs.slice(start, end).join(".") */
  readonly keys: readonly (readonly string[])[];
}

export function compilePath(text: string): CompiledPath {
  const segs = text.split('.');
  const keys: string[][] = [];
  for (let start = 0; start < segs.length; start++) {
    const row: string[] = [];
    for (let end = 0; end <= segs.length; end++) row.push(end > start ? segs.slice(start, end).join('.') : '');
    keys.push(row);
  }
  return { text, segs, keys };
}

function lookupFrom(value: unknown, path: CompiledPath, start: number): unknown {
  if (start === path.segs.length) return value;
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    const seg = path.segs[start];
    const index = Number(seg);
    if (!Number.isInteger(index) || index < 0 || index >= value.length) return undefined;
    return lookupFrom(value[index], path, start + 1);
  }
  const row = path.keys[start];
  for (let end = path.segs.length; end > start; end--) {
    const key = row[end];
    if (hasOwn.call(value, key)) {
      const found = lookupFrom((value as JsonObject)[key], path, end);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

export function lookup(value: unknown, path: CompiledPath): unknown {
  return lookupFrom(value, path, 0);
}

const compiledCache = new Map<string, CompiledPath>();

/** lookup() for paths that come from configuration (field maps); compiled once and cached. */
export function lookupText(value: unknown, text: string): unknown {
  let path = compiledCache.get(text);
  if (!path) {
    path = compilePath(text);
    // Field maps are small and fixed per node; the bound only guards against misuse.
    if (compiledCache.size < 1000) compiledCache.set(text, path);
  }
  return lookupFrom(value, path, 0);
}

export const SEVERITY_NAMES: readonly string[] = ['unknown', 'informational', 'low', 'medium', 'high', 'critical', 'fatal'];

const SEVERITY_WORDS: ReadonlyMap<string, Severity> = new Map<string, Severity>([
  ['unknown', 0],
  ['none', 0],
  ['info', 1],
  ['informational', 1],
  ['information', 1],
  ['notice', 1],
  ['debug', 1],
  ['low', 2],
  ['minor', 2],
  ['medium', 3],
  ['moderate', 3],
  ['warning', 3],
  ['warn', 3],
  ['high', 4],
  ['error', 4],
  ['major', 4],
  ['severe', 4],
  ['critical', 5],
  ['crit', 5],
  ['emergency', 6],
  ['fatal', 6],
]);

/**
 * The shared word table (docs/vendor-facts.md §A.0: critical->5, error/high->4, warning->3, info->1),
 * completed with the usual synonyms. Unknown words give undefined.
 */
export function severityFromWord(word: unknown): Severity | undefined {
  if (typeof word !== 'string') return undefined;
  return SEVERITY_WORDS.get(word.trim().toLowerCase());
}

/** 0..6 integers (numbers or numeric strings) as OCSF severity ids. */
export function severityFromNumber(value: unknown): Severity | undefined {
  const n = num(value);
  return n !== undefined && Number.isInteger(n) && n >= 0 && n <= 6 ? (n as Severity) : undefined;
}

/** Strings of an array (or a single string), skipping anything else. */
export function strings(value: unknown): string[] {
  if (typeof value === 'string') return value.trim() ? [value.trim()] : [];
  if (!Array.isArray(value)) return [];
  const out: string[] = [];
  for (const v of value) {
    const s = str(v);
    if (s !== undefined) out.push(s);
  }
  return out;
}

/** Short, single-line text for messages: never echoes a huge or multi-line input value. */
const LINE_BREAKS = /[\r\n\t]+/g;

export function clip(text: string, max = 60): string {
  const oneLine = text.replace(LINE_BREAKS, ' ');
  return oneLine.length > max ? `${sliceWhole(oneLine, max)}…` : oneLine;
}

/** "a string", "an array", ... for messages about unexpected JSON values. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'object':
      return 'an object';
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    default:
      return typeof value;
  }
}
