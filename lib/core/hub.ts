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
import { GuardrailPolicy, GuardrailPolicySpec } from "./guardrails";
import type { StateStore } from "./types";

export interface HubOptions {
  /** Folder for audit.jsonl and the state store (the soar/ folder under the Node-RED user directory). */
  dir: string;
  /** Simulation mode: action nodes record what they would do and touch nothing. SOAR_SIMULATE=1 forces it on. */
  simulate?: boolean;
  guardrails?: GuardrailPolicySpec;
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

  /** True when the hub switch or SOAR_SIMULATE=1 asks for simulation. */
  get simulate(): boolean {
    return this.simulateSwitch || process.env.SOAR_SIMULATE === "1";
  }

  /** Apply a config node's settings (the last soar-hub deployed for a folder wins). */
  configure(opts: Pick<HubOptions, "simulate" | "guardrails">): void {
    this.simulateSwitch = Boolean(opts.simulate);
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
    const closed = Promise.all([this.audit.close(), this.store.close()]).then(() => undefined);
    Hub.closing.set(this.dir, closed.catch(() => undefined));
    try {
      await closed;
    } finally {
      Hub.closing.delete(this.dir);
    }
  }
}
