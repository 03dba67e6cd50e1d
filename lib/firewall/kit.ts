/**
 * What firewall descriptors (lib/firewall/kinds/) share: the context a firewall is built in, what a
 * kind supports, and the TLS settings of the HTTPS appliances (self-signed certificates are the rule
 * on OPNsense, pfSense and MikroTik).
 */
import * as https from 'node:https';
import type { StateStore } from '../core/types';
import type { FieldSpec, FieldValues, ProviderDescriptor } from '../providers/descriptor';
import type { PublishedBlocklist } from './blocklist';
import type { HttpTuning } from './provider-kit';
import type { FirewallProvider } from './types';

export interface FirewallContext {
  /** Provider name: the key leases refer to (the config node's id, stable across renames). */
  name: string;
  /** Durable store (the published blocklist keeps its entries there). */
  store: StateStore;
  /** Client tuning for tests (timeouts, retries, clock). */
  http?: HttpTuning;
}

export interface FirewallSupports {
  ipv6: boolean;
  /** CIDR ranges: true, false, or the prefix lengths accepted. */
  ranges: boolean | string;
  /** The firewall removes an entry at expiry itself (otherwise the hub's lease scheduler does). */
  nativeExpiry: boolean;
}

export type BuiltFirewall = { provider: FirewallProvider; blocklist?: PublishedBlocklist };
export type FirewallDescriptor = ProviderDescriptor<BuiltFirewall, FirewallContext, FirewallSupports>;

export function defineFirewall(descriptor: FirewallDescriptor): FirewallDescriptor {
  return descriptor;
}

export const deviceUrlField: FieldSpec = {
  name: 'url',
  type: 'string',
  required: true,
  pattern: '^https?://',
  patternHint: 'an http(s):// URL',
  placeholder: 'https://',
};
export const listNameField: FieldSpec = { name: 'listName', type: 'string', placeholder: 'soar' };
/** Check the device's certificate (default on); or trust the given CA certificate (PEM) for it. */
export const tlsFields: FieldSpec[] = [
  { name: 'verifyTls', type: 'boolean', default: true },
  { name: 'caCert', type: 'text', placeholder: '-----BEGIN CERTIFICATE-----' },
];

/**
 * The HTTP tuning for a device's TLS settings: an agent that trusts the CA certificate, or (checking
 * off) any certificate. The provider's close() also destroys the agent.
 */
export function withTls(values: FieldValues, context: FirewallContext, build: (http: HttpTuning | undefined) => FirewallProvider): BuiltFirewall {
  const ca = typeof values.caCert === 'string' && values.caCert.trim() ? values.caCert : undefined;
  if (ca && !/-----BEGIN CERTIFICATE-----/.test(ca)) throw new Error('caCert must be a PEM certificate (-----BEGIN CERTIFICATE-----)');
  const insecure = values.verifyTls === false;
  if (!ca && !insecure) return { provider: build(context.http) };
  const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: !insecure, ...(ca ? { ca } : {}) });
  const provider = build({ ...context.http, httpsAgent: agent });
  const close = provider.close?.bind(provider);
  provider.close = async () => {
    try {
      await close?.();
    } finally {
      agent.destroy();
    }
  };
  return { provider };
}
