/**
 * Suricata EVE JSON records (docs/vendor-facts.md §A.2). Only event_type "alert" is an alert; flow,
 * dns, http, stats ... records are reported as ignored with the reason.
 */
import type { AlertDraft, FormatAdapter, Severity } from '../types';
import { arr, isRecord, num, obj, own, str, strings } from '../util';

/** alert.severity 1 (highest) .. 4 -> OCSF 4, 3, 2, 1. */
export function suricataSeverity(value: number | undefined): Severity {
  switch (value) {
    case 1:
      return 4;
    case 2:
      return 3;
    case 3:
      return 2;
    case 4:
      return 1;
    default:
      return 0;
  }
}

// EVE record types without flow fields (stats, engine events) still need recognising, to be ignored.
const EVE_TYPES = new Set([
  'alert',
  'anomaly',
  'drop',
  'flow',
  'netflow',
  'stats',
  'fileinfo',
  'dns',
  'http',
  'tls',
  'ssh',
  'smtp',
  'smb',
  'dhcp',
  'files',
  'frame',
  'pkthdr',
  'engine',
]);

export const suricata: FormatAdapter = {
  format: 'suricata',

  detect(item) {
    const eventType = own(item, 'event_type');
    if (typeof eventType !== 'string') return false;
    return (
      own(item, 'flow_id') !== undefined ||
      own(item, 'src_ip') !== undefined ||
      own(item, 'in_iface') !== undefined ||
      (typeof own(item, 'timestamp') === 'string' && EVE_TYPES.has(eventType))
    );
  },

  missing(item) {
    if (typeof own(item, 'event_type') !== 'string') return 'no event_type (not an EVE record)';
    return undefined;
  },

  map(item) {
    const eventType = str(own(item, 'event_type'));
    const alert = obj(item, 'alert');
    if (eventType !== 'alert' || !alert) {
      return { ignore: `suricata event_type '${(eventType ?? '').slice(0, 40)}' is not an alert` };
    }
    const sid = own(alert, 'signature_id');
    const level = num(own(alert, 'severity'));
    const http = obj(item, 'http');
    const tls = obj(item, 'tls');
    const dns = obj(item, 'dns');
    const metadata = obj(alert, 'metadata');

    const d: AlertDraft = {
      raw: item,
      // No native id: flow_id + tx_id + signature_id identify the alert within a sensor.
      idKey: [own(item, 'flow_id'), own(item, 'tx_id'), sid, own(item, 'timestamp'), own(item, 'src_ip'), own(item, 'dest_ip')],
      time: own(item, 'timestamp'),
      title: own(alert, 'signature'),
      severity: suricataSeverity(level),
      severity_label: level !== undefined ? String(level) : undefined,
      'origin.product': 'suricata',
      'rule.id': sid,
      'rule.name': own(alert, 'signature'),
      'rule.mitre': [...strings(own(metadata, 'mitre_technique_id')), ...strings(own(metadata, 'mitre_tactic_id'))],
      'source.ip': own(item, 'src_ip'),
      'source.port': own(item, 'src_port'),
      'destination.ip': own(item, 'dest_ip'),
      'destination.port': own(item, 'dest_port'),
      tags: strings(own(alert, 'category')),
    };

    const hostname = str(own(http, 'hostname'));
    if (hostname !== undefined) {
      const path = str(own(http, 'url')) ?? '/';
      d['url.full'] = path.includes('://') ? path : `http://${hostname}${path.startsWith('/') ? '' : '/'}${path}`;
    }

    // DNS names: EVE v1 dns.rrname, v2 dns.query[].rrname, v3 dns.queries[].rrname.
    const extra: NonNullable<AlertDraft['extraObservables']> = [];
    const queryKey = arr(dns, 'query') ? 'query' : 'queries';
    const queries = arr(dns, queryKey);
    if (queries) {
      queries.slice(0, 16).forEach((q, i) => {
        if (!isRecord(q)) return;
        if (d['dns.question.name'] === undefined) d['dns.question.name'] = own(q, 'rrname');
        else extra.push({ type: 'domain', value: own(q, 'rrname'), field: `raw.dns.${queryKey}[${i}].rrname` });
      });
    } else if (own(dns, 'rrname') !== undefined) d['dns.question.name'] = own(dns, 'rrname');

    const sni = own(tls, 'sni');
    if (sni !== undefined) extra.push({ type: 'domain', value: sni, field: 'raw.tls.sni' });

    // File hashes: fileinfo on alert records (older EVE) or files[] (Suricata 7+).
    const fileinfo = obj(item, 'fileinfo') ?? (isRecord(arr(item, 'files')?.[0]) ? (arr(item, 'files')![0] as Record<string, unknown>) : undefined);
    if (fileinfo) {
      d['file.name'] = own(fileinfo, 'filename');
      d['file.hash.md5'] = own(fileinfo, 'md5');
      d['file.hash.sha1'] = own(fileinfo, 'sha1');
      d['file.hash.sha256'] = own(fileinfo, 'sha256');
    }
    if (extra.length) d.extraObservables = extra;
    return d;
  },
};
