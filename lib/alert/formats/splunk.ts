/**
 * Splunk webhook alert action (docs/vendor-facts.md §A.5): {result: first row, sid, search_name,
 * results_link, owner, app}. Entities come from the result row through a field map (CIM names by
 * default; NormaliseOptions.splunkFieldMap overrides per normalised path). All values are strings.
 */
import { applyFieldMap, applyNames, compileNames } from '../fieldmap';
import type { AlertDraft, FormatAdapter } from '../types';
import { obj, own } from '../util';
import { toIp } from '../values';

/** Normalised path -> CIM result fields, first present wins. */
export const SPLUNK_DEFAULT_FIELDS = {
  time: ['_time'],
  description: ['description', 'signature'],
  severity: ['severity', 'urgency'],
  'source.ip': ['src_ip', 'src'],
  'source.port': ['src_port'],
  'destination.ip': ['dest_ip', 'dest'],
  'destination.port': ['dest_port'],
  'host.name': ['dest_host', 'dvc', 'host'],
  'user.name': ['user', 'src_user'],
  'file.name': ['file_name', 'file_path'],
  'file.hash': ['file_hash', 'hash'],
  'file.hash.md5': ['md5'],
  'file.hash.sha1': ['sha1'],
  'file.hash.sha256': ['sha256'],
  'url.full': ['url'],
  'dns.question.name': ['query'],
  'rule.mitre': ['mitre_technique_id', 'annotations.mitre_attack'],
} as const;

const DEFAULT_NAMES = compileNames(SPLUNK_DEFAULT_FIELDS);

export const splunk: FormatAdapter = {
  format: 'splunk',

  detect(item) {
    return obj(item, 'result') !== undefined && (typeof own(item, 'search_name') === 'string' || typeof own(item, 'sid') === 'string');
  },

  missing(item) {
    if (obj(item, 'result') === undefined) return 'no result object';
    if (own(item, 'search_name') === undefined && own(item, 'sid') === undefined) return 'no search_name or sid';
    return undefined;
  },

  map(item, ctx) {
    const result = obj(item, 'result') ?? {};
    const d: AlertDraft = {
      raw: item,
      id: own(item, 'sid'),
      title: own(item, 'search_name'),
      looseSeverity: true,
      'origin.product': 'splunk',
      'origin.id': own(item, 'sid'),
      'origin.url': own(item, 'results_link'),
      // The saved search is the rule: sid changes every run, search_name does not.
      'rule.name': own(item, 'search_name'),
      'rule.ruleset': own(item, 'app'),
    };
    applyFieldMap(d, result, ctx.options.splunkFieldMap);
    applyNames(d, result, DEFAULT_NAMES);
    // CIM "dest" is a host name or an address.
    const dest = d['destination.ip'];
    if (dest !== undefined && toIp(dest) === undefined && d['host.name'] === undefined) {
      d['host.name'] = dest;
      d['destination.ip'] = undefined;
    }
    return d;
  },
};
