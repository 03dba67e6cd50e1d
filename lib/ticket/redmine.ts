/**
 * Redmine issues as a ticket tracker (REST API, `X-Redmine-API-Key`). Node-RED-free.
 *
 * Contract: https://www.redmine.org/projects/redmine/wiki/Rest_api (authentication header),
 * .../Rest_Issues (POST /issues.json → 201 {issue}, PUT /issues/{id}.json {issue:{notes}} → 204,
 * GET /issues.json filters, 422 {errors:[...]}), .../Rest_IssueStatuses (is_closed),
 * .../Rest_Enumerations (issue priorities). Checked against Debian's redmine package by
 * test/system/redmine-tickets.spec.ts.
 *
 * Incident key: a custom field (`customFieldId`, searched with `cf_<id>=<key>`) when configured;
 * otherwise the marker `[soar-incident:<key>]` at the end of the description, searched with the
 * description "contains" filter (`description=~...`).
 */
import { ProviderError } from '../core/http';
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
  messagesIn,
  withVendorMessage,
  trackerHttp,
} from './common';
import { escapeFor } from './markup';
import type { CreateTicketInput, TicketProvider, TicketProviderOptions, TicketRef, TicketStatus } from './types';

const KIND = 'redmine';
// Subject: validates_length_of 255 in Redmine's Issue model. Text: MySQL TEXT holds 65,535 bytes;
// sqlite/PostgreSQL hold more, so the smaller figure is the safe one.
const LIMITS = { title: 255, body: 60_000, comment: 60_000 };
/** Priority names of Redmine's default data (redmine:load_default_data), per severity 0..6. */
const PRIORITY_NAMES = ['Normal', 'Low', 'Low', 'Normal', 'High', 'Urgent', 'Immediate'] as const;

export interface RedmineOptions extends TicketProviderOptions {
  apiKey?: string;
  /** Project identifier or numeric id. */
  project: string;
  trackerId?: number;
  /** Custom field (id) that holds the incident key; searchable ("used as a filter") in Redmine. */
  customFieldId?: number;
}

/**
 * The description marker. A key with other characters than letters, digits, `_ . -` (a URL, an
 * IPv6 address, anything from an alert) is escaped like any other value (lib/ticket/markup.ts), so it
 * cannot become a link or markup; the search uses the same form.
 */
export function redmineMarker(incidentKey: string): string {
  return `[soar-incident:${/^[\w.-]*$/.test(incidentKey) ? incidentKey : escapeFor('redmine', incidentKey)}]`;
}

export function createRedmine(opts: RedmineOptions): TicketProvider {
  const name = opts.name ?? 'Redmine';
  const base = cleanBaseUrl(KIND, opts.baseURL);
  const apiKey = opts.apiKey ?? '';
  let priorityIds: Map<string, number> | undefined;
  let closedStatuses: Map<string, boolean> | undefined;

  const explain = (error: unknown) => withVendorMessage(error, (body) => messagesIn(asRecord(body)?.errors).join('; ') || undefined);
  const { client, call } = trackerHttp(opts, {
    provider: KIND,
    baseURL: base,
    headers: { 'x-redmine-api-key': apiKey, accept: 'application/json' },
    secrets: apiKey ? [apiKey] : [],
    budget: { perSecond: 5 },
    explain,
  });
  const ref = (id: string): TicketRef => ({ id, key: `#${id}`, url: `${base}/issues/${id}` });

  async function priorityId(severity: number, signal?: AbortSignal): Promise<number | undefined> {
    if (!priorityIds) {
      const data = await call<unknown>({ url: '/enumerations/issue_priorities.json', signal });
      const list = asRecord(data)?.issue_priorities;
      if (!Array.isArray(list)) throw badAnswer(KIND, 'issue_priorities');
      priorityIds = new Map();
      for (const p of list) {
        const r = asRecord(p);
        if (typeof r?.name === 'string' && typeof r.id === 'number') priorityIds.set(r.name.toLowerCase(), r.id);
      }
    }
    // An instance with other priority names: Redmine's default priority is used.
    return priorityIds.get(bySeverity(PRIORITY_NAMES, severity).toLowerCase());
  }

  return {
    kind: KIND,
    name,
    limits: LIMITS,
    markup: 'redmine',
    priorityFor: (severity) => bySeverity(PRIORITY_NAMES, severity),

    async findOpenByIncident(incidentKey, signal) {
      const params: Record<string, unknown> = { project_id: opts.project, status_id: 'open', sort: 'id:desc', limit: 10 };
      if (opts.customFieldId) params[`cf_${opts.customFieldId}`] = incidentKey;
      else params.description = `~${redmineMarker(incidentKey)}`;
      const data = await call<unknown>({ url: '/issues.json', params, signal });
      const issues = asRecord(data)?.issues;
      if (!Array.isArray(issues)) throw badAnswer(KIND, 'issues list');
      // Redmine's "contains" is SQL LIKE, where _ and % match other characters: the hit is checked here.
      const marker = redmineMarker(incidentKey);
      const hit = issues.map(asRecord).find((issue) => {
        if (!issue) return false;
        if (!opts.customFieldId) return String(issue.description ?? '').includes(marker);
        const fields = Array.isArray(issue.custom_fields) ? issue.custom_fields.map(asRecord) : [];
        return fields.some((f) => String(f?.id) === String(opts.customFieldId) && f?.value === incidentKey);
      });
      const id = asString(hit?.id);
      return id ? ref(id) : undefined;
    },

    async create(input: CreateTicketInput, signal) {
      checkCreateInput(KIND, input);
      if (!apiKey) throw new ProviderError({ provider: KIND, code: 'AUTH', message: `${KIND}: no API key configured` });
      const marker = redmineMarker(input.incidentKey);
      let text = input.body ?? '';
      if (input.linkTo) text = `${linkLine(input.linkTo)}\n\n${text}`;
      const description = `${fitText(text, LIMITS.body - marker.length - 2, 'description')}\n\n${marker}`;
      const issue: Record<string, unknown> = {
        project_id: opts.project,
        subject: fitTitle(input.title, LIMITS.title),
        description,
      };
      if (opts.trackerId) issue.tracker_id = opts.trackerId;
      const priority = await priorityId(input.severity, signal);
      if (priority !== undefined) issue.priority_id = priority;
      if (opts.customFieldId) issue.custom_fields = [{ id: opts.customFieldId, value: input.incidentKey }];
      const data = await call<unknown>({ method: 'POST', url: '/issues.json', data: { issue }, signal });
      const id = asString(asRecord(asRecord(data)?.issue)?.id);
      if (!id) throw badAnswer(KIND, 'issue id');
      if (input.linkTo && /^\d+$/.test(input.linkTo.id)) {
        // The relation is a convenience on top of the text line above: a refusal does not undo the issue.
        await call({
          method: 'POST',
          url: `/issues/${id}/relations.json`,
          data: { relation: { issue_to_id: Number(input.linkTo.id), relation_type: 'relates' } },
          signal,
        }).catch(() => undefined);
      }
      return ref(id);
    },

    async comment(target, text, _options, signal) {
      // A repeated PUT would add the note twice: not retried by the client.
      await call({
        method: 'PUT',
        url: `/issues/${encodeURIComponent(target.id)}.json`,
        data: { issue: { notes: fitText(text, LIMITS.comment, 'note') } },
        idempotent: false,
        signal,
      });
    },

    async status(target, signal): Promise<TicketStatus> {
      const data = await call<unknown>({ url: `/issues/${encodeURIComponent(target.id)}.json`, signal });
      const status = asRecord(asRecord(asRecord(data)?.issue)?.status);
      const id = asString(status?.id);
      if (!status || !id) throw badAnswer(KIND, 'issue status');
      let closed = typeof status.is_closed === 'boolean' ? status.is_closed : undefined;
      if (closed === undefined) {
        // Redmine before 5.1 does not say is_closed on the issue: the status list does.
        if (!closedStatuses?.has(id)) {
          const list = asRecord(await call<unknown>({ url: '/issue_statuses.json', signal }))?.issue_statuses;
          if (!Array.isArray(list)) throw badAnswer(KIND, 'issue_statuses');
          closedStatuses = new Map(list.map((s) => [asString(asRecord(s)?.id) ?? '', asRecord(s)?.is_closed === true]));
        }
        closed = closedStatuses.get(id) ?? false;
      }
      return { state: closed ? 'closed' : 'open', vendorStatus: asString(status.name) };
    },

    budgetState: () => client.budgetState(),
    close: () => client.close(),
  };
}
