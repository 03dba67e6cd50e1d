/**
 * Wazuh alerts (alerts.json lines) and the integrator envelope {all_fields: alert} that the stock
 * shuffle / custom integrations POST (docs/vendor-facts.md §A.1).
 */
import type { AlertDraft, FormatAdapter, Severity } from '../types';
import { arr, first, isRecord, num, obj, own, SEVERITY_NAMES, strings, type JsonObject } from '../util';

/** rule.level 0..15 (16 allowed in config) -> OCSF: 0-3 info, 4-6 low, 7-10 medium, 11-12 high, 13+ critical. */
export function wazuhSeverity(level: number | undefined): Severity {
  if (level === undefined || !Number.isInteger(level) || level < 0) return 0;
  if (level <= 3) return 1;
  if (level <= 6) return 2;
  if (level <= 10) return 3;
  if (level <= 12) return 4;
  return 5;
}

function isWazuhAlert(item: JsonObject): boolean {
  const rule = obj(item, 'rule');
  return (
    rule !== undefined &&
    own(rule, 'level') !== undefined &&
    (isRecord(own(item, 'agent')) || isRecord(own(item, 'decoder')) || isRecord(own(item, 'manager')) || typeof own(item, 'location') === 'string')
  );
}

export const wazuh: FormatAdapter = {
  format: 'wazuh',

  detect(item) {
    if (isWazuhAlert(item)) return true;
    const inner = obj(item, 'all_fields');
    return inner !== undefined && obj(inner, 'rule') !== undefined;
  },

  split(item) {
    const inner = obj(item, 'all_fields');
    return inner !== undefined ? { entries: [inner], label: 'all_fields' } : undefined;
  },

  missing(item) {
    const rule = obj(item, 'rule');
    if (!rule) return 'no rule object (expected rule.level, rule.id, rule.description)';
    if (own(rule, 'level') === undefined) return 'no rule.level';
    return undefined;
  },

  map(item) {
    const rule = obj(item, 'rule') ?? {};
    const agent = obj(item, 'agent');
    const data = obj(item, 'data');
    const win = obj(obj(data, 'win'), 'eventdata');
    const syscheck = obj(item, 'syscheck');
    const level = num(own(rule, 'level'));
    // Suricata through Wazuh nests the EVE record under data.*
    const eve = obj(data, 'alert');

    const d: AlertDraft = {
      raw: item,
      id: own(item, 'id'),
      time: own(item, 'timestamp'),
      title: first(own(rule, 'description'), own(eve, 'signature')),
      description: own(item, 'full_log'),
      severity: wazuhSeverity(level),
      // The OCSF name of the mapped severity, as the other formats give; the level stays in raw.rule.level.
      severity_label: SEVERITY_NAMES[wazuhSeverity(level)],
      'origin.product': 'wazuh',
      'origin.id': own(item, 'id'),
      'rule.id': own(rule, 'id'),
      'rule.mitre': own(obj(rule, 'mitre'), 'id'),
      'source.ip': first(own(data, 'srcip'), own(data, 'src_ip'), own(win, 'ipAddress')),
      'source.port': first(own(data, 'srcport'), own(data, 'src_port'), own(win, 'ipPort')),
      'destination.ip': first(own(data, 'dstip'), own(data, 'dest_ip')),
      'destination.port': first(own(data, 'dstport'), own(data, 'dest_port')),
      'user.name': first(own(data, 'srcuser'), own(data, 'dstuser'), own(win, 'targetUserName'), own(win, 'subjectUserName')),
      'user.domain': first(own(win, 'targetDomainName'), own(win, 'subjectDomainName')),
      'host.name': own(agent, 'name'),
      'host.id': own(agent, 'id'),
      'host.ip': own(agent, 'ip'),
      'url.full': own(data, 'url'),
      'file.name': own(syscheck, 'path'),
      'file.hash.md5': own(syscheck, 'md5_after'),
      'file.hash.sha1': own(syscheck, 'sha1_after'),
      'file.hash.sha256': own(syscheck, 'sha256_after'),
      tags: strings(own(rule, 'groups')),
    };
    const dnsQuery = arr(obj(data, 'dns'), 'query');
    if (dnsQuery && isRecord(dnsQuery[0])) d['dns.question.name'] = own(dnsQuery[0], 'rrname');
    const sni = own(obj(data, 'tls'), 'sni');
    if (sni !== undefined) d.extraObservables = [{ type: 'domain', value: sni, field: 'raw.data.tls.sni' }];
    return d;
  },
};
