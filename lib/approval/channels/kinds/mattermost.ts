/** Mattermost: interactive buttons whose callbacks carry a per-approval HMAC. */
import { createMattermostChannel } from '../mattermost';
import { defineChannel } from '../kit';

export const descriptor = defineChannel({
  kind: 'mattermost',
  label: 'Mattermost',
  summary: "a post with Approve/Deny buttons calling back the hub; server URL, bot token, channel id, the hub's callback URL",
  fields: [
    { name: 'url', type: 'string', required: true, pattern: '^https?://', patternHint: 'an http(s):// URL', placeholder: 'https://chat.example.org' },
    { name: 'botToken', type: 'secret', required: true },
    { name: 'channelId', type: 'string', required: true },
    // Empty: the config node fills in its own route on the hub (nodes/approval-channel.ts).
    { name: 'callbackUrl', type: 'string', pattern: '^https?://', patternHint: 'an http(s):// URL' },
    { name: 'actionSecret', type: 'secret' },
  ],
  supports: { inbound: true, updates: true, links: false },
  create: (v, context) =>
    createMattermostChannel(
      {
        serverUrl: v.url as string,
        botToken: v.botToken as string,
        channelId: v.channelId as string,
        callbackUrl: v.callbackUrl as string,
        actionSecret: v.actionSecret as string | undefined,
      },
      context,
    ),
});
