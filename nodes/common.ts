/**
 * Glue shared by the SOAR nodes: finding the hub a node uses (its soar-hub config node, or the
 * default hub in <userDir>/soar), and small helpers for config fields.
 */
import * as path from "node:path";
import type { EventEmitter } from "node:events";
import type { Node, NodeAPI } from "node-red";
import { Hub, type HubOptions } from "../lib/hub/hub";
import type { IntelProvider } from "../lib/intel/types";
import { Allowlist } from "../lib/ioc";

/** What a soar-hub config node exposes to the nodes that use it. */
export interface SoarHubConfigNode extends Node {
  hubOptions: HubOptions;
}

export function userDir(RED: NodeAPI): string {
  const fromSettings = (RED.settings as unknown as { userDir?: string }).userDir;
  return fromSettings || process.env.SOAR_HOME || process.cwd();
}

export function defaultHubDir(RED: NodeAPI): string {
  return path.join(userDir(RED), "soar");
}

/** Resolve the hub for a node; pair with hub.release() in the node's close handler. */
export function acquireHub(RED: NodeAPI, hubConfigId: string | undefined): Promise<Hub> {
  const cfg = hubConfigId ? (RED.nodes.getNode(hubConfigId) as SoarHubConfigNode | null) : null;
  if (cfg) return Hub.acquire(cfg.hubOptions);
  return Hub.acquire({ dir: defaultHubDir(RED) });
}

/** Lines (or commas) of a textarea field -> trimmed non-empty entries; '#' starts a comment. */
export function listField(value: unknown): string[] {
  if (typeof value !== "string") return [];
  return value
    .split(/[\n,]/)
    .map((line) => line.replace(/#.*/, "").trim())
    .filter(Boolean);
}

/** A JSON object field of string -> string (field maps); throws a readable error. */
export function mapField(value: unknown, label: string): Record<string, string> | undefined {
  if (typeof value !== "string" || !value.trim()) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new Error(`${label} is not valid JSON`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error(`${label} must be a JSON object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof v !== "string") throw new Error(`${label}: the value of "${k}" must be a string path`);
    out[k] = v;
  }
  return out;
}

export function positiveNumber(value: unknown, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

/** A soar-intel-source config node as the enrich node sees it. */
export interface IntelSourceNode extends Node<{ apiKey?: string }> {
  sourceName: string;
  weight: number;
  /** The provider, created on first use so a bad key shows in the node using it, not at deploy. */
  provider(): IntelProvider;
}

/** One allowlist textarea: CIDRs and addresses, "*.example.com"/".example.com" suffixes, other exact values. */
export function parseAllowlistLines(lines: string[]): Allowlist {
  const values: string[] = [];
  const cidrs: string[] = [];
  const domainSuffixes: string[] = [];
  for (const line of lines) {
    if (/^[0-9a-f:.]+\/\d{1,3}$/i.test(line) || /^\d{1,3}(\.\d{1,3}){3}$/.test(line) || (line.includes(":") && /^[0-9a-f:]+$/i.test(line))) cidrs.push(line.includes("/") ? line : `${line}/${line.includes(":") ? 128 : 32}`);
    else if (line.startsWith("*.") || line.startsWith(".")) domainSuffixes.push(line.replace(/^\*?\./, ""));
    else values.push(line);
  }
  return new Allowlist({ values, cidrs, domainSuffixes });
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
