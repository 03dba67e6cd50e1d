/**
 * IOC extraction from a normalised alert (docs/architecture.md §3): observables first, then the
 * structured entity fields, then the chosen free-text fields. The first sighting of a value wins,
 * so a value named in a structured field keeps that field's role and path.
 */
import { Allowlist } from './allowlist';
import { IocCollector, collectFromText } from './extract';
import { checkDomain } from './domain';
import { refang } from './refang';
import type { Ioc, IocRole, IocType } from './types';

export interface AlertLike {
  observables?: { type: string; value: string; field: string }[];
  [key: string]: unknown;
}

export interface ExtractAlertOptions {
  /** Dotted paths of free-text fields to scan; default ['description', 'title', 'raw.full_log']. */
  textFields?: string[];
  types?: IocType[];
  /** Indicators it matches are dropped. */
  allowlist?: Allowlist;
}

export const DEFAULT_TEXT_FIELDS: readonly string[] = ['description', 'title', 'raw.full_log'];

/** What a structured field or observable is declared to hold. */
type ValueKind = 'ip' | 'domain' | 'url' | 'email' | 'hash' | 'cve' | 'text';

/** Entity fields of the normalised alert and what they hold. */
const STRUCTURED_FIELDS: ReadonlyArray<[string, ValueKind]> = [
  ['source.ip', 'ip'],
  ['destination.ip', 'ip'],
  ['host.ip', 'ip'],
  ['host.name', 'domain'],
  ['url.full', 'url'],
  ['dns.question.name', 'domain'],
  ['file.hash.md5', 'hash'],
  ['file.hash.sha1', 'hash'],
  ['file.hash.sha256', 'hash'],
  ['file.hash.sha512', 'hash'],
];

/** Observable type names (ours, TheHive dataTypes, MISP-ish) and what they hold. */
const OBSERVABLE_KINDS: Record<string, ValueKind> = {
  ip: 'ip',
  ipv4: 'ip',
  ipv6: 'ip',
  'ip-src': 'ip',
  'ip-dst': 'ip',
  ip_address: 'ip',
  address: 'ip',
  domain: 'domain',
  hostname: 'domain',
  fqdn: 'domain',
  host: 'domain',
  url: 'url',
  uri: 'url',
  email: 'email',
  mail: 'email',
  'email-src': 'email',
  'email-dst': 'email',
  hash: 'hash',
  md5: 'hash',
  sha1: 'hash',
  sha256: 'hash',
  sha512: 'hash',
  file_hash: 'hash',
  filehash: 'hash',
  cve: 'cve',
  vulnerability: 'cve',
};

const TYPES_BY_KIND: Record<Exclude<ValueKind, 'text'>, IocType[]> = {
  ip: ['ipv4', 'ipv6'],
  domain: ['domain'],
  url: ['url', 'domain', 'ipv4', 'ipv6'],
  email: ['email', 'domain'],
  hash: ['md5', 'sha1', 'sha256', 'sha512'],
  cve: ['cve'],
};

const ROLE_BY_FIELD_ROOT: Record<string, IocRole> = {
  source: 'source',
  destination: 'destination',
  host: 'host',
  file: 'file',
  url: 'url',
  dns: 'dns',
};

function roleForField(field: string): IocRole | undefined {
  return ROLE_BY_FIELD_ROOT[field.split('.')[0]];
}

/** Value at a dotted path; undefined when any step is missing. */
export function valueAtPath(root: unknown, path: string): unknown {
  let current: unknown = root;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** Strings at a path: a string, or the strings of an array (host.ip is a list). */
function stringsAtPath(root: unknown, path: string): string[] {
  const value = valueAtPath(root, path);
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return [];
}

/**
 * Collects the indicators of one declared value. A field that says it holds a domain is context
 * enough for a domain with a file-extension TLD; every other kind is validated like free text.
 */
function collectDeclared(value: string, kind: ValueKind, sink: IocCollector, wanted: (type: IocType) => boolean): void {
  if (kind === 'domain') {
    const domain = checkDomain(refang(value.trim()).replace(/\.$/, ''), true);
    if (domain) sink.add({ type: 'domain', value: domain });
    return;
  }
  // The sink keeps only wanted types; narrowing here just skips scanning for nothing.
  const types = kind === 'text' ? undefined : TYPES_BY_KIND[kind].filter(wanted);
  if (types && types.length === 0) return;
  const scoped = new IocCollector(types ? new Set(types) : undefined);
  collectFromText(value, scoped);
  for (const ioc of scoped.items) sink.add(ioc);
}

/** Indicators of a normalised alert: observables, entity fields and free-text fields, allowlist applied. */
export function extractFromAlert(alert: AlertLike, opts: ExtractAlertOptions = {}): Ioc[] {
  const wantedTypes = opts.types ? new Set(opts.types) : undefined;
  const wanted = (type: IocType): boolean => wantedTypes === undefined || wantedTypes.has(type);
  const result = new IocCollector(wantedTypes);

  const collectWithOrigin = (value: string, kind: ValueKind, field: string, role: IocRole | undefined): void => {
    const found = new IocCollector(wantedTypes);
    collectDeclared(value, kind, found, wanted);
    for (const ioc of found.items) {
      const withOrigin: Ioc = { ...ioc, source: field };
      if (role) withOrigin.role = role;
      result.add(withOrigin);
    }
  };

  for (const observable of alert.observables ?? []) {
    if (!observable || typeof observable.value !== 'string') continue;
    const kind = OBSERVABLE_KINDS[String(observable.type).toLowerCase()] ?? 'text';
    const field = typeof observable.field === 'string' ? observable.field : '';
    collectWithOrigin(observable.value, kind, field, roleForField(field));
  }
  for (const [field, kind] of STRUCTURED_FIELDS) {
    for (const value of stringsAtPath(alert, field)) collectWithOrigin(value, kind, field, roleForField(field));
  }
  for (const field of opts.textFields ?? DEFAULT_TEXT_FIELDS) {
    for (const value of stringsAtPath(alert, field)) collectWithOrigin(value, 'text', field, 'text');
  }

  const allowlist = opts.allowlist;
  return allowlist ? result.items.filter((ioc) => !allowlist.matches(ioc)) : result.items;
}
