/**
 * The hub: what every SOAR node of one Node-RED instance shares — the audit log, the durable state
 * store, the guardrail policy and the simulation switch. Node-RED-free, so tests and the CLI can open it.
 *
 * Several nodes (and several soar-hub config nodes pointing at the same folder) share one Hub per
 * folder: one audit writer keeps the hash chain linear, one store holds the lock on its files.
 */
import * as path from "node:path";
import { AuditLog } from "./audit";
import { FileStateStore } from "./file-store";
import { LeaseManager, type RepeatOffenderOptions } from "../firewall/leases";
import type { FirewallProvider } from "../firewall/types";
import { GuardrailPolicy, GuardrailPolicySpec } from "./guardrails";
import type { StateStore } from "./types";

export interface HubOptions {
  /** Folder for audit.jsonl and the state store (the soar/ folder under the Node-RED user directory). */
  dir: string;
  /** Simulation mode: action nodes record what they would do and touch nothing. SOAR_SIMULATE=1 forces it on. */
  simulate?: boolean;
  guardrails?: GuardrailPolicySpec;
  /** Repeat offenders: window, TTL factor and cap (defaults 7 days, 2, 30 days). */
  repeat?: RepeatOffenderOptions;
}

export class Hub {
  private constructor(
    readonly dir: string,
    readonly audit: AuditLog,
    readonly store: StateStore,
    private users: number,
  ) {}

  private simulateSwitch = false;
  guardrails: GuardrailPolicy = new GuardrailPolicy({});

  /** Firewalls by provider name (the soar-firewall config node's id), with a label for people. */
  private readonly firewalls = new Map<string, { provider: FirewallProvider; label: string }>();
  private leaseManager?: LeaseManager;
  private repeat?: RepeatOffenderOptions;
  private leaseStart?: NodeJS.Timeout;
  /** Where the lease scheduler reports problems that have no caller (the node logs them). */
  onWarning: (message: string) => void = (message) => process.emitWarning(message, "SoarHubWarning");

  /** The hub's lease manager: one expiry scheduler for every block of every firewall. */
  get leases(): LeaseManager {
    this.leaseManager ??= new LeaseManager({
      store: this.store,
      audit: this.audit,
      guardrails: () => this.guardrails,
      simulate: () => this.simulate,
      providers: (name) => this.firewalls.get(name)?.provider,
      repeat: this.repeat,
      warn: (message) => this.onWarning(message),
    });
    return this.leaseManager;
  }

  /**
   * Make a firewall known to the lease scheduler. Overdue leases are undone once the firewalls of a
   * deploy have had a moment to register (config nodes start one after another), so the first
   * registration schedules the start instead of starting at once.
   */
  registerFirewall(name: string, provider: FirewallProvider, label = name): () => void {
    this.firewalls.set(name, { provider, label });
    if (!this.leaseStart) {
      this.leaseStart = setTimeout(() => {
        this.leases.start().catch((err: Error) => this.onWarning(`lease scheduler could not start: ${err.message}`));
      }, 1000);
      this.leaseStart.unref();
    }
    return () => {
      if (this.firewalls.get(name)?.provider === provider) this.firewalls.delete(name);
    };
  }

  firewallLabel(name: string): string {
    return this.firewalls.get(name)?.label ?? name;
  }

  /** Every hub open in this process (the editor's sidebar lists their leases). */
  static async all(): Promise<Hub[]> {
    const hubs = await Promise.allSettled([...Hub.open.values()]);
    return hubs.flatMap((h) => (h.status === "fulfilled" ? [h.value] : []));
  }

  /** True when the hub switch or SOAR_SIMULATE=1 asks for simulation. */
  get simulate(): boolean {
    return this.simulateSwitch || process.env.SOAR_SIMULATE === "1";
  }

  /** Apply a config node's settings (the last soar-hub deployed for a folder wins). */
  configure(opts: Pick<HubOptions, "simulate" | "guardrails" | "repeat">): void {
    this.simulateSwitch = Boolean(opts.simulate);
    if (opts.repeat) this.repeat = opts.repeat;
    const next = new GuardrailPolicy(opts.guardrails ?? {});
    next.carryOverFrom(this.guardrails); // a redeploy must not reset the hourly action caps
    this.guardrails = next;
  }

  private static open = new Map<string, Promise<Hub>>();
  /** Hubs being closed: a redeploy may acquire the folder again before the old close finished. */
  private static closing = new Map<string, Promise<void>>();

  /** Open (or join) the hub for a folder. Pair every acquire with one release. */
  static async acquire(opts: HubOptions): Promise<Hub> {
    const dir = path.resolve(opts.dir);
    await Hub.closing.get(dir);
    let pending = Hub.open.get(dir);
    if (pending) {
      const hub = await pending;
      hub.users += 1;
      if (Hub.carriesSettings(opts)) hub.configure(opts);
      return hub;
    }
    pending = (async () => {
      const store = await FileStateStore.open(path.join(dir, "state"));
      try {
        const audit = await AuditLog.open(path.join(dir, "audit.jsonl"));
        return new Hub(dir, audit, store, 1);
      } catch (err) {
        await store.close();
        throw err;
      }
    })();
    Hub.open.set(dir, pending);
    try {
      const hub = await pending;
      if (Hub.carriesSettings(opts)) hub.configure(opts);
      return hub;
    } catch (err) {
      Hub.open.delete(dir);
      throw err;
    }
  }

  /** Nodes without a soar-hub config join the folder's hub without changing its settings. */
  private static carriesSettings(opts: HubOptions): boolean {
    return opts.simulate !== undefined || opts.guardrails !== undefined;
  }

  /** Leave the hub; the last user closes the audit log and the store (flushing both). */
  async release(): Promise<void> {
    this.users -= 1;
    if (this.users > 0) return;
    Hub.open.delete(this.dir);
    clearTimeout(this.leaseStart);
    const closed = (this.leaseManager ? this.leaseManager.stop() : Promise.resolve())
      .then(() => Promise.all([this.audit.close(), this.store.close()]))
      .then(() => undefined);
    Hub.closing.set(this.dir, closed.catch(() => undefined));
    try {
      await closed;
    } finally {
      Hub.closing.delete(this.dir);
    }
  }
}
