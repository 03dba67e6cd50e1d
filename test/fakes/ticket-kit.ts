/**
 * What the tracker contract fakes (redmine, thehive, jira, github, gitlab, servicenow) share: one
 * catch-all route on a FakeServer that serves scripted replies first (errors, rate limits), then
 * checks the credentials, then hands the request to the vendor's own handler over an in-memory
 * ticket list. Departures from the vendor's request contract go to `violations`.
 */
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../helpers/fake-server';

export interface FakeTicket {
  /** Numeric id as the vendor counts (issue number, iid, ...). */
  n: number;
  title: string;
  body: string;
  /** Labels / tags / correlation id / sourceRef: whatever the vendor stores the incident key in. */
  labels: string[];
  closed: boolean;
  comments: string[];
  priority?: string;
  /** The full create request, for shape assertions. */
  created: unknown;
  extra: Record<string, unknown>;
}

export interface TrackerFake {
  server: FakeServer;
  url: string;
  violations: string[];
  tickets: FakeTicket[];
  /** Replies served in order before the vendor logic, for requests matching `method` ('*' = any); null lets one through. */
  script(method: string, ...replies: (FakeReply | null)[]): void;
  addTicket(ticket: Partial<FakeTicket> & { title: string }): FakeTicket;
  close(): Promise<void>;
}

export interface TrackerFakeSpec {
  /** Undefined when the credentials are right; otherwise the vendor's 401 answer. */
  authorize(request: FakeRequest): FakeReply | undefined;
  handle(request: FakeRequest, fake: TrackerFake): FakeReply | Promise<FakeReply>;
}

export async function startTrackerFake(spec: TrackerFakeSpec, options: { now?: () => number } = {}): Promise<TrackerFake> {
  const server = await startFakeServer(options);
  const scripts: { method: string; reply: FakeReply | null }[] = [];
  const fake: TrackerFake = {
    server,
    url: server.url,
    violations: [],
    tickets: [],
    script(method, ...replies) {
      for (const reply of replies) scripts.push({ method: method.toUpperCase(), reply });
    },
    addTicket(ticket) {
      const full: FakeTicket = { n: fake.tickets.length + 1, body: '', labels: [], closed: false, comments: [], created: undefined, extra: {}, ...ticket };
      fake.tickets.push(full);
      return full;
    },
    close: () => server.close(),
  };
  server.route('*', /.*/, async (request) => {
    const index = scripts.findIndex((s) => s.method === '*' || s.method === request.method);
    if (index >= 0) {
      const [{ reply }] = scripts.splice(index, 1);
      if (reply) return reply;
    }
    const refused = spec.authorize(request);
    if (refused) return refused;
    return spec.handle(request, fake);
  });
  return fake;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): FakeReply {
  return { status, body, headers };
}
