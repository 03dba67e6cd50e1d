/** TheHive 5: alerts (unique sourceRef) or cases, with the indicators as observables; API key. */
import { commonOptions, defineTicket, HTTP_URL, serverField } from '../kit';
import { createTheHive } from '../thehive';

export const descriptor = defineTicket({
  kind: 'thehive',
  label: 'TheHive 5',
  summary: 'an alert (deduplicated by sourceRef) or a case per incident, indicators as observables; API key',
  fields: [
    { ...serverField, placeholder: 'https://thehive.example.org' },
    { name: 'apiKey', type: 'secret', required: true },
    { name: 'mode', type: 'select', options: ['alert', 'case'], default: 'alert' },
    { name: 'organisation', type: 'string' },
    { name: 'source', type: 'string', default: 'SOAR' },
    { name: 'alertType', type: 'string', default: 'soar' },
    { name: 'uiURL', type: 'string', pattern: HTTP_URL, patternHint: 'an http(s):// URL' },
  ],
  supports: { incidentField: 'alert sourceRef, or the case tag soar-incident:<key>', uniqueKey: true, observables: true },
  budget: { perSecond: 10 },
  create: (v, context) =>
    createTheHive({
      ...commonOptions(v, context),
      apiKey: v.apiKey as string,
      mode: v.mode === 'case' ? 'case' : 'alert',
      organisation: (v.organisation as string) || undefined,
      source: v.source as string | undefined,
      alertType: v.alertType as string | undefined,
      uiURL: (v.uiURL as string) || undefined,
    }),
});
