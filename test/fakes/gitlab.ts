/**
 * Contract fake for GitLab issues (REST API v4), for lib/ticket/gitlab.ts.
 *
 * Follows: https://docs.gitlab.com/api/issues/ (create → 201 {id, iid, project_id, web_url, state:
 * "opened", labels}; list with labels= (comma-separated, all must match), state=opened|closed|all,
 * per_page; get one by iid), https://docs.gitlab.com/api/notes/ (POST .../issues/:iid/notes → 201),
 * https://docs.gitlab.com/api/rest/authentication/ (PRIVATE-TOKEN; 401 {"message":"401 Unauthorized"}),
 * https://docs.gitlab.com/api/rest/troubleshooting/ (400 {"message":{"title":["can't be blank"]}}),
 * https://docs.gitlab.com/security/rate_limits/ (429 + RateLimit-* and Retry-After).
 * Projects are addressed by id or URL-encoded path; the fake knows one of each.
 */
import type { FakeRequest } from '../helpers/fake-server';
import { json, startTrackerFake, type TrackerFake } from './ticket-kit';

export const GITLAB_TOKEN = 'glpat-s0arTestToken-4d7e1a9c2b';
export const GITLAB_PROJECT = 'secops/incidents';
const PROJECT_PATHS = ['42', encodeURIComponent(GITLAB_PROJECT)];

function handle(request: FakeRequest, fake: TrackerFake) {
  // The raw target keeps %2F; request.path is not decoded either.
  const m = /^\/api\/v4\/projects\/([^/]+)\/issues(?:\/(\d+)(\/notes)?)?$/.exec(request.path);
  if (!m) return json(404, { message: '404 Not Found' });
  if (!PROJECT_PATHS.includes(m[1])) {
    if (m[1].includes('/')) fake.violations.push('project path not URL-encoded');
    return json(404, { message: '404 Project Not Found' });
  }
  const view = (t: TrackerFake['tickets'][number]) => ({
    id: 7000 + t.n,
    iid: t.n,
    project_id: 42,
    title: t.title,
    state: t.closed ? 'closed' : 'opened',
    labels: t.labels,
    web_url: `https://gitlab.example.com/${GITLAB_PROJECT}/-/issues/${t.n}`,
  });
  if (!m[2] && request.method === 'GET') {
    const wanted = (request.query.labels ?? '').split(',').filter(Boolean);
    const state = request.query.state ?? 'all';
    if (state === 'open') fake.violations.push('state=open is not a GitLab state (opened)');
    const found = fake.tickets
      .filter((t) => wanted.every((l) => t.labels.includes(l)) && (state === 'all' || (state === 'closed') === t.closed))
      .sort((a, b) => b.n - a.n);
    return json(200, found.slice(0, Number(request.query.per_page ?? 20)).map(view));
  }
  if (!m[2] && request.method === 'POST') {
    const body = (request.json ?? {}) as Record<string, unknown>;
    if (typeof body.title !== 'string' || !body.title.trim()) return json(400, { message: { title: ["can't be blank"] } });
    if (body.labels !== undefined && typeof body.labels !== 'string') fake.violations.push('labels not a comma-separated string');
    const labels = String(body.labels ?? '')
      .split(',')
      .filter(Boolean);
    const t = fake.addTicket({
      title: body.title,
      body: String(body.description ?? ''),
      labels,
      priority: labels.find((l) => l.startsWith('severity::')),
      created: body,
    });
    return json(201, view(t));
  }
  const t = fake.tickets.find((x) => x.n === Number(m[2]));
  if (!t) return json(404, { message: '404 Not found' });
  if (m[3] && request.method === 'POST') {
    const text = (request.json as { body?: unknown } | undefined)?.body;
    if (typeof text !== 'string' || !text) return json(400, { message: { note: ["can't be blank"] } });
    t.comments.push(text);
    return json(201, { id: t.comments.length, body: text });
  }
  if (!m[3] && request.method === 'GET') return json(200, view(t));
  return json(405, { message: '405 Method Not Allowed' });
}

export function startGitLabFake(options: { now?: () => number } = {}): Promise<TrackerFake> {
  return startTrackerFake(
    { authorize: (r) => (r.headers['private-token'] === GITLAB_TOKEN ? undefined : json(401, { message: '401 Unauthorized' })), handle },
    options,
  );
}
