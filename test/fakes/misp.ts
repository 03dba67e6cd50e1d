/**
 * Contract fake: MISP REST API, POST /attributes/restSearch (JSON).
 *
 * Follows the MISP OpenAPI spec (https://www.misp-project.org/openapi/ → Attributes → restSearchAttributes:
 * `Authorization: <authkey>` raw, `Accept: application/json`, body {returnFormat, value, type, to_ids,
 * includeEventTags, limit, page}; answer {"response":{"Attribute":[{id, event_id, object_id, category, type,
 * value, to_ids, timestamp, comment, Event{id, info, orgc_id, uuid, threat_level_id}, Tag[]}]}}) and
 * docs/vendor-facts.md §B.8. An unknown key is a 403 {"name":"Authentication failed. …","message":…,"url":…}
 * (MISP's AppController text). Values match exactly; composite attributes ("domain|ip", "filename|md5",
 * "ip-dst|port") match on either part, as MISP does.
 *
 * Shape checks (→ `violations`): POST, path, raw key (no "Bearer"), Accept JSON, JSON body with
 * returnFormat "json", a string value, type as a string array, numeric limit/page.
 */
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../helpers/fake-server';

export interface MispFakeAttribute {
  type: string;
  value: string;
  category?: string;
  to_ids?: boolean;
  /** Epoch seconds. */
  timestamp?: number;
  tags?: string[];
  comment?: string;
}

export interface MispFakeEvent {
  id: string;
  info: string;
  threat_level_id?: '1' | '2' | '3' | '4';
  tags?: string[];
  attributes: MispFakeAttribute[];
}

export interface MispFakeOptions {
  apiKey: string;
  now?: () => number;
}

const AUTH_FAILED = 'Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header.';

export class MispFake {
  readonly violations: string[] = [];
  private readonly events: MispFakeEvent[] = [];
  private readonly queued: FakeReply[] = [];

  constructor(
    readonly server: FakeServer,
    private readonly options: MispFakeOptions,
  ) {
    server.route('*', /.*/, (request) => this.handle(request));
  }

  get baseURL(): string {
    return this.server.url;
  }

  addEvent(event: MispFakeEvent): this {
    this.events.push(event);
    return this;
  }

  queue(...replies: FakeReply[]): this {
    this.queued.push(...replies);
    return this;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  private handle(request: FakeRequest): FakeReply {
    const queued = this.queued.shift();
    if (queued) return queued;

    const problems: string[] = [];
    if (request.method !== 'POST') problems.push(`method ${request.method}, expected POST`);
    if (request.path !== '/attributes/restSearch') problems.push(`path ${request.path}, expected /attributes/restSearch`);
    const key = request.headers.authorization;
    if (key === undefined) problems.push('no Authorization header');
    else if (/^(bearer|basic|token)\s/i.test(key)) problems.push('Authorization must be the raw key, without a scheme');
    if (!/application\/json/.test(request.headers.accept ?? '')) problems.push('Accept is not application/json');
    const body = request.json as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object') problems.push('body is not a JSON object');
    else {
      if (body.returnFormat !== 'json') problems.push(`returnFormat ${String(body.returnFormat)}, expected json`);
      if (typeof body.value !== 'string' || body.value === '') problems.push('value missing');
      if (body.type !== undefined && !(Array.isArray(body.type) && body.type.every((type) => typeof type === 'string')))
        problems.push('type must be a list of attribute types');
      for (const field of ['limit', 'page']) {
        if (body[field] !== undefined && !Number.isInteger(body[field])) problems.push(`${field} must be an integer`);
      }
    }
    if (problems.length) {
      this.violations.push(...problems);
      return { status: 400, body: { name: 'Bad Request', message: problems.join('; '), url: request.path } };
    }
    if (key !== this.options.apiKey) return { status: 403, body: { name: AUTH_FAILED, message: AUTH_FAILED, url: '/attributes/restSearch' } };
    return { status: 200, body: { response: { Attribute: this.search(body!) } } };
  }

  private search(body: Record<string, unknown>): unknown[] {
    const value = String(body.value);
    const types = Array.isArray(body.type) ? new Set(body.type as string[]) : undefined;
    const toIdsOnly = body.to_ids === 1 || body.to_ids === true || body.to_ids === '1';
    const matches: unknown[] = [];
    let attributeId = 9000;
    for (const event of this.events) {
      for (const attribute of event.attributes) {
        attributeId++;
        const parts = attribute.type.includes('|') ? attribute.value.split('|') : [];
        const hit = attribute.value === value || parts.includes(value);
        if (!hit || (types && !types.has(attribute.type)) || (toIdsOnly && !attribute.to_ids)) continue;
        const tags = [...(attribute.tags ?? []), ...(body.includeEventTags ? (event.tags ?? []) : [])];
        matches.push({
          id: String(attributeId),
          event_id: event.id,
          object_id: '0',
          object_relation: null,
          category: attribute.category ?? 'Network activity',
          type: attribute.type,
          value: attribute.value,
          to_ids: attribute.to_ids ?? false,
          uuid: `5f0c0000-0000-4000-8000-${String(attributeId).padStart(12, '0')}`,
          timestamp: String(attribute.timestamp ?? 1_767_225_600),
          distribution: '5',
          sharing_group_id: '0',
          comment: attribute.comment ?? '',
          deleted: false,
          disable_correlation: false,
          first_seen: null,
          last_seen: null,
          Event: {
            org_id: '1',
            distribution: '1',
            id: event.id,
            info: event.info,
            orgc_id: '1',
            uuid: `5f0c0000-0000-4000-8000-${event.id.padStart(12, '0')}`,
            threat_level_id: event.threat_level_id ?? '2',
          },
          ...(tags.length
            ? {
                Tag: tags.map((name, index) => ({
                  id: String(index + 1),
                  name,
                  colour: '#ffffff',
                  numerical_value: null,
                  inherited: index >= (attribute.tags ?? []).length ? 1 : 0,
                })),
              }
            : {}),
        });
      }
    }
    const limit = Number.isInteger(body.limit) ? Number(body.limit) : matches.length;
    const page = Number.isInteger(body.page) ? Number(body.page) : 1;
    return matches.slice((page - 1) * limit, page * limit);
  }
}

export async function startMispFake(options: MispFakeOptions): Promise<MispFake> {
  return new MispFake(await startFakeServer({ now: options.now }), options);
}
