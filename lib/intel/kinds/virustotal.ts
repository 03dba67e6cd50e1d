/** VirusTotal v3: files, URLs, domains and addresses by engine verdicts; API key. */
import { createVirusTotal } from '../providers/virustotal';
import { apiKeyField, baseUrlOverride, defineIntel, serviceOptions } from '../kit';

export const descriptor = defineIntel({
  kind: 'virustotal',
  label: 'VirusTotal v3',
  summary: 'files, URLs, domains and addresses by engine verdicts; API key',
  fields: [apiKeyField(), baseUrlOverride],
  supports: { types: ['ipv4', 'ipv6', 'domain', 'url', 'md5', 'sha1', 'sha256'], external: true },
  budget: { perMinute: 4, perDay: 500 },
  create: (v, context) => createVirusTotal(serviceOptions(v, context)),
});
