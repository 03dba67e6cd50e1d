/** ServiceNow incidents: Table API with a user and password; the incident key in correlation_id. */
import { commonOptions, defineTicket, serverField } from '../kit';
import { createServiceNow } from '../servicenow';

export const descriptor = defineTicket({
  kind: 'servicenow',
  label: 'ServiceNow incident',
  summary: 'incident records through the Table API; a user with the itil role (Basic authentication)',
  fields: [
    { ...serverField, placeholder: 'https://your-instance.service-now.com' },
    { name: 'username', type: 'string', required: true },
    { name: 'password', type: 'secret', required: true },
    { name: 'commentField', type: 'select', options: ['work_notes', 'comments'], default: 'work_notes' },
    { name: 'assignmentGroup', type: 'string' },
    { name: 'category', type: 'string' },
  ],
  supports: { incidentField: 'correlation_id soar:<key>', uniqueKey: false, observables: false },
  budget: { perSecond: 5 },
  create: (v, context) =>
    createServiceNow({
      ...commonOptions(v, context),
      username: v.username as string,
      password: v.password as string,
      commentField: v.commentField === 'comments' ? 'comments' : 'work_notes',
      assignmentGroup: (v.assignmentGroup as string) || undefined,
      category: (v.category as string) || undefined,
    }),
});
