/** Config fields as the editor stores them (strings from text inputs and textareas) -> values. */
import { Allowlist } from '../../lib/ioc';

/** Lines (or commas) of a textarea field -> trimmed non-empty entries; '#' starts a comment. */
export function listField(value: unknown): string[] {
  if (typeof value !== 'string') return [];
  return value
    .split(/[\n,]/)
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean);
}

/** A JSON object field of string -> string (field maps); throws a readable error. */
export function mapField(value: unknown, label: string): Record<string, string> | undefined {
  if (typeof value !== 'string' || !value.trim()) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new Error(`${label} is not valid JSON`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${label} must be a JSON object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new Error(`${label}: the value of "${k}" must be a string path`);
    out[k] = v;
  }
  return out;
}

/**
 * Lenient: anything but a positive number becomes the fallback. Only for settings where that is
 * harmless (timeouts, budgets); a safety setting goes through numberSetting (./settings) instead.
 */
export function positiveNumber(value: unknown, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

/** One allowlist textarea: CIDRs and addresses, "*.example.com"/".example.com" suffixes, other exact values. */
export function parseAllowlistLines(lines: string[]): Allowlist {
  const values: string[] = [];
  const cidrs: string[] = [];
  const domainSuffixes: string[] = [];
  for (const line of lines) {
    if (/^[0-9a-f:.]+\/\d{1,3}$/i.test(line) || /^\d{1,3}(\.\d{1,3}){3}$/.test(line) || (line.includes(':') && /^[0-9a-f:]+$/i.test(line)))
      cidrs.push(line.includes('/') ? line : `${line}/${line.includes(':') ? 128 : 32}`);
    else if (line.startsWith('*.') || line.startsWith('.')) domainSuffixes.push(line.replace(/^\*?\./, ''));
    else values.push(line);
  }
  return new Allowlist({ values, cidrs, domainSuffixes });
}
