/**
 * Graylog HTTP notification of the Events system, 3.1+ (docs/vendor-facts.md §A.6). Entities come
 * from event.fields, then event.group_by_fields, then the first backlog message's fields.
 */
import { applyNames, compileNames } from '../fieldmap';
import type { AlertDraft, FormatAdapter, Severity } from '../types';
import { arr, first, isRecord, num, obj, own } from '../util';

const FIELD_NAMES = compileNames({
  'source.ip': ['src_ip', 'source_ip', 'srcip', 'src_addr', 'client_ip', 'remote_addr'],
  'source.port': ['src_port', 'source_port', 'srcport'],
  'destination.ip': ['dst_ip', 'dest_ip', 'destination_ip', 'dstip', 'dst_addr'],
  'destination.port': ['dst_port', 'dest_port', 'destination_port', 'dstport'],
  'user.name': ['user', 'username', 'user_name', 'target_user'],
  'host.name': ['hostname', 'host', 'source'],
  'url.full': ['url', 'request_url'],
  'dns.question.name': ['domain', 'query'],
  'file.hash': ['hash', 'file_hash', 'sha256', 'sha1', 'md5'],
});

/** priority 1 low, 2 normal, 3 high (4 critical on newer releases) -> OCSF 2, 3, 4, 5. */
export function graylogSeverity(priority: number | undefined): Severity {
  switch (priority) {
    case 1:
      return 2;
    case 2:
      return 3;
    case 3:
      return 4;
    case 4:
      return 5;
    default:
      return 0;
  }
}

export const graylog: FormatAdapter = {
  format: 'graylog',

  detect(item) {
    return obj(item, 'event') !== undefined && (own(item, 'event_definition_id') !== undefined || own(item, 'event_definition_title') !== undefined);
  },

  missing(item) {
    if (obj(item, 'event') === undefined) return 'no event object';
    if (own(item, 'event_definition_id') === undefined && own(item, 'event_definition_title') === undefined)
      return 'no event_definition_id or event_definition_title';
    return undefined;
  },

  map(item) {
    const event = obj(item, 'event') ?? {};
    const priority = num(own(event, 'priority'));
    const d: AlertDraft = {
      raw: item,
      id: own(event, 'id'),
      idKey: [own(item, 'event_definition_id'), own(event, 'timestamp'), own(event, 'key')],
      time: first(own(event, 'timestamp'), own(event, 'timestamp_processing')),
      title: first(own(item, 'event_definition_title'), own(event, 'message')),
      description: first(own(event, 'message'), own(item, 'event_definition_description')),
      severity: graylogSeverity(priority),
      severity_label: priority !== undefined ? String(priority) : undefined,
      'origin.product': 'graylog',
      'origin.id': own(event, 'id'),
      'rule.id': first(own(item, 'event_definition_id'), own(event, 'event_definition_id')),
      'rule.name': own(item, 'event_definition_title'),
      'rule.ruleset': first(own(item, 'event_definition_type'), own(event, 'event_definition_type')),
    };
    applyNames(d, obj(event, 'fields'), FIELD_NAMES);
    applyNames(d, obj(event, 'group_by_fields'), FIELD_NAMES);
    const backlog = arr(item, 'backlog');
    if (backlog && isRecord(backlog[0])) applyNames(d, obj(backlog[0], 'fields') ?? backlog[0], FIELD_NAMES);
    return d;
  },
};
