/**
 * Telegram approval channel: sendMessage with an inline keyboard whose callback_data carries the
 * approval id and the decision, long polling of getUpdates (offset + timeout, so a hub behind NAT
 * needs no public URL), answerCallbackQuery for every click and editMessageText with the outcome.
 * Only a click from an approver's `from.id` becomes a decision.
 */
import { createHttpClient, type HttpClient } from '../../core/http';
import { defaultSleep } from '../../core/budget';
import { bodyLines, headline, outcomeText } from './kit';
import type { ApprovalChannel, ApprovalNotice, ChannelContext, DecisionInfo, MessageRef } from './types';

/** Telegram's limit for callback_data, in bytes. */
export const CALLBACK_DATA_MAX = 64;

export interface TelegramChannelOptions {
  botToken: string;
  /** Chat the request is posted to (a group with the approvers, or one approver's private chat). */
  chatId: string;
  /** Long-poll timeout in seconds. Default 30. */
  pollTimeoutS?: number;
  apiUrl?: string;
  /** Wait after a failed poll before the next one, in ms. Default 5,000. */
  pollErrorDelayMs?: number;
}

export function callbackData(approvalId: string, decision: 'approve' | 'deny'): string {
  const data = `${decision === 'approve' ? 'a' : 'd'}:${approvalId}`;
  if (Buffer.byteLength(data) > CALLBACK_DATA_MAX)
    throw new Error(`approval id too long for Telegram callback data (${Buffer.byteLength(data)} > ${CALLBACK_DATA_MAX} bytes)`);
  return data;
}

export function parseCallbackData(data: unknown): { approvalId: string; decision: 'approve' | 'deny' } | undefined {
  const match = typeof data === 'string' ? /^([ad]):(.+)$/.exec(data) : null;
  return match ? { approvalId: match[2], decision: match[1] === 'a' ? 'approve' : 'deny' } : undefined;
}

interface TgUpdate {
  update_id: number;
  callback_query?: { id: string; from?: { id?: number; username?: string }; data?: string; message?: { message_id?: number; chat?: { id?: number | string } } };
}

function telegramBodyCheck(data: unknown) {
  const body = data as { ok?: unknown; description?: unknown; error_code?: unknown } | undefined;
  if (body && body.ok === false)
    return { code: 'BAD_REQUEST' as const, message: String(body.description ?? 'not ok'), vendorCode: String(body.error_code ?? '') };
  return undefined;
}

export class TelegramChannel implements ApprovalChannel {
  readonly kind = 'telegram';
  private readonly http: HttpClient;
  private offset = 0;
  private running = false;
  private loop?: Promise<void>;
  private abort?: AbortController;
  /** Approver identities and rendered text by approval id (from notify), to refuse strangers early. */
  private readonly notices = new Map<string, ApprovalNotice>();

  constructor(
    private readonly options: TelegramChannelOptions,
    private readonly context: ChannelContext,
  ) {
    if (!options.botToken || !options.chatId) throw new Error(`${context.name}: telegram needs a bot token and a chat id`);
    this.http = createHttpClient({
      provider: context.name || 'telegram',
      baseURL: `${(options.apiUrl ?? 'https://api.telegram.org').replace(/\/+$/, '')}/bot${options.botToken}/`,
      headers: { 'content-type': 'application/json' },
      secrets: [options.botToken],
      checkBody: telegramBodyCheck,
      ...context.http,
    });
  }

  private text(notice: ApprovalNotice, decision?: DecisionInfo): string {
    const lines = [headline(notice), ...bodyLines(notice)];
    if (decision) lines.push('', outcomeText(decision));
    return lines.join('\n').slice(0, 4096);
  }

  async notify(notice: ApprovalNotice): Promise<MessageRef[]> {
    this.notices.set(notice.approvalId, notice);
    const keyboard =
      notice.kind === 'decided'
        ? undefined
        : {
            inline_keyboard: [
              [
                { text: 'Approve', callback_data: callbackData(notice.approvalId, 'approve') },
                { text: 'Deny', callback_data: callbackData(notice.approvalId, 'deny') },
              ],
            ],
          };
    const response = await this.http.request<{ result: { message_id: number; chat: { id: number | string } } }>({
      method: 'POST',
      url: 'sendMessage',
      data: { chat_id: this.options.chatId, text: this.text(notice, notice.decision), ...(keyboard ? { reply_markup: keyboard } : {}) },
      // A 429 carries parameters.retry_after and means nothing was sent.
      dedupKey: `${notice.approvalId}:${notice.kind}`,
    });
    return [
      { channel: this.kind, approvalId: notice.approvalId, data: { chatId: String(response.data.result.chat.id), messageId: response.data.result.message_id } },
    ];
  }

  async update(ref: MessageRef, decision: DecisionInfo): Promise<void> {
    const notice = this.notices.get(ref.approvalId);
    const text = notice ? this.text(notice, decision) : outcomeText(decision);
    // Without reply_markup the inline keyboard goes away.
    await this.http.request({
      method: 'POST',
      url: 'editMessageText',
      data: { chat_id: ref.data.chatId, message_id: ref.data.messageId, text },
      idempotent: true,
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.poll();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort?.abort();
    await this.loop;
    this.http.close();
  }

  /** One getUpdates round: handles every update and moves the offset past them. */
  async pollOnce(signal?: AbortSignal): Promise<number> {
    const timeout = this.options.pollTimeoutS ?? 30;
    const response = await this.http.request<{ result: TgUpdate[] }>({
      method: 'POST',
      url: 'getUpdates',
      data: { offset: this.offset, timeout, allowed_updates: ['callback_query'] },
      idempotent: true,
      timeoutMs: (timeout + 15) * 1000,
      signal,
    });
    const updates = Array.isArray(response.data.result) ? response.data.result : [];
    for (const update of updates) {
      // Confirm first: a click that makes the handler fail is not fetched again forever.
      this.offset = Math.max(this.offset, update.update_id + 1);
      if (update.callback_query) await this.onCallback(update.callback_query);
    }
    return updates.length;
  }

  private async poll(): Promise<void> {
    while (this.running) {
      this.abort = new AbortController();
      try {
        await this.pollOnce(this.abort.signal);
      } catch (error) {
        if (!this.running) break;
        this.context.warn?.(`${this.context.name}: telegram getUpdates failed: ${(error as Error).message}`);
        await (this.context.http?.sleep ?? defaultSleep)(this.options.pollErrorDelayMs ?? 5000, this.abort.signal).catch(() => undefined);
      }
    }
  }

  private async onCallback(query: NonNullable<TgUpdate['callback_query']>): Promise<void> {
    const parsed = parseCallbackData(query.data);
    const fromId = query.from?.id;
    let answer: string;
    if (!parsed || fromId === undefined) {
      answer = 'Not an approval button.';
    } else {
      const identity = `telegram:${fromId}`;
      const notice = this.notices.get(parsed.approvalId);
      if (notice && !notice.approvers.includes(identity)) {
        answer = 'You are not an approver for this request.';
        this.context.warn?.(`${this.context.name}: telegram click on ${parsed.approvalId} from non-approver ${identity} refused`);
        this.context.refused?.({
          code: 'not-approver',
          reason: `${identity} may not decide approval ${parsed.approvalId}`,
          approvalId: parsed.approvalId,
          identity,
        });
      } else if (!this.context.decide) {
        answer = 'This channel takes no decisions.';
      } else {
        try {
          const result = await this.context.decide({ approvalId: parsed.approvalId, identity, decision: parsed.decision, channel: this.kind });
          answer = result.ok ? (parsed.decision === 'approve' ? 'Approval recorded.' : 'Denial recorded.') : `Not recorded: ${result.reason ?? 'refused'}`;
          const chatId = query.message?.chat?.id;
          const messageId = query.message?.message_id;
          if (result.ok && result.decided && chatId !== undefined && messageId !== undefined) {
            await this.update({ channel: this.kind, approvalId: parsed.approvalId, data: { chatId: String(chatId), messageId } }, result.decided).catch(
              (error: Error) => this.context.warn?.(`${this.context.name}: telegram editMessageText failed: ${error.message}`),
            );
          }
        } catch (error) {
          answer = 'Not recorded: the hub could not record it; try again.';
          this.context.warn?.(`${this.context.name}: telegram decision failed: ${(error as Error).message}`);
        }
      }
    }
    try {
      await this.http.request({
        method: 'POST',
        url: 'answerCallbackQuery',
        data: { callback_query_id: query.id, text: answer.slice(0, 200) },
        idempotent: true,
      });
    } catch (error) {
      this.context.warn?.(`${this.context.name}: telegram answerCallbackQuery failed: ${(error as Error).message}`);
    }
  }
}

export function createTelegramChannel(options: TelegramChannelOptions, context: ChannelContext): TelegramChannel {
  return new TelegramChannel(options, context);
}
