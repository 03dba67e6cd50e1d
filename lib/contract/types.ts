/**
 * The message contract between SOAR nodes: what each part of msg means, as TypeScript types. The
 * JSON Schemas in schema/ (validated by ./validate) say the same for users' own tooling.
 */
import type { NormalisedAlert } from '../alert/types';
import type { Ioc } from '../ioc/types';
import type { Enrichment, IndicatorVerdict } from '../intel/verdict';
import type { IntelLevel } from '../intel/types';

/** msg.alert (schema/soar-alert.schema.json), from the alert intake. */
export type MsgAlert = NormalisedAlert;

/** msg.iocs (schema/soar-iocs.schema.json), from the enrich node. */
export type MsgIocs = Ioc[];

/** msg.enrichment (schema/soar-enrichment.schema.json), from the enrich node. */
export type MsgEnrichment = Enrichment;
export type { IndicatorVerdict };

/** What let an action through its node's condition; "off": the node has none. */
export type AllowedBy = 'verdict' | 'approval' | 'off';

/** One record of msg.actions (schema/soar-actions.schema.json), from the action nodes. */
export interface ActionRecord {
  kind: 'block' | 'unblock' | 'isolate' | 'release';
  target: string;
  /** The firewall's or EDR's label. */
  provider: string;
  status:
    | 'blocked'
    | 'extended'
    | 'simulated'
    | 'unblocked'
    | 'refused'
    | 'not-found'
    | 'failed'
    | 'isolated'
    | 'released'
    | 'already-isolated'
    | 'not-isolated'
    | 'pending';
  /** Isolations: the host's state after the action. */
  state?: 'isolated' | 'pending-isolate' | 'normal' | 'pending-release' | 'unknown';
  /** Isolations: the device the target resolved to. */
  device?: { id: string; name?: string };
  /** Isolations: a pending action that finished after the message went on. */
  finishedLater?: boolean;
  simulated: boolean;
  lease?: { target: string; provider: string } & Record<string, unknown>;
  /** Why it was refused. */
  reason?: string;
  /** Why it failed. */
  error?: string;
  /** The verdict about this very target (none: the verdict said nothing about it). */
  verdict?: { verdict: IntelLevel | 'none'; score?: number };
  allowedBy?: AllowedBy;
}
export type MsgActions = ActionRecord[];

/** msg.approval (schema/soar-approval.schema.json), from the approval node. */
export interface MsgApproval {
  id: string;
  decision: 'approved' | 'denied' | 'expired';
  /** Approver identities that decided (empty for an expiry). */
  by: string[];
  /** ISO time of the decision. */
  at: string;
  /** Digest of the decisive fields' values when the approval was asked. */
  digest: string;
  /** The message paths the digest covers, e.g. "alert.source.ip". */
  fields: string[];
}

/** A message as the SOAR nodes see it; every part is optional until the node that writes it ran. */
export interface SoarMessage {
  alert?: MsgAlert;
  iocs?: MsgIocs;
  enrichment?: MsgEnrichment;
  actions?: MsgActions;
  approval?: MsgApproval;
  [key: string]: unknown;
}
