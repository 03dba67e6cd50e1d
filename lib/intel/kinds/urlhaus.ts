/** abuse.ch URLhaus: malware distribution URLs, hosts and payload hashes; abuse.ch Auth-Key. */
import { createUrlhaus } from '../providers/urlhaus';
import { apiKeyField, baseUrlOverride, defineIntel, serviceOptions } from '../kit';

export const descriptor = defineIntel({
  kind: 'urlhaus',
  label: 'abuse.ch URLhaus',
  summary: 'malware distribution URLs, hosts and payload hashes; abuse.ch Auth-Key',
  fields: [apiKeyField(), baseUrlOverride],
  supports: { types: ['url', 'domain', 'ipv4', 'md5', 'sha256'], external: true },
  budget: { perSecond: 2 },
  create: (v, context) => createUrlhaus(serviceOptions(v, context)),
});
