/** CrowdStrike Falcon host containment. */
import { createCrowdStrikeEdr } from '../crowdstrike';
import { defineEdr, hiddenUrlField } from '../kit';

// API roots per Falcon cloud.
const CLOUDS: Record<string, string> = {
  'us-1': 'https://api.crowdstrike.com',
  'us-2': 'https://api.us-2.crowdstrike.com',
  'eu-1': 'https://api.eu-1.crowdstrike.com',
  'us-gov-1': 'https://api.laggar.gcw.crowdstrike.com',
};

export const descriptor = defineEdr({
  kind: 'crowdstrike',
  label: 'CrowdStrike Falcon',
  summary: 'network containment of a host (contain / lift containment); API client with Hosts read and write',
  fields: [
    { name: 'clientId', type: 'string', required: true },
    { name: 'clientSecret', type: 'secret', required: true },
    { name: 'cloud', type: 'select', options: Object.keys(CLOUDS), default: 'us-1' },
    { name: 'memberCid', type: 'string', placeholder: 'child CID (Flight Control)' },
    hiddenUrlField('url'),
  ],
  supports: { status: true, async: true, resolveBy: ['hostname', 'ip', 'device id (aid)'] },
  budget: { perMinute: 100 },
  create: (v, context) => ({
    provider: createCrowdStrikeEdr({
      name: context.name,
      log: context.log,
      http: context.http,
      clientId: v.clientId as string,
      clientSecret: v.clientSecret as string,
      memberCid: (v.memberCid as string) || undefined,
      baseUrl: (v.url as string) || CLOUDS[(v.cloud as string) ?? 'us-1'],
    }),
  }),
});
