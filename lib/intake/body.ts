/**
 * Reading a request body with the intake's own limits: a byte cap (413) and a deadline for the
 * whole body (408), so a slow or endless client cannot hold memory or a socket for ever.
 */
import type { IncomingMessage } from 'node:http';

export class BodyError extends Error {
  constructor(
    readonly status: 408 | 413 | 400,
    message: string,
  ) {
    super(message);
  }
}

export interface ReadBodyOptions {
  limitBytes: number;
  timeoutMs: number;
}

export function readBody(req: IncomingMessage, opts: ReadBodyOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > opts.limitBytes) {
      reject(new BodyError(413, `body of ${declared} bytes is over the limit of ${opts.limitBytes} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err?: Error, body?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (err) reject(err);
      else resolve(body!);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > opts.limitBytes) {
        finish(new BodyError(413, `body is over the limit of ${opts.limitBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish(undefined, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    const onError = (err: Error) => finish(new BodyError(400, `request body could not be read: ${err.message}`));
    const onAborted = () => finish(new BodyError(400, 'client aborted the request'));
    const timer = setTimeout(() => finish(new BodyError(408, `body not received within ${Math.round(opts.timeoutMs / 1000)} s`)), opts.timeoutMs);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}
