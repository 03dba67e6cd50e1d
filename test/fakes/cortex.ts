/**
 * Contract fake: Cortex 3 REST API — analyzers by data type, run a job, wait for its report.
 *
 * Follows TheHive-Project/CortexDocs `api/api-guide.md` (Authorization: Bearer <key>; GET /api/analyzer/type/{dataType};
 * POST /api/analyzer/{id}/run {data, dataType, tlp, message, parameters}; GET /api/job/{id}, /report,
 * /waitreport?atMost=<duration>) and Cortex's JobCtrl (report = {summary, full, success, artifacts, operations}
 * on Success, {errorMessage, input, success:false} on Failure, the string "Running"/"Waiting" otherwise);
 * docs/vendor-facts.md §B.9 and §0.1 (job status in the body). Wrong key: 401
 * {"type":"AuthenticationError","message":"Authentication failure"}. Cortex's job cache is modelled: the same
 * analyzer + data + dataType + tlp while the cache holds returns the existing job instead of a new one.
 *
 * Jobs advance per waitreport/get call (not per time) so tests stay deterministic: a job finishes on its
 * `pollsToFinish`-th poll. Shape checks (→ `violations`): methods, paths, Bearer key, JSON run body with a
 * string data, a dataType the analyzer accepts, numeric tlp, string message; atMost in Cortex duration syntax.
 */
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../helpers/fake-server';

export interface CortexTaxonomyRecord {
  level: 'info' | 'safe' | 'suspicious' | 'malicious';
  namespace: string;
  predicate: string;
  value: string | number;
}

/** What a job of an analyzer does for a given input. */
export interface CortexFakeOutcome {
  /** waitreport/get calls until the job ends (1 = ends on the first poll; 0 = already done when created). Default 1. */
  pollsToFinish?: number;
  /** Never finishes. */
  never?: boolean;
  taxonomies?: CortexTaxonomyRecord[];
  /** The job ends with status Failure and this errorMessage. */
  failure?: string;
}

export interface CortexFakeAnalyzer {
  id: string;
  name: string;
  dataTypeList: string[];
  /** Outcome per input value (fallback: `default`). */
  outcomes?: Record<string, CortexFakeOutcome>;
  default?: CortexFakeOutcome;
}

export interface CortexFakeOptions {
  apiKey: string;
  now?: () => number;
}

interface FakeJob {
  id: string;
  analyzer: CortexFakeAnalyzer;
  data: string;
  dataType: string;
  tlp: number;
  message: string;
  polls: number;
  outcome: CortexFakeOutcome;
  createdAt: number;
}

const DURATION = /^\d+\s*(?:ms|millisecond|milliseconds|s|second|seconds|m|minute|minutes|h|hour|hours)$/;

export class CortexFake {
  readonly violations: string[] = [];
  readonly analyzers: CortexFakeAnalyzer[] = [];
  readonly jobs: FakeJob[] = [];
  private readonly queued: { match: RegExp; reply: FakeReply }[] = [];
  private readonly now: () => number;

  constructor(
    readonly server: FakeServer,
    private readonly options: CortexFakeOptions,
  ) {
    this.now = options.now ?? Date.now;
    server.route('*', /.*/, (request) => this.handle(request));
  }

  get baseURL(): string {
    return this.server.url;
  }

  addAnalyzer(analyzer: CortexFakeAnalyzer): this {
    this.analyzers.push(analyzer);
    return this;
  }

  /** The next request whose path matches gets this reply instead of normal service. */
  queue(match: RegExp, ...replies: FakeReply[]): this {
    for (const reply of replies) this.queued.push({ match, reply });
    return this;
  }

  requestsTo(path: RegExp): FakeRequest[] {
    return this.server.requests.filter((request) => path.test(request.path));
  }

  close(): Promise<void> {
    return this.server.close();
  }

  private violation(problem: string, request: FakeRequest): FakeReply {
    this.violations.push(`${request.method} ${request.path}: ${problem}`);
    return { status: 400, body: { type: 'BadRequest', message: problem } };
  }

  private handle(request: FakeRequest): FakeReply {
    const queuedIndex = this.queued.findIndex((entry) => entry.match.test(request.path));
    if (queuedIndex >= 0) return this.queued.splice(queuedIndex, 1)[0].reply;

    const authorization = request.headers.authorization;
    if (!authorization || !/^Bearer /.test(authorization)) return this.violation('no Bearer Authorization header', request);
    if (authorization !== `Bearer ${this.options.apiKey}`) return { status: 401, body: { type: 'AuthenticationError', message: 'Authentication failure' } };

    let match = /^\/api\/analyzer\/type\/([^/]+)$/.exec(request.path);
    if (match) {
      if (request.method !== 'GET') return this.violation('expected GET', request);
      const dataType = decodeURIComponent(match[1]);
      return {
        status: 200,
        body: this.analyzers.filter((analyzer) => analyzer.dataTypeList.includes(dataType)).map((analyzer) => this.analyzerJson(analyzer)),
      };
    }
    match = /^\/api\/analyzer\/([^/]+)\/run$/.exec(request.path);
    if (match) return this.run(decodeURIComponent(match[1]), request);
    match = /^\/api\/job\/([^/]+)(\/waitreport|\/report)?$/.exec(request.path);
    if (match) {
      if (request.method !== 'GET') return this.violation('expected GET', request);
      const job = this.jobs.find((candidate) => candidate.id === decodeURIComponent(match![1]));
      if (!job) return { status: 404, body: { type: 'NotFoundError', message: `job ${match[1]} not found` } };
      if (match[2] === '/waitreport') {
        const atMost = request.query.atMost;
        if (atMost === undefined || !DURATION.test(atMost)) return this.violation(`atMost ${String(atMost)} is not a duration`, request);
      }
      job.polls++;
      return { status: 200, body: match[2] ? this.jobWithReport(job) : this.jobJson(job) };
    }
    return { status: 404, body: { type: 'NotFoundError', message: `${request.path} not found` } };
  }

  private run(analyzerId: string, request: FakeRequest): FakeReply {
    if (request.method !== 'POST') return this.violation('expected POST', request);
    const analyzer = this.analyzers.find((candidate) => candidate.id === analyzerId);
    if (!analyzer) return { status: 404, body: { type: 'NotFoundError', message: `analyzer ${analyzerId} not found` } };
    if (!/application\/json/.test(request.headers['content-type'] ?? '')) return this.violation('run body is not JSON', request);
    const body = request.json as Record<string, unknown> | undefined;
    if (!body || typeof body.data !== 'string' || body.data === '') return this.violation('data missing', request);
    if (typeof body.dataType !== 'string' || !analyzer.dataTypeList.includes(body.dataType))
      return this.violation(`dataType ${String(body.dataType)} not accepted by ${analyzer.name}`, request);
    if (!Number.isInteger(body.tlp) || (body.tlp as number) < 0 || (body.tlp as number) > 3) return this.violation('tlp must be 0..3', request);
    if (typeof body.message !== 'string') return this.violation('message missing', request);

    const cached = this.jobs.find((job) => job.analyzer === analyzer && job.data === body.data && job.dataType === body.dataType && job.tlp === body.tlp);
    if (cached) return { status: 200, body: this.jobJson(cached) };
    const job: FakeJob = {
      id: `AZ${String(this.jobs.length + 1).padStart(18, '0')}`,
      analyzer,
      data: body.data,
      dataType: body.dataType,
      tlp: body.tlp as number,
      message: body.message,
      polls: 0,
      outcome: analyzer.outcomes?.[body.data] ?? analyzer.default ?? { taxonomies: [] },
      createdAt: this.now(),
    };
    this.jobs.push(job);
    return { status: 200, body: this.jobJson(job) };
  }

  private status(job: FakeJob): 'Waiting' | 'InProgress' | 'Success' | 'Failure' {
    const needed = job.outcome.pollsToFinish ?? 1;
    if (job.outcome.never || job.polls < needed) return job.polls === 0 ? 'Waiting' : 'InProgress';
    return job.outcome.failure !== undefined ? 'Failure' : 'Success';
  }

  private analyzerJson(analyzer: CortexFakeAnalyzer): Record<string, unknown> {
    const definition = analyzer.name.replace(/_\d+(_\d+)*$/, '');
    return {
      id: analyzer.id,
      name: analyzer.name,
      version: '3.1',
      description: `${definition} analyzer`,
      dataTypeList: analyzer.dataTypeList,
      analyzerDefinitionId: analyzer.name,
      workerDefinitionId: analyzer.name,
      baseConfig: definition,
      jobCache: 10,
      rate: null,
      rateUnit: null,
      createdBy: 'admin',
      createdAt: 1_767_225_600_000,
      type: 'analyzer',
    };
  }

  private jobJson(job: FakeJob): Record<string, unknown> {
    const status = this.status(job);
    return {
      id: job.id,
      _id: job.id,
      type: 'analyzer',
      analyzerId: job.analyzer.id,
      analyzerName: job.analyzer.name,
      analyzerDefinitionId: job.analyzer.name,
      workerId: job.analyzer.id,
      workerName: job.analyzer.name,
      workerDefinitionId: job.analyzer.name,
      status,
      data: job.data,
      dataType: job.dataType,
      tlp: job.tlp,
      pap: 2,
      message: job.message,
      parameters: {},
      organization: 'soc',
      createdBy: 'soar',
      createdAt: job.createdAt,
      date: job.createdAt,
      ...(status === 'Success' || status === 'Failure' ? { startDate: job.createdAt, endDate: this.now() } : {}),
      ...(status === 'Failure' ? { errorMessage: job.outcome.failure } : {}),
    };
  }

  private jobWithReport(job: FakeJob): Record<string, unknown> {
    const status = this.status(job);
    let report: unknown;
    if (status === 'Success') {
      report = { summary: { taxonomies: job.outcome.taxonomies ?? [] }, full: { raw: 'analyzer output' }, success: true, artifacts: [], operations: [] };
    } else if (status === 'Failure') {
      report = { errorMessage: job.outcome.failure, input: JSON.stringify({ data: job.data, dataType: job.dataType }), success: false };
    } else {
      report = status === 'Waiting' ? 'Waiting' : 'Running';
    }
    return { ...this.jobJson(job), report };
  }
}

export async function startCortexFake(options: CortexFakeOptions): Promise<CortexFake> {
  return new CortexFake(await startFakeServer({ now: options.now }), options);
}
