/**
 * The ticket tracker kinds: every descriptor under lib/ticket/kinds/ (one file per tracker), found
 * by being there. Node-RED-free.
 */
import * as path from 'node:path';
import { loadDescriptors, readFields } from '../providers/descriptor';
import type { TicketContext, TicketDescriptor } from './kit';
import type { TicketProvider } from './types';

let cached: TicketDescriptor[] | undefined;

export function ticketDescriptors(): TicketDescriptor[] {
  cached ??= loadDescriptors<TicketDescriptor>(path.join(__dirname, 'kinds'), ['local', 'redmine', 'thehive', 'jira', 'github', 'gitlab', 'servicenow']);
  return cached;
}

export function ticketDescriptor(kind: string): TicketDescriptor | undefined {
  return ticketDescriptors().find((d) => d.kind === kind);
}

/** A tracker client from a config node's settings and credentials; throws a message naming every problem. */
export function createTicketProvider(
  kind: string,
  config: Record<string, unknown>,
  credentials: Record<string, unknown>,
  context: TicketContext,
): TicketProvider {
  const descriptor = ticketDescriptor(kind);
  if (!descriptor)
    throw new Error(
      `unknown ticket tracker kind "${kind}" (known: ${ticketDescriptors()
        .map((d) => d.kind)
        .join(', ')})`,
    );
  return descriptor.create(readFields(descriptor, config, credentials), context);
}
