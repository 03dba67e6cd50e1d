/**
 * AlienVault OTX (LevelBlue) DirectConnect v1: community "pulses" that mention an indicator.
 * Contract: docs/vendor-facts.md §B.7; https://otx.alienvault.com/api (DirectConnect API, indicators).
 *
 * Request: GET https://otx.alienvault.com/api/v1/indicators/{section}/{value}/general with header
 * `X-OTX-API-KEY` (sent when configured; the indicator endpoints also answer anonymously at a lower limit).
 * Sections: ipv4 → IPv4, ipv6 → IPv6, domain → `domain` for a registrable domain and `hostname` for a
 * name below one (OTX keeps the two apart), url → url (percent-encoded into the path), md5/sha1/sha256 →
 * file, cve → cve.
 *
 * Level (pulses are community reports of varying quality, so a single one is only a lead):
 *   - `validation[]` or `false_positive[]` non-empty (OTX marks well-known good indicators, e.g. on an
 *     allowlist or a top-sites list)                                      → benign
 *   - pulse_info.count ≥ `maliciousPulses` (default 3)                     → malicious
 *   - pulse_info.count ≥ 1                                                 → suspicious
 *   - pulse_info.count 0, or HTTP 404                                      → unknown, found:false
 *   No confidence: OTX has no score of its own.
 * A 403 whose body speaks of credentials/the API key is reported as AUTH (OTX answers a bad key with 403).
 * external: true. Budget: OTX publishes no limit; the default is a polite 5/second and 10,000/hour.
 */
import { getDomain } from 'tldts';
import { createHttpClient, ProviderError } from '../../core/http';
import type { IocType } from '../../ioc';
import type { Indicator, IntelLevel, IntelProvider, IntelProviderOptions, IntelResult } from '../types';
import { budgetAndClose, forbiddenAsAuth, resultBuilder, unique, unsupportedIndicator } from './common';

export interface OtxOptions extends IntelProviderOptions {
  /** Pulses at or above which an indicator is malicious (below: suspicious). Default 3. */
  maliciousPulses?: number;
}

const DEFAULT_BASE_URL = 'https://otx.alienvault.com/api/v1';
const WEB_BASE = 'https://otx.alienvault.com';
const TYPES: readonly IocType[] = ['ipv4', 'ipv6', 'domain', 'url', 'md5', 'sha1', 'sha256', 'cve'];
const MAX_LISTED = 5;
const CREDENTIAL_WORDS = /credential|api[ _-]?key|authenticat|token/i;

interface OtxPulse {
  id?: string;
  name?: string;
  tags?: string[];
  modified?: string;
  created?: string;
  adversary?: string;
  malware_families?: (string | { display_name?: string; id?: string })[];
}

interface OtxGeneral {
  indicator?: string;
  type?: string;
  reputation?: number;
  country_code?: string;
  asn?: string;
  pulse_info?: { count?: number; pulses?: OtxPulse[] };
  validation?: { source?: string; message?: string; name?: string }[];
  false_positive?: { assessment?: string; report_date?: string }[];
}

/** The OTX indicator section and web-page kind for an indicator. */
function otxSection(indicator: Indicator): { api: string; web: string } {
  switch (indicator.type) {
    case 'ipv4':
      return { api: 'IPv4', web: 'ip' };
    case 'ipv6':
      return { api: 'IPv6', web: 'ip' };
    case 'domain': {
      const registrable = getDomain(indicator.value);
      return registrable && registrable !== indicator.value ? { api: 'hostname', web: 'hostname' } : { api: 'domain', web: 'domain' };
    }
    case 'url':
      return { api: 'url', web: 'url' };
    case 'md5':
    case 'sha1':
    case 'sha256':
      return { api: 'file', web: 'file' };
    case 'cve':
      return { api: 'cve', web: 'cve' };
    default:
      throw unsupportedIndicator('otx', indicator.type);
  }
}

/** URLs need every reserved character encoded; colons stay readable for IPv6. */
function pathValue(indicator: Indicator): string {
  const encoded = encodeURIComponent(indicator.value);
  return indicator.type === 'url' ? encoded : encoded.replace(/%3A/gi, ':');
}

function familyName(family: string | { display_name?: string; id?: string }): string | undefined {
  return typeof family === 'string' ? family : (family?.display_name ?? family?.id);
}

export function createOtx(options: OtxOptions): IntelProvider {
  const apiKey = options.apiKey;
  const name = options.name ?? 'AlienVault OTX';
  const answerFor = resultBuilder('otx', name, options.now ?? Date.now);
  const maliciousPulses = Math.max(1, options.maliciousPulses ?? 3);
  const client = createHttpClient({
    provider: 'otx',
    baseURL: options.baseURL ?? DEFAULT_BASE_URL,
    headers: { Accept: 'application/json', ...(apiKey ? { 'X-OTX-API-KEY': apiKey } : {}) },
    secrets: apiKey ? [apiKey] : [],
    budget: options.budget ?? { perSecond: 5, perHour: 10_000 },
    timeoutMs: options.timeoutMs,
    now: options.now,
    sleep: options.sleep,
  });

  function toResult(indicator: Indicator, webKind: string, general: OtxGeneral | undefined): IntelResult {
    const link = `${WEB_BASE}/indicator/${webKind}/${pathValue(indicator)}`;
    const pulses = Array.isArray(general?.pulse_info?.pulses) ? general.pulse_info.pulses : [];
    const pulseCount = Number(general?.pulse_info?.count ?? pulses.length) || 0;
    const validations = Array.isArray(general?.validation) ? general.validation : [];
    const falsePositives = Array.isArray(general?.false_positive) ? general.false_positive : [];

    let level: IntelLevel;
    if (validations.length > 0 || falsePositives.length > 0) level = 'benign';
    else if (pulseCount >= maliciousPulses) level = 'malicious';
    else if (pulseCount >= 1) level = 'suspicious';
    else level = 'unknown';

    if (level === 'unknown') {
      return answerFor(indicator, { level, found: false, evidence: { pulses: 0 }, summary: `${name}: in no pulse`, link });
    }
    const evidence: Record<string, unknown> = {
      pulses: pulseCount,
      pulseNames: unique(
        pulses.map((pulse) => pulse.name),
        MAX_LISTED,
      ),
      tags: unique(
        pulses.flatMap((pulse) => pulse.tags ?? []),
        10,
      ),
      malwareFamilies: unique(
        pulses.flatMap((pulse) => (pulse.malware_families ?? []).map(familyName)),
        MAX_LISTED,
      ),
      adversaries: unique(
        pulses.map((pulse) => pulse.adversary),
        MAX_LISTED,
      ),
    };
    const lastPulse = unique(
      pulses.map((pulse) => pulse.modified ?? pulse.created),
      1000,
    )
      .sort()
      .pop();
    if (lastPulse) evidence.lastPulse = lastPulse;
    if (validations.length)
      evidence.validation = unique(
        validations.map((entry) => entry.message ?? entry.name ?? entry.source),
        MAX_LISTED,
      );
    if (falsePositives.length)
      evidence.falsePositive = unique(
        falsePositives.map((entry) => entry.assessment ?? 'reported'),
        MAX_LISTED,
      );
    if (typeof general?.reputation === 'number') evidence.reputation = general.reputation;
    if (general?.country_code) evidence.country = general.country_code;
    if (general?.asn) evidence.asn = general.asn;

    const pulsesText = `in ${pulseCount} pulse${pulseCount === 1 ? '' : 's'}`;
    const families = evidence.malwareFamilies as string[];
    const summary =
      level === 'benign'
        ? `${name}: known good (${(evidence.validation as string[] | undefined)?.[0] ?? 'marked false positive'}), ${pulsesText}`
        : `${name}: ${pulsesText}${families.length ? ` (${families.join(', ')})` : ''}`;
    return answerFor(indicator, { level, found: true, evidence, summary, link });
  }

  return {
    kind: 'otx',
    name,
    types: TYPES,
    external: true,
    async lookup(indicator: Indicator, signal?: AbortSignal): Promise<IntelResult> {
      const section = otxSection(indicator);
      try {
        const { data } = await client.request<OtxGeneral>({
          url: `/indicators/${section.api}/${pathValue(indicator)}/general`,
          signal,
        });
        return toResult(indicator, section.web, data && typeof data === 'object' ? data : undefined);
      } catch (error) {
        if (error instanceof ProviderError && error.code === 'NOT_FOUND') return toResult(indicator, section.web, undefined);
        // OTX answers a wrong key with 403.
        throw error instanceof ProviderError ? forbiddenAsAuth(error, CREDENTIAL_WORDS) : error;
      }
    },
    ...budgetAndClose(client),
  };
}
