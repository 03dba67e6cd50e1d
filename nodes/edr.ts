/**
 * soar-edr: the EDR (or isolation method) the isolate host node acts through — CrowdStrike Falcon,
 * Microsoft Defender for Endpoint, SentinelOne, Wazuh active response, and any kind with a descriptor
 * in lib/edr/kinds/ — registered with the hub so its isolations expire, are reconciled, and its
 * pending vendor actions are followed (again after a restart or a redeploy).
 */
import { EventEmitter } from 'node:events';
import type { NodeAPI, NodeDef } from 'node-red';
import type { Drift } from '../lib/edr/leases';
import { createEdr, edrDescriptor, edrDescriptors } from '../lib/edr/registry';
import { editorView, isCredential } from '../lib/providers/descriptor';
import type { Hub } from '../lib/hub/hub';
import { hubLifecycle, migrateConfig, SettingsParser, translator, type EdrConfigNode } from './common';

interface EdrDef extends NodeDef {
  configVersion?: number;
  hub: string;
  kind: string;
  pollSeconds: number | string;
  timeoutMinutes: number | string;
  reconcileMinutes: number | string;
  /** The kind's own fields, flat: see lib/edr/kinds/. */
  [field: string]: unknown;
}

/** A kind's settings without its credentials (kept by the hub, so an orphaned isolation names its EDR). */
function nonSecretSettings(kind: string, config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of edrDescriptor(kind)?.fields ?? []) if (!isCredential(field) && config[field.name] !== undefined) out[field.name] = config[field.name];
  return out;
}

/** Every credential any kind declares (Node-RED needs one list per node type). */
function edrCredentials(): Record<string, { type: 'password' }> {
  const out: Record<string, { type: 'password' }> = {};
  for (const d of edrDescriptors()) for (const f of d.fields) if (isCredential(f)) out[f.name] = { type: 'password' };
  return out;
}

export = function (RED: NodeAPI): void {
  const t = translator(RED, 'soar-edr');

  function EdrNode(this: EdrConfigNode, saved: EdrDef): void {
    const config = migrateConfig(saved, (message) => RED.log.warn(`soar-edr ${saved.id}: ${message}`));
    RED.nodes.createNode(this, config);
    const node = this;
    node.providerName = node.id;
    node.kind = String(config.kind ?? '');
    const descriptor = edrDescriptor(node.kind);
    node.label = config.name?.trim() || descriptor?.label || node.kind;
    node.events = new EventEmitter();
    const settings = new SettingsParser();
    const pollMs = settings.number('pollSeconds', config.pollSeconds, { default: 10, min: 0, exclusiveMin: true }) * 1000;
    const timeoutMs = settings.number('timeoutMinutes', config.timeoutMinutes, { default: 15, min: 0, exclusiveMin: true }) * 60_000;
    const reconcileMinutes = settings.number('reconcileMinutes', config.reconcileMinutes, { default: 15, min: 0 });
    let unregister: ((removed?: boolean) => Promise<void>) | undefined;
    let cancelReconcile: (() => void) | undefined;
    let stopWarnings: (() => void) | undefined;

    const lc = hubLifecycle<Hub>(RED, node, {
      namespace: 'soar-edr',
      hub: config.hub,
      showStatus: false,
      failedMessage: (err) => t('errors.setup', { message: err.message }),
      setup: (hub) => {
        if (!descriptor) throw new Error(t('errors.kind', { kind: node.kind || '(none)' }));
        if (settings.errors.length) throw new Error(settings.errors.join('; '));
        const built = createEdr({
          ...config,
          ...(node.credentials ?? {}),
          kind: node.kind,
          name: node.providerName,
          label: node.label,
          log: (line) => node.debug(line),
        });
        node.provider = built.provider;
        node.hub = hub;
        stopWarnings = hub.addWarningListener((message) => node.warn(message));
        unregister = hub.registerEdr(node.providerName, built.provider, {
          label: node.label,
          kind: node.kind,
          settings: nonSecretSettings(node.kind, config),
          follow: { pollMs, timeoutMs },
        });
        if (reconcileMinutes > 0) {
          cancelReconcile = hub.isolations.reconcileEvery(node.providerName, reconcileMinutes * 60_000, (result: Drift | Error) => {
            if (result instanceof Error) node.warn(t('errors.reconcile', { message: result.message }));
            else if (result.missing.length || result.extra.length || result.expiredButPresent.length) node.events.emit('drift', result);
          });
        }
        return hub;
      },
      teardown: async (_hub, removed) => {
        cancelReconcile?.();
        stopWarnings?.();
        // A deleted EDR's provider stays with the hub for its isolations (the hub closes it later).
        const keptByHub = Boolean(removed && unregister);
        await unregister?.(removed);
        node.hub = undefined;
        if (!keptByHub) await node.provider?.close();
      },
    });
    node.ready = lc.ready.then(() => undefined);
  }

  RED.nodes.registerType<EdrConfigNode, EdrDef, { soarEdrKinds: Record<string, unknown>[] }, Record<string, string>>('soar-edr', EdrNode, {
    credentials: edrCredentials(),
    settings: { soarEdrKinds: { value: editorView(edrDescriptors()), exportable: true } },
  });
};
