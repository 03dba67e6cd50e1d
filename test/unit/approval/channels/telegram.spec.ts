import { strict as assert } from 'node:assert';
import { ProviderError } from '../../../../lib/core/errors';
import { callbackData, parseCallbackData, TelegramChannel } from '../../../../lib/approval/channels/telegram';
import { descriptor } from '../../../../lib/approval/channels/kinds/telegram';
import { readFields } from '../../../../lib/providers/descriptor';
import { startTelegramFake, TG_TOKEN, type TelegramFake } from '../../../fakes/telegram';
import { ManualClock } from '../../../helpers/fake-server';
import { notice, recordingDecide } from './notice';

describe('approval channel: Telegram', () => {
  let fake: TelegramFake;
  let clock: ManualClock;
  let warnings: string[];
  let recorder: ReturnType<typeof recordingDecide>;
  let channel: TelegramChannel;

  beforeEach(async () => {
    fake = await startTelegramFake();
    clock = new ManualClock(Date.UTC(2026, 0, 15, 12, 0, 0), true);
    warnings = [];
    recorder = recordingDecide(['telegram:111']);
    const values = readFields(descriptor, { chatId: '-100123', url: fake.apiUrl, pollTimeout: 1 }, { botToken: TG_TOKEN });
    channel = descriptor.create(values, {
      name: 'tg',
      decide: recorder.decide,
      warn: (m) => warnings.push(m),
      http: { now: clock.now, sleep: clock.sleep },
    }) as TelegramChannel;
  });

  afterEach(async () => {
    await channel.stop();
    await fake.close();
  });

  const click = (fromId: number, data: string) =>
    fake.pushUpdate({
      callback_query: {
        id: `cq${fromId}${data}`,
        from: { id: fromId, is_bot: false, first_name: 'x' },
        message: { message_id: 40, chat: { id: -100123 } },
        data,
      },
    });

  it('sends the request with an inline keyboard whose callback data fits in 64 bytes', async () => {
    const refs = await channel.notify(notice({ approvers: ['telegram:111'] }));
    const [send] = fake.server.requestsTo('POST', `/bot${TG_TOKEN}/sendMessage`);
    const body = send.json as { chat_id: string; text: string; reply_markup: { inline_keyboard: { text: string; callback_data: string }[][] } };
    assert.equal(body.chat_id, '-100123');
    assert.match(body.text, /203\.0\.113\.7/);
    assert.deepEqual(
      body.reply_markup.inline_keyboard[0].map((b) => parseCallbackData(b.callback_data)),
      [
        { approvalId: notice().approvalId, decision: 'approve' },
        { approvalId: notice().approvalId, decision: 'deny' },
      ],
    );
    assert.deepEqual(refs[0].data, { chatId: '-100123', messageId: 40 });
    assert.deepEqual(fake.violations, []);
  });

  it('refuses an approval id that would not fit in callback data', () => {
    assert.throws(() => callbackData('x'.repeat(63), 'approve'), /64 bytes/);
  });

  it("an approver's click becomes a decision and is answered; the offset confirms it", async () => {
    await channel.notify(notice({ approvers: ['telegram:111'] }));
    const id = click(111, `a:${notice().approvalId}`);
    assert.equal(await channel.pollOnce(), 1);
    assert.deepEqual(recorder.calls, [{ approvalId: notice().approvalId, identity: 'telegram:111', decision: 'approve', channel: 'telegram' }]);
    assert.equal(fake.answers[0].callback_query_id, `cq111a:${notice().approvalId}`);
    assert.match(String(fake.answers[0].text), /recorded/);
    assert.equal(await channel.pollOnce(), 0);
    assert.equal(fake.offsets.at(-1), id + 1);
  });

  it('a click that settles the approval edits the clicked message', async () => {
    channel = new TelegramChannel(
      { botToken: TG_TOKEN, chatId: '-100123', apiUrl: fake.apiUrl },
      { name: 'tg', decide: recordingDecide(['telegram:111'], true).decide },
    );
    click(111, `d:${notice().approvalId}`);
    await channel.pollOnce();
    const [edit] = fake.server.requestsTo('POST', `/bot${TG_TOKEN}/editMessageText`);
    assert.ok(edit, 'editMessageText called');
    assert.deepEqual([(edit.json as { chat_id: string }).chat_id, (edit.json as { message_id: number }).message_id], ['-100123', 40]);
    assert.match(String((edit.json as { text: string }).text), /Denied by telegram:111/);
  });

  it('a click from someone not on the approver list decides nothing and is told so', async () => {
    await channel.notify(notice({ approvers: ['telegram:111'] }));
    click(666, `a:${notice().approvalId}`);
    await channel.pollOnce();
    assert.deepEqual(recorder.calls, []);
    assert.match(String(fake.answers[0].text), /not an approver/);
  });

  it("after a restart (no notice in memory) the engine's refusal reaches the user", async () => {
    click(666, 'd:unknown-approval');
    await channel.pollOnce();
    assert.equal(recorder.calls.length, 1);
    assert.match(String(fake.answers[0].text), /Not recorded: telegram:666 may not decide/);
  });

  it('long polls with offset and timeout while started, and stops', async () => {
    channel.start();
    click(111, `d:${notice().approvalId}`);
    await fake.server.waitForRequests(2);
    await channel.stop();
    const polls = fake.server.requestsTo('POST', `/bot${TG_TOKEN}/getUpdates`);
    assert.equal((polls[0].json as { timeout: number }).timeout, 1);
    assert.ok(recorder.calls.some((c) => c.decision === 'deny'));
  });

  it('editMessageText replaces the keyboard with the outcome', async () => {
    const [ref] = await channel.notify(notice());
    await channel.update(ref, { outcome: 'denied', by: 'Ana', at: '2026-01-15T12:05:00.000Z' });
    const [edit] = fake.server.requestsTo('POST', `/bot${TG_TOKEN}/editMessageText`);
    const body = edit.json as Record<string, unknown>;
    assert.equal(body.message_id, 40);
    assert.match(String(body.text), /Denied by Ana/);
    assert.equal(body.reply_markup, undefined);
  });

  it('waits out parameters.retry_after of a 429, then sends once', async () => {
    fake.script('sendMessage', {
      status: 429,
      body: { ok: false, error_code: 429, description: 'Too Many Requests: retry after 5', parameters: { retry_after: 5 } },
    });
    await channel.notify(notice());
    assert.equal(fake.server.count('POST', `/bot${TG_TOKEN}/sendMessage`), 2);
    assert.ok(clock.sleeps.includes(5000), `slept ${clock.sleeps}`);
  });

  it('keeps the bot token (which is in the URL) out of errors and warnings', async () => {
    fake.script('sendMessage', { status: 400, body: { ok: false, error_code: 400, description: 'Bad Request: chat not found' } });
    const error = await channel.notify(notice()).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof ProviderError);
    const bad = new TelegramChannel(
      { botToken: 'wrong:token-value-1234567890', chatId: '1', apiUrl: fake.apiUrl },
      { name: 'tg2', warn: (m) => warnings.push(m) },
    );
    const authError = await bad.notify(notice()).then(
      () => undefined,
      (e: unknown) => e,
    );
    await bad.stop();
    const everything = JSON.stringify(error) + (error as Error).message + JSON.stringify(authError) + (authError as Error).message + warnings.join('\n');
    assert.ok(!everything.includes(TG_TOKEN));
    assert.ok(!everything.includes('token-value-1234567890'));
  });
});
