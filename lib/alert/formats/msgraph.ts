/**
 * Microsoft Graph security alerts_v2 (Defender XDR / Sentinel; docs/vendor-facts.md §A.8), single
 * alerts or a list page {value: [...]}. Entities come from the polymorphic evidence[]: the first
 * of each kind fills the normalised field, every one becomes an observable.
 */
import type { AlertDraft, FormatAdapter, ObservableType, Severity } from '../types';
import { arr, first, isRecord, obj, own, str, strings } from '../util';

const SEVERITY: Readonly<Record<string, Severity>> = { informational: 1, low: 2, medium: 3, high: 4 };
const EVIDENCE_PREFIX = '#microsoft.graph.security.';

function isGraphAlert(item: unknown): boolean {
  if (!isRecord(item)) return false;
  const type = own(item, '@odata.type');
  if (type === '#microsoft.graph.security.alert') return true;
  return (
    typeof own(item, 'createdDateTime') === 'string' &&
    own(item, 'severity') !== undefined &&
    (Array.isArray(own(item, 'evidence')) || own(item, 'detectionSource') !== undefined || own(item, 'serviceSource') !== undefined)
  );
}

type Extra = NonNullable<AlertDraft['extraObservables']>;

function fromEvidence(d: AlertDraft, evidence: unknown[], extra: Extra): void {
  const put = (path: keyof AlertDraft, value: unknown, type: ObservableType, field: string) => {
    if (value === undefined || value === null) return;
    if (d[path] === undefined) d[path] = value as never;
    else extra.push({ type, value, field });
  };
  evidence.slice(0, 64).forEach((ev, i) => {
    if (!isRecord(ev)) return;
    const kind = str(own(ev, '@odata.type'))?.replace(EVIDENCE_PREFIX, '');
    const at = `raw.evidence[${i}]`;
    switch (kind) {
      case 'ipEvidence':
        put('source.ip', own(ev, 'ipAddress'), 'ip', `${at}.ipAddress`);
        break;
      case 'deviceEvidence': {
        put('host.name', own(ev, 'deviceDnsName'), 'host', `${at}.deviceDnsName`);
        if (d['host.id'] === undefined) d['host.id'] = first(own(ev, 'mdeDeviceId'), own(ev, 'azureAdDeviceId'));
        const ips = arr(ev, 'ipInterfaces');
        if (ips && d['host.ip'] === undefined) d['host.ip'] = ips;
        else if (ips) for (const ip of ips.slice(0, 8)) extra.push({ type: 'ip', value: ip, field: `${at}.ipInterfaces` });
        break;
      }
      case 'userEvidence': {
        const account = obj(ev, 'userAccount');
        put('user.name', own(account, 'accountName'), 'user', `${at}.userAccount.accountName`);
        if (d['user.domain'] === undefined) d['user.domain'] = own(account, 'domainName');
        const upn = own(account, 'userPrincipalName');
        if (upn !== undefined) extra.push({ type: 'email', value: upn, field: `${at}.userAccount.userPrincipalName` });
        break;
      }
      case 'fileEvidence':
      case 'processEvidence': {
        const details = obj(ev, 'fileDetails') ?? obj(obj(ev, 'imageFile'), 'fileDetails') ?? obj(ev, 'imageFile');
        if (!details) break;
        const hashes = [own(details, 'sha256'), own(details, 'sha1'), own(details, 'md5')];
        if (d['file.hash'] === undefined && hashes.some((h) => h !== undefined && h !== null)) {
          d['file.hash'] = hashes;
          d['file.name'] = first(
            own(details, 'filePath') !== undefined && own(details, 'fileName') !== undefined
              ? `${String(own(details, 'filePath'))}\\${String(own(details, 'fileName'))}`
              : undefined,
            own(details, 'fileName'),
          );
        } else {
          for (const [j, key] of (['sha256', 'sha1', 'md5'] as const).entries()) {
            if (hashes[j] !== undefined && hashes[j] !== null) extra.push({ type: key, value: hashes[j], field: `${at}.fileDetails.${key}` });
          }
        }
        break;
      }
      case 'urlEvidence':
        put('url.full', own(ev, 'url'), 'url', `${at}.url`);
        break;
      case 'mailboxEvidence':
        extra.push({ type: 'email', value: own(ev, 'primaryAddress'), field: `${at}.primaryAddress` });
        break;
      case 'analyzedMessageEvidence':
        extra.push({ type: 'email', value: own(obj(ev, 'p1Sender'), 'emailAddress'), field: `${at}.p1Sender.emailAddress` });
        extra.push({ type: 'email', value: own(ev, 'recipientEmailAddress'), field: `${at}.recipientEmailAddress` });
        extra.push({ type: 'ip', value: own(ev, 'senderIp'), field: `${at}.senderIp` });
        break;
      default:
        break;
    }
  });
}

export const msgraph: FormatAdapter = {
  format: 'msgraph',

  detect(item) {
    if (isGraphAlert(item)) return true;
    const value = own(item, 'value');
    return Array.isArray(value) && (typeof own(item, '@odata.context') === 'string' || (value.length > 0 && isGraphAlert(value[0])));
  },

  split(item) {
    const value = own(item, 'value');
    return Array.isArray(value) && !isGraphAlert(item) ? { entries: value, label: 'value' } : undefined;
  },

  missing(item) {
    if (own(item, 'title') === undefined) return 'no title';
    if (own(item, 'severity') === undefined) return 'no severity (informational|low|medium|high)';
    if (own(item, 'createdDateTime') === undefined) return 'no createdDateTime';
    return undefined;
  },

  map(item) {
    const severityLabel = str(own(item, 'severity'));
    const status = str(own(item, 'status'));
    const category = str(own(item, 'category'));
    const d: AlertDraft = {
      raw: item,
      id: own(item, 'id'),
      time: first(own(item, 'firstActivityDateTime'), own(item, 'createdDateTime')),
      title: own(item, 'title'),
      description: own(item, 'description'),
      severity: (severityLabel !== undefined ? SEVERITY[severityLabel.toLowerCase()] : undefined) ?? 0,
      severity_label: severityLabel,
      status: status === 'resolved' ? 'resolved' : 'firing',
      'origin.product': first(own(item, 'serviceSource'), own(item, 'productName'), 'microsoft-graph'),
      'origin.id': first(own(item, 'providerAlertId'), own(item, 'id')),
      'origin.url': own(item, 'alertWebUrl'),
      'rule.id': own(item, 'detectorId'),
      'rule.name': own(item, 'title'),
      'rule.ruleset': own(item, 'detectionSource'),
      'rule.mitre': own(item, 'mitreTechniques'),
      tags: [...(category ? [category] : []), ...strings(own(item, 'systemTags'))],
    };
    const extra: Extra = [];
    const evidence = arr(item, 'evidence');
    if (evidence) fromEvidence(d, evidence, extra);
    if (extra.length) d.extraObservables = extra;
    return d;
  },
};
