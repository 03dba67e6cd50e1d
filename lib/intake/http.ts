/**
 * The intake's HTTP handler, framework-light (plain node:http request/response, as Express hands
 * them over). Order matters: cheap checks first (address, credentials, content type, declared size), then the body
 * with its own limits, then signature, parsing, normalisation, durable recording, and only then 202.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AlertInputError, checkContentType, parseBody } from '../alert';
import { BodyError, readBody } from './body';
import type { IntakeAuthenticator } from './auth';
import { BacklogFullError, type IngestContext, type IngestOutcome, type IntakePipeline } from './pipeline';

export interface HttpIntakeOptions {
  auth: IntakeAuthenticator;
  pipeline: IntakePipeline;
  limitBytes: number;
  bodyTimeoutMs: number;
  /** Builds the user's JSONata mapper for a batch (generic format); optional. */
  prepareMapper?: (items: unknown[]) => Promise<IngestContext['genericMapper']>;
  onAccepted: (outcome: IngestOutcome, ctx: IngestContext) => void;
  onRejected?: (status: number, reason: string, remoteAddress: string | undefined) => void;
  /** Unexpected failures (disk full, a bug) — logged by the node, answered 503 so senders retry. */
  onFailure?: (err: Error) => void;
  /** Bounds of the drain after an answer given before the body was read (see answerBeforeBody). */
  drainLimitBytes?: number;
  drainTimeoutMs?: number;
}

export interface DrainLimits {
  /** Body bytes read and discarded after the answer, at most. */
  limitBytes: number;
  /** Time the sender has to finish its body after the answer. */
  timeoutMs: number;
  /** Silence after which a sender that stopped is closed. */
  idleMs: number;
}

/** Enough for a sender to finish a body many times the usual limit on a LAN, and never for long. */
export const DRAIN_DEFAULTS: DrainLimits = { limitBytes: 32 * 1024 * 1024, timeoutMs: 5000, idleMs: 1000 };

type ParsedRequest = IncomingMessage & { body?: unknown; _body?: boolean; ip?: string; query?: Record<string, unknown> };

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(text);
}

/**
 * Answer a request whose body has not been read to its end. Closing right away would reset a sender
 * that is still writing, and a reset can discard the answer before the sender reads it. So the answer
 * goes out now (with its length and Connection: close, so the sender knows it is whole), the rest of
 * the body is read and discarded, and the response ends, closing the connection cleanly, when the
 * body does. Bounded: past `limitBytes`, `timeoutMs` in all or `idleMs` of silence the socket is
 * destroyed; the answer is already out by then.
 */
export function answerBeforeBody(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  limits: DrainLimits = DRAIN_DEFAULTS,
): void {
  if (res.headersSent) return;
  const socket = req.socket;
  if (req.complete || req.readableEnded || !socket || socket.destroyed) {
    sendJson(res, status, body, headers);
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
    'content-length': String(Buffer.byteLength(text)),
    connection: 'close',
  });
  res.write(text);
  let drained = 0;
  const stop = () => {
    clearTimeout(deadline);
    clearTimeout(idle);
    req.off('data', onData);
    req.off('end', onEnd);
    res.off('close', stop);
  };
  const cutOff = () => {
    stop();
    socket.destroy();
  };
  const onData = (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > limits.limitBytes) cutOff();
    else idle.refresh();
  };
  const onEnd = () => {
    stop();
    res.end();
  };
  const deadline = setTimeout(cutOff, limits.timeoutMs);
  const idle = setTimeout(cutOff, Math.min(limits.idleMs, limits.timeoutMs));
  deadline.unref();
  idle.unref();
  req.on('data', onData);
  req.on('end', onEnd);
  res.on('close', stop);
  req.resume();
}

function isReplay(req: ParsedRequest): boolean {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q < 0) return false;
  const v = new URLSearchParams(url.slice(q + 1)).get('replay');
  return v === '1' || v === 'true';
}

export function createIntakeHandler(opts: HttpIntakeOptions) {
  const drain: DrainLimits = {
    ...DRAIN_DEFAULTS,
    ...(opts.drainLimitBytes !== undefined && { limitBytes: opts.drainLimitBytes }),
    ...(opts.drainTimeoutMs !== undefined && { timeoutMs: opts.drainTimeoutMs }),
  };
  return async function intakeHandler(req: ParsedRequest, res: ServerResponse): Promise<void> {
    const remoteAddress = req.socket?.remoteAddress;
    // Every refusal goes through here; one given before the body was read drains it (bounded).
    const reject = (status: number, reason: string, headers?: Record<string, string>) => {
      if (status !== 503) opts.onRejected?.(status, reason, remoteAddress);
      answerBeforeBody(req, res, status, { error: reason }, headers, drain);
    };
    try {
      // Something before us (Node-RED's admin app when httpAdminRoot is "/") may have parsed the body.
      const preParsed = req._body === true && req.body !== undefined;
      let raw: Buffer | undefined;

      // Address and header credentials first: no body is read for a caller we would refuse anyway.
      const early = opts.auth.checkBeforeBody({ headers: req.headers, remoteAddress });
      if (!early.ok) {
        reject(early.status, early.reason, early.status === 401 ? { 'www-authenticate': 'Bearer realm="soar"' } : undefined);
        return;
      }

      if (!preParsed) {
        checkContentType(req.headers['content-type']); // a 415 needs no body
        try {
          raw = await readBody(req, { limitBytes: opts.limitBytes, timeoutMs: opts.bodyTimeoutMs });
        } catch (err) {
          if (err instanceof BodyError) {
            reject(err.status, err.message);
            return;
          }
          throw err;
        }
      }

      if (opts.auth.needsRawBody) {
        const signed = opts.auth.checkBody({ headers: req.headers, remoteAddress, rawBody: raw });
        if (!signed.ok) {
          reject(signed.status, signed.reason);
          return;
        }
      }

      const contentType = req.headers['content-type'];
      const body = raw ?? Buffer.from(JSON.stringify(req.body), 'utf8');
      const items = parseBody(body, preParsed ? 'application/json' : contentType);
      const ctx: IngestContext = { via: 'http', replay: isReplay(req), remoteAddress };
      if (opts.prepareMapper) ctx.genericMapper = await opts.prepareMapper(items);

      const outcome = await opts.pipeline.ingest(items, ctx);
      sendJson(res, 202, {
        accepted: outcome.alerts.length - outcome.duplicates,
        ids: outcome.ids,
        duplicates: outcome.duplicates,
        ignored: outcome.ignored,
      });
      opts.onAccepted(outcome, ctx);
    } catch (err) {
      if (err instanceof AlertInputError) {
        reject(err.status, err.message);
      } else if (err instanceof BacklogFullError) {
        reject(429, err.message, { 'retry-after': String(err.retryAfterSeconds) });
      } else {
        opts.onFailure?.(err as Error);
        reject(503, 'the alert could not be recorded durably; retry later');
      }
    }
  };
}

/**
 * Every other method on an intake path: 405 in JSON with `Allow: POST` (instead of Express's HTML
 * 404). `hasOtherRoute` lets a route another node registered for that method and path answer.
 */
export function createMethodNotAllowedHandler(opts: {
  hasOtherRoute?: (method: string) => boolean;
  onRejected?: (status: number, reason: string, remoteAddress: string | undefined, method: string) => void;
  drain?: DrainLimits;
}) {
  return function methodNotAllowed(req: IncomingMessage, res: ServerResponse, next?: () => void): void {
    const method = (req.method ?? 'GET').toUpperCase();
    if (next && opts.hasOtherRoute?.(method)) {
      next();
      return;
    }
    const reason = `method ${method} is not allowed here; send alerts with POST`;
    opts.onRejected?.(405, reason, req.socket?.remoteAddress, method);
    answerBeforeBody(req, res, 405, { error: reason }, { allow: 'POST' }, opts.drain);
  };
}
