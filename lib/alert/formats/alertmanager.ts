/**
 * Prometheus Alertmanager webhook, version "4" (docs/vendor-facts.md §A.4): one alert per alerts[]
 * entry; resolved entries stay resolved. Single alert objects (as an upstream node may pass
 * them) are accepted too.
 */
import { compileNames, applyNames } from '../fieldmap';
import type { AlertDraft, FormatAdapter } from '../types';
import { first, isRecord, obj, own, severityFromWord, str, type JsonObject } from '../util';
import { isIp } from '../values';

// Entities only exist where people put them in labels; these are the names in common use.
const LABEL_NAMES = compileNames({
  'source.ip': ['src_ip', 'source_ip', 'srcip', 'client_ip', 'remote_ip'],
  'source.port': ['src_port', 'source_port'],
  'destination.ip': ['dst_ip', 'dest_ip', 'destination_ip', 'dstip'],
  'destination.port': ['dst_port', 'dest_port', 'destination_port'],
  'user.name': ['user', 'username', 'user_name'],
  'host.name': ['hostname', 'host', 'nodename', 'node'],
  'url.full': ['url'],
  'dns.question.name': ['domain', 'fqdn'],
});

function isSingleAlert(item: unknown): boolean {
  return isRecord(own(item, 'labels')) && typeof own(item, 'startsAt') === 'string';
}

/** "198.18.10.12:9100" -> "198.18.10.12", "[2001:db8::1]:9100" -> "2001:db8::1", "web-02:9100" -> "web-02". */
function instanceHost(instance: string): string {
  if (instance.startsWith('[')) {
    const end = instance.indexOf(']');
    return end > 0 ? instance.slice(1, end) : instance;
  }
  if (isIp(instance)) return instance; // bare IPv6 has colons but no port
  const colon = instance.lastIndexOf(':');
  return colon > 0 && instance.indexOf(':') === colon ? instance.slice(0, colon) : instance;
}

export const alertmanager: FormatAdapter = {
  format: 'alertmanager',

  detect(item) {
    if (isSingleAlert(item)) return true;
    const alerts = own(item, 'alerts');
    if (!Array.isArray(alerts)) return false;
    return (
      own(item, 'version') === '4' ||
      (own(item, 'groupKey') !== undefined && own(item, 'receiver') !== undefined) ||
      (alerts.length > 0 && isSingleAlert(alerts[0]))
    );
  },

  split(item) {
    const alerts = own(item, 'alerts');
    return Array.isArray(alerts) && !isSingleAlert(item) ? { entries: alerts, label: 'alerts' } : undefined;
  },

  missing(item) {
    if (!isRecord(own(item, 'labels'))) return 'no labels object (expected a webhook body with alerts[] or an alert with labels and startsAt)';
    if (typeof own(item, 'startsAt') !== 'string') return 'no startsAt';
    return undefined;
  },

  map(item, ctx) {
    const labels = obj(item, 'labels') ?? {};
    const annotations = obj(item, 'annotations');
    const envelope = ctx.envelope as JsonObject | undefined;
    const severityLabel = str(own(labels, 'severity'));
    const fingerprint = str(own(item, 'fingerprint'));
    const startsAt = str(own(item, 'startsAt'));
    const instance = str(own(labels, 'instance'));
    const host = instance !== undefined ? instanceHost(instance) : undefined;
    const receiver = str(own(envelope, 'receiver'));

    const d: AlertDraft = {
      raw: item,
      // Alertmanager's fingerprint is per label set; with startsAt it names one firing episode.
      id: fingerprint !== undefined && startsAt !== undefined ? `${fingerprint}@${startsAt}` : undefined,
      idKey: [labels, startsAt],
      time: startsAt,
      status: first(own(item, 'status'), own(envelope, 'status')),
      title: first(own(annotations, 'summary'), own(annotations, 'title'), own(labels, 'alertname')),
      description: first(own(annotations, 'description'), own(annotations, 'message')),
      severity: severityFromWord(severityLabel) ?? 0,
      severity_label: severityLabel,
      'origin.product': 'alertmanager',
      'origin.id': fingerprint,
      'origin.url': first(own(item, 'generatorURL'), own(envelope, 'externalURL')),
      'rule.name': own(labels, 'alertname'),
      'rule.ruleset': own(labels, 'job'),
      tags: receiver !== undefined ? [`receiver:${receiver}`] : undefined,
    };
    applyNames(d, labels, LABEL_NAMES);
    if (d['host.name'] === undefined && host !== undefined) d['host.name'] = host;
    if (host !== undefined && isIp(host)) d['host.ip'] = [host];
    return d;
  },
};
