/**
 * Public types of the alert normaliser, and the small contract every format adapter implements.
 * Node-RED-free.
 */

export type AlertFormat = 'wazuh' | 'suricata' | 'elastic' | 'alertmanager' | 'splunk' | 'graylog' | 'crowdsec' | 'msgraph' | 'ocsf' | 'generic' | 'soar';

export const ALERT_FORMATS: readonly AlertFormat[] = [
  'wazuh',
  'suricata',
  'elastic',
  'alertmanager',
  'splunk',
  'graylog',
  'crowdsec',
  'msgraph',
  'ocsf',
  'generic',
  'soar',
];

export type ObservableType = 'ip' | 'domain' | 'url' | 'md5' | 'sha1' | 'sha256' | 'email' | 'user' | 'host';

export interface Observable {
  type: ObservableType;
  value: string;
  /** Normalised dotted path the value came from ("source.ip"), or "raw.<path>" when it has no normalised home. */
  field: string;
}

/** OCSF severity_id: 0 Unknown, 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical, 6 Fatal. */
export type Severity = 0 | 1 | 2 | 3 | 4 | 5 | 6;

export interface FileHashes {
  md5?: string;
  sha1?: string;
  sha256?: string;
}

export interface NormalisedAlert {
  schema: 'soar.alert/1';
  id: string;
  fingerprint: string;
  time: string;
  received: string;
  status: 'firing' | 'resolved';
  origin: { product: string; format: AlertFormat; id?: string; url?: string };
  title: string;
  description?: string;
  severity: Severity;
  severity_label: string;
  rule: { id?: string; name?: string; ruleset?: string; mitre?: string[] };
  source?: { ip?: string; port?: number };
  destination?: { ip?: string; port?: number };
  host?: { name?: string; id?: string; ip?: string[] };
  user?: { name?: string; domain?: string };
  file?: { name?: string; hash?: FileHashes };
  url?: { full?: string };
  dns?: { question?: { name?: string } };
  observables: Observable[];
  tags: string[];
  raw: unknown;
}

export interface NormaliseOptions {
  /** Default "auto": detect per item. */
  format?: AlertFormat | 'auto';
  /** The receive time written to `received` (and used when an alert carries no usable time). Default now. */
  received?: Date;
  /** Normalised dotted path -> Splunk result-row field, e.g. {"source.ip": "src_ip"}. Overrides the CIM defaults per path. */
  splunkFieldMap?: Record<string, string>;
  /** Normalised dotted path -> dotted path in the input item, e.g. {"title": "summary", "source.ip": "attacker.ip"}. */
  genericFieldMap?: Record<string, string>;
  /** User mapping for generic items (the node evaluates JSONata); returns normalised dotted paths -> values. */
  genericMapper?: (item: unknown) => Record<string, unknown> | undefined;
}

export interface NormaliseResult {
  alerts: NormalisedAlert[];
  /** Items (or envelope entries) that are not alerts; `index` is the 0-based position of the input item. */
  ignored: { index: number; reason: string }[];
}

/**
 * The dotted paths an adapter (or a field map, or a user mapper) may fill. Values are loose
 * (`unknown`): the common post-processing coerces, refangs and validates them in one place.
 */
export const DRAFT_PATHS = [
  'id',
  'time',
  'status',
  'title',
  'description',
  'severity',
  'severity_label',
  'origin.product',
  'origin.id',
  'origin.url',
  'rule.id',
  'rule.name',
  'rule.ruleset',
  'rule.mitre',
  'source.ip',
  'source.port',
  'destination.ip',
  'destination.port',
  'host.name',
  'host.id',
  'host.ip',
  'user.name',
  'user.domain',
  'file.name',
  'file.hash',
  'file.hash.md5',
  'file.hash.sha1',
  'file.hash.sha256',
  'url.full',
  'dns.question.name',
  'tags',
] as const;

export type DraftPath = (typeof DRAFT_PATHS)[number];

/**
 * What an adapter returns: loose values under normalised dotted paths. `severity` is expected to be
 * an OCSF number already (adapters apply their own table); for the generic format and user mappings
 * a word or number is accepted and mapped by the common table.
 */
export type AlertDraft = { [P in DraftPath]?: unknown } & {
  /** The original item, kept untouched as the alert's `raw`. */
  raw: unknown;
  /** Observables with no normalised home (Suricata tls.sni, extra evidence); field should be "raw.<path>". */
  extraObservables?: { type: ObservableType; value: unknown; field: string }[];
  /** Stable key fields a derived id is hashed from when the format has no native id. */
  idKey?: unknown[];
  /** Set by the generic adapter: severity is a free word/number still to be mapped. */
  looseSeverity?: boolean;
};

/** An adapter's verdict that an item of its format is not an alert (Suricata flow event, ...). */
export interface Ignore {
  ignore: string;
}

export interface MapContext {
  options: NormaliseOptions;
  /** The envelope an entry came out of (Alertmanager webhook, Elastic webhook body, Graph list). */
  envelope?: Record<string, unknown>;
}

export interface Envelope {
  entries: unknown[];
  /** Path prefix used in messages about an entry, e.g. "alerts" gives "alerts[3]". */
  label: string;
}

export interface FormatAdapter {
  readonly format: AlertFormat;
  /** Cheap structural test used by auto-detection (single entries or this format's envelope); never throws. */
  detect(item: Record<string, unknown>): boolean;
  /** When the item is this format's envelope: the entries inside it. */
  split?(item: Record<string, unknown>): Envelope | undefined;
  /** For a fixed format: what the item lacks to be of this format, or undefined when it fits. */
  missing(item: Record<string, unknown>, ctx: MapContext): string | undefined;
  map(item: Record<string, unknown>, ctx: MapContext): AlertDraft | Ignore;
}
