/**
 * Field lookups by name lists (generic, Graylog fields, Alertmanager labels, Splunk CIM defaults),
 * user field maps (normalised path -> input path) and user mappers (normalised path -> value).
 */
import { DRAFT_PATHS, type AlertDraft, type DraftPath } from './types';
import { compilePath, isRecord, lookup, lookupText, type CompiledPath } from './util';

export const DRAFT_PATH_SET: ReadonlySet<string> = new Set<string>(DRAFT_PATHS);

/** Paths whose value may legitimately be an array or object (the others take a scalar). */
const COMPOUND_PATHS: ReadonlySet<string> = new Set<DraftPath>(['host.ip', 'rule.mitre', 'tags', 'file.hash']);

export type NameTable = readonly (readonly [DraftPath, readonly CompiledPath[]])[];

/** Compile {path: [input names...]} once at module load. */
export function compileNames(table: Partial<Record<DraftPath, readonly string[]>>): NameTable {
  const out: [DraftPath, CompiledPath[]][] = [];
  for (const path of DRAFT_PATHS) {
    const names = table[path];
    if (names && names.length) out.push([path, names.map(compilePath)]);
  }
  return out;
}

function usable(value: unknown, compound: boolean): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'string') return value.trim() !== '';
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.length > 0;
  return compound && isRecord(value);
}

/** For each path, the first listed input name with a usable value; paths already set are left alone. */
export function applyNames(draft: AlertDraft, source: unknown, table: NameTable, overwrite = false): void {
  for (const [path, names] of table) {
    if (!overwrite && draft[path] !== undefined) continue;
    const compound = COMPOUND_PATHS.has(path);
    for (const name of names) {
      const v = lookup(source, name);
      if (usable(v, compound)) {
        draft[path] = v;
        break;
      }
    }
  }
}

/** A user field map (normalised path -> dotted input path); mapped values override. Unknown paths are skipped. */
export function applyFieldMap(draft: AlertDraft, source: unknown, map: Record<string, string> | undefined): void {
  if (!map) return;
  for (const path of Object.keys(map)) {
    const from = map[path];
    if (!DRAFT_PATH_SET.has(path) || typeof from !== 'string' || from === '') continue;
    const v = lookupText(source, from);
    if (usable(v, COMPOUND_PATHS.has(path))) draft[path as DraftPath] = v;
  }
}

const NESTABLE: ReadonlySet<string> = new Set(['origin', 'rule', 'source', 'destination', 'host', 'user', 'file', 'file.hash', 'url', 'dns', 'dns.question']);

/**
 * A user mapper's result: {"title": ..., "source.ip": ...} or nested {"source": {"ip": ...}}.
 * Only known normalised paths are taken; `__proto__` and friends can never be written.
 */
export function applyMapped(draft: AlertDraft, mapped: Record<string, unknown>, prefix = '', depth = 0): void {
  if (depth > 3) return;
  for (const key of Object.keys(mapped)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const value = mapped[key];
    if (DRAFT_PATH_SET.has(path) && (path !== 'file.hash' || !isRecord(value) || !hasHashKeys(value))) {
      if (value !== undefined && value !== null) draft[path as DraftPath] = value;
    } else if (NESTABLE.has(path) && isRecord(value)) {
      applyMapped(draft, value, path, depth + 1);
    }
  }
}

function hasHashKeys(value: Record<string, unknown>): boolean {
  return 'md5' in value || 'sha1' in value || 'sha256' in value;
}

/** Problems in a configured field map (for the editor / deploy-time checks): unknown target paths, empty sources. */
export function fieldMapErrors(map: Record<string, unknown> | undefined): string[] {
  const errors: string[] = [];
  if (!map) return errors;
  for (const path of Object.keys(map)) {
    if (!DRAFT_PATH_SET.has(path)) errors.push(`"${path}" is not a normalised alert field (use one of ${DRAFT_PATHS.join(', ')})`);
    else if (typeof map[path] !== 'string' || map[path] === '') errors.push(`"${path}" must map to a field name`);
  }
  return errors;
}
