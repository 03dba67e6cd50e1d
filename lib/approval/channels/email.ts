/**
 * E-mail approval channel over SMTP (nodemailer): one mail per approver with a text and an HTML part,
 * each carrying that approver's own approve and deny links to the approval page (which asks for a
 * POST before deciding, so mail scanners that fetch links decide nothing). No remote assets.
 */
import nodemailer from 'nodemailer';
import type { Transporter } from 'nodemailer';
import { ProviderError } from '../../core/errors';
import { redact } from '../../core/redact';
import { bodyLines, escapeHtml, headline, identityId, outcomeText } from './kit';
import type { ApprovalChannel, ApprovalNotice, ChannelContext, MessageRef } from './types';

export interface EmailChannelOptions {
  host: string;
  port?: number;
  /** TLS from the first byte (port 465); otherwise STARTTLS when offered (required with requireTls). */
  secure?: boolean;
  requireTls?: boolean;
  /** Check the server's certificate (default on). */
  verifyTls?: boolean;
  user?: string;
  password?: string;
  from: string;
  /** Per-message timeout in ms. Default 30,000. */
  timeoutMs?: number;
}

export interface RenderedMail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** The mail for one approver (exported for tests and previews). */
export function renderMail(notice: ApprovalNotice, address: string): RenderedMail {
  const identity = `email:${address}`;
  const links = notice.kind === 'decided' ? undefined : notice.links.find((l) => l.identity.toLowerCase() === identity.toLowerCase());
  const lines = bodyLines(notice);
  const text = [headline(notice), '', ...lines];
  if (notice.decision) text.push('', outcomeText(notice.decision));
  if (links) text.push('', `Approve: ${links.approve}`, `Deny: ${links.deny}`, '', 'Each link opens a page that asks you to confirm; the link works once.');
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif">',
    `<h2>${escapeHtml(headline(notice))}</h2>`,
    ...lines.map((line) => `<p>${escapeHtml(line)}</p>`),
    notice.decision ? `<p><strong>${escapeHtml(outcomeText(notice.decision))}</strong></p>` : '',
    links
      ? `<p><a href="${escapeHtml(links.approve)}">Approve</a> &nbsp; <a href="${escapeHtml(links.deny)}">Deny</a></p><p>Each link opens a page that asks you to confirm; the link works once.</p>`
      : '',
    '</body></html>',
  ].join('\n');
  return {
    to: address,
    subject: headline(notice)
      .replace(/[\r\n]+/g, ' ')
      .slice(0, 200),
    text: text.join('\n'),
    html,
  };
}

export class EmailChannel implements ApprovalChannel {
  readonly kind = 'email';
  private readonly transport: Transporter;
  private readonly secrets: string[];

  constructor(
    private readonly options: EmailChannelOptions,
    private readonly context: ChannelContext,
  ) {
    if (!options.host || !options.from) throw new Error(`${context.name}: e-mail needs an SMTP host and a from address`);
    this.secrets = options.password ? [options.password] : [];
    const timeout = options.timeoutMs ?? 30_000;
    this.transport = nodemailer.createTransport({
      host: options.host,
      port: options.port ?? (options.secure ? 465 : 587),
      secure: Boolean(options.secure),
      requireTLS: Boolean(options.requireTls),
      tls: { rejectUnauthorized: options.verifyTls !== false },
      auth: options.user ? { user: options.user, pass: options.password ?? '' } : undefined,
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      disableFileAccess: true,
      disableUrlAccess: true,
    });
  }

  async notify(notice: ApprovalNotice): Promise<MessageRef[]> {
    const addresses = notice.approvers.map((a) => identityId(a, 'email')).filter((a): a is string => Boolean(a));
    const refs: MessageRef[] = [];
    const failures: string[] = [];
    for (const address of addresses) {
      const mail = renderMail(notice, address);
      try {
        const info = await this.transport.sendMail({ from: this.options.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
        refs.push({ channel: this.kind, approvalId: notice.approvalId, data: { to: address, messageId: String(info.messageId ?? '') } });
      } catch (error) {
        failures.push(`${address}: ${redact(String((error as Error)?.message ?? error), this.secrets)}`);
      }
    }
    if (failures.length) {
      const auth = failures.some((f) => /auth|535|534/i.test(f));
      // body.sent: the mails that did go out, so a retry can skip those approvers instead of mailing them twice.
      throw new ProviderError({
        provider: this.context.name || 'email',
        code: auth ? 'AUTH' : 'NETWORK',
        message: `${this.context.name || 'email'}: ${failures.length} of ${addresses.length} mails not sent (${failures.join('; ')})`,
        retryable: !auth,
        body: { sent: refs },
      });
    }
    return refs;
  }

  async stop(): Promise<void> {
    this.transport.close();
  }
}

export function createEmailChannel(options: EmailChannelOptions, context: ChannelContext): EmailChannel {
  return new EmailChannel(options, context);
}
