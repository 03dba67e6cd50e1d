/**
 * Turns a firewall's settings (from a soar-firewall config node, or a test) into a provider, so the
 * block node never names a vendor. Adding a firewall: write its provider file, add a case here.
 */
import type { StateStore } from "../core/types";
import { createPublishedBlocklist, type PublishedBlocklist } from "./blocklist";
import { createCloudflareFirewall } from "./cloudflare";
import { createCrowdsecFirewall } from "./crowdsec";
import { createMikrotikFirewall } from "./mikrotik";
import { execRunner, NftablesFirewall } from "./nftables";
import { createOpnsenseFirewall } from "./opnsense";
import { createPfsenseFirewall } from "./pfsense";
import { createSshRunner } from "./ssh-runner";
import type { FirewallProvider } from "./types";

export const FIREWALL_KINDS = ["blocklist", "nftables", "nftables-ssh", "crowdsec", "opnsense", "pfsense", "cloudflare", "mikrotik"] as const;
export type FirewallKind = (typeof FIREWALL_KINDS)[number];

export interface FirewallSpec {
  kind: FirewallKind;
  /** Provider name: the key leases refer to (the config node's id, stable across renames). */
  name: string;
  /** Durable store (the published blocklist keeps its entries there). */
  store: StateStore;
  /** nftables */
  table?: string;
  /** nftables over SSH */
  host?: string;
  port?: number;
  username?: string;
  privateKey?: string;
  passphrase?: string;
  hostKeySha256?: string;
  sudo?: boolean;
  /** HTTP APIs: the device's address. */
  url?: string;
  apiKey?: string;
  apiSecret?: string;
  password?: string;
  /** OPNsense/pfSense alias, MikroTik address list, published list name. */
  listName?: string;
  /** Cloudflare */
  accountId?: string;
  zoneId?: string;
  /** CrowdSec */
  machineId?: string;
  bouncerKey?: string;
}

export type BuiltFirewall = { provider: FirewallProvider; blocklist?: PublishedBlocklist };

function need(spec: FirewallSpec, ...fields: (keyof FirewallSpec)[]): void {
  const missing = fields.filter((f) => !spec[f]);
  if (missing.length) throw new Error(`${spec.kind} needs ${missing.join(", ")}`);
}

export function createFirewall(spec: FirewallSpec): BuiltFirewall {
  switch (spec.kind) {
    case "blocklist": {
      const list = createPublishedBlocklist({ name: spec.listName || "soar", store: spec.store });
      return { provider: withName(list, spec.name), blocklist: list };
    }
    case "nftables":
      return { provider: new NftablesFirewall({ name: spec.name, table: spec.table || undefined, runner: execRunner() }) };
    case "nftables-ssh":
      need(spec, "host", "username", "privateKey");
      return {
        provider: new NftablesFirewall({
          name: spec.name,
          table: spec.table || undefined,
          runner: createSshRunner({ host: spec.host!, port: spec.port, username: spec.username!, privateKey: spec.privateKey!, passphrase: spec.passphrase || undefined, hostKeySha256: spec.hostKeySha256 || undefined, sudo: spec.sudo }),
        }),
      };
    case "crowdsec":
      need(spec, "url", "machineId", "password");
      return { provider: createCrowdsecFirewall({ name: spec.name, baseURL: spec.url!, machineId: spec.machineId!, password: spec.password!, bouncerKey: spec.bouncerKey || undefined }) };
    case "opnsense":
      need(spec, "url", "apiKey", "apiSecret");
      return { provider: createOpnsenseFirewall({ name: spec.name, url: spec.url!, apiKey: spec.apiKey!, apiSecret: spec.apiSecret!, alias: spec.listName || undefined }) };
    case "pfsense":
      need(spec, "url");
      if (!spec.apiKey && !(spec.username && spec.password)) throw new Error("pfsense needs an API key, or a user and a password");
      return {
        provider: createPfsenseFirewall({
          name: spec.name,
          url: spec.url!,
          auth: spec.apiKey ? { apiKey: spec.apiKey } : { username: spec.username!, password: spec.password! },
          alias: spec.listName || undefined,
        }),
      };
    case "cloudflare":
      need(spec, "apiKey");
      if (!spec.accountId === !spec.zoneId) throw new Error("cloudflare needs exactly one of an account id and a zone id");
      return { provider: createCloudflareFirewall({ name: spec.name, apiToken: spec.apiKey!, accountId: spec.accountId || undefined, zoneId: spec.zoneId || undefined, baseUrl: spec.url || undefined }) };
    case "mikrotik":
      need(spec, "url", "username", "password");
      return { provider: createMikrotikFirewall({ name: spec.name, url: spec.url!, username: spec.username!, password: spec.password!, list: spec.listName || undefined }) };
    default:
      throw new Error(`unknown firewall kind "${(spec as { kind: string }).kind}"`);
  }
}

/** The published list names itself after its URL; leases need the config node's stable name. */
function withName(list: PublishedBlocklist, name: string): FirewallProvider {
  return {
    name,
    kind: list.kind,
    ensureReady: () => list.ensureReady(),
    block: (targets) => list.block(targets),
    unblock: (addresses) => list.unblock(addresses),
    list: () => list.list(),
    close: list.close ? () => list.close!() : undefined,
  };
}
