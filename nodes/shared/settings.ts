/**
 * Numeric node settings parsed strictly: blank is the documented default, a value the library
 * accepts is kept as written (0 included where it means something), anything else is an error the
 * node reports and the action it governs refuses — never a silent default.
 */

export interface NumberRule {
  /** Used when the field is blank (or absent: flows saved before the setting existed). */
  default: number;
  /** Smallest accepted value (inclusive). */
  min: number;
  /** True: min itself is refused (e.g. "> 0"). */
  exclusiveMin?: boolean;
  integer?: boolean;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export function numberSetting(label: string, raw: unknown, rule: NumberRule): Parsed<number> {
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) return { ok: true, value: rule.default };
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw.trim()) : NaN;
  const shown = JSON.stringify(raw);
  const bound = `${rule.exclusiveMin ? '>' : '≥'} ${rule.min}`;
  if (!Number.isFinite(n)) return { ok: false, error: `${label} must be a ${rule.integer ? 'whole ' : ''}number ${bound}, got ${shown}` };
  if (rule.integer && !Number.isInteger(n)) return { ok: false, error: `${label} must be a whole number ${bound}, got ${shown}` };
  if (n < rule.min || (rule.exclusiveMin && n === rule.min)) return { ok: false, error: `${label} must be ${bound}, got ${shown}` };
  return { ok: true, value: n };
}

/** Collects the errors of several settings; value() returns the parsed number or the default. */
export class SettingsParser {
  readonly errors: string[] = [];
  number(label: string, raw: unknown, rule: NumberRule): number {
    const parsed = numberSetting(label, raw, rule);
    if (parsed.ok) return parsed.value;
    this.errors.push(parsed.error);
    return rule.default;
  }
}
