/** nftables on the hub's own machine (Node-RED needs the right to run nft). */
import { execRunner, NftablesFirewall } from '../nftables';
import { defineFirewall } from '../kit';

export const nftTableField = { name: 'table', type: 'string', default: 'soar', pattern: '^[A-Za-z0-9_]+$', patternHint: 'letters, digits and _' } as const;

export const descriptor = defineFirewall({
  kind: 'nftables',
  label: 'nftables on this machine',
  summary: 'a dedicated inet table with timeout sets, changed in one nft -f transaction; needs the right to run nft',
  fields: [nftTableField],
  supports: { ipv6: true, ranges: true, nativeExpiry: true },
  create: (v, context) => ({ provider: new NftablesFirewall({ name: context.name, table: (v.table as string) || undefined, runner: execRunner() }) }),
});
