import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { editorView, isCredential, readFields, type ProviderDescriptor } from '../../../lib/providers/descriptor';
import { createIntelProvider, intelDescriptors, intelKinds } from '../../../lib/intel/registry';
import { createFirewall, firewallDescriptor, firewallDescriptors, firewallKinds } from '../../../lib/firewall/registry';
import type { StateStore } from '../../../lib/core/types';

const store = {} as StateStore;

describe('provider descriptors', () => {
  it("list every kind the pack had, in the editor's order, plus kinds found in the folder", () => {
    assert.deepEqual(intelKinds().slice(0, 12), [
      'feed',
      'kev',
      'epss',
      'virustotal',
      'abuseipdb',
      'greynoise',
      'shodan-internetdb',
      'urlhaus',
      'threatfox',
      'otx',
      'misp',
      'cortex',
    ]);
    assert.deepEqual(firewallKinds(), ['blocklist', 'nftables', 'nftables-ssh', 'crowdsec', 'opnsense', 'pfsense', 'cloudflare', 'mikrotik']);
  });

  it('give the editor plain JSON (no functions) with credentials marked', () => {
    const view = editorView(firewallDescriptors());
    assert.deepEqual(JSON.parse(JSON.stringify(view)), view);
    const ssh = view.find((d) => d.kind === 'nftables-ssh') as { fields: { name: string; credential: boolean }[] };
    assert.deepEqual(
      ssh.fields.filter((f) => f.credential).map((f) => f.name),
      ['privateKey', 'passphrase'],
    );
  });

  it('ask each kind only for what it needs (Shodan InternetDB no key, feeds no key, MISP and Cortex a server)', () => {
    const fields = (kind: string) =>
      intelDescriptors()
        .find((d) => d.kind === kind)!
        .fields.filter((f) => !f.hidden)
        .map((f) => f.name);
    assert.deepEqual(fields('shodan-internetdb'), []);
    assert.ok(!fields('kev').includes('apiKey'));
    assert.ok(!fields('virustotal').includes('url'), 'no URL field for a cloud service');
    assert.deepEqual(fields('misp'), ['url', 'apiKey', 'verifyTls']);
    assert.ok(fields('cortex').includes('verifyTls'), 'Cortex gets TLS verification like MISP');
    const fw = (kind: string) => firewallDescriptor(kind)!.fields.map((f) => f.name);
    for (const kind of ['opnsense', 'pfsense', 'mikrotik']) assert.ok(fw(kind).includes('verifyTls') && fw(kind).includes('caCert'), kind);
  });

  it('say which indicator types a service answers, the same as the provider it builds', () => {
    for (const d of intelDescriptors()) {
      if (typeof d.supports.types === 'string' || ['kev', 'epss', 'feodo'].includes(d.kind)) continue;
      const p = createIntelProvider({ kind: d.kind, name: d.kind, apiKey: 'k', url: 'https://intel.example', analyzers: 'A_1_0' });
      assert.deepEqual([...p.types].sort(), [...d.supports.types].sort(), d.kind);
      assert.equal(p.external, d.supports.external, d.kind);
      void p.close?.();
    }
  });

  it('check settings: every problem named at once, no value in the message', () => {
    const opn = firewallDescriptor('opnsense')!;
    assert.throws(
      () => readFields(opn, { url: 'ftp://fw' }, { apiKey: 's3cret-value' }),
      (err: Error) => {
        assert.match(err.message, /needs apiSecret/);
        assert.match(err.message, /url must be an http\(s\):\/\/ URL/);
        assert.doesNotMatch(err.message, /s3cret-value/);
        return true;
      },
    );
    assert.throws(() => createFirewall({ kind: 'cloudflare', name: 'cf', store, apiKey: 't' }), /exactly one of an account id and a zone id/);
    assert.throws(() => createFirewall({ kind: 'pfsense', name: 'pf', store, url: 'https://pf', username: 'admin' }), /an API key, or a user and a password/);
    assert.throws(() => createIntelProvider({ kind: 'feed', name: 'f' }), /needs one of file, url/);
    assert.throws(() => createIntelProvider({ kind: 'feed', name: 'f', file: 'x.txt', format: 'xml' }), /format must be one of auto, text, csv, json/);
    assert.throws(() => createIntelProvider({ kind: 'virustotal', name: 'VT' }), /VT: virustotal: needs apiKey/);
  });

  it('apply defaults so flows saved before a setting existed stay valid', () => {
    const v = readFields(firewallDescriptor('mikrotik')!, { url: 'https://r', username: 'u' }, { password: 'p' });
    assert.equal(v.verifyTls, true);
    assert.equal(v.caCert, undefined);
    const ssh = readFields(firewallDescriptor('nftables-ssh')!, { host: 'h', username: 'u', port: '' }, { privateKey: 'k' });
    assert.equal(ssh.port, 22);
    assert.equal(ssh.table, 'soar');
    assert.equal(ssh.sudo, false);
  });

  it('declare credentials only as secret fields', () => {
    const all = [...intelDescriptors(), ...firewallDescriptors()] as ProviderDescriptor<unknown, unknown, unknown>[];
    for (const d of all)
      for (const f of d.fields)
        if (/key|secret|password|passphrase|token/i.test(f.name) && !/File$|Sha256$/.test(f.name)) assert.ok(isCredential(f), `${d.kind}.${f.name}`);
  });

  describe('nftables over SSH: the private key', () => {
    let dir: string;
    let pem: string;
    before(function () {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-key-'));
      try {
        execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'id')], { stdio: 'ignore' });
      } catch {
        console.log('    skipped: ssh-keygen is not installed');
        this.skip();
      }
      pem = fs.readFileSync(path.join(dir, 'id'), 'utf8');
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const ssh = (extra: Record<string, unknown>) => createFirewall({ kind: 'nftables-ssh', name: 'gw', store, host: '198.18.0.1', username: 'soar', ...extra });

    it('accepts a pasted multi-line key, CRLF line ends included', async () => {
      await ssh({ privateKey: pem }).provider.close?.();
      await ssh({ privateKey: pem.replace(/\n/g, '\r\n') }).provider.close?.();
    });

    it('accepts a key file path', async () => {
      await ssh({ privateKeyFile: path.join(dir, 'id') }).provider.close?.();
    });

    it('says at deploy that a key pasted into one line does not parse, without showing it', () => {
      const flattened = pem.replace(/\n/g, ' ');
      assert.throws(
        () => ssh({ privateKey: flattened }),
        (err: Error) => {
          assert.match(err.message, /SSH private key does not parse/);
          const body = pem.split('\n')[1];
          assert.ok(!err.message.includes(body.slice(0, 16)), 'no key material in the message');
          return true;
        },
      );
    });

    it('names a key file that cannot be read, and needs a key or a file', () => {
      assert.throws(() => ssh({ privateKeyFile: path.join(dir, 'missing') }), /key file .*missing cannot be read: ENOENT/);
      assert.throws(() => ssh({}), /needs one of privateKey, privateKeyFile/);
    });
  });
});
