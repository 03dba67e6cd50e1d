/**
 * Already normalised alerts (schema "soar.alert/1"), e.g. replayed from the audit log: kept as
 * they are (id and fingerprint included) apart from a fresh `received`; the caller re-validates.
 */
import type { FormatAdapter } from '../types';
import { own } from '../util';

export const SOAR_SCHEMA = 'soar.alert/1';

export function isSoarAlert(item: unknown): boolean {
  return own(item, 'schema') === SOAR_SCHEMA;
}

/** A shallow copy with `received` refreshed; `raw` is null when the replay carries none (audit records omit it). */
export function reuseAlert(item: Record<string, unknown>, receivedIso: string): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...item, received: receivedIso };
  if (!('raw' in copy)) copy.raw = null;
  return copy;
}

export const soar: FormatAdapter = {
  format: 'soar',
  detect: isSoarAlert,
  missing(item) {
    return isSoarAlert(item) ? undefined : `no schema "${SOAR_SCHEMA}" (expected an alert this package normalised)`;
  },
  map() {
    // Never used: normalise() passes soar items through reuseAlert() instead of mapping them.
    throw new Error('soar alerts are reused, not mapped');
  },
};
