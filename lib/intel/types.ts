/**
 * The threat-intel family: sources that say what they know about an indicator, and the common
 * scale their answers are mapped to. Node-RED-free.
 *
 * A provider answers ONE indicator per lookup; the broker (broker.ts) adds caching, single flight,
 * budgets/quota handling and deadlines around providers, so a provider file stays small.
 */
import type { BudgetLimits, BudgetState } from '../core/http';
import type { IocType } from '../ioc';

/** The common scale every source's answer is mapped to. */
export type IntelLevel = 'malicious' | 'suspicious' | 'benign' | 'unknown';

export interface Indicator {
  type: IocType;
  /** Normalised as lib/ioc produces it (lower-case hashes/domains, canonical IPs, upper-case CVE). */
  value: string;
}

export interface IntelResult {
  /** Instance name as the user configured it, e.g. "VirusTotal" or "blocklist.de feed". */
  source: string;
  /** Provider kind, e.g. "virustotal", "feed", "abuseipdb". */
  provider: string;
  indicator: Indicator;
  /** The source's answer on the common scale. */
  level: IntelLevel;
  /** True when the source knows the indicator at all (a miss is level "unknown", found false). */
  found: boolean;
  /** The source's own confidence 0..100 where it has one (e.g. AbuseIPDB abuseConfidenceScore). */
  confidence?: number;
  /** The source's own evidence, small and JSON-safe (counts, tags, classification, dates). */
  evidence: Record<string, unknown>;
  /** One line a person can read in msg.enrichment.why, e.g. "VirusTotal: 12 of 72 engines say malicious". */
  summary: string;
  /** Link for a person (the source's web page for the indicator), never carrying an API key. */
  link?: string;
  /** ISO time the answer was obtained (cached answers keep their original time). */
  fetchedAt: string;
}

export interface IntelProvider {
  /** Provider kind (stable identifier), e.g. "virustotal". */
  readonly kind: string;
  /** Instance name for why-lines, status and cache keys. */
  readonly name: string;
  /** Indicator types this source can answer; the broker asks it nothing else. */
  readonly types: readonly IocType[];
  /** True when lookups leave this machine: internal addresses are never sent to such a source. */
  readonly external: boolean;
  /**
   * false for sources that answer from a local copy (feeds): the broker then never caches their
   * answers, which would only make a refreshed feed's new entries count late. Default true.
   */
  readonly cacheable?: boolean;
  /**
   * Look one indicator up. Resolves with a result (a miss is found:false/level unknown);
   * rejects with a ProviderError (lib/core/errors) for failures — QUOTA_EXHAUSTED, RATE_LIMITED,
   * AUTH, TIMEOUT, ... — so the broker can tell "source said nothing" from "source could not answer".
   */
  lookup(indicator: Indicator, signal?: AbortSignal): Promise<IntelResult>;
  /** Remaining budget for status lines ("VT 3/4 min"); providers built on the HTTP client pass theirs on. */
  budgetState?(): BudgetState;
  /** Release timers, sockets, refresh schedules. */
  close?(): Promise<void>;
}

/** Common options every provider factory accepts. */
export interface IntelProviderOptions {
  /** Instance name; defaults to the provider's product name. */
  name?: string;
  /** Base URL override (tests point it at a local contract fake). */
  baseURL?: string;
  apiKey?: string;
  /** Budget override; defaults are the vendor's free tier. */
  budget?: BudgetLimits;
  timeoutMs?: number;
  /** Injected for tests: clock and sleep (passed to the HTTP client). */
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}
