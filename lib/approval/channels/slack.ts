/**
 * Slack approval channel: a Block Kit message with Approve/Deny buttons (chat.postMessage with a bot
 * token), the interaction callback (signed v0 over the raw body, 5-minute window, replays refused,
 * acknowledged at once, decided afterwards) and chat.update with the outcome.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHttpClient, type HttpClient } from '../../core/http';
import { bodyLines, headline, hmacHex, outcomeText, readRawBody, ReplayMemory, reply, sameText } from './kit';
import type { ApprovalChannel, ApprovalNotice, ChannelContext, DecisionInfo, MessageRef } from './types';

export const SLACK_WINDOW_MS = 5 * 60_000;

export interface SlackChannelOptions {
  botToken: string;
  signingSecret: string;
  /** Conversation id (C…) the request is posted to. */
  channelId: string;
  /** API root; tests point it at a fake. */
  apiUrl?: string;
}

function blocksFor(notice: ApprovalNotice, decided?: DecisionInfo): unknown[] {
  const text = [`*${mrkdwn(headline(notice))}*`, ...bodyLines(notice).map(mrkdwn)].join('\n');
  const blocks: unknown[] = [{ type: 'section', text: { type: 'mrkdwn', text: text.slice(0, 3000) } }];
  if (decided || notice.kind === 'decided') {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: mrkdwn(outcomeText(decided ?? notice.decision!)) }] });
    return blocks;
  }
  blocks.push({
    type: 'actions',
    block_id: `soar_approval_${notice.approvalId}`.slice(0, 255),
    elements: [
      { type: 'button', action_id: 'approve', style: 'primary', text: { type: 'plain_text', text: 'Approve' }, value: notice.approvalId },
      { type: 'button', action_id: 'deny', style: 'danger', text: { type: 'plain_text', text: 'Deny' }, value: notice.approvalId },
    ],
  });
  return blocks;
}

/** Slack mrkdwn control characters. */
function mrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function slackBodyCheck(data: unknown) {
  const body = data as { ok?: unknown; error?: unknown } | undefined;
  if (body && body.ok === false) {
    const error = String(body.error ?? 'unknown_error');
    const auth = /invalid_auth|not_authed|account_inactive|token_revoked|token_expired/.test(error);
    return {
      code: auth ? ('AUTH' as const) : error === 'ratelimited' ? ('RATE_LIMITED' as const) : ('BAD_REQUEST' as const),
      message: error,
      vendorCode: error,
      retryable: error === 'ratelimited',
    };
  }
  return undefined;
}

export class SlackChannel implements ApprovalChannel {
  readonly kind = 'slack';
  private readonly http: HttpClient;
  private readonly now: () => number;
  private readonly replays: ReplayMemory;
  /** Notices by approval id, to re-render the message on a decision. */
  private readonly notices = new Map<string, ApprovalNotice>();

  constructor(
    private readonly options: SlackChannelOptions,
    private readonly context: ChannelContext,
  ) {
    if (!options.botToken || !options.signingSecret || !options.channelId)
      throw new Error(`${context.name}: slack needs a bot token, a signing secret and a channel id`);
    this.now = context.now ?? Date.now;
    this.replays = new ReplayMemory(SLACK_WINDOW_MS * 2, this.now);
    this.http = createHttpClient({
      provider: context.name || 'slack',
      baseURL: (options.apiUrl ?? 'https://slack.com/api').replace(/\/+$/, '') + '/',
      headers: { authorization: `Bearer ${options.botToken}`, 'content-type': 'application/json; charset=utf-8' },
      secrets: [options.botToken, options.signingSecret],
      checkBody: slackBodyCheck,
      ...context.http,
    });
  }

  async notify(notice: ApprovalNotice): Promise<MessageRef[]> {
    this.notices.set(notice.approvalId, notice);
    const response = await this.http.request<{ channel: string; ts: string }>({
      method: 'POST',
      url: 'chat.postMessage',
      data: { channel: this.options.channelId, text: headline(notice), blocks: blocksFor(notice) },
      // A 429 means nothing was posted: retrying after Slack's Retry-After is safe.
      dedupKey: `${notice.approvalId}:${notice.kind}`,
    });
    return [{ channel: this.kind, approvalId: notice.approvalId, data: { channel: response.data.channel, ts: response.data.ts } }];
  }

  async update(ref: MessageRef, decision: DecisionInfo): Promise<void> {
    const notice = this.notices.get(ref.approvalId);
    const text = outcomeText(decision);
    const blocks = notice ? blocksFor(notice, decision) : [{ type: 'section', text: { type: 'mrkdwn', text: mrkdwn(text) } }];
    await this.http.request({ method: 'POST', url: 'chat.update', data: { channel: ref.data.channel, ts: ref.data.ts, text, blocks }, idempotent: true });
  }

  /** Why a signed request is refused, or undefined when it is genuine and fresh. */
  verify(headers: IncomingMessage['headers'], raw: Buffer): string | undefined {
    const timestamp = String(headers['x-slack-request-timestamp'] ?? '');
    const signature = String(headers['x-slack-signature'] ?? '');
    if (!/^\d{1,12}$/.test(timestamp) || !signature) return 'missing signature headers';
    if (Math.abs(this.now() - Number(timestamp) * 1000) > SLACK_WINDOW_MS) return 'stale timestamp';
    const expected = 'v0=' + hmacHex(this.options.signingSecret, `v0:${timestamp}:${raw.toString('utf8')}`);
    if (!sameText(expected, signature)) return 'bad signature';
    return undefined;
  }

  readonly callback = (req: IncomingMessage, res: ServerResponse): void => {
    this.handle(req, res).catch((error) => {
      reply(res, 400, 'bad request');
      this.context.warn?.(`${this.context.name}: slack callback failed: ${(error as Error).message}`);
    });
  };

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') return reply(res, 405, 'POST only');
    const raw = await readRawBody(req);
    const refusal = this.verify(req.headers, raw);
    if (refusal) {
      reply(res, 401, refusal);
      this.context.warn?.(`${this.context.name}: slack callback refused: ${refusal}`);
      this.context.refused?.({ code: refusal === 'stale timestamp' ? 'stale' : 'forged', reason: `slack callback: ${refusal}` });
      return;
    }
    let payload: SlackPayload;
    try {
      payload = JSON.parse(new URLSearchParams(raw.toString('utf8')).get('payload') ?? '');
    } catch {
      return reply(res, 400, 'payload is not JSON');
    }
    if (this.replays.check([`sig:${String(req.headers['x-slack-signature'])}`, payload.trigger_id ? `trigger:${payload.trigger_id}` : undefined])) {
      reply(res, 409, 'replayed callback');
      this.context.warn?.(`${this.context.name}: slack callback refused: replayed`);
      this.context.refused?.({ code: 'replayed', reason: 'slack callback: replayed', ...(payload.user?.id ? { identity: `slack:${payload.user.id}` } : {}) });
      return;
    }
    const action = payload.type === 'block_actions' ? payload.actions?.[0] : undefined;
    const decision = action?.action_id === 'approve' ? 'approve' : action?.action_id === 'deny' ? 'deny' : undefined;
    // Acknowledge at once: Slack gives up after 3 s; the decision and the update follow.
    reply(res, 200);
    if (!decision || !action?.value || !payload.user?.id) return;
    void this.decideLater(payload, action.value, decision);
  }

  private async decideLater(payload: SlackPayload, approvalId: string, decision: 'approve' | 'deny'): Promise<void> {
    const userId = payload.user!.id!;
    try {
      const result = this.context.decide
        ? await this.context.decide({ approvalId, identity: `slack:${userId}`, decision, channel: this.kind })
        : { ok: false, reason: 'this channel takes no decisions' };
      const channel = payload.channel?.id ?? payload.container?.channel_id;
      if (result.ok && result.decided && channel && payload.container?.message_ts) {
        await this.update({ channel: this.kind, approvalId, data: { channel, ts: payload.container.message_ts } }, result.decided);
      } else if (!result.ok) {
        if (channel)
          await this.http.request({
            method: 'POST',
            url: 'chat.postEphemeral',
            data: { channel, user: userId, text: `Not recorded: ${result.reason ?? 'refused'}` },
          });
      }
    } catch (error) {
      this.context.warn?.(`${this.context.name}: slack decision for ${approvalId} failed: ${(error as Error).message}`);
    }
  }
}

interface SlackPayload {
  type?: string;
  trigger_id?: string;
  user?: { id?: string; username?: string };
  actions?: { action_id?: string; value?: string; block_id?: string }[];
  channel?: { id?: string };
  container?: { message_ts?: string; channel_id?: string };
}

export function createSlackChannel(options: SlackChannelOptions, context: ChannelContext): SlackChannel {
  return new SlackChannel(options, context);
}
