/**
 * The firewalls a hub knows: the ones deployed now, the last instance of ones removed while this
 * process runs, and, for every firewall ever deployed, its label and non-secret settings in the state
 * store. A lease whose firewall was removed stays releasable and expiring: the hub uses the last
 * instance, or rebuilds the provider from the stored settings when it needs no secret (nftables on
 * the hub, a published list); otherwise the lease is shown as orphaned with a clear reason.
 */
import type { StateStore } from '../core/types';
import { createFirewall, type FirewallSpec } from '../firewall/registry';
import type { FirewallProvider } from '../firewall/types';

export const FIREWALLS_NS = 'firewalls';

/** Settings that are never secrets (credentials stay in Node-RED's credential store only). */
const PUBLIC_FIELDS = ['table', 'host', 'port', 'username', 'hostKeySha256', 'sudo', 'url', 'listName', 'accountId', 'zoneId', 'machineId'] as const;
/** Kinds whose provider can be rebuilt from public settings alone. */
const REBUILDABLE = new Set(['nftables', 'blocklist']);

export interface FirewallRecord {
  label: string;
  kind?: string;
  settings?: Record<string, string | number | boolean>;
  savedAt: string;
}

export interface FirewallInfo {
  label?: string;
  kind?: string;
  /** Any settings; only the public ones are kept. */
  settings?: Record<string, unknown>;
}

export type FirewallState = 'deployed' | 'retired' | 'rebuilt' | 'orphaned' | 'unknown';

/** Only the public settings of a firewall, empty values left out. */
export function publicSettings(settings: Record<string, unknown> = {}): Record<string, string | number | boolean> {
  const kept: Record<string, string | number | boolean> = {};
  for (const field of PUBLIC_FIELDS) {
    const value = settings[field];
    if ((typeof value === 'string' && value.trim() !== '') || typeof value === 'number' || typeof value === 'boolean')
      kept[field] = typeof value === 'string' ? value.trim() : value;
  }
  return kept;
}

export class FirewallDirectory {
  private readonly deployed = new Map<string, { provider: FirewallProvider; label: string }>();
  /** Removed in this process: the last instance, still usable for undoing its leases. */
  private readonly retired = new Map<string, { provider: FirewallProvider; label: string }>();
  private readonly rebuilt = new Map<string, FirewallProvider>();
  /** Stored records, loaded once. */
  private records: Map<string, FirewallRecord> | undefined;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly store: StateStore,
    private readonly warn: (message: string) => void,
  ) {}

  /** Load the stored records (labels and settings of firewalls deployed before). */
  load(): Promise<void> {
    this.loading ??= this.store
      .list<FirewallRecord>(FIREWALLS_NS)
      .then((entries) => {
        const records = new Map<string, FirewallRecord>();
        for (const { key, value } of entries) if (value && typeof value.label === 'string') records.set(key, value);
        // Records written meanwhile (a registration before the load finished) win.
        for (const [key, value] of this.records ?? []) records.set(key, value);
        this.records = records;
      })
      .catch((error: Error) => {
        this.records ??= new Map();
        this.warn(`stored firewall settings could not be read: ${error.message}`);
      });
    return this.loading;
  }

  /**
   * A firewall deployed: usable now; its label and public settings are kept in the store. The returned
   * function takes it out: with `removed` true (the node was deleted) the instance is kept for its
   * leases and the directory closes it later; otherwise its node closes it.
   */
  register(name: string, provider: FirewallProvider, info: FirewallInfo = {}): (removed?: boolean) => void {
    const label = info.label?.trim() || name;
    this.deployed.set(name, { provider, label });
    const previous = [this.retired.get(name)?.provider, this.rebuilt.get(name)];
    this.retired.delete(name);
    this.rebuilt.delete(name);
    for (const old of previous) if (old && old !== provider) void Promise.resolve(old.close?.()).catch(() => undefined);
    const record: FirewallRecord = { label, kind: info.kind ?? provider.kind, settings: publicSettings(info.settings), savedAt: new Date().toISOString() };
    (this.records ??= new Map()).set(name, record);
    this.store.set(FIREWALLS_NS, name, record).catch((error: Error) => this.warn(`settings of firewall "${label}" not stored: ${error.message}`));
    return (removed = false) => {
      const current = this.deployed.get(name);
      if (current?.provider !== provider) return;
      this.deployed.delete(name);
      if (removed) this.retired.set(name, current);
    };
  }

  /** The provider to use for a name: deployed, else the last instance, else rebuilt from settings. */
  resolve(name: string): FirewallProvider | undefined {
    const found = this.deployed.get(name)?.provider ?? this.retired.get(name)?.provider ?? this.rebuilt.get(name);
    if (found) return found;
    const record = this.records?.get(name);
    if (!record?.kind || !REBUILDABLE.has(record.kind)) return undefined;
    try {
      const spec = { ...(record.settings ?? {}), kind: record.kind, name, store: this.store } as FirewallSpec;
      const provider = createFirewall(spec).provider;
      this.rebuilt.set(name, provider);
      return provider;
    } catch (error) {
      this.warn(`firewall "${record.label}" could not be rebuilt from its stored settings: ${(error as Error).message}`);
      return undefined;
    }
  }

  label(name: string): string | undefined {
    return this.deployed.get(name)?.label ?? this.retired.get(name)?.label ?? this.records?.get(name)?.label;
  }

  state(name: string): FirewallState {
    if (this.deployed.has(name)) return 'deployed';
    if (this.retired.has(name)) return 'retired';
    if (this.rebuilt.has(name)) return 'rebuilt';
    const record = this.records?.get(name);
    if (!record) return 'unknown';
    return record.kind && REBUILDABLE.has(record.kind) ? 'rebuilt' : 'orphaned';
  }

  /** Why a provider cannot be used, for a lease whose firewall is gone. */
  missingReason(name: string): string | undefined {
    if (this.deployed.has(name) || this.retired.has(name)) return undefined;
    const label = this.records?.get(name)?.label;
    if (label === undefined) return undefined;
    return `orphaned: the firewall "${label.slice(0, 100)}" was removed from the flows and its settings need credentials; deploy it again (same node) to release or expire its leases`;
  }

  /** Close the providers kept for leases (the deployed ones belong to their nodes). */
  async close(): Promise<void> {
    const kept = [...this.rebuilt.values(), ...[...this.retired.values()].map((entry) => entry.provider)];
    this.rebuilt.clear();
    this.retired.clear();
    await Promise.allSettled(kept.map((provider) => provider.close?.()));
  }
}
