/** Helpers shared by the approval channels: signatures, raw bodies, replay memory, rendering. */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProviderDescriptor } from '../../providers/descriptor';
import type { ApprovalChannel, ApprovalNotice, ChannelContext, DecisionInfo } from './types';

export type ChannelDescriptor = ProviderDescriptor<ApprovalChannel, ChannelContext, { inbound: boolean; updates: boolean; links: boolean }>;

export function defineChannel(descriptor: ChannelDescriptor): ChannelDescriptor {
  return descriptor;
}

export function hmacHex(secret: string | Buffer, text: string): string {
  return createHmac('sha256', secret).update(text).digest('hex');
}

/** Constant-time comparison of two strings (different lengths compare unequal without leaking where). */
export function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  if (left.length !== right.length) {
    timingSafeEqual(left, left);
    return false;
  }
  return timingSafeEqual(left, right);
}

const MAX_CALLBACK_BYTES = 64 * 1024;

/** The request body as received (a body parser that ran before may have left it on req.rawBody). */
export async function readRawBody(req: IncomingMessage): Promise<Buffer> {
  const pre = (req as IncomingMessage & { rawBody?: unknown }).rawBody;
  if (Buffer.isBuffer(pre)) return pre;
  if (typeof pre === 'string') return Buffer.from(pre);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_CALLBACK_BYTES) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function reply(res: ServerResponse, status: number, body?: unknown): void {
  if (res.headersSent) return;
  if (body === undefined) {
    res.writeHead(status, { 'content-length': 0 });
    res.end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Keys seen within a window (signatures, trigger ids): a second sighting is a replay. */
export class ReplayMemory {
  private readonly seen = new Map<string, number>();
  constructor(
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  /** True when any key was seen before; otherwise remembers all of them. */
  check(keys: (string | undefined)[]): boolean {
    const now = this.now();
    for (const [key, until] of this.seen) if (until <= now) this.seen.delete(key);
    const present = keys.filter((k): k is string => Boolean(k));
    if (present.some((k) => this.seen.has(k))) return true;
    for (const k of present) this.seen.set(k, now + this.windowMs);
    return false;
  }
}

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

export function identityId(identity: string, channel: string): string | undefined {
  const prefix = `${channel}:`;
  return identity.startsWith(prefix) ? identity.slice(prefix.length) : undefined;
}

export function headline(notice: ApprovalNotice): string {
  switch (notice.kind) {
    case 'reminder':
      return `Reminder: ${notice.title}`;
    case 'escalation':
      return `Escalated: ${notice.title}`;
    case 'decided':
      return `${notice.title}: ${notice.decision ? outcomeText(notice.decision) : 'decided'}`;
    default:
      return notice.title;
  }
}

export function outcomeText(decision: DecisionInfo): string {
  const word = decision.outcome === 'approved' ? 'Approved' : decision.outcome === 'denied' ? 'Denied' : 'Expired';
  return `${word}${decision.by ? ` by ${decision.by}` : ''} at ${decision.at}${decision.comment ? ` (${decision.comment})` : ''}`;
}

/** The plain-text body lines every channel shares: summary, fields, expiry. */
export function bodyLines(notice: ApprovalNotice): string[] {
  return [
    ...notice.summary,
    ...Object.entries(notice.fields).map(([k, v]) => `${k}: ${v}`),
    notice.kind === 'decided' ? '' : `Expires: ${notice.expiresAt}`,
  ].filter((line) => line !== '');
}

export function linkLabel(name: string | undefined, identity: string): string {
  return name ? `${name} (${identity})` : identity;
}
