/**
 * Generic webhook approval channel: POSTs the notice as JSON (request, links per approver, and the
 * outcome for decided notices), optionally signed: `X-Soar-Signature: sha256=<hex HMAC of
 * "<X-Soar-Timestamp>.<body>">` so the receiver can check origin and freshness.
 */
import { createHttpClient, type HttpClient } from '../../core/http';
import { hmacHex } from './kit';
import type { ApprovalChannel, ApprovalNotice, ChannelContext, DecisionInfo, MessageRef } from './types';

export interface WebhookChannelOptions {
  url: string;
  /** HMAC key; without it the request is unsigned. */
  secret?: string;
  /** Extra headers, e.g. an Authorization the receiver wants. */
  headers?: Record<string, string>;
}

export function webhookBody(notice: ApprovalNotice): Record<string, unknown> {
  return {
    type: 'soar.approval',
    kind: notice.kind,
    approvalId: notice.approvalId,
    title: notice.title,
    summary: notice.summary,
    fields: notice.fields,
    expiresAt: notice.expiresAt,
    approvers: notice.links.map((l) => ({ identity: l.identity, name: l.name, approve: l.approve, deny: l.deny })),
    ...(notice.decision ? { decision: notice.decision } : {}),
  };
}

export class WebhookChannel implements ApprovalChannel {
  readonly kind = 'webhook';
  private readonly http: HttpClient;
  private readonly path: string;
  private readonly now: () => number;

  constructor(
    private readonly options: WebhookChannelOptions,
    context: ChannelContext,
  ) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new Error(`${context.name}: the webhook URL is not a URL`);
    }
    this.now = context.now ?? Date.now;
    this.path = url.pathname + url.search;
    this.http = createHttpClient({
      provider: context.name || 'webhook',
      baseURL: url.origin + '/',
      headers: { 'content-type': 'application/json', ...options.headers },
      secrets: [...(options.secret ? [options.secret] : []), ...Object.values(options.headers ?? {})],
      ...context.http,
    });
  }

  private async post(body: Record<string, unknown>, dedupKey: string): Promise<void> {
    const text = JSON.stringify(body);
    const headers: Record<string, string> = {};
    if (this.options.secret) {
      const timestamp = String(Math.floor(this.now() / 1000));
      headers['x-soar-timestamp'] = timestamp;
      headers['x-soar-signature'] = 'sha256=' + hmacHex(this.options.secret, `${timestamp}.${text}`);
    }
    await this.http.request({ method: 'POST', url: this.path, data: text, headers, dedupKey });
  }

  async notify(notice: ApprovalNotice): Promise<MessageRef[]> {
    await this.post(webhookBody(notice), `${notice.approvalId}:${notice.kind}`);
    return [{ channel: this.kind, approvalId: notice.approvalId, data: {} }];
  }

  /** A follow-up POST with the outcome (the receiver correlates by approvalId). */
  async update(ref: MessageRef, decision: DecisionInfo): Promise<void> {
    await this.post({ type: 'soar.approval', kind: 'decided', approvalId: ref.approvalId, decision }, `${ref.approvalId}:decided`);
  }
}

export function createWebhookChannel(options: WebhookChannelOptions, context: ChannelContext): WebhookChannel {
  return new WebhookChannel(options, context);
}
