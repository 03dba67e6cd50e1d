/**
 * soar-hub: the hub-wide settings every SOAR node of a flow shares — where the audit log and
 * durable state live, simulation mode, and the guardrail policy for destructive actions.
 */
import * as path from "node:path";
import type { NodeAPI, NodeDef } from "node-red";
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
    };
  }
  RED.nodes.registerType("soar-hub", SoarHubNode);
};
