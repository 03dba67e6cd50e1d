/**
 * CrowdSec alerts as the LAPI models them (docs/vendor-facts.md §A.7): what the http notification
 * plugin POSTs (a JSON array of alerts by default) and GET /v1/alerts returns. CrowdSec has no
 * severity: medium (3) by policy.
 */
import type { AlertDraft, FormatAdapter } from '../types';
import { arr, first, isRecord, obj, own, str } from '../util';

const CROWDSEC_SEVERITY = 3;

/** key/value pairs from events[].meta and the alert's meta, first value per key. */
function metaValues(item: Record<string, unknown>): Map<string, unknown> {
  const values = new Map<string, unknown>();
  const take = (meta: unknown) => {
    if (!Array.isArray(meta)) return;
    for (const m of meta.slice(0, 64)) {
      const key = str(own(m, 'key'));
      if (key !== undefined && !values.has(key)) values.set(key, own(m, 'value'));
    }
  };
  take(own(item, 'meta'));
  const events = arr(item, 'events');
  if (events) for (const e of events.slice(0, 16)) if (isRecord(e)) take(own(e, 'meta'));
  return values;
}

export const crowdsec: FormatAdapter = {
  format: 'crowdsec',

  detect(item) {
    return (
      typeof own(item, 'scenario') === 'string' &&
      (isRecord(own(item, 'source')) || Array.isArray(own(item, 'decisions'))) &&
      (own(item, 'machine_id') !== undefined || own(item, 'start_at') !== undefined || own(item, 'events_count') !== undefined)
    );
  },

  missing(item) {
    if (typeof own(item, 'scenario') !== 'string') return 'no scenario';
    if (!isRecord(own(item, 'source')) && !Array.isArray(own(item, 'decisions'))) return 'no source object or decisions';
    return undefined;
  },

  map(item) {
    const source = obj(item, 'source');
    const scope = str(own(source, 'scope'))?.toLowerCase();
    const meta = metaValues(item);
    const decisions = arr(item, 'decisions') ?? [];
    const tags: string[] = [];
    for (const decision of decisions.slice(0, 8)) {
      const type = str(own(decision, 'type'));
      if (type && !tags.includes(`decision:${type}`)) tags.push(`decision:${type}`);
    }
    if (own(item, 'simulated') === true) tags.push('crowdsec:simulated');
    const machine = str(own(item, 'machine_id'));
    if (machine) tags.push(`machine:${machine}`);

    const d: AlertDraft = {
      raw: item,
      id: first(own(item, 'uuid'), own(item, 'id')),
      idKey: [own(item, 'machine_id'), own(item, 'scenario'), own(source, 'value'), own(item, 'start_at')],
      time: first(own(item, 'start_at'), own(item, 'created_at')),
      title: first(own(item, 'message'), own(item, 'scenario')),
      severity: CROWDSEC_SEVERITY,
      'origin.product': 'crowdsec',
      'origin.id': first(own(item, 'uuid'), own(item, 'id')),
      'rule.name': own(item, 'scenario'),
      'source.ip': first(own(source, 'ip'), scope === 'ip' ? own(source, 'value') : undefined),
      'user.name': first(meta.get('target_user'), meta.get('user')),
      tags,
    };
    const fqdn = meta.get('target_fqdn');
    if (fqdn !== undefined) d.extraObservables = [{ type: 'domain', value: fqdn, field: 'raw.events.meta.target_fqdn' }];
    return d;
  },
};
