/** Per-format cases beyond the golden samples: envelopes, non-alerts, field maps, mappers, replays. */
import assert from 'node:assert/strict';
import { AlertInputError, detectFormat, normalise, parseBody, type NormalisedAlert, type NormaliseOptions } from '../../../lib/alert';
import { sampleJson } from './helpers';

const RECEIVED = new Date('2026-11-23T00:00:00.000Z');

function one(item: unknown, opts: NormaliseOptions = {}): NormalisedAlert {
  const { alerts, ignored } = normalise([item], { received: RECEIVED, ...opts });
  assert.deepEqual(ignored, []);
  assert.equal(alerts.length, 1);
  return alerts[0];
}

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AlertInputError, `AlertInputError expected, got ${String(err)}`);
    assert.equal(err.status, 400);
    assert.match(err.message, pattern);
    return true;
  });
}

function wazuhAlert(level: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    timestamp: '2026-11-20T08:14:03.512+0000',
    rule: { level, id: '5712', description: 'sshd brute force' },
    agent: { id: '004', name: 'web-02' },
    id: '1.2',
    ...extra,
  };
}

describe('alert formats', () => {
  describe('wazuh', () => {
    it('maps rule.level through the severity table', () => {
      const table: [unknown, number][] = [
        [0, 1],
        [3, 1],
        [4, 2],
        [6, 2],
        [7, 3],
        [10, 3],
        [11, 4],
        [12, 4],
        [13, 5],
        [15, 5],
        [16, 5],
        ['12', 4],
        [-1, 0],
        [Infinity, 0],
        ['x', 0],
      ];
      for (const [level, severity] of table) assert.equal(one(wazuhAlert(level)).severity, severity, `level ${String(level)}`);
    });

    it('labels the severity with its OCSF name, not the bare rule level', () => {
      const labels: [unknown, string][] = [
        [2, 'informational'],
        [5, 'low'],
        [10, 'medium'],
        [12, 'high'],
        [15, 'critical'],
        ['x', 'unknown'],
      ];
      for (const [level, label] of labels) assert.equal(one(wazuhAlert(level)).severity_label, label, `level ${String(level)}`);
      assert.equal((one(wazuhAlert(12)).raw as { rule: { level: number } }).rule.level, 12, 'the level itself stays in raw');
    });

    it('unwraps the integrator envelope and keeps the inner alert as raw', () => {
      const envelope = sampleJson('samples', 'wazuh', 'integrator-envelope.json');
      for (const format of ['auto', 'wazuh'] as const) {
        const alert = one(envelope, { format });
        assert.equal(alert.raw, envelope.all_fields);
        assert.equal(alert.user?.name, 'svc_backup');
        assert.equal(alert.source?.ip, '198.51.100.23');
        assert.deepEqual(alert.rule.mitre, ['T1110']);
      }
    });

    it("reads Windows event data (target user, domain, address) and ignores '-' addresses", () => {
      const alert = one(wazuhAlert(5, { data: { win: { eventdata: { targetUserName: 'jdoe', targetDomainName: 'CORP', ipAddress: '-', ipPort: '-' } } } }));
      assert.deepEqual(alert.user, { name: 'jdoe', domain: 'CORP' });
      assert.equal(alert.source, undefined);
    });

    it('refuses a non-Wazuh item when the format is fixed, saying what is missing', () => {
      rejects(() => normalise([{ title: 'x' }], { format: 'wazuh' }), /^item 1 is not a wazuh alert: no rule object/);
      rejects(() => normalise([wazuhAlert(3), { rule: { id: '1' } }], { format: 'wazuh' }), /^item 2 is not a wazuh alert: no rule.level/);
    });
  });

  describe('suricata', () => {
    const alertLine = sampleJson('samples', 'suricata', 'eve-alert.json');

    it('reports non-alert EVE records as ignored with the reason', () => {
      const flow = {
        timestamp: '2026-11-20T21:05:44.120931+0000',
        flow_id: 1,
        event_type: 'flow',
        src_ip: '198.18.30.7',
        dest_ip: '192.0.2.200',
        flow: { pkts_toserver: 3 },
      };
      const dns = { ...flow, event_type: 'dns', dns: { rrname: 'example.org' } };
      const stats = { timestamp: '2026-11-20T21:05:45.000000+0000', event_type: 'stats', stats: { uptime: 60 } };
      const body = Buffer.from([flow, alertLine, dns, stats].map((x) => JSON.stringify(x)).join('\n'));
      const { alerts, ignored } = normalise(parseBody(body, 'application/x-ndjson'));
      assert.equal(alerts.length, 1);
      assert.equal(alerts[0].title, 'ET INFO Observed DNS Query to .cloud TLD');
      assert.deepEqual(ignored, [
        { index: 0, reason: "suricata event_type 'flow' is not an alert" },
        { index: 2, reason: "suricata event_type 'dns' is not an alert" },
        { index: 3, reason: "suricata event_type 'stats' is not an alert" },
      ]);
    });

    it('maps alert.severity 1..4 to 4..1', () => {
      const got = [1, 2, 3, 4, 9].map((s) => one({ ...alertLine, alert: { ...(alertLine.alert as object), severity: s } }).severity);
      assert.deepEqual(got, [4, 3, 2, 1, 0]);
    });

    it('derives a stable id from flow_id, tx_id and signature_id', () => {
      const a = one(alertLine);
      assert.equal(one(alertLine).id, a.id);
      assert.notEqual(one({ ...alertLine, tx_id: 1 }).id, a.id);
      assert.match(a.id, /^[0-9a-f]{32}$/);
    });

    it('takes dns.rrname (EVE v1) and file hashes from fileinfo', () => {
      const sha256 = 'a'.repeat(64);
      const alert = one({ ...alertLine, tls: undefined, dns: { type: 'query', rrname: 'Bad.Example.COM.' }, fileinfo: { filename: '/x.exe', sha256 } });
      assert.equal(alert.dns?.question?.name, 'bad.example.com');
      assert.equal(alert.file?.hash?.sha256, sha256);
      assert.ok(alert.observables.some((o) => o.type === 'domain' && o.value === 'bad.example.com' && o.field === 'dns.question.name'));
    });
  });

  describe('elastic', () => {
    const doc = (sampleJson('samples', 'elastic', 'detection-alert.json').alerts as Record<string, unknown>[])[0];

    it('splits a webhook body of several alerts', () => {
      const second = { ...doc, 'kibana.alert.uuid': 'second', 'source.ip': undefined, source: { ip: '203.0.113.20', port: 4444 } };
      const { alerts } = normalise([{ alerts: [doc, second], results_link: 'https://kibana.example/app/security/rules/id/a1b2c3' }]);
      assert.deepEqual(
        alerts.map((a) => a.id),
        ['5f0c4b1e-8a1d-4c3e-9a2f-1b2c3d4e5f60', 'second'],
      );
      assert.deepEqual(alerts[1].source, { ip: '203.0.113.20', port: 4444 });
      assert.equal(alerts[0].origin.url, 'https://kibana.example/app/security/rules/id/a1b2c3');
    });

    it('reads nested kibana.alert objects as well as flat keys', () => {
      const nested = {
        '@timestamp': '2026-11-21T14:00:05.000Z',
        kibana: { alert: { uuid: 'n-1', rule: { name: 'Nested rule', rule_id: 'r-9' }, severity: 'critical' } },
        host: { name: 'ws-1' },
      };
      const alert = one(nested);
      assert.equal(alert.origin.format, 'elastic');
      assert.deepEqual([alert.id, alert.title, alert.rule.id, alert.severity], ['n-1', 'Nested rule', 'r-9', 5]);
    });

    it('falls back to risk_score bands when the severity word is missing', () => {
      const base = { 'kibana.alert.uuid': 'u', 'kibana.alert.rule.name': 'r' };
      assert.deepEqual(
        [10, 30, 60, 90].map((score) => one({ ...base, 'kibana.alert.risk_score': score }).severity),
        [2, 3, 4, 5],
      );
    });

    it('lists envelope entries that are not alert documents as ignored', () => {
      const { alerts, ignored } = normalise([{ alerts: [doc, { hello: 'world' }, 7] }], { format: 'elastic' });
      assert.equal(alerts.length, 1);
      assert.equal(ignored.length, 2);
      assert.match(ignored[0].reason, /^alerts\[1\]: not an elastic alert/);
      assert.equal(ignored[1].reason, 'alerts[2]: a number is not an alert');
      assert.ok(ignored.every((i) => i.index === 0));
    });
  });

  describe('alertmanager', () => {
    const webhook = sampleJson('samples', 'alertmanager', 'webhook-v4.json');

    it('keeps resolved entries resolved inside a firing group', () => {
      const alerts = (webhook.alerts as Record<string, unknown>[]).map((a, i) => (i === 1 ? { ...a, status: 'resolved', endsAt: '2026-11-20T12:30:00Z' } : a));
      const out = normalise([{ ...webhook, alerts }]).alerts;
      assert.deepEqual(
        out.map((a) => a.status),
        ['firing', 'resolved'],
      );
    });

    it('keeps the same fingerprint for the firing and the resolved notification', () => {
      const entry = (webhook.alerts as Record<string, unknown>[])[0];
      const firing = one({ ...webhook, alerts: [entry] });
      const resolved = one({ ...webhook, status: 'resolved', alerts: [{ ...entry, status: 'resolved' }] });
      assert.equal(resolved.status, 'resolved');
      assert.equal(resolved.fingerprint, firing.fingerprint);
    });

    it('accepts a single alert object and maps the severity words', () => {
      const entry = (webhook.alerts as Record<string, unknown>[])[1] as { labels: Record<string, string> };
      assert.equal(detectFormat(entry), 'alertmanager');
      const words: [string, number][] = [
        ['critical', 5],
        ['error', 4],
        ['high', 4],
        ['warning', 3],
        ['info', 1],
        ['page', 0],
      ];
      for (const [word, severity] of words) {
        const alert = one({ ...entry, labels: { ...entry.labels, severity: word } });
        assert.equal(alert.severity, severity, word);
        assert.equal(alert.severity_label, word);
      }
    });

    it('takes the host from the instance label without its port', () => {
      const entry = (webhook.alerts as Record<string, unknown>[])[1] as { labels: Record<string, string> };
      const host = (instance: string) => one({ ...entry, labels: { ...entry.labels, instance } }).host;
      assert.deepEqual(host('db-01.example:9100'), { name: 'db-01.example' });
      assert.deepEqual(host('198.18.10.13:9100'), { name: '198.18.10.13', ip: ['198.18.10.13'] });
      assert.deepEqual(host('[2001:db8::13]:9100'), { name: '2001:db8::13', ip: ['2001:db8::13'] });
    });
  });

  describe('splunk', () => {
    const webhook = sampleJson('samples', 'splunk', 'webhook.json');

    it('applies a custom field map over the CIM defaults', () => {
      const body = {
        ...webhook,
        result: {
          attacker: '203.0.113.99',
          victim_port: '8443',
          account: 'eve',
          src_ip: '203.0.113.80',
          sev: 'critical',
          hash: 'd41d8cd98f00b204e9800998ecf8427e',
        },
      };
      const alert = one(body, {
        splunkFieldMap: { 'source.ip': 'attacker', 'destination.port': 'victim_port', 'user.name': 'account', severity: 'sev', 'not.a.field': 'x' },
      });
      assert.equal(alert.source?.ip, '203.0.113.99');
      assert.equal(alert.destination?.port, 8443);
      assert.equal(alert.user?.name, 'eve');
      assert.equal(alert.severity, 5);
      assert.equal(alert.file?.hash?.md5, 'd41d8cd98f00b204e9800998ecf8427e');
    });

    it('treats a non-address CIM dest as the host name and reads _time', () => {
      const alert = one({ ...webhook, result: { src: '203.0.113.80', dest: 'vpn-gw-01', _time: '1763730000' } });
      assert.equal(alert.destination, undefined);
      assert.equal(alert.host?.name, 'vpn-gw-01');
      assert.equal(alert.time, '2025-11-21T13:00:00.000Z');
    });

    it('uses the saved search as the rule, so reruns share a fingerprint', () => {
      const a = one(webhook);
      const b = one({ ...webhook, sid: 'scheduler__admin__search__RMD5bf_at_1763733600_43' });
      assert.notEqual(a.id, b.id);
      assert.equal(a.fingerprint, b.fingerprint);
      assert.equal(a.rule.name, 'Excessive failed VPN logins');
    });
  });

  describe('graylog', () => {
    const note = sampleJson('samples', 'graylog', 'http-notification.json');

    it('maps priority 1..3 to 2..4', () => {
      const event = note.event as Record<string, unknown>;
      assert.deepEqual(
        [1, 2, 3].map((priority) => one({ ...note, event: { ...event, priority } }).severity),
        [2, 3, 4],
      );
    });

    it('falls back to backlog message fields for entities', () => {
      const event = { ...(note.event as object), fields: {}, group_by_fields: {} };
      const alert = one({
        ...note,
        event,
        backlog: [{ index: 'graylog_7', message: 'x', fields: { src_ip: '203.0.113.151', user: 'root', hostname: 'fw-01' } }],
      });
      assert.equal(alert.source?.ip, '203.0.113.151');
      assert.equal(alert.user?.name, 'root');
      assert.equal(alert.host?.name, 'fw-01');
    });
  });

  describe('crowdsec', () => {
    const [sample] = sampleJson('samples', 'crowdsec', 'alerts.json') as unknown as Record<string, unknown>[];

    it('splits an array of alerts, reading scope/value and the target user', () => {
      const second = {
        ...sample,
        id: 18,
        source: { scope: 'ip', value: '198.51.100.7' },
        events: [{ timestamp: 'x', meta: [{ key: 'target_user', value: 'root' }] }],
      };
      const { alerts } = normalise([[sample, second]]);
      assert.deepEqual(
        alerts.map((a) => [a.id, a.source?.ip, a.user?.name, a.severity]),
        [
          ['17', '203.0.113.201', undefined, 3],
          ['18', '198.51.100.7', 'root', 3],
        ],
      );
      assert.ok(alerts[0].tags.includes('decision:ban'));
    });

    it('does not take a range scope as an address', () => {
      const alert = one({ ...sample, source: { scope: 'Range', value: '203.0.113.0/24' } });
      assert.equal(alert.source, undefined);
    });
  });

  describe('msgraph', () => {
    const page = sampleJson('samples-extra', 'msgraph', 'alerts-v2.json');
    const first = (page.value as Record<string, unknown>[])[0];

    it('reads a single alert as well as a list page', () => {
      assert.equal(detectFormat(first), 'msgraph');
      const alert = one(first);
      assert.equal(alert.host?.id, '3f1b6c2d8e9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c');
      assert.equal(alert.raw, first);
    });

    it('puts extra evidence of a kind already filled into observables', () => {
      const evidence = [...(first.evidence as unknown[]), { '@odata.type': '#microsoft.graph.security.ipEvidence', ipAddress: '203.0.113.78' }];
      const alert = one({ ...first, evidence });
      assert.equal(alert.source?.ip, '203.0.113.77');
      assert.ok(alert.observables.some((o) => o.type === 'ip' && o.value === '203.0.113.78' && o.field === 'raw.evidence[5].ipAddress'));
    });

    it('maps an unknown severity to 0 and keeps the label', () => {
      const alert = one({ ...first, severity: 'unknownFutureValue', evidence: [] });
      assert.equal(alert.severity, 0);
      assert.equal(alert.severity_label, 'unknownFutureValue');
    });
  });

  describe('ocsf', () => {
    const finding = sampleJson('samples', 'ocsf', 'detection-finding.json');

    it('reads epoch-ms time, a resolved status and file hashes', () => {
      const sha1 = 'b'.repeat(40);
      const alert = one({
        ...finding,
        status_id: 4,
        evidences: [{ src_endpoint: { ip: '198.18.40.22', port: 445 }, file: { name: 'a.txt.locked', hashes: [{ algorithm_id: 2, value: sha1 }] } }],
      });
      assert.equal(alert.time, '2025-11-22T10:15:00.000Z');
      assert.equal(alert.status, 'resolved');
      assert.equal(alert.source?.port, 445);
      assert.equal(alert.file?.hash?.sha1, sha1);
    });

    it('lists OCSF events that are not findings as ignored', () => {
      const networkActivity = {
        class_uid: 4001,
        category_uid: 4,
        activity_id: 6,
        time: 1763806500000,
        severity_id: 1,
        metadata: { version: '1.4.0', product: { name: 'fw' } },
      };
      const { alerts, ignored } = normalise([networkActivity]);
      assert.equal(alerts.length, 0);
      assert.deepEqual(ignored, [{ index: 0, reason: 'ocsf class_uid 4001 is not a finding' }]);
    });

    it('maps OCSF observables by type_id', () => {
      const alert = one({
        ...finding,
        observables: [
          { name: 'actor.user.name', type_id: 4, value: 'mallory' },
          { name: 'url', type_id: 6, value: 'https://bad.example/x' },
          { name: 'host', type_id: 1, value: 'files.example.org' },
        ],
      });
      const has = (type: string, value: string, field: string) => alert.observables.some((o) => o.type === type && o.value === value && o.field === field);
      assert.ok(has('user', 'mallory', 'raw.actor.user.name'));
      assert.ok(has('url', 'https://bad.example/x', 'raw.url'));
      assert.ok(has('domain', 'files.example.org', 'raw.host'));
    });
  });

  describe('generic', () => {
    it('applies a generic field map (normalised path -> input path)', () => {
      const item = { summary: 'Custom thing', attacker: { ip: '203.0.113.61', port: 2222 }, level: 'low', when: '2026-11-20T12:00:00+01:00', victim: 'db-7' };
      const alert = one(item, {
        format: 'generic',
        genericFieldMap: { title: 'summary', 'source.ip': 'attacker.ip', 'source.port': 'attacker.port', time: 'when', 'host.name': 'victim' },
      });
      assert.equal(alert.title, 'Custom thing');
      assert.deepEqual(alert.source, { ip: '203.0.113.61', port: 2222 });
      assert.equal(alert.time, '2026-11-20T11:00:00.000Z');
      assert.equal(alert.host?.name, 'db-7');
      assert.equal(alert.severity, 2);
    });

    it('applies a user mapper over names and field map, dotted or nested', () => {
      const item = { title: 'original', src_ip: '203.0.113.1', payload: { who: 'bob' } };
      // Own "__proto__" keys, as JSON.parse (and so a JSONata result built from input) can produce.
      const mapper = (x: unknown) => ({
        ...(JSON.parse('{"__proto__":{"polluted":1},"source":{"__proto__":{"polluted":2}}}') as object),
        title: 'mapped',
        severity: 4,
        source: { ip: '203.0.113.2' },
        'user.name': (x as { payload: { who: string } }).payload.who,
        bogus: 1,
      });
      const alert = one(item, { format: 'generic', genericFieldMap: { title: 'src_ip' }, genericMapper: mapper });
      assert.equal(alert.title, 'mapped');
      assert.equal(alert.severity, 4);
      assert.equal(alert.source?.ip, '203.0.113.2');
      assert.equal(alert.user?.name, 'bob');
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal(Object.getPrototypeOf(alert.source), Object.prototype);
    });

    it('lets a mapper make an otherwise unknown item generic in auto mode', () => {
      const item = { foo: 1 };
      rejects(() => normalise([item]), /could not recognise/);
      const alert = one(item, { genericMapper: () => ({ title: 'from mapper' }) });
      assert.equal(alert.origin.format, 'generic');
      assert.equal(alert.title, 'from mapper');
    });

    it('maps severity words and OCSF numbers, keeping the original label', () => {
      const cases: [unknown, number, string][] = [
        ['high', 4],
        ['CRITICAL', 5],
        ['medium', 3],
        [2, 2],
        ['6', 6],
        [42, 0],
        ['whatever', 0],
      ].map(([v, s]) => [v, s as number, String(v)]);
      for (const [value, severity, label] of cases) {
        const alert = one({ title: 't', severity: value });
        assert.equal(alert.severity, severity, String(value));
        assert.equal(alert.severity_label, label);
      }
      assert.equal(one({ title: 't' }).severity_label, 'unknown');
    });

    it('says which item could not be recognised, with a hint', () => {
      rejects(
        () => normalise([{ title: 'fine' }, { foo: 1, bar: 2 }]),
        /^could not recognise the alert format of item 2 \(keys: foo, bar\); set the node's format or use 'generic'$/,
      );
      rejects(() => normalise([42]), /^could not recognise the alert format of item 1 \(a number, not a JSON object\)/);
    });

    it('refuses a fixed generic item without anything to call it', () => {
      rejects(() => normalise([{ src_ip: '203.0.113.1' }], { format: 'generic' }), /^item 1 is not a generic alert: no title/);
      assert.equal(one({ src_ip: '203.0.113.1', what: 't' }, { format: 'generic', genericFieldMap: { title: 'what' } }).title, 't');
    });

    it('turns a throwing getter into a 400, not a crash', () => {
      const hostile = Object.defineProperty({ title: 'x' }, 'severity', {
        enumerable: true,
        get() {
          throw new TypeError('boom');
        },
      });
      rejects(() => normalise([hostile]), /^item 1: could not read the generic alert \(boom\)$/);
    });
  });

  describe('soar (already normalised)', () => {
    const wazuh = sampleJson('samples', 'wazuh', 'sshd-bruteforce.json');

    it('keeps id and fingerprint and refreshes received on replay', () => {
      const original = one(wazuh);
      const replayed = JSON.parse(JSON.stringify(original)) as Record<string, unknown>;
      const later = new Date('2026-12-01T00:00:00.000Z');
      for (const format of ['auto', 'soar', 'suricata'] as const) {
        const again = normalise([replayed], { received: later, format }).alerts[0];
        assert.equal(again.id, original.id);
        assert.equal(again.fingerprint, original.fingerprint);
        assert.equal(again.received, later.toISOString());
        assert.equal(again.time, original.time);
        assert.deepEqual(again.raw, wazuh);
      }
      assert.equal(replayed.received, RECEIVED.toISOString(), 'the input is not modified');
    });

    it('accepts an audit copy without raw (raw becomes null)', () => {
      const { raw: _raw, ...withoutRaw } = one(wazuh);
      const again = normalise([withoutRaw]).alerts[0];
      assert.equal(again.raw, null);
      assert.equal(again.id, '1763626443.882211');
    });

    it('re-validates and names the broken field', () => {
      const broken = { ...one(wazuh), source: { ip: '203.0.113.44', port: 70000 } };
      rejects(() => normalise([broken]), /^item 1: the soar.alert\/1 alert is invalid: source.port: must be <= 65535$/);
      const noTitle: Record<string, unknown> = { ...one(wazuh) };
      delete noTitle.title;
      rejects(() => normalise([noTitle]), /title: is required/);
    });
  });

  describe('raw', () => {
    it('is the original item, not a copy, and the input is left unmodified', () => {
      const item = sampleJson('samples', 'suricata', 'eve-alert.json');
      const before = structuredClone(item);
      const alert = one(item);
      assert.equal(alert.raw, item);
      assert.deepEqual(item, before);
    });

    it('is the single entry for envelopes', () => {
      const webhook = sampleJson('samples', 'alertmanager', 'webhook-v4.json');
      const { alerts } = normalise([webhook]);
      assert.equal(alerts[1].raw, (webhook.alerts as unknown[])[1]);
    });
  });
});
