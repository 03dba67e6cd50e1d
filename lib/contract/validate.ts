/**
 * ajv validators for each message part of the contract (./types), compiled once from the JSON
 * Schemas published in schema/. msg.alert is checked by the alert's own validator (lib/alert/schema).
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { validateAlert } from '../alert/schema';

export const CONTRACT_SCHEMAS = {
  iocs: 'soar-iocs.schema.json',
  enrichment: 'soar-enrichment.schema.json',
  actions: 'soar-actions.schema.json',
  approval: 'soar-approval.schema.json',
} as const;
export type ContractPart = keyof typeof CONTRACT_SCHEMAS | 'alert';

/** schema/ sits at the package root: two levels up from lib/contract (tsx), three from dist/lib/contract. */
function loadSchema(file: string): object {
  const candidates = [path.join(__dirname, '..', '..', 'schema', file), path.join(__dirname, '..', '..', '..', 'schema', file)];
  for (const candidate of candidates) {
    if (fs.existsSync(candidate)) return JSON.parse(fs.readFileSync(candidate, 'utf8')) as object;
  }
  throw new Error(`${file} not found next to the package (looked in ${candidates.join(', ')})`);
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;
const ajv = new Ajv({ allErrors: false, strict: true });
ajv.addFormat('date-time', { type: 'string', validate: (s: string) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)) });

const validators = new Map<string, ValidateFunction>();
function validator(part: keyof typeof CONTRACT_SCHEMAS): ValidateFunction {
  let fn = validators.get(part);
  if (!fn) {
    fn = ajv.compile(loadSchema(CONTRACT_SCHEMAS[part]));
    validators.set(part, fn);
  }
  return fn;
}

function describe(part: string, err: ErrorObject): string {
  const at = `${part}${err.instancePath.replace(/\//g, '.')}`;
  if (err.keyword === 'required') return `${at}.${String(err.params.missingProperty)}: is required`;
  if (err.keyword === 'additionalProperties') return `${at}.${String(err.params.additionalProperty)}: is not allowed`;
  if (err.keyword === 'enum') return `${at}: must be one of ${(err.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  return `${at}: ${err.message ?? 'is invalid'}`;
}

/** [] when `value` is a valid msg.<part>; else readable errors naming the field. */
export function validatePart(part: ContractPart, value: unknown): string[] {
  if (part === 'alert') return validateAlert(value).map((e) => `alert.${e}`);
  const fn = validator(part);
  if (fn(value)) return [];
  const err = (fn.errors ?? [])[0];
  return [err ? describe(part, err) : `${part}: is invalid`];
}

/** Every contract part present on the message, checked: [] when all are valid. */
export function validateMessage(msg: Record<string, unknown>): string[] {
  const errors: string[] = [];
  for (const part of ['alert', ...Object.keys(CONTRACT_SCHEMAS)] as ContractPart[]) {
    if (msg[part] !== undefined) errors.push(...validatePart(part, msg[part]));
  }
  return errors;
}
