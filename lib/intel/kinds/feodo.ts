/**
 * abuse.ch Feodo Tracker: the botnet command-and-control address list (JSON, one object per server
 * with `ip_address`). A listed address is malicious. Without a file, abuse.ch's recommended list is
 * downloaded on the refresh schedule; no key.
 */
import { createFeed } from '../providers/feed';
import { defineIntel, feedFields, resolveFeedFile } from '../kit';

export const FEODO_URL = 'https://feodotracker.abuse.ch/downloads/ipblocklist_recommended.json';

export const descriptor = defineIntel({
  kind: 'feodo',
  label: 'abuse.ch Feodo Tracker',
  summary: "botnet command-and-control servers (JSON list); abuse.ch's recommended list, or a file; no key",
  fields: feedFields('feeds/feodo.json', FEODO_URL).map((f) => ({ ...f, oneOf: undefined })),
  supports: { types: ['ipv4'], external: false },
  create: (v, context) =>
    createFeed({
      ...context,
      source: v.file
        ? { file: resolveFeedFile(v.file as string, context.baseDir) }
        : { url: (v.url as string) || FEODO_URL, refreshSeconds: ((v.refreshMinutes as number) ?? 60) * 60 },
      format: 'json',
      jsonField: 'ip_address',
      level: 'malicious',
      types: ['ipv4'],
    }),
});
