/** Shodan InternetDB: open ports, tags and known CVEs of an address; no key. */
import { createShodanInternetDb } from '../providers/shodan-internetdb';
import { baseUrlOverride, defineIntel, serviceOptions } from '../kit';

export const descriptor = defineIntel({
  kind: 'shodan-internetdb',
  label: 'Shodan InternetDB',
  summary: 'open ports, tags and known CVEs of an address; no key',
  fields: [baseUrlOverride],
  supports: { types: ['ipv4'], external: true },
  budget: { perSecond: 1 },
  create: (v, context) => createShodanInternetDb(serviceOptions(v, context)),
});
