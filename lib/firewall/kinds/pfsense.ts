/** pfSense with the REST API v2 package: one alias, replaced as a whole and applied. */
import { createPfsenseFirewall } from '../pfsense';
import { defineFirewall, deviceUrlField, listNameField, tlsFields, withTls } from '../kit';

export const descriptor = defineFirewall({
  kind: 'pfsense',
  label: 'pfSense (REST API v2)',
  summary: 'entries of an alias (REST API v2 package); URL and an API key, or a user and password; own CA or self-signed certificate',
  fields: [
    deviceUrlField,
    { name: 'apiKey', type: 'secret' },
    { name: 'username', type: 'string' },
    { name: 'password', type: 'secret' },
    listNameField,
    ...tlsFields,
  ],
  supports: { ipv6: true, ranges: true, nativeExpiry: false },
  check: (v) => (v.apiKey || (v.username && v.password) ? undefined : 'needs an API key, or a user and a password'),
  create: (v, context) =>
    withTls(v, context, (http) =>
      createPfsenseFirewall({
        name: context.name,
        url: v.url as string,
        auth: v.apiKey ? { apiKey: v.apiKey as string } : { username: v.username as string, password: v.password as string },
        alias: (v.listName as string | undefined) || undefined,
        http,
      }),
    ),
});
