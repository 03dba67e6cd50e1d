/**
 * Shodan InternetDB as a threat-intel source. Node-RED-free.
 *
 * Contract: docs/vendor-facts.md §B.4; https://internetdb.shodan.io/ (GET /{ip}, no key, answer
 * `{cpes,hostnames,ip,ports,tags,vulns}`, 404 `{"detail":"No information available"}`; documented for
 * IPv4 addresses, refreshed weekly) and https://book.shodan.io/enterprise/database-files/internetdb.
 *
 * InternetDB describes exposure (open ports, known CVEs), not reputation, so it never says
 * "malicious" or "benign" on its own:
 *   a tag that means the host itself is bad: malware, c2, compromised, doublepulsar → suspicious
 *   any other record (ports, CVEs, tags like cloud/vpn/tor/self-signed)          → unknown, found true
 *   404 "No information available"                                               → unknown, found false
 * No confidence of its own; `confidence` stays unset.
 *
 * Limits: none published, and no key. Default budget: a polite 1 request per second. A 429 is a
 * rate limit (retried after the hint or a backoff), never a quota.
 */
import { createHttpClient, ProviderError, type BodyCheck } from '../../core/http';
import type { IocType } from '../../ioc';
import type { Indicator, IntelLevel, IntelProvider, IntelProviderOptions, IntelResult } from '../types';
import { asRecord, budgetAndClose, resultBuilder, unsupportedIndicator } from './common';

const KIND = 'shodan-internetdb';
const DEFAULT_BASE_URL = 'https://internetdb.shodan.io';
const SUPPORTED: readonly IocType[] = ['ipv4'];
/** Shodan tags that say the host itself is doing harm, not only that it is exposed. */
export const INTERNETDB_BAD_TAGS: readonly string[] = ['malware', 'c2', 'compromised', 'doublepulsar'];
const MAX_PORTS = 20;
const MAX_VULNS = 10;
const MAX_HOSTNAMES = 5;
const MAX_TAGS = 10;

function strings(value: unknown, max: number): string[] {
  if (!Array.isArray(value)) return [];
  return value
    .filter((item): item is string => typeof item === 'string' && item !== '')
    .slice(0, max)
    .map((item) => item.slice(0, 200));
}

function numbers(value: unknown, max: number): number[] {
  if (!Array.isArray(value)) return [];
  return value.filter((item): item is number => Number.isInteger(item) && item >= 0 && item <= 65535).slice(0, max);
}

export function levelFromTags(tags: readonly string[]): IntelLevel {
  return tags.some((tag) => INTERNETDB_BAD_TAGS.includes(tag.toLowerCase())) ? 'suspicious' : 'unknown';
}

const checkBody: BodyCheck = (data) => {
  const body = asRecord(data);
  if (body && ('ports' in body || 'ip' in body)) return undefined;
  return { code: 'BODY_ERROR', message: 'answer is not an InternetDB record; check the base URL' };
};

function isNoInformation(error: ProviderError): boolean {
  const body = asRecord(error.body);
  return Boolean(body && typeof body.detail === 'string');
}

export function createShodanInternetDb(opts: IntelProviderOptions = {}): IntelProvider {
  const name = opts.name ?? 'Shodan InternetDB';
  const answerFor = resultBuilder(KIND, name, opts.now ?? Date.now);
  const client = createHttpClient({
    provider: KIND,
    baseURL: opts.baseURL ?? DEFAULT_BASE_URL,
    headers: { accept: 'application/json' },
    budget: opts.budget ?? { perSecond: 1 },
    timeoutMs: opts.timeoutMs,
    checkBody,
    // No quota exists: a 429 is throttling, however it is worded.
    isQuota: () => false,
    now: opts.now,
    sleep: opts.sleep,
  });

  async function lookup(indicator: Indicator, signal?: AbortSignal): Promise<IntelResult> {
    if (!SUPPORTED.includes(indicator.type)) throw unsupportedIndicator(KIND, indicator.type);
    const link = `https://www.shodan.io/host/${encodeURIComponent(indicator.value)}`;

    let data: unknown;
    try {
      ({ data } = await client.request({ url: `/${encodeURIComponent(indicator.value)}`, signal }));
    } catch (error) {
      if (error instanceof ProviderError && error.code === 'NOT_FOUND' && isNoInformation(error)) {
        return answerFor(indicator, {
          level: 'unknown',
          found: false,
          evidence: {},
          summary: `${name}: no information (nothing seen open on this address)`,
          link,
        });
      }
      throw error;
    }

    const body = asRecord(data) ?? {};
    const ports = numbers(body.ports, MAX_PORTS);
    const allVulns = strings(body.vulns, 10_000);
    const tags = strings(body.tags, MAX_TAGS);
    const hostnames = strings(body.hostnames, MAX_HOSTNAMES);
    const level = levelFromTags(tags);

    const parts: string[] = [];
    parts.push(ports.length > 0 ? `open ports ${ports.slice(0, 8).join(', ')}${ports.length > 8 ? ', …' : ''}` : 'no open ports seen');
    if (allVulns.length > 0) parts.push(`${allVulns.length} known CVE${allVulns.length === 1 ? '' : 's'}`);
    if (tags.length > 0) parts.push(`tags: ${tags.join(', ')}`);

    return answerFor(indicator, {
      level,
      found: true,
      evidence: {
        ports,
        vulnCount: allVulns.length,
        vulns: allVulns.slice(0, MAX_VULNS),
        tags,
        hostnames,
      },
      summary: `${name}: ${parts.join('; ')}`,
      link,
    });
  }

  return { kind: KIND, name, types: SUPPORTED, external: true, lookup, ...budgetAndClose(client) };
}
