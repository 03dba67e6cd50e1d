/** A local list of indicators (text, CSV, JSON) from a file or a URL refreshed with conditional GET. */
import type { IocType } from '../../ioc';
import { createFeed } from '../providers/feed';
import { defineIntel, feedFields, feedSource } from '../kit';

export const descriptor = defineIntel({
  kind: 'feed',
  label: 'Local feed',
  summary: 'a list of IPs, CIDRs, domains, URLs and hashes (text, CSV or JSON) from a file or a URL; no key',
  fields: [
    ...feedFields('feeds/demo-blocklist.txt'),
    { name: 'format', type: 'select', options: ['auto', 'text', 'csv', 'json'], default: 'auto' },
    { name: 'csvColumn', type: 'string', placeholder: 'CSV column' },
    { name: 'jsonField', type: 'string', placeholder: 'JSON field' },
    { name: 'level', type: 'select', options: ['malicious', 'suspicious'], default: 'malicious' },
  ],
  supports: { types: 'from the feed', external: false },
  create: (v, context) =>
    createFeed({
      ...context,
      source: feedSource(v, context),
      format: v.format as 'auto' | 'text' | 'csv' | 'json',
      csvColumn: v.csvColumn as string | undefined,
      jsonField: v.jsonField as string | undefined,
      level: v.level as 'malicious' | 'suspicious',
      types: undefined as IocType[] | undefined,
    }),
});
