/** Cloudflare IP access rules, for an account or a zone. */
import { createCloudflareFirewall } from '../cloudflare';
import { defineFirewall } from '../kit';

export const descriptor = defineFirewall({
  kind: 'cloudflare',
  label: 'Cloudflare IP access rules',
  summary: 'a block rule per address for an account or a zone; API token with access-rules edit rights',
  fields: [
    { name: 'apiKey', type: 'secret', required: true },
    { name: 'accountId', type: 'string' },
    { name: 'zoneId', type: 'string' },
    // API root: tests point it at a local fake; not shown in the form.
    { name: 'url', type: 'string', pattern: '^https?://', patternHint: 'an http(s):// URL', hidden: true },
  ],
  supports: { ipv6: true, ranges: 'IPv4 /16 and /24; IPv6 /32, /48 and /64', nativeExpiry: false },
  check: (v) => (!v.accountId === !v.zoneId ? 'needs exactly one of an account id and a zone id' : undefined),
  create: (v, context) => ({
    provider: createCloudflareFirewall({
      name: context.name,
      apiToken: v.apiKey as string,
      accountId: (v.accountId as string) || undefined,
      zoneId: (v.zoneId as string) || undefined,
      baseUrl: (v.url as string) || undefined,
      http: context.http,
    }),
  }),
});
