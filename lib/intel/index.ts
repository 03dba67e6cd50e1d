/**
 * The threat-intel family: provider interface, broker (cache, single flight, budgets, deadline),
 * explainable verdict, and the provider factories.
 */
export type { Indicator, IntelLevel, IntelProvider, IntelProviderOptions, IntelResult } from './types';
export { IntelBroker, cacheKey, cacheNamespace, formatDuration, DEFAULT_DEADLINE_MS, DEFAULT_HIT_TTL_MS, DEFAULT_MISS_TTL_MS } from './broker';
export type { BrokerCacheOptions, BrokerOptions, EnrichOptions, EnrichmentOutcome, SourceNote, SourceNoteStatus } from './broker';
export { computeVerdict, resultPoints, verdictStatus, DEFAULT_THRESHOLDS, DEFAULT_WEIGHT, LEVEL_POINTS } from './verdict';
export type { Enrichment, IndicatorVerdict, VerdictOptions, VerdictThresholds } from './verdict';

// Provider factories (one file each under providers/), with their option types.
export { createVirusTotal } from './providers/virustotal';
export { createAbuseIpdb } from './providers/abuseipdb';
export { createGreyNoise } from './providers/greynoise';
export { createShodanInternetDb } from './providers/shodan-internetdb';
export { createUrlhaus } from './providers/urlhaus';
export { createThreatFox, type ThreatFoxOptions } from './providers/threatfox';
export { createOtx, type OtxOptions } from './providers/otx';
export { createMisp, type MispOptions } from './providers/misp';
export { createCortex, type CortexOptions } from './providers/cortex';
export { createFeed, type FeedOptions, type LocalFeedProvider } from './providers/feed';
export { createKev, type KevOptions } from './providers/kev';
export { createEpss, type EpssOptions } from './providers/epss';
