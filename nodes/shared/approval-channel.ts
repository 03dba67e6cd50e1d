/** What a soar-approval-channel config node gives the wait-for-approval nodes (nodes/approval-channel.ts builds it). */
import type { Node } from 'node-red';
import type { ChannelEndpoint } from '../../lib/approval/dispatch';

export type ChannelState = 'starting' | 'ready' | 'polling' | 'failing' | 'error';

export interface ApprovalChannelConfigNode extends Node {
  kind: string;
  label: string;
  /** Where Slack or Mattermost send clicks, below Node-RED's httpNodeRoot: soar/approval-channel/<id>/callback. */
  callbackPath: string;
  /** The channel, once built; rejects with a clear message when the settings are wrong. */
  ready: Promise<ChannelEndpoint>;
  /** The outcome of the last send or update through it (the dialog and the nodes' status show it). */
  report(ok: boolean, error?: string): void;
  state(): { state: ChannelState; error?: string };
}
