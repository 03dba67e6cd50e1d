/**
 * MISP: attribute search on your own (or your community's) MISP instance.
 * Contract: docs/vendor-facts.md §B.8; MISP OpenAPI "restSearch attributes"
 * (https://www.misp-project.org/openapi/#tag/Attributes/operation/restSearchAttributes).
 *
 * Request: POST {base}/attributes/restSearch with `Authorization: <authkey>` (the raw key, no scheme),
 * `Accept: application/json`, JSON body
 *   {"returnFormat":"json","value":"<value>","type":[<MISP attribute types for our IocType>],
 *    "includeEventTags":1,"limit":50,"page":1[,"to_ids":1]}
 * The search is read-only, so it is retried like a GET. MISP answers an unknown or non-API key with
 * 403 `{"name":"Authentication failed ...","message":...,"url":...}`: that is reported as AUTH.
 *
 * Level:
 *   - any matching attribute with to_ids true (the producer marked it fit for detection) → malicious
 *   - matches, none with to_ids                                                         → suspicious
 *   - `{"response":{"Attribute":[]}}`                                                     → unknown, found:false
 * Evidence: counts, the events (id + info, first 5), tags (event tags included: tlp, threat level,
 * galaxies), attribute types and categories, the newest attribute time. Link: the event page.
 *
 * external: false by default — a MISP you run is your own server, so internal addresses MAY be sent
 * (that is often the point: "was this host seen in an earlier incident?"). Set `external: true` when
 * the instance belongs to someone else (a sharing community's server) and internal addresses must
 * stay home. No budget by default (self-hosted, no rate limit); set `budget` to protect a small server.
 * `verifyTls: false` accepts a self-signed certificate (prefer installing the CA instead).
 */
import { createHttpClient, ProviderError, type BodyCheckFailure } from '../../core/http';
import type { IocType } from '../../ioc';
import type { Indicator, IntelProvider, IntelProviderOptions, IntelResult } from '../types';
import { budgetAndClose, forbiddenAsAuth, resultBuilder, selfSignedAgent, unique, unsupportedIndicator, webBase } from './common';

export interface MispOptions extends IntelProviderOptions {
  /** Check the server certificate (default true). False accepts self-signed certificates. */
  verifyTls?: boolean;
  /** Only attributes flagged for IDS (sends to_ids:1); then every hit is malicious. Default false. */
  toIdsOnly?: boolean;
  /** True when the instance is not yours: internal indicators are then never sent. Default false. */
  external?: boolean;
  /** Attributes asked for per lookup (MISP `limit`). Default 50. */
  limit?: number;
}

/** MISP attribute types searched for each indicator type (composite types match on either part). */
const MISP_TYPES: Partial<Record<IocType, string[]>> = {
  ipv4: ['ip-src', 'ip-dst', 'ip-src|port', 'ip-dst|port', 'domain|ip'],
  ipv6: ['ip-src', 'ip-dst', 'ip-src|port', 'ip-dst|port', 'domain|ip'],
  domain: ['domain', 'hostname', 'domain|ip'],
  url: ['url'],
  email: ['email', 'email-src', 'email-dst'],
  md5: ['md5', 'filename|md5'],
  sha1: ['sha1', 'filename|sha1'],
  sha256: ['sha256', 'filename|sha256'],
  sha512: ['sha512', 'filename|sha512'],
  cve: ['vulnerability'],
};
const TYPES = Object.keys(MISP_TYPES) as IocType[];
const THREAT_LEVELS: Record<string, string> = { '1': 'high', '2': 'medium', '3': 'low', '4': 'undefined' };
const MAX_LISTED = 5;
const AUTH_WORDS = /authenticat|api key|authkey/i;

interface MispTag {
  name?: string;
}

interface MispAttribute {
  id?: string;
  event_id?: string;
  type?: string;
  category?: string;
  value?: string;
  to_ids?: boolean | number | string;
  timestamp?: string | number;
  Event?: { id?: string; info?: string; threat_level_id?: string | number; Tag?: MispTag[] };
  Tag?: MispTag[];
}

interface MispSearchAnswer {
  response?: { Attribute?: MispAttribute[] } | unknown[];
}

function checkMispBody(data: unknown): BodyCheckFailure | undefined {
  if (data && typeof data === 'object' && 'response' in data) return undefined;
  return { code: 'BODY_ERROR', message: 'not a MISP restSearch answer (is the base URL the MISP server?)' };
}

function isToIds(value: MispAttribute['to_ids']): boolean {
  return value === true || value === 1 || value === '1' || value === 'true';
}

export function createMisp(options: MispOptions): IntelProvider {
  const apiKey = options.apiKey;
  if (!apiKey) throw new TypeError('MISP needs an auth key (MISP: Administration → Auth keys)');
  if (!options.baseURL) throw new TypeError('MISP needs the base URL of your instance, e.g. https://misp.example.org');
  const name = options.name ?? 'MISP';
  const answerFor = resultBuilder('misp', name, options.now ?? Date.now);
  const links = webBase(options.baseURL);
  const insecureAgent = selfSignedAgent(options.verifyTls);
  const client = createHttpClient({
    provider: 'misp',
    baseURL: options.baseURL,
    headers: { Authorization: apiKey, Accept: 'application/json' },
    secrets: [apiKey],
    budget: options.budget,
    timeoutMs: options.timeoutMs,
    checkBody: checkMispBody,
    now: options.now,
    sleep: options.sleep,
    ...(insecureAgent ? { httpsAgent: insecureAgent } : {}),
  });

  function toResult(indicator: Indicator, answer: MispSearchAnswer): IntelResult {
    const response = answer.response;
    const attributes = response && !Array.isArray(response) && Array.isArray(response.Attribute) ? response.Attribute : [];
    if (attributes.length === 0) {
      return answerFor(indicator, { level: 'unknown', found: false, evidence: { attributes: 0 }, summary: `${name}: no matching attribute` });
    }
    const forIds = attributes.filter((attribute) => isToIds(attribute.to_ids));
    // The event a person should open first: one that flagged the indicator for detection, else the newest.
    const byNewest = [...attributes].sort((a, b) => Number(b.timestamp ?? 0) - Number(a.timestamp ?? 0));
    const lead = (forIds.length ? byNewest.filter((attribute) => isToIds(attribute.to_ids)) : byNewest)[0];
    const events = new Map<string, string>();
    for (const attribute of byNewest) {
      const eventId = String(attribute.Event?.id ?? attribute.event_id ?? '');
      if (eventId && !events.has(eventId)) events.set(eventId, attribute.Event?.info ?? '');
    }
    const threatLevelIds = attributes.map((attribute) => Number(attribute.Event?.threat_level_id)).filter((id) => id >= 1 && id <= 4);
    const newest = Number(byNewest[0].timestamp);
    const evidence: Record<string, unknown> = {
      attributes: attributes.length,
      forIds: forIds.length,
      events: [...events].slice(0, MAX_LISTED).map(([id, info]) => ({ id, info })),
      eventCount: events.size,
      tags: unique(
        attributes.flatMap((attribute) => [...(attribute.Tag ?? []), ...(attribute.Event?.Tag ?? [])].map((tag) => tag.name)),
        15,
      ),
      types: unique(
        attributes.map((attribute) => attribute.type),
        MAX_LISTED,
      ),
      categories: unique(
        attributes.map((attribute) => attribute.category),
        MAX_LISTED,
      ),
    };
    if (threatLevelIds.length) evidence.threatLevel = THREAT_LEVELS[String(Math.min(...threatLevelIds))];
    if (Number.isFinite(newest) && newest > 0) evidence.lastSeen = new Date(newest * 1000).toISOString();

    const leadEventId = String(lead.Event?.id ?? lead.event_id ?? '');
    const leadInfo = lead.Event?.info ? `"${lead.Event.info}" ` : '';
    const counts = `${attributes.length} attribute${attributes.length === 1 ? '' : 's'} in ${events.size} event${events.size === 1 ? '' : 's'}`;
    const summary = `${name}: ${counts}, ${forIds.length} flagged for IDS — ${leadInfo}(event ${leadEventId || '?'})`;
    return answerFor(indicator, {
      level: forIds.length > 0 ? 'malicious' : 'suspicious',
      found: true,
      evidence,
      summary,
      ...(leadEventId ? { link: `${links}/events/view/${encodeURIComponent(leadEventId)}` } : {}),
    });
  }

  return {
    kind: 'misp',
    name,
    types: TYPES,
    external: options.external ?? false,
    async lookup(indicator: Indicator, signal?: AbortSignal): Promise<IntelResult> {
      const mispTypes = MISP_TYPES[indicator.type];
      if (!mispTypes) throw unsupportedIndicator('misp', indicator.type);
      const body: Record<string, unknown> = {
        returnFormat: 'json',
        value: indicator.value,
        type: mispTypes,
        includeEventTags: 1,
        limit: options.limit ?? 50,
        page: 1,
      };
      if (options.toIdsOnly) body.to_ids = 1;
      try {
        const { data } = await client.request<MispSearchAnswer>({
          method: 'POST',
          url: '/attributes/restSearch',
          data: body,
          headers: { 'Content-Type': 'application/json' },
          // restSearch only reads, so a retry cannot duplicate anything.
          idempotent: true,
          signal,
        });
        return toResult(indicator, data);
      } catch (error) {
        // MISP says "Authentication failed" with a 403.
        throw error instanceof ProviderError ? forbiddenAsAuth(error, AUTH_WORDS) : error;
      }
    },
    ...budgetAndClose(client, insecureAgent),
  };
}
