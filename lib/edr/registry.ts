/**
 * The EDR kinds: one descriptor file each in ./kinds (found by being there). The soar-edr config node
 * (or a test) builds a provider through createEdr, so the isolate node never names a vendor.
 */
import * as path from 'node:path';
import { loadDescriptors, readFields } from '../providers/descriptor';
import type { BuiltEdr, EdrBuildContext, EdrDescriptor } from './kit';

export type { BuiltEdr } from './kit';

const ORDER = ['crowdstrike', 'defender', 'sentinelone', 'wazuh', 'ssh-nftables'];

let cached: EdrDescriptor[] | undefined;

export function edrDescriptors(): EdrDescriptor[] {
  cached ??= loadDescriptors<EdrDescriptor>(path.join(__dirname, 'kinds'), ORDER);
  return cached;
}

export function edrDescriptor(kind: string): EdrDescriptor | undefined {
  return edrDescriptors().find((d) => d.kind === kind);
}

export function edrKinds(): string[] {
  return edrDescriptors().map((d) => d.kind);
}

/** An EDR's settings: its kind, the kind's fields as the flow stores them (flat, credentials included), and the context. */
export interface EdrSpec extends EdrBuildContext {
  kind: string;
  [field: string]: unknown;
}

export function createEdr(spec: EdrSpec): BuiltEdr {
  const descriptor = edrDescriptor(spec.kind);
  if (!descriptor) throw new Error(`unknown EDR kind "${spec.kind}"`);
  const values = readFields(descriptor, spec, spec);
  return descriptor.create(values, { name: spec.name, label: spec.label, http: spec.http, log: spec.log });
}
