/** Telegram bot: inline buttons, decisions fetched by long polling (no public URL needed). */
import { createTelegramChannel } from '../telegram';
import { defineChannel } from '../kit';

export const descriptor = defineChannel({
  kind: 'telegram',
  label: 'Telegram',
  summary: 'a bot message with Approve/Deny buttons, clicks fetched by long polling; bot token and chat id',
  fields: [
    { name: 'botToken', type: 'secret', required: true },
    { name: 'chatId', type: 'string', required: true, placeholder: '-1001234567890' },
    { name: 'pollTimeout', type: 'number', min: 1, default: 30 },
    { name: 'url', type: 'string', pattern: '^https?://', patternHint: 'an http(s):// URL', hidden: true },
  ],
  supports: { inbound: true, updates: true, links: false },
  create: (v, context) =>
    createTelegramChannel(
      { botToken: v.botToken as string, chatId: v.chatId as string, pollTimeoutS: v.pollTimeout as number, apiUrl: (v.url as string) || undefined },
      context,
    ),
});
