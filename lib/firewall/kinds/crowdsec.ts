/** CrowdSec's local API: bans posted as alerts with a decision, enforced by every bouncer. */
import { createCrowdsecFirewall } from '../crowdsec';
import { defineFirewall, deviceUrlField } from '../kit';

export const descriptor = defineFirewall({
  kind: 'crowdsec',
  label: 'CrowdSec local API',
  summary: 'a ban decision every CrowdSec bouncer enforces; LAPI URL, machine id and password, bouncer key for reconciliation',
  fields: [
    { ...deviceUrlField, placeholder: 'http://127.0.0.1:8080' },
    { name: 'machineId', type: 'string', required: true },
    { name: 'password', type: 'secret', required: true },
    { name: 'bouncerKey', type: 'secret' },
  ],
  supports: { ipv6: true, ranges: true, nativeExpiry: true },
  create: (v, context) => ({
    provider: createCrowdsecFirewall({
      name: context.name,
      baseURL: v.url as string,
      machineId: v.machineId as string,
      password: v.password as string,
      bouncerKey: (v.bouncerKey as string | undefined) || undefined,
    }),
  }),
});
