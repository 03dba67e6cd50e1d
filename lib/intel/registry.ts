/**
 * The intel source kinds: one descriptor file each in ./kinds (found by being there), in the order
 * the editor lists them. The config node (or a test) builds a source through createIntelProvider, so
 * nothing outside a descriptor names a vendor.
 */
import * as path from 'node:path';
import { loadDescriptors, readFields, type FieldValues } from '../providers/descriptor';
import type { IntelContext, IntelDescriptor } from './kit';
import type { IntelProvider } from './types';

export { resolveFeedFile } from './kit';

/** Listing order in the editor: local lists first, then services; a new kind goes after these. */
const ORDER = ['feed', 'kev', 'epss', 'virustotal', 'abuseipdb', 'greynoise', 'shodan-internetdb', 'urlhaus', 'threatfox', 'otx', 'misp', 'cortex'];

let cached: IntelDescriptor[] | undefined;

export function intelDescriptors(): IntelDescriptor[] {
  cached ??= loadDescriptors<IntelDescriptor>(path.join(__dirname, 'kinds'), ORDER);
  return cached;
}

export function intelDescriptor(kind: string): IntelDescriptor | undefined {
  return intelDescriptors().find((d) => d.kind === kind);
}

export function intelKinds(): string[] {
  return intelDescriptors().map((d) => d.kind);
}

/**
 * A source's settings: its kind and name, the kind's fields as the flow stores them (flat; a test
 * may pass typed values) with its credentials (apiKey), and the context options (budget, clock, baseDir).
 */
export interface IntelSourceSpec extends Omit<IntelContext, 'name'> {
  kind: string;
  name: string;
  apiKey?: string;
  [field: string]: unknown;
}

export function createIntelProvider(spec: IntelSourceSpec): IntelProvider {
  const descriptor = intelDescriptor(spec.kind);
  if (!descriptor) throw new Error(`unknown intel source kind "${spec.kind}"`);
  let values: FieldValues;
  try {
    values = readFields(descriptor, spec, spec);
  } catch (err) {
    throw new Error(`${spec.name}: ${(err as Error).message}`);
  }
  const { budget, timeoutMs, now, sleep, baseDir } = spec;
  return descriptor.create(values, { name: spec.name, budget, timeoutMs, now, sleep, baseDir });
}
