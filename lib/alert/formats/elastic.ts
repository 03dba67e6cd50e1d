/**
 * Elastic Security detection alerts (docs/vendor-facts.md §A.3): alert documents with flat
 * "kibana.alert.*" keys (or nested kibana.alert objects) and ECS entity fields, usually delivered
 * by a Webhook connector as {"alerts": [...]} ({{context.alerts}}).
 */
import type { AlertDraft, FormatAdapter, Severity } from '../types';
import { compilePath, isRecord, lookup, num, own, str, strings, type CompiledPath, type JsonObject } from '../util';

const P = (text: string): CompiledPath => compilePath(text);
const UUID = P('kibana.alert.uuid');
const RULE_NAME = P('kibana.alert.rule.name');
const RULE_UUID = P('kibana.alert.rule.uuid');
const RULE_ID = P('kibana.alert.rule.rule_id');
const RULE_TAGS = P('kibana.alert.rule.tags');
const RULE_THREAT = P('kibana.alert.rule.threat');
const RULE_TYPE = P('kibana.alert.rule.type');
const SEVERITY = P('kibana.alert.severity');
const RISK = P('kibana.alert.risk_score');
const REASON = P('kibana.alert.reason');
const ORIGINAL_TIME = P('kibana.alert.original_time');
const STATUS = P('kibana.alert.status');
const WORKFLOW = P('kibana.alert.workflow_status');
const ALERT_URL = P('kibana.alert.url');
const TIMESTAMP = P('@timestamp');
const SOURCE_IP = P('source.ip');
const SOURCE_PORT = P('source.port');
const DEST_IP = P('destination.ip');
const DEST_PORT = P('destination.port');
const HOST_NAME = P('host.name');
const HOST_HOSTNAME = P('host.hostname');
const HOST_ID = P('host.id');
const HOST_IP = P('host.ip');
const USER_NAME = P('user.name');
const USER_DOMAIN = P('user.domain');
const FILE_NAME = P('file.path');
const FILE_BASENAME = P('file.name');
const FILE_HASH = P('file.hash');
const FILE_MD5 = P('file.hash.md5');
const FILE_SHA1 = P('file.hash.sha1');
const FILE_SHA256 = P('file.hash.sha256');
const PROCESS_HASH = P('process.hash');
const PROCESS_EXE = P('process.executable');
const PROCESS_NAME = P('process.name');
const URL_FULL = P('url.full');
const URL_ORIGINAL = P('url.original');
const DNS_NAME = P('dns.question.name');

const SEVERITY_WORDS: Readonly<Record<string, Severity>> = { low: 2, medium: 3, high: 4, critical: 5 };

/** Elastic's own risk-score bands: 0-21 low, 22-47 medium, 48-73 high, 74-100 critical. */
function fromRiskScore(score: number | undefined): Severity {
  if (score === undefined || score < 0 || score > 100) return 0;
  if (score < 22) return 2;
  if (score < 48) return 3;
  if (score < 74) return 4;
  return 5;
}

function isElasticAlert(item: unknown): boolean {
  return lookup(item, RULE_NAME) !== undefined || lookup(item, UUID) !== undefined;
}

/** MITRE ids from kibana.alert.rule.threat[]: tactic, technique and sub-technique ids. */
function mitreIds(threat: unknown): string[] {
  const out: string[] = [];
  if (!Array.isArray(threat)) return out;
  for (const t of threat.slice(0, 32)) {
    if (!isRecord(t)) continue;
    const techniques = own(t, 'technique');
    if (!Array.isArray(techniques)) continue;
    for (const tech of techniques.slice(0, 32)) {
      const id = str(own(tech, 'id'));
      if (id) out.push(id);
      const subs = own(tech, 'subtechnique');
      if (Array.isArray(subs))
        for (const sub of subs.slice(0, 32)) {
          const subId = str(own(sub, 'id'));
          if (subId) out.push(subId);
        }
    }
  }
  return out;
}

export const elastic: FormatAdapter = {
  format: 'elastic',

  detect(item) {
    if (isElasticAlert(item)) return true;
    const alerts = own(item, 'alerts');
    return Array.isArray(alerts) && alerts.length > 0 && isElasticAlert(alerts[0]);
  },

  split(item) {
    const alerts = own(item, 'alerts');
    return Array.isArray(alerts) && !isElasticAlert(item) ? { entries: alerts, label: 'alerts' } : undefined;
  },

  missing(item) {
    return isElasticAlert(item) ? undefined : 'no kibana.alert.rule.name or kibana.alert.uuid (not an Elastic Security alert document)';
  },

  map(item, ctx) {
    const label = str(lookup(item, SEVERITY));
    const risk = num(lookup(item, RISK));
    const severity = label !== undefined ? (SEVERITY_WORDS[label.toLowerCase()] ?? fromRiskScore(risk)) : fromRiskScore(risk);
    const status = str(lookup(item, STATUS));
    const workflow = str(lookup(item, WORKFLOW));
    const envelope = ctx.envelope as JsonObject | undefined;

    const d: AlertDraft = {
      raw: item,
      id: lookup(item, UUID),
      time: lookup(item, ORIGINAL_TIME) ?? lookup(item, TIMESTAMP),
      title: lookup(item, RULE_NAME) ?? lookup(item, REASON),
      description: lookup(item, REASON),
      severity,
      severity_label: label ?? (risk !== undefined ? String(risk) : undefined),
      status: status === 'recovered' || workflow === 'closed' ? 'resolved' : 'firing',
      'origin.product': 'elastic-security',
      'origin.id': lookup(item, UUID),
      'origin.url': lookup(item, ALERT_URL) ?? own(envelope, 'results_link'),
      'rule.id': lookup(item, RULE_ID) ?? lookup(item, RULE_UUID),
      'rule.name': lookup(item, RULE_NAME),
      'rule.ruleset': lookup(item, RULE_TYPE),
      'rule.mitre': mitreIds(lookup(item, RULE_THREAT)),
      'source.ip': lookup(item, SOURCE_IP),
      'source.port': lookup(item, SOURCE_PORT),
      'destination.ip': lookup(item, DEST_IP),
      'destination.port': lookup(item, DEST_PORT),
      'host.name': lookup(item, HOST_NAME) ?? lookup(item, HOST_HOSTNAME),
      'host.id': lookup(item, HOST_ID),
      'host.ip': lookup(item, HOST_IP),
      'user.name': lookup(item, USER_NAME),
      'user.domain': lookup(item, USER_DOMAIN),
      'url.full': lookup(item, URL_FULL) ?? lookup(item, URL_ORIGINAL),
      'dns.question.name': lookup(item, DNS_NAME),
      tags: strings(lookup(item, RULE_TAGS)),
    };

    // The normalised alert has no process.*: the hash of the process executable is a file hash.
    const fileHash =
      lookup(item, FILE_HASH) ??
      (lookup(item, FILE_SHA256) !== undefined || lookup(item, FILE_SHA1) !== undefined || lookup(item, FILE_MD5) !== undefined
        ? [lookup(item, FILE_SHA256), lookup(item, FILE_SHA1), lookup(item, FILE_MD5)]
        : undefined);
    if (fileHash !== undefined) {
      d['file.hash'] = fileHash;
      d['file.name'] = lookup(item, FILE_NAME) ?? lookup(item, FILE_BASENAME);
    } else {
      const processHash = lookup(item, PROCESS_HASH);
      d['file.hash'] = processHash;
      d['file.name'] =
        lookup(item, FILE_NAME) ??
        lookup(item, FILE_BASENAME) ??
        (processHash !== undefined ? (lookup(item, PROCESS_EXE) ?? lookup(item, PROCESS_NAME)) : undefined);
    }
    return d;
  },
};
