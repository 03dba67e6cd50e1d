/**
 * The e-mail approval channel against a real SMTP server (the smtp-server package, on 127.0.0.1,
 * with AUTH): one mail per approver arrives with a text and an HTML part, both carrying that
 * approver's approve and deny links, and the links work (a real GET reaches the page for that approver).
 * A wrong password is refused with an error that does not contain it. End to end at node level: a flow
 * with a soar-approval-channel (e-mail) and soar-wait-approval sends the mail, its approve link is
 * followed with a real GET then POST to Node-RED's HTTP app, and the held message reaches the next node.
 */
import { strict as assert } from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { descriptor } from '../../lib/approval/channels/kinds/email';
import type { ApprovalChannel } from '../../lib/approval/channels/types';
import { readFields } from '../../lib/providers/descriptor';
import { withCatalogs } from '../helpers/i18n';
import { capturingRED, helper, nodeModule, readJsonLines, tempDir } from '../helpers/nr';
import { notice } from '../unit/approval/channels/notice';

const PASSWORD = 'smtp-pass-Zk3Jq8Lw2Nx7Rv5T';

interface Received {
  from: string;
  to: string[];
  raw: string;
}

/** Undo quoted-printable (soft breaks and =XX) so links can be read from the raw MIME text. */
function unQuote(text: string): string {
  return text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function parts(raw: string): { text: string; html: string } {
  const boundary = /boundary="?([^";\r\n]+)"?/.exec(raw)?.[1];
  assert.ok(boundary, 'a multipart mail');
  const sections = raw.split(`--${boundary}`);
  const find = (type: string) => {
    const section = sections.find((s) => new RegExp(`Content-Type: ${type}`, 'i').test(s));
    assert.ok(section, `a ${type} part`);
    const body = section
      .split(/\r?\n\r?\n/)
      .slice(1)
      .join('\n\n');
    return /Content-Transfer-Encoding: base64/i.test(section) ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8') : unQuote(body);
  };
  return { text: find('text/plain'), html: find('text/html') };
}

describe('approval channel: e-mail through a real SMTP server', function () {
  this.timeout(30_000);
  let smtp: SMTPServer;
  let smtpPort: number;
  let page: http.Server;
  let pageUrl: string;
  const received: Received[] = [];
  const pageHits: string[] = [];
  let channel: ApprovalChannel;

  before(async () => {
    smtp = new SMTPServer({
      authOptional: false,
      disabledCommands: ['STARTTLS'],
      onAuth(auth, _session, callback) {
        if (auth.username === 'soar' && auth.password === PASSWORD) return callback(null, { user: 'soar' });
        return callback(new Error('535 Authentication failed'));
      },
      onRcptTo(address, _session, callback) {
        if (address.address === 'gone@example.org') return callback(new Error('550 No such user'));
        return callback();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          received.push({
            from: String(session.envelope.mailFrom && session.envelope.mailFrom.address),
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString('utf8'),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    smtpPort = (smtp.server.address() as AddressInfo).port;
    // Stand-in for the approval page: answers GET with who the token belongs to (never decides).
    page = http.createServer((req, res) => {
      pageHits.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`confirm page for ${req.url}`);
    });
    await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
    pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/soar/approval`;
    const values = readFields(
      descriptor,
      { host: '127.0.0.1', port: smtpPort, secure: false, requireTls: false, user: 'soar', from: 'soar@hub.test' },
      { password: PASSWORD },
    );
    channel = descriptor.create(values, { name: 'mail' });
  });

  after(async () => {
    await channel.stop?.();
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
    await new Promise<void>((resolve) => page.close(() => resolve()));
  });

  it("delivers one mail per approver with text and HTML parts and that approver's working links", async () => {
    const links = [
      { identity: 'email:ana@example.org', name: 'Ana', approve: `${pageUrl}/tok-ana-approve`, deny: `${pageUrl}/tok-ana-deny` },
      { identity: 'email:bo@example.org', name: 'Bo', approve: `${pageUrl}/tok-bo-approve`, deny: `${pageUrl}/tok-bo-deny` },
    ];
    const refs = await channel.notify(notice({ approvers: ['email:ana@example.org', 'email:bo@example.org'], links }));
    assert.equal(refs.length, 2);
    assert.equal(received.length, 2);
    const bo = received.find((m) => m.to.includes('bo@example.org'))!;
    assert.equal(bo.from, 'soar@hub.test');
    assert.match(bo.raw, /^Subject: Block 203\.0\.113\.7 on the edge firewall\?/m);
    const { text, html } = parts(bo.raw);
    assert.match(text, /Expires: 2026-01-15T12:30:00\.000Z/);
    const textLinks = [...text.matchAll(/https?:\/\/\S+/g)].map((m) => m[0]);
    const htmlLinks = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(textLinks, [links[1].approve, links[1].deny]);
    assert.deepEqual(htmlLinks, [links[1].approve, links[1].deny]);
    assert.ok(!bo.raw.includes('tok-ana'), "Ana's links are not in Bo's mail");
    for (const link of htmlLinks) {
      const response = await fetch(link);
      assert.equal(response.status, 200);
      assert.match(await response.text(), /confirm page for \/soar\/approval\/tok-bo-/);
    }
    assert.deepEqual(pageHits, ['GET /soar/approval/tok-bo-approve', 'GET /soar/approval/tok-bo-deny']);
  });

  it('a refused recipient fails the notice but reports the mails that did go out', async () => {
    const before = received.length;
    const error = (await channel.notify(notice({ approvers: ['email:ana@example.org', 'email:gone@example.org'] })).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & { body?: { sent: { data: { to: string } }[] } };
    assert.ok(error, 'rejected');
    assert.match(error.message, /1 of 2 mails not sent \(gone@example\.org: .*550/);
    assert.deepEqual(
      error.body?.sent.map((r) => r.data.to),
      ['ana@example.org'],
    );
    assert.equal(received.length, before + 1);
  });

  it('end to end in Node-RED: the wait node mails the approver, the mailed link is followed (GET, then POST) and the flow continues', async function () {
    const dir = tempDir();
    // Node-RED's HTTP app, served on a port known before the flow loads (the page address is in the flow).
    let app: http.RequestListener = (_req, res) => res.writeHead(503).end();
    const server = http.createServer((req, res) => app(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await helper.startServer();
    try {
      const cap = capturingRED(nodeModule('hub'));
      const flow = [
        { id: 'tab1', type: 'tab', label: 't' },
        { id: 'hub1', type: 'soar-hub', dir, simulate: false, includeDefaults: true, maxActionsPerHour: 100 },
        {
          id: 'mail1',
          type: 'soar-approval-channel',
          name: 'approver mail',
          hub: 'hub1',
          kind: 'email',
          host: '127.0.0.1',
          port: smtpPort,
          secure: false,
          requireTls: false,
          user: 'soar',
          from: 'soar@hub.test',
        },
        {
          id: 'wa1',
          z: 'tab1',
          type: 'soar-wait-approval',
          hub: 'hub1',
          approvers: 'ana: email:ana@example.org',
          quorum: 1,
          timeout: 60,
          onTimeout: 'deny',
          fields: 'alert.source.ip',
          action: 'block IP',
          pageUrl: `${base}/soar/approval/`,
          channel1: 'mail1',
          configVersion: 2,
          wires: [['next'], [], []],
        },
        { id: 'next', z: 'tab1', type: 'helper' },
      ];
      await helper.load([cap.module, withCatalogs(nodeModule('approval-channel')), withCatalogs(nodeModule('wait-approval'))], flow, {
        mail1: { password: PASSWORD },
      });
      app = cap.red().httpNode as unknown as http.RequestListener;
      const reached: Record<string, any>[] = [];
      helper.getNode('next').on('input', (m: Record<string, any>) => reached.push(m));
      const before = received.length;
      helper.getNode('wa1').receive({ alert: { id: 'a1', title: 'SSH brute force from 203.0.113.9', source: { ip: '203.0.113.9' } } });

      const waitFor = async <T>(check: () => T | undefined, what: string): Promise<T> => {
        for (let i = 0; i < 500; i++) {
          const value = check();
          if (value) return value;
          await new Promise((r) => setTimeout(r, 20));
        }
        throw new Error(`timed out waiting for ${what}`);
      };
      const mail = await waitFor(() => received.slice(before).find((m) => m.to.includes('ana@example.org')), 'the approval mail');
      assert.match(mail.raw, /^Subject: SSH brute force from 203\.0\.113\.9/m);
      const { text } = parts(mail.raw);
      const approve = /^Approve: (\S+)$/m.exec(text)?.[1];
      assert.ok(approve?.startsWith(`${base}/soar/approval/`), `approve link in ${text}`);

      const page = await fetch(approve!);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<form method="post">/);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(reached.length, 0, 'the GET alone decides nothing');
      const posted = await fetch(approve!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'comment=looks+right' });
      assert.equal(posted.status, 200);
      const msg = await waitFor(() => reached[0], 'the held message on the approved output');
      assert.equal(msg.alert.source.ip, '203.0.113.9');
      assert.equal(msg.approval.decision, 'approved');
      assert.deepEqual(msg.approval.by, ['email:ana@example.org']);

      // A sent mail cannot change: the approver gets the outcome in a second one.
      const outcome = await waitFor(
        () => received.slice(before).find((m) => /^Subject: .*Approved by email:ana@example\.org/m.test(m.raw.replace(/\r?\n[ \t]+/g, ' '))),
        'the outcome mail',
      );
      assert.ok(outcome);
      const records = readJsonLines(`${dir}/audit.jsonl`);
      assert.ok(records.some((r) => r.type === 'approval.notified' && r.channel === 'approver mail' && r.notice === 'request' && r.messages === 1));
      assert.ok(!JSON.stringify(records).includes(PASSWORD), 'the SMTP password is not in the audit log');
    } finally {
      await helper.unload();
      await helper.stopServer();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a refused login is an AUTH error without the password', async () => {
    const bad = descriptor.create(
      readFields(descriptor, { host: '127.0.0.1', port: smtpPort, requireTls: false, user: 'soar', from: 'soar@hub.test' }, { password: 'wrong-' + PASSWORD }),
      { name: 'mail' },
    );
    try {
      const error = (await bad.notify(notice({ approvers: ['email:ana@example.org'] })).then(
        () => undefined,
        (e: unknown) => e,
      )) as Error & { code?: string };
      assert.ok(error, 'rejected');
      assert.equal(error.code, 'AUTH');
      assert.ok(!(JSON.stringify(error) + error.message).includes(PASSWORD));
    } finally {
      await bad.stop?.();
    }
  });
});
