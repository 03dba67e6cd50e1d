/**
 * Contract fake for GitHub issues (REST API 2022-11-28), for lib/ticket/github.ts.
 *
 * Follows: https://docs.github.com/en/rest/issues/issues (create → 201 {id, number, html_url, state,
 * labels}; list with labels=, state=open, per_page; get one), https://docs.github.com/en/rest/issues/comments
 * (create comment → 201), https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
 * (403/429 with x-ratelimit-remaining: 0 + x-ratelimit-reset epoch seconds, or retry-after seconds
 * for secondary limits), https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api
 * (401 {"message":"Bad credentials"}; 422 {"message":"Validation Failed","errors":[...]}).
 * Checks the Bearer token, the Accept and X-GitHub-Api-Version headers on every request.
 */
import type { FakeRequest } from '../helpers/fake-server';
import { json, startTrackerFake, type TrackerFake } from './ticket-kit';

export const GITHUB_TOKEN = 'ghp_s0arTestToken9f8e7d6c5b4a3210fedcba98';
export const GITHUB_REPO = 'acme/security';

function handle(request: FakeRequest, fake: TrackerFake) {
  if (request.headers['x-github-api-version'] !== '2022-11-28') fake.violations.push('no X-GitHub-Api-Version: 2022-11-28');
  if (request.headers.accept !== 'application/vnd.github+json') fake.violations.push('Accept is not application/vnd.github+json');
  const base = `/repos/${GITHUB_REPO}/issues`;
  const view = (t: TrackerFake['tickets'][number]) => ({
    id: 900000 + t.n,
    number: t.n,
    html_url: `https://github.com/${GITHUB_REPO}/issues/${t.n}`,
    state: t.closed ? 'closed' : 'open',
    state_reason: t.closed ? 'completed' : null,
    title: t.title,
    labels: t.labels.map((name) => ({ name })),
    ...(t.extra.pr ? { pull_request: { url: 'x' } } : {}),
  });
  if (request.path === base && request.method === 'GET') {
    const wanted = (request.query.labels ?? '').split(',').filter(Boolean);
    const state = request.query.state ?? 'open';
    const found = fake.tickets
      .filter((t) => wanted.every((l) => t.labels.includes(l)) && (state === 'all' || (state === 'closed') === t.closed))
      .sort((a, b) => b.n - a.n);
    return json(200, found.slice(0, Number(request.query.per_page ?? 30)).map(view));
  }
  if (request.path === base && request.method === 'POST') {
    const body = (request.json ?? {}) as { title?: unknown; body?: unknown; labels?: unknown };
    if (typeof body.title !== 'string' || !body.title)
      return json(422, { message: 'Validation Failed', errors: [{ resource: 'Issue', code: 'missing_field', field: 'title' }] });
    if (typeof body.body === 'string' && body.body.length > 65_536)
      return json(422, {
        message: 'Validation Failed',
        errors: [{ resource: 'Issue', code: 'custom', field: 'body', message: 'body is too long (maximum is 65536 characters)' }],
      });
    const labels = Array.isArray(body.labels) ? (body.labels as string[]) : [];
    if (labels.some((l) => l.length > 50)) return json(422, { message: 'Validation Failed', errors: [{ resource: 'Label', code: 'invalid', field: 'name' }] });
    const t = fake.addTicket({
      title: body.title,
      body: String(body.body ?? ''),
      labels,
      priority: labels.find((l) => l.startsWith('severity:')),
      created: body,
    });
    return json(201, view(t));
  }
  const one = new RegExp(`^${base}/(\\d+)(/comments)?$`).exec(request.path);
  if (one) {
    const t = fake.tickets.find((x) => x.n === Number(one[1]));
    if (!t) return json(404, { message: 'Not Found' });
    if (one[2] && request.method === 'POST') {
      t.comments.push(String((request.json as { body?: unknown } | undefined)?.body ?? ''));
      return json(201, { id: t.comments.length });
    }
    if (!one[2] && request.method === 'GET') return json(200, view(t));
  }
  return json(404, { message: 'Not Found' });
}

export function startGitHubFake(options: { now?: () => number } = {}): Promise<TrackerFake> {
  return startTrackerFake(
    {
      authorize: (r) =>
        r.headers.authorization === `Bearer ${GITHUB_TOKEN}`
          ? undefined
          : json(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' }),
      handle,
    },
    options,
  );
}
