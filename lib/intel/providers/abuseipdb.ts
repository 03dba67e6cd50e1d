/**
 * AbuseIPDB API v2 `check` as a threat-intel source. Node-RED-free.
 *
 * Contract: docs/vendor-facts.md §B.2; https://docs.abuseipdb.com/#check-endpoint (GET /api/v2/check,
 * `ipAddress` + `maxAgeInDays` query, header `Key`, `Accept: application/json`),
 * https://docs.abuseipdb.com/#rate-limiting (X-RateLimit-* headers, 429 + Retry-After on the daily limit),
 * errors JSON:API style `{"errors":[{"detail","status"}]}`.
 *
 * Level, from data (reports of the last 90 days):
 *   isWhitelisted                       → benign (AbuseIPDB vouches for it), found true
 *   abuseConfidenceScore ≥ 75           → malicious
 *   abuseConfidenceScore ≥ 25           → suspicious
 *   reported, score < 25                → benign (reports exist but AbuseIPDB gives them little weight)
 *   no reports                          → unknown, found false
 * `confidence` = abuseConfidenceScore (0-100).
 *
 * Budget default = the free "Individual" plan: 1,000 checks per day. A 429 whose body names the daily
 * limit is QUOTA_EXHAUSTED and pauses the client until the vendor's Retry-After / X-RateLimit-Reset
 * (or 00:00 UTC without one); a 429 with a short Retry-After and no daily wording is a rate limit
 * that is waited out.
 */
import { createHttpClient, type BodyCheck } from '../../core/http';
import type { IocType } from '../../ioc';
import type { Indicator, IntelLevel, IntelProvider, IntelProviderOptions, IntelResult } from '../types';
import { asRecord, budgetAndClose, compact, countOrZero, missingKey, resultBuilder, text, unsupportedIndicator } from './common';

const KIND = 'abuseipdb';
const DEFAULT_BASE_URL = 'https://api.abuseipdb.com/api/v2';
const SUPPORTED: readonly IocType[] = ['ipv4', 'ipv6'];
const MAX_AGE_DAYS = 90;
export const ABUSEIPDB_MALICIOUS_SCORE = 75;
export const ABUSEIPDB_SUSPICIOUS_SCORE = 25;

export function levelFromCheck(score: number, totalReports: number, whitelisted: boolean): IntelLevel {
  if (whitelisted) return 'benign';
  if (score >= ABUSEIPDB_MALICIOUS_SCORE) return 'malicious';
  if (score >= ABUSEIPDB_SUSPICIOUS_SCORE) return 'suspicious';
  return totalReports > 0 ? 'benign' : 'unknown';
}

const checkBody: BodyCheck = (data) => {
  const body = asRecord(data);
  const firstError = Array.isArray(body?.errors) ? asRecord(body.errors[0]) : undefined;
  if (firstError) {
    return { code: 'BAD_REQUEST', message: text(firstError.detail) ?? 'AbuseIPDB reported an error' };
  }
  if (!asRecord(body?.data)) {
    return { code: 'BODY_ERROR', message: 'answer is not an AbuseIPDB check result (no data object); check the base URL' };
  }
  return undefined;
};

export function createAbuseIpdb(opts: IntelProviderOptions = {}): IntelProvider {
  const name = opts.name ?? 'AbuseIPDB';
  const apiKey = opts.apiKey ?? '';
  const answerFor = resultBuilder(KIND, name, opts.now ?? Date.now);
  const client = createHttpClient({
    provider: KIND,
    baseURL: opts.baseURL ?? DEFAULT_BASE_URL,
    headers: { Key: apiKey, Accept: 'application/json' },
    secrets: apiKey ? [apiKey] : [],
    budget: opts.budget ?? { perDay: 1000 },
    timeoutMs: opts.timeoutMs,
    checkBody,
    // Default quota detection fits: "Daily rate limit of 1000 requests exceeded" names the day.
    now: opts.now,
    sleep: opts.sleep,
  });

  async function lookup(indicator: Indicator, signal?: AbortSignal): Promise<IntelResult> {
    if (!SUPPORTED.includes(indicator.type)) throw unsupportedIndicator(KIND, indicator.type);
    if (!apiKey) throw missingKey(KIND, 'API key');
    const { data } = await client.request({
      url: '/check',
      params: { ipAddress: indicator.value, maxAgeInDays: MAX_AGE_DAYS },
      signal,
    });
    const report = asRecord(asRecord(data)?.data) ?? {};
    const score = Math.min(100, countOrZero(report.abuseConfidenceScore));
    const totalReports = countOrZero(report.totalReports);
    const whitelisted = report.isWhitelisted === true;
    const level = levelFromCheck(score, totalReports, whitelisted);
    const lastReportedAt = text(report.lastReportedAt, 40);

    const evidence = compact({
      abuseConfidenceScore: score,
      totalReports,
      numDistinctUsers: countOrZero(report.numDistinctUsers),
      lastReportedAt,
      isWhitelisted: typeof report.isWhitelisted === 'boolean' ? report.isWhitelisted : undefined,
      isTor: typeof report.isTor === 'boolean' ? report.isTor : undefined,
      countryCode: text(report.countryCode, 8),
      usageType: text(report.usageType, 100),
      isp: text(report.isp),
      domain: text(report.domain),
    });

    let summary: string;
    if (whitelisted) {
      summary = `${name}: whitelisted${text(report.isp) ? ` (${text(report.isp)})` : ''}`;
    } else if (totalReports === 0) {
      summary = `${name}: no reports in the last ${MAX_AGE_DAYS} days`;
    } else {
      const users = countOrZero(report.numDistinctUsers);
      summary = `${name}: abuse confidence ${score}%, ${totalReports} report${totalReports === 1 ? '' : 's'}`;
      if (users > 0) summary += ` from ${users} user${users === 1 ? '' : 's'}`;
      if (lastReportedAt) summary += `, last ${lastReportedAt.slice(0, 10)}`;
    }

    return answerFor(indicator, {
      level,
      found: totalReports > 0 || whitelisted,
      confidence: score,
      evidence,
      summary,
      link: `https://www.abuseipdb.com/check/${encodeURIComponent(indicator.value).replace(/%3A/gi, ':')}`,
    });
  }

  return { kind: KIND, name, types: SUPPORTED, external: true, lookup, ...budgetAndClose(client) };
}
