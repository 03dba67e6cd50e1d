/**
 * The EDRs a hub knows: the ones deployed now, the last instance of ones removed while this process
 * runs, and, for every EDR ever deployed, its label, kind and non-secret settings in the state store.
 * An isolation whose EDR was removed stays releasable while the last instance lives; after a restart
 * it is shown as orphaned with a clear reason (every EDR kind needs a credential, so none is rebuilt
 * from stored settings alone). Also holds how each EDR's pending actions are followed.
 */
import type { StateStore } from '../core/types';
import type { FollowSettings } from '../edr/leases';
import type { EdrProvider } from '../edr/types';

export const EDRS_NS = 'edrs';

export interface EdrRecord {
  label: string;
  kind?: string;
  settings?: Record<string, string | number | boolean>;
  savedAt: string;
}

export interface EdrInfo {
  label?: string;
  kind?: string;
  /** Non-secret settings only (the caller drops credentials; see nodes/edr.ts). */
  settings?: Record<string, unknown>;
  follow?: Partial<FollowSettings>;
}

export type EdrState = 'deployed' | 'retired' | 'orphaned' | 'unknown';

function plainSettings(settings: Record<string, unknown> = {}): Record<string, string | number | boolean> {
  const kept: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(settings)) {
    if ((typeof value === 'string' && value.trim() !== '') || typeof value === 'number' || typeof value === 'boolean')
      kept[key] = typeof value === 'string' ? value.trim().slice(0, 500) : value;
  }
  return kept;
}

export class EdrDirectory {
  private readonly deployed = new Map<string, { provider: EdrProvider; label: string; follow?: Partial<FollowSettings> }>();
  private readonly retired = new Map<string, { provider: EdrProvider; label: string; follow?: Partial<FollowSettings> }>();
  private records: Map<string, EdrRecord> | undefined;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly store: StateStore,
    private readonly warn: (message: string) => void,
  ) {}

  load(): Promise<void> {
    this.loading ??= this.store
      .list<EdrRecord>(EDRS_NS)
      .then((entries) => {
        const records = new Map<string, EdrRecord>();
        for (const { key, value } of entries) if (value && typeof value.label === 'string') records.set(key, value);
        for (const [key, value] of this.records ?? []) records.set(key, value);
        this.records = records;
      })
      .catch((error: Error) => {
        this.records ??= new Map();
        this.warn(`stored EDR settings could not be read: ${error.message}`);
      });
    return this.loading;
  }

  /** An EDR deployed; the returned function takes it out (removed: kept for its isolations, closed later). */
  register(name: string, provider: EdrProvider, info: EdrInfo = {}): (removed?: boolean) => void {
    const label = info.label?.trim() || name;
    this.deployed.set(name, { provider, label, follow: info.follow });
    const old = this.retired.get(name)?.provider;
    this.retired.delete(name);
    if (old && old !== provider) void old.close().catch(() => undefined);
    const record: EdrRecord = { label, kind: info.kind ?? provider.kind, settings: plainSettings(info.settings), savedAt: new Date().toISOString() };
    (this.records ??= new Map()).set(name, record);
    this.store.set(EDRS_NS, name, record).catch((error: Error) => this.warn(`settings of EDR "${label}" not stored: ${error.message}`));
    return (removed = false) => {
      const current = this.deployed.get(name);
      if (current?.provider !== provider) return;
      this.deployed.delete(name);
      if (removed) this.retired.set(name, current);
    };
  }

  resolve(name: string): EdrProvider | undefined {
    return this.deployed.get(name)?.provider ?? this.retired.get(name)?.provider;
  }

  follow(name: string): Partial<FollowSettings> | undefined {
    return this.deployed.get(name)?.follow ?? this.retired.get(name)?.follow;
  }

  label(name: string): string | undefined {
    return this.deployed.get(name)?.label ?? this.retired.get(name)?.label ?? this.records?.get(name)?.label;
  }

  record(name: string): EdrRecord | undefined {
    return this.records?.get(name);
  }

  state(name: string): EdrState {
    if (this.deployed.has(name)) return 'deployed';
    if (this.retired.has(name)) return 'retired';
    return this.records?.has(name) ? 'orphaned' : 'unknown';
  }

  missingReason(name: string): string | undefined {
    if (this.deployed.has(name) || this.retired.has(name)) return undefined;
    const record = this.records?.get(name);
    if (!record) return undefined;
    return `orphaned: the EDR "${record.label.slice(0, 100)}" (${record.kind ?? '?'}) is not deployed and its settings need credentials; deploy it again (same node) to release or expire its isolations`;
  }

  async close(): Promise<void> {
    const kept = [...this.retired.values()].map((entry) => entry.provider);
    this.retired.clear();
    await Promise.allSettled(kept.map((provider) => provider.close()));
  }
}
