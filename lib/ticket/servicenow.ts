/**
 * ServiceNow incidents as a ticket tracker (Table API). Node-RED-free.
 *
 * Contract: https://www.servicenow.com/docs/ (REST API reference → Table API: POST
 * /api/now/table/incident → 201 {result:{sys_id, number, ...}}; GET /api/now/table/incident with
 * sysparm_query (encoded query, conditions joined by ^), sysparm_fields, sysparm_limit → {result:[...]};
 * PATCH /api/now/table/incident/{sys_id}; errors {error:{message, detail}, status:"failure"}),
 * Basic authentication. Rate limits are per-instance rules answered with 429 and Retry-After.
 * Field values come back as strings ("2", "true").
 *
 * Incident key: `correlation_id` = `soar:<key>` (hashed when the key does not fit the field's 100
 * characters or holds a ^, which an encoded query cannot carry), correlation_display "SOAR".
 * Severity: impact and urgency (1 high .. 3 low); the instance's priority lookup rules derive the priority.
 * Closed: `active` false, or state 6 Resolved / 7 Closed / 8 Canceled.
 */
import { createHash } from 'node:crypto';
import {
  asRecord,
  asString,
  badAnswer,
  bySeverity,
  checkCreateInput,
  cleanBaseUrl,
  fitText,
  fitTitle,
  linkLine,
  withVendorMessage,
  trackerHttp,
} from './common';
import type { CreateTicketInput, TicketProvider, TicketProviderOptions, TicketRef, TicketStatus } from './types';

const KIND = 'servicenow';
// short_description 160, description 4,000 (base-system field lengths); journal entries likewise.
const LIMITS = { title: 160, body: 4_000, comment: 4_000 };
/** [impact, urgency] per severity 0..6; with the default lookup: 3/3 → P5, 2/3 → P4, 2/2 → P3, 1/2 → P2, 1/1 → P1. */
const IMPACT_URGENCY: readonly (readonly [string, string])[] = [
  ['2', '2'],
  ['3', '3'],
  ['2', '3'],
  ['2', '2'],
  ['1', '2'],
  ['1', '1'],
  ['1', '1'],
];
const CLOSED_STATES = new Set(['6', '7', '8']);

export interface ServiceNowOptions extends TicketProviderOptions {
  username?: string;
  password?: string;
  /** Journal field for updates: work_notes (internal, default) or comments (visible to the caller). */
  commentField?: 'work_notes' | 'comments';
  assignmentGroup?: string;
  category?: string;
}

export function correlationId(incidentKey: string): string {
  const key = incidentKey.trim();
  if (key.length <= 90 && !/[\^=]/.test(key)) return `soar:${key}`;
  return `soar:${createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 32)}`;
}

export function createServiceNow(opts: ServiceNowOptions): TicketProvider {
  const name = opts.name ?? 'ServiceNow';
  const base = cleanBaseUrl(KIND, opts.baseURL);
  const password = opts.password ?? '';
  const basic = Buffer.from(`${opts.username ?? ''}:${password}`).toString('base64');
  const explain = (error: unknown) => withVendorMessage(error, (body) => asString(asRecord(asRecord(body)?.error)?.detail));
  const { client, call } = trackerHttp(opts, {
    provider: KIND,
    baseURL: base,
    headers: { authorization: `Basic ${basic}`, accept: 'application/json' },
    secrets: password ? [password, basic] : [],
    budget: { perSecond: 5 },
    explain,
  });
  const ref = (record: Record<string, unknown> | undefined): TicketRef => {
    const sysId = asString(record?.sys_id);
    if (!sysId) throw badAnswer(KIND, 'result.sys_id');
    const number = asString(record?.number) ?? sysId;
    return { id: sysId, key: number, url: `${base}/nav_to.do?uri=${encodeURIComponent(`incident.do?sys_id=${sysId}`)}` };
  };
  const commentField = opts.commentField ?? 'work_notes';

  return {
    kind: KIND,
    name,
    limits: LIMITS,
    markup: 'servicenow',
    priorityFor: (severity) => {
      const [impact, urgency] = bySeverity(IMPACT_URGENCY, severity);
      return `impact ${impact} / urgency ${urgency}`;
    },

    async findOpenByIncident(incidentKey, signal) {
      const data = await call<unknown>({
        url: '/api/now/table/incident',
        params: {
          sysparm_query: `correlation_id=${correlationId(incidentKey)}^active=true^ORDERBYDESCsys_created_on`,
          sysparm_fields: 'sys_id,number,state',
          sysparm_limit: 1,
        },
        signal,
      });
      const result = asRecord(data)?.result;
      if (!Array.isArray(result)) throw badAnswer(KIND, 'result list');
      return result.length ? ref(asRecord(result[0])) : undefined;
    },

    async create(input: CreateTicketInput, signal) {
      checkCreateInput(KIND, input);
      let text = input.body ?? '';
      if (input.linkTo) text = `${linkLine(input.linkTo)}\n\n${text}`;
      const [impact, urgency] = bySeverity(IMPACT_URGENCY, input.severity);
      const record: Record<string, unknown> = {
        short_description: fitTitle(input.title, LIMITS.title),
        description: fitText(text, LIMITS.body, 'description'),
        impact,
        urgency,
        correlation_id: correlationId(input.incidentKey),
        correlation_display: 'SOAR',
      };
      if (opts.category) record.category = opts.category;
      if (opts.assignmentGroup) record.assignment_group = opts.assignmentGroup;
      const data = await call<unknown>({ method: 'POST', url: '/api/now/table/incident', params: { sysparm_fields: 'sys_id,number' }, data: record, signal });
      return ref(asRecord(asRecord(data)?.result));
    },

    async comment(target, text, _options, signal) {
      // PATCH of a journal field appends an entry each time: not retried by the client.
      await call({
        method: 'PATCH',
        url: `/api/now/table/incident/${encodeURIComponent(target.id)}`,
        params: { sysparm_fields: 'sys_id' },
        data: { [commentField]: fitText(text, LIMITS.comment, 'note') },
        idempotent: false,
        signal,
      });
    },

    async status(target, signal): Promise<TicketStatus> {
      const data = await call<unknown>({
        url: `/api/now/table/incident/${encodeURIComponent(target.id)}`,
        params: { sysparm_fields: 'state,active', sysparm_display_value: 'false' },
        signal,
      });
      const result = asRecord(asRecord(data)?.result);
      const state = asString(result?.state);
      if (!result || state === undefined) throw badAnswer(KIND, 'result.state');
      const closed = String(result.active) === 'false' || CLOSED_STATES.has(state);
      return { state: closed ? 'closed' : 'open', vendorStatus: state };
    },

    budgetState: () => client.budgetState(),
    close: () => client.close(),
  };
}
