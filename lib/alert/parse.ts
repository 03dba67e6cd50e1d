/**
 * Request bodies -> items: strict UTF-8, one JSON document (an array yields its items) or NDJSON
 * (one value per non-empty line), then a hostile-input pass: nesting depth bounded, prototype
 * keys removed. Every failure is an AlertInputError (400, or 415 for a content type we do not read).
 */
import { AlertInputError } from './errors';
import { clip } from './util';

export const MAX_DEPTH = 64;
export const ACCEPTED_CONTENT_TYPES = ['application/json', 'application/x-ndjson', 'application/jsonl', 'text/plain'] as const;

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const FORBIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'] as const;
const hasOwn = Object.prototype.hasOwnProperty;
const QUOTES = /^"|"$/g;

type BodyKind = 'json' | 'ndjson' | 'sniff';

function bodyKind(contentType: string | undefined): BodyKind {
  if (contentType === undefined || contentType.trim() === '') return 'sniff';
  const [mediaRaw, ...params] = contentType.split(';');
  const media = mediaRaw.trim().toLowerCase();
  for (const param of params) {
    const [name, value] = param.split('=');
    if (name?.trim().toLowerCase() !== 'charset' || value === undefined) continue;
    const charset = value.trim().replace(QUOTES, '').toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii') {
      throw new AlertInputError(`charset ${clip(charset, 40)} is not supported; send UTF-8`, 415);
    }
  }
  if (media === 'application/x-ndjson' || media === 'application/jsonl' || media === 'application/x-jsonlines' || media === 'application/jsonlines')
    return 'ndjson';
  if (media === 'application/json' || media.endsWith('+json')) return 'json';
  if (media === 'text/plain' || media === '') return 'sniff';
  throw new AlertInputError(`content type ${clip(media, 60)} is not supported; send one of ${ACCEPTED_CONTENT_TYPES.join(', ')}`, 415);
}

/** V8's message without a long echo of the input. */
function jsonMessage(err: unknown): string {
  return clip(err instanceof Error ? err.message : String(err), 160);
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    if (err instanceof RangeError) throw new AlertInputError(`${where}JSON nesting is deeper than ${MAX_DEPTH} levels`, 400);
    throw new AlertInputError(`${where}${jsonMessage(err)}`, 400);
  }
}

/**
 * Walk the parsed value without recursion: reject nesting deeper than MAX_DEPTH and delete
 * __proto__ / constructor / prototype own keys, so no later spread or assign can reach a prototype.
 */
export function sanitise(root: unknown, where = ''): void {
  if (typeof root !== 'object' || root === null) return;
  const stack: unknown[] = [root];
  const depths: number[] = [1];
  while (stack.length > 0) {
    const value = stack.pop() as object;
    const depth = depths.pop() as number;
    if (depth > MAX_DEPTH) throw new AlertInputError(`${where}JSON nesting is deeper than ${MAX_DEPTH} levels`, 400);
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const child: unknown = value[i];
        if (typeof child === 'object' && child !== null) {
          stack.push(child);
          depths.push(depth + 1);
        }
      }
      continue;
    }
    const record = value as Record<string, unknown>;
    for (const key of FORBIDDEN_KEYS) if (hasOwn.call(record, key)) delete record[key];
    for (const key in record) {
      if (!hasOwn.call(record, key)) continue;
      const child = record[key];
      if (typeof child === 'object' && child !== null) {
        stack.push(child);
        depths.push(depth + 1);
      }
    }
  }
}

function parseLines(text: string): unknown[] {
  const items: unknown[] = [];
  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    lineNo += 1;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (line === '') continue;
    const where = `line ${lineNo}: `;
    const value = parseJson(line, where);
    sanitise(value, where);
    items.push(value);
  }
  return items;
}

/** The first non-empty line parses as JSON on its own and another non-empty line follows. */
function looksLikeNdjson(text: string): boolean {
  const trimmed = text.trim();
  const firstBreak = trimmed.indexOf('\n');
  if (firstBreak === -1) return false;
  try {
    JSON.parse(trimmed.slice(0, firstBreak));
    return true;
  } catch {
    return false;
  }
}

/**
 * A request body as alert items: a JSON document (an array gives its items) or NDJSON. Envelopes
 * (Alertmanager, Elastic, Graph lists, Wazuh integrator) are left whole for normalise().
 */
/** Throws the 415 parseBody would throw for this content type, so it can be answered before the body is read. */
export function checkContentType(contentType: string | undefined): void {
  bodyKind(contentType);
}

export function parseBody(body: Buffer | Uint8Array, contentType?: string): unknown[] {
  const kind = bodyKind(contentType);
  let text: string;
  try {
    text = decoder.decode(body);
  } catch {
    throw new AlertInputError('body is not valid UTF-8', 400);
  }
  if (text.trim() === '') throw new AlertInputError('body is empty', 400);

  if (kind === 'ndjson') return parseLines(text);

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // Shippers often label NDJSON as JSON or text; read it as NDJSON when it plainly is.
    if (looksLikeNdjson(text)) return parseLines(text);
    if (err instanceof RangeError) throw new AlertInputError(`JSON nesting is deeper than ${MAX_DEPTH} levels`, 400);
    throw new AlertInputError(`body is not valid JSON: ${jsonMessage(err)}`, 400);
  }
  sanitise(value);
  return Array.isArray(value) ? value : [value];
}
