/** Microsoft Defender for Endpoint machine isolation. */
import { createDefenderEdr } from '../defender';
import { defineEdr, hiddenUrlField } from '../kit';

export const descriptor = defineEdr({
  kind: 'defender',
  label: 'Microsoft Defender for Endpoint',
  summary: 'machine isolation, Full or Selective; an Entra ID app with Machine.Isolate and Machine.Read.All',
  fields: [
    { name: 'tenantId', type: 'string', required: true, pattern: '^[A-Za-z0-9.-]{1,100}$', patternHint: 'a tenant GUID or domain' },
    { name: 'clientId', type: 'string', required: true },
    { name: 'clientSecret', type: 'secret', required: true },
    { name: 'isolationType', type: 'select', options: ['Full', 'Selective'], default: 'Full' },
    // Regional API roots (eu.api.security.microsoft.com …) and the tests' fake.
    { name: 'apiUrl', type: 'string', pattern: '^https?://', patternHint: 'an http(s):// URL', placeholder: 'https://api.securitycenter.microsoft.com' },
    hiddenUrlField('loginUrl'),
  ],
  supports: { status: true, async: true, resolveBy: ['computer DNS name', 'ip', 'machine id'], isolationTypes: ['Full', 'Selective'] },
  // Machine isolation and machineactions: 100 calls per minute, 1,500 per hour.
  budget: { perMinute: 100, perHour: 1500 },
  create: (v, context) => ({
    provider: createDefenderEdr({
      name: context.name,
      log: context.log,
      http: context.http,
      tenantId: v.tenantId as string,
      clientId: v.clientId as string,
      clientSecret: v.clientSecret as string,
      isolationType: v.isolationType as 'Full' | 'Selective',
      apiUrl: (v.apiUrl as string) || undefined,
      loginUrl: (v.loginUrl as string) || undefined,
    }),
  }),
});
