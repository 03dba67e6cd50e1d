/**
 * soar-firewall: one firewall the block node acts on — nftables on the hub or on a gateway over SSH,
 * CrowdSec's local API, a published blocklist that firewalls pull, OPNsense, pfSense, Cloudflare or
 * MikroTik — registered with the hub's lease scheduler, and reconciled on a schedule.
 */
import { EventEmitter } from 'node:events';
import type { NodeAPI, NodeDef } from 'node-red';
import { blocklistHandler, type PublishedBlocklist } from '../lib/firewall/blocklist';
import type { Drift } from '../lib/firewall/leases';
import { editorView, isCredential } from '../lib/providers/descriptor';
import { createFirewall, firewallDescriptor, firewallDescriptors } from '../lib/firewall/registry';
import { hubLifecycle, translator, type FirewallConfigNode, type FirewallCredentials } from './common';

interface FirewallDef extends NodeDef {
  hub: string;
  kind: string;
  listName: string;
  reconcileMinutes: number | string;
  /** The kind's own fields, flat (url, host, table, verifyTls, ...): see lib/firewall/kinds/. */
  [field: string]: unknown;
}

/** Published lists by name, served on Node-RED's HTTP server at /soar/blocklist/<name>.txt; one node per name. */
const publishedLists = new Map<string, { list: PublishedBlocklist; token?: string; owner: string; label: string }>();
/** A kind's settings without its credentials, kept by the hub so a removed firewall's leases stay releasable. */
function nonSecretSettings(kind: string, config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of firewallDescriptor(kind)?.fields ?? [])
    if (!isCredential(field) && config[field.name] !== undefined) out[field.name] = config[field.name];
  return out;
}
/** The HTTP app the route is on (one per Node-RED process; test harnesses make a new one per flow load). */
let blocklistRouteApp: unknown;

/** Every credential any kind declares (Node-RED needs one list per node type). */
function firewallCredentials(): Record<string, { type: 'password' }> {
  const out: Record<string, { type: 'password' }> = {};
  for (const d of firewallDescriptors()) for (const f of d.fields) if (isCredential(f)) out[f.name] = { type: 'password' };
  return out;
}

export = function (RED: NodeAPI): void {
  const t = translator(RED, 'soar-firewall');

  function ensureBlocklistRoute(): void {
    if (blocklistRouteApp === RED.httpNode) return;
    blocklistRouteApp = RED.httpNode;
    const app = RED.httpNode as unknown as { get(path: string, h: (req: any, res: any) => void): void };
    app.get('/soar/blocklist/:file', (req, res) => {
      const m = /^([A-Za-z0-9_-]+)\.(txt|json)$/.exec(String(req.params.file));
      const entry = m ? publishedLists.get(m[1]) : undefined;
      if (!entry) {
        res.statusCode = 404;
        res.setHeader('content-type', 'text/plain; charset=utf-8');
        res.end('no such blocklist\n');
        return;
      }
      blocklistHandler(entry.list, { token: entry.token, defaultFormat: m![2] === 'json' ? 'json' : 'text' })(req, res);
    });
  }

  function FirewallNode(this: FirewallConfigNode, config: FirewallDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const kind = firewallDescriptor(config.kind) ? config.kind : 'blocklist';
    const creds = node.credentials ?? {};
    node.providerName = node.id;
    node.label = config.name?.trim() || (kind === 'blocklist' ? `blocklist ${config.listName || 'soar'}` : kind);
    const events = (node.events = new EventEmitter());
    let unregister: ((removed?: boolean) => void) | undefined;
    let stopWarnings: (() => void) | undefined;
    let cancelReconcile: (() => void) | undefined;
    let publishedAs: string | undefined;
    let providerClose: (() => Promise<void>) | undefined;

    let keptByHub = false;
    const lc = hubLifecycle(RED, node, {
      namespace: 'soar-firewall',
      hub: config.hub,
      showStatus: false,
      setup: async (hub) => {
        try {
          node.hub = hub;
          stopWarnings = hub.addWarningListener((message) => node.warn(message));
          const built = createFirewall({ ...config, ...creds, kind, name: node.providerName, store: hub.store });
          providerClose = built.provider.close?.bind(built.provider);
          if (built.blocklist) {
            const listName = config.listName?.trim() || 'soar';
            const other = publishedLists.get(listName);
            if (other && other.owner !== node.id) {
              // Two nodes on one name would serve each other's list, and closing one would remove the other's.
              node.status({ fill: 'red', shape: 'ring', text: t('status.duplicateList', { list: listName }) });
              throw new Error(t('errors.duplicateList', { list: listName, other: `${other.label} (${other.owner})` }));
            }
            ensureBlocklistRoute();
            publishedAs = listName;
            publishedLists.set(listName, { list: built.blocklist, token: creds.listToken || undefined, owner: node.id, label: node.label });
          }
          unregister = hub.registerFirewall(node.providerName, built.provider, {
            label: node.label,
            kind,
            // Non-secret settings only: a removed firewall's leases stay releasable (lib/hub/firewalls.ts).
            settings: nonSecretSettings(kind, config),
          });
          // Set up now (create the nft table, load the published list, check the alias) so a problem shows
          // at deploy; blocks retry the setup themselves, so a firewall that is down now is not fatal.
          built.provider.ensureReady().catch((err: Error) => node.warn(t('errors.setup', { message: err.message })));
          const minutes = Number(config.reconcileMinutes);
          if (Number.isFinite(minutes) && minutes > 0) {
            cancelReconcile = hub.leases.reconcileEvery(node.providerName, minutes * 60_000, (result: Drift | Error) => {
              if (result instanceof Error) node.warn(t('errors.reconcile', { message: result.message }));
              else if (result.missing.length || result.extra.length || result.expiredButPresent.length) events.emit('drift', result);
            });
          }
          return hub;
        } catch (err) {
          // Not set up: nothing of it stays with the hub, which the lifecycle releases now.
          stopWarnings?.();
          node.hub = undefined;
          await providerClose?.().catch(() => undefined);
          throw err;
        }
      },
      failedMessage: (err) => t('errors.setup', { message: err.message }),
      // A deleted firewall's provider stays with the hub for its leases (the hub closes it later).
      teardown: (_hub, removed) => (removed && keptByHub ? undefined : providerClose?.()),
    });
    node.ready = lc.ready.then(() => undefined);
    node.ready.catch(() => undefined); // reported by the lifecycle; block nodes awaiting it see the rejection
    lc.onClose((removed) => {
      cancelReconcile?.();
      keptByHub = Boolean(unregister);
      unregister?.(removed);
      stopWarnings?.();
      if (publishedAs && publishedLists.get(publishedAs)?.owner === node.id) publishedLists.delete(publishedAs);
      node.hub = undefined;
    });
  }

  RED.nodes.registerType<FirewallConfigNode, FirewallDef, { soarFirewallKinds: Record<string, unknown>[] }, FirewallCredentials>(
    'soar-firewall',
    FirewallNode,
    {
      credentials: firewallCredentials(),
      settings: { soarFirewallKinds: { value: editorView(firewallDescriptors()), exportable: true } },
    },
  );
};
