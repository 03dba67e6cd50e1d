/**
 * soar-hub: the hub-wide settings every SOAR node of a flow shares — where the audit log and
 * durable state live, simulation mode, and the guardrail policy for destructive actions.
 */
import * as path from "node:path";
import type { NodeAPI, NodeDef } from "node-red";
import { Hub } from "../lib/hub/hub";
import { listField, positiveNumber, userDir, type SoarHubConfigNode } from "./common";

interface HubDef extends NodeDef {
  dir: string;
  simulate: boolean;
  includeDefaults: boolean;
  protectedCidrs: string;
  protectedHosts: string;
  gateways: string;
  dnsServers: string;
  maxActionsPerHour: number | string;
  repeatWindowDays: number | string;
  repeatFactor: number | string;
  maxBlockDays: number | string;
}

export = function (RED: NodeAPI): void {
  function SoarHubNode(this: SoarHubConfigNode, config: HubDef): void {
    RED.nodes.createNode(this, config);
    const dir = config.dir?.trim() ? path.resolve(userDir(RED), config.dir.trim()) : path.join(userDir(RED), "soar");
    this.hubOptions = {
      dir,
      simulate: Boolean(config.simulate),
      guardrails: {
        includeDefaults: config.includeDefaults !== false,
        protectedCidrs: listField(config.protectedCidrs),
        protectedHosts: listField(config.protectedHosts),
        gateways: listField(config.gateways),
        dnsServers: listField(config.dnsServers),
        maxActionsPerHour: positiveNumber(config.maxActionsPerHour, 100),
      },
      repeat: {
        windowMs: positiveNumber(config.repeatWindowDays, 7) * 86_400_000,
        factor: positiveNumber(config.repeatFactor, 2),
        maxTtlSeconds: positiveNumber(config.maxBlockDays, 30) * 86_400,
      },
    };
  }
  RED.nodes.registerType("soar-hub", SoarHubNode);

  // The editor's SOAR sidebar: active leases of every open hub, and releasing one.
  type Req = { body?: Record<string, unknown>; user?: { username?: string } };
  type Res = { json(v: unknown): void; status(code: number): Res };
  const admin = RED.httpAdmin as unknown as { get(p: string, ...h: unknown[]): void; post(p: string, ...h: unknown[]): void };
  admin.get("/soar/leases", RED.auth.needsPermission("soar-hub.read"), (_req: Req, res: Res) => {
    void (async () => {
      const out = [];
      const hubs = await Hub.all();
      for (const hub of hubs) {
        for (const lease of await hub.leases.list()) {
          // A lease whose firewall was removed: releasable when its provider is remembered or rebuildable.
          const state = await hub.firewallState(lease.provider);
          const providerLabel = hub.firewalls.label(lease.provider) ?? lease.providerLabel ?? lease.provider;
          out.push({ ...lease, hub: hub.dir, providerLabel, providerState: state, orphaned: state === "orphaned" || state === "unknown" ? `${providerLabel} was removed` : undefined });
        }
      }
      res.json({ leases: out, simulate: hubs.some((h) => h.simulate) });
    })().catch((err: Error) => res.status(500).json({ error: err.message }));
  });
  admin.post("/soar/leases/release", RED.auth.needsPermission("soar-hub.write"), (req: Req, res: Res) => {
    void (async () => {
      const target = String(req.body?.target ?? "");
      const provider = String(req.body?.provider ?? "");
      const wanted = typeof req.body?.hub === "string" ? req.body.hub : "";
      if (!wanted || !target || !provider) {
        res.status(400).json({ error: "target, provider and hub are needed" });
        return;
      }
      // Only the hub asked for: releasing on another hub's store would act on the wrong leases.
      const hub = (await Hub.all()).find((h) => h.dir === wanted);
      if (!hub) {
        res.status(404).json({ error: `no open hub for the folder ${wanted.slice(0, 200)}` });
        return;
      }
      const state = await hub.firewallState(provider);
      const by = req.user?.username ? `editor:${req.user.username}` : "editor";
      const outcome = await hub.leases.unblock(target, provider, { by, reason: "released in the editor" });
      // An orphaned lease (its firewall removed, settings needing credentials) is a conflict, not a gateway error.
      const failedStatus = outcome.status === "failed" && outcome.code === "NOT_FOUND" && (state === "orphaned" || state === "unknown") ? 409 : 502;
      res.status(outcome.status === "failed" ? failedStatus : outcome.status === "not-found" ? 404 : 200).json(outcome);
    })().catch((err: Error) => res.status(500).json({ error: err.message }));
  });
};
