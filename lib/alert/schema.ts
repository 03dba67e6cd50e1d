/**
 * The published JSON Schema (schema/soar-alert.schema.json), compiled once with ajv, and
 * validateAlert() turning ajv's first error into "field.path: what is wrong".
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv, { type ErrorObject } from 'ajv';
import { isIp } from './values';

const SCHEMA_FILE = 'soar-alert.schema.json';

/**
 * The schema lives at the package root (published as is for users' tooling). This module runs
 * from lib/alert (tests, via tsx) or dist/lib/alert (compiled), so look two and three levels up.
 */
function loadSchema(): object {
  const candidates = [path.join(__dirname, '..', '..', 'schema', SCHEMA_FILE), path.join(__dirname, '..', '..', '..', 'schema', SCHEMA_FILE)];
  for (const file of candidates) {
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')) as object;
  }
  throw new Error(`${SCHEMA_FILE} not found next to the package (looked in ${candidates.join(', ')})`);
}

export const alertSchema: object = loadSchema();

// RFC 3339 date-time (what toISOString() writes, and what replayed alerts may carry).
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;
const URI_SCHEME = /^[a-z][a-z0-9+.-]*:/i;

const ajv = new Ajv({ allErrors: false, strict: true });
ajv.addFormat('date-time', { type: 'string', validate: (s: string) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)) });
ajv.addFormat('ipv4', { type: 'string', validate: (s: string) => !s.includes(':') && isIp(s) });
ajv.addFormat('ipv6', { type: 'string', validate: (s: string) => s.includes(':') && isIp(s) });
ajv.addFormat('uri', {
  type: 'string',
  validate: (s: string) => {
    if (!URI_SCHEME.test(s)) return false;
    try {
      new URL(s);
      return true;
    } catch {
      return false;
    }
  },
});

const validate = ajv.compile(alertSchema);

const ESCAPED_SLASH = /~1/g;
const ESCAPED_TILDE = /~0/g;
const INDEX = /^\d+$/;

/** "/observables/0/type" -> "observables[0].type" */
function dottedPath(instancePath: string): string {
  if (instancePath === '') return '';
  let out = '';
  for (const part of instancePath.slice(1).split('/')) {
    const key = part.replace(ESCAPED_SLASH, '/').replace(ESCAPED_TILDE, '~');
    if (INDEX.test(key)) out += `[${key}]`;
    else out += out === '' ? key : `.${key}`;
  }
  return out;
}

function describe(err: ErrorObject): string {
  const at = dottedPath(err.instancePath);
  const join = (child: string) => (at === '' ? child : `${at}.${child}`);
  switch (err.keyword) {
    case 'required':
      return `${join(String(err.params.missingProperty))}: is required`;
    case 'additionalProperties':
      return `${join(String(err.params.additionalProperty))}: is not allowed`;
    case 'anyOf':
      return `${at || '(alert)'}: must be an IPv4 or IPv6 address`;
    case 'const':
      return `${at || '(alert)'}: must be ${JSON.stringify(err.params.allowedValue)}`;
    case 'enum':
      return `${at || '(alert)'}: must be one of ${(err.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${at || '(alert)'}: ${err.message ?? 'is invalid'}`;
  }
}

/** [] when the value is a valid soar.alert/1 alert; else human-readable errors naming the field. */
export function validateAlert(alert: unknown): string[] {
  if (validate(alert)) return [];
  const errors = validate.errors ?? [];
  // With allErrors off ajv stops at the first failure; for anyOf it also lists the branches tried,
  // so report the outermost (last) error.
  const err = errors[errors.length - 1];
  return err ? [describe(err)] : ['(alert): is invalid'];
}
