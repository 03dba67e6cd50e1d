/**
 * Contract fake for the Slack Web API methods the approval channel uses, and a signer for
 * interaction callbacks.
 *
 * Follows: https://api.slack.com/methods/chat.postMessage (Bearer bot token, JSON body with channel,
 * text, blocks; answer {ok, channel, ts}; failures as HTTP 200 {ok:false, error}),
 * https://api.slack.com/methods/chat.update, https://api.slack.com/methods/chat.postEphemeral,
 * https://api.slack.com/docs/rate-limits (429 with Retry-After seconds),
 * https://api.slack.com/authentication/verifying-requests-from-slack (v0 signature over
 * "v0:<timestamp>:<raw body>", X-Slack-Signature / X-Slack-Request-Timestamp) and
 * https://api.slack.com/reference/interaction-payloads/block-actions-payload (form field `payload`).
 */
import { createHmac } from 'node:crypto';
import { startFakeServer, type FakeReply, type FakeServer } from '../helpers/fake-server';

export const SLACK_TOKEN = 'xoxb-1111111111-2222222222-Zk3Jq8Lw2Nx7Rv5Tb1Yc9Hd4';
export const SLACK_SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';

export interface SlackFake {
  server: FakeServer;
  apiUrl: string;
  violations: string[];
  /** Scripted replies for a method, served before the normal answers. */
  script(method: string, ...replies: FakeReply[]): void;
  close(): Promise<void>;
}

export async function startSlackFake(): Promise<SlackFake> {
  const server = await startFakeServer();
  const violations: string[] = [];
  const scripts = new Map<string, FakeReply[]>();
  let seq = 100;
  server.route('POST', /^\/api\/[a-zA-Z.]+$/, (request) => {
    const method = request.path.slice('/api/'.length);
    if (request.headers.authorization !== `Bearer ${SLACK_TOKEN}`) return { status: 200, body: { ok: false, error: 'invalid_auth' } };
    const scripted = scripts.get(method)?.shift();
    if (scripted) return scripted;
    const body = request.json as Record<string, unknown> | undefined;
    if (!body) violations.push(`${method}: body is not JSON`);
    if (!body?.channel) return { status: 200, body: { ok: false, error: 'channel_not_found' } };
    if (method === 'chat.postMessage') {
      if (!body.text) violations.push('chat.postMessage without a text fallback');
      return { status: 200, body: { ok: true, channel: body.channel, ts: `1714557600.000${seq++}` } };
    }
    if (method === 'chat.update') {
      if (!body.ts) violations.push('chat.update without ts');
      return { status: 200, body: { ok: true, channel: body.channel, ts: body.ts } };
    }
    if (method === 'chat.postEphemeral') {
      if (!body.user) violations.push('chat.postEphemeral without user');
      return { status: 200, body: { ok: true, message_ts: `1714557601.000${seq++}` } };
    }
    return { status: 200, body: { ok: false, error: 'unknown_method' } };
  });
  return {
    server,
    apiUrl: `${server.url}/api`,
    violations,
    script: (method, ...replies) => scripts.set(method, [...(scripts.get(method) ?? []), ...replies]),
    close: () => server.close(),
  };
}

/** A block_actions callback as Slack sends it: form body, signature headers. */
export function signedInteraction(options: {
  userId: string;
  approvalId: string;
  actionId: 'approve' | 'deny';
  timestamp: number;
  secret?: string;
  triggerId?: string;
  channelId?: string;
}) {
  const payload = {
    type: 'block_actions',
    user: { id: options.userId, username: 'someone' },
    trigger_id: options.triggerId ?? `${Math.floor(Math.random() * 1e9)}.1111.abcdef`,
    channel: { id: options.channelId ?? 'C0APPROVE' },
    container: { type: 'message', message_ts: '1714557600.000100', channel_id: options.channelId ?? 'C0APPROVE' },
    actions: [
      {
        action_id: options.actionId,
        block_id: `soar_approval_${options.approvalId}`,
        value: options.approvalId,
        type: 'button',
        action_ts: String(options.timestamp),
      },
    ],
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const signature =
    'v0=' +
    createHmac('sha256', options.secret ?? SLACK_SIGNING_SECRET)
      .update(`v0:${options.timestamp}:${body}`)
      .digest('hex');
  return {
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(options.timestamp), 'x-slack-signature': signature },
  };
}
