/** Jira Cloud issues: REST v3 with an Atlassian account email and API token; the incident key as a label. */
import { commonOptions, defineTicket, serverField } from '../kit';
import { createJira } from '../jira';

export const descriptor = defineTicket({
  kind: 'jira',
  label: 'Jira Cloud',
  summary: 'issues in a project (description in Atlassian Document Format); account email and API token',
  fields: [
    { ...serverField, placeholder: 'https://your-site.atlassian.net' },
    { name: 'email', type: 'string', required: true, placeholder: 'soc@example.com' },
    { name: 'apiToken', type: 'secret', required: true },
    { name: 'project', type: 'string', required: true, placeholder: 'SEC', pattern: '^[A-Z][A-Z0-9_]+$', patternHint: 'a project key such as SEC' },
    { name: 'issueType', type: 'string', default: 'Task' },
    { name: 'setPriority', type: 'boolean', default: true },
  ],
  supports: { incidentField: 'label soar-<key>', uniqueKey: false, observables: false },
  budget: { perSecond: 5 },
  create: (v, context) =>
    createJira({
      ...commonOptions(v, context),
      email: v.email as string,
      apiToken: v.apiToken as string,
      project: v.project as string,
      issueType: v.issueType as string | undefined,
      setPriority: v.setPriority !== false,
    }),
});
