/**
 * VirusTotal API v3 as a threat-intel source. Node-RED-free.
 *
 * Contract: docs/vendor-facts.md §B.1; https://docs.virustotal.com/reference/overview (auth header
 * `x-apikey`), .../reference/ip-info, .../domain-info, .../url-info ("URL identifiers": base64url of the
 * URL without `=` padding), .../file-info, .../errors (error body `{"error":{"code","message"}}`).
 *
 * Lookups (all GET): ipv4/ipv6 → /ip_addresses/{ip}, domain → /domains/{domain},
 * url → /urls/{base64url(url)}, md5/sha1/sha256 → /files/{hash}.
 *
 * Level, from data.attributes.last_analysis_stats (engine counts):
 *   malicious ≥ 3                       → malicious
 *   malicious ≥ 1, or suspicious ≥ 2    → suspicious
 *   otherwise harmless > 0              → benign
 *   otherwise (no engine verdict, only "undetected", as for most clean files) → unknown, found true
 *   404 NotFoundError                   → unknown, found false (VirusTotal has never seen it)
 * VirusTotal has no confidence of its own; `confidence` stays unset.
 *
 * Budget default = the public API: 4 requests/min and 500/day (daily quota resets 00:00 UTC).
 * 429 QuotaExceededError → QUOTA_EXHAUSTED and the client pauses until 00:00 UTC (VirusTotal names
 * minute, daily and monthly quotas alike; our own 4/min budget keeps the minute one from firing, so
 * this code in practice means the day or month is used up). 429 TooManyRequestsError → RATE_LIMITED,
 * retried after the hint or a backoff.
 */
import { createHttpClient, ProviderError, type BodyCheck } from '../../core/http';
import type { IocType } from '../../ioc';
import type { Indicator, IntelLevel, IntelProvider, IntelProviderOptions, IntelResult } from '../types';
import { asRecord, budgetAndClose, compact, countOrZero, missingKey, resultBuilder, text, unsupportedIndicator } from './common';

const KIND = 'virustotal';
const DEFAULT_BASE_URL = 'https://www.virustotal.com/api/v3';
const GUI_BASE = 'https://www.virustotal.com/gui';
const SUPPORTED: readonly IocType[] = ['ipv4', 'ipv6', 'domain', 'url', 'md5', 'sha1', 'sha256'];
const MAX_TAGS = 10;
const MAX_CATEGORIES = 5;

interface Target {
  /** API path relative to the base URL. */
  path: string;
  /** What the GUI page is for a person; "search" when only a search page exists. */
  noun: string;
  link: string;
}

/** The id VirusTotal uses for a URL in /urls/{id}: unpadded base64url of the URL text. */
export function virusTotalUrlId(url: string): string {
  return Buffer.from(url, 'utf8').toString('base64url');
}

// Colons stay readable in IPv6 paths; everything else a path segment cannot carry is escaped.
function segment(value: string): string {
  return encodeURIComponent(value).replace(/%3A/gi, ':');
}

function targetFor(indicator: Indicator): Target {
  const value = indicator.value;
  switch (indicator.type) {
    case 'ipv4':
    case 'ipv6':
      return { path: `/ip_addresses/${segment(value)}`, noun: 'IP address', link: `${GUI_BASE}/ip-address/${segment(value)}` };
    case 'domain':
      return { path: `/domains/${segment(value)}`, noun: 'domain', link: `${GUI_BASE}/domain/${segment(value)}` };
    case 'url':
      // The GUI addresses URLs by the SHA-256 of VirusTotal's canonical form, which only the answer
      // carries; until then the search page is the stable link.
      return { path: `/urls/${virusTotalUrlId(value)}`, noun: 'URL', link: `${GUI_BASE}/search/${encodeURIComponent(encodeURIComponent(value))}` };
    default:
      return { path: `/files/${segment(value)}`, noun: 'file', link: `${GUI_BASE}/file/${segment(value)}` };
  }
}

function epochSecondsToIso(value: unknown): string | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? new Date(value * 1000).toISOString() : undefined;
}

export interface AnalysisStats {
  malicious: number;
  suspicious: number;
  harmless: number;
  undetected: number;
  timeout: number;
}

export function levelFromStats(stats: AnalysisStats): IntelLevel {
  if (stats.malicious >= 3) return 'malicious';
  if (stats.malicious >= 1 || stats.suspicious >= 2) return 'suspicious';
  if (stats.harmless > 0) return 'benign';
  return 'unknown';
}

// VirusTotal never answers 200 with an error, but a captive portal or a wrong base URL can: the
// answer must at least carry the `data.attributes` object every v3 object lookup returns.
const checkBody: BodyCheck = (data) => {
  const attributes = asRecord(asRecord(asRecord(data)?.data)?.attributes);
  if (attributes) return undefined;
  return { code: 'BODY_ERROR', message: 'answer is not a VirusTotal v3 object (no data.attributes); check the base URL' };
};

export function createVirusTotal(opts: IntelProviderOptions = {}): IntelProvider {
  const name = opts.name ?? 'VirusTotal';
  const apiKey = opts.apiKey ?? '';
  const answerFor = resultBuilder(KIND, name, opts.now ?? Date.now);
  const client = createHttpClient({
    provider: KIND,
    baseURL: opts.baseURL ?? DEFAULT_BASE_URL,
    headers: { 'x-apikey': apiKey, accept: 'application/json' },
    secrets: apiKey ? [apiKey] : [],
    budget: opts.budget ?? { perMinute: 4, perDay: 500 },
    timeoutMs: opts.timeoutMs,
    checkBody,
    // QuotaExceededError is the quota; TooManyRequestsError is a plain rate limit.
    isQuota: (_status, data) => {
      const code = asRecord(asRecord(data)?.error)?.code;
      return code === 'QuotaExceededError' || (typeof code !== 'string' && /quota/i.test(JSON.stringify(data ?? '')));
    },
    now: opts.now,
    sleep: opts.sleep,
  });

  async function lookup(indicator: Indicator, signal?: AbortSignal): Promise<IntelResult> {
    if (!SUPPORTED.includes(indicator.type)) throw unsupportedIndicator(KIND, indicator.type);
    if (!apiKey) throw missingKey(KIND, 'API key');
    const target = targetFor(indicator);

    let data: unknown;
    try {
      ({ data } = await client.request({ url: target.path, signal }));
    } catch (error) {
      // Only VirusTotal's own NotFoundError means "never seen"; a bare 404 (wrong base URL) stays an error.
      if (error instanceof ProviderError && error.code === 'NOT_FOUND' && error.vendorCode === 'NotFoundError') {
        return answerFor(indicator, {
          level: 'unknown',
          found: false,
          evidence: {},
          summary: `${name}: this ${target.noun} is not in VirusTotal`,
          link: target.link,
        });
      }
      throw error;
    }

    const object = asRecord(asRecord(data)?.data) ?? {};
    const attributes = asRecord(object.attributes) ?? {};
    const rawStats = asRecord(attributes.last_analysis_stats) ?? {};
    const stats: AnalysisStats = {
      malicious: countOrZero(rawStats.malicious),
      suspicious: countOrZero(rawStats.suspicious),
      harmless: countOrZero(rawStats.harmless),
      undetected: countOrZero(rawStats.undetected),
      timeout: countOrZero(rawStats.timeout),
    };
    const engines = Object.values(rawStats).reduce<number>((sum, value) => sum + countOrZero(value), 0);
    const level = levelFromStats(stats);

    const tags = Array.isArray(attributes.tags) ? attributes.tags.filter((tag): tag is string => typeof tag === 'string').slice(0, MAX_TAGS) : undefined;
    const categories = asRecord(attributes.categories);
    const threatLabel = text(asRecord(attributes.popular_threat_classification)?.suggested_threat_label, 100);
    const evidence = compact({
      ...stats,
      engines,
      reputation: typeof attributes.reputation === 'number' ? attributes.reputation : undefined,
      lastAnalysisDate: epochSecondsToIso(attributes.last_analysis_date),
      tags: tags && tags.length > 0 ? tags : undefined,
      // ip_addresses
      asOwner: text(attributes.as_owner),
      asn: typeof attributes.asn === 'number' ? attributes.asn : undefined,
      country: text(attributes.country, 8),
      network: text(attributes.network, 64),
      // domains
      registrar: text(attributes.registrar),
      categories: categories
        ? [...new Set(Object.values(categories).filter((value): value is string => typeof value === 'string'))].slice(0, MAX_CATEGORIES)
        : undefined,
      // files
      meaningfulName: text(attributes.meaningful_name),
      typeDescription: text(attributes.type_description, 100),
      threatLabel,
      // urls
      title: text(attributes.title),
    });

    let link = target.link;
    if (indicator.type === 'url' && typeof object.id === 'string' && /^[0-9a-f]{64}$/i.test(object.id)) {
      link = `${GUI_BASE}/url/${object.id.toLowerCase()}`;
    }

    return answerFor(indicator, {
      level,
      found: true,
      evidence,
      summary: summarize(name, stats, engines, threatLabel),
      link,
    });
  }

  return { kind: KIND, name, types: SUPPORTED, external: true, lookup, ...budgetAndClose(client) };
}

function summarize(name: string, stats: AnalysisStats, engines: number, threatLabel: string | undefined): string {
  if (engines === 0) return `${name}: known, but no engine has analysed it yet`;
  let line = `${name}: ${stats.malicious} of ${engines} engines say malicious`;
  if (stats.suspicious > 0) line += `, ${stats.suspicious} suspicious`;
  if (stats.malicious === 0 && stats.suspicious === 0 && stats.harmless > 0) line += ` (${stats.harmless} harmless)`;
  if (threatLabel && stats.malicious > 0) line += ` (${threatLabel})`;
  return line;
}
