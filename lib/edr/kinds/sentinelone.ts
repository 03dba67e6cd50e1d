/** SentinelOne network quarantine (disconnect from network). */
import { createSentinelOneEdr } from '../sentinelone';
import { defineEdr } from '../kit';

export const descriptor = defineEdr({
  kind: 'sentinelone',
  label: 'SentinelOne',
  summary: 'disconnect an agent from the network and reconnect it; console URL and an API token',
  fields: [
    { name: 'url', type: 'string', required: true, pattern: '^https?://', patternHint: 'an http(s):// URL', placeholder: 'https://<tenant>.sentinelone.net' },
    { name: 'apiKey', type: 'secret', required: true },
  ],
  supports: { status: true, async: true, resolveBy: ['computer name', 'ip', 'agent id', 'agent uuid'] },
  budget: { perMinute: 60 },
  create: (v, context) => ({
    provider: createSentinelOneEdr({ name: context.name, log: context.log, http: context.http, url: v.url as string, apiToken: v.apiKey as string }),
  }),
});
