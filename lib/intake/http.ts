/**
 * The intake's HTTP handler, framework-light (plain node:http request/response, as Express hands
 * them over). Order matters: cheap checks first (address, credentials, declared size), then the body
 * with its own limits, then signature, parsing, normalisation, durable recording, and only then 202.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AlertInputError, parseBody } from '../alert';
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
}

type ParsedRequest = IncomingMessage & { body?: unknown; _body?: boolean; ip?: string; query?: Record<string, unknown> };

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(text);
}

function isReplay(req: ParsedRequest): boolean {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q < 0) return false;
  const v = new URLSearchParams(url.slice(q + 1)).get('replay');
  return v === '1' || v === 'true';
}

export function createIntakeHandler(opts: HttpIntakeOptions) {
  return async function intakeHandler(req: ParsedRequest, res: ServerResponse): Promise<void> {
    const remoteAddress = req.socket?.remoteAddress;
    const reject = (res: ServerResponse, status: number, reason: string, headers?: Record<string, string>) => {
      if (status !== 503) opts.onRejected?.(status, reason, remoteAddress);
      sendJson(res, status, { error: reason }, headers);
    };
    try {
      // Something before us (Node-RED's admin app when httpAdminRoot is "/") may have parsed the body.
      const preParsed = req._body === true && req.body !== undefined;
      let raw: Buffer | undefined;

      // Address and header credentials first: no body is read for a caller we would refuse anyway.
      const early = opts.auth.checkBeforeBody({ headers: req.headers, remoteAddress });
      if (!early.ok) {
        reject(res, early.status, early.reason, early.status === 401 ? { 'www-authenticate': 'Bearer realm="soar"' } : undefined);
        return;
      }

      if (!preParsed) {
        try {
          raw = await readBody(req, { limitBytes: opts.limitBytes, timeoutMs: opts.bodyTimeoutMs });
        } catch (err) {
          if (err instanceof BodyError) {
            reject(res, err.status, err.message, err.status === 408 ? { connection: 'close' } : undefined);
            // Discard what the client still sends so it can read the answer (a reset could lose it),
            // but never for long: a client that keeps sending or stalls is cut off.
            req.resume();
            const cutOff = setTimeout(() => req.socket?.destroy(), 5000);
            cutOff.unref();
            req.once('end', () => clearTimeout(cutOff));
            // A slow client: close our side once the answer is out, and drop the connection a moment
            // later. Destroying at once resets a client still writing before it has read the 408.
            if (err.status === 408)
              res.once('finish', () => {
                req.socket?.end();
                setTimeout(() => req.socket?.destroy(), 1000).unref();
              });
            return;
          }
          throw err;
        }
      }

      if (opts.auth.needsRawBody) {
        const signed = opts.auth.checkBody({ headers: req.headers, remoteAddress, rawBody: raw });
        if (!signed.ok) {
          reject(res, signed.status, signed.reason);
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
        reject(res, err.status, err.message);
      } else if (err instanceof BacklogFullError) {
        reject(res, 429, err.message, { 'retry-after': String(err.retryAfterSeconds) });
      } else {
        opts.onFailure?.(err as Error);
        reject(res, 503, 'the alert could not be recorded durably; retry later');
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
}) {
  return function methodNotAllowed(req: IncomingMessage, res: ServerResponse, next?: () => void): void {
    const method = (req.method ?? 'GET').toUpperCase();
    if (next && opts.hasOtherRoute?.(method)) {
      next();
      return;
    }
    const reason = `method ${method} is not allowed here; send alerts with POST`;
    opts.onRejected?.(405, reason, req.socket?.remoteAddress, method);
    // Drain what the client sends (bounded) so it can read the answer.
    req.resume();
    sendJson(res, 405, { error: reason }, { allow: 'POST' });
  };
}
