/**
 * Contract fake for the ServiceNow Table API (incident table), for lib/ticket/servicenow.ts.
 *
 * Follows: ServiceNow REST API reference, Table API (https://www.servicenow.com/docs/, "Table API"):
 * POST /api/now/table/incident → 201 {result:{sys_id, number, ...}} with a Location header;
 * GET with sysparm_query (encoded query: field=value joined by ^, ORDERBYDESC<field>),
 * sysparm_fields, sysparm_limit → {result:[...]}; GET/PATCH /api/now/table/incident/{sys_id};
 * errors {error:{message, detail}, status:"failure"}; Basic authentication (401 "User Not
 * Authenticated"). Values are strings. 429 + Retry-After from per-instance rate-limit rules.
 * Data-policy refusals (mandatory fields) answer 403 with "Operation Failed" / "Data Policy
 * Exception" [D community threads; exact text per instance].
 */
import { randomBytes } from 'node:crypto';
import type { FakeRequest } from '../helpers/fake-server';
import { json, startTrackerFake, type TrackerFake } from './ticket-kit';

export const SN_USER = 'soar.integration';
export const SN_PASSWORD = 'Sn0w-pass-7Qm2xK9vL4tR';
const AUTH = `Basic ${Buffer.from(`${SN_USER}:${SN_PASSWORD}`).toString('base64')}`;

function parseQuery(query: string): { conditions: [string, string][]; problems: string[] } {
  const conditions: [string, string][] = [];
  const problems: string[] = [];
  for (const part of query.split('^')) {
    if (!part || part.startsWith('ORDERBY')) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) problems.push(`condition the fake does not know: ${part}`);
    else conditions.push([part.slice(0, eq), part.slice(eq + 1)]);
  }
  return { conditions, problems };
}

function handle(request: FakeRequest, fake: TrackerFake) {
  const view = (t: TrackerFake['tickets'][number]) => ({
    sys_id: t.extra.sys_id,
    number: `INC00100${String(t.n).padStart(2, '0')}`,
    state: t.closed ? '7' : '1',
    active: t.closed ? 'false' : 'true',
    correlation_id: t.labels[0] ?? '',
  });
  const pick = (record: Record<string, unknown>) => {
    const fields = request.query.sysparm_fields?.split(',');
    return fields ? Object.fromEntries(fields.map((f) => [f, record[f] ?? ''])) : record;
  };
  if (request.path === '/api/now/table/incident' && request.method === 'GET') {
    const { conditions, problems } = parseQuery(request.query.sysparm_query ?? '');
    fake.violations.push(...problems);
    const found = fake.tickets.filter((t) => conditions.every(([f, v]) => String((view(t) as Record<string, unknown>)[f]) === v)).sort((a, b) => b.n - a.n);
    return json(200, { result: found.slice(0, Number(request.query.sysparm_limit ?? 10000)).map((t) => pick(view(t))) });
  }
  if (request.path === '/api/now/table/incident' && request.method === 'POST') {
    const body = (request.json ?? {}) as Record<string, unknown>;
    if (!body.short_description)
      return json(403, { error: { message: 'Operation Failed', detail: 'Data Policy Exception: \n\tShort description is mandatory' }, status: 'failure' });
    for (const f of ['impact', 'urgency']) if (body[f] !== undefined && !['1', '2', '3'].includes(String(body[f]))) fake.violations.push(`${f} out of 1..3`);
    if (String(body.correlation_id ?? '').length > 100) fake.violations.push('correlation_id longer than 100');
    const t = fake.addTicket({
      title: String(body.short_description),
      body: String(body.description ?? ''),
      labels: [String(body.correlation_id ?? '')],
      priority: `${body.impact}/${body.urgency}`,
      created: body,
      extra: { sys_id: randomBytes(16).toString('hex') },
    });
    return { ...json(201, { result: pick(view(t)) }), headers: { location: `${fake.url}/api/now/table/incident/${t.extra.sys_id}` } };
  }
  const one = /^\/api\/now\/table\/incident\/([0-9a-f]{32})$/.exec(request.path);
  if (one) {
    const t = fake.tickets.find((x) => x.extra.sys_id === one[1]);
    if (!t)
      return json(404, { error: { message: 'No Record found', detail: "Record doesn't exist or ACL restricts the record retrieval" }, status: 'failure' });
    if (request.method === 'GET') return json(200, { result: pick(view(t)) });
    if (request.method === 'PATCH') {
      const body = (request.json ?? {}) as Record<string, unknown>;
      const note = body.work_notes ?? body.comments;
      if (typeof note !== 'string') fake.violations.push('PATCH without work_notes/comments');
      else t.comments.push(note);
      return json(200, { result: pick(view(t)) });
    }
  }
  return json(400, { error: { message: 'Invalid table', detail: null }, status: 'failure' });
}

export function startServiceNowFake(options: { now?: () => number } = {}): Promise<TrackerFake> {
  return startTrackerFake(
    {
      authorize: (r) =>
        r.headers.authorization === AUTH
          ? undefined
          : json(401, { error: { message: 'User Not Authenticated', detail: 'Required to provide Auth information' }, status: 'failure' }),
      handle,
    },
    options,
  );
}
