/** abuse.ch ThreatFox: IOCs of malware families and botnets; abuse.ch Auth-Key. */
import { createThreatFox } from '../providers/threatfox';
import { apiKeyField, baseUrlOverride, defineIntel, serviceOptions } from '../kit';

export const descriptor = defineIntel({
  kind: 'threatfox',
  label: 'abuse.ch ThreatFox',
  summary: 'IOCs of malware families and botnets; abuse.ch Auth-Key',
  fields: [apiKeyField(), baseUrlOverride],
  supports: { types: ['ipv4', 'domain', 'url', 'md5', 'sha1', 'sha256'], external: true },
  budget: { perSecond: 2 },
  create: (v, context) => createThreatFox(serviceOptions(v, context)),
});
