/** Microsoft Teams through a Workflows webhook: an Adaptive Card with links to the approval page. */
import { createTeamsChannel } from '../teams';
import { defineChannel } from '../kit';

export const descriptor = defineChannel({
  kind: 'teams',
  label: 'Microsoft Teams (Workflows)',
  summary: 'an Adaptive Card whose buttons open the approval page; a Workflows (Power Automate) webhook URL',
  fields: [{ name: 'webhookUrl', type: 'secret', required: true }],
  supports: { inbound: false, updates: false, links: true },
  check: (v) => (/^https?:\/\//.test(String(v.webhookUrl ?? '')) ? undefined : 'webhookUrl must be an http(s):// URL'),
  create: (v, context) => createTeamsChannel({ webhookUrl: v.webhookUrl as string }, context),
});
