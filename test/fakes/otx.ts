/**
 * Contract fake: AlienVault OTX (LevelBlue) DirectConnect API v1, indicator details, section `general`.
 *
 * Follows https://otx.alienvault.com/api ("Indicators": GET /api/v1/indicators/{type}/{indicator}/{section},
 * types IPv4, IPv6, domain, hostname, url, file, cve; header X-OTX-API-KEY) and the official SDK
 * AlienVault-OTX/OTX-Python-SDK (`get_indicator_details_by_section`); docs/vendor-facts.md §B.7.
 * `general` answers {indicator, type, type_title, reputation, pulse_info:{count, pulses[]}, validation[],
 * false_positive[], country_code, asn, sections}. An indicator OTX never saw still gets a 200 with
 * pulse_info.count 0 (IPs, domains); `missing()` makes one answer 404 instead (e.g. an unknown file hash).
 * A wrong key is a 403 {"detail": "Invalid API key"} ([M]: DRF-style detail; the text is not documented).
 *
 * Shape checks: method GET, path /api/v1/indicators/{known type}/{value}/general, key header → `violations`.
 */
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../helpers/fake-server';

export interface OtxPulseRecord {
  id: string;
  name: string;
  tags: string[];
  created: string;
  modified: string;
  TLP: string;
  adversary: string;
  malware_families: { id: string; display_name: string }[];
}

export interface OtxGeneralRecord {
  pulses?: Partial<OtxPulseRecord>[];
  validation?: { source: string; message: string; name: string }[];
  false_positive?: { assessment: string; report_date: string }[];
  reputation?: number;
  country_code?: string;
  asn?: string;
}

export interface OtxFakeOptions {
  apiKey: string;
  now?: () => number;
}

const SECTION_TYPES = new Set(['IPv4', 'IPv6', 'domain', 'hostname', 'url', 'file', 'cve']);
const TYPE_TITLES: Record<string, string> = {
  IPv4: 'IPv4',
  IPv6: 'IPv6',
  domain: 'Domain',
  hostname: 'Hostname',
  url: 'URL',
  file: 'FileHash-SHA256',
  cve: 'CVE',
};

export class OtxFake {
  readonly violations: string[] = [];
  private readonly records = new Map<string, OtxGeneralRecord>();
  private readonly absent = new Set<string>();
  private readonly queued: FakeReply[] = [];

  constructor(
    readonly server: FakeServer,
    private readonly options: OtxFakeOptions,
  ) {
    server.route('*', /.*/, (request) => this.handle(request));
  }

  get baseURL(): string {
    return `${this.server.url}/api/v1`;
  }

  /** What OTX knows about `{type}/{value}` (type as in the URL: IPv4, domain, hostname, file, ...). */
  set(type: string, value: string, record: OtxGeneralRecord): this {
    this.records.set(`${type}/${value}`, record);
    return this;
  }

  /** Make `{type}/{value}` answer 404. */
  missing(type: string, value: string): this {
    this.absent.add(`${type}/${value}`);
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

    const match = /^\/api\/v1\/indicators\/([^/]+)\/([^/]+)\/general$/.exec(request.path);
    const problems: string[] = [];
    if (request.method !== 'GET') problems.push(`method ${request.method}, expected GET`);
    if (!match) problems.push(`path ${request.path} is not /api/v1/indicators/{type}/{value}/general`);
    else if (!SECTION_TYPES.has(match[1])) problems.push(`unknown indicator type ${match[1]}`);
    const key = request.headers['x-otx-api-key'];
    if (key === undefined) problems.push('no X-OTX-API-KEY header');
    if (problems.length) {
      this.violations.push(...problems);
      return { status: 404, body: { detail: 'Not found.' } };
    }
    if (key !== this.options.apiKey) return { status: 403, body: { detail: 'Invalid API key' } };

    const [, type, encodedValue] = match!;
    const value = decodeURIComponent(encodedValue);
    const id = `${type}/${value}`;
    if (this.absent.has(id)) return { status: 404, body: { detail: 'Not found.' } };
    const record = this.records.get(id) ?? {};
    const pulses = (record.pulses ?? []).map((pulse, index) => ({
      id: `65f0${String(index).padStart(20, '0')}`,
      name: `Pulse ${index + 1}`,
      tags: [],
      created: '2026-01-01T00:00:00.000000',
      modified: '2026-01-02T00:00:00.000000',
      TLP: 'white',
      adversary: '',
      malware_families: [],
      ...pulse,
    }));
    return {
      status: 200,
      body: {
        indicator: value,
        type,
        type_title: TYPE_TITLES[type],
        reputation: record.reputation ?? 0,
        country_code: record.country_code,
        asn: record.asn,
        base_indicator: pulses.length ? { id: 4001, indicator: value, type } : {},
        pulse_info: { count: pulses.length, pulses, references: [], related: { alienvault: {}, other: {} } },
        false_positive: record.false_positive ?? [],
        validation: record.validation ?? [],
        sections: ['general', 'geo', 'reputation', 'url_list', 'passive_dns', 'malware', 'nids_list', 'http_scans'],
      },
    };
  }
}

export async function startOtxFake(options: OtxFakeOptions): Promise<OtxFake> {
  return new OtxFake(await startFakeServer({ now: options.now }), options);
}
