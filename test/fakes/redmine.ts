/**
 * Contract fake for the Redmine REST API (issues), for lib/ticket/redmine.ts.
 *
 * Follows: https://www.redmine.org/projects/redmine/wiki/Rest_api (`X-Redmine-API-Key`, `.json`
 * suffix, 401 for a bad key on a write, 422 `{"errors":["Subject cannot be blank"]}`),
 * https://www.redmine.org/projects/redmine/wiki/Rest_Issues (POST /issues.json → 201 {issue};
 * PUT /issues/{id}.json {issue:{notes}} → 204; GET /issues.json with project_id, status_id=open,
 * cf_<id>, and the "contains" short filter `description=~text`; {issues, total_count, offset, limit}),
 * .../Rest_IssueStatuses and .../Rest_Enumerations. The real server is exercised by
 * test/system/redmine-tickets.spec.ts; this fake covers what a real Redmine will not do on demand
 * (429, 5xx). Redmine itself sends no rate-limit headers; a reverse proxy in front may send 429 with
 * Retry-After, which is what the fake answers.
 */
import type { FakeRequest } from '../helpers/fake-server';
import { json, startTrackerFake, type TrackerFake } from './ticket-kit';

export const REDMINE_KEY = 'rm-key-5f0c8e2a9b7d41c3a6e0f9d28b71c4e5a3d9f017';
export const REDMINE_PROJECT = 'security';
const PRIORITIES = [
  { id: 1, name: 'Low' },
  { id: 2, name: 'Normal', is_default: true },
  { id: 3, name: 'High' },
  { id: 4, name: 'Urgent' },
  { id: 5, name: 'Immediate' },
];
const STATUSES = [
  { id: 1, name: 'New', is_closed: false },
  { id: 2, name: 'In Progress', is_closed: false },
  { id: 5, name: 'Closed', is_closed: true },
];

function issueJson(t: TrackerFake['tickets'][number]) {
  const status = t.closed ? STATUSES[2] : STATUSES[0];
  return {
    id: t.n,
    subject: t.title,
    description: t.body,
    status: { id: status.id, name: status.name },
    priority: { id: Number(t.priority ?? 2) },
    custom_fields: t.extra.custom_fields ?? [],
  };
}

function handle(request: FakeRequest, fake: TrackerFake) {
  const path = request.path;
  if (request.method === 'GET' && path === '/enumerations/issue_priorities.json') return json(200, { issue_priorities: PRIORITIES });
  if (request.method === 'GET' && path === '/issue_statuses.json') return json(200, { issue_statuses: STATUSES });
  if (path === '/issues.json' && request.method === 'GET') {
    const q = request.query;
    if (!q.project_id) fake.violations.push('issue search without project_id');
    let found = fake.tickets.filter((t) => (q.status_id === 'open' ? !t.closed : true));
    const cf = Object.keys(q).find((k) => /^cf_\d+$/.test(k));
    if (cf)
      found = found.filter((t) =>
        (t.extra.custom_fields as { id: number; value: string }[] | undefined)?.some((f) => `cf_${f.id}` === cf && f.value === q[cf]),
      );
    if (q.description !== undefined) {
      if (!q.description.startsWith('~')) fake.violations.push('description filter without the ~ (contains) operator');
      const needle = q.description.slice(1).toLowerCase();
      found = found.filter((t) => t.body.toLowerCase().includes(needle));
    }
    found.sort((a, b) => b.n - a.n);
    const limit = Number(q.limit ?? 25);
    return json(200, { issues: found.slice(0, limit).map(issueJson), total_count: found.length, offset: 0, limit });
  }
  if (path === '/issues.json' && request.method === 'POST') {
    if (!String(request.headers['content-type'] ?? '').includes('application/json')) fake.violations.push('create without a JSON content type');
    const issue = (request.json as { issue?: Record<string, unknown> } | undefined)?.issue;
    if (!issue) return json(422, { errors: ['Issue is required'] });
    const errors: string[] = [];
    if (issue.project_id !== REDMINE_PROJECT) errors.push('Project cannot be blank');
    if (typeof issue.subject !== 'string' || !issue.subject.trim()) errors.push('Subject cannot be blank');
    if (typeof issue.subject === 'string' && issue.subject.length > 255) errors.push('Subject is too long (maximum is 255 characters)');
    if (errors.length) return json(422, { errors });
    const t = fake.addTicket({
      title: String(issue.subject),
      body: String(issue.description ?? ''),
      priority: String(issue.priority_id ?? 2),
      created: issue,
      extra: { custom_fields: issue.custom_fields },
    });
    return json(201, { issue: issueJson(t) });
  }
  const one = /^\/issues\/(\d+)\.json$/.exec(path);
  if (one) {
    const t = fake.tickets.find((x) => x.n === Number(one[1]));
    if (!t) return { status: 404 };
    if (request.method === 'GET') return json(200, { issue: issueJson(t) });
    if (request.method === 'PUT') {
      const notes = (request.json as { issue?: { notes?: unknown } } | undefined)?.issue?.notes;
      if (typeof notes !== 'string') fake.violations.push('PUT without issue.notes');
      else t.comments.push(notes);
      return { status: 204 };
    }
  }
  const rel = /^\/issues\/(\d+)\/relations\.json$/.exec(path);
  if (rel && request.method === 'POST') {
    const t = fake.tickets.find((x) => x.n === Number(rel[1]));
    if (!t) return { status: 404 };
    t.extra.relations = [...((t.extra.relations as unknown[]) ?? []), (request.json as { relation?: unknown })?.relation];
    return json(201, { relation: { id: 1 } });
  }
  return { status: 404 };
}

export function startRedmineFake(options: { now?: () => number } = {}): Promise<TrackerFake> {
  return startTrackerFake(
    {
      authorize: (request) => (request.headers['x-redmine-api-key'] === REDMINE_KEY ? undefined : { status: 401, body: '' }),
      handle,
    },
    options,
  );
}
