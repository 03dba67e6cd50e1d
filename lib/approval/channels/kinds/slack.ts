/** Slack: Block Kit buttons, signed interaction callbacks, the message updated with the outcome. */
import { createSlackChannel } from '../slack';
import { defineChannel } from '../kit';

export const descriptor = defineChannel({
  kind: 'slack',
  label: 'Slack',
  summary: 'a message with Approve/Deny buttons; bot token (chat:write), signing secret, channel id, interactivity URL on the hub',
  fields: [
    { name: 'botToken', type: 'secret', required: true },
    { name: 'signingSecret', type: 'secret', required: true },
    { name: 'channelId', type: 'string', required: true, placeholder: 'C0123456789' },
    // API root: tests point it at a local fake; not shown in the form.
    { name: 'url', type: 'string', pattern: '^https?://', patternHint: 'an http(s):// URL', hidden: true },
  ],
  supports: { inbound: true, updates: true, links: false },
  create: (v, context) =>
    createSlackChannel(
      { botToken: v.botToken as string, signingSecret: v.signingSecret as string, channelId: v.channelId as string, apiUrl: (v.url as string) || undefined },
      context,
    ),
});
