/**
 * GreyNoise Community API as a threat-intel source. Node-RED-free.
 *
 * Contract: docs/vendor-facts.md §B.3; https://docs.greynoise.io/reference/getcommunityip
 * (GET /v3/community/{ip}, optional header `key`; 200 `{ip,noise,riot,classification,name,link,
 * last_seen,message}`; 404 "IP not observed scanning the internet or contained in RIOT data set.")
 * and https://docs.greynoise.io/docs/using-the-greynoise-community-api (low-volume, 429 when used up).
 *
 * Level:
 *   classification "malicious"                       → malicious
 *   classification "suspicious"                      → suspicious
 *   classification "benign", or riot (known business service) → benign
 *   noise (mass-scanning the internet), intent "unknown" → suspicious: it is scanning, nobody vouches for it
 *   anything else the dataset holds                  → unknown, found true
 *   404 "IP not observed"                            → unknown, found false
 * The community API carries no confidence; `confidence` stays unset. IPv4 only (the endpoint says
 * "not a valid routable IPv4 address" otherwise).
 *
 * Quota: the community quota is documented loosely (50 lookups/week for a free account, fewer
 * without a key; third parties also cite a daily cap). The default budget spreads 50/week evenly:
 * 7 per day. A 429 is treated as a used-up quota (QUOTA_EXHAUSTED, paused until the hint or
 * 00:00 UTC) unless it carries a Retry-After and no quota wording, which is waited out as a rate limit.
 */
import { createHttpClient, ProviderError, type BodyCheck } from '../../core/http';
import type { IocType } from '../../ioc';
import type { Indicator, IntelLevel, IntelProvider, IntelProviderOptions, IntelResult } from '../types';
import { asRecord, budgetAndClose, compact, resultBuilder, text, unsupportedIndicator } from './common';

const KIND = 'greynoise';
const DEFAULT_BASE_URL = 'https://api.greynoise.io';
const VIZ_BASE = 'https://viz.greynoise.io/ip/';
const SUPPORTED: readonly IocType[] = ['ipv4'];
const QUOTA_WORDING = /quota|daily|per[ -]day|week|lookups\/|rate limit of/i;

export interface CommunityAnswer {
  noise: boolean;
  riot: boolean;
  classification?: string;
}

export function levelFromCommunity(answer: CommunityAnswer): IntelLevel {
  const classification = answer.classification?.toLowerCase();
  if (classification === 'malicious') return 'malicious';
  if (classification === 'suspicious') return 'suspicious';
  if (classification === 'benign' || answer.riot) return 'benign';
  if (answer.noise) return 'suspicious';
  return 'unknown';
}

const checkBody: BodyCheck = (data) => {
  const body = asRecord(data);
  if (body && ('noise' in body || 'riot' in body || 'classification' in body)) return undefined;
  return { code: 'BODY_ERROR', message: 'answer is not a GreyNoise community result; check the base URL' };
};

/** The vendor's own "not observed" 404, as opposed to a 404 from a wrong base URL. */
function isNotObserved(error: ProviderError): boolean {
  const body = asRecord(error.body);
  return Boolean(body && ('ip' in body || /not observed/i.test(String(body.message ?? ''))));
}

function summarize(name: string, level: IntelLevel, answer: CommunityAnswer, actor: string | undefined, lastSeen: string | undefined): string {
  const seen = lastSeen ? `, last seen ${lastSeen}` : '';
  const who = actor && actor.toLowerCase() !== 'unknown' ? ` (${actor})` : '';
  if (level === 'malicious') return `${name}: malicious${who}${seen}`;
  if (level === 'benign') return `${name}: benign${who}${answer.riot ? ', a known business service' : ''}${seen}`;
  if (answer.classification?.toLowerCase() === 'suspicious') return `${name}: suspicious${who}${seen}`;
  if (answer.noise) return `${name}: scans the internet, intent unknown${who}${seen}`;
  return `${name}: known, no classification${seen}`;
}

export function createGreyNoise(opts: IntelProviderOptions = {}): IntelProvider {
  const name = opts.name ?? 'GreyNoise';
  const apiKey = opts.apiKey ?? '';
  const answerFor = resultBuilder(KIND, name, opts.now ?? Date.now);
  const client = createHttpClient({
    provider: KIND,
    baseURL: opts.baseURL ?? DEFAULT_BASE_URL,
    // The community tier answers without a key too, at a lower quota.
    headers: { accept: 'application/json', ...(apiKey ? { key: apiKey } : {}) },
    secrets: apiKey ? [apiKey] : [],
    budget: opts.budget ?? { perDay: 7 },
    timeoutMs: opts.timeoutMs,
    checkBody,
    isQuota: (_status, data, headers) => {
      if (QUOTA_WORDING.test(JSON.stringify(data ?? '').slice(0, 4096))) return true;
      return headers['retry-after'] === undefined;
    },
    now: opts.now,
    sleep: opts.sleep,
  });

  async function lookup(indicator: Indicator, signal?: AbortSignal): Promise<IntelResult> {
    if (!SUPPORTED.includes(indicator.type)) throw unsupportedIndicator(KIND, indicator.type);
    const fallbackLink = VIZ_BASE + encodeURIComponent(indicator.value);

    let data: unknown;
    try {
      ({ data } = await client.request({ url: `/v3/community/${encodeURIComponent(indicator.value)}`, signal }));
    } catch (error) {
      if (error instanceof ProviderError && error.code === 'NOT_FOUND' && isNotObserved(error)) {
        return answerFor(indicator, {
          level: 'unknown',
          found: false,
          evidence: { noise: false, riot: false },
          summary: `${name}: not observed scanning the internet, not a known business service`,
          link: fallbackLink,
        });
      }
      throw error;
    }

    const body = asRecord(data) ?? {};
    const answer: CommunityAnswer = { noise: body.noise === true, riot: body.riot === true, classification: text(body.classification, 40) };
    const actor = text(body.name, 100);
    const lastSeen = text(body.last_seen, 40);
    const level = levelFromCommunity(answer);
    const vendorLink = text(body.link, 300);

    return answerFor(indicator, {
      level,
      found: true,
      evidence: compact({ classification: answer.classification, noise: answer.noise, riot: answer.riot, name: actor, lastSeen }),
      summary: summarize(name, level, answer, actor, lastSeen),
      // Only the vendor's own visualizer is used as a link; anything else in the body is ignored.
      link: vendorLink && vendorLink.startsWith(VIZ_BASE) ? vendorLink : fallbackLink,
    });
  }

  return { kind: KIND, name, types: SUPPORTED, external: true, lookup, ...budgetAndClose(client) };
}
