/**
 * Microsoft Teams approval channel through a Workflows (Power Automate) webhook: an Adaptive Card
 * whose Action.OpenUrl buttons open the approval page (cards posted by a webhook cannot submit back).
 * Outbound only; the webhook URL carries its own signature, so it is treated as a secret.
 */
import { createHttpClient, type HttpClient } from '../../core/http';
import { bodyLines, headline, linkLabel } from './kit';
import type { ApprovalChannel, ApprovalNotice, ChannelContext, MessageRef } from './types';

export interface TeamsChannelOptions {
  webhookUrl: string;
}

export function adaptiveCard(notice: ApprovalNotice): Record<string, unknown> {
  const many = notice.links.length > 1;
  const actions =
    notice.kind === 'decided'
      ? []
      : notice.links.flatMap((l) => [
          { type: 'Action.OpenUrl', title: many ? `Approve as ${linkLabel(l.name, l.identity)}` : 'Approve', url: l.approve },
          { type: 'Action.OpenUrl', title: many ? `Deny as ${linkLabel(l.name, l.identity)}` : 'Deny', url: l.deny },
        ]);
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            { type: 'TextBlock', text: headline(notice), weight: 'Bolder', wrap: true },
            ...bodyLines(notice).map((line) => ({ type: 'TextBlock', text: line, wrap: true })),
          ],
          actions,
        },
      },
    ],
  };
}

export class TeamsChannel implements ApprovalChannel {
  readonly kind = 'teams';
  private readonly http: HttpClient;
  private readonly path: string;

  constructor(options: TeamsChannelOptions, context: ChannelContext) {
    let url: URL;
    try {
      url = new URL(options.webhookUrl);
    } catch {
      throw new Error(`${context.name}: the Teams workflow webhook URL is not a URL`);
    }
    this.path = url.pathname + url.search;
    this.http = createHttpClient({
      provider: context.name || 'teams',
      baseURL: url.origin + '/',
      headers: { 'content-type': 'application/json' },
      // The sig= query parameter is the credential.
      secrets: [options.webhookUrl, url.search.slice(1), ...[...url.searchParams.values()].filter((v) => v.length >= 16)],
      ...context.http,
    });
  }

  async notify(notice: ApprovalNotice): Promise<MessageRef[]> {
    await this.http.request({ method: 'POST', url: this.path, data: adaptiveCard(notice), dedupKey: `${notice.approvalId}:${notice.kind}` });
    return [{ channel: this.kind, approvalId: notice.approvalId, data: {} }];
  }
}

export function createTeamsChannel(options: TeamsChannelOptions, context: ChannelContext): TeamsChannel {
  return new TeamsChannel(options, context);
}
