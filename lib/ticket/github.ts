/**
 * GitHub issues as a ticket tracker (REST API). Node-RED-free.
 *
 * Contract: https://docs.github.com/en/rest/issues/issues (POST /repos/{owner}/{repo}/issues → 201
 * {id, number, html_url}; GET /repos/{owner}/{repo}/issues?labels=&state=open lists pull requests
 * too, marked by `pull_request`; GET .../issues/{number} → state open|closed),
 * https://docs.github.com/en/rest/issues/comments (POST .../issues/{number}/comments {body}),
 * https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api (primary limit:
 * 403/429 with x-ratelimit-remaining 0 and x-ratelimit-reset epoch seconds; secondary limits:
 * retry-after seconds, otherwise wait at least a minute), .../troubleshooting-the-rest-api (422
 * {message:"Validation Failed", errors:[{resource, field, code, message?}]}).
 * Headers: `Authorization: Bearer`, `Accept: application/vnd.github+json`, `X-GitHub-Api-Version: 2022-11-28`.
 *
 * Incident key: the label `soar-<key>` (listed by label, not through the search API, whose limit
 * is 30 requests a minute and which lags). Severity: a `severity:<name>` label (GitHub has no priority).
 */
import { ProviderError } from '../core/http';
import {
  asRecord,
  asString,
  badAnswer,
  bySeverity,
  checkCreateInput,
  cleanBaseUrl,
  fitText,
  fitTitle,
  incidentLabel,
  linkLine,
  withVendorMessage,
  trackerHttp,
} from './common';
import type { CreateTicketInput, TicketProvider, TicketProviderOptions, TicketRef, TicketStatus } from './types';

const KIND = 'github';
// Issue and comment bodies: 65,536 characters ("body is too long (maximum is 65536 characters)").
// Titles have no documented limit; 256 keeps them readable in lists.
const LIMITS = { title: 256, body: 65_536, comment: 65_536 };
const SEVERITY_LABELS = [
  'severity:unknown',
  'severity:informational',
  'severity:low',
  'severity:medium',
  'severity:high',
  'severity:critical',
  'severity:critical',
] as const;
// Without a hint a secondary limit asks for at least a minute.
const SECONDARY_DEFAULT_MS = 60_000;

export interface GitHubOptions extends TicketProviderOptions {
  token?: string;
  /** "owner/repo". */
  repository: string;
  /** Extra labels on every issue. */
  labels?: string[];
}

export function createGitHub(opts: GitHubOptions): TicketProvider {
  const name = opts.name ?? 'GitHub';
  const base = cleanBaseUrl(KIND, opts.baseURL, 'https://api.github.com');
  const token = opts.token ?? '';
  if (!/^[\w.-]+\/[\w.-]+$/.test(opts.repository ?? '')) {
    throw new ProviderError({ provider: KIND, code: 'BAD_REQUEST', message: `${KIND}: the repository must be owner/name` });
  }
  const repo = `/repos/${opts.repository}`;
  const explain = (error: unknown) => {
    const detailed = withVendorMessage(error, (body) => {
      const errors = asRecord(body)?.errors;
      if (!Array.isArray(errors)) return undefined;
      return (
        errors
          .map((e) => asString(asRecord(e)?.message) ?? [asRecord(e)?.field, asRecord(e)?.code].filter(Boolean).join(' '))
          .filter(Boolean)
          .join('; ') || undefined
      );
    });
    if (!(detailed instanceof ProviderError)) return detailed;
    // A secondary limit can come as a 403 with neither hint, known only by its message: GitHub says
    // wait at least a minute then.
    const secondary = detailed.code === 'FORBIDDEN' && /rate limit/i.test(asString(asRecord(detailed.body)?.message) ?? '');
    if ((detailed.code === 'RATE_LIMITED' || secondary) && detailed.retryAfterMs === undefined) {
      return new ProviderError({
        provider: detailed.provider,
        code: 'RATE_LIMITED',
        message: detailed.message,
        status: detailed.status,
        retryable: true,
        retryAfterMs: SECONDARY_DEFAULT_MS,
        attempts: detailed.attempts,
        body: detailed.body,
      });
    }
    return detailed;
  };
  const { client, call } = trackerHttp(opts, {
    provider: KIND,
    baseURL: base,
    headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' },
    secrets: token ? [token] : [],
    // Content creation is limited to about 80 a minute and 500 an hour.
    budget: { perMinute: 60, perHour: 450 },
    explain,
  });
  const ref = (issue: Record<string, unknown> | undefined): TicketRef => {
    const number = asString(issue?.number);
    if (!number) throw badAnswer(KIND, 'issue number');
    const web = `https://github.com/${opts.repository}/issues/${number}`;
    return { id: number, key: `#${number}`, url: asString(issue?.html_url) ?? web };
  };

  return {
    kind: KIND,
    name,
    limits: LIMITS,
    markup: 'markdown',
    priorityFor: (severity) => bySeverity(SEVERITY_LABELS, severity),

    async findOpenByIncident(incidentKey, signal) {
      const data = await call<unknown>({
        url: `${repo}/issues`,
        params: { labels: incidentLabel(incidentKey), state: 'open', per_page: 10, sort: 'created', direction: 'desc' },
        signal,
      });
      if (!Array.isArray(data)) throw badAnswer(KIND, 'issue list');
      const issue = data.map(asRecord).find((i) => i && !i.pull_request);
      return issue ? ref(issue) : undefined;
    },

    async create(input: CreateTicketInput, signal) {
      checkCreateInput(KIND, input);
      let text = input.body ?? '';
      if (input.linkTo) text = `${linkLine(input.linkTo)}\n\n${text}`;
      const marker = `\n\n<!-- soar-incident: ${input.incidentKey.replace(/--/g, '- -')} -->`;
      const body = fitText(text, LIMITS.body - marker.length, 'body') + marker;
      const labels = [...new Set(['soar', incidentLabel(input.incidentKey), bySeverity(SEVERITY_LABELS, input.severity), ...(opts.labels ?? [])])];
      const data = await call<unknown>({ method: 'POST', url: `${repo}/issues`, data: { title: fitTitle(input.title, LIMITS.title), body, labels }, signal });
      return ref(asRecord(data));
    },

    async comment(target, text, _options, signal) {
      await call({
        method: 'POST',
        url: `${repo}/issues/${encodeURIComponent(target.id)}/comments`,
        data: { body: fitText(text, LIMITS.comment, 'comment') },
        signal,
      });
    },

    async status(target, signal): Promise<TicketStatus> {
      const issue = asRecord(await call<unknown>({ url: `${repo}/issues/${encodeURIComponent(target.id)}`, signal }));
      const state = asString(issue?.state);
      if (!state) throw badAnswer(KIND, 'issue state');
      return { state: state === 'closed' ? 'closed' : 'open', vendorStatus: [state, asString(issue?.state_reason)].filter(Boolean).join(' ') };
    },

    budgetState: () => client.budgetState(),
    close: () => client.close(),
  };
}
