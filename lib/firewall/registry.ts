/**
 * The firewall kinds: one descriptor file each in ./kinds (found by being there), in the order the
 * editor lists them. The config node (or a test) builds a firewall through createFirewall, so the
 * block node never names a vendor.
 */
import * as path from 'node:path';
import { loadDescriptors, readFields } from '../providers/descriptor';
import type { BuiltFirewall, FirewallContext, FirewallDescriptor } from './kit';

export type { BuiltFirewall } from './kit';

const ORDER = ['blocklist', 'nftables', 'nftables-ssh', 'crowdsec', 'opnsense', 'pfsense', 'cloudflare', 'mikrotik'];

let cached: FirewallDescriptor[] | undefined;

export function firewallDescriptors(): FirewallDescriptor[] {
  cached ??= loadDescriptors<FirewallDescriptor>(path.join(__dirname, 'kinds'), ORDER);
  return cached;
}

export function firewallDescriptor(kind: string): FirewallDescriptor | undefined {
  return firewallDescriptors().find((d) => d.kind === kind);
}

export function firewallKinds(): string[] {
  return firewallDescriptors().map((d) => d.kind);
}

/**
 * A firewall's settings: its kind, the kind's fields as the flow stores them (flat, credentials
 * included), and the context (name, store, HTTP tuning).
 */
export interface FirewallSpec extends FirewallContext {
  kind: string;
  [field: string]: unknown;
}

export function createFirewall(spec: FirewallSpec): BuiltFirewall {
  const descriptor = firewallDescriptor(spec.kind);
  if (!descriptor) throw new Error(`unknown firewall kind "${spec.kind}"`);
  const values = readFields(descriptor, spec, spec);
  return descriptor.create(values, { name: spec.name, store: spec.store, http: spec.http });
}
