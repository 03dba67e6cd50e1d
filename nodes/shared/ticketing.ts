/** What a soar-ticketing config node gives the open-ticket nodes (nodes/ticketing.ts builds it). */
import type { Node } from 'node-red';
import type { Hub } from '../../lib/hub/hub';
import type { OutboxEvent, TicketOutbox } from '../../lib/ticket/outbox';
import type { TicketProvider } from '../../lib/ticket/types';

export interface OutboxSettings {
  coalesceMs: number;
  closedPolicy: 'link' | 'comment';
}

export interface TicketingParts {
  hub: Hub;
  provider: TicketProvider;
  /** The outbox for these settings (one per distinct setting on this tracker, all on one ledger). */
  outbox(settings: OutboxSettings): TicketOutbox;
}

/** A soar-ticketing config node as the open-ticket node sees it. */
export interface TicketingConfigNode extends Node {
  kind: string;
  label: string;
  ready: Promise<TicketingParts>;
  /** The hub's address as responders reach it, for the link back in ticket bodies (empty: no link). */
  hubUrl?: string;
  /** Remember that a node answered "queued" for an incident, so the later delivery goes to it (also after a restart). */
  waitFor(nodeId: string, incident: string): Promise<void>;
  /** Hear the outbox's events; `to` lists the nodes that were told "queued" for the incident. */
  onDelivery(listener: (event: OutboxEvent, to: string[]) => void): () => void;
  /** Test hook: the options the outboxes are built with (virtual backoff in tests). */
  outboxOptions?: Record<string, unknown>;
}
