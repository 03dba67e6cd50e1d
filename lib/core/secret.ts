/**
 * Comparing secrets (bearer tokens, list tokens). Node-RED-free.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Constant-time equality that does not leak the secret's length either. */
export function secretEquals(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}
