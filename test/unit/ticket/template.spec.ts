import assert from 'node:assert/strict';
import { refang } from '../../../lib/ioc/refang';
import { defang } from '../../../lib/ioc/defang';
import { buildTicketRequest, DEFAULT_BODY, DEFAULT_TITLE, ticketView } from '../../../lib/ticket/defaults';
import { compileTemplate, MESSAGE_ROOTS, renderTemplate, TemplateError } from '../../../lib/ticket/template';

const msg = {
  alert: {
    title: 'sshd brute force',
    severity_label: 'high',
    time: '2026-12-07T02:59:00Z',
    origin: { product: 'wazuh' },
    rule: { id: '5712', name: 'SSHD brute force' },
    host: { name: 'web01' },
  },
  enrichment: { verdict: 'malicious', score: 87, why: ['AbuseIPDB: 100% confidence', 'GreyNoise: malicious scanner'] },
  iocs: [
    { type: 'ipv4', value: '203.0.113.7', role: 'source' },
    { type: 'url', value: 'http://evil.example.com/x.sh' },
    { type: 'sha256', value: 'a'.repeat(64) },
  ],
  actions: [{ kind: 'block', target: '203.0.113.7', provider: 'nftables', status: 'blocked', lease: { expiresAt: '2026-12-08T03:00:00Z' } }],
  approval: { id: 'ap-1', status: 'approved', by: ['alice', 'bob'], time: '2026-12-07T03:00:00Z' },
};

describe('ticket templates', () => {
  it('renders variables, nested paths, sections over lists and inverted sections', () => {
    const out = renderTemplate('{{alert.title}} on {{alert.host.name}}:{{#iocs}} [{{type}}={{value}}]{{/iocs}}{{^approval}} no approval{{/approval}}', msg);
    assert.equal(out.text, `sshd brute force on web01: [ipv4=203.0.113.7] [url=http://evil.example.com/x.sh] [sha256=${'a'.repeat(64)}]`);
    assert.deepEqual(out.missing, []);
    assert.equal(renderTemplate('{{#enrichment.why}}- {{.}}\n{{/enrichment.why}}', msg).text, '- AbuseIPDB: 100% confidence\n- GreyNoise: malicious scanner\n');
    assert.equal(renderTemplate('{{^nothing}}none{{/nothing}}|{{#alert}}{{title}}{{/alert}}', msg).text, 'none|sshd brute force');
    // Inside a section, names not on the item come from the outer context (mustache lookup).
    assert.equal(renderTemplate('{{#iocs}}{{alert.host.name}} {{/iocs}}', msg).text, 'web01 web01 web01 ');
  });

  it('a missing field renders empty and is listed once, so the node can warn', () => {
    const out = renderTemplate('{{alert.title}} {{alert.user.name}} {{alert.user.name}} {{enrichment.nope}}', msg);
    assert.equal(out.text, 'sshd brute force   ');
    assert.deepEqual(out.missing, ['alert.user.name', 'enrichment.nope']);
  });

  it('plain text by default; HTML escaping on request, with triple braces and & left raw', () => {
    const view = { alert: { title: `<script>alert("x")</script> & 'y'` } };
    assert.equal(renderTemplate('{{alert.title}}', view).text, `<script>alert("x")</script> & 'y'`);
    assert.equal(renderTemplate('{{alert.title}}', view, { escape: 'html' }).text, '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;');
    assert.equal(renderTemplate('{{{alert.title}}}|{{& alert.title}}', view, { escape: 'html' }).text, `${view.alert.title}|${view.alert.title}`);
  });

  it('hostile values: template syntax in data is not evaluated, functions are never called, prototypes are not reachable', () => {
    let called = false;
    const view = {
      alert: {
        title: '{{alert.secret}}',
        secret: 's3cr3t',
        fn: () => {
          called = true;
          return 'ran';
        },
      },
    };
    assert.equal(renderTemplate('{{alert.title}}', view).text, '{{alert.secret}}');
    const out = renderTemplate(
      '[{{alert.fn}}][{{#alert.fn}}x{{/alert.fn}}][{{alert.constructor}}][{{alert.__proto__}}][{{alert.toString}}][{{alert.title.length}}]',
      view,
    );
    assert.equal(out.text, '[][][][][][]');
    assert.equal(called, false);
    assert.deepEqual(out.missing, ['alert.fn', 'alert.constructor', 'alert.__proto__', 'alert.toString', 'alert.title.length']);
  });

  it('objects print as JSON and scalar lists joined; cycles do not crash', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    assert.equal(
      renderTemplate('{{alert.rule}}|{{alert.tags}}|{{alert.c}}', { alert: { rule: { id: '5712' }, tags: ['ssh', 2, true], c: cyclic } }).text,
      '{"id":"5712"}|ssh, 2, true|[unprintable]',
    );
  });

  it('hostile templates: output and nesting are bounded, errors say where', () => {
    const big = { alert: { list: Array.from({ length: 1_000 }, (_, i) => i) } };
    const bomb = '{{#alert.list}}{{#alert.list}}{{#alert.list}}xxxxxxxxxx{{/alert.list}}{{/alert.list}}{{/alert.list}}';
    assert.throws(
      () => renderTemplate(bomb, big),
      (err: Error) => err instanceof TemplateError && /output over 1000000 characters/.test(err.message),
    );
    const deep = '{{#a}}'.repeat(17) + '{{/a}}'.repeat(17);
    assert.throws(() => compileTemplate(deep), /nested deeper than 16/);
    assert.throws(() => compileTemplate('x'.repeat(70_000)), /at most 65536/);
    assert.throws(() => compileTemplate('ok\n  {{alert.title'), /line 2, column 3 is never closed/);
    assert.throws(() => compileTemplate('{{#iocs}}x{{/actions}}'), /does not match "\{\{#iocs\}\}"/);
    assert.throws(() => compileTemplate('{{#iocs}}x'), /"\{\{#iocs\}\}" at line 1, column 1 is never closed/);
    assert.throws(() => compileTemplate('{{/iocs}}'), /never opened/);
    assert.throws(() => compileTemplate('{{> partial}}'), /partials/);
    assert.throws(() => compileTemplate('{{=<% %>=}}'), /delimiter changes/);
    assert.throws(() => compileTemplate('{{}}'), /empty/);
    assert.throws(() => compileTemplate('{{alert.title; process.exit()}}'), /is not a field path/);
    assert.throws(() => compileTemplate('{{alert[0]}}'), /is not a field path/);
  });

  it('validation: a top-level field no message can have is refused with the known roots', () => {
    assert.doesNotThrow(() => compileTemplate(DEFAULT_BODY, { roots: MESSAGE_ROOTS }));
    assert.doesNotThrow(() => compileTemplate(DEFAULT_TITLE, { roots: MESSAGE_ROOTS }));
    assert.throws(
      () => compileTemplate('{{alrt.title}}', { roots: MESSAGE_ROOTS }),
      /"alrt.title" \(line 1\) is not a message field; fields start with alert, /,
    );
    assert.throws(() => compileTemplate('x\n{{#payloadx}}{{/payloadx}}', { roots: MESSAGE_ROOTS }), /line 2/);
    // Inside a section the item's own fields are fine.
    assert.doesNotThrow(() => compileTemplate('{{#iocs}}{{type}}{{/iocs}}', { roots: MESSAGE_ROOTS }));
  });

  it('default title and body: what a responder wants, indicators defanged, nothing missing', () => {
    const view = ticketView(msg, { hubUrl: 'http://127.0.0.1:1880/', incidentKey: 'fp-3f2a' });
    const title = compileTemplate(DEFAULT_TITLE).render(view);
    assert.equal(title.text, '[SOAR] high: sshd brute force');
    const body = compileTemplate(DEFAULT_BODY).render(view);
    assert.deepEqual(body.missing, []);
    const text = body.text;
    assert.match(text, /Severity: high · rule 5712 \(SSHD brute force\)/);
    assert.match(text, /Source: wazuh · host web01 · seen 2026-12-07T02:59:00Z/);
    assert.match(text, /Incident: fp-3f2a/);
    assert.match(text, /Verdict: malicious \(score 87\)\n- AbuseIPDB: 100% confidence\n- GreyNoise: malicious scanner/);
    assert.match(text, /- ipv4 203\[\.\]0\[\.\]113\[\.\]7 \(source\)/);
    assert.match(text, /- url hxxp\[:\/\/\]evil\[\.\]example\[\.\]com\/x\[\.\]sh/);
    assert.match(text, new RegExp(`- sha256 ${'a'.repeat(64)}`));
    assert.match(text, /- block 203\[\.\]0\[\.\]113\[\.\]7 on nftables: blocked, lease until 2026-12-08T03:00:00Z/);
    assert.match(text, /Approval: ap-1 approved by alice, bob at 2026-12-07T03:00:00Z/);
    assert.match(text, /On the hub: http:\/\/127\.0\.0\.1:1880/);
    assert.doesNotMatch(text, /203\.0\.113\.7|evil\.example\.com/, 'no clickable indicator left');
    // The message itself is not changed.
    assert.equal(msg.iocs[0].value, '203.0.113.7');
  });

  it('default body of a bare alert: optional parts left out, no dangling headings', () => {
    const text = compileTemplate(DEFAULT_BODY).render(ticketView({ alert: { title: 't', severity_label: 'low' } }, { incidentKey: 'k' })).text;
    assert.doesNotMatch(text, /Verdict|Indicators|Actions|Approval|On the hub/);
    assert.match(text, /^t\n/);
  });

  it('defang round-trips through refang and leaves hashes alone', () => {
    const cases: Array<[string, string]> = [
      ['https://evil.example.com/a.php?x=1', 'url'],
      ['ftp://files.example.org/x', 'url'],
      ['203.0.113.7', 'ipv4'],
      ['2001:db8::1', 'ipv6'],
      ['bob@evil.example', 'email'],
      ['evil.example.com', 'domain'],
    ];
    for (const [value, type] of cases) {
      const safe = defang(value, type);
      assert.doesNotMatch(safe.replace(/\[[^\]]*\]/g, ' '), /https?|ftp:|[.@:]/, `${value} → ${safe}`);
      assert.equal(refang(safe), value);
    }
    assert.equal(defang('d41d8cd98f00b204e9800998ecf8427e', 'md5'), 'd41d8cd98f00b204e9800998ecf8427e');
    assert.equal(defang('CVE-2024-3094', 'cve'), 'CVE-2024-3094');
  });

  it('builds the outbox request from a message: incident key, one-line title, raw indicators for the tracker', () => {
    const title = compileTemplate(DEFAULT_TITLE);
    const body = compileTemplate(DEFAULT_BODY);
    const full = { ...msg, alert: { ...msg.alert, fingerprint: '3f2a9c1b', severity: 4, title: 'sshd\nbrute force' } };
    const built = buildTicketRequest(full, { title, body, hubUrl: 'http://127.0.0.1:1880' });
    assert.equal(built.error, undefined);
    assert.equal(built.request?.incidentKey, '3f2a9c1b');
    assert.equal(built.request?.title, '[SOAR] high: sshd brute force');
    assert.equal(built.request?.severity, 4);
    assert.deepEqual(built.request?.observables?.[0], { type: 'ipv4', value: '203.0.113.7' });
    assert.match(built.request!.body, /Incident: 3f2a9c1b/);
    // A configurable key path; a message without it is refused with the path named.
    assert.equal(buildTicketRequest(full, { title, body, incidentPath: 'alert.host.name' }).request?.incidentKey, 'web01');
    assert.equal(buildTicketRequest(msg, { title, body }).error, 'no incident key at msg.alert.fingerprint');
    assert.equal(buildTicketRequest(full, { title, body, incidentPath: 'alert.__proto__' }).error, 'no incident key at msg.alert.__proto__');
    // A template that renders to nothing is an error, and the missing fields are listed for a warning.
    const bare = buildTicketRequest({ alert: { fingerprint: 'k' } }, { title: compileTemplate('{{alert.title}}'), body });
    assert.equal(bare.error, 'the title is empty after rendering the template');
    assert.deepEqual(bare.missing, ['alert.title', 'alert.severity_label']);
  });
});
