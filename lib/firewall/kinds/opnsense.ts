/** OPNsense: entries of a firewall alias through alias_util. */
import { createOpnsenseFirewall } from '../opnsense';
import { defineFirewall, deviceUrlField, listNameField, tlsFields, withTls } from '../kit';

export const descriptor = defineFirewall({
  kind: 'opnsense',
  label: 'OPNsense',
  summary: 'entries of a host/network alias (alias_util); URL, API key and secret, own CA or self-signed certificate',
  fields: [
    deviceUrlField,
    { name: 'apiKey', type: 'secret', required: true },
    { name: 'apiSecret', type: 'secret', required: true },
    listNameField,
    ...tlsFields,
  ],
  supports: { ipv6: true, ranges: true, nativeExpiry: false },
  create: (v, context) =>
    withTls(v, context, (http) =>
      createOpnsenseFirewall({
        name: context.name,
        url: v.url as string,
        apiKey: v.apiKey as string,
        apiSecret: v.apiSecret as string,
        alias: (v.listName as string | undefined) || undefined,
        http,
      }),
    ),
});
