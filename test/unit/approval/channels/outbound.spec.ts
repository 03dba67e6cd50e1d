import { strict as assert } from 'node:assert';
import { createHmac } from 'node:crypto';
import { descriptor as teams } from '../../../../lib/approval/channels/kinds/teams';
import { descriptor as webhook } from '../../../../lib/approval/channels/kinds/webhook';
import { CHANNEL_KINDS } from '../../../../lib/approval/channels/registry';
import { renderMail } from '../../../../lib/approval/channels/email';
import { readFields } from '../../../../lib/providers/descriptor';
import { startTeamsFake, TEAMS_SIG } from '../../../fakes/teams';
import { startFakeServer } from '../../../helpers/fake-server';
import { notice } from './notice';

const links = [
  { identity: 'email:ana@example.org', name: 'Ana', approve: 'http://127.0.0.1:1880/soar/approval/A1', deny: 'http://127.0.0.1:1880/soar/approval/D1' },
  { identity: 'email:bo@example.org', name: 'Bo', approve: 'http://127.0.0.1:1880/soar/approval/A2', deny: 'http://127.0.0.1:1880/soar/approval/D2' },
];

describe('approval channels: Teams, webhook, e-mail rendering, descriptors', () => {
  it('Teams: an Adaptive Card with one OpenUrl pair per approver, 202 accepted', async () => {
    const fake = await startTeamsFake();
    try {
      const channel = teams.create(readFields(teams, {}, { webhookUrl: fake.webhookUrl }), { name: 'teams' });
      await channel.notify(notice({ links }));
      const [request] = fake.server.requests;
      const card = (request.json as { attachments: { content: { actions: { title: string; url: string }[] } }[] }).attachments[0].content;
      assert.deepEqual(
        card.actions.map((a) => a.url),
        [links[0].approve, links[0].deny, links[1].approve, links[1].deny],
      );
      assert.match(card.actions[0].title, /Approve as Ana/);
      assert.deepEqual(fake.violations, []);
    } finally {
      await fake.close();
    }
  });

  it('Teams: the webhook signature stays out of errors', async () => {
    const fake = await startTeamsFake();
    try {
      const wrong = fake.webhookUrl.replace(TEAMS_SIG, 'WrongSignatureValue0123456789');
      const channel = teams.create(readFields(teams, {}, { webhookUrl: wrong }), { name: 'teams' });
      const error = (await channel.notify(notice({ links })).then(
        () => undefined,
        (e: unknown) => e,
      )) as Error;
      assert.ok(error);
      assert.ok(!(JSON.stringify(error) + error.message).includes('WrongSignatureValue0123456789'));
    } finally {
      await fake.close();
    }
  });

  it('webhook: JSON with the request and links, signed over timestamp and body', async () => {
    const server = await startFakeServer();
    server.route('POST', '/hook', { status: 204 });
    try {
      const channel = webhook.create(readFields(webhook, { url: `${server.url}/hook` }, { secret: 'hook-secret-123456' }), {
        name: 'hook',
        now: () => 1_768_478_400_000,
      });
      await channel.notify(notice({ links }));
      await channel.update!({ channel: 'webhook', approvalId: 'x', data: {} }, { outcome: 'denied', by: 'Bo', at: '2026-01-15T12:05:00.000Z' });
      const [first, second] = server.requests;
      const body = first.json as { approvalId: string; approvers: { approve: string }[]; fields: Record<string, string> };
      assert.equal(body.approvalId, notice().approvalId);
      assert.equal(body.approvers[1].approve, links[1].approve);
      assert.equal(body.fields.target, '203.0.113.7');
      assert.equal(first.headers['x-soar-timestamp'], '1768478400');
      assert.equal(first.headers['x-soar-signature'], 'sha256=' + createHmac('sha256', 'hook-secret-123456').update(`1768478400.${first.body}`).digest('hex'));
      assert.equal((second.json as { decision: { outcome: string } }).decision.outcome, 'denied');
    } finally {
      await server.close();
    }
  });

  it('e-mail: each approver gets only their own links, HTML-escaped, no remote assets', () => {
    const mail = renderMail(notice({ links, title: 'Block <script>alert(1)</script>?', approvers: ['email:bo@example.org'] }), 'bo@example.org');
    assert.match(mail.text, /Approve: http:\/\/127\.0\.0\.1:1880\/soar\/approval\/A2/);
    assert.ok(!mail.text.includes('/A1') && !mail.html.includes('/A1'));
    assert.ok(mail.html.includes('&lt;script&gt;') && !mail.html.includes('<script>'));
    assert.ok(!/<img|<link|src=|url\(/i.test(mail.html));
  });

  it('every kind has a descriptor with a factory and no credential outside secret fields', () => {
    assert.deepEqual(CHANNEL_KINDS.map((d) => d.kind).sort(), ['email', 'mattermost', 'slack', 'teams', 'telegram', 'webhook']);
    for (const d of CHANNEL_KINDS) {
      for (const f of d.fields) if (/token|secret|password|webhookUrl/i.test(f.name)) assert.ok(f.type === 'secret', `${d.kind}.${f.name}`);
    }
    assert.throws(() => readFields(teams, {}, { webhookUrl: 'not a url' }), /http\(s\)/);
  });
});
