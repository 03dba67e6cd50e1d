/**
 * soar-block-ip: blocks (or unblocks) addresses and ranges on the firewall of a soar-firewall config
 * node. Every block is a lease in the hub (expiring, extended on repeat, escalated for repeat
 * offenders, undone at expiry even after a crash); the hub's guardrails and simulation mode apply.
 * Outputs: done (blocked/extended/unblocked/simulated), refused (guardrails, caps), failed.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from "node-red";
import type { Drift } from "../lib/firewall/leases";
import { positiveNumber, type FirewallConfigNode } from "./common";

interface BlockIpDef extends NodeDef {
  firewall: string;
  target: string;
  targetType: string;
  action: "block" | "unblock" | "msg";
  ttl: number | string;
  ttlUnit: "s" | "m" | "h" | "d";
  permanent: boolean;
  reason: string;
  reasonType: string;
  driftOutput: boolean;
}

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

interface ActionRecord {
  kind: "block" | "unblock";
  target: string;
  provider: string;
  status: string;
  simulated: boolean;
  lease?: unknown;
  reason?: string;
  error?: string;
}

export = function (RED: NodeAPI): void {
  const t = (key: string, subs?: Record<string, string | number>) => RED._(`soar-block-ip.${key}`, subs);

  function evaluate(node: Node, value: string, type: string, msg: NodeMessageInFlow): Promise<unknown> {
    return new Promise((resolve, reject) =>
      RED.util.evaluateNodeProperty(value, type, node, msg, (err: Error | null, result: unknown) => (err ? reject(err) : resolve(result))),
    );
  }

  function BlockIpNode(this: Node, config: BlockIpDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const firewall = RED.nodes.getNode(config.firewall) as FirewallConfigNode | null;
    const defaultTtl = config.permanent ? ("permanent" as const) : positiveNumber(config.ttl, 1) * (UNIT_SECONDS[config.ttlUnit] ?? 1);

    if (!firewall) {
      node.status({ fill: "red", shape: "ring", text: "soar-block-ip.status.no-firewall" });
    } else {
      firewall.ready.then(
        () => node.status({ fill: "grey", shape: "ring", text: firewall.label }),
        () => node.status({ fill: "red", shape: "ring", text: "soar-block-ip.status.firewall-failed" }),
      );
    }

    // Reconciliation drift from the firewall, on the optional extra output.
    const onDrift = (drift: Drift) => {
      const count = drift.missing.length + drift.extra.length + drift.expiredButPresent.length;
      node.status({ fill: "yellow", shape: "ring", text: t("status.drift", { count }) });
      if (config.driftOutput) node.send([null, null, null, { topic: "drift", payload: drift }]);
    };
    firewall?.events.on("drift", onDrift);

    node.on("input", (msg: NodeMessageInFlow & Record<string, any>, send, done) => {
      void (async () => {
        try {
          if (!firewall) throw new Error(t("errors.no-firewall"));
          await firewall.ready;
          const hub = firewall.hub!;
          const raw = await evaluate(node, config.target || "alert.source.ip", config.targetType || "msg", msg);
          const targets = (Array.isArray(raw) ? raw : [raw]).filter((v) => v !== undefined && v !== null && v !== "");
          if (!targets.length) throw new Error(t("errors.no-target", { property: `${config.targetType || "msg"}.${config.target || "alert.source.ip"}` }));
          const action = config.action === "msg" ? (msg.action === "unblock" || msg.unblock === true ? "unblock" : "block") : config.action || "block";
          const reasonValue = config.reason ? await evaluate(node, config.reason, config.reasonType || "msg", msg).catch(() => undefined) : undefined;
          const reason = typeof reasonValue === "string" ? reasonValue : msg.alert?.title;
          const ttl = msg.ttl === "permanent" ? "permanent" : Number.isFinite(Number(msg.ttl)) && Number(msg.ttl) > 0 ? Number(msg.ttl) : defaultTtl;
          const by: string = Array.isArray(msg.approval?.by) && msg.approval.by.length ? msg.approval.by.join(", ") : `flow:${node.id}`;

          const records: ActionRecord[] = [];
          for (const target of targets) {
            const text = String(target);
            if (action === "unblock") {
              const out = await hub.leases.unblock(text, firewall.providerName, { by, reason: typeof reason === "string" ? reason : undefined });
              records.push({
                kind: "unblock",
                target: text,
                provider: firewall.label,
                status: out.status === "released" ? "unblocked" : out.status,
                simulated: out.status === "simulated",
                ...(out.status === "failed" ? { error: out.reason } : {}),
              });
            } else {
              const out = await hub.leases.block({
                target: text,
                provider: firewall.providerName,
                ttlSeconds: ttl,
                reason: typeof reason === "string" ? reason : undefined,
                alertId: msg.alert?.id,
                approvalId: msg.approval?.id,
                by,
              });
              records.push({
                kind: "block",
                target: "lease" in out ? out.lease.target : text,
                provider: firewall.label,
                status: out.status,
                simulated: out.status === "simulated",
                ...("lease" in out ? { lease: out.lease } : {}),
                ...(out.status === "refused" ? { reason: out.reason } : {}),
                ...(out.status === "failed" ? { error: out.reason } : {}),
              });
            }
          }

          const done_ = records.filter((r) => !["refused", "failed", "not-found"].includes(r.status));
          const refused = records.filter((r) => r.status === "refused" || r.status === "not-found");
          const failed = records.filter((r) => r.status === "failed");
          const groups = [done_, refused, failed];
          // Mixed outcomes (several addresses) go out on each matching output; clones are taken before
          // msg is changed, so every message carries only its own records.
          const previous: unknown[] = Array.isArray(msg.actions) ? [...msg.actions] : [];
          const firstUsed = groups.findIndex((g) => g.length);
          const copies = groups.map((group, i) => (group.length && i !== firstUsed ? RED.util.cloneMessage(msg) : null));
          const outputs: (NodeMessage | null)[] = groups.map((group, i) => {
            if (!group.length) return null;
            const out = (i === firstUsed ? msg : copies[i]) as NodeMessage & Record<string, any>;
            out.actions = [...previous, ...group];
            return out;
          });
          if (config.driftOutput) outputs.push(null);

          const last = records[records.length - 1];
          const leaseCount = await hub.leases.count(firewall.providerName);
          const fill = failed.length ? "red" : refused.length ? "yellow" : last.simulated ? "blue" : "green";
          node.status({ fill, shape: "dot", text: t(`status.${last.status}`, { target: last.target, leases: leaseCount, count: leaseCount }) });
          send(outputs);
          done();
        } catch (err) {
          node.status({ fill: "red", shape: "ring", text: "soar-block-ip.status.error" });
          done(err as Error);
        }
      })();
    });

    node.on("close", (_removed: boolean, done: () => void) => {
      firewall?.events.removeListener("drift", onDrift);
      node.status({});
      done();
    });
  }

  RED.nodes.registerType("soar-block-ip", BlockIpNode);
};
