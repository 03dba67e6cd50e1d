/**
 * Jira Cloud issues as a ticket tracker (REST API v3). Node-RED-free.
 *
 * Contract: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/ (POST
 * /rest/api/3/issue → 201 {id,key,self}; 400 {errorMessages:[], errors:{field: text}}),
 * .../api-group-issue-search/ (GET /rest/api/3/search/jql with jql, fields, maxResults; paging by
 * nextPageToken; the old /rest/api/3/search answers 410), .../api-group-issue-comments/ (POST
 * /rest/api/3/issue/{key}/comment {body: ADF}), https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/
 * (Atlassian Document Format), https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/
 * (Basic email:API token), https://developer.atlassian.com/cloud/jira/platform/rate-limiting/ (429
 * with Retry-After seconds and X-RateLimit-Reset ISO-8601).
 *
 * Incident key: the label `soar-<key>` (lib/ticket/common.ts incidentLabel). The search is
 * eventually consistent, so a just-created issue may not be found yet: callers keep their own record.
 * Closed = status category "done".
 */
import {
  asRecord,
  asString,
  badAnswer,
  bySeverity,
  checkCreateInput,
  cleanBaseUrl,
  fitText,
  fitTitle,
  incidentLabel,
  linkLine,
  messagesIn,
  withVendorMessage,
  trackerHttp,
} from './common';
import type { CreateTicketInput, TicketProvider, TicketProviderOptions, TicketRef, TicketStatus } from './types';

const KIND = 'jira';
// summary: 255 characters; description and comment bodies: 32,767 characters (Jira Cloud's text
// field limit, counted on the stored document).
const LIMITS = { title: 255, body: 32_767, comment: 32_767 };
/** Jira's default priority scheme, per severity 0..6. */
const PRIORITIES = ['Medium', 'Lowest', 'Low', 'Medium', 'High', 'Highest', 'Highest'] as const;

export interface JiraOptions extends TicketProviderOptions {
  email?: string;
  apiToken?: string;
  /** Project key, e.g. "SEC". */
  project: string;
  issueType?: string;
  /** Send the priority (off when the project's create screen has no priority field). */
  setPriority?: boolean;
}

type AdfNode = Record<string, unknown>;

/** Plain text as an ADF document: blank lines separate paragraphs, single newlines become hard breaks. */
export function toAdf(text: string): AdfNode {
  const paragraphs = text
    .replace(/\r\n/g, '\n')
    .split(/\n{2,}/)
    .filter((p) => p.trim() !== '')
    .map((p) => {
      const content: AdfNode[] = [];
      p.split('\n').forEach((line, i) => {
        if (i > 0) content.push({ type: 'hardBreak' });
        if (line !== '') content.push({ type: 'text', text: line });
      });
      return { type: 'paragraph', content };
    });
  return { type: 'doc', version: 1, content: paragraphs.length ? paragraphs : [{ type: 'paragraph', content: [] }] };
}

/** Text back out of ADF (for the fake and for tests). */
export function adfText(doc: unknown): string {
  const node = asRecord(doc);
  if (!node) return '';
  if (node.type === 'text') return String(node.text ?? '');
  if (node.type === 'hardBreak') return '\n';
  const inner = Array.isArray(node.content) ? node.content.map(adfText).join('') : '';
  return node.type === 'paragraph' ? `${inner}\n\n` : inner;
}

/** An ADF document whose serialised size fits `max` (the text is cut further until it does). */
function fittedAdf(text: string, max: number, what: string): AdfNode {
  let budget = max;
  for (let i = 0; i < 6; i++) {
    const doc = toAdf(fitText(text, budget, what));
    const size = JSON.stringify(doc).length;
    if (size <= max) return doc;
    budget = Math.max(200, budget - (size - max) - 100);
  }
  return toAdf(fitText(text, 200, what));
}

const jqlString = (value: string) => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function createJira(opts: JiraOptions): TicketProvider {
  const name = opts.name ?? 'Jira';
  const base = cleanBaseUrl(KIND, opts.baseURL);
  const token = opts.apiToken ?? '';
  const basic = Buffer.from(`${opts.email ?? ''}:${token}`).toString('base64');
  const explain = (error: unknown) =>
    withVendorMessage(error, (body) => {
      const b = asRecord(body);
      return [...messagesIn(b?.errorMessages), ...messagesIn(b?.errors)].join('; ') || undefined;
    });
  const { client, call } = trackerHttp(opts, {
    provider: KIND,
    baseURL: base,
    headers: { authorization: `Basic ${basic}`, accept: 'application/json' },
    secrets: token ? [token, basic] : [],
    budget: { perSecond: 5 },
    explain,
  });
  const ref = (key: string): TicketRef => ({ id: key, key, url: `${base}/browse/${key}` });

  return {
    kind: KIND,
    name,
    // The body is ADF made of plain text nodes (adf() below): nothing in it renders as markup.
    limits: LIMITS,
    markup: 'plain',
    priorityFor: (severity) => bySeverity(PRIORITIES, severity),

    async findOpenByIncident(incidentKey, signal) {
      const jql = `project = ${jqlString(opts.project)} AND labels = ${jqlString(incidentLabel(incidentKey))} AND statusCategory != Done ORDER BY created DESC`;
      const data = await call<unknown>({ url: '/rest/api/3/search/jql', params: { jql, fields: 'status', maxResults: 1 }, signal });
      const issues = asRecord(data)?.issues;
      if (!Array.isArray(issues)) throw badAnswer(KIND, 'issues list');
      const key = asString(asRecord(issues[0])?.key);
      return key ? ref(key) : undefined;
    },

    async create(input: CreateTicketInput, signal) {
      checkCreateInput(KIND, input);
      let text = `${input.body ?? ''}\n\nSOAR incident: ${input.incidentKey}`;
      if (input.linkTo) text = `${linkLine(input.linkTo)}\n\n${text}`;
      const fields: Record<string, unknown> = {
        project: { key: opts.project },
        issuetype: { name: opts.issueType || 'Task' },
        summary: fitTitle(input.title, LIMITS.title),
        labels: ['soar', incidentLabel(input.incidentKey)],
        description: fittedAdf(text, LIMITS.body, 'description'),
      };
      if (opts.setPriority !== false) fields.priority = { name: bySeverity(PRIORITIES, input.severity) };
      const data = await call<unknown>({ method: 'POST', url: '/rest/api/3/issue', data: { fields }, signal });
      const key = asString(asRecord(data)?.key);
      if (!key) throw badAnswer(KIND, 'issue key');
      return ref(key);
    },

    async comment(target, text, _options, signal) {
      await call({
        method: 'POST',
        url: `/rest/api/3/issue/${encodeURIComponent(target.id)}/comment`,
        data: { body: fittedAdf(text, LIMITS.comment, 'comment') },
        signal,
      });
    },

    async status(target, signal): Promise<TicketStatus> {
      const data = await call<unknown>({ url: `/rest/api/3/issue/${encodeURIComponent(target.id)}`, params: { fields: 'status' }, signal });
      const status = asRecord(asRecord(asRecord(data)?.fields)?.status);
      const category = asString(asRecord(status?.statusCategory)?.key);
      if (!status || !category) throw badAnswer(KIND, 'fields.status.statusCategory');
      return { state: category === 'done' ? 'closed' : 'open', vendorStatus: asString(status.name) };
    },

    budgetState: () => client.budgetState(),
    close: () => client.close(),
  };
}
