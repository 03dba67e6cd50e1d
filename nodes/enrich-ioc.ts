/**
 * soar-enrich-ioc: finds the indicators of a message (normally msg.alert), looks them up in the
 * configured intel sources through the broker (cache, single flight, budgets, deadline), and writes
 * msg.iocs and msg.enrichment {verdict, score, why, results}.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from "node-red";
import type { Hub } from "../lib/hub/hub";
import { extractFromAlert, extractFromText, type Allowlist, type IocType } from "../lib/ioc";
import { IntelBroker, type SourceNote } from "../lib/intel/broker";
import type { ProviderErrorCode } from "../lib/core/errors";
import { computeVerdict, verdictStatus } from "../lib/intel/verdict";
import { acquireHub, listField, parseAllowlistLines, positiveNumber, type IntelSourceNode } from "./common";

/** Config-reference slots: the editor counts, exports and checks each one (it cannot do so for an array). */
const SOURCE_SLOTS = 8;

interface EnrichDef extends NodeDef {
  hub: string;
  /** Before the slots: an array of source ids (flows saved by older versions); read when no slot is set. */
  sources?: string[];
  [slot: `source${number}`]: string | undefined;
  textFields: string;
  types: string;
  allowlist: string;
  deadline: number | string;
  malicious: number | string;
  suspicious: number | string;
  outputMode: "single" | "perVerdict";
}

const VERDICT_OUTPUT = { malicious: 0, suspicious: 1, benign: 2, unknown: 3 } as const;

/** The source ids a node refers to: its slots, or the older array when no slot is set. */
function sourceIds(config: { sources?: unknown; [key: string]: unknown }): string[] {
  const slots: string[] = [];
  for (let i = 1; i <= SOURCE_SLOTS; i++) {
    const id = config[`source${i}`];
    if (typeof id === "string" && id.trim()) slots.push(id.trim());
  }
  if (slots.length) return [...new Set(slots)];
  return Array.isArray(config.sources) ? [...new Set(config.sources.filter((id): id is string => typeof id === "string" && id !== ""))] : [];
}

/** A failure code in words for the status ("VirusTotal: auth failed"). */
const FAILURE_KEY: Partial<Record<ProviderErrorCode, string>> = {
  AUTH: "auth",
  FORBIDDEN: "auth",
  NETWORK: "network",
  TIMEOUT: "timeout",
  SERVER: "server",
  QUOTA_EXHAUSTED: "quota",
};

/** Per source: the failure of this message's lookups, or "ok" when the source answered; unchanged otherwise. */
function sourceStates(notes: SourceNote[]): Map<string, string> {
  const states = new Map<string, string>();
  for (const note of notes) {
    if (note.status === "error") states.set(note.source, FAILURE_KEY[note.code as ProviderErrorCode] ?? "error");
    else if ((note.status === "answered" || note.status === "cached") && !states.has(note.source)) states.set(note.source, "ok");
  }
  return states;
}


export = function (RED: NodeAPI): void {
  const t = (key: string, subs?: Record<string, string | number>) => RED._(`soar-enrich-ioc.${key}`, subs);

  function EnrichIocNode(this: Node, config: EnrichDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    let hub: Hub | undefined;
    let broker: IntelBroker | undefined;
    let setupError: Error | undefined;
    let feedsLoaded: Promise<unknown> | undefined;

    const ids = sourceIds(config as unknown as Record<string, unknown>);
    const found = ids.map((id) => RED.nodes.getNode(id) as IntelSourceNode | null);
    const sources = found.filter((n): n is IntelSourceNode => Boolean(n));
    // A deleted source must not turn detection off silently: the node refuses to enrich and says why.
    const missing = ids.filter((_id, i) => !found[i]);
    if (missing.length) setupError = new Error(`${t("errors.missing-sources")}: ${missing.join(", ")}`);
    /** Failing sources by name (reason key); logged once per change of state, shown in the status. */
    const failing = new Map<string, string>();
    const weights = Object.fromEntries(sources.map((s) => [s.sourceName, s.weight]));
    const textFields = listField(config.textFields);
    const types = listField(config.types) as IocType[];
    let allowlist: Allowlist | undefined;
    try {
      allowlist = parseAllowlistLines(listField(config.allowlist));
    } catch (err) {
      setupError = err as Error;
    }
    const thresholds = { malicious: positiveNumber(config.malicious, 70), suspicious: positiveNumber(config.suspicious, 40) };

    const ready = acquireHub(RED, config.hub).then((h) => {
      hub = h;
      if (setupError) return;
      try {
        const providers = sources.map((s) => s.provider());
        // Sources belong to their config nodes (shared by several enrich nodes): the broker must not close them.
        broker = new IntelBroker({ providers, store: h.store, ownsProviders: false });
        // Feeds declare their indicator types once loaded; a failed load is reported by the lookups.
        feedsLoaded = Promise.all(providers.map((p) => (p as { ready?: () => Promise<void> }).ready?.().catch(() => undefined)));
      } catch (err) {
        setupError = err as Error;
      }
    });
    ready.catch((err: Error) => {
      setupError = err;
    });
    ready.then(() => {
      if (missing.length) {
        node.error(setupError!.message);
        node.status({ fill: "red", shape: "ring", text: "soar-enrich-ioc.status.missing-sources" });
      } else if (setupError) node.status({ fill: "red", shape: "ring", text: "soar-enrich-ioc.status.config-error" });
      else if (!sources.length) node.status({ fill: "yellow", shape: "ring", text: "soar-enrich-ioc.status.no-sources" });
      else node.status({ fill: "grey", shape: "ring", text: t("status.ready", { sources: sources.length }) });
    }, () => undefined);

    node.on("input", (msg: NodeMessageInFlow & Record<string, unknown>, send, done) => {
      void (async () => {
        try {
          await ready;
          if (setupError) throw new Error(t("errors.config", { message: setupError.message }));
          const alert = msg.alert as Record<string, unknown> | undefined;
          let iocs;
          if (alert && typeof alert === "object") {
            iocs = extractFromAlert(alert as never, { textFields: textFields.length ? textFields : undefined, types: types.length ? types : undefined, allowlist });
          } else {
            const text = typeof msg.payload === "string" ? msg.payload : JSON.stringify(msg.payload ?? "");
            iocs = extractFromText(text, { types: types.length ? types : undefined }).filter((i) => !allowlist?.matches(i));
          }
          node.status({ fill: "blue", shape: "dot", text: t("status.looking-up", { count: iocs.length }) });
          await feedsLoaded;
          const outcome = await broker!.enrich(iocs, { deadlineMs: positiveNumber(config.deadline, 10) * 1000 });
          const enrichment = computeVerdict(outcome, { weights, thresholds });
          msg.iocs = iocs;
          msg.enrichment = enrichment;
          await hub!.audit.append("enrichment.verdict", {
            alertId: typeof alert?.id === "string" ? alert.id : undefined,
            verdict: enrichment.verdict,
            score: enrichment.score,
            indicators: iocs.length,
            why: enrichment.why,
          });
          for (const [source, state] of sourceStates(outcome.notes)) {
            const before = failing.get(source);
            if (state === "ok") {
              if (before) node.log(`${source}: ${t("log.source-ok")}`);
              failing.delete(source);
            } else if (before !== state) {
              failing.set(source, state);
              node.warn(`${source}: ${t(`failure.${state}`)}`);
            }
          }
          const budget = broker!.tightestBudget();
          let text = verdictStatus(enrichment, budget);
          const fill = enrichment.verdict === "malicious" ? "red" : enrichment.verdict === "suspicious" ? "yellow" : enrichment.verdict === "benign" ? "green" : "grey";
          if (failing.size) {
            const [source, state] = [...failing][0];
            text = `${source}: ${t(`failure.${state}`)}${failing.size > 1 ? ` (+${failing.size - 1})` : ""} · ${enrichment.verdict}`;
          }
          node.status({ fill: failing.size ? "yellow" : fill, shape: failing.size ? "ring" : "dot", text });
          if (config.outputMode === "perVerdict") {
            const outs: (typeof msg | null)[] = [null, null, null, null];
            outs[VERDICT_OUTPUT[enrichment.verdict]] = msg;
            send(outs);
          } else {
            send(msg);
          }
          done();
        } catch (err) {
          node.status({ fill: "red", shape: "ring", text: "soar-enrich-ioc.status.failed" });
          done(err as Error);
        }
      })();
    });

    node.on("close", (_removed: boolean, done: () => void) => {
      node.status({});
      ready
        .catch(() => undefined)
        .then(async () => {
          await broker?.close();
          const h = hub;
          hub = undefined;
          await h?.release();
        })
        .catch((err: Error) => node.warn(err.message))
        .finally(done);
    });
  }

  RED.nodes.registerType("soar-enrich-ioc", EnrichIocNode);
};
