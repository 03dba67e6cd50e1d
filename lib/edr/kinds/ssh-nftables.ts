/** Linux over SSH with nftables: for teams without an EDR (lib/edr/ssh-nftables.ts). */
import { SshNftablesIsolation, type SshIsolationHost } from '../ssh-nftables';
import { defineEdr } from '../kit';

/**
 * The inventory, one host per line: `name address[:port] SHA256:<host key pin> [table]`; `#` starts
 * a comment. A host is never contacted without its pinned key.
 */
export function parseInventory(text: string): SshIsolationHost[] {
  const hosts: SshIsolationHost[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [name, where, pin, table, ...rest] = line.split(/\s+/);
    if (!name || !where || !pin || rest.length) throw new Error(`hosts line ${index + 1}: expected "name address[:port] SHA256:<pin> [table]"`);
    if (!/^SHA256:[A-Za-z0-9+/=]{20,}$/.test(pin)) throw new Error(`hosts line ${index + 1}: the host key pin must look like SHA256:… (ssh-keygen -lf)`);
    const m = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(where) ?? /^([^:\s]+)(?::(\d+))?$/.exec(where) ?? /^([0-9a-fA-F:]+)$/.exec(where);
    if (!m) throw new Error(`hosts line ${index + 1}: "${where}" is not an address or address:port`);
    hosts.push({ name, address: m[1], ...(m[2] ? { port: Number(m[2]) } : {}), hostKeySha256: pin, ...(table ? { table } : {}) });
  }
  return hosts;
}

export const descriptor = defineEdr({
  kind: 'ssh-nftables',
  label: 'Linux over SSH (nftables)',
  summary: 'a dedicated nftables table on the host, applied over SSH with a dead-man rollback armed first; key auth, pinned host keys, no EDR needed',
  fields: [
    { name: 'hosts', type: 'text', required: true, placeholder: 'web-1 198.18.0.10 SHA256:… (one host per line)' },
    { name: 'username', type: 'string', required: true, placeholder: 'soar' },
    { name: 'privateKey', type: 'secret-text', required: true },
    { name: 'passphrase', type: 'secret' },
    { name: 'sudo', type: 'boolean', default: true },
    { name: 'hubAddresses', type: 'list', placeholder: "the hub's address as the hosts see it" },
    { name: 'management', type: 'list', placeholder: 'jump hosts, EDR or log managers' },
    { name: 'dns', type: 'list', placeholder: 'DNS servers the isolated host may ask' },
    { name: 'table', type: 'string', default: 'soar_isolate', pattern: '^[A-Za-z][A-Za-z0-9_]{0,31}$', patternHint: 'a table name (letters, digits, _)' },
    { name: 'rollbackSeconds', type: 'number', default: 300, min: 10 },
  ],
  supports: { status: true, async: true, resolveBy: ['inventory name', 'ip', 'id'] },
  check: (v) => {
    try {
      parseInventory(String(v.hosts ?? ''));
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  },
  create: (v, context) => ({
    provider: new SshNftablesIsolation({
      name: context.name,
      ...(context.label ? { label: context.label } : {}),
      username: v.username as string,
      privateKey: v.privateKey as string,
      ...(v.passphrase ? { passphrase: v.passphrase as string } : {}),
      sudo: v.sudo !== false,
      hosts: parseInventory(String(v.hosts ?? '')),
      hubAddresses: (v.hubAddresses as string[] | undefined) ?? [],
      management: (v.management as string[] | undefined) ?? [],
      dns: (v.dns as string[] | undefined) ?? [],
      table: (v.table as string | undefined) ?? 'soar_isolate',
      rollbackSeconds: (v.rollbackSeconds as number | undefined) ?? 300,
    }),
  }),
});
