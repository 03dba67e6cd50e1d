/** MISP: attributes matching an indicator on your own MISP server. */
import { createMisp } from '../providers/misp';
import { apiKeyField, defineIntel, serverField, serviceOptions, verifyTlsField } from '../kit';

export const descriptor = defineIntel({
  kind: 'misp',
  label: 'MISP',
  summary: 'attributes on your MISP server (restSearch); server URL and auth key, self-signed certificates allowed',
  fields: [serverField, apiKeyField(), verifyTlsField],
  supports: { types: ['ipv4', 'ipv6', 'domain', 'url', 'email', 'md5', 'sha1', 'sha256', 'sha512', 'cve'], external: false },
  create: (v, context) => createMisp({ ...serviceOptions(v, context), verifyTls: v.verifyTls !== false }),
});
