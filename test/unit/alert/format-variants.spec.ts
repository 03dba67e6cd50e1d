/**
 * Vendor variants the golden samples do not carry: every Microsoft Graph evidence kind, OCSF
 * findings with device, actor, MITRE attacks and each evidence part, Elastic MITRE threat lists and
 * hash fallbacks, and the messages a fixed format gives for an item that is not of it. Each case
 * starts from a real sample and changes only what the variant needs.
 */
import assert from 'node:assert/strict';
import { AlertInputError, detectFormat, fieldMapErrors, normalise, type NormalisedAlert, type NormaliseOptions } from '../../../lib/alert';
import { sampleJson } from './helpers';

const RECEIVED = new Date('2026-11-23T00:00:00.000Z');
const SHA256 = 'a'.repeat(64);
const SHA1 = 'b'.repeat(40);
const MD5 = 'c'.repeat(32);

function one(item: unknown, opts: NormaliseOptions = {}): NormalisedAlert {
  const { alerts, ignored } = normalise([item], { received: RECEIVED, ...opts });
  assert.deepEqual(ignored, []);
  assert.equal(alerts.length, 1);
  return alerts[0];
}

function refused(item: unknown, format: NormaliseOptions['format'], message: string): void {
  assert.throws(
    () => normalise([item], { format }),
    (err: unknown) => err instanceof AlertInputError && err.status === 400 && err.message === message,
  );
}

const observed = (alert: NormalisedAlert) => alert.observables.map((o) => `${o.type} ${o.value} ${o.field}`);

describe('alert format variants', () => {
  describe('msgraph evidence kinds', () => {
    const page = sampleJson('samples-extra', 'msgraph', 'alerts-v2.json');
    const sample = (page.value as Record<string, unknown>[])[0];
    const ev = (kind: string, fields: Record<string, unknown>) => ({ '@odata.type': `#microsoft.graph.security.${kind}`, ...fields });
    const withEvidence = (evidence: unknown[], extra: Record<string, unknown> = {}) => ({ ...sample, evidence, ...extra });

    it('recognises an alert without @odata.type by createdDateTime, severity and one of evidence / detectionSource / serviceSource', () => {
      const { '@odata.type': _t, ...bare } = sample;
      assert.equal(detectFormat(bare), 'msgraph');
      const { evidence: _e, serviceSource: _s, ...noEvidence } = bare;
      assert.equal(detectFormat(noEvidence), 'msgraph', 'detectionSource is enough');
      const { detectionSource: _d, ...nothing } = noEvidence;
      assert.notEqual(detectFormat(nothing), 'msgraph', 'createdDateTime and severity alone are not enough');
      assert.notEqual(detectFormat({ ...bare, createdDateTime: 20261122 }), 'msgraph', 'createdDateTime must be a string');
    });

    it('reads a list page without @odata.context when its first entry is an alert, and splits it', () => {
      const list = { value: [sample, { ...sample, id: 'second', providerAlertId: 'second' }] };
      assert.equal(detectFormat(list), 'msgraph');
      const { alerts } = normalise([list], { received: RECEIVED });
      assert.deepEqual(
        alerts.map((a) => a.id),
        [sample.id, 'second'],
      );
      assert.notEqual(detectFormat({ value: [] }), 'msgraph', 'an empty value list without @odata.context is nothing');
      assert.notEqual(detectFormat({ value: [{ a: 1 }] }), 'msgraph');
    });

    it('device evidence: host name, the MDE id before the Azure AD id, addresses; a second device only adds observables', () => {
      const alert = one(
        withEvidence([
          ev('deviceEvidence', { deviceDnsName: 'pc-1.corp.example', azureAdDeviceId: 'aad-1', ipInterfaces: ['198.18.1.1'] }),
          ev('deviceEvidence', { deviceDnsName: 'pc-2.corp.example', mdeDeviceId: 'mde-2', ipInterfaces: ['198.18.1.2', '198.18.1.3'] }),
        ]),
      );
      assert.equal(alert.host?.name, 'pc-1.corp.example');
      assert.equal(alert.host?.id, 'aad-1', 'the first device keeps its id');
      assert.deepEqual(alert.host?.ip, ['198.18.1.1']);
      const seen = observed(alert);
      assert.ok(seen.includes('host pc-2.corp.example raw.evidence[1].deviceDnsName'), seen.join('\n'));
      assert.ok(seen.includes('ip 198.18.1.2 raw.evidence[1].ipInterfaces'), seen.join('\n'));
      assert.ok(seen.includes('ip 198.18.1.3 raw.evidence[1].ipInterfaces'), seen.join('\n'));
      const mde = one(withEvidence([ev('deviceEvidence', { deviceDnsName: 'pc-3', mdeDeviceId: 'mde-3', azureAdDeviceId: 'aad-3' })]));
      assert.equal(mde.host?.id, 'mde-3');
    });

    it('user evidence: account name and domain, the UPN as an email observable', () => {
      const alert = one(
        withEvidence([
          ev('userEvidence', { userAccount: { accountName: 'alice', domainName: 'CORP', userPrincipalName: 'alice@corp.example' } }),
          ev('userEvidence', { userAccount: { accountName: 'bob', domainName: 'OTHER' } }),
        ]),
      );
      assert.equal(alert.user?.name, 'alice');
      assert.equal(alert.user?.domain, 'CORP', 'the first domain stays');
      const seen = observed(alert);
      assert.ok(seen.includes('email alice@corp.example raw.evidence[0].userAccount.userPrincipalName'), seen.join('\n'));
      assert.ok(seen.includes('user bob raw.evidence[1].userAccount.accountName'), seen.join('\n'));
    });

    it('process evidence with the hashes under imageFile.fileDetails; a later file adds each of its hashes', () => {
      const alert = one(
        withEvidence([
          ev('processEvidence', { imageFile: { fileDetails: { sha256: SHA256, fileName: 'evil.exe', filePath: 'C:\\Temp' } } }),
          ev('fileEvidence', { fileDetails: { sha1: SHA1, md5: MD5, sha256: null } }),
        ]),
      );
      assert.equal(alert.file?.hash?.sha256, SHA256);
      assert.equal(alert.file?.name, 'C:\\Temp\\evil.exe');
      const seen = observed(alert);
      assert.ok(seen.includes(`sha1 ${SHA1} raw.evidence[1].fileDetails.sha1`), seen.join('\n'));
      assert.ok(seen.includes(`md5 ${MD5} raw.evidence[1].fileDetails.md5`), seen.join('\n'));
      assert.equal(seen.filter((s) => s.startsWith('sha256')).length, 1, 'a null hash is no observable');
    });

    it('file evidence: the bare name without a path; no details at all is skipped', () => {
      const named = one(withEvidence([ev('fileEvidence', {}), ev('fileEvidence', { fileDetails: { md5: MD5, fileName: 'a.dll' } })]));
      assert.equal(named.file?.name, 'a.dll');
      assert.equal(named.file?.hash?.md5, MD5);
      // hashes all null: the file fields stay empty
      const empty = one(withEvidence([ev('fileEvidence', { fileDetails: { sha256: null, fileName: 'x' } })]));
      assert.equal(empty.file, undefined);
    });

    it('mail evidence: mailbox address, sender, recipient and sender IP become observables', () => {
      const alert = one(
        withEvidence([
          ev('mailboxEvidence', { primaryAddress: 'ceo@corp.example' }),
          ev('analyzedMessageEvidence', {
            p1Sender: { emailAddress: 'phish@bad.example' },
            recipientEmailAddress: 'ceo@corp.example',
            senderIp: '203.0.113.90',
          }),
          ev('urlEvidence', { url: 'https://bad.example/login' }),
          ev('someFutureEvidence', { ipAddress: '203.0.113.91' }),
          'not an object',
        ]),
      );
      const seen = observed(alert);
      for (const want of [
        'email ceo@corp.example raw.evidence[0].primaryAddress',
        'email phish@bad.example raw.evidence[1].p1Sender.emailAddress',
        'ip 203.0.113.90 raw.evidence[1].senderIp',
        'url https://bad.example/login url.full',
      ])
        assert.ok(seen.includes(want), `${want} in\n${seen.join('\n')}`);
      assert.ok(!seen.some((s) => s.includes('203.0.113.91')), 'an unknown evidence kind is skipped');
    });

    it('status, product fallbacks and tags', () => {
      const resolved = one(
        withEvidence([], { status: 'resolved', serviceSource: undefined, productName: 'Defender XDR', category: undefined, systemTags: ['Red Team'] }),
      );
      assert.equal(resolved.status, 'resolved');
      assert.equal(resolved.origin.product, 'Defender XDR');
      assert.deepEqual(resolved.tags, ['Red Team']);
      const bare = one(withEvidence([], { status: 'inProgress', serviceSource: undefined, productName: undefined, category: 'Execution' }));
      assert.equal(bare.status, 'firing');
      assert.equal(bare.origin.product, 'microsoft-graph');
      assert.deepEqual(bare.tags, ['Execution']);
    });

    it('a fixed msgraph format names what an item lacks', () => {
      refused({ severity: 'high', createdDateTime: 'x' }, 'msgraph', 'item 1 is not a msgraph alert: no title');
      refused({ title: 't', createdDateTime: 'x' }, 'msgraph', 'item 1 is not a msgraph alert: no severity (informational|low|medium|high)');
      refused({ title: 't', severity: 'low' }, 'msgraph', 'item 1 is not a msgraph alert: no createdDateTime');
    });
  });

  describe('ocsf findings', () => {
    const finding = sampleJson('samples', 'ocsf', 'detection-finding.json');

    it('device, actor, analytic category and MITRE attacks from finding_info', () => {
      const alert = one({
        ...finding,
        device: { hostname: 'srv-9', uid: 'dev-9', ip: '198.18.9.9' },
        actor: { user: { name: 'svc-backup' } },
        finding_info: {
          ...(finding.finding_info as object),
          src_url: 'https://edr.example/f/8812',
          analytic: { name: 'ransom-rename', category: 'ransomware' },
          attacks: [{ technique: { uid: 'T1486' }, sub_technique: { uid: 'T1486.001' }, tactic: { uid: 'TA0040' } }, { tactic: { uid: 'TA0005' } }],
        },
      });
      assert.equal(alert.host?.name, 'srv-9', 'the device wins over the evidence endpoint');
      assert.equal(alert.host?.id, 'dev-9');
      assert.deepEqual(alert.host?.ip, ['198.18.9.9']);
      assert.equal(alert.user?.name, 'svc-backup');
      assert.equal(alert.rule?.id, 'ransom-rename', 'the analytic name when it has no uid');
      assert.equal(alert.rule?.ruleset, 'ransomware');
      assert.equal(alert.origin.url, 'https://edr.example/f/8812');
      assert.deepEqual(alert.rule?.mitre, ['T1486', 'T1486.001', 'TA0040', 'TA0005']);
    });

    it('attacks at the top level when finding_info has none', () => {
      const alert = one({ ...finding, attacks: [{ technique: { uid: 'T1059' } }] });
      assert.deepEqual(alert.rule?.mitre, ['T1059']);
    });

    it('each evidence part: destination, device, user with domain, file path, URL and DNS query; the first of each wins', () => {
      const alert = one({
        ...finding,
        evidences: [
          'skipped',
          { dst_endpoint: { ip: '198.18.60.5', port: 443 } },
          { device: { name: 'ws-5', uid: 'd-5' }, user: { name: 'carol', domain: 'CORP' } },
          {
            file: { path: '/tmp/x.sh', name: 'x.sh', hashes: [{ value: SHA256 }, { value: MD5 }] },
            url: { url_string: 'http://bad.example/x.sh' },
            query: { hostname: 'c2.bad.example' },
          },
          { user: { name: 'dave' }, url: { url: 'http://other.example/' }, src_endpoint: { ip: '198.18.40.23', port: 5555, hostname: 'ws-23' } },
        ],
      });
      assert.equal(alert.destination?.ip, '198.18.60.5');
      assert.equal(alert.destination?.port, 443);
      assert.equal(alert.host?.name, 'ws-5');
      assert.equal(alert.host?.id, 'd-5');
      assert.equal(alert.user?.name, 'carol');
      assert.equal(alert.user?.domain, 'CORP');
      assert.equal(alert.file?.name, '/tmp/x.sh');
      assert.equal(alert.file?.hash?.sha256, SHA256);
      assert.equal(alert.file?.hash?.md5, MD5);
      assert.equal(alert.url?.full, 'http://bad.example/x.sh');
      assert.equal(alert.dns?.question?.name, 'c2.bad.example');
      assert.equal(alert.source?.ip, '198.18.40.23');
      assert.equal(alert.source?.port, 5555);
    });

    it('severity_id only 0..6 as an integer; status 5 and activity 3 are resolved; time_dt when time is missing', () => {
      const { time: _t, ...noTime } = finding;
      for (const [severity_id, severity] of [
        [6, 6],
        [0, 0],
        [7, 0],
        [-1, 0],
        [2.5, 0],
      ] as const)
        assert.equal(one({ ...finding, severity_id }).severity, severity, `severity_id ${severity_id}`);
      assert.equal(one({ ...finding, status_id: 5 }).status, 'resolved');
      assert.equal(one({ ...finding, status_id: 1, activity_id: 3 }).status, 'resolved');
      assert.equal(one({ ...finding, status_id: 2, activity_id: 2 }).status, 'firing');
      assert.equal(one({ ...noTime, time_dt: '2026-11-20T10:00:00Z' }).time, '2026-11-20T10:00:00.000Z');
      assert.equal(one({ ...finding, severity: 'Critical' }).severity_label, 'Critical');
      assert.equal(one({ ...finding, severity_id: 3 }).severity_label, '3');
    });

    it('observables: unknown type ids are skipped, an unnamed one is placed by its index, a hostname without dots stays a host', () => {
      const alert = one({
        ...finding,
        observables: [
          { type_id: 7, name: 'file.name', value: 'a.txt' },
          { type_id: 99, value: 'x' },
          { type_id: 1, value: 'fileserver' },
          { type_id: 5, value: 'x@corp.example' },
        ],
      });
      const seen = observed(alert);
      assert.ok(seen.includes('host fileserver raw.observables[2].value'), seen.join('\n'));
      assert.ok(seen.includes('email x@corp.example raw.observables[3].value'), seen.join('\n'));
      assert.ok(!seen.some((s) => s.includes('a.txt')), 'file names (type 7) are not observables');
    });

    it('observable values are typed by what they are: a dotted host that is an address, a hash by its length, a user that is an email', () => {
      const alert = one({
        ...finding,
        evidences: [],
        observables: [
          { type_id: 1, name: 'peer', value: '198.18.5.5' },
          { type_id: 6, name: 'link', value: 'http://[2001:2::7]:8080/x' },
          { type_id: 6, name: 'broken', value: 'http://bad host/' },
          { type_id: 8, name: 'short', value: MD5.toUpperCase() },
          { type_id: 8, name: 'junk', value: 'not-a-hash' },
          { type_id: 4, name: 'who', value: 'eve@corp.example' },
        ],
      });
      const seen = observed(alert);
      for (const want of [
        'ip 198.18.5.5 raw.peer',
        'url http://[2001:2::7]:8080/x raw.link',
        'ip 2001:2::7 raw.link',
        `md5 ${MD5} raw.short`,
        'email eve@corp.example raw.who',
      ])
        assert.ok(seen.includes(want), `${want} in\n${seen.join('\n')}`);
      assert.ok(!seen.some((x) => x.endsWith('raw.broken') || x.endsWith('raw.junk')), seen.join('\n'));
    });

    it('epoch times in seconds, microseconds and nanoseconds', () => {
      for (const time of [1763806500, 1763806500000000, 1763806500000000000])
        assert.equal(one({ ...finding, time }).time, '2025-11-22T10:15:00.000Z', `time ${time}`);
    });

    it('a finding is a 2xxx class or anything with finding_info; detection needs a numeric class_uid and metadata or finding_info', () => {
      const { finding_info: _f, ...noInfo } = finding;
      const event = (class_uid: number) => ({ ...noInfo, class_uid, message: 'm' });
      for (const cls of [2000, 2999]) assert.equal(one(event(cls)).title, 'm', `class ${cls}`);
      for (const cls of [1999, 3000]) assert.deepEqual(normalise([event(cls)]).ignored, [{ index: 0, reason: `ocsf class_uid ${cls} is not a finding` }]);
      const { metadata: _m, ...noMetadata } = finding;
      assert.equal(detectFormat(noMetadata), 'ocsf');
      assert.notEqual(detectFormat({ ...finding, class_uid: '2004' }), 'ocsf');
      assert.notEqual(detectFormat({ class_uid: 2004 }), 'ocsf');
    });

    it('the first evidence with each part fills it; later ones do not overwrite', () => {
      const alert = one({
        ...finding,
        evidences: [
          { src_endpoint: { ip: '198.18.1.1', port: 1 }, dst_endpoint: { ip: '198.18.2.1', port: 2 }, device: { hostname: 'h-1', uid: 'u-1' } },
          { file: { name: 'a.bin', hashes: [{ value: SHA256 }] }, query: { hostname: 'q1.example.com' } },
          {
            src_endpoint: { ip: '198.18.1.9', port: 9, hostname: 'h-9' },
            dst_endpoint: { ip: '198.18.2.9', port: 9 },
            device: { hostname: 'h-8', uid: 'u-8' },
            file: { name: 'b.bin', hashes: [{ value: SHA1 }] },
            query: { hostname: 'q2.example.com' },
          },
        ],
      });
      assert.deepEqual(alert.source, { ip: '198.18.1.1', port: 1 });
      assert.deepEqual(alert.destination, { ip: '198.18.2.1', port: 2 });
      assert.equal(alert.host?.name, 'h-1');
      assert.equal(alert.host?.id, 'u-1');
      assert.equal(alert.file?.name, 'a.bin');
      assert.deepEqual(alert.file?.hash, { sha256: SHA256 });
      assert.equal(alert.dns?.question?.name, 'q1.example.com');
      const named = one({ ...finding, evidences: [{ src_endpoint: { ip: '198.18.1.1', hostname: 'from-src' } }] });
      assert.equal(named.host?.name, 'from-src', 'the source endpoint names the host when no device does');
    });

    it('without an id the alert id is derived from time, title and message, and differs when they do', () => {
      const { uid: _u, ...info } = finding.finding_info as Record<string, unknown>;
      const a = one({ ...finding, finding_info: info });
      const b = one({ ...finding, finding_info: { ...info, title: 'other' } });
      const c = one({ ...finding, finding_info: info, time: 1763806600000 });
      const d = one({ ...finding, finding_info: info, message: 'x' });
      assert.equal(one({ ...finding, finding_info: info }).id, a.id, 'stable');
      assert.equal(new Set([a.id, b.id, c.id, d.id]).size, 4);
    });

    it('a fixed ocsf format names what an item lacks', () => {
      refused({ metadata: {} }, 'ocsf', 'item 1 is not an ocsf alert: no class_uid');
      refused({ class_uid: 2004 }, 'ocsf', 'item 1 is not an ocsf alert: no finding_info (expected a Detection Finding, class_uid 2004)');
    });
  });

  describe('elastic', () => {
    const doc = (sampleJson('samples', 'elastic', 'detection-alert.json').alerts as Record<string, unknown>[])[0];

    it('collects technique and sub-technique ids of every threat entry', () => {
      const alert = one({
        ...doc,
        'kibana.alert.rule.threat': [
          { framework: 'MITRE ATT&CK', technique: [{ id: 'T1003', subtechnique: [{ id: 'T1003.001' }, { name: 'no id' }] }, { id: 'T1055' }] },
          { framework: 'MITRE ATT&CK', tactic: { id: 'TA0006' } },
          'junk',
        ],
      });
      assert.deepEqual(alert.rule?.mitre, ['T1003', 'T1003.001', 'T1055']);
    });

    it('file hashes given as flat ECS keys, and the file path before its name', () => {
      const { process: _p, ...rest } = doc;
      const alert = one({ ...rest, 'file.hash.sha1': SHA1, 'file.hash.md5': MD5, 'file.path': 'C:\\x\\a.dll', 'file.name': 'a.dll' });
      assert.equal(alert.file?.hash?.sha1, SHA1);
      assert.equal(alert.file?.hash?.md5, MD5);
      assert.equal(alert.file?.name, 'C:\\x\\a.dll');
      const named = one({ ...rest, 'file.hash.sha256': SHA256, 'file.name': 'b.dll' });
      assert.equal(named.file?.name, 'b.dll');
    });

    it('the process hash is the file hash, named by the executable path, else the process name', () => {
      const exe = one({ ...doc, process: { name: 'rundll32.exe', executable: 'C:\\Windows\\rundll32.exe', hash: { sha256: SHA256 } } });
      assert.equal(exe.file?.hash?.sha256, SHA256);
      assert.equal(exe.file?.name, 'C:\\Windows\\rundll32.exe');
      const name = one(doc);
      assert.equal(name.file?.name, 'rundll32.exe');
      const noHash = one({ ...doc, process: { name: 'rundll32.exe' } });
      assert.equal(noHash.file, undefined, 'a process without a hash names no file');
    });
  });

  describe('wazuh', () => {
    const sample = sampleJson('samples', 'wazuh', 'sshd-bruteforce.json');
    const { agent: _a, manager: _m, decoder: _d, location: _l, ...ruleOnly } = sample;

    it('a rule with a level and one of agent, decoder, manager or location; the integrator envelope too', () => {
      assert.notEqual(detectFormat(ruleOnly), 'wazuh');
      for (const extra of [{ agent: {} }, { decoder: {} }, { manager: {} }, { location: 'x' }])
        assert.equal(detectFormat({ ...ruleOnly, ...extra }), 'wazuh', JSON.stringify(extra));
      assert.notEqual(detectFormat({ ...ruleOnly, location: 7 }), 'wazuh');
      assert.notEqual(detectFormat({ ...sample, rule: { id: '1' } }), 'wazuh', 'no level');
      assert.equal(detectFormat({ all_fields: ruleOnly }), 'wazuh');
      assert.notEqual(detectFormat({ all_fields: { a: 1 } }), 'wazuh');
      const { alerts } = normalise([{ all_fields: sample }], { received: RECEIVED });
      assert.equal(alerts[0].id, '1763626443.882211');
      refused({ agent: {} }, 'wazuh', 'item 1 is not a wazuh alert: no rule object (expected rule.level, rule.id, rule.description)');
      refused({ rule: { id: '1' } }, 'wazuh', 'item 1 is not a wazuh alert: no rule.level');
    });

    it('Windows event data, destination fields, URL, agent address, syscheck hashes, DNS and SNI', () => {
      const alert = one({
        ...sample,
        data: {
          win: { eventdata: { ipAddress: '203.0.113.70', ipPort: '3389', targetUserName: 'svc', targetDomainName: 'CORP' } },
          dest_ip: '198.18.9.1',
          dest_port: '445',
          url: 'http://evil.example.com/a',
          dns: { query: [{ rrname: 'c2.example.com' }] },
          tls: { sni: 'sni.example.com' },
        },
        syscheck: { path: '/etc/passwd', md5_after: MD5, sha1_after: SHA1, sha256_after: SHA256 },
      });
      assert.deepEqual(alert.source, { ip: '203.0.113.70', port: 3389 });
      assert.deepEqual(alert.destination, { ip: '198.18.9.1', port: 445 });
      assert.deepEqual(alert.user, { name: 'svc', domain: 'CORP' });
      assert.deepEqual(alert.host, { name: 'web-02', id: '004', ip: ['198.18.10.12'] });
      assert.equal(alert.url?.full, 'http://evil.example.com/a');
      assert.deepEqual(alert.file, { name: '/etc/passwd', hash: { md5: MD5, sha1: SHA1, sha256: SHA256 } });
      assert.equal(alert.dns?.question?.name, 'c2.example.com');
      assert.ok(observed(alert).includes('domain sni.example.com raw.data.tls.sni'), observed(alert).join('\n'));
      assert.equal(alert.origin.product, 'wazuh');
      assert.equal(alert.origin.id, '1763626443.882211');
      assert.equal(alert.description, sample.full_log);
      assert.deepEqual(alert.tags, ['syslog', 'sshd', 'authentication_failures']);
    });

    it('second-choice names: dstip/dstport, dstuser, subject user and domain; the EVE signature as title', () => {
      const alert = one({
        ...sample,
        rule: { level: 5, id: '86601' },
        data: { dstip: '198.18.9.2', dstport: 22, alert: { signature: 'ET SCAN' }, win: { eventdata: { subjectUserName: 'bob', subjectDomainName: 'LAB' } } },
      });
      assert.equal(alert.title, 'ET SCAN');
      assert.deepEqual(alert.destination, { ip: '198.18.9.2', port: 22 });
      assert.deepEqual(alert.user, { name: 'bob', domain: 'LAB' });
      assert.equal(one({ ...sample, data: { dstuser: 'root' } }).user?.name, 'root');
    });
  });

  describe('suricata', () => {
    const eve = sampleJson('samples', 'suricata', 'eve-alert.json');
    const alertPart = eve.alert as Record<string, unknown>;

    it('an EVE record needs an event_type and a flow_id, src_ip, in_iface or a known type with a timestamp', () => {
      const { flow_id: _f, src_ip: _s, in_iface: _i, ...bare } = eve;
      assert.equal(detectFormat({ ...bare, flow_id: 1 }), 'suricata');
      assert.equal(detectFormat({ ...bare, src_ip: '198.18.0.1' }), 'suricata');
      assert.equal(detectFormat({ ...bare, in_iface: 'eth0' }), 'suricata');
      assert.equal(detectFormat(bare), 'suricata', 'timestamp and a known event type');
      assert.notEqual(detectFormat({ ...bare, event_type: 'unheard-of' }), 'suricata');
      const { timestamp: _t, ...untimed } = bare;
      assert.notEqual(detectFormat(untimed), 'suricata');
      assert.notEqual(detectFormat({ ...eve, event_type: 7 }), 'suricata');
      refused({ alert: {} }, 'suricata', 'item 1 is not a suricata alert: no event_type (not an EVE record)');
    });

    it('only alert records with an alert object are alerts; others are listed as ignored', () => {
      assert.deepEqual(normalise([{ ...eve, event_type: 'flow' }]).ignored, [{ index: 0, reason: "suricata event_type 'flow' is not an alert" }]);
      const { alert: _a, ...noAlert } = eve;
      assert.deepEqual(normalise([noAlert]).ignored, [{ index: 0, reason: "suricata event_type 'alert' is not an alert" }]);
    });

    it('rule, severity label, MITRE ids and category tags from the alert object', () => {
      const alert = one({ ...eve, alert: { ...alertPart, metadata: { mitre_technique_id: ['T1071'], mitre_tactic_id: ['TA0011'] } } });
      assert.equal(alert.title, 'ET INFO Observed DNS Query to .cloud TLD');
      assert.equal(alert.rule?.name, 'ET INFO Observed DNS Query to .cloud TLD');
      assert.equal(alert.severity_label, '2');
      assert.equal(alert.origin.product, 'suricata');
      assert.deepEqual(alert.rule?.mitre, ['T1071', 'TA0011']);
      assert.deepEqual(alert.tags, ['Potentially Bad Traffic']);
    });

    it('an HTTP URL from host and path, a full URL kept, a path without its slash', () => {
      const url = (http: Record<string, unknown>) => one({ ...eve, http }).url?.full;
      assert.equal(url({ hostname: 'a.example.com', url: '/x?y=1' }), 'http://a.example.com/x?y=1');
      assert.equal(url({ hostname: 'a.example.com', url: 'x' }), 'http://a.example.com/x');
      assert.equal(url({ hostname: 'a.example.com' }), 'http://a.example.com/');
      assert.equal(url({ hostname: 'a.example.com', url: 'https://b.example.com/z' }), 'https://b.example.com/z');
      assert.equal(url({ url: '/x' }), undefined);
    });

    it('DNS names from query[] (v2), queries[] (v3) or rrname (v1); further names become observables', () => {
      const v2 = one({ ...eve, dns: { query: ['junk', { rrname: 'one.example.com' }, { rrname: 'two.example.com' }] } });
      assert.equal(v2.dns?.question?.name, 'one.example.com');
      assert.ok(observed(v2).includes('domain two.example.com raw.dns.query[2].rrname'), observed(v2).join('\n'));
      const v3 = one({ ...eve, dns: { queries: [{ rrname: 'three.example.com' }, { rrname: 'four.example.com' }] } });
      assert.equal(v3.dns?.question?.name, 'three.example.com');
      assert.ok(observed(v3).includes('domain four.example.com raw.dns.queries[1].rrname'), observed(v3).join('\n'));
      assert.equal(one({ ...eve, dns: { rrname: 'five.example.com' } }).dns?.question?.name, 'five.example.com');
      const { tls: _t, ...noTls } = eve;
      assert.deepEqual(
        one(noTls).observables.filter((o) => o.type === 'domain'),
        [],
      );
    });

    it('file name and hashes from fileinfo, or from the first of files[]', () => {
      const fileinfo = { filename: '/a.exe', md5: MD5, sha1: SHA1, sha256: SHA256 };
      for (const item of [
        { ...eve, fileinfo },
        { ...eve, files: [fileinfo, { filename: '/b.exe' }] },
      ]) {
        const alert = one(item);
        assert.equal(alert.file?.name, '/a.exe');
        assert.deepEqual(alert.file?.hash, { md5: MD5, sha1: SHA1, sha256: SHA256 });
      }
      assert.equal(one({ ...eve, files: ['x'] }).file, undefined);
    });
  });

  describe('alertmanager', () => {
    const hook = sampleJson('samples', 'alertmanager', 'webhook-v4.json');
    const entry = (hook.alerts as Record<string, unknown>[])[0];
    const labels = entry.labels as Record<string, unknown>;

    it('recognises a webhook by version 4, by groupKey with receiver, or by its first entry; a single alert too', () => {
      const { version: _v, ...noVersion } = hook;
      assert.equal(detectFormat(hook), 'alertmanager');
      assert.equal(detectFormat({ ...noVersion, alerts: [] }), 'alertmanager', 'groupKey and receiver');
      const { receiver: _r, ...noReceiver } = noVersion;
      assert.notEqual(detectFormat({ ...noReceiver, alerts: [] }), 'alertmanager', 'groupKey alone is not enough');
      assert.equal(detectFormat({ alerts: [entry] }), 'alertmanager', 'the first entry is an alert');
      assert.notEqual(detectFormat({ alerts: [{ labels: {} }] }), 'alertmanager');
      assert.notEqual(detectFormat({ alerts: {} }), 'alertmanager');
      assert.equal(detectFormat(entry), 'alertmanager');
      assert.notEqual(detectFormat({ labels, startsAt: 5 }), 'alertmanager');
      refused(
        { startsAt: 'x' },
        'alertmanager',
        'item 1 is not an alertmanager alert: no labels object (expected a webhook body with alerts[] or an alert with labels and startsAt)',
      );
      refused({ labels: {} }, 'alertmanager', 'item 1 is not an alertmanager alert: no startsAt');
    });

    it('names from the envelope: receiver tag, status and external URL when the entry has none', () => {
      const { status: _s, generatorURL: _g, ...bare } = entry;
      const { alerts } = normalise([{ ...hook, status: 'resolved', alerts: [bare] }], { received: RECEIVED });
      assert.equal(alerts[0].status, 'resolved');
      assert.equal(alerts[0].origin.url, 'http://alertmanager:9093');
      assert.deepEqual(alerts[0].tags, ['receiver:soar']);
      assert.equal(alerts[0].id, '7be1c5c1d0e2f3a4@2026-11-20T12:00:00.000Z');
      const single = one({ ...bare, fingerprint: undefined });
      assert.deepEqual(single.tags, []);
      assert.equal(single.status, 'firing');
      assert.notEqual(single.id, undefined, 'without a fingerprint the id is derived');
      assert.ok(!String(single.id).includes('@'));
    });

    it('title from summary, title or alertname; description from description or message', () => {
      const t = (annotations: Record<string, unknown>) => one({ ...entry, annotations });
      assert.equal(t({ title: 'T', message: 'M' }).title, 'T');
      assert.equal(t({ title: 'T', message: 'M' }).description, 'M');
      assert.equal(t({}).title, 'SSHLoginBurst');
    });

    it('the instance label: host from host:port, [v6]:port, a bare address; labels name the host first', () => {
      const host = (instance: string, extra: Record<string, unknown> = {}) => one({ ...entry, labels: { ...labels, instance, ...extra } }).host;
      assert.deepEqual(host('198.18.10.12:9100'), { name: '198.18.10.12', ip: ['198.18.10.12'] });
      assert.deepEqual(host('[2001:2::5]:9100'), { name: '2001:2::5', ip: ['2001:2::5'] });
      assert.deepEqual(host('2001:2::6'), { name: '2001:2::6', ip: ['2001:2::6'] });
      assert.deepEqual(host('web-02:9100'), { name: 'web-02' });
      assert.deepEqual(host('web-02'), { name: 'web-02' });
      assert.deepEqual(host('[broken:9100'), { name: '[broken:9100' });
      assert.deepEqual(host('a:b:c'), { name: 'a:b:c' }, 'two colons and no brackets: not host:port');
      assert.deepEqual(host('198.18.10.12:9100', { hostname: 'web-02' }), { name: 'web-02', ip: ['198.18.10.12'] });
    });
  });

  describe('crowdsec', () => {
    const sample = (sampleJson('samples', 'crowdsec', 'alerts.json') as unknown as Record<string, unknown>[])[0];

    it('is recognised by a scenario, a source or decisions, and a machine_id, start_at or events_count', () => {
      assert.equal(detectFormat(sample), 'crowdsec');
      const { source: _s, ...noSource } = sample;
      assert.equal(detectFormat(noSource), 'crowdsec', 'decisions stand in for the source');
      const { decisions: _d, ...bare } = noSource;
      assert.notEqual(detectFormat(bare), 'crowdsec');
      const { machine_id: _m, start_at: _a, events_count: _c, ...anonymous } = sample;
      assert.notEqual(detectFormat(anonymous), 'crowdsec');
      assert.equal(detectFormat({ ...anonymous, events_count: 3 }), 'crowdsec');
      assert.notEqual(detectFormat({ ...sample, scenario: 7 }), 'crowdsec');
      refused({ source: {} }, 'crowdsec', 'item 1 is not a crowdsec alert: no scenario');
      refused({ scenario: 'x', source: 'ip' }, 'crowdsec', 'item 1 is not a crowdsec alert: no source object or decisions');
    });

    it('id, time and title fall back; the source value is the address only for the Ip scope', () => {
      const { message: _m, start_at: _s, id: _i, ...rest } = sample;
      const alert = one({ ...rest, uuid: 'u-1', created_at: '2026-11-22T11:00:00Z', source: { scope: 'Ip', value: '203.0.113.9' } });
      assert.equal(alert.id, 'u-1');
      assert.equal(alert.origin.id, 'u-1');
      assert.equal(alert.time, '2026-11-22T11:00:00.000Z');
      assert.equal(alert.title, 'crowdsecurity/http-probing');
      assert.equal(alert.severity, 3);
      assert.equal(alert.source?.ip, '203.0.113.9');
      const range = one({ ...sample, source: { scope: 'Range', value: '203.0.113.0/24' } });
      assert.equal(range.source, undefined, 'a range is not an address');
    });

    it('tags: each decision type once, simulated, machine; the user and FQDN from the first meta value per key', () => {
      const alert = one({
        ...sample,
        simulated: true,
        decisions: [{ type: 'ban' }, { type: 'ban' }, { type: 'captcha' }, {}],
        meta: [{ key: 'user', value: 'root' }],
        events: [
          'junk',
          {
            meta: [
              { key: 'target_user', value: 'admin' },
              { key: 'target_fqdn', value: 'shop.example.org' },
            ],
          },
          { meta: [{ key: 'target_fqdn', value: 'other.example.org' }] },
        ],
      });
      assert.deepEqual(alert.tags, ['decision:ban', 'decision:captcha', 'crowdsec:simulated', 'machine:edge-01']);
      assert.equal(alert.user?.name, 'admin', 'target_user before user');
      const seen = observed(alert);
      assert.ok(seen.includes('domain shop.example.org raw.events.meta.target_fqdn'), seen.join('\n'));
      assert.ok(!seen.some((x) => x.includes('other.example.org')), 'the first value of a key wins');
      const plain = one({ ...sample, events: [], meta: [{ key: 'user', value: 'root' }], machine_id: undefined, start_at: '2026-11-22T10:00:00Z' });
      assert.equal(plain.user?.name, 'root');
      assert.deepEqual(plain.tags, ['decision:ban']);
    });
  });

  describe('graylog', () => {
    const sample = sampleJson('samples', 'graylog', 'http-notification.json');
    const event = sample.event as Record<string, unknown>;

    it('is recognised by an event object and a definition id or title; a fixed format names what is missing', () => {
      const { event_definition_id: _i, ...titled } = sample;
      assert.equal(detectFormat(titled), 'graylog');
      const { event_definition_title: _t, ...neither } = titled;
      assert.notEqual(detectFormat(neither), 'graylog');
      refused({ event_definition_id: 'x' }, 'graylog', 'item 1 is not a graylog alert: no event object');
      refused({ event: {} }, 'graylog', 'item 1 is not a graylog alert: no event_definition_id or event_definition_title');
    });

    it('falls back to the processing time, the event message and the event definition fields', () => {
      const { timestamp: _t, ...rest } = event;
      const { event_definition_title: _d, event_definition_type: _y, ...outer } = sample;
      const alert = one({ ...outer, event: { ...rest, event_definition_type: 'correlation-v1' } });
      assert.equal(alert.time, '2026-11-22T09:15:01.200Z');
      assert.equal(alert.title, 'Port scan detected: 203.0.113.150');
      assert.equal(alert.rule?.ruleset, 'correlation-v1');
      const { event_definition_id: _e, ...noDefId } = outer;
      assert.equal(one({ ...noDefId, event_definition_title: 'T', event: { ...event, message: undefined } }).rule?.id, '6650f0e2c3a1', 'from the event');
      assert.equal(one({ ...sample, event: { ...event, message: undefined } }).description, 'More than 100 ports in 1 minute');
    });

    it('entities from fields, then group_by_fields, then the first backlog message', () => {
      const alert = one({
        ...sample,
        event: { ...event, fields: { src_ip: '203.0.113.1' }, group_by_fields: { src_ip: '203.0.113.2', dst_port: 22 } },
        backlog: [{ fields: { username: 'bob', src_ip: '203.0.113.3', hostname: 'fw-1' } }],
      });
      assert.equal(alert.source?.ip, '203.0.113.1');
      assert.equal(alert.destination?.port, 22);
      assert.equal(alert.user?.name, 'bob');
      assert.equal(alert.host?.name, 'fw-1');
      const bare = one({ ...sample, event: { ...event, fields: {}, group_by_fields: {} }, backlog: [{ remote_addr: '203.0.113.4' }] });
      assert.equal(bare.source?.ip, '203.0.113.4', 'a backlog message without a fields object is read itself');
      const none = one({ ...sample, event: { ...event, fields: {}, group_by_fields: {} }, backlog: ['text'] });
      assert.equal(none.source, undefined);
    });
  });

  describe('splunk', () => {
    const sample = sampleJson('samples', 'splunk', 'webhook.json');
    const result = sample.result as Record<string, unknown>;

    it('is recognised by a result object and a search name or sid; a fixed format names what is missing', () => {
      const { search_name: _n, ...bySid } = sample;
      assert.equal(detectFormat(bySid), 'splunk');
      assert.notEqual(detectFormat({ ...bySid, sid: 42 }), 'splunk');
      refused({ sid: 'x' }, 'splunk', 'item 1 is not a splunk alert: no result object');
      refused({ result: {} }, 'splunk', 'item 1 is not a splunk alert: no search_name or sid');
    });

    it('CIM dest: an address stays the destination, a name becomes the host unless a host is given', () => {
      assert.equal(one(sample).destination?.ip, '198.18.50.2');
      const named = one({ ...sample, result: { ...result, dest: 'db-7.corp' } });
      assert.equal(named.host?.name, 'db-7.corp');
      assert.equal(named.destination, undefined);
      const both = one({ ...sample, result: { ...result, dest: 'db-7.corp', dvc: 'fw-2' } });
      assert.equal(both.host?.name, 'fw-2');
    });

    it('a field map overrides the CIM names; empty and unknown entries are skipped', () => {
      const alert = one(
        { ...sample, result: { ...result, attacker: '203.0.113.66', blank: '  ' } },
        { splunkFieldMap: { 'source.ip': 'attacker', 'user.name': 'blank', 'no.such': 'src_ip', 'host.name': '' } },
      );
      assert.equal(alert.source?.ip, '203.0.113.66');
      assert.equal(alert.user?.name, 'mallory', 'a blank mapped value leaves the CIM one');
    });
  });

  describe('loose severities and status words (splunk, generic)', () => {
    const sample = sampleJson('samples', 'splunk', 'webhook.json');
    const result = sample.result as Record<string, unknown>;

    it('a number 0..6 or a severity word; anything else is 0, and the label keeps what was sent', () => {
      const table: [unknown, number, string][] = [
        ['5', 5, '5'],
        [6, 6, '6'],
        ['high', 4, 'high'],
        [' Critical ', 5, 'Critical'],
        ['7', 0, '7'],
        ['2.5', 0, '2.5'],
        [-1, 0, '-1'],
        [['3', 'x'], 3, '3'],
        [undefined, 0, 'unknown'],
      ];
      for (const [severity, id, label] of table) {
        const alert = one({ ...sample, result: { ...result, severity } });
        assert.deepEqual([alert.severity, alert.severity_label], [id, label], JSON.stringify(severity));
      }
      const generic = one({ title: 't', severity: 7 }, { format: 'generic' });
      assert.deepEqual([generic.severity, generic.severity_label], [0, '7']);
    });

    it('resolved, closed, ok and the other end words (any case, first of a list) resolve; anything else fires', () => {
      const status = (value: unknown) => one({ title: 't', status: value }, { format: 'generic' }).status;
      for (const word of ['resolved', ' RESOLVED ', 'closed', 'recovered', 'ok', 'inactive', 'cleared', 'done', ['resolved', 'firing']])
        assert.equal(status(word), 'resolved', JSON.stringify(word));
      for (const word of ['firing', 'open', 5, ['firing', 'resolved']]) assert.equal(status(word), 'firing', JSON.stringify(word));
    });
  });

  describe('field map paths', () => {
    const ip = (item: Record<string, unknown>, from: string) =>
      one({ title: 't', ...item }, { format: 'generic', genericFieldMap: { 'source.ip': from } }).source?.ip;

    it('index arrays by number, within bounds only', () => {
      const hosts = [{ ip: '198.18.0.1' }, { ip: '198.18.0.2' }];
      assert.equal(ip({ hosts }, 'hosts.1.ip'), '198.18.0.2');
      assert.equal(ip({ hosts }, 'hosts.0.ip'), '198.18.0.1');
      for (const from of ['hosts.2.ip', 'hosts.-1.ip', 'hosts.x.ip', 'hosts.1.5.ip']) assert.equal(ip({ hosts }, from), undefined, from);
    });

    it('take the longest dotted key first and fall back to shorter ones when it leads nowhere', () => {
      assert.equal(ip({ 'a.b': { c: '198.18.0.3' } }, 'a.b.c'), '198.18.0.3');
      assert.equal(ip({ 'a.b': { d: 1 }, a: { b: { c: '198.18.0.4' } } }, 'a.b.c'), '198.18.0.4');
      assert.equal(ip({ 'a.b.c': '198.18.0.5', a: { b: { c: '198.18.0.6' } } }, 'a.b.c'), '198.18.0.5');
      assert.equal(ip({ a: 'text' }, 'a.b'), undefined);
    });
  });

  describe('field map checks', () => {
    it('names unknown targets and empty or non-string sources', () => {
      assert.deepEqual(fieldMapErrors(undefined), []);
      assert.deepEqual(fieldMapErrors({ 'source.ip': 'a.b', title: 'x' }), []);
      const errors = fieldMapErrors({ 'source.addr': 'x', 'user.name': '', 'host.name': 7 });
      assert.equal(errors.length, 3);
      assert.match(errors[0], /^"source\.addr" is not a normalised alert field \(use one of .*source\.ip/);
      assert.equal(errors[1], '"user.name" must map to a field name');
      assert.equal(errors[2], '"host.name" must map to a field name');
    });
  });

  describe('items that are not alerts', () => {
    const wazuh = sampleJson('samples', 'wazuh', 'sshd-bruteforce.json');

    it('arrays nested deeper than two levels are listed as ignored, the alerts beside them kept', () => {
      const { alerts, ignored } = normalise([[wazuh, [[wazuh]]]], { received: RECEIVED });
      assert.equal(alerts.length, 1);
      assert.deepEqual(ignored, [{ index: 0, reason: '[1][0]: a nested array is not an alert' }]);
    });

    it('names the JSON type of a value that is not an object', () => {
      const cases: [unknown, string][] = [
        [true, 'a boolean'],
        [7, 'a number'],
        ['text', 'a string'],
        [null, 'null'],
      ];
      for (const [item, type] of cases) {
        assert.throws(
          () => normalise([item]),
          (err: unknown) => err instanceof AlertInputError && err.message.includes(`(${type}, not a JSON object)`),
          type,
        );
        refused(item, 'wazuh', `item 1 is ${type}, not an alert object`);
      }
    });
  });

  describe('soar', () => {
    it('a fixed soar format refuses an item that is not an already normalised alert', () => {
      const wazuh = sampleJson('samples', 'wazuh', 'sshd-bruteforce.json');
      refused(wazuh, 'soar', 'item 1 is not a soar alert: no schema "soar.alert/1" (expected an alert this package normalised)');
    });
  });
});
