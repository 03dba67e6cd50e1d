/** CISA Known Exploited Vulnerabilities: the JSON catalog, from a file or CISA's URL. */
import { createKev } from '../providers/kev';
import { defineIntel, feedFields, feedSource } from '../kit';

export const descriptor = defineIntel({
  kind: 'kev',
  label: 'CISA KEV',
  summary: "CISA Known Exploited Vulnerabilities catalog (JSON) for CVEs, from a file or CISA's URL; no key",
  fields: feedFields('feeds/demo-kev.json', 'https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json'),
  supports: { types: ['cve'], external: false },
  create: (v, context) => createKev({ ...context, source: feedSource(v, context) }),
});
