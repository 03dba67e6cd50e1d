/**
 * soar-intel-source: one threat-intel source (a local feed, CISA KEV, EPSS, or a service such as
 * VirusTotal) with its key, budget and reliability weight. Enrich IOC nodes share it. What each kind
 * needs comes from its descriptor (lib/intel/kinds/), which the editor gets as RED.settings.soarIntelSourceKinds.
 */
import type { NodeAPI, NodeDef } from 'node-red';
import { editorView, isCredential } from '../lib/providers/descriptor';
import { createIntelProvider, intelDescriptor, intelDescriptors } from '../lib/intel/registry';
import type { IntelProvider } from '../lib/intel/types';
import { lifecycle, userDir, type IntelSourceNode } from './common';

interface IntelSourceDef extends NodeDef {
  kind: string;
  weight: number | string;
  perMinute: number | string;
  perDay: number | string;
  /** The kind's own fields, flat (url, file, format, verifyTls, ...). */
  [field: string]: unknown;
}

function optionalNumber(v: unknown): number | undefined {
  const n = Number(v);
  return v !== '' && v !== undefined && v !== null && Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Every credential any kind declares (Node-RED needs one list per node type). */
function intelCredentials(): Record<string, { type: 'password' }> {
  const out: Record<string, { type: 'password' }> = { apiKey: { type: 'password' } };
  for (const d of intelDescriptors()) for (const f of d.fields) if (isCredential(f)) out[f.name] = { type: 'password' };
  return out;
}

export = function (RED: NodeAPI): void {
  function IntelSourceNodeCtor(this: IntelSourceNode, config: IntelSourceDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const kind = intelDescriptor(config.kind) ? config.kind : 'feed';
    node.sourceName = config.name?.trim() || kind;
    const weight = Number(config.weight);
    node.weight = Number.isFinite(weight) && weight >= 0 ? weight : 1;
    let provider: IntelProvider | undefined;
    const perMinute = optionalNumber(config.perMinute);
    const perDay = optionalNumber(config.perDay);

    node.provider = () => {
      provider ??= createIntelProvider({
        ...config,
        kind,
        name: node.sourceName,
        ...(node.credentials ?? {}),
        budget: perMinute || perDay ? { perMinute, perDay } : undefined,
        baseDir: userDir(RED),
      });
      return provider;
    };

    // Nothing to acquire (the provider is made on first use); the lifecycle closes it with (removed, done).
    lifecycle<void>(node, {
      namespace: 'soar-intel-source',
      showStatus: false,
      acquire: async () => undefined,
      release: async () => {
        const p = provider;
        provider = undefined;
        await p?.close?.();
      },
    });
  }

  RED.nodes.registerType<IntelSourceNode, IntelSourceDef, { soarIntelSourceKinds: Record<string, unknown>[] }, { apiKey?: string }>(
    'soar-intel-source',
    IntelSourceNodeCtor,
    {
      credentials: intelCredentials(),
      settings: { soarIntelSourceKinds: { value: editorView(intelDescriptors()), exportable: true } },
    },
  );
};
