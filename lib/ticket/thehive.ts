/**
 * TheHive 5 alerts or cases as a ticket tracker (API v1). Node-RED-free.
 *
 * Contract (the shapes of the official Python client thehive4py 2.x, endpoints/alert.py, case.py,
 * observable.py, query/*.py, types/*.py): POST /api/v1/alert {type, source, sourceRef, title,
 * description, severity 1..4, tags, observables[{dataType, data, message, ioc}]} → 201 OutputAlert
 * {_id, status, stage, ...}; POST /api/v1/case {title, description, severity, tags} → OutputCase
 * {_id, number, ...}; POST /api/v1/{alert|case}/{id}/observable → list; POST /api/v1/case/{id}/comment
 * {message}; PATCH /api/v1/alert/{id}; GET /api/v1/{alert|case}/{id}; POST /api/v1/query with
 * [{_name:"listAlert"}, {_name:"filter", ...}, {_name:"page", from, to}]. Auth `Authorization: Bearer`
 * (+ `X-Organisation` for a user in several organisations).
 *
 * Incident key: an alert's `sourceRef`, which TheHive keeps unique per (type, source): a second
 * create is refused, and reported here as a TicketDuplicateError carrying the existing alert. A case
 * has no sourceRef: the key goes into the tag `soar-incident:<key>`.
 * Closed: stage "Closed" (TheHive 5 sets it with a closing status such as TruePositive); an alert
 * promoted to a case (stage "Imported") counts as closed: its case is where the work goes on.
 */
import { ProviderError } from '../core/http';
import { asRecord, asString, badAnswer, bySeverity, checkCreateInput, cleanBaseUrl, fitText, fitTitle, linkLine, trackerHttp } from './common';
import { TicketDuplicateError } from './errors';
import type { CreateTicketInput, TicketObservable, TicketProvider, TicketProviderOptions, TicketRef, TicketStatus } from './types';

const KIND = 'thehive';
// TheHive documents no length limits; these keep a document well inside its index (Elasticsearch /
// Lucene refuses single terms over 32 KB, so the title stays short).
const LIMITS = { title: 512, body: 100_000, comment: 100_000 };
/** TheHive severity 1 low, 2 medium, 3 high, 4 critical, per OCSF severity 0..6. */
const SEVERITIES = [2, 1, 1, 2, 3, 4, 4] as const;
const SEVERITY_NAMES: Record<number, string> = { 1: '1 (low)', 2: '2 (medium)', 3: '3 (high)', 4: '4 (critical)' };
const CLOSED_STAGES = new Set(['Closed', 'Imported']);
const DATA_TYPES: Record<string, string> = {
  ipv4: 'ip',
  ipv6: 'ip',
  ip: 'ip',
  domain: 'domain',
  fqdn: 'fqdn',
  url: 'url',
  md5: 'hash',
  sha1: 'hash',
  sha256: 'hash',
  hash: 'hash',
  email: 'mail',
  mail: 'mail',
  filename: 'filename',
};

export interface TheHiveOptions extends TicketProviderOptions {
  apiKey?: string;
  organisation?: string;
  /** What a ticket is: an alert (default; unique sourceRef) or a case. */
  mode?: 'alert' | 'case';
  /** Alert `source` (with `type`, the scope in which sourceRef is unique). */
  source?: string;
  alertType?: string;
  /** Web UI root for links, when it differs from the API URL. */
  uiURL?: string;
}

export function theHiveObservable(o: TicketObservable): Record<string, unknown> {
  return { dataType: DATA_TYPES[o.type] ?? 'other', data: o.value, ioc: true, ...(o.message ? { message: o.message } : {}) };
}

export const caseTag = (incidentKey: string) => `soar-incident:${incidentKey}`;

export function createTheHive(opts: TheHiveOptions): TicketProvider {
  const name = opts.name ?? 'TheHive';
  const base = cleanBaseUrl(KIND, opts.baseURL);
  const ui = opts.uiURL ? cleanBaseUrl(KIND, opts.uiURL) : base;
  const apiKey = opts.apiKey ?? '';
  const mode = opts.mode ?? 'alert';
  const source = opts.source || 'SOAR';
  const alertType = opts.alertType || 'soar';
  const { client, call } = trackerHttp(opts, {
    provider: KIND,
    baseURL: base,
    headers: { authorization: `Bearer ${apiKey}`, accept: 'application/json', ...(opts.organisation ? { 'x-organisation': opts.organisation } : {}) },
    secrets: apiKey ? [apiKey] : [],
    budget: { perSecond: 10 },
  });
  const ref = (type: 'alert' | 'case', record: Record<string, unknown> | undefined): TicketRef => {
    const id = asString(record?._id);
    if (!id) throw badAnswer(KIND, '_id');
    const number = asString(record?.number);
    const key = type === 'case' && number ? `#${number}` : id;
    return { id, key, url: `${ui}/${type === 'case' ? 'cases' : 'alerts'}/${encodeURIComponent(id)}/details`, type };
  };
  const typeOf = (target: TicketRef): 'alert' | 'case' => (target.type === 'case' || target.type === 'alert' ? target.type : mode);

  async function query(incidentKey: string, signal?: AbortSignal): Promise<Record<string, unknown>[]> {
    const list = mode === 'case' ? 'listCase' : 'listAlert';
    const filter =
      mode === 'case'
        ? { _name: 'filter', _eq: { _field: 'tags', _value: caseTag(incidentKey) } }
        : {
            _name: 'filter',
            _and: [
              // Follow-ups of a closed alert carry "<key>~<time>" (create below).
              { _or: [{ _eq: { _field: 'sourceRef', _value: incidentKey } }, { _startsWith: { _field: 'sourceRef', _value: `${incidentKey}~` } }] },
              { _eq: { _field: 'source', _value: source } },
              { _eq: { _field: 'type', _value: alertType } },
            ],
          };
    const data = await call<unknown>({
      method: 'POST',
      url: '/api/v1/query',
      params: { name: mode === 'case' ? 'soar-cases' : 'soar-alerts' },
      data: { query: [{ _name: list }, filter, { _name: 'sort', _fields: [{ _createdAt: 'desc' }] }, { _name: 'page', from: 0, to: 10, extraData: [] }] },
      idempotent: true,
      signal,
    });
    if (!Array.isArray(data)) throw badAnswer(KIND, 'query result list');
    return data.map((d) => asRecord(d) ?? {});
  }

  const isClosed = (record: Record<string, unknown>) => CLOSED_STAGES.has(asString(record.stage) ?? '');

  async function addObservables(type: 'alert' | 'case', id: string, observables: TicketObservable[] | undefined, signal?: AbortSignal) {
    for (const o of observables ?? []) {
      await call({ method: 'POST', url: `/api/v1/${type}/${encodeURIComponent(id)}/observable`, data: theHiveObservable(o), signal }).catch(
        (error: unknown) => {
          // One already on the ticket is refused as a duplicate; that is the wanted state.
          if (error instanceof ProviderError && (error.status === 400 || error.status === 409) && /exist|duplicate/i.test(error.message)) return;
          throw error;
        },
      );
    }
  }

  return {
    kind: KIND,
    name,
    limits: LIMITS,
    markup: 'markdown',
    priorityFor: (severity) => SEVERITY_NAMES[bySeverity(SEVERITIES, severity)],

    async findOpenByIncident(incidentKey, signal) {
      const open = (await query(incidentKey, signal)).find((r) => !isClosed(r));
      return open ? ref(mode, open) : undefined;
    },

    async create(input: CreateTicketInput, signal) {
      checkCreateInput(KIND, input);
      let text = input.body ?? '';
      if (input.linkTo) text = `${linkLine(input.linkTo)}\n\n${text}`;
      const common = {
        title: fitTitle(input.title, LIMITS.title),
        description: fitText(text, LIMITS.body, 'description'),
        severity: bySeverity(SEVERITIES, input.severity),
      };
      if (mode === 'case') {
        const data = await call<unknown>({ method: 'POST', url: '/api/v1/case', data: { ...common, tags: ['soar', caseTag(input.incidentKey)] }, signal });
        const created = ref('case', asRecord(data));
        await addObservables('case', created.id, input.observables, signal);
        return created;
      }
      // A closed alert keeps its sourceRef: a follow-up alert gets a suffixed one.
      const sourceRef = input.linkTo ? `${input.incidentKey}~${(opts.now ?? Date.now)()}` : input.incidentKey;
      try {
        const data = await call<unknown>({
          method: 'POST',
          url: '/api/v1/alert',
          data: { ...common, type: alertType, source, sourceRef, tags: ['soar'], observables: (input.observables ?? []).map(theHiveObservable) },
          signal,
        });
        return ref('alert', asRecord(data));
      } catch (error) {
        if (error instanceof ProviderError && (error.status === 400 || error.status === 409) && /already exists|duplicate/i.test(error.message)) {
          const existing = (await query(input.incidentKey, signal).catch(() => []))[0];
          throw new TicketDuplicateError(
            {
              provider: KIND,
              message: `${KIND}: an alert with this sourceRef already exists (${error.message.replace(/^thehive: /, '')})`,
              status: error.status,
              body: error.body,
            },
            existing ? ref('alert', existing) : undefined,
          );
        }
        throw error;
      }
    },

    async comment(target, text, options, signal) {
      const type = typeOf(target);
      const id = encodeURIComponent(target.id);
      if (type === 'case') {
        await call({ method: 'POST', url: `/api/v1/case/${id}/comment`, data: { message: fitText(text, LIMITS.comment, 'comment') }, signal });
      } else {
        // Alerts take no comments: the sighting is appended to the description.
        const alert = asRecord(await call<unknown>({ url: `/api/v1/alert/${id}`, signal }));
        const before = asString(alert?.description) ?? '';
        const description = fitText(`${before}\n\n---\n${text}`, LIMITS.body, 'description');
        await call({ method: 'PATCH', url: `/api/v1/alert/${id}`, data: { description }, idempotent: false, signal });
      }
      await addObservables(type, target.id, options?.observables, signal);
    },

    async status(target, signal): Promise<TicketStatus> {
      const record = asRecord(await call<unknown>({ url: `/api/v1/${typeOf(target)}/${encodeURIComponent(target.id)}`, signal }));
      if (!record || !asString(record.stage)) throw badAnswer(KIND, 'stage');
      return { state: isClosed(record) ? 'closed' : 'open', vendorStatus: asString(record.status) ?? asString(record.stage) };
    },

    budgetState: () => client.budgetState(),
    close: () => client.close(),
  };
}
