/**
 * What intel descriptors (lib/intel/kinds/) share: the context a source is built in, the settings
 * every service has, and where feed files are found.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FieldSpec, FieldValues, ProviderDescriptor } from '../providers/descriptor';
import type { IocType } from '../ioc';
import type { IntelProvider, IntelProviderOptions } from './types';

/** What the config node (or a test) adds to a kind's own settings. */
export interface IntelContext extends Omit<IntelProviderOptions, 'apiKey' | 'baseURL'> {
  name: string;
  /** Where relative feed paths are resolved (the Node-RED user directory). */
  baseDir?: string;
}

export interface IntelSupports {
  /** Indicator types the source answers (a local feed: whatever its entries are). */
  types: readonly IocType[] | 'from the feed';
  /** Lookups leave this machine (internal addresses are never sent). */
  external: boolean;
}

export type IntelDescriptor = ProviderDescriptor<IntelProvider, IntelContext, IntelSupports>;

export const HTTP_URL = '^https?://';

export const apiKeyField = (required = true): FieldSpec => ({ name: 'apiKey', type: 'secret', required });
export const serverField: FieldSpec = {
  name: 'url',
  type: 'string',
  required: true,
  pattern: HTTP_URL,
  patternHint: 'an http(s):// URL',
  placeholder: 'https://',
};
/** A service's API root; not shown in the form (tests and mirrors point it elsewhere in the flow). */
export const baseUrlOverride: FieldSpec = { name: 'url', type: 'string', pattern: HTTP_URL, patternHint: 'an http(s):// URL', hidden: true };
export const verifyTlsField: FieldSpec = { name: 'verifyTls', type: 'boolean', default: true };
export const caCertField: FieldSpec = { name: 'caCert', type: 'text', placeholder: '-----BEGIN CERTIFICATE-----' };

/** Common provider options from a service's settings and the context. */
export function serviceOptions(values: FieldValues, context: IntelContext): IntelProviderOptions {
  return { ...context, apiKey: values.apiKey as string | undefined, baseURL: values.url as string | undefined };
}

const DEMO_FEEDS = path.resolve(__dirname, '..', '..', '..', 'feeds');

/** Relative feed files live in the user directory; the bundled demo feeds are found by name too. */
export function resolveFeedFile(file: string, baseDir?: string): string {
  if (path.isAbsolute(file)) return file;
  const inUserDir = path.resolve(baseDir ?? process.cwd(), file);
  if (fs.existsSync(inUserDir)) return inUserDir;
  const demo = path.join(DEMO_FEEDS, path.basename(file));
  return fs.existsSync(demo) ? demo : inUserDir;
}

/** The file-or-URL fields of a downloaded list (feed, KEV, EPSS). */
export function feedFields(filePlaceholder: string, urlPlaceholder = 'https://'): FieldSpec[] {
  return [
    { name: 'file', type: 'string', oneOf: 'source', placeholder: filePlaceholder },
    { name: 'url', type: 'string', oneOf: 'source', pattern: HTTP_URL, patternHint: 'an http(s):// URL', placeholder: urlPlaceholder },
    { name: 'refreshMinutes', type: 'number', default: 60, min: 0.01 },
  ];
}

export function feedSource(values: FieldValues, context: IntelContext) {
  if (values.url) return { url: values.url as string, refreshSeconds: ((values.refreshMinutes as number) ?? 60) * 60 };
  return { file: resolveFeedFile(values.file as string, context.baseDir) };
}

export function defineIntel(descriptor: IntelDescriptor): IntelDescriptor {
  return descriptor;
}
