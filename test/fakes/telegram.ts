/**
 * Contract fake for the Telegram Bot API methods the approval channel uses.
 *
 * Follows: https://core.telegram.org/bots/api#making-requests (POST https://api.telegram.org/bot<token>/<method>,
 * answers {ok:true, result} or {ok:false, error_code, description, parameters:{retry_after}}),
 * #sendmessage with reply_markup.inline_keyboard, #inlinekeyboardbutton (callback_data 1-64 bytes),
 * #getupdates (offset confirms earlier updates, timeout for long polling), #answercallbackquery,
 * #editmessagetext, #callbackquery (id, from.id, message, data).
 */
import { startFakeServer, type FakeReply, type FakeServer } from '../helpers/fake-server';

export const TG_TOKEN = '123456789:AAHk3Jq8Lw2Nx7Rv5Tb1Yc9Hd4Mf6Ps0GaZ';

export interface TelegramFake {
  server: FakeServer;
  apiUrl: string;
  violations: string[];
  /** Queue an update for getUpdates; update_id is assigned. */
  pushUpdate(update: Record<string, unknown>): number;
  /** Every answerCallbackQuery body. */
  answers: Record<string, unknown>[];
  offsets: number[];
  script(method: string, ...replies: FakeReply[]): void;
  close(): Promise<void>;
}

export async function startTelegramFake(): Promise<TelegramFake> {
  const server = await startFakeServer();
  const violations: string[] = [];
  const scripts = new Map<string, FakeReply[]>();
  const updates: Record<string, unknown>[] = [];
  const answers: Record<string, unknown>[] = [];
  const offsets: number[] = [];
  let nextUpdate = 500;
  /** getUpdates calls holding their answer (long polling) until an update arrives or their timeout ends. */
  const waiting = new Set<() => void>();
  let nextMessage = 40;
  const fake: TelegramFake = {
    server,
    apiUrl: server.url,
    violations,
    answers,
    offsets,
    pushUpdate(update) {
      const id = nextUpdate++;
      updates.push({ update_id: id, ...update });
      for (const wake of waiting) wake();
      return id;
    },
    script: (method, ...replies) => scripts.set(method, [...(scripts.get(method) ?? []), ...replies]),
    close: () => {
      for (const wake of [...waiting]) wake();
      return server.close();
    },
  };
  server.route('POST', /^\/bot[^/]+\/[a-zA-Z]+$/, (request) => {
    const [, token, method] = /^\/bot([^/]+)\/([a-zA-Z]+)$/.exec(request.path)!;
    if (token !== TG_TOKEN) return { status: 401, body: { ok: false, error_code: 401, description: 'Unauthorized' } };
    const scripted = scripts.get(method)?.shift();
    if (scripted) return scripted;
    const body = (request.json ?? {}) as Record<string, unknown>;
    switch (method) {
      case 'sendMessage': {
        const keyboard = (body.reply_markup as { inline_keyboard?: { callback_data?: string }[][] } | undefined)?.inline_keyboard ?? [];
        for (const button of keyboard.flat()) {
          const size = Buffer.byteLength(button.callback_data ?? '');
          if (size < 1 || size > 64) violations.push(`callback_data of ${size} bytes`);
        }
        if (!body.chat_id || !body.text) return { status: 400, body: { ok: false, error_code: 400, description: 'Bad Request: message text is empty' } };
        return {
          status: 200,
          body: { ok: true, result: { message_id: nextMessage++, chat: { id: Number(body.chat_id) }, date: 1714557600, text: body.text } },
        };
      }
      case 'getUpdates': {
        const offset = Number(body.offset ?? 0);
        offsets.push(offset);
        while (updates.length && Number(updates[0].update_id) < offset) updates.shift();
        // Long polling: with a timeout and nothing to answer, Telegram holds the request (here at most 2 s).
        const timeoutS = Number(body.timeout ?? 0);
        if (!updates.length && timeoutS > 0) {
          return new Promise((resolve) => {
            const answer = () => {
              clearTimeout(timer);
              waiting.delete(answer);
              resolve({ status: 200, body: { ok: true, result: [...updates] } });
            };
            const timer = setTimeout(answer, Math.min(timeoutS, 2) * 1000);
            waiting.add(answer);
          });
        }
        return { status: 200, body: { ok: true, result: [...updates] } };
      }
      case 'answerCallbackQuery':
        answers.push(body);
        return { status: 200, body: { ok: true, result: true } };
      case 'editMessageText':
        if (!body.message_id || !body.text) violations.push('editMessageText without message_id or text');
        return { status: 200, body: { ok: true, result: { message_id: body.message_id, text: body.text } } };
    }
    return { status: 404, body: { ok: false, error_code: 404, description: 'Not Found' } };
  });
  return fake;
}
