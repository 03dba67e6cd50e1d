/** AlienVault OTX: pulses mentioning an indicator; OTX key. */
import { createOtx } from '../providers/otx';
import { apiKeyField, baseUrlOverride, defineIntel, serviceOptions } from '../kit';

export const descriptor = defineIntel({
  kind: 'otx',
  label: 'AlienVault OTX',
  summary: 'pulses mentioning an indicator; OTX key',
  fields: [apiKeyField(), baseUrlOverride],
  supports: { types: ['ipv4', 'ipv6', 'domain', 'url', 'md5', 'sha1', 'sha256', 'cve'], external: true },
  budget: { perSecond: 5, perHour: 10000 },
  create: (v, context) => createOtx(serviceOptions(v, context)),
});
