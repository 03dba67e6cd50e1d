/**
 * What ticket descriptors (lib/ticket/kinds/) share: the context a tracker client is built in, what a
 * kind supports, and the common settings.
 */
import type { StateStore } from '../core/types';
import type { FieldSpec, FieldValues, ProviderDescriptor } from '../providers/descriptor';
import type { TicketProvider, TicketProviderOptions } from './types';

/** What the config node (or a test) adds to a kind's own settings. */
export interface TicketContext extends Omit<TicketProviderOptions, 'baseURL'> {
  name: string;
  /** The hub's state store: only the local case store keeps its cases there. */
  store?: StateStore;
}

export interface TicketSupports {
  /** Where the incident key is kept in the tracker. */
  incidentField: string;
  /** The tracker itself refuses a second ticket for the same key (TheHive sourceRef). */
  uniqueKey: boolean;
  /** Indicators become structured observables (not only text). */
  observables: boolean;
}

export type TicketDescriptor = ProviderDescriptor<TicketProvider, TicketContext, TicketSupports>;

export function defineTicket(descriptor: TicketDescriptor): TicketDescriptor {
  return descriptor;
}

export const HTTP_URL = '^https?://';
export const serverField: FieldSpec = {
  name: 'url',
  type: 'string',
  required: true,
  pattern: HTTP_URL,
  patternHint: 'an http(s):// URL',
  placeholder: 'https://',
};
/** A SaaS API root (GitHub); not shown in the form (tests and GitHub Enterprise set it in the flow). */
export const apiRootOverride: FieldSpec = { name: 'url', type: 'string', pattern: HTTP_URL, patternHint: 'an http(s):// URL', hidden: true };

/** Common client options from a kind's settings and the context. */
export function commonOptions(values: FieldValues, context: TicketContext): TicketProviderOptions {
  return { ...context, baseURL: (values.url as string | undefined) || undefined };
}

/** A positive integer setting, or undefined when left empty. */
export function optionalId(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}
