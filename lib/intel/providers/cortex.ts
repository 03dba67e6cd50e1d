/**
 * Cortex (TheHive Project, Cortex 2/3): runs your configured analyzers on an indicator and reads their
 * verdicts. Contract: docs/vendor-facts.md §B.9; TheHive-Project/CortexDocs `api/api-guide.md`
 * (analyzers, jobs, "wait and get job report").
 *
 * Per lookup, with `Authorization: Bearer <API key>`:
 *   1. GET  /api/analyzer/type/{dataType}  — analyzers enabled for that data type (cached `analyzerCacheMs`);
 *      the configured `analyzers` (ids, names or definition ids) are picked from it.
 *   2. POST /api/analyzer/{id}/run  {data, dataType, tlp, message} → the Job {id, status, ...}.
 *      Cortex answers an identical job from its job cache, so a retried submission does not run twice
 *      (the request carries a dedupKey, which lets the HTTP client retry it).
 *   3. GET  /api/job/{jobId}/waitreport?atMost=<n>second — the server holds the answer until the job ends
 *      or n seconds pass, then returns the job plus `report` (an object on Success; "Running"/"Waiting"
 *      otherwise). Repeated, `pollIntervalMs` apart, until `maxWaitMs` after the lookup began; after that
 *      the analyzer's part fails with TIMEOUT ("job … not finished after … ms").
 *   A job with status Failure is an error even on HTTP 200: `checkBody` turns it into BODY_ERROR with the
 *   analyzer's errorMessage (vendorCode "JobFailure"). A wrong key is 401 {"type":"AuthenticationError"} → AUTH.
 *
 * Data types: ipv4/ipv6 → ip; domain → domain, else fqdn (whichever the analyzer accepts, domain first);
 * url → url; md5/sha1/sha256/sha512 → hash; email → mail.
 *
 * Level: every analyzer report's `summary.taxonomies[].level` maps as malicious → malicious,
 * suspicious → suspicious, safe → benign, info → unknown; the worst level over all taxonomies of all
 * analyzers wins (malicious > suspicious > benign > unknown). found = the level is not unknown (info-only
 * taxonomies stay in the evidence). When some analyzers fail and others answer, the answer is built from
 * those that answered and the failures are listed in evidence.failed; when all fail, the lookup rejects
 * with the first failure. When none of the configured analyzers accepts the data type, the answer is
 * unknown/found:false with a note (not an error: the source has nothing to say about such indicators).
 *
 * external: false by default — Cortex is your own server, so internal addresses MAY be sent to it. Its
 * analyzers may pass them on to SaaS services, though: set `external: true` if they do and internal
 * indicators must stay home. No budget by default (each analyzer has its own vendor limits inside Cortex).
 */
import { defaultSleep } from '../../core/budget';
import { createHttpClient, ProviderError, type BodyCheckFailure } from '../../core/http';
import type { IocType } from '../../ioc';
import type { Indicator, IntelLevel, IntelProvider, IntelProviderOptions, IntelResult } from '../types';
import { budgetAndClose, resultBuilder, selfSignedAgent, unsupportedIndicator, webBase } from './common';

export interface CortexOptions extends IntelProviderOptions {
  /** Analyzers to run: ids, names (e.g. "VirusTotal_GetReport_3_1") or definition ids. */
  analyzers: string[];
  /** Pause between waitreport rounds. Default 1,000 ms. */
  pollIntervalMs?: number;
  /** How long a lookup waits for its jobs in total. Default 60,000 ms. */
  maxWaitMs?: number;
  /** How long one waitreport call lets the server hold the answer. Default 10,000 ms. */
  longPollMs?: number;
  /** TLP of submitted jobs (0 white … 3 red); analyzers refuse jobs above their own maximum. Default 2 (amber). */
  tlp?: number;
  /** How long the analyzer list per data type is reused. Default 5 minutes. */
  analyzerCacheMs?: number;
  /** Check the server certificate (default true). */
  verifyTls?: boolean;
  /** True when the analyzers forward indicators to outside services and internal ones must not go. Default false. */
  external?: boolean;
  /** Narrow the indicator types asked of this instance (default: every type with a Cortex data type). */
  types?: IocType[];
}

const CORTEX_DATA_TYPES: Partial<Record<IocType, string[]>> = {
  ipv4: ['ip'],
  ipv6: ['ip'],
  domain: ['domain', 'fqdn'],
  url: ['url'],
  md5: ['hash'],
  sha1: ['hash'],
  sha256: ['hash'],
  sha512: ['hash'],
  email: ['mail'],
};
const ALL_TYPES = Object.keys(CORTEX_DATA_TYPES) as IocType[];
const LEVEL_RANK: Record<IntelLevel, number> = { unknown: 0, benign: 1, suspicious: 2, malicious: 3 };
const TAXONOMY_LEVELS: Record<string, IntelLevel> = { malicious: 'malicious', suspicious: 'suspicious', safe: 'benign', info: 'unknown' };
const MAX_SUMMARY = 240;

interface CortexAnalyzer {
  id?: string;
  name?: string;
  analyzerDefinitionId?: string;
  workerDefinitionId?: string;
  dataTypeList?: string[];
}

interface CortexTaxonomy {
  level?: string;
  namespace?: string;
  predicate?: string;
  value?: unknown;
}

interface CortexJob {
  id?: string;
  status?: string;
  analyzerName?: string;
  workerName?: string;
  errorMessage?: string;
  report?: { summary?: { taxonomies?: CortexTaxonomy[] }; success?: boolean; errorMessage?: string } | string;
}

interface AnalyzerAnswer {
  analyzer: string;
  jobId: string;
  level: IntelLevel;
  taxonomies: string[];
}

/** A finished job with status Failure arrives as HTTP 200; it is still a failure. */
function checkCortexBody(data: unknown): BodyCheckFailure | undefined {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const job = data as CortexJob;
  if (job.status !== 'Failure') return undefined;
  const report = typeof job.report === 'object' && job.report ? job.report : undefined;
  const reason = (job.errorMessage || report?.errorMessage || 'no error message').slice(0, 300);
  return {
    code: 'BODY_ERROR',
    message: `job ${job.id ?? '?'} of ${job.analyzerName ?? job.workerName ?? 'analyzer'} failed: ${reason}`,
    vendorCode: 'JobFailure',
  };
}

function taxonomyText(taxonomy: CortexTaxonomy): string {
  const value = typeof taxonomy.value === 'string' || typeof taxonomy.value === 'number' ? String(taxonomy.value) : JSON.stringify(taxonomy.value ?? '');
  return `${taxonomy.namespace ?? '?'}:${taxonomy.predicate ?? '?'}=${JSON.stringify(value).slice(0, 60)} (${taxonomy.level ?? '?'})`;
}

function worst(levels: IntelLevel[]): IntelLevel {
  return levels.reduce<IntelLevel>((acc, level) => (LEVEL_RANK[level] > LEVEL_RANK[acc] ? level : acc), 'unknown');
}

export function createCortex(options: CortexOptions): IntelProvider {
  const apiKey = options.apiKey;
  if (!apiKey) throw new TypeError('Cortex needs an API key (Cortex: Organization → Users → Create API key)');
  if (!options.baseURL) throw new TypeError('Cortex needs the base URL of your instance, e.g. https://cortex.example.org:9001');
  const wanted = (options.analyzers ?? []).map((ref) => ref.trim()).filter(Boolean);
  if (wanted.length === 0) throw new TypeError('Cortex needs at least one analyzer (id or name) to run');

  const name = options.name ?? 'Cortex';
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const pollIntervalMs = Math.max(0, options.pollIntervalMs ?? 1_000);
  const maxWaitMs = Math.max(1, options.maxWaitMs ?? 60_000);
  const longPollMs = Math.max(1_000, options.longPollMs ?? 10_000);
  const requestTimeoutMs = options.timeoutMs ?? 15_000;
  const analyzerCacheMs = options.analyzerCacheMs ?? 300_000;
  const tlp = options.tlp ?? 2;
  const links = webBase(options.baseURL);
  const types = (options.types ?? ALL_TYPES).filter((type) => CORTEX_DATA_TYPES[type]);
  const insecureAgent = selfSignedAgent(options.verifyTls);
  const answerFor = resultBuilder('cortex', name, now);
  const client = createHttpClient({
    provider: 'cortex',
    baseURL: options.baseURL,
    headers: { Authorization: `Bearer ${apiKey}`, Accept: 'application/json' },
    secrets: [apiKey],
    budget: options.budget,
    timeoutMs: requestTimeoutMs,
    checkBody: checkCortexBody,
    now: options.now,
    sleep: options.sleep,
    ...(insecureAgent ? { httpsAgent: insecureAgent } : {}),
  });

  const analyzerLists = new Map<string, { fetchedAt: number; list: Promise<CortexAnalyzer[]> }>();

  // Shared between concurrent lookups, so one caller's abort signal must not cancel it for the others.
  function analyzersFor(dataType: string): Promise<CortexAnalyzer[]> {
    const cached = analyzerLists.get(dataType);
    if (cached && now() - cached.fetchedAt < analyzerCacheMs) return cached.list;
    const list = client
      .request<CortexAnalyzer[]>({ url: `/api/analyzer/type/${encodeURIComponent(dataType)}` })
      .then(({ data }) => (Array.isArray(data) ? data : []));
    analyzerLists.set(dataType, { fetchedAt: now(), list });
    // A failed fetch must not be reused.
    list.catch(() => {
      if (analyzerLists.get(dataType)?.list === list) analyzerLists.delete(dataType);
    });
    return list;
  }

  function matchesRef(analyzer: CortexAnalyzer, ref: string): boolean {
    const lower = ref.toLowerCase();
    return [analyzer.id, analyzer.name, analyzer.analyzerDefinitionId, analyzer.workerDefinitionId].some(
      (candidate) => typeof candidate === 'string' && candidate.toLowerCase() === lower,
    );
  }

  /** The configured analyzers that accept this indicator, each with the first data type it takes. */
  async function selectAnalyzers(dataTypes: string[]): Promise<{ analyzer: CortexAnalyzer; dataType: string }[]> {
    const lists = await Promise.all(dataTypes.map((dataType) => analyzersFor(dataType)));
    const chosen: { analyzer: CortexAnalyzer; dataType: string }[] = [];
    const seen = new Set<string>();
    for (const ref of wanted) {
      for (let index = 0; index < dataTypes.length; index++) {
        const analyzer = lists[index].find((candidate) => matchesRef(candidate, ref));
        if (analyzer?.id && !seen.has(analyzer.id)) {
          seen.add(analyzer.id);
          chosen.push({ analyzer, dataType: dataTypes[index] });
          break;
        }
      }
    }
    return chosen;
  }

  function timeoutError(job: CortexJob, analyzerName: string): ProviderError {
    return new ProviderError({
      provider: 'cortex',
      code: 'TIMEOUT',
      message: `cortex: job ${job.id ?? '?'} of ${analyzerName} not finished after ${maxWaitMs} ms (status ${job.status ?? '?'}); raise maxWaitMs or check the Cortex job queue`,
      retryable: true,
    });
  }

  async function waitForJob(job: CortexJob, analyzerName: string, deadline: number, signal?: AbortSignal): Promise<CortexJob> {
    const jobId = job.id;
    if (!jobId) throw new ProviderError({ provider: 'cortex', code: 'BODY_ERROR', message: `cortex: ${analyzerName} run answered without a job id` });
    let current = job;
    for (let rounds = 0; ; rounds++) {
      if (current.status === 'Success' && typeof current.report === 'object' && current.report) return current;
      if (current.status === 'Deleted') {
        throw new ProviderError({
          provider: 'cortex',
          code: 'BODY_ERROR',
          message: `cortex: job ${jobId} of ${analyzerName} was deleted`,
          vendorCode: 'JobDeleted',
        });
      }
      if (rounds > 0) {
        const pause = Math.min(pollIntervalMs, deadline - now());
        if (pause > 0) {
          try {
            await sleep(pause, signal);
          } catch {
            throw new ProviderError({ provider: 'cortex', code: 'CANCELLED', message: `cortex: waiting for job ${jobId} cancelled` });
          }
        }
      }
      const remaining = deadline - now();
      if (remaining <= 0) throw timeoutError(current, analyzerName);
      const atMostSeconds = Math.max(1, Math.ceil(Math.min(remaining, longPollMs) / 1000));
      const { data } = await client.request<CortexJob>({
        url: `/api/job/${encodeURIComponent(jobId)}/waitreport`,
        params: { atMost: `${atMostSeconds}second` },
        // The server holds the answer up to atMost; the per-request timeout must outlast that.
        timeoutMs: atMostSeconds * 1000 + requestTimeoutMs,
        signal,
      });
      current = data && typeof data === 'object' ? { ...data, id: data.id ?? jobId } : { id: jobId, status: 'InProgress' };
    }
  }

  async function runAnalyzer(
    analyzer: CortexAnalyzer,
    dataType: string,
    indicator: Indicator,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<AnalyzerAnswer> {
    const analyzerId = analyzer.id as string;
    const analyzerName = analyzer.name ?? analyzerId;
    const { data: job } = await client.request<CortexJob>({
      method: 'POST',
      url: `/api/analyzer/${encodeURIComponent(analyzerId)}/run`,
      data: { data: indicator.value, dataType, tlp, message: 'node-red-contrib-soar IOC lookup' },
      headers: { 'Content-Type': 'application/json' },
      dedupKey: `${analyzerId}|${dataType}|${indicator.value}`,
      signal,
    });
    const finished = await waitForJob(job ?? {}, analyzerName, deadline, signal);
    const report = finished.report as Exclude<CortexJob['report'], string | undefined>;
    const taxonomies = Array.isArray(report.summary?.taxonomies) ? report.summary.taxonomies : [];
    const level = worst(taxonomies.map((taxonomy) => TAXONOMY_LEVELS[String(taxonomy.level).toLowerCase()] ?? 'unknown'));
    return { analyzer: analyzerName, jobId: finished.id as string, level, taxonomies: taxonomies.slice(0, 10).map(taxonomyText) };
  }

  function toResult(indicator: Indicator, answers: AnalyzerAnswer[], failed: { analyzer: string; code: string; message: string }[]): IntelResult {
    const level = worst(answers.map((answer) => answer.level));
    const lead = answers.find((answer) => answer.level === level) ?? answers[0];
    const parts = answers.map((answer) => {
      const shown = answer.taxonomies.slice(0, 2).join(', ');
      return `${answer.analyzer}: ${shown || 'no taxonomy'}`;
    });
    if (failed.length) parts.push(`${failed.length} failed`);
    let summary = `${name}: ${level} — ${parts.join('; ')}`;
    if (summary.length > MAX_SUMMARY) summary = `${summary.slice(0, MAX_SUMMARY - 1)}…`;
    return answerFor(indicator, {
      level,
      found: level !== 'unknown',
      evidence: { analyzers: answers, ...(failed.length ? { failed } : {}) },
      summary,
      link: `${links}/index.html#!/jobs/${encodeURIComponent(lead.jobId)}`,
    });
  }

  return {
    kind: 'cortex',
    name,
    types,
    external: options.external ?? false,
    async lookup(indicator: Indicator, signal?: AbortSignal): Promise<IntelResult> {
      const dataTypes = types.includes(indicator.type) ? CORTEX_DATA_TYPES[indicator.type] : undefined;
      if (!dataTypes) throw unsupportedIndicator('cortex', indicator.type);
      const deadline = now() + maxWaitMs;
      const selected = await selectAnalyzers(dataTypes);
      if (selected.length === 0) {
        return answerFor(indicator, {
          level: 'unknown',
          found: false,
          evidence: { analyzers: [], note: `none of ${wanted.join(', ')} accepts ${dataTypes.join('/')}` },
          summary: `${name}: no configured analyzer takes ${dataTypes.join('/')}`,
        });
      }
      const settled = await Promise.allSettled(selected.map(({ analyzer, dataType }) => runAnalyzer(analyzer, dataType, indicator, deadline, signal)));
      const answers: AnalyzerAnswer[] = [];
      const failed: { analyzer: string; code: string; message: string }[] = [];
      let firstError: unknown;
      settled.forEach((outcome, index) => {
        if (outcome.status === 'fulfilled') {
          answers.push(outcome.value);
          return;
        }
        firstError ??= outcome.reason;
        const reason = outcome.reason as Partial<ProviderError>;
        const analyzer = selected[index].analyzer;
        failed.push({
          analyzer: analyzer.name ?? String(analyzer.id),
          code: String(reason?.code ?? 'ERROR'),
          message: String(reason?.message ?? outcome.reason),
        });
      });
      if (answers.length === 0) throw firstError;
      return toResult(indicator, answers, failed);
    },
    ...budgetAndClose(client, insecureAgent),
  };
}
