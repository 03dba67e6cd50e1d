/**
 * Any JSON alert: common field names (title/name/summary/message, severity/level/priority,
 * src_ip/source_ip/srcip, ...; nested ECS-style objects work too), then the user's field map
 * (normalised path -> input path), then the user's mapper (normalised path -> value), each
 * overriding the previous. Severity: a word (high, critical, ...) or an OCSF number 0..6.
 */
import { applyFieldMap, applyMapped, applyNames, compileNames } from '../fieldmap';
import type { AlertDraft, FormatAdapter } from '../types';
import { isRecord, lookup, lookupText, type CompiledPath } from '../util';

export const GENERIC_FIELDS = {
  id: ['id', 'alert_id', 'alertId', 'uuid', 'event_id'],
  time: ['@timestamp', 'timestamp', 'time', 'date', 'datetime', 'created_at', 'createdAt', 'created', 'event_time'],
  status: ['status', 'state'],
  title: ['title', 'name', 'summary', 'message', 'subject', 'alert', 'alert_name', 'alertname', 'rule_name', 'signature'],
  description: ['description', 'details', 'detail', 'text', 'body'],
  severity: ['severity', 'level', 'priority', 'urgency'],
  'origin.product': ['product', 'vendor', 'tool'],
  'origin.url': ['alert_url', 'link'],
  'rule.id': ['rule.id', 'rule_id', 'ruleId', 'signature_id'],
  'rule.name': ['rule.name', 'rule_name', 'ruleName', 'rule'],
  'rule.mitre': ['mitre', 'mitre_technique', 'techniques', 'rule.mitre'],
  'source.ip': ['source.ip', 'src_ip', 'source_ip', 'srcip', 'src', 'client_ip', 'remote_ip', 'attacker_ip', 'ip'],
  'source.port': ['source.port', 'src_port', 'source_port', 'srcport', 'sport'],
  'destination.ip': ['destination.ip', 'dst_ip', 'dest_ip', 'destination_ip', 'dstip', 'dst', 'dest', 'target_ip'],
  'destination.port': ['destination.port', 'dst_port', 'dest_port', 'destination_port', 'dstport', 'dport'],
  'host.name': ['host.name', 'host.hostname', 'host', 'hostname', 'host_name', 'computer', 'computer_name', 'device_name', 'device'],
  'host.id': ['host.id', 'host_id', 'device_id', 'agent_id'],
  'host.ip': ['host.ip', 'host_ip'],
  'user.name': ['user.name', 'user', 'username', 'user_name', 'account', 'account_name'],
  'user.domain': ['user.domain', 'user_domain', 'domain_name'],
  'file.name': ['file.path', 'file.name', 'file', 'filename', 'file_name', 'file_path'],
  'file.hash': ['file.hash', 'hash', 'file_hash', 'hashes'],
  'file.hash.md5': ['md5'],
  'file.hash.sha1': ['sha1'],
  'file.hash.sha256': ['sha256'],
  'url.full': ['url.full', 'url.original', 'url', 'uri', 'request_url'],
  'dns.question.name': ['dns.question.name', 'domain', 'fqdn', 'query'],
  tags: ['tags'],
} as const;

const NAMES = compileNames(GENERIC_FIELDS);
const TITLE_NAMES: readonly CompiledPath[] = NAMES.find(([path]) => path === 'title')![1];

function hasTitle(item: Record<string, unknown>): boolean {
  for (const name of TITLE_NAMES) {
    const v = lookup(item, name);
    if ((typeof v === 'string' && v.trim() !== '') || (typeof v === 'number' && Number.isFinite(v))) return true;
  }
  return false;
}

export const generic: FormatAdapter = {
  format: 'generic',

  // The fallback of auto-detection: any object with something to call it by.
  detect(item) {
    return hasTitle(item);
  },

  missing(item, ctx) {
    if (hasTitle(item)) return undefined;
    const mappedFrom = ctx.options.genericFieldMap?.title;
    if (typeof mappedFrom === 'string' && mappedFrom !== '' && lookupText(item, mappedFrom) !== undefined) return undefined;
    const mapped = ctx.options.genericMapper?.(item);
    if (isRecord(mapped) && mapped.title !== undefined && mapped.title !== null && mapped.title !== '') return undefined;
    return `no title (expected one of ${GENERIC_FIELDS.title.join(', ')}, or map one with the generic field map)`;
  },

  map(item, ctx) {
    const d: AlertDraft = { raw: item, looseSeverity: true };
    applyNames(d, item, NAMES);
    applyFieldMap(d, item, ctx.options.genericFieldMap);
    const mapped = ctx.options.genericMapper?.(item);
    if (isRecord(mapped)) applyMapped(d, mapped);
    return d;
  },
};
