/**
 * One place that turns a source's settings (from a soar-intel-source config node, or a test) into a
 * provider, so the nodes never name a vendor. Adding a source: write its provider file, add a case here.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { IocType } from "../ioc";
import type { IntelProvider, IntelProviderOptions } from "./types";
import { createFeed } from "./providers/feed";
import { createKev } from "./providers/kev";
import { createEpss } from "./providers/epss";
import { createVirusTotal } from "./providers/virustotal";
import { createAbuseIpdb } from "./providers/abuseipdb";
import { createGreyNoise } from "./providers/greynoise";
import { createShodanInternetDb } from "./providers/shodan-internetdb";
import { createUrlhaus } from "./providers/urlhaus";
import { createThreatFox } from "./providers/threatfox";
import { createOtx } from "./providers/otx";
import { createMisp } from "./providers/misp";
import { createCortex } from "./providers/cortex";

export const INTEL_KINDS = [
  "feed",
  "kev",
  "epss",
  "virustotal",
  "abuseipdb",
  "greynoise",
  "shodan-internetdb",
  "urlhaus",
  "threatfox",
  "otx",
  "misp",
  "cortex",
] as const;
export type IntelKind = (typeof INTEL_KINDS)[number];

export interface IntelSourceSpec extends IntelProviderOptions {
  kind: IntelKind;
  name: string;
  /** Feeds (feed, kev, epss): a local file or a URL refreshed on a schedule. */
  file?: string;
  url?: string;
  refreshSeconds?: number;
  format?: "auto" | "text" | "csv" | "json";
  csvColumn?: string;
  jsonField?: string;
  level?: "malicious" | "suspicious";
  types?: IocType[];
  /** Cortex: analyzers to run. */
  analyzers?: string[];
  /** MISP: self-signed certificates on a self-hosted server. */
  verifyTls?: boolean;
  /** Where relative feed paths are resolved (the Node-RED user directory). */
  baseDir?: string;
}

const DEMO_FEEDS = path.resolve(__dirname, "..", "..", "..", "feeds");

/** Relative feed files live in the user directory; the bundled demo feeds are found by name too. */
export function resolveFeedFile(file: string, baseDir?: string): string {
  if (path.isAbsolute(file)) return file;
  const inUserDir = path.resolve(baseDir ?? process.cwd(), file);
  if (fs.existsSync(inUserDir)) return inUserDir;
  const demo = path.join(DEMO_FEEDS, path.basename(file));
  return fs.existsSync(demo) ? demo : inUserDir;
}

function feedSource(spec: IntelSourceSpec) {
  if (spec.url) return { url: spec.url, refreshSeconds: spec.refreshSeconds };
  if (spec.file) return { file: resolveFeedFile(spec.file, spec.baseDir) };
  throw new Error(`${spec.name}: a feed needs a file or a URL`);
}

export function createIntelProvider(spec: IntelSourceSpec): IntelProvider {
  const common: IntelProviderOptions = {
    name: spec.name,
    baseURL: spec.baseURL || undefined,
    apiKey: spec.apiKey || undefined,
    budget: spec.budget,
    timeoutMs: spec.timeoutMs,
    now: spec.now,
    sleep: spec.sleep,
  };
  const needKey = () => {
    if (!spec.apiKey) throw new Error(`${spec.name}: an API key is needed`);
  };
  switch (spec.kind) {
    case "feed":
      return createFeed({ ...common, name: spec.name, source: feedSource(spec), format: spec.format, csvColumn: spec.csvColumn, jsonField: spec.jsonField, level: spec.level, types: spec.types });
    case "kev":
      return createKev({ ...common, name: spec.name, source: feedSource(spec) });
    case "epss":
      return createEpss({ ...common, name: spec.name, source: feedSource(spec) });
    case "virustotal":
      needKey();
      return createVirusTotal(common);
    case "abuseipdb":
      needKey();
      return createAbuseIpdb(common);
    case "greynoise":
      return createGreyNoise(common);
    case "shodan-internetdb":
      return createShodanInternetDb(common);
    case "urlhaus":
      needKey();
      return createUrlhaus(common);
    case "threatfox":
      needKey();
      return createThreatFox(common);
    case "otx":
      needKey();
      return createOtx(common);
    case "misp":
      needKey();
      if (!spec.baseURL) throw new Error(`${spec.name}: MISP needs the server's URL`);
      return createMisp({ ...common, verifyTls: spec.verifyTls });
    case "cortex":
      needKey();
      if (!spec.baseURL) throw new Error(`${spec.name}: Cortex needs the server's URL`);
      return createCortex({ ...common, analyzers: spec.analyzers ?? [] });
    default:
      throw new Error(`unknown intel source kind "${(spec as { kind: string }).kind}"`);
  }
}
