/** Generic webhook: the request and its links as JSON, optionally HMAC-signed. */
import { createWebhookChannel } from '../webhook';
import { defineChannel } from '../kit';

export const descriptor = defineChannel({
  kind: 'webhook',
  label: 'Generic webhook',
  summary: 'a JSON POST with the request and the approval page links; optional HMAC signature header',
  fields: [
    { name: 'url', type: 'string', required: true, pattern: '^https?://', patternHint: 'an http(s):// URL' },
    { name: 'secret', type: 'secret' },
  ],
  supports: { inbound: false, updates: true, links: true },
  create: (v, context) => createWebhookChannel({ url: v.url as string, secret: v.secret as string | undefined }, context),
});
