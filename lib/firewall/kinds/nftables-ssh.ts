/** nftables on a gateway over SSH: key authentication, optional host key pin and sudo -n. */
import * as fs from 'node:fs';
import { utils } from 'ssh2';
import { NftablesFirewall } from '../nftables';
import { createSshRunner } from '../ssh-runner';
import { defineFirewall } from '../kit';
import { nftTableField } from './nftables';

export const descriptor = defineFirewall({
  kind: 'nftables-ssh',
  label: 'nftables on a gateway over SSH',
  summary: 'the same nft table on a remote gateway; SSH key (pasted, multi-line, or a key file), optional host key pin and sudo',
  fields: [
    nftTableField,
    { name: 'host', type: 'string', required: true },
    { name: 'port', type: 'number', default: 22, min: 1 },
    { name: 'username', type: 'string', required: true },
    { name: 'privateKey', type: 'secret-text', oneOf: 'key', placeholder: '-----BEGIN OPENSSH PRIVATE KEY-----' },
    { name: 'privateKeyFile', type: 'string', oneOf: 'key', placeholder: '/home/nodered/.ssh/id_ed25519' },
    { name: 'passphrase', type: 'secret' },
    { name: 'hostKeySha256', type: 'string', placeholder: 'SHA256:...' },
    { name: 'sudo', type: 'boolean', default: false },
  ],
  supports: { ipv6: true, ranges: true, nativeExpiry: true },
  create: (v, context) => {
    const privateKey = readKey(v.privateKey as string | undefined, v.privateKeyFile as string | undefined);
    // Say now, and without the key, when it does not parse (wrong format, lost line breaks, passphrase).
    const parsed = utils.parseKey(privateKey, (v.passphrase as string | undefined) || undefined);
    if (parsed instanceof Error) throw new Error(`the SSH private key does not parse: ${parsed.message.replace(/-----[^-]+-----[\s\S]*/g, '')}`);
    return {
      provider: new NftablesFirewall({
        name: context.name,
        table: (v.table as string) || undefined,
        runner: createSshRunner({
          host: v.host as string,
          port: v.port as number | undefined,
          username: v.username as string,
          privateKey,
          passphrase: (v.passphrase as string | undefined) || undefined,
          hostKeySha256: (v.hostKeySha256 as string | undefined) || undefined,
          sudo: Boolean(v.sudo),
        }),
      }),
    };
  },
});

/** A pasted key wins over a key file; a file that cannot be read is named, its content never shown. */
function readKey(pasted: string | undefined, file: string | undefined): string {
  if (pasted) return pasted;
  try {
    return fs.readFileSync(file!, 'utf8');
  } catch (err) {
    throw new Error(`the SSH key file ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
