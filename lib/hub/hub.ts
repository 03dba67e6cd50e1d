/**
 * The hub: what every SOAR node of one Node-RED instance shares — the audit log, the durable state
 * store, the guardrail policy, the simulation switch and the lease engine with its families. Node-RED-
 * free, so tests and the CLI can open it. This is the composition root: it sits above lib/core (which
 * knows no family) and wires the families (blocks in lib/firewall, isolations in lib/edr) into one engine.
 *
 * Several nodes (and several soar-hub config nodes pointing at the same folder) share one Hub per
 * folder: one audit writer keeps the hash chain linear, one store holds the lock on its files.
 */
import * as path from 'node:path';
import { AuditLog } from '../core/audit';
import { FileStateStore } from '../core/file-store';
import { GuardrailPolicy, type GuardrailPolicySpec } from '../core/guardrails';
import { LeaseEngine } from '../core/leases';
import { ApprovalEngine } from '../approval/engine';
import { ApprovalLinks } from '../approval/links';
import type { StateStore } from '../core/types';
import { IsolationManager } from '../edr/leases';
import type { EdrProvider } from '../edr/types';
import { LeaseManager, type RepeatOffenderOptions } from '../firewall/leases';
import type { FirewallProvider } from '../firewall/types';
import { EdrDirectory, type EdrInfo, type EdrState } from './edrs';
import { FirewallDirectory, type FirewallInfo, type FirewallState } from './firewalls';

export interface HubOptions {
  /** Folder for audit.jsonl and the state store (the soar/ folder under the Node-RED user directory). */
  dir: string;
  /** Simulation mode: action nodes record what they would do and touch nothing. SOAR_SIMULATE=1 forces it on. */
  simulate?: boolean;
  guardrails?: GuardrailPolicySpec;
  /** Repeat offenders: window, TTL factor and cap (defaults 7 days, 2, 30 days). */
  repeat?: RepeatOffenderOptions;
}

export type WarningListener = (message: string) => void;

export class Hub {
  private constructor(
    readonly dir: string,
    readonly audit: AuditLog,
    readonly store: StateStore,
    private users: number,
  ) {
    this.firewalls = new FirewallDirectory(store, (message) => this.warn(message));
    this.edrs = new EdrDirectory(store, (message) => this.warn(message));
  }

  private simulateSwitch = false;
  guardrails: GuardrailPolicy = new GuardrailPolicy({});

  /** Firewalls by provider name (the soar-firewall config node's id), deployed or remembered. */
  readonly firewalls: FirewallDirectory;
  private leaseEngine?: LeaseEngine;
  private leaseManager?: LeaseManager;
  /** EDRs by provider name (the soar-edr config node's id), deployed or remembered. */
  readonly edrs: EdrDirectory;
  private isolationManager?: IsolationManager;
  private repeat?: RepeatOffenderOptions;
  private leaseStart?: NodeJS.Timeout;
  private readonly warningListeners = new Set<WarningListener>();
  private approvalEngine?: ApprovalEngine;
  private linkStore?: ApprovalLinks;
  private approvalStart?: Promise<ApprovalEngine>;
  /** Approvals sent on in this process (a redeploy runs an old and a new node: one sends). */
  private readonly approvalsSent = new Set<string>();

  /**
   * Listen to problems that have no caller (the lease scheduler's); each node logs them itself.
   * Returns the function that removes this listener (and only this one).
   */
  addWarningListener(listener: WarningListener): () => void {
    this.warningListeners.add(listener);
    return () => {
      this.warningListeners.delete(listener);
    };
  }

  /** Hand a warning to every listener, or to the process when nobody listens. */
  warn(message: string): void {
    if (this.warningListeners.size === 0) {
      process.emitWarning(message, 'SoarHubWarning');
      return;
    }
    for (const listener of [...this.warningListeners]) {
      try {
        listener(message);
      } catch {
        // A listener's own failure must not keep the others from hearing it.
      }
    }
  }

  /** The lease engine every family shares: one store, one expiry scheduler, one reconciliation loop. */
  get engine(): LeaseEngine {
    this.leaseEngine ??= new LeaseEngine({
      store: this.store,
      audit: this.audit,
      simulate: () => this.simulate,
      warn: (message) => this.warn(message),
    });
    return this.leaseEngine;
  }

  /** The approval engine every soar-wait-approval node and action node of this hub shares (one per store). */
  get approvals(): ApprovalEngine {
    this.approvalEngine ??= new ApprovalEngine({ store: this.store, audit: this.audit, warn: (message) => this.warn(message) });
    return this.approvalEngine;
  }

  /** Single-use approval page links on the hub's store. */
  get approvalLinks(): ApprovalLinks {
    this.linkStore ??= new ApprovalLinks({ store: this.store, engine: this.approvals });
    return this.linkStore;
  }

  /**
   * The approval engine, started once (pending approvals get their timers back, overdue ones their
   * timeout outcome). Nodes listen for `resolved` before calling this and sweep what was decided but
   * not sent (see claimApprovalDelivery).
   */
  startApprovals(): Promise<ApprovalEngine> {
    this.approvalStart ??= this.approvals.start().then(() => this.approvals);
    return this.approvalStart;
  }

  /** True once per approval id in this process: the node that gets true sends the held message. */
  claimApprovalDelivery(id: string): boolean {
    if (this.approvalsSent.has(id)) return false;
    this.approvalsSent.add(id);
    return true;
  }

  /** The block family on the hub's engine. */
  get leases(): LeaseManager {
    this.leaseManager ??= new LeaseManager({
      engine: this.engine,
      store: this.store,
      audit: this.audit,
      guardrails: () => this.guardrails,
      simulate: () => this.simulate,
      providers: (name) => this.firewalls.resolve(name),
      labelOf: (name) => this.firewalls.label(name),
      missingReason: (name) => this.firewalls.missingReason(name),
      repeat: this.repeat,
    });
    return this.leaseManager;
  }

  /** The isolate family on the hub's engine. */
  get isolations(): IsolationManager {
    if (!this.isolationManager) {
      this.isolationManager = new IsolationManager({
        engine: this.engine,
        store: this.store,
        guardrails: () => this.guardrails,
        providers: (name) => this.edrs.resolve(name),
        labelOf: (name) => this.edrs.label(name),
        missingReason: (name) => this.edrs.missingReason(name),
        followOf: (name) => {
          const follow = this.edrs.follow(name);
          return follow?.timeoutMs && follow.pollMs ? { timeoutMs: follow.timeoutMs, pollMs: follow.pollMs } : undefined;
        },
      });
    }
    return this.isolationManager;
  }

  /**
   * Make an EDR known to the lease scheduler and follow its stored pending actions again (after a
   * restart or a redeploy); its label, kind and non-secret settings are kept in the store. Call the
   * returned function on close (`removed` true when the node was deleted): its follows pause, and
   * they resume when it registers again.
   */
  registerEdr(name: string, provider: EdrProvider, info: EdrInfo = {}): (removed?: boolean) => Promise<void> {
    const unregister = this.edrs.register(name, provider, info);
    const isolations = this.isolations;
    this.scheduleLeaseStart();
    void this.edrs
      .load()
      .then(() => isolations.resume(name))
      .catch((err: Error) => this.warn(`pending actions of EDR "${info.label ?? name}" not resumed: ${err.message}`));
    return async (removed = false) => {
      await isolations.pause(name);
      unregister(removed);
    };
  }

  /** Whether an EDR is deployed, remembered or orphaned. */
  async edrState(name: string): Promise<EdrState> {
    await this.edrs.load();
    return this.edrs.state(name);
  }

  /**
   * Overdue leases are undone once the providers of a deploy have had a moment to register (config
   * nodes start one after another), so the first registration schedules the start.
   */
  private scheduleLeaseStart(): void {
    if (this.leaseStart) return;
    this.leaseStart = setTimeout(() => {
      void Promise.all([this.firewalls.load(), this.edrs.load()])
        .then(() => {
          // Both families are on the engine before it loads the leases.
          void this.leases;
          void this.isolations;
          return this.engine.start();
        })
        .catch((err: Error) => this.warn(`lease scheduler could not start: ${err.message}`));
    }, 1000);
    this.leaseStart.unref();
  }

  /**
   * Make a firewall known to the lease scheduler, and remember its label and non-secret settings in the
   * store (so its leases stay releasable if it is removed). Overdue leases are undone once the firewalls
   * of a deploy have had a moment to register (config nodes start one after another), so the first
   * registration schedules the start instead of starting at once. Call the returned function with
   * `removed` true when the firewall was deleted: the hub keeps (and later closes) the instance so its
   * leases stay releasable while the process lives.
   */
  registerFirewall(name: string, provider: FirewallProvider, info: string | FirewallInfo = name): (removed?: boolean) => void {
    const unregister = this.firewalls.register(name, provider, typeof info === 'string' ? { label: info } : info);
    this.scheduleLeaseStart();
    return unregister;
  }

  firewallLabel(name: string): string {
    return this.firewalls.label(name) ?? name;
  }

  /** Whether a firewall is deployed, remembered, rebuildable from its settings or orphaned. */
  async firewallState(name: string): Promise<FirewallState> {
    await this.firewalls.load();
    return this.firewalls.state(name);
  }

  /** Every hub open in this process (the editor's sidebar lists their leases). */
  static async all(): Promise<Hub[]> {
    const hubs = await Promise.allSettled([...Hub.open.values()]);
    return hubs.flatMap((h) => (h.status === 'fulfilled' ? [h.value] : []));
  }

  /** True when the hub switch or SOAR_SIMULATE=1 asks for simulation. */
  get simulate(): boolean {
    return this.simulateSwitch || process.env.SOAR_SIMULATE === '1';
  }

  /** Apply a config node's settings (the last soar-hub deployed for a folder wins). */
  configure(opts: Pick<HubOptions, 'simulate' | 'guardrails' | 'repeat'>): void {
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
      const store = await FileStateStore.open(path.join(dir, 'state'));
      try {
        const audit = await AuditLog.open(path.join(dir, 'audit.jsonl'));
        const hub = new Hub(dir, audit, store, 1);
        // Known before any lease is touched: a removed firewall's leases resolve through these records.
        await hub.firewalls.load();
        await hub.edrs.load();
        return hub;
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
    const closed = Promise.all([this.isolationManager ? this.isolationManager.stop() : undefined, this.approvalEngine?.stop()])
      .then(() => (this.leaseEngine ? this.leaseEngine.stop() : undefined))
      .then(() => Promise.all([this.firewalls.close(), this.edrs.close()]))
      .then(() => Promise.all([this.audit.close(), this.store.close()]))
      .then(() => undefined);
    Hub.closing.set(
      this.dir,
      closed.catch(() => undefined),
    );
    try {
      await closed;
    } finally {
      Hub.closing.delete(this.dir);
    }
  }
}
