/**
 * Contract fake: abuse.ch ThreatFox API v1, `search_ioc`.
 *
 * Follows https://threatfox.abuse.ch/api/#search-ioc and the vendor's sample script
 * abusech/ThreatFox `threatfox_search_ioc.py` (POST /api/v1/, header Auth-Key, JSON body
 * {"query":"search_ioc","search_term":…}); docs/vendor-facts.md §B.6 and §0.1 (status in body).
 * Every outcome is HTTP 200 with `query_status`: "ok" + data[], "no_result" + a text in data,
 * "illegal_search_term", "unknown_auth_key" (the last can be switched to an HTTP 401, see `authFailureStatus`,
 * because abuse.ch does not document which one it sends).
 *
 * Shape checks: anything off-contract (method, path, content type, missing header, body fields) is recorded
 * in `violations` and answered like ThreatFox answers an unknown query (`query_status: "unknown_query"`).
 */
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../helpers/fake-server';

export interface ThreatFoxIoc {
  id: string;
  ioc: string;
  threat_type: string;
  threat_type_desc?: string;
  ioc_type: string;
  ioc_type_desc?: string;
  malware: string;
  malware_printable: string;
  malware_alias?: string | null;
  malware_malpedia?: string | null;
  confidence_level: number;
  first_seen: string;
  last_seen: string | null;
  reference?: string | null;
  reporter?: string;
  tags: string[] | null;
}

export interface ThreatFoxFakeOptions {
  apiKey: string;
  now?: () => number;
  /** HTTP status sent with `unknown_auth_key` (200 by default). */
  authFailureStatus?: number;
}

export const THREATFOX_PATH = '/api/v1/';

export class ThreatFoxFake {
  readonly violations: string[] = [];
  /** search_term → what ThreatFox returns for it. */
  private readonly answers = new Map<string, ThreatFoxIoc[]>();
  private readonly queued: FakeReply[] = [];

  constructor(
    readonly server: FakeServer,
    private readonly options: ThreatFoxFakeOptions,
  ) {
    server.route('*', /.*/, (request) => this.handle(request));
  }

  /** What the provider should use as baseURL. */
  get baseURL(): string {
    return `${this.server.url}/api/v1`;
  }

  /** Searches that reached the vendor (queued replies included). */
  get searches(): FakeRequest[] {
    return this.server.requests;
  }

  /** Make `searchTerm` return these IOC records. */
  answer(searchTerm: string, iocs: ThreatFoxIoc[]): this {
    this.answers.set(searchTerm, iocs);
    return this;
  }

  /** The next requests get these replies (429s, 5xx, slow answers) before normal service resumes. */
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
    if (request.path !== THREATFOX_PATH) problems.push(`path ${request.path}, expected ${THREATFOX_PATH}`);
    if (!/application\/json/.test(request.headers['content-type'] ?? '')) problems.push('content-type is not application/json');
    const key = request.headers['auth-key'];
    if (key === undefined) problems.push('no Auth-Key header');
    const body = request.json as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object') problems.push('body is not a JSON object');
    else {
      if (body.query !== 'search_ioc') problems.push(`query ${String(body.query)}, expected search_ioc`);
      if (typeof body.search_term !== 'string') problems.push('search_term missing');
      const extra = Object.keys(body).filter((field) => field !== 'query' && field !== 'search_term');
      if (extra.length) problems.push(`unexpected fields ${extra.join(', ')}`);
    }
    if (problems.length) {
      this.violations.push(...problems);
      return { status: 200, body: { query_status: 'unknown_query', data: null } };
    }
    if (key !== this.options.apiKey) {
      return { status: this.options.authFailureStatus ?? 200, body: { query_status: 'unknown_auth_key' } };
    }

    const term = String(body!.search_term);
    if (term.trim().length < 3 || /\s/.test(term)) return { status: 200, body: { query_status: 'illegal_search_term', data: null } };
    const hits = this.answers.get(term);
    if (!hits || hits.length === 0) return { status: 200, body: { query_status: 'no_result', data: 'Your search did not yield any results' } };
    return { status: 200, body: { query_status: 'ok', data: hits } };
  }
}

export async function startThreatFoxFake(options: ThreatFoxFakeOptions): Promise<ThreatFoxFake> {
  return new ThreatFoxFake(await startFakeServer({ now: options.now }), options);
}

/** A ThreatFox record with the documented fields; override what the test cares about. */
export function threatFoxIoc(overrides: Partial<ThreatFoxIoc> & Pick<ThreatFoxIoc, 'ioc'>): ThreatFoxIoc {
  return {
    id: '1234567',
    threat_type: 'botnet_cc',
    threat_type_desc: 'Indicator that identifies a botnet command&control server (C&C)',
    ioc_type: 'ip:port',
    ioc_type_desc: 'ip:port combination that is used for botnet Command&control (C&C)',
    malware: 'win.cobalt_strike',
    malware_printable: 'Cobalt Strike',
    malware_alias: 'Agentemis,BEACON,CobaltStrike',
    malware_malpedia: 'https://malpedia.caad.fkie.fraunhofer.de/details/win.cobalt_strike',
    confidence_level: 100,
    first_seen: '2026-01-10 08:15:02 UTC',
    last_seen: null,
    reference: null,
    reporter: 'abuse_ch',
    tags: ['c2', 'CobaltStrike'],
    ...overrides,
  };
}
