/** FIRST EPSS scores (CSV), from a file or FIRST's daily URL. */
import { createEpss } from '../providers/epss';
import { defineIntel, feedFields, feedSource } from '../kit';

export const descriptor = defineIntel({
  kind: 'epss',
  label: 'EPSS scores',
  summary: 'FIRST EPSS exploit-probability scores (CSV) for CVEs, from a file (.csv or .csv.gz) or a URL serving CSV; no key',
  fields: feedFields('feeds/demo-epss.csv'),
  supports: { types: ['cve'], external: false },
  create: (v, context) => createEpss({ ...context, source: feedSource(v, context) }),
});
