/**
 * Glue shared by the SOAR nodes. The helpers live in ./shared (lifecycle, i18n, hub, fields,
 * settings, migrations); this module re-exports them so nodes keep one import, and holds the
 * config-node shapes nodes see of each other.
 */
import type { EventEmitter } from 'node:events';
import type { Node } from 'node-red';
import type { EdrProvider } from '../lib/edr/types';
import type { Hub } from '../lib/hub/hub';
import type { IntelProvider } from '../lib/intel/types';

export { acquireHub, defaultHubDir, userDir, type SoarHubConfigNode } from './shared/hub';
export { listField, mapField, parseAllowlistLines, positiveNumber } from './shared/fields';
export { translator, type Translate } from './shared/i18n';
export { hubLifecycle, lifecycle, type Lifecycle, type LifecycleSpec } from './shared/lifecycle';
export { numberSetting, SettingsParser, type NumberRule } from './shared/settings';
export { migrateConfig } from './shared/migrations';
export { addRoute, addSharedRoute, httpNodeBase, type RouteApp } from './shared/routes';

/** A soar-intel-source config node as the enrich node sees it. */
export interface IntelSourceNode extends Node<{ apiKey?: string }> {
  sourceName: string;
  weight: number;
  /** The provider, created on first use so a bad key shows in the node using it, not at deploy. */
  provider(): IntelProvider;
}

export interface FirewallCredentials {
  apiKey?: string;
  apiSecret?: string;
  password?: string;
  privateKey?: string;
  passphrase?: string;
  bouncerKey?: string;
  listToken?: string;
}

export interface FirewallConfigNode extends Node<FirewallCredentials> {
  /** The provider name leases use: this node's id (stable when the node is renamed). */
  providerName: string;
  label: string;
  hub?: Hub;
  ready: Promise<void>;
  /** "drift" events from scheduled reconciliation, for the block nodes using this firewall. */
  events: EventEmitter;
}

/** A soar-edr config node as the isolate host node sees it. */
export interface EdrConfigNode extends Node<Record<string, string>> {
  /** The provider name isolations use: this node's id (stable when the node is renamed). */
  providerName: string;
  label: string;
  kind: string;
  hub?: Hub;
  provider?: EdrProvider;
  /** Resolves once registered with the hub; rejects when the EDR could not be set up. */
  ready: Promise<void>;
  /** "drift" events from scheduled reconciliation, for the isolate nodes using this EDR. */
  events: EventEmitter;
}

export type { ApprovalChannelConfigNode, ChannelState } from './shared/approval-channel';
