/**
 * The firewall provider family: whatever enforces "drop traffic from this address" (nftables on the hub
 * or a gateway, later pf/OPNsense/MikroTik, ...). Node-RED-free.
 *
 * Callers run the guardrail policy BEFORE a provider; providers still parse every address themselves
 * and throw before touching anything when one does not parse.
 */

export interface BlockTarget {
  /** Canonical IP or CIDR (as GuardrailPolicy.checkAddress returns it). */
  address: string;
  /** Seconds until the provider itself lifts the block; undefined = permanent. */
  ttlSeconds?: number;
  /** Short note stored next to the block where the provider supports it. */
  comment?: string;
}

export interface EnforcedBlock {
  /** IP, CIDR, or "first-last" for a range the provider holds that is not a single prefix. */
  address: string;
  /** Seconds left before the provider drops the block; undefined = permanent. */
  expiresInSeconds?: number;
  comment?: string;
}

export interface FirewallProvider {
  /** Instance name, for logs and leases. */
  readonly name: string;
  /** Provider type, e.g. "nftables". */
  readonly kind: string;
  /** Idempotent setup; never removes existing blocks. */
  ensureReady(): Promise<void>;
  /** Block all targets or none. Blocking an address already blocked replaces its timeout. */
  block(targets: BlockTarget[]): Promise<void>;
  /** Unblock all; an address that is not blocked is not an error. */
  unblock(addresses: string[]): Promise<void>;
  /** What is really enforced right now (for reconciliation). */
  list(): Promise<EnforcedBlock[]>;
  close?(): Promise<void>;
}

/** Runs one command (nft locally, through `ip netns exec`, or over SSH). Never through a shell. */
export type CommandRunner = (args: string[], stdin?: string) => Promise<CommandResult>;

export interface CommandResult {
  stdout: string;
  stderr: string;
  /** Exit code; a runner resolves for non-zero exits and rejects only when the command could not run. */
  code: number;
}
