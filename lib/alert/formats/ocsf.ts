/**
 * OCSF findings, chiefly Detection Finding class_uid 2004 (docs/vendor-facts.md §A.9): finding_info,
 * severity_id (identity), evidences[] endpoints/user/file/url, observables[], time in epoch ms.
 * Other OCSF classes are events, not alerts, and are reported as ignored.
 */
import type { AlertDraft, FormatAdapter, ObservableType, Severity } from '../types';
import { arr, first, isRecord, num, obj, own, str, type JsonObject } from '../util';

// OCSF observable type_id -> our observable type (2 IP, 1 hostname, 4 user, 5 email, 6 URL, 8 hash, 7 file name skipped).
const OBSERVABLE_TYPES: Readonly<Record<number, ObservableType>> = { 1: 'host', 2: 'ip', 4: 'user', 5: 'email', 6: 'url', 8: 'sha256' };

function isFinding(item: JsonObject): boolean {
  const cls = num(own(item, 'class_uid'));
  return obj(item, 'finding_info') !== undefined || (cls !== undefined && cls >= 2000 && cls < 3000);
}

export const ocsf: FormatAdapter = {
  format: 'ocsf',

  detect(item) {
    return typeof own(item, 'class_uid') === 'number' && (obj(item, 'metadata') !== undefined || obj(item, 'finding_info') !== undefined);
  },

  missing(item) {
    if (num(own(item, 'class_uid')) === undefined) return 'no class_uid';
    if (obj(item, 'finding_info') === undefined) return 'no finding_info (expected a Detection Finding, class_uid 2004)';
    return undefined;
  },

  map(item) {
    if (!isFinding(item)) {
      return { ignore: `ocsf class_uid ${String(num(own(item, 'class_uid')) ?? '?')} is not a finding` };
    }
    const info = obj(item, 'finding_info') ?? {};
    const analytic = obj(info, 'analytic');
    const severityId = num(own(item, 'severity_id'));
    const severity: Severity = severityId !== undefined && Number.isInteger(severityId) && severityId >= 0 && severityId <= 6 ? (severityId as Severity) : 0;
    const statusId = num(own(item, 'status_id'));
    const activityId = num(own(item, 'activity_id'));
    const product = obj(obj(item, 'metadata'), 'product');

    const mitre: unknown[] = [];
    const attacks = arr(info, 'attacks') ?? arr(item, 'attacks');
    if (attacks) {
      for (const a of attacks.slice(0, 32)) {
        mitre.push(own(obj(a, 'technique'), 'uid'), own(obj(a, 'sub_technique'), 'uid'), own(obj(a, 'tactic'), 'uid'));
      }
    }

    const d: AlertDraft = {
      raw: item,
      id: own(info, 'uid'),
      idKey: [own(item, 'time'), own(info, 'title'), own(item, 'message')],
      time: first(own(item, 'time'), own(item, 'time_dt'), own(info, 'created_time')),
      title: first(own(info, 'title'), own(item, 'message')),
      description: first(own(info, 'desc'), own(item, 'message')),
      severity,
      severity_label: first(own(item, 'severity'), severityId !== undefined ? String(severityId) : undefined),
      // status_id 4 Resolved (5 Archived), activity_id 3 Close
      status: statusId === 4 || statusId === 5 || activityId === 3 ? 'resolved' : 'firing',
      'origin.product': first(own(product, 'name'), 'ocsf'),
      'origin.id': own(info, 'uid'),
      'origin.url': own(info, 'src_url'),
      'rule.id': first(own(analytic, 'uid'), own(analytic, 'name')),
      'rule.name': own(analytic, 'name'),
      'rule.ruleset': own(analytic, 'category'),
      'rule.mitre': mitre,
    };

    const device = obj(item, 'device');
    if (device) {
      d['host.name'] = first(own(device, 'hostname'), own(device, 'name'));
      d['host.id'] = own(device, 'uid');
      d['host.ip'] = own(device, 'ip');
    }
    const actorUser = obj(obj(item, 'actor'), 'user');
    if (actorUser) d['user.name'] = own(actorUser, 'name');

    const evidences = arr(item, 'evidences');
    if (evidences) {
      for (const ev of evidences.slice(0, 32)) {
        if (!isRecord(ev)) continue;
        const src = obj(ev, 'src_endpoint');
        const dst = obj(ev, 'dst_endpoint');
        if (src && d['source.ip'] === undefined) {
          d['source.ip'] = own(src, 'ip');
          d['source.port'] = own(src, 'port');
          if (d['host.name'] === undefined) d['host.name'] = own(src, 'hostname');
        }
        if (dst && d['destination.ip'] === undefined) {
          d['destination.ip'] = own(dst, 'ip');
          d['destination.port'] = own(dst, 'port');
        }
        const evDevice = obj(ev, 'device');
        if (evDevice && d['host.name'] === undefined) {
          d['host.name'] = first(own(evDevice, 'hostname'), own(evDevice, 'name'));
          d['host.id'] = own(evDevice, 'uid');
        }
        const user = obj(ev, 'user');
        if (user && d['user.name'] === undefined) {
          d['user.name'] = own(user, 'name');
          d['user.domain'] = own(user, 'domain');
        }
        const file = obj(ev, 'file');
        if (file && d['file.hash'] === undefined) {
          d['file.name'] = first(own(file, 'path'), own(file, 'name'));
          const hashes = arr(file, 'hashes');
          // The hash type is told by length; algorithm_id (1 MD5, 2 SHA-1, 3 SHA-256) is not needed.
          if (hashes) d['file.hash'] = hashes.slice(0, 8).map((h) => own(h, 'value'));
        }
        const url = obj(ev, 'url');
        if (url && d['url.full'] === undefined) d['url.full'] = first(own(url, 'url_string'), own(url, 'url'));
        const query = obj(ev, 'query');
        if (query && d['dns.question.name'] === undefined) d['dns.question.name'] = own(query, 'hostname');
      }
    }

    const observables = arr(item, 'observables');
    if (observables) {
      const extra: NonNullable<AlertDraft['extraObservables']> = [];
      observables.slice(0, 64).forEach((o, i) => {
        const typeId = num(own(o, 'type_id'));
        const type = typeId !== undefined ? OBSERVABLE_TYPES[typeId] : undefined;
        if (!type) return;
        const name = str(own(o, 'name'));
        // A hostname observable with dots is looked up as a domain.
        const value = own(o, 'value');
        const finalType = type === 'host' && typeof value === 'string' && value.includes('.') ? 'domain' : type;
        extra.push({ type: finalType, value, field: name ? `raw.${name}` : `raw.observables[${i}].value` });
      });
      if (extra.length) d.extraObservables = extra;
    }
    return d;
  },
};
