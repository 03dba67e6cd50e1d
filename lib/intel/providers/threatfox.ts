/**
 * abuse.ch ThreatFox: IOCs of malware infrastructure (C2 servers, payload URLs, sample hashes).
 * Contract: docs/vendor-facts.md §B.6; https://threatfox.abuse.ch/api/#search-ioc.
 *
 * Request: POST https://threatfox-api.abuse.ch/api/v1/ with header `Auth-Key` (required since 2024)
 * and JSON `{"query":"search_ioc","search_term":"<value>"}`. The answer is always HTTP 200 with the
 * outcome in `query_status`, so failures are recognised by `checkBody`:
 *   ok                                   → hits in data[]
 *   no_result / no_results               → unknown, found:false (the exact string is not documented; both accepted)
 *   unknown_auth_key / no_auth_key / ... → AUTH (HTTP 401 with the same body is AUTH as well)
 *   illegal_search_term / illegal_* / invalid_* → BAD_REQUEST
 *   anything else                        → BODY_ERROR
 *
 * Level (ThreatFox lists only IOCs someone reported as malicious, each with a confidence_level 0..100):
 *   - any hit with confidence_level ≥ `maliciousConfidence` (default 50) → malicious
 *   - hits, all below it                                                  → suspicious
 *   - no hit                                                              → unknown
 *   confidence = the highest confidence_level among the hits.
 * IP IOCs are stored as "ip:port"; a hit for an IP counts only when its IOC is that IP (with or without a
 * port), so a substring match such as 198.51.100.2 → 198.51.100.23:443 can never be taken for a hit.
 *
 * Types: ipv4, domain, url, md5, sha1, sha256 (ThreatFox IOC types ip:port, domain, url, *_hash).
 * external: true (a SaaS: internal addresses are never sent). Budget: abuse.ch publishes no limit for
 * search_ioc (fair use), so the default is a polite 2 requests/second; override with `budget`.
 */
import { createHttpClient, type BodyCheckFailure } from '../../core/http';
import type { IocType } from '../../ioc';
import type { Indicator, IntelLevel, IntelProvider, IntelProviderOptions, IntelResult } from '../types';
import { budgetAndClose, resultBuilder, unique, unsupportedIndicator } from './common';

export interface ThreatFoxOptions extends IntelProviderOptions {
  /** Lowest confidence_level that makes a hit malicious rather than suspicious. Default 50. */
  maliciousConfidence?: number;
}

const DEFAULT_BASE_URL = 'https://threatfox-api.abuse.ch/api/v1';
const WEB_BASE = 'https://threatfox.abuse.ch';
const TYPES: readonly IocType[] = ['ipv4', 'domain', 'url', 'md5', 'sha1', 'sha256'];
const MAX_LISTED = 5;

interface ThreatFoxHit {
  id?: string | number;
  ioc?: string;
  threat_type?: string;
  threat_type_desc?: string;
  ioc_type?: string;
  malware?: string;
  malware_printable?: string;
  confidence_level?: number | string;
  first_seen?: string | null;
  last_seen?: string | null;
  tags?: string[] | null;
  reference?: string | null;
}

interface ThreatFoxAnswer {
  query_status?: string;
  data?: ThreatFoxHit[] | string;
}

const NO_RESULT = new Set(['no_result', 'no_results']);
const AUTH_STATUS = /auth|api_key|apikey/i;
const BAD_INPUT_STATUS = /^(illegal|invalid)_/i;

/** ThreatFox reports every outcome in `query_status` on an HTTP 200. */
function checkThreatFoxBody(data: unknown): BodyCheckFailure | undefined {
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    return { code: 'BODY_ERROR', message: 'answer is not a ThreatFox JSON object' };
  }
  const status = (data as ThreatFoxAnswer).query_status;
  if (typeof status !== 'string') return { code: 'BODY_ERROR', message: 'answer has no query_status' };
  if (status === 'ok' || NO_RESULT.has(status)) return undefined;
  if (AUTH_STATUS.test(status)) return { code: 'AUTH', message: `query_status ${status}: check the Auth-Key`, vendorCode: status };
  if (BAD_INPUT_STATUS.test(status)) return { code: 'BAD_REQUEST', message: `query_status ${status}`, vendorCode: status };
  return { code: 'BODY_ERROR', message: `query_status ${status}`, vendorCode: status };
}

/** The IP of an "ip:port" / "[ipv6]:port" IOC. */
function iocAddress(ioc: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(ioc);
  if (bracketed) return bracketed[1];
  const ipv4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3})(?::\d+)?$/.exec(ioc);
  return ipv4WithPort ? ipv4WithPort[1] : ioc;
}

function relevantHits(indicator: Indicator, hits: ThreatFoxHit[]): ThreatFoxHit[] {
  if (indicator.type !== 'ipv4' && indicator.type !== 'ipv6') return hits;
  return hits.filter((hit) => typeof hit.ioc === 'string' && iocAddress(hit.ioc.trim()) === indicator.value);
}

function confidenceOf(hit: ThreatFoxHit): number | undefined {
  const value = Number(hit.confidence_level);
  return Number.isFinite(value) ? Math.max(0, Math.min(100, value)) : undefined;
}

export function createThreatFox(options: ThreatFoxOptions): IntelProvider {
  const apiKey = options.apiKey;
  if (!apiKey) throw new TypeError('ThreatFox needs an Auth-Key (free at https://auth.abuse.ch/)');
  const name = options.name ?? 'ThreatFox';
  const answerFor = resultBuilder('threatfox', name, options.now ?? Date.now);
  const maliciousConfidence = options.maliciousConfidence ?? 50;
  const client = createHttpClient({
    provider: 'threatfox',
    baseURL: options.baseURL ?? DEFAULT_BASE_URL,
    headers: { 'Auth-Key': apiKey, Accept: 'application/json' },
    secrets: [apiKey],
    budget: options.budget ?? { perSecond: 2 },
    timeoutMs: options.timeoutMs,
    checkBody: checkThreatFoxBody,
    now: options.now,
    sleep: options.sleep,
  });

  function toResult(indicator: Indicator, answer: ThreatFoxAnswer): IntelResult {
    const hits = answer.query_status === 'ok' && Array.isArray(answer.data) ? relevantHits(indicator, answer.data) : [];
    const searchLink = `${WEB_BASE}/browse.php?search=ioc%3A${encodeURIComponent(indicator.value)}`;
    if (hits.length === 0) {
      return answerFor(indicator, { level: 'unknown', found: false, evidence: { hits: 0 }, summary: `${name}: not listed`, link: searchLink });
    }
    const confidences = hits.map(confidenceOf).filter((value): value is number => value !== undefined);
    const confidence = confidences.length ? Math.max(...confidences) : undefined;
    const level: IntelLevel = confidence !== undefined && confidence >= maliciousConfidence ? 'malicious' : 'suspicious';
    const best = [...hits].sort((a, b) => (confidenceOf(b) ?? -1) - (confidenceOf(a) ?? -1))[0];
    const malware = unique(
      hits.map((hit) => hit.malware_printable ?? hit.malware),
      MAX_LISTED,
    );
    const threatTypes = unique(
      hits.map((hit) => hit.threat_type),
      MAX_LISTED,
    );
    const dates = (pick: (hit: ThreatFoxHit) => string | null | undefined) => unique(hits.map(pick), 1000).sort();
    const firstSeen = dates((hit) => hit.first_seen)[0];
    const lastSeen = dates((hit) => hit.last_seen).pop();
    const evidence: Record<string, unknown> = {
      hits: hits.length,
      iocs: unique(
        hits.map((hit) => hit.ioc),
        MAX_LISTED,
      ),
      threatTypes,
      malware,
      tags: unique(
        hits.flatMap((hit) => hit.tags ?? []),
        10,
      ),
      ...(firstSeen ? { firstSeen } : {}),
      ...(lastSeen ? { lastSeen } : {}),
      ids: unique(
        hits.map((hit) => (hit.id === undefined ? undefined : String(hit.id))),
        MAX_LISTED,
      ),
    };
    const what = [threatTypes.join('/') || 'IOC', malware.length ? `for ${malware.join(', ')}` : ''].filter(Boolean).join(' ');
    const summary = `${name}: ${what}${confidence !== undefined ? `, confidence ${confidence}` : ''}${hits.length > 1 ? ` (${hits.length} IOCs)` : ''}`;
    const link = best.id !== undefined ? `${WEB_BASE}/ioc/${encodeURIComponent(String(best.id))}/` : searchLink;
    return answerFor(indicator, { level, found: true, ...(confidence !== undefined ? { confidence } : {}), evidence, summary, link });
  }

  return {
    kind: 'threatfox',
    name,
    types: TYPES,
    external: true,
    async lookup(indicator: Indicator, signal?: AbortSignal): Promise<IntelResult> {
      if (!TYPES.includes(indicator.type)) throw unsupportedIndicator('threatfox', indicator.type);
      const { data } = await client.request<ThreatFoxAnswer>({
        method: 'POST',
        url: '/',
        data: { query: 'search_ioc', search_term: indicator.value },
        headers: { 'Content-Type': 'application/json' },
        // A search changes nothing on the server, so it may be retried like a GET.
        idempotent: true,
        signal,
      });
      return toResult(indicator, data);
    },
    ...budgetAndClose(client),
  };
}
