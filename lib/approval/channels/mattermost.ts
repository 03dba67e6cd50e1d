/**
 * Mattermost approval channel: a post (REST API v4, bot token) with interactive buttons whose
 * integration URL is the hub's callback and whose context carries an HMAC over the approval id and
 * decision (Mattermost does not sign its callbacks, so a forged one lacks the HMAC). The click's
 * `user_id` is the identity; the answer updates the post.
 */
import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHttpClient, type HttpClient } from '../../core/http';
import { bodyLines, headline, hmacHex, outcomeText, readRawBody, reply, sameText } from './kit';
import type { ApprovalChannel, ApprovalNotice, ChannelContext, DecisionInfo, MessageRef } from './types';

export interface MattermostChannelOptions {
  /** Server root, e.g. https://chat.example.org. */
  serverUrl: string;
  botToken: string;
  channelId: string;
  /** The hub's public URL of this channel's callback handler. */
  callbackUrl: string;
  /** Key for the action HMAC; default derived from the bot token (so it survives restarts). */
  actionSecret?: string;
}

export class MattermostChannel implements ApprovalChannel {
  readonly kind = 'mattermost';
  private readonly http: HttpClient;
  private readonly key: Buffer;
  private readonly notices = new Map<string, ApprovalNotice>();

  constructor(
    private readonly options: MattermostChannelOptions,
    private readonly context: ChannelContext,
  ) {
    if (!options.serverUrl || !options.botToken || !options.channelId || !options.callbackUrl)
      throw new Error(`${context.name}: mattermost needs a server URL, a bot token, a channel id and the callback URL`);
    this.key = createHmac('sha256', options.actionSecret || options.botToken)
      .update('soar approval mattermost actions')
      .digest();
    this.http = createHttpClient({
      provider: context.name || 'mattermost',
      baseURL: options.serverUrl.replace(/\/+$/, '') + '/api/v4/',
      headers: { authorization: `Bearer ${options.botToken}`, 'content-type': 'application/json' },
      secrets: [options.botToken, ...(options.actionSecret ? [options.actionSecret] : [])],
      ...context.http,
    });
  }

  /** The HMAC a button's context carries for one approval and decision. */
  actionToken(approvalId: string, decision: 'approve' | 'deny'): string {
    return hmacHex(this.key, `${approvalId}\n${decision}`);
  }

  private attachment(notice: ApprovalNotice, decision?: DecisionInfo): Record<string, unknown> {
    const text = [...bodyLines(notice), ...(decision ? ['', outcomeText(decision)] : [])].join('\n');
    if (decision || notice.kind === 'decided') return { title: headline(notice), text };
    const action = (decision: 'approve' | 'deny') => ({
      id: decision,
      name: decision === 'approve' ? 'Approve' : 'Deny',
      style: decision === 'approve' ? 'good' : 'danger',
      integration: {
        url: this.options.callbackUrl,
        context: { approval_id: notice.approvalId, decision, token: this.actionToken(notice.approvalId, decision) },
      },
    });
    return { title: headline(notice), text, actions: [action('approve'), action('deny')] };
  }

  async notify(notice: ApprovalNotice): Promise<MessageRef[]> {
    this.notices.set(notice.approvalId, notice);
    const response = await this.http.request<{ id: string }>({
      method: 'POST',
      url: 'posts',
      data: { channel_id: this.options.channelId, message: headline(notice), props: { attachments: [this.attachment(notice, notice.decision)] } },
      dedupKey: `${notice.approvalId}:${notice.kind}`,
    });
    return [{ channel: this.kind, approvalId: notice.approvalId, data: { postId: response.data.id } }];
  }

  async update(ref: MessageRef, decision: DecisionInfo): Promise<void> {
    const notice = this.notices.get(ref.approvalId);
    const props = { attachments: notice ? [this.attachment(notice, decision)] : [{ text: outcomeText(decision) }] };
    await this.http.request({
      method: 'PUT',
      url: `posts/${encodeURIComponent(String(ref.data.postId))}/patch`,
      data: { message: notice ? headline(notice) : outcomeText(decision), props },
    });
  }

  readonly callback = (req: IncomingMessage, res: ServerResponse): void => {
    this.handle(req, res).catch((error) => {
      reply(res, 400, { ephemeral_text: 'Bad request.' });
      this.context.warn?.(`${this.context.name}: mattermost callback failed: ${(error as Error).message}`);
    });
  };

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') return reply(res, 405, 'POST only');
    let body: { user_id?: unknown; context?: { approval_id?: unknown; decision?: unknown; token?: unknown } };
    try {
      body = JSON.parse((await readRawBody(req)).toString('utf8'));
    } catch {
      return reply(res, 400, { ephemeral_text: 'Not JSON.' });
    }
    const approvalId = typeof body.context?.approval_id === 'string' ? body.context.approval_id : '';
    const decision = body.context?.decision === 'approve' || body.context?.decision === 'deny' ? body.context.decision : undefined;
    const token = typeof body.context?.token === 'string' ? body.context.token : '';
    if (!approvalId || !decision || !sameText(this.actionToken(approvalId, decision), token)) {
      this.context.warn?.(`${this.context.name}: mattermost callback with a wrong action HMAC refused`);
      this.context.refused?.({
        code: 'forged',
        reason: 'mattermost callback: wrong action HMAC',
        ...(approvalId ? { approvalId: approvalId.slice(0, 100) } : {}),
      });
      return reply(res, 403, { ephemeral_text: 'This button was not issued by the SOAR hub.' });
    }
    const userId = typeof body.user_id === 'string' && /^[A-Za-z0-9]{1,64}$/.test(body.user_id) ? body.user_id : undefined;
    if (!userId) return reply(res, 400, { ephemeral_text: 'No user.' });
    const identity = `mattermost:${userId}`;
    const notice = this.notices.get(approvalId);
    if (notice && !notice.approvers.includes(identity)) {
      this.context.refused?.({ code: 'not-approver', reason: `${identity} may not decide approval ${approvalId}`, approvalId, identity });
      return reply(res, 200, { ephemeral_text: 'You are not an approver for this request.' });
    }
    if (!this.context.decide) return reply(res, 200, { ephemeral_text: 'This channel takes no decisions.' });
    const result = await this.context.decide({ approvalId, identity, decision, channel: this.kind });
    if (!result.ok) return reply(res, 200, { ephemeral_text: `Not recorded: ${result.reason ?? 'refused'}` });
    const ephemeral_text = decision === 'approve' ? 'Approval recorded.' : 'Denial recorded.';
    if (!result.decided) return reply(res, 200, { ephemeral_text });
    // The vote settled it: Mattermost replaces the post with `update` (buttons gone, outcome shown).
    const attachment = notice ? this.attachment(notice, result.decided) : { text: outcomeText(result.decided) };
    return reply(res, 200, {
      update: { message: notice ? headline(notice) : outcomeText(result.decided), props: { attachments: [attachment] } },
      ephemeral_text,
    });
  }
}

export function createMattermostChannel(options: MattermostChannelOptions, context: ChannelContext): MattermostChannel {
  return new MattermostChannel(options, context);
}
