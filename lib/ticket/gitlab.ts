/**
 * GitLab issues as a ticket tracker (REST API v4). Node-RED-free.
 *
 * Contract: https://docs.gitlab.com/api/issues/ (POST /projects/:id/issues with title, description,
 * labels (comma-separated) → 201 {id, iid, web_url, state}; GET /projects/:id/issues?labels=&state=opened;
 * GET /projects/:id/issues/:iid → state opened|closed), https://docs.gitlab.com/api/notes/ (POST
 * /projects/:id/issues/:iid/notes {body}), https://docs.gitlab.com/api/rest/authentication/
 * (`PRIVATE-TOKEN`), https://docs.gitlab.com/api/rest/troubleshooting/ (400 {"message":{"field":["..."]}}
 * or {"error":"..."}), https://docs.gitlab.com/security/rate_limits/ (429 with RateLimit-Limit,
 * RateLimit-Remaining, RateLimit-Reset (epoch seconds), RateLimit-ResetTime and Retry-After).
 * `:id` is the numeric id or the URL-encoded path ("group/project" → "group%2Fproject").
 *
 * Incident key: the label `soar-<key>`. Severity: the label `severity::<name>` (scoped where the
 * edition has scoped labels, a plain label elsewhere).
 */
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
  messagesIn,
  withVendorMessage,
  trackerHttp,
} from './common';
import type { CreateTicketInput, TicketProvider, TicketProviderOptions, TicketRef, TicketStatus } from './types';

const KIND = 'gitlab';
// Title 255; description 1,048,576 characters; notes 1,000,000 characters.
const LIMITS = { title: 255, body: 1_048_576, comment: 1_000_000 };
const SEVERITY_LABELS = [
  'severity::unknown',
  'severity::informational',
  'severity::low',
  'severity::medium',
  'severity::high',
  'severity::critical',
  'severity::critical',
] as const;

export interface GitLabOptions extends TicketProviderOptions {
  token?: string;
  /** Numeric project id or "group/project". */
  project: string;
  labels?: string[];
  confidential?: boolean;
}

export function createGitLab(opts: GitLabOptions): TicketProvider {
  const name = opts.name ?? 'GitLab';
  const root = cleanBaseUrl(KIND, opts.baseURL, 'https://gitlab.com');
  const base = /\/api\/v4$/.test(root) ? root : `${root}/api/v4`;
  const token = opts.token ?? '';
  const project = `/projects/${encodeURIComponent(String(opts.project ?? '').trim())}`;
  const explain = (error: unknown) => withVendorMessage(error, (body) => messagesIn(asRecord(body)?.message).join('; ') || undefined);
  const { client, call } = trackerHttp(opts, {
    provider: KIND,
    baseURL: base,
    headers: { 'private-token': token, accept: 'application/json' },
    secrets: token ? [token] : [],
    budget: { perSecond: 5 },
    explain,
  });
  const ref = (issue: Record<string, unknown> | undefined): TicketRef => {
    const iid = asString(issue?.iid);
    if (!iid) throw badAnswer(KIND, 'issue iid');
    return { id: iid, key: `#${iid}`, url: asString(issue?.web_url) ?? '' };
  };

  return {
    kind: KIND,
    name,
    limits: LIMITS,
    markup: 'markdown',
    priorityFor: (severity) => bySeverity(SEVERITY_LABELS, severity),

    async findOpenByIncident(incidentKey, signal) {
      const data = await call<unknown>({
        url: `${project}/issues`,
        params: { labels: incidentLabel(incidentKey), state: 'opened', per_page: 1, order_by: 'created_at', sort: 'desc' },
        signal,
      });
      if (!Array.isArray(data)) throw badAnswer(KIND, 'issue list');
      return data.length ? ref(asRecord(data[0])) : undefined;
    },

    async create(input: CreateTicketInput, signal) {
      checkCreateInput(KIND, input);
      let text = input.body ?? '';
      if (input.linkTo) text = `${linkLine(input.linkTo)}\n\n${text}`;
      const marker = `\n\nSOAR incident: \`${input.incidentKey.replace(/`/g, "'")}\``;
      const labels = [...new Set(['soar', incidentLabel(input.incidentKey), bySeverity(SEVERITY_LABELS, input.severity), ...(opts.labels ?? [])])];
      const data = await call<unknown>({
        method: 'POST',
        url: `${project}/issues`,
        data: {
          title: fitTitle(input.title, LIMITS.title),
          description: fitText(text, LIMITS.body - marker.length, 'description') + marker,
          labels: labels.join(','),
          ...(opts.confidential ? { confidential: true } : {}),
        },
        signal,
      });
      return ref(asRecord(data));
    },

    async comment(target, text, _options, signal) {
      await call({
        method: 'POST',
        url: `${project}/issues/${encodeURIComponent(target.id)}/notes`,
        data: { body: fitText(text, LIMITS.comment, 'note') },
        signal,
      });
    },

    async status(target, signal): Promise<TicketStatus> {
      const issue = asRecord(await call<unknown>({ url: `${project}/issues/${encodeURIComponent(target.id)}`, signal }));
      const state = asString(issue?.state);
      if (!state) throw badAnswer(KIND, 'issue state');
      return { state: state === 'closed' ? 'closed' : 'open', vendorStatus: state };
    },

    budgetState: () => client.budgetState(),
    close: () => client.close(),
  };
}
