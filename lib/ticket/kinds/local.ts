/**
 * The local case store: cases kept in the hub's own state, shown in the SOAR sidebar and on a
 * read-only hub page. No server, no credentials: the default for `npm start`.
 */
import type { ProviderDescriptor } from '../../providers/descriptor';
import type { StateStore } from '../../core/types';
import { createLocalCases } from '../local';
import type { TicketProvider, TicketProviderOptions } from '../types';

/**
 * The context the ticketing config node passes (lib/ticket/kit.ts TicketContext) plus the hub's
 * state store, which only this kind needs.
 */
export interface LocalTicketContext extends Omit<TicketProviderOptions, 'baseURL'> {
  name: string;
  store?: StateStore;
}

export const descriptor: ProviderDescriptor<TicketProvider, LocalTicketContext, { incidentField: string; uniqueKey: boolean; observables: boolean }> = {
  kind: 'local',
  label: 'Local cases (on the hub)',
  summary: 'cases kept by the hub itself, listed in the SOAR sidebar and closable there; nothing to set up',
  fields: [
    { name: 'pageBase', type: 'string', default: '/soar/cases', pattern: '^/[A-Za-z0-9/_-]*$', patternHint: 'a path such as /soar/cases', hidden: true },
  ],
  supports: { incidentField: "the case's incident key (indexed while the case is open)", uniqueKey: true, observables: true },
  create: (v, context) => {
    if (!context.store) throw new Error("local cases: the hub's state store is needed (is the hub configured?)");
    return createLocalCases({
      store: context.store,
      name: context.name,
      pageBase: (v.pageBase as string | undefined) ?? '/soar/cases',
      ...(context.now ? { now: context.now } : {}),
    });
  },
};
