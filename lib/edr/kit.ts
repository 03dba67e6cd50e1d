/**
 * What EDR descriptors (lib/edr/kinds/) share: the context a provider is built in, what a kind
 * supports, and the TLS settings of a self-hosted manager (Wazuh's API ships a self-signed certificate).
 */
import * as https from 'node:https';
import type { FieldSpec, FieldValues, ProviderDescriptor } from '../providers/descriptor';
import type { EdrHttpTuning } from './common';
import type { EdrProvider } from './types';

export interface EdrBuildContext {
  /** Provider name: the key isolate leases refer to (the config node's id, stable across renames). */
  name: string;
  /** What people call it in messages (the config node's name or kind label); default: name. */
  label?: string;
  /** Client tuning for tests (timeouts, retries, clock). */
  http?: EdrHttpTuning;
  /** Debug lines; never given a secret. */
  log?: (line: string) => void;
}

export interface EdrSupports {
  /** The vendor reports isolation state; false: the isolate lease is the only record (Wazuh). */
  status: boolean;
  /** Actions finish later and are followed with followUntilDone. */
  async: boolean;
  /** What a target may be: the vendor's host name, an IP address, its own device/agent id. */
  resolveBy: readonly string[];
  /** Isolation types the vendor offers (Defender Full/Selective). */
  isolationTypes?: readonly string[];
}

export type BuiltEdr = { provider: EdrProvider };
export type EdrDescriptor = ProviderDescriptor<BuiltEdr, EdrBuildContext, EdrSupports>;

export function defineEdr(descriptor: EdrDescriptor): EdrDescriptor {
  return descriptor;
}

/** API root: tests point it at a local fake; not shown in the form. */
export const hiddenUrlField = (name: string): FieldSpec => ({ name, type: 'string', pattern: '^https?://', patternHint: 'an http(s):// URL', hidden: true });

export const tlsFields: FieldSpec[] = [
  { name: 'verifyTls', type: 'boolean', default: true },
  { name: 'caCert', type: 'text', placeholder: '-----BEGIN CERTIFICATE-----' },
];

/** Builds with an HTTPS agent that trusts the CA certificate or (checking off) any certificate; close() destroys it. */
export function withTls(values: FieldValues, context: EdrBuildContext, build: (http: EdrHttpTuning | undefined) => EdrProvider): BuiltEdr {
  const ca = typeof values.caCert === 'string' && values.caCert.trim() ? values.caCert : undefined;
  if (ca && !/-----BEGIN CERTIFICATE-----/.test(ca)) throw new Error('caCert must be a PEM certificate (-----BEGIN CERTIFICATE-----)');
  const insecure = values.verifyTls === false;
  if (!ca && !insecure) return { provider: build(context.http) };
  const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: !insecure, ...(ca ? { ca } : {}) });
  const provider = build({ ...context.http, httpsAgent: agent });
  const close = provider.close.bind(provider);
  provider.close = async () => {
    try {
      await close();
    } finally {
      agent.destroy();
    }
  };
  return { provider };
}
