/** A published blocklist that firewalls pull (text or JSON), served by the hub. */
import type { FirewallProvider } from '../types';
import { createPublishedBlocklist, type PublishedBlocklist } from '../blocklist';
import { defineFirewall } from '../kit';

export const descriptor = defineFirewall({
  kind: 'blocklist',
  label: 'Published blocklist',
  summary:
    'a list served at /soar/blocklist/<name>.txt (or .json) for pfSense/OPNsense URL tables, FortiGate, Palo Alto EDLs, MikroTik scripts; no root, optional pull token',
  fields: [
    { name: 'listName', type: 'string', default: 'soar', pattern: '^[A-Za-z0-9_-]+$', patternHint: 'letters, digits, _ and -' },
    { name: 'listToken', type: 'secret' },
  ],
  supports: { ipv6: true, ranges: true, nativeExpiry: true },
  create: (v, context) => {
    const list = createPublishedBlocklist({ name: (v.listName as string) || 'soar', store: context.store });
    return { provider: withName(list, context.name), blocklist: list };
  },
});

/** The published list names itself after its URL; leases need the config node's stable name. */
function withName(list: PublishedBlocklist, name: string): FirewallProvider {
  return {
    name,
    kind: list.kind,
    ensureReady: () => list.ensureReady(),
    block: (targets) => list.block(targets),
    unblock: (addresses) => list.unblock(addresses),
    list: () => list.list(),
    close: list.close ? () => list.close!() : undefined,
  };
}
