import assert from 'node:assert/strict';
import { helper, nodeModule, sample, tempDir } from '../helpers/nr';
import { normalise } from '../../lib/alert';
import { startVirusTotalFake, VT_API_KEY, type VirusTotalFake } from '../fakes/virustotal';

const hubModule = nodeModule('hub');
const sourceModule = nodeModule('intel-source');
const enrichModule = nodeModule('enrich-ioc');
const intakeModule = nodeModule('alert-intake');

type Msg = Record<string, any>;

function flow(dir: string, vtURL: string, enrich: Record<string, unknown> = {}) {
  return [
    { id: 'tab1', type: 'tab', label: 't' },
    { id: 'hub1', type: 'soar-hub', dir },
    { id: 'feed1', type: 'soar-intel-source', name: 'demo feed', kind: 'feed', file: 'feeds/demo-blocklist.txt', level: 'malicious', weight: 1 },
    { id: 'kev1', type: 'soar-intel-source', name: 'CISA KEV', kind: 'kev', file: 'feeds/demo-kev.json', weight: 1 },
    { id: 'vt1', type: 'soar-intel-source', name: 'VirusTotal', kind: 'virustotal', url: vtURL, weight: 1 },
    {
      id: 'en1',
      z: 'tab1',
      type: 'soar-enrich-ioc',
      hub: 'hub1',
      sources: ['feed1', 'kev1', 'vt1'],
      textFields: 'description, title, raw.full_log',
      deadline: 10,
      malicious: 70,
      suspicious: 40,
      outputMode: 'single',
      wires: [['out1']],
      ...enrich,
    },
    { id: 'out1', z: 'tab1', type: 'helper' },
    { id: 'out2', z: 'tab1', type: 'helper' },
    { id: 'out3', z: 'tab1', type: 'helper' },
    { id: 'out4', z: 'tab1', type: 'helper' },
    { id: 'catch1', z: 'tab1', type: 'catch', scope: null, wires: [['caught1']] },
    { id: 'caught1', z: 'tab1', type: 'helper' },
  ];
}

function nextMessage(id: string): Promise<Msg> {
  return new Promise((resolve) => helper.getNode(id).once('input', resolve));
}

/** A normalised alert, as the intake node makes it (so this suite tests enrichment, not intake). */
async function normalised(raw: unknown): Promise<Msg> {
  return normalise([raw]).alerts[0] as unknown as Msg;
}

describe('soar-enrich-ioc node', function () {
  let dir: string;
  let vt: VirusTotalFake;
  beforeEach(async function () {
    dir = tempDir();
    vt = await startVirusTotalFake();
    await helper.startServer();
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
    await vt.close();
  });

  const creds = () => ({ vt1: { apiKey: VT_API_KEY } });

  it('scores a Wazuh alert from the demo feed and VirusTotal, explains why, and caches lookups', async function () {
    vt.addIp('203.0.113.44', { stats: { malicious: 9, harmless: 60, undetected: 10 } });
    await helper.load([hubModule, sourceModule, enrichModule], flow(dir, vt.baseURL), creds());
    const alert = await normalised(JSON.parse(sample('wazuh/sshd-bruteforce.json')));
    let out = nextMessage('out1');
    helper.getNode('en1').receive({ alert });
    const msg = await out;
    assert.ok(msg.iocs.some((i: Msg) => i.type === 'ipv4' && i.value === '203.0.113.44'));
    assert.equal(msg.enrichment.verdict, 'malicious');
    assert.ok(msg.enrichment.score >= 70);
    const why = msg.enrichment.why.join('\n');
    assert.match(why, /demo feed/);
    assert.match(why, /VirusTotal/);
    assert.match(why, /malicious threshold/);
    const vtCalls = vt.requests.length;
    assert.equal(vtCalls, 1, 'one VirusTotal request for the one public address');
    assert.deepEqual(vt.violations, []);
    const statuses = helper.getNode('en1').status.args.map((a: Msg[]) => a[0]?.text);
    assert.ok(
      statuses.some((s: unknown) => typeof s === 'string' && /^malicious \d+/.test(s)),
      JSON.stringify(statuses),
    );

    out = nextMessage('out1');
    helper.getNode('en1').receive({ alert });
    const again = await out;
    assert.equal(again.enrichment.verdict, 'malicious');
    assert.equal(vt.requests.length, vtCalls, 'the second message costs no request (cache)');
  });

  it('never sends internal addresses to an outside source, and drops allowlisted indicators', async function () {
    await helper.load([hubModule, sourceModule, enrichModule], flow(dir, vt.baseURL, { allowlist: '198.51.100.0/24' }), creds());
    const alert = await normalised({ title: 'internal scan', src_ip: '10.20.30.40', dst_ip: '198.51.100.23', severity: 'low' });
    const out = nextMessage('out1');
    helper.getNode('en1').receive({ alert });
    const msg = await out;
    assert.ok(msg.iocs.some((i: Msg) => i.value === '10.20.30.40' && i.internal === true));
    assert.ok(!msg.iocs.some((i: Msg) => i.value === '198.51.100.23'), 'allowlisted before any lookup');
    assert.equal(vt.requests.length, 0);
    assert.equal(msg.enrichment.verdict, 'unknown');
  });

  it("routes by verdict when set to one output per verdict, and says when a source's quota is gone", async function () {
    vt.script({ status: 429, headers: { 'content-type': 'application/json' }, body: { error: { code: 'QuotaExceededError', message: 'Quota exceeded' } } });
    const f = flow(dir, vt.baseURL, { outputMode: 'perVerdict', wires: [['out1'], ['out2'], ['out3'], ['out4']] });
    await helper.load([hubModule, sourceModule, enrichModule], f, creds());
    const alert = await normalised(JSON.parse(sample('crowdsec/alerts.json'))[0]);
    const out = nextMessage('out1');
    helper.getNode('en1').receive({ alert });
    const msg = await out;
    assert.equal(msg.enrichment.verdict, 'malicious', 'the demo feed lists 203.0.113.201');
    assert.match(msg.enrichment.why.join('\n'), /VirusTotal.*quota/i);
  });

  it('enriches CVE indicators from the KEV feed', async function () {
    await helper.load([hubModule, sourceModule, enrichModule], flow(dir, vt.baseURL), creds());
    const alert = await normalised({
      title: 'Exploit attempt CVE-2021-44228 against web-01',
      src_ip: '203.0.113.99',
      severity: 'high',
      description: 'Log4Shell probe (CVE-2021-44228)',
    });
    const out = nextMessage('out1');
    helper.getNode('en1').receive({ alert });
    const msg = await out;
    assert.ok(msg.iocs.some((i: Msg) => i.type === 'cve' && i.value === 'CVE-2021-44228'));
    const kev = msg.enrichment.results['CVE-2021-44228'] as Msg[];
    assert.ok(kev && kev.some((r) => r.source === 'CISA KEV' && r.found === true), JSON.stringify(msg.enrichment.results));
  });

  it('works behind the alert intake as the quickstart wires it', async function () {
    const f = flow(dir, vt.baseURL);
    f.push({
      id: 'in1',
      z: 'tab1',
      type: 'soar-alert-intake',
      hub: 'hub1',
      path: '',
      authType: 'none',
      format: 'auto',
      dedupWindow: 0,
      duplicateMode: 'suppress',
      maxBodyKb: 64,
      maxBacklog: 100,
      bodyTimeout: 5,
      wires: [['en1']],
    } as never);
    await helper.load([hubModule, intakeModule, sourceModule, enrichModule], f, creds());
    const out = nextMessage('out1');
    helper.getNode('in1').receive({ payload: sample('generic/minimal.json') });
    const msg = await out;
    assert.equal(msg.alert.origin.format, 'generic');
    assert.ok(msg.enrichment.why.length > 0);
    assert.ok(['malicious', 'suspicious', 'benign', 'unknown'].includes(msg.enrichment.verdict));
  });

  const texts = (calls: { args: unknown[][] }) => calls.args.map((a) => (typeof a[0] === 'object' && a[0] ? (a[0] as Msg).text : a[0]));

  /** Deployed with `enrich` settings, the node shows `statusKey`, logs what matches `logged`, and fails a message. */
  async function expectConfigError(enrich: Record<string, unknown>, statusKey: string, logged: RegExp): Promise<void> {
    await helper.load([hubModule, sourceModule, enrichModule], flow(dir, vt.baseURL, enrich), creds());
    const en = helper.getNode('en1');
    const caught = nextMessage('caught1');
    en.receive({ alert: await normalised({ title: 'x', src_ip: '203.0.113.201', severity: 'low' }) });
    const err = await caught;
    assert.match(err.error.message, /errors\.config|configuration error/);
    const statuses = texts(en.status).map(String);
    assert.ok(statuses.includes(`soar-enrich-ioc.status.${statusKey}`), JSON.stringify(statuses));
    assert.ok(
      texts(en.error)
        .map(String)
        .some((e) => logged.test(e)),
      JSON.stringify(texts(en.error)),
    );
  }

  it('shows a failing source in the status and logs it once per change of state, not per message', async function () {
    vt.addIp('203.0.113.44', { stats: { malicious: 1, harmless: 70 } });
    await helper.load([hubModule, sourceModule, enrichModule], flow(dir, vt.baseURL), { vt1: { apiKey: 'wrong-key-7f3a9c' } });
    const en = helper.getNode('en1');
    for (const ip of ['203.0.113.44', '203.0.113.45', '203.0.113.46']) {
      const out = nextMessage('out1');
      en.receive({ alert: await normalised({ title: 'probe', src_ip: ip, severity: 'low' }) });
      await out;
    }
    const statuses = texts(en.status);
    // The helper leaves catalog keys untranslated; Node-RED shows "VirusTotal: auth failed · unknown".
    assert.match(String(statuses[statuses.length - 1]), /^VirusTotal: (auth failed|soar-enrich-ioc\.failure\.auth) · unknown$/, JSON.stringify(statuses));
    const warnings = texts(en.warn).map(String);
    assert.equal(warnings.filter((w) => /^VirusTotal: /.test(w)).length, 1, `one line for three failing messages: ${JSON.stringify(warnings)}`);
    assert.ok(!JSON.stringify(en.warn.args).includes('wrong-key-7f3a9c'), 'the key is never logged');
  });

  it('logs again when a source recovers and when it fails again', async function () {
    await helper.load([hubModule, sourceModule, enrichModule], flow(dir, vt.baseURL), creds());
    const en = helper.getNode('en1');
    const send = async (ip: string) => {
      const out = nextMessage('out1');
      en.receive({ alert: await normalised({ title: 'probe', src_ip: ip, severity: 'low' }) });
      return out;
    };
    const unauthorized = { status: 401, body: { error: { code: 'WrongCredentialsError', message: 'Wrong API key' } } };
    vt.script(unauthorized);
    await send('203.0.113.60');
    await send('203.0.113.61');
    vt.script(unauthorized);
    await send('203.0.113.62');
    const failed = texts(en.warn)
      .map(String)
      .filter((w) => /^VirusTotal: /.test(w));
    const recovered = texts(en.log)
      .map(String)
      .filter((w) => /^VirusTotal: /.test(w));
    assert.deepEqual(failed, ['VirusTotal: soar-enrich-ioc.failure.auth', 'VirusTotal: soar-enrich-ioc.failure.auth']);
    assert.deepEqual(recovered, ['VirusTotal: soar-enrich-ioc.log.source-ok']);
    const statuses = texts(en.status).map(String);
    assert.ok(
      statuses.some((s) => /^unknown|^benign/.test(s)),
      'the recovered message shows the verdict again',
    );
  });

  it('takes its sources from config-reference slots, and the old sources array still works', async function () {
    const f = flow(dir, vt.baseURL, { sources: undefined, source1: 'feed1', source3: 'kev1' });
    await helper.load([hubModule, sourceModule, enrichModule], f, creds());
    const out = nextMessage('out1');
    helper.getNode('en1').receive({ alert: await normalised({ title: 'x', src_ip: '203.0.113.201', severity: 'low', description: 'CVE-2021-44228' }) });
    const msg = await out;
    assert.equal(msg.enrichment.verdict, 'malicious');
    assert.ok(msg.enrichment.results['CVE-2021-44228'].some((r: Msg) => r.source === 'CISA KEV'));
    assert.equal(vt.requests.length, 0, 'VirusTotal is not in a slot');
  });

  it('refuses to enrich, with an error status and log, when a source it refers to was deleted', async function () {
    await expectConfigError({ sources: undefined, source1: 'feed1', source2: 'deleted-source' }, 'missing-sources', /deleted-source/);
  });
  it('keeps a threshold of 0 as written (a suspicious threshold of "0" was silently 40)', async function () {
    vt.addIp('203.0.113.70', { stats: { malicious: 0, harmless: 70, undetected: 5 } });
    await helper.load([hubModule, sourceModule, enrichModule], flow(dir, vt.baseURL, { sources: undefined, source1: 'vt1', suspicious: '0' }), creds());
    const out = nextMessage('out1');
    helper.getNode('en1').receive({ alert: await normalised({ title: 'x', src_ip: '203.0.113.70', severity: 'low' }) });
    const msg = await out;
    assert.equal(msg.enrichment.score, 0);
    assert.equal(msg.enrichment.verdict, 'suspicious', msg.enrichment.why.join('\n'));
    assert.match(msg.enrichment.why.join('\n'), /≥ 0 \(suspicious threshold\)/);
  });

  for (const [label, thresholds, error] of [
    ['not a number', { malicious: 'abc' }, /malicious threshold must be a number/],
    ['above 100', { malicious: 150 }, /malicious threshold must be 0\.\.100/],
    ['suspicious above malicious', { malicious: 50, suspicious: 60 }, /must not exceed the malicious threshold/],
  ] as const) {
    it(`refuses a threshold ${label} at deploy: error status and log, every message fails, nothing is looked up`, async function () {
      await expectConfigError(thresholds, 'config-error', error);
      assert.equal(vt.requests.length, 0);
    });
  }
});
