/** GitHub issues: REST API with a token that may write issues; the incident key as a label. */
import { apiRootOverride, commonOptions, defineTicket } from '../kit';
import { createGitHub } from '../github';

export const descriptor = defineTicket({
  kind: 'github',
  label: 'GitHub issues',
  summary: 'issues in a repository, labelled per incident; fine-grained token with Issues read and write',
  fields: [
    { name: 'token', type: 'secret', required: true },
    { name: 'repository', type: 'string', required: true, placeholder: 'owner/repo', pattern: '^[\\w.-]+/[\\w.-]+$', patternHint: 'owner/repo' },
    { name: 'labels', type: 'list' },
    // API root: GitHub Enterprise Server (https://host/api/v3) or a test fake.
    apiRootOverride,
  ],
  supports: { incidentField: 'label soar-<key> (and a hidden marker in the body)', uniqueKey: false, observables: false },
  budget: { perMinute: 60, perHour: 450 },
  create: (v, context) =>
    createGitHub({ ...commonOptions(v, context), token: v.token as string, repository: v.repository as string, labels: v.labels as string[] | undefined }),
});
