/**
 * Contract fake for the Mattermost REST API v4 calls the approval channel makes.
 *
 * Follows: https://api.mattermost.com/#tag/posts/operation/CreatePost (POST /api/v4/posts, Bearer
 * token, {channel_id, message, props}) and #operation/PatchPost (PUT /api/v4/posts/{id}/patch),
 * https://developers.mattermost.com/integrate/plugins/interactive-messages/ (attachments with actions
 * {id, name, integration {url, context}}; the server POSTs {user_id, ..., context} to the URL and applies
 * the answer's `update`).
 */
import { startFakeServer, type FakeServer } from '../helpers/fake-server';

export const MM_TOKEN = 'mm-bot-Zk3Jq8Lw2Nx7Rv5Tb1Yc9Hd4Mf';

export interface MattermostFake {
  server: FakeServer;
  url: string;
  violations: string[];
  posts: Map<string, Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startMattermostFake(): Promise<MattermostFake> {
  const server = await startFakeServer();
  const violations: string[] = [];
  const posts = new Map<string, Record<string, unknown>>();
  let seq = 1;
  server.route('*', /^\/api\/v4\//, (request) => {
    if (request.headers.authorization !== `Bearer ${MM_TOKEN}`)
      return { status: 401, body: { id: 'api.context.session_expired.app_error', message: 'Invalid or expired session', status_code: 401 } };
    const body = (request.json ?? {}) as Record<string, unknown>;
    if (request.method === 'POST' && request.path === '/api/v4/posts') {
      if (!body.channel_id) return { status: 400, body: { id: 'api.post.create_post.channel_id', message: 'missing channel_id', status_code: 400 } };
      const attachments = (body.props as { attachments?: { actions?: { id?: string; integration?: { url?: string } }[] }[] })?.attachments ?? [];
      for (const action of attachments.flatMap((a) => a.actions ?? [])) {
        if (!/^[a-zA-Z0-9]+$/.test(action.id ?? '')) violations.push(`action id ${action.id} is not alphanumeric`);
        if (!action.integration?.url) violations.push('action without integration url');
      }
      const id = `post${seq++}`;
      posts.set(id, { id, ...body });
      return { status: 201, body: { id, ...body } };
    }
    const patch = /^\/api\/v4\/posts\/([^/]+)\/patch$/.exec(request.path);
    if (request.method === 'PUT' && patch) {
      const post = posts.get(patch[1]);
      if (!post) return { status: 404, body: { id: 'app.post.get.app_error', message: 'not found', status_code: 404 } };
      Object.assign(post, body);
      return { status: 200, body: post };
    }
    return { status: 404, body: { message: 'not found', status_code: 404 } };
  });
  return { server, url: server.url, violations, posts, close: () => server.close() };
}
