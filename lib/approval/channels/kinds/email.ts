/** E-mail over SMTP: one mail per approver with its own approval page links. */
import { createEmailChannel } from '../email';
import { defineChannel } from '../kit';

export const descriptor = defineChannel({
  kind: 'email',
  label: 'E-mail (SMTP)',
  summary: 'a mail with approve and deny links to each e-mail approver; SMTP server and a from address',
  fields: [
    { name: 'host', type: 'string', required: true, placeholder: 'smtp.example.org' },
    { name: 'port', type: 'number', min: 1, default: 587 },
    { name: 'secure', type: 'boolean', default: false },
    { name: 'requireTls', type: 'boolean', default: true },
    { name: 'verifyTls', type: 'boolean', default: true },
    { name: 'user', type: 'string' },
    { name: 'password', type: 'secret' },
    { name: 'from', type: 'string', required: true, placeholder: 'soar@example.org' },
  ],
  supports: { inbound: false, updates: false, links: true },
  create: (v, context) =>
    createEmailChannel(
      {
        host: v.host as string,
        port: v.port as number,
        secure: v.secure as boolean,
        requireTls: v.requireTls as boolean,
        verifyTls: v.verifyTls as boolean,
        user: (v.user as string) || undefined,
        password: v.password as string | undefined,
        from: v.from as string,
      },
      context,
    ),
});
