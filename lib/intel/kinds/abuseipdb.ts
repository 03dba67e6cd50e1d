/** AbuseIPDB v2: reported addresses with a confidence score; API key. */
import { createAbuseIpdb } from '../providers/abuseipdb';
import { apiKeyField, baseUrlOverride, defineIntel, serviceOptions } from '../kit';

export const descriptor = defineIntel({
  kind: 'abuseipdb',
  label: 'AbuseIPDB v2',
  summary: 'reported addresses with a confidence score; API key',
  fields: [apiKeyField(), baseUrlOverride],
  supports: { types: ['ipv4', 'ipv6'], external: true },
  budget: { perDay: 1000 },
  create: (v, context) => createAbuseIpdb(serviceOptions(v, context)),
});
