/**
 * A small local fake HTTP server for vendor contract fakes: node:http on 127.0.0.1, port 0,
 * per-route handlers (or canned replies / reply sequences), and a log of every request it saw.
 *
 *   const fake = await startFakeServer();
 *   fake.route('GET', '/api/v3/ip_addresses/203.0.113.7', { status: 200, body: { data: {} } });
 *   fake.route('POST', /^\/v1\/url\/$/, [{ status: 429, headers: { 'retry-after': '1' } }, { status: 200, body: {...} }]);
 *   ... fake.url, fake.requests, await fake.waitForRequests(3), fake.count('GET', '/x') ...
 *   await fake.close();
 *
 * Also exports ManualClock: an injectable now()/sleep() pair for tests that must not sleep on real time.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** The raw request target, query included. */
  url: string;
  query: Record<string, string>;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: string;
  /** Parsed JSON body when it is JSON, else undefined. */
  json?: unknown;
  /** Parsed form body when it is application/x-www-form-urlencoded. */
  form?: Record<string, string>;
  /** Arrival time from the server's clock (`now` option, default Date.now). */
  at: number;
}

export interface FakeReply {
  status?: number;
  headers?: Record<string, string | number | string[]>;
  /** Objects are sent as JSON (content-type set unless given); strings and Buffers as they are. */
  body?: unknown;
  /** Wait this long (real ms) before sending the answer. */
  delayMs?: number;
  /** Send headers at once, then hold the body back this long (real ms): a slow body. */
  bodyDelayMs?: number;
  /** Never answer; the connection stays open until the client gives up or the server closes. */
  hang?: boolean;
  /** Drop the connection without any answer. */
  destroy?: boolean;
}

export type FakeHandler = (request: FakeRequest) => FakeReply | Promise<FakeReply>;
/** One reply for every request, or a sequence consumed in order whose last entry repeats. */
export type FakeRouteAnswer = FakeHandler | FakeReply | FakeReply[];

export interface FakeServerOptions {
  /** Clock for FakeRequest.at, e.g. a ManualClock's now. */
  now?: () => number;
}

interface Route {
  method: string;
  path: string | RegExp;
  answer: FakeRouteAnswer;
  served: number;
}

export class FakeServer {
  readonly requests: FakeRequest[] = [];
  private readonly routes: Route[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly waiters: { count: number; resolve: () => void }[] = [];
  private readonly now: () => number;
  private server?: http.Server;
  port = 0;

  constructor(options: FakeServerOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const server = http.createServer((request, response) => {
      // A client that gives up mid-request (timeout tests) makes reading or writing fail; that is expected.
      this.handle(request, response).catch(() => response.destroy());
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  /** Add a route; `method` '*' matches any. Later routes win over earlier ones for the same request. */
  route(method: string, path: string | RegExp, answer: FakeRouteAnswer): this {
    this.routes.unshift({ method: method.toUpperCase(), path, answer, served: 0 });
    return this;
  }

  /** Requests seen for a method and path (string = exact path, RegExp = test). */
  requestsTo(method: string, path: string | RegExp): FakeRequest[] {
    return this.requests.filter((request) => matches(request, method.toUpperCase(), path));
  }

  count(method = '*', path: string | RegExp = /.*/): number {
    return this.requestsTo(method, path).length;
  }

  /** Resolves once at least `count` requests in total have arrived. */
  waitForRequests(count: number): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  /** Forget routes and the request log. */
  reset(): void {
    this.routes.length = 0;
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private later(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private async handle(incoming: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const target = new URL(incoming.url ?? '/', 'http://fake.invalid');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(incoming.headers)) {
      if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    }
    const request: FakeRequest = {
      method: (incoming.method ?? 'GET').toUpperCase(),
      path: target.pathname,
      url: incoming.url ?? '/',
      query: Object.fromEntries(target.searchParams),
      headers,
      body,
      at: this.now(),
    };
    const contentType = headers['content-type'] ?? '';
    if (body && /json/.test(contentType)) {
      try {
        request.json = JSON.parse(body);
      } catch {
        // Leave json unset: the test can look at the raw body.
      }
    } else if (body && /x-www-form-urlencoded/.test(contentType)) {
      request.form = Object.fromEntries(new URLSearchParams(body));
    }
    this.requests.push(request);
    for (const waiter of this.waiters.filter((w) => this.requests.length >= w.count)) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve();
    }

    let reply: FakeReply;
    try {
      reply = await this.replyFor(request);
    } catch (error) {
      reply = { status: 500, body: { fakeServerError: String(error) } };
    }
    if (reply.destroy) {
      incoming.socket.destroy();
      return;
    }
    if (reply.hang) return;
    if (reply.delayMs) await this.later(reply.delayMs);
    if (!this.server) return;

    let payload: Buffer | undefined;
    const replyHeaders: Record<string, string | number | string[]> = { ...(reply.headers ?? {}) };
    const hasContentType = Object.keys(replyHeaders).some((name) => name.toLowerCase() === 'content-type');
    if (reply.body !== undefined) {
      if (Buffer.isBuffer(reply.body)) {
        payload = reply.body;
      } else if (typeof reply.body === 'string') {
        payload = Buffer.from(reply.body);
        if (!hasContentType) replyHeaders['content-type'] = 'text/plain; charset=utf-8';
      } else {
        payload = Buffer.from(JSON.stringify(reply.body));
        if (!hasContentType) replyHeaders['content-type'] = 'application/json';
      }
    }
    if (payload) replyHeaders['content-length'] = payload.length;
    response.writeHead(reply.status ?? 200, replyHeaders);
    if (reply.bodyDelayMs) {
      response.flushHeaders();
      await this.later(reply.bodyDelayMs);
      if (!this.server) return;
    }
    response.end(payload);
  }

  private async replyFor(request: FakeRequest): Promise<FakeReply> {
    const route = this.routes.find((candidate) => matches(request, candidate.method, candidate.path));
    if (!route) return { status: 404, body: { fakeServer: 'no route', method: request.method, path: request.path } };
    const index = route.served++;
    const answer = route.answer;
    if (typeof answer === 'function') return answer(request);
    if (Array.isArray(answer)) return answer[Math.min(index, answer.length - 1)] ?? { status: 200 };
    return answer;
  }
}

function matches(request: FakeRequest, method: string, path: string | RegExp): boolean {
  if (method !== '*' && method !== request.method) return false;
  return typeof path === 'string' ? request.path === path : path.test(request.path);
}

export async function startFakeServer(options: FakeServerOptions = {}): Promise<FakeServer> {
  return new FakeServer(options).start();
}

interface ClockTimer {
  due: number;
  seq: number;
  resolve: () => void;
}

/**
 * A virtual clock: `now()` and an abortable `sleep()` to inject into code under test.
 * Timers only fire when the test calls `advance()` (or at once, moving the clock, with autoAdvance).
 */
export class ManualClock {
  private current: number;
  private timers: ClockTimer[] = [];
  private seq = 0;
  /** Every sleep requested, in ms, in order. */
  readonly sleeps: number[] = [];

  constructor(
    start = Date.UTC(2026, 0, 15, 12, 0, 0),
    private readonly autoAdvance = false,
  ) {
    this.current = start;
  }

  readonly now = (): number => this.current;

  readonly sleep = (ms: number, signal?: AbortSignal): Promise<void> => {
    this.sleeps.push(ms);
    if (signal?.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
    if (this.autoAdvance) {
      this.current += Math.max(0, ms);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const timer: ClockTimer = { due: this.current + Math.max(0, ms), seq: this.seq++, resolve };
      const onAbort = () => {
        this.timers = this.timers.filter((t) => t !== timer);
        reject(signal?.reason ?? new Error('aborted'));
      };
      timer.resolve = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.timers.push(timer);
    });
  };

  /** Sleeps not yet fired. */
  get pending(): number {
    return this.timers.length;
  }

  /** Move time forward by `ms`, firing due timers in order and letting promise chains run after each. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      await settle();
      const next = this.timers.filter((t) => t.due <= target).sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.current = Math.max(this.current, next.due);
      next.resolve();
    }
    this.current = target;
    await settle();
  }

  /** Set the clock (forward only) without firing timers past it out of order. */
  async advanceTo(epochMs: number): Promise<void> {
    await this.advance(Math.max(0, epochMs - this.current));
  }
}

/** Let every pending promise continuation run (macrotask boundary, twice for chained awaits). */
export async function settle(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
}
