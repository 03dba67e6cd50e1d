/** Finding the hub a node uses: its soar-hub config node, or the default hub in <userDir>/soar. */
import * as path from 'node:path';
import type { Node, NodeAPI } from 'node-red';
import { Hub, type HubOptions } from '../../lib/hub/hub';

/** What a soar-hub config node exposes to the nodes that use it. */
export interface SoarHubConfigNode extends Node {
  hubOptions: HubOptions;
  /** Settings the hub node refused (each also logged at deploy); the hub then refuses every action. */
  settingErrors?: string[];
}

export function userDir(RED: NodeAPI): string {
  const fromSettings = (RED.settings as unknown as { userDir?: string }).userDir;
  return fromSettings || process.env.SOAR_HOME || process.cwd();
}

export function defaultHubDir(RED: NodeAPI): string {
  return path.join(userDir(RED), 'soar');
}

/** Resolve the hub for a node; pair with hub.release() in the node's close handler (hubLifecycle does both). */
export function acquireHub(RED: NodeAPI, hubConfigId: string | undefined): Promise<Hub> {
  const cfg = hubConfigId ? (RED.nodes.getNode(hubConfigId) as SoarHubConfigNode | null) : null;
  if (cfg) return Hub.acquire(cfg.hubOptions);
  return Hub.acquire({ dir: defaultHubDir(RED) });
}
