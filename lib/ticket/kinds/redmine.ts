/** Redmine issues: REST API with an API key; the incident key in a custom field or a description marker. */
import { commonOptions, defineTicket, optionalId, serverField } from '../kit';
import { createRedmine } from '../redmine';

export const descriptor = defineTicket({
  kind: 'redmine',
  label: 'Redmine',
  summary: 'issues in a project; REST API enabled, API key of a user who may add issues',
  fields: [
    serverField,
    { name: 'apiKey', type: 'secret', required: true },
    { name: 'project', type: 'string', required: true, placeholder: 'security' },
    { name: 'trackerId', type: 'number', min: 1 },
    { name: 'customFieldId', type: 'number', min: 1 },
  ],
  supports: { incidentField: 'custom field (cf_<id>) or the description marker [soar-incident:<key>]', uniqueKey: false, observables: false },
  budget: { perSecond: 5 },
  create: (v, context) =>
    createRedmine({
      ...commonOptions(v, context),
      apiKey: v.apiKey as string,
      project: v.project as string,
      trackerId: optionalId(v.trackerId),
      customFieldId: optionalId(v.customFieldId),
    }),
});
