/**
 * Contract fake for TheHive 5 (API v1), alerts and cases, for lib/ticket/thehive.ts.
 *
 * Follows the shapes of TheHive's official Python client thehive4py 2.x (endpoints/alert.py,
 * case.py, observable.py, comment.py; types/alert.py, case.py, observable.py; query/filters.py,
 * page.py, sort.py): POST /api/v1/alert (required type, source, sourceRef, title, description;
 * severity 1..4) → 201 OutputAlert {_id, _type:"Alert", status, stage, ...}; POST /api/v1/case →
 * 201 OutputCase {_id, number, stage, status}; POST /api/v1/{alert|case}/{id}/observable → 201 list;
 * POST /api/v1/case/{id}/comment {message}; PATCH /api/v1/alert/{id}; GET /api/v1/{alert|case}/{id};
 * POST /api/v1/query {query:[{_name:listAlert|listCase}, {_name:filter, ...}, {_name:sort}, {_name:page}]}.
 * Errors {type, message}. A second alert with the same (type, source, sourceRef) is refused; the
 * status and text of that refusal in v5 are not documented: the fake answers 400
 * {"type":"CreateError","message":"Alert ... already exists"} (mark M in docs/ticketing.md).
 * Closing sets stage "Closed" with a closing status (TruePositive, FalsePositive, ...).
 */
import type { FakeRequest } from '../helpers/fake-server';
import { json, startTrackerFake, type TrackerFake } from './ticket-kit';

export const THEHIVE_KEY = 'th5-api-key-Vq7Lm2Xc9Rt4Wb8Nz1Kd6';
const DATA_TYPES = new Set(['ip', 'domain', 'fqdn', 'url', 'hash', 'mail', 'filename', 'other']);
type T = TrackerFake['tickets'][number];

const kindOf = (t: T) => t.extra.kind as 'alert' | 'case';
const idOf = (t: T) => `~${4096 + t.n}`;

function view(t: T) {
  const stage = t.closed ? 'Closed' : 'New';
  return {
    _id: idOf(t),
    _type: kindOf(t) === 'case' ? 'Case' : 'Alert',
    ...(kindOf(t) === 'case' ? { number: t.n } : { sourceRef: t.labels[0], type: t.extra.type, source: t.extra.source }),
    title: t.title,
    description: t.body,
    severity: Number(t.priority),
    tags: t.extra.tags ?? [],
    stage,
    status: t.closed ? 'TruePositive' : 'New',
  };
}

function checkObservable(o: unknown, fake: TrackerFake): boolean {
  const obs = o as { dataType?: unknown; data?: unknown };
  if (typeof obs?.dataType !== 'string' || !DATA_TYPES.has(obs.dataType)) {
    fake.violations.push(`observable with an unknown dataType ${String(obs?.dataType)}`);
    return false;
  }
  return true;
}

/** Evaluates the filter operators the client uses: _eq, _startsWith, _and, _or. */
function matchesFilter(filter: Record<string, unknown>, record: Record<string, unknown>, fake: TrackerFake): boolean {
  if (Array.isArray(filter._and)) return filter._and.every((f) => matchesFilter(f as Record<string, unknown>, record, fake));
  if (Array.isArray(filter._or)) return filter._or.some((f) => matchesFilter(f as Record<string, unknown>, record, fake));
  const starts = filter._startsWith as { _field?: string; _value?: unknown } | undefined;
  if (starts?._field) return String(record[starts._field] ?? '').startsWith(String(starts._value));
  const eq = filter._eq as { _field?: string; _value?: unknown } | undefined;
  if (eq?._field) {
    const value = record[eq._field];
    return Array.isArray(value) ? value.includes(eq._value) : value === eq._value;
  }
  fake.violations.push(`filter the fake does not know: ${JSON.stringify(filter)}`);
  return false;
}

function handle(request: FakeRequest, fake: TrackerFake) {
  const body = (request.json ?? {}) as Record<string, unknown>;
  if (request.path === '/api/v1/query' && request.method === 'POST') {
    const ops = (body.query ?? []) as Record<string, unknown>[];
    const list = ops[0]?._name;
    if (list !== 'listAlert' && list !== 'listCase') return json(400, { type: 'BadRequest', message: 'Invalid query' });
    let found = fake.tickets.filter((t) => kindOf(t) === (list === 'listCase' ? 'case' : 'alert'));
    for (const op of ops.slice(1)) {
      if (op._name === 'filter') found = found.filter((t) => matchesFilter(op, view(t) as Record<string, unknown>, fake));
      else if (op._name === 'sort') found = [...found].sort((a, b) => b.n - a.n);
      else if (op._name === 'page') found = found.slice(Number(op.from ?? 0), Number(op.to ?? found.length));
      else fake.violations.push(`query step the fake does not know: ${String(op._name)}`);
    }
    return json(200, found.map(view));
  }
  if (request.path === '/api/v1/alert' && request.method === 'POST') {
    const missing = ['type', 'source', 'sourceRef', 'title', 'description'].filter((f) => typeof body[f] !== 'string' || body[f] === '');
    if (missing.length) return json(400, { type: 'BadRequest', message: `Invalid format for alert: ${missing.map((m) => `${m}: missing`).join(', ')}` });
    if (![1, 2, 3, 4].includes(Number(body.severity))) return json(400, { type: 'BadRequest', message: 'Invalid format for severity' });
    if (fake.tickets.some((t) => kindOf(t) === 'alert' && t.labels[0] === body.sourceRef && t.extra.type === body.type && t.extra.source === body.source)) {
      return json(400, { type: 'CreateError', message: `Alert ${String(body.type)}:${String(body.source)}:${String(body.sourceRef)} already exists` });
    }
    const observables = Array.isArray(body.observables) ? body.observables.filter((o) => checkObservable(o, fake)) : [];
    const t = fake.addTicket({
      title: String(body.title),
      body: String(body.description),
      labels: [String(body.sourceRef)],
      priority: String(body.severity),
      created: body,
      extra: { kind: 'alert', type: body.type, source: body.source, tags: body.tags, observables },
    });
    return json(201, view(t));
  }
  if (request.path === '/api/v1/case' && request.method === 'POST') {
    if (typeof body.title !== 'string' || !body.title || typeof body.description !== 'string')
      return json(400, { type: 'BadRequest', message: 'Invalid format for case: title: missing' });
    const t = fake.addTicket({
      title: body.title,
      body: body.description,
      labels: [],
      priority: String(body.severity ?? 2),
      created: body,
      extra: { kind: 'case', tags: body.tags, observables: [] },
    });
    return json(201, view(t));
  }
  const one = /^\/api\/v1\/(alert|case)\/(~\d+)(?:\/(observable|comment))?$/.exec(request.path);
  if (one) {
    const t = fake.tickets.find((x) => kindOf(x) === one[1] && idOf(x) === one[2]);
    if (!t) return json(404, { type: 'NotFoundError', message: `${one[1]} ${one[2]} not found` });
    if (!one[3] && request.method === 'GET') return json(200, view(t));
    if (!one[3] && request.method === 'PATCH' && one[1] === 'alert') {
      const before = t.body;
      if (typeof body.description === 'string') {
        t.body = body.description;
        if (body.description.startsWith(before)) t.comments.push(body.description.slice(before.length));
      }
      return { status: 204 };
    }
    if (one[3] === 'comment' && request.method === 'POST' && one[1] === 'case') {
      if (typeof body.message !== 'string') return json(400, { type: 'BadRequest', message: 'Invalid format for comment: message: missing' });
      t.comments.push(body.message);
      return json(201, { _id: `~c${t.comments.length}`, message: body.message });
    }
    if (one[3] === 'observable' && request.method === 'POST') {
      if (!checkObservable(body, fake)) return json(400, { type: 'BadRequest', message: 'Invalid format for dataType' });
      const list = t.extra.observables as { dataType: string; data: string }[];
      if (list.some((o) => o.dataType === body.dataType && o.data === body.data))
        return json(400, { type: 'CreateError', message: `Observable ${String(body.data)} already exists` });
      list.push(body as { dataType: string; data: string });
      return json(201, [{ _id: `~o${list.length}`, ...body }]);
    }
  }
  return json(404, { type: 'NotFoundError', message: `${request.method} ${request.path} not found` });
}

export function startTheHiveFake(options: { now?: () => number } = {}): Promise<TrackerFake> {
  return startTrackerFake(
    {
      authorize: (r) =>
        r.headers.authorization === `Bearer ${THEHIVE_KEY}` ? undefined : json(401, { type: 'AuthenticationError', message: 'Authentication failure' }),
      handle,
    },
    options,
  );
}
