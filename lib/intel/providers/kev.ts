/**
 * CISA Known Exploited Vulnerabilities (KEV) catalog as a local feed: a CVE indicator is looked up
 * in the catalog JSON (a file, or a URL refreshed on a schedule; see FeedLoader in ./feed).
 *
 * Catalog (https://www.cisa.gov/known-exploited-vulnerabilities-catalog), JSON feed at
 * https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json:
 *   {"title", "catalogVersion", "dateReleased", "count",
 *    "vulnerabilities": [{"cveID", "vendorProject", "product", "vulnerabilityName", "dateAdded",
 *                         "shortDescription", "requiredAction", "dueDate",
 *                         "knownRansomwareCampaignUse": "Known" | "Unknown", "notes"}]}
 *
 * Mapping: a CVE in the catalog is level "malicious" — CISA lists only vulnerabilities with
 * reliable evidence of exploitation in the wild, so an alert about one deserves the top of the
 * scale. A CVE not in the catalog is found:false / "unknown" (absence says nothing either way).
 */
import type { IocType } from '../../ioc';
import { normaliseCve, type FeedBody } from '../feed-parse';
import type { IntelProviderOptions } from '../types';
import { compact } from './common';
import { FeedLoader, localFeedProvider, type FeedSource, type FeedTransportOptions, type LoadedCopy, type LocalFeedProvider } from './feed';

export interface KevOptions extends IntelProviderOptions, FeedTransportOptions {
  /** Default "CISA KEV". */
  name?: string;
  source: FeedSource;
}

/** The catalog fields kept per CVE (strings as CISA writes them; dates are YYYY-MM-DD). */
export interface KevRecord {
  cveID: string;
  vendorProject?: string;
  product?: string;
  vulnerabilityName?: string;
  dateAdded?: string;
  dueDate?: string;
  knownRansomwareCampaignUse?: string;
}

const KEV_TYPES: readonly IocType[] = ['cve'];
const MAX_FIELD_LENGTH = 200;

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim().slice(0, MAX_FIELD_LENGTH) : undefined;
}

/** Parses the KEV catalog; malformed vulnerability records are counted and skipped. */
export function parseKev(body: FeedBody): LoadedCopy<Map<string, KevRecord>> {
  let root: unknown = body.json;
  if (body.text !== undefined) {
    try {
      root = JSON.parse(body.text.charCodeAt(0) === 0xfeff ? body.text.slice(1) : body.text);
    } catch {
      throw new Error('KEV catalog is not JSON');
    }
  }
  const vulnerabilities = (root as { vulnerabilities?: unknown } | null)?.vulnerabilities;
  if (!Array.isArray(vulnerabilities)) throw new Error('KEV catalog has no "vulnerabilities" array');
  const records = new Map<string, KevRecord>();
  let skipped = 0;
  let duplicates = 0;
  const skippedExamples: string[] = [];
  for (const item of vulnerabilities) {
    const raw = item && typeof item === 'object' ? (item as Record<string, unknown>) : undefined;
    const cve = raw && typeof raw.cveID === 'string' ? normaliseCve(raw.cveID) : undefined;
    if (!raw || !cve) {
      skipped++;
      if (skippedExamples.length < 5) skippedExamples.push((JSON.stringify(item) ?? String(item)).slice(0, 80));
      continue;
    }
    if (records.has(cve)) duplicates++;
    records.set(cve, {
      cveID: cve,
      vendorProject: text(raw.vendorProject),
      product: text(raw.product),
      vulnerabilityName: text(raw.vulnerabilityName),
      dateAdded: text(raw.dateAdded),
      dueDate: text(raw.dueDate),
      knownRansomwareCampaignUse: text(raw.knownRansomwareCampaignUse),
    });
  }
  const info: Record<string, string> = {};
  const catalog = root as Record<string, unknown>;
  for (const field of ['title', 'catalogVersion', 'dateReleased'] as const) {
    const value = text(catalog[field]);
    if (value) info[field] = value;
  }
  return { data: records, entries: records.size, byType: { cve: records.size }, skipped, skippedExamples, duplicates, info };
}

/** CISA KEV as an IntelProvider for CVE indicators. */
export function createKev(opts: KevOptions): LocalFeedProvider {
  const name = opts.name ?? 'CISA KEV';
  const now = opts.now ?? Date.now;
  const loader = new FeedLoader<Map<string, KevRecord>>({ ...opts, kind: 'kev', name, parse: parseKev });
  return localFeedProvider(loader, {
    kind: 'kev',
    name,
    now,
    types: () => KEV_TYPES,
    answer: (copy, indicator) => {
      const cve = indicator.type === 'cve' ? normaliseCve(indicator.value) : undefined;
      const record = cve ? copy.data.get(cve) : undefined;
      if (!record) return { level: 'unknown', found: false, evidence: { knownExploited: false }, summary: `${name}: not in the catalog` };
      const ransomware = record.knownRansomwareCampaignUse?.toLowerCase() === 'known';
      return {
        level: 'malicious',
        found: true,
        // Fields the catalog did not give are left out, not undefined.
        evidence: compact({
          knownExploited: true,
          dateAdded: record.dateAdded,
          vendorProject: record.vendorProject,
          product: record.product,
          vulnerabilityName: record.vulnerabilityName,
          knownRansomwareCampaignUse: record.knownRansomwareCampaignUse,
          dueDate: record.dueDate,
        }),
        summary: `${name}: exploited in the wild${record.dateAdded ? ` (added ${record.dateAdded})` : ''}${ransomware ? ', used in ransomware campaigns' : ''}`,
        link: `https://nvd.nist.gov/vuln/detail/${record.cveID}`,
      };
    },
  });
}
