/**
 * Contract fake for Jira Cloud REST v3 issues, for lib/ticket/jira.ts.
 *
 * Follows: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/ (POST
 * /rest/api/3/issue {fields} → 201 {id,key,self}; 400 {errorMessages:[], errors:{field: text}}),
 * .../api-group-issue-search/ (GET /rest/api/3/search/jql → {issues:[{id,key,fields}], nextPageToken?};
 * the old GET /rest/api/3/search answers 410 Gone), .../api-group-issue-comments/ (POST
 * .../issue/{key}/comment {body: ADF} → 201), https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/
 * (Basic base64(email:token), 401 otherwise), https://developer.atlassian.com/cloud/jira/platform/rate-limiting/
 * (429 + Retry-After seconds, X-RateLimit-Reset ISO-8601). The v3 description must be an ADF
 * document: a plain string is refused with 400 (the error text is from memory [M]).
 * The fake understands only the JQL the client sends: project = "X" AND labels = "L" AND statusCategory != Done.
 */
import type { FakeRequest } from '../helpers/fake-server';
import { adfText } from '../../lib/ticket/jira';
import { json, startTrackerFake, type TrackerFake } from './ticket-kit';

export const JIRA_EMAIL = 'soc@example.com';
export const JIRA_TOKEN = 'ATATT3xFfGF0-jira-token-9b1d4c7e2a6f8035';
export const JIRA_PROJECT = 'SEC';
const AUTH = `Basic ${Buffer.from(`${JIRA_EMAIL}:${JIRA_TOKEN}`).toString('base64')}`;

function isAdf(value: unknown): boolean {
  const doc = value as { type?: unknown; version?: unknown; content?: unknown } | undefined;
  return !!doc && doc.type === 'doc' && doc.version === 1 && Array.isArray(doc.content);
}

function handle(request: FakeRequest, fake: TrackerFake) {
  const key = (t: TrackerFake['tickets'][number]) => `${JIRA_PROJECT}-${t.n}`;
  const status = (t: TrackerFake['tickets'][number]) => ({ name: t.closed ? 'Done' : 'To Do', statusCategory: { key: t.closed ? 'done' : 'new' } });
  if (request.path === '/rest/api/3/search')
    return json(410, { errorMessages: ['The requested API has been removed. Please migrate to the /rest/api/3/search/jql API.'] });
  if (request.path === '/rest/api/3/search/jql' && request.method === 'GET') {
    const jql = request.query.jql ?? '';
    const m = /^project = "([^"]+)" AND labels = "([^"]+)" AND statusCategory != Done/.exec(jql);
    if (!m) {
      fake.violations.push(`JQL the fake does not know: ${jql}`);
      return json(400, { errorMessages: ['Error in the JQL Query'], errors: {} });
    }
    if (request.query.startAt !== undefined) fake.violations.push('startAt is not a search/jql parameter');
    const found = fake.tickets.filter((t) => !t.closed && t.labels.includes(m[2]) && m[1] === JIRA_PROJECT).sort((a, b) => b.n - a.n);
    const max = Number(request.query.maxResults ?? 50);
    return json(200, {
      issues: found.slice(0, max).map((t) => ({ id: String(10000 + t.n), key: key(t), fields: { status: status(t) } })),
      isLast: found.length <= max,
    });
  }
  if (request.path === '/rest/api/3/issue' && request.method === 'POST') {
    const fields = (request.json as { fields?: Record<string, unknown> } | undefined)?.fields ?? {};
    const errors: Record<string, string> = {};
    if ((fields.project as { key?: unknown } | undefined)?.key !== JIRA_PROJECT) errors.project = 'valid project is required';
    if (!fields.summary) errors.summary = 'You must specify a summary of the issue.';
    if (fields.description !== undefined && !isAdf(fields.description))
      errors.description = 'Operation value must be an Atlassian Document (see the Atlassian Document Format)';
    if (Object.keys(errors).length) return json(400, { errorMessages: [], errors });
    const labels = Array.isArray(fields.labels) ? (fields.labels as string[]) : [];
    if (labels.some((l) => /\s/.test(l))) return json(400, { errorMessages: [], errors: { labels: 'The label must not contain spaces.' } });
    const t = fake.addTicket({
      title: String(fields.summary),
      body: adfText(fields.description),
      labels,
      priority: (fields.priority as { name?: string } | undefined)?.name,
      created: fields,
    });
    return json(201, { id: String(10000 + t.n), key: key(t), self: `${fake.url}/rest/api/3/issue/${10000 + t.n}` });
  }
  const one = /^\/rest\/api\/3\/issue\/([A-Z]+-(\d+))(\/comment)?$/.exec(request.path);
  if (one) {
    const t = fake.tickets.find((x) => x.n === Number(one[2]));
    if (!t) return json(404, { errorMessages: ['Issue does not exist or you do not have permission to see it.'], errors: {} });
    if (one[3] && request.method === 'POST') {
      const body = (request.json as { body?: unknown } | undefined)?.body;
      if (!isAdf(body)) return json(400, { errorMessages: [], errors: { comment: 'Comment body is not a valid document' } });
      t.comments.push(adfText(body));
      return json(201, { id: String(t.comments.length) });
    }
    if (!one[3] && request.method === 'GET') return json(200, { id: String(10000 + t.n), key: key(t), fields: { status: status(t) } });
  }
  return json(404, { errorMessages: ['not found'] });
}

export function startJiraFake(options: { now?: () => number } = {}): Promise<TrackerFake> {
  return startTrackerFake(
    {
      authorize: (r) => (r.headers.authorization === AUTH ? undefined : { status: 401, body: 'Client must be authenticated to access this resource.' }),
      handle,
    },
    options,
  );
}
