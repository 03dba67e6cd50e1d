/** GreyNoise community: internet scanners and benign services (RIOT); key optional. */
import { createGreyNoise } from '../providers/greynoise';
import { apiKeyField, baseUrlOverride, defineIntel, serviceOptions } from '../kit';

export const descriptor = defineIntel({
  kind: 'greynoise',
  label: 'GreyNoise community',
  summary: 'internet scanners and benign services (RIOT); key optional',
  fields: [apiKeyField(false), baseUrlOverride],
  supports: { types: ['ipv4'], external: true },
  budget: { perDay: 7 },
  create: (v, context) => createGreyNoise(serviceOptions(v, context)),
});
