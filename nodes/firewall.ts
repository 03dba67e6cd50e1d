/**
 * soar-firewall: one firewall the block node acts on — nftables on the hub or on a gateway over SSH,
 * CrowdSec's local API, a published blocklist that firewalls pull, OPNsense, pfSense, Cloudflare or
 * MikroTik — registered with the hub's lease scheduler, and reconciled on a schedule.
 */
import { EventEmitter } from "node:events";
import type { NodeAPI, NodeDef } from "node-red";
import { blocklistHandler, type PublishedBlocklist } from "../lib/firewall/blocklist";
import type { Drift } from "../lib/firewall/leases";
import { createFirewall, FIREWALL_KINDS, type FirewallKind } from "../lib/firewall/registry";
import { acquireHub, type FirewallConfigNode, type FirewallCredentials } from "./common";

interface FirewallDef extends NodeDef {
  hub: string;
  kind: FirewallKind;
  table: string;
  host: string;
  port: number | string;
  username: string;
  hostKeySha256: string;
  sudo: boolean;
  url: string;
  listName: string;
  accountId: string;
  zoneId: string;
  machineId: string;
  reconcileMinutes: number | string;
}



/** Published lists by name, served on Node-RED's HTTP server at /soar/blocklist/<name>.txt; one node per name. */
const publishedLists = new Map<string, { list: PublishedBlocklist; token?: string; owner: string; label: string }>();
/** The HTTP app the route is on (one per Node-RED process; test harnesses make a new one per flow load). */
let blocklistRouteApp: unknown;

export = function (RED: NodeAPI): void {
  const t = (key: string, subs?: Record<string, string | number>) => RED._(`soar-firewall.${key}`, subs);

  function ensureBlocklistRoute(): void {
    if (blocklistRouteApp === RED.httpNode) return;
    blocklistRouteApp = RED.httpNode;
    const app = RED.httpNode as unknown as { get(path: string, h: (req: any, res: any) => void): void };
    app.get("/soar/blocklist/:file", (req, res) => {
      const m = /^([A-Za-z0-9_-]+)\.(txt|json)$/.exec(String(req.params.file));
      const entry = m ? publishedLists.get(m[1]) : undefined;
      if (!entry) {
        res.statusCode = 404;
        res.setHeader("content-type", "text/plain; charset=utf-8");
        res.end("no such blocklist\n");
        return;
      }
      blocklistHandler(entry.list, { token: entry.token, defaultFormat: m![2] === "json" ? "json" : "text" })(req, res);
    });
  }

  function FirewallNode(this: FirewallConfigNode, config: FirewallDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const kind = (FIREWALL_KINDS as readonly string[]).includes(config.kind) ? config.kind : "blocklist";
    const creds = node.credentials ?? {};
    node.providerName = node.id;
    node.label = config.name?.trim() || (kind === "blocklist" ? `blocklist ${config.listName || "soar"}` : kind);
    const events = (node.events = new EventEmitter());
    let unregister: ((removed?: boolean) => void) | undefined;
    let stopWarnings: (() => void) | undefined;
    let cancelReconcile: (() => void) | undefined;
    let publishedAs: string | undefined;
    let providerClose: (() => Promise<void>) | undefined;

    node.ready = acquireHub(RED, config.hub).then(async (hub) => {
      node.hub = hub;
      stopWarnings = hub.addWarningListener((message) => node.warn(message));
      const built = createFirewall({
        kind,
        name: node.providerName,
        store: hub.store,
        table: config.table,
        host: config.host?.trim(),
        port: Number(config.port) || undefined,
        username: config.username?.trim(),
        privateKey: creds.privateKey,
        passphrase: creds.passphrase,
        hostKeySha256: config.hostKeySha256?.trim(),
        sudo: Boolean(config.sudo),
        url: config.url?.trim(),
        apiKey: creds.apiKey,
        apiSecret: creds.apiSecret,
        password: creds.password,
        listName: config.listName?.trim(),
        accountId: config.accountId?.trim(),
        zoneId: config.zoneId?.trim(),
        machineId: config.machineId?.trim(),
        bouncerKey: creds.bouncerKey,
      });
      providerClose = built.provider.close?.bind(built.provider);
      if (built.blocklist) {
        const listName = config.listName?.trim() || "soar";
        const other = publishedLists.get(listName);
        if (other && other.owner !== node.id) {
          // Two nodes on one name would serve each other's list, and closing one would remove the other's.
          node.status({ fill: "red", shape: "ring", text: t("status.duplicateList", { list: listName }) });
          throw new Error(t("errors.duplicateList", { list: listName, other: `${other.label} (${other.owner})` }));
        }
        ensureBlocklistRoute();
        publishedAs = listName;
        publishedLists.set(listName, { list: built.blocklist, token: creds.listToken || undefined, owner: node.id, label: node.label });
      }
      unregister = hub.registerFirewall(node.providerName, built.provider, {
        label: node.label,
        kind,
        // Non-secret settings only: a removed firewall's leases stay releasable (lib/hub/firewalls.ts).
        settings: { table: config.table, host: config.host, port: Number(config.port) || undefined, username: config.username, hostKeySha256: config.hostKeySha256, sudo: Boolean(config.sudo), url: config.url, listName: config.listName, accountId: config.accountId, zoneId: config.zoneId, machineId: config.machineId },
      });
      // Set up now (create the nft table, load the published list, check the alias) so a problem shows
      // at deploy; blocks retry the setup themselves, so a firewall that is down now is not fatal.
      built.provider.ensureReady().catch((err: Error) => node.warn(t("errors.setup", { message: err.message })));
      const minutes = Number(config.reconcileMinutes);
      if (Number.isFinite(minutes) && minutes > 0) {
        cancelReconcile = hub.leases.reconcileEvery(node.providerName, minutes * 60_000, (result: Drift | Error) => {
          if (result instanceof Error) node.warn(t("errors.reconcile", { message: result.message }));
          else if (result.missing.length || result.extra.length || result.expiredButPresent.length) events.emit("drift", result);
        });
      }
    });
    node.ready.catch((err: Error) => node.error(t("errors.setup", { message: err.message })));

    node.on("close", (removed: boolean, done: () => void) => {
      cancelReconcile?.();
      // A deleted firewall's provider stays with the hub for its leases (the hub closes it later).
      const keptByHub = Boolean(removed && unregister);
      unregister?.(Boolean(removed));
      stopWarnings?.();
      if (publishedAs && publishedLists.get(publishedAs)?.owner === node.id) publishedLists.delete(publishedAs);
      const hub = node.hub;
      node.hub = undefined;
      node.ready
        .catch(() => undefined)
        .then(() => (keptByHub ? undefined : providerClose?.()))
        .then(() => hub?.release())
        .catch((err: Error) => node.warn(err.message))
        .finally(done);
    });
  }

  RED.nodes.registerType<FirewallConfigNode, FirewallDef, Record<string, never>, FirewallCredentials>("soar-firewall", FirewallNode, {
    credentials: {
      apiKey: { type: "password" },
      apiSecret: { type: "password" },
      password: { type: "password" },
      privateKey: { type: "password" },
      passphrase: { type: "password" },
      bouncerKey: { type: "password" },
      listToken: { type: "password" },
    },
  });
};
