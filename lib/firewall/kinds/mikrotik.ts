/** MikroTik RouterOS 7 REST: an address list with native timeouts. */
import { createMikrotikFirewall } from '../mikrotik';
import { defineFirewall, deviceUrlField, listNameField, tlsFields, withTls } from '../kit';

export const descriptor = defineFirewall({
  kind: 'mikrotik',
  label: 'MikroTik RouterOS',
  summary: 'an address list with native timeouts (RouterOS 7 REST); URL, user and password, own CA or self-signed certificate',
  fields: [
    deviceUrlField,
    { name: 'username', type: 'string', required: true },
    { name: 'password', type: 'secret', required: true },
    listNameField,
    ...tlsFields,
  ],
  supports: { ipv6: true, ranges: true, nativeExpiry: true },
  create: (v, context) =>
    withTls(v, context, (http) =>
      createMikrotikFirewall({
        name: context.name,
        url: v.url as string,
        username: v.username as string,
        password: v.password as string,
        list: (v.listName as string | undefined) || undefined,
        http,
      }),
    ),
});
