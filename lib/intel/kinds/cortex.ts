/** Cortex: runs your analyzers on an indicator and reads their verdicts. */
import { createCortex } from '../providers/cortex';
import { apiKeyField, defineIntel, serverField, serviceOptions, verifyTlsField } from '../kit';

export const descriptor = defineIntel({
  kind: 'cortex',
  label: 'Cortex analyzers',
  summary: "your Cortex server's analyzers (jobs, wait for the report); server URL, API key and analyzer names",
  fields: [
    serverField,
    apiKeyField(),
    { name: 'analyzers', type: 'list', required: true, placeholder: 'AbuseIPDB_1_0, VirusTotal_GetReport_3_1' },
    verifyTlsField,
  ],
  supports: { types: ['ipv4', 'ipv6', 'domain', 'url', 'md5', 'sha1', 'sha256', 'sha512', 'email'], external: false },
  create: (v, context) => createCortex({ ...serviceOptions(v, context), analyzers: (v.analyzers as string[]) ?? [], verifyTls: v.verifyTls !== false }),
});
