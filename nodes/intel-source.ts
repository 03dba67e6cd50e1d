/**
 * soar-intel-source: one threat-intel source (a local feed, CISA KEV, EPSS, or a service such as
 * VirusTotal) with its key, budget and reliability weight. Enrich IOC nodes share it.
 */
import type { NodeAPI, NodeDef } from "node-red";
import type { IocType } from "../lib/ioc";
import { createIntelProvider, INTEL_KINDS, type IntelKind } from "../lib/intel/registry";
import type { IntelProvider } from "../lib/intel/types";
import { listField, userDir, type IntelSourceNode } from "./common";

interface IntelSourceDef extends NodeDef {
  kind: IntelKind;
  url: string;
  file: string;
  refreshMinutes: number | string;
  format: "auto" | "text" | "csv" | "json";
  csvColumn: string;
  jsonField: string;
  level: "malicious" | "suspicious";
  analyzers: string;
  verifyTls: boolean;
  weight: number | string;
  perMinute: number | string;
  perDay: number | string;
}


function optionalNumber(v: unknown): number | undefined {
  const n = Number(v);
  return v !== "" && v !== undefined && Number.isFinite(n) && n > 0 ? n : undefined;
}

export = function (RED: NodeAPI): void {
  function IntelSourceNodeCtor(this: IntelSourceNode, config: IntelSourceDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const kind = (INTEL_KINDS as readonly string[]).includes(config.kind) ? config.kind : "feed";
    node.sourceName = config.name?.trim() || kind;
    const weight = Number(config.weight);
    node.weight = Number.isFinite(weight) && weight >= 0 ? weight : 1;
    let provider: IntelProvider | undefined;
    const isFeed = kind === "feed" || kind === "kev" || kind === "epss";
    const perMinute = optionalNumber(config.perMinute);
    const perDay = optionalNumber(config.perDay);

    node.provider = () => {
      provider ??= createIntelProvider({
        kind,
        name: node.sourceName,
        apiKey: node.credentials?.apiKey,
        baseURL: isFeed ? undefined : config.url?.trim() || undefined,
        url: isFeed ? config.url?.trim() || undefined : undefined,
        file: config.file?.trim() || undefined,
        refreshSeconds: (optionalNumber(config.refreshMinutes) ?? 60) * 60,
        format: config.format || "auto",
        csvColumn: config.csvColumn || undefined,
        jsonField: config.jsonField || undefined,
        level: config.level === "suspicious" ? "suspicious" : "malicious",
        analyzers: listField(config.analyzers),
        verifyTls: config.verifyTls !== false,
        budget: perMinute || perDay ? { perMinute, perDay } : undefined,
        baseDir: userDir(RED),
        types: undefined as IocType[] | undefined,
      });
      return provider;
    };

    node.on("close", (_removed: boolean, done: () => void) => {
      const p = provider;
      provider = undefined;
      Promise.resolve(p?.close?.())
        .catch((err: Error) => node.warn(err.message))
        .finally(done);
    });
  }

  RED.nodes.registerType<IntelSourceNode, IntelSourceDef, Record<string, never>, { apiKey?: string }>("soar-intel-source", IntelSourceNodeCtor, {
    credentials: { apiKey: { type: "password" } },
  });
};
