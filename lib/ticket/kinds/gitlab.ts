/** GitLab issues: REST v4 with a personal, project or group access token; the incident key as a label. */
import { commonOptions, defineTicket, HTTP_URL } from '../kit';
import { createGitLab } from '../gitlab';

export const descriptor = defineTicket({
  kind: 'gitlab',
  label: 'GitLab issues',
  summary: 'issues in a project, labelled per incident; access token with the api scope',
  fields: [
    {
      name: 'url',
      type: 'string',
      default: 'https://gitlab.com',
      pattern: HTTP_URL,
      patternHint: 'an http(s):// URL',
      placeholder: 'https://gitlab.example.com',
    },
    { name: 'token', type: 'secret', required: true },
    { name: 'project', type: 'string', required: true, placeholder: 'group/project or 42' },
    { name: 'labels', type: 'list' },
    { name: 'confidential', type: 'boolean', default: false },
  ],
  supports: { incidentField: 'label soar-<key>', uniqueKey: false, observables: false },
  budget: { perSecond: 5 },
  create: (v, context) =>
    createGitLab({
      ...commonOptions(v, context),
      token: v.token as string,
      project: v.project as string,
      labels: v.labels as string[] | undefined,
      confidential: v.confidential === true,
    }),
});
