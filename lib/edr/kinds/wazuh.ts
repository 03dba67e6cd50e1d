/** Wazuh active response running the SOAR isolation script on the agent (docs/edr/wazuh-isolation.md). */
import { createWazuhEdr } from '../wazuh';
import { defineEdr, tlsFields, withTls } from '../kit';

export const descriptor = defineEdr({
  kind: 'wazuh',
  label: 'Wazuh active response',
  summary: 'runs the soar-isolate active response on the agent (script and ossec.conf in docs/edr); manager API user and password',
  fields: [
    { name: 'url', type: 'string', required: true, pattern: '^https?://', patternHint: 'an http(s):// URL', placeholder: 'https://wazuh-manager:55000' },
    { name: 'username', type: 'string', required: true },
    { name: 'password', type: 'secret', required: true },
    { name: 'command', type: 'string', default: 'soar-isolate', pattern: '^!?[A-Za-z0-9_.-]{1,64}$', patternHint: 'a command name' },
    // The agent keeps reaching these while isolated (the manager, the hub, jump hosts, DNS).
    { name: 'allow', type: 'list', placeholder: 'one address or network per line' },
    ...tlsFields,
  ],
  supports: { status: false, async: false, resolveBy: ['agent name', 'ip', 'agent id'] },
  // api.yaml access.max_request_per_minute default 300.
  budget: { perMinute: 300 },
  create: (v, context) =>
    withTls(v, context, (http) =>
      createWazuhEdr({
        name: context.name,
        log: context.log,
        http,
        url: v.url as string,
        username: v.username as string,
        password: v.password as string,
        command: (v.command as string) || undefined,
        allow: (v.allow as string[]) ?? [],
      }),
    ),
});
