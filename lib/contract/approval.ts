/**
 * What you approve is what runs: the digest of an approval's decisive fields, and the one check every
 * action node calls before acting on an approved message. The digest is SHA-256 over a canonical JSON
 * of [path, value] pairs (object keys sorted; a missing field is [path] alone, so absent and null differ).
 */
import { createHash } from 'node:crypto';

/** The decisive field when none is configured: the address a block action would act on. */
export const DEFAULT_APPROVAL_FIELDS: readonly string[] = Object.freeze(['alert.source.ip']);

const PATH_SYNTAX = /^[A-Za-z_$][\w$-]*(\.[\w$-]+)*$/;

/** A dotted message path (without the leading "msg."), e.g. alert.source.ip; throws on anything else. */
export function checkFieldPath(path: unknown): string {
  if (typeof path !== 'string' || !PATH_SYNTAX.test(path)) {
    throw new TypeError(`decisive field must be a dotted message path such as alert.source.ip (got ${JSON.stringify(String(path)).slice(0, 80)})`);
  }
  return path;
}

function own(value: unknown, key: string): boolean {
  return value !== null && typeof value === 'object' && Object.prototype.hasOwnProperty.call(value, key);
}

/** The value at a dotted path; `found` false when some step is missing. */
export function readPath(msg: unknown, path: string): { found: boolean; value?: unknown } {
  let current: unknown = msg;
  for (const step of path.split('.')) {
    if (!own(current, step)) return { found: false };
    current = (current as Record<string, unknown>)[step];
  }
  return current === undefined ? { found: false } : { found: true, value: current };
}

/** JSON with object keys sorted at every level; undefined members dropped as JSON does. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return 'null';
    if (typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol') {
      throw new TypeError(`cannot digest a ${typeof value}`);
    }
    return JSON.stringify(value) ?? 'null';
  }
  if (Buffer.isBuffer(value)) return JSON.stringify({ $buffer: value.toString('base64') });
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  const keys = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** sha256:<hex> over [[path, value] | [path], ...] in the order given. */
export function approvalDigest(msg: unknown, fields: readonly string[]): string {
  const pairs = fields.map((path) => {
    const at = readPath(msg, checkFieldPath(path));
    return at.found ? [path, at.value] : [path];
  });
  return `sha256:${createHash('sha256').update(canonicalJson(pairs)).digest('hex')}`;
}

export type ApprovalCheck = { ok: true; id: string } | { ok: false; reason: string };

function flatValues(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(flatValues);
  if (typeof value === 'string' || typeof value === 'number') return [String(value)];
  return [];
}

/**
 * What a decisive field covers: its string or number, the ones in its list, or the keys of a map keyed
 * by indicator value (enrichment.indicators), so approving a verdict's indicators covers the addresses
 * block IP derives from them.
 */
export function coveredValuesOf(value: unknown): string[] {
  const isMap = value !== null && typeof value === 'object' && !Array.isArray(value) && !Buffer.isBuffer(value) && !(value instanceof Date);
  return isMap ? Object.keys(value) : flatValues(value);
}

/**
 * The shared check before an action: msg.approval must be approved, its digest must match the decisive
 * fields as they are now, and (when `target` is given) the target must be one of those fields' values
 * (or keys, for a map such as enrichment.indicators), so an approval to block one address never lets
 * another one through.
 */
export function verifyApproval(msg: unknown, target?: string): ApprovalCheck {
  const approval = own(msg, 'approval') ? (msg as { approval: unknown }).approval : undefined;
  if (approval === undefined || approval === null || typeof approval !== 'object')
    return { ok: false, reason: 'the message carries no approval (msg.approval)' };
  const a = approval as { id?: unknown; decision?: unknown; digest?: unknown; fields?: unknown };
  const id = typeof a.id === 'string' && a.id !== '' ? a.id : undefined;
  if (id === undefined) return { ok: false, reason: 'msg.approval has no id' };
  if (a.decision !== 'approved') {
    const decision = typeof a.decision === 'string' ? a.decision : 'no decision';
    return { ok: false, reason: `approval ${id} was ${decision}, not approved` };
  }
  if (!Array.isArray(a.fields) || a.fields.length === 0 || typeof a.digest !== 'string') {
    return { ok: false, reason: `approval ${id} names no decisive fields or digest` };
  }
  let now: string;
  try {
    now = approvalDigest(msg, a.fields as string[]);
  } catch (err) {
    return { ok: false, reason: `approval ${id}: ${(err as Error).message}` };
  }
  if (now !== a.digest) {
    return { ok: false, reason: `approval ${id} does not match the message any more: ${(a.fields as string[]).join(', ')} changed after it was approved` };
  }
  if (target !== undefined) {
    const approved = new Set((a.fields as string[]).flatMap((path) => coveredValuesOf(readPath(msg, path).value)));
    if (!approved.has(target)) return { ok: false, reason: `approval ${id} does not cover ${target} (it covers ${(a.fields as string[]).join(', ')})` };
  }
  return { ok: true, id };
}
