/**
 * Contract fake for a Microsoft Teams Workflows (Power Automate) webhook trigger.
 *
 * Follows: https://learn.microsoft.com/en-us/power-automate/teams/create-adaptive-card-workflow and
 * https://support.microsoft.com/office/create-incoming-webhooks-with-workflows-for-microsoft-teams
 * (POST to the flow URL, which carries its own sig= query parameter; body {type:"message",
 * attachments:[{contentType:"application/vnd.microsoft.card.adaptive", content:<AdaptiveCard>}]};
 * answered 202 Accepted). Wrong sig answers 401.
 */
import { startFakeServer, type FakeServer } from '../helpers/fake-server';

export const TEAMS_SIG = 'Zk3Jq8Lw2Nx7Rv5Tb1Yc9Hd4Mf6Ps0GaQ1';

export async function startTeamsFake(): Promise<{ server: FakeServer; webhookUrl: string; violations: string[]; close(): Promise<void> }> {
  const server = await startFakeServer();
  const violations: string[] = [];
  server.route('POST', '/workflows/abc123/triggers/manual/paths/invoke', (request) => {
    if (request.query.sig !== TEAMS_SIG) return { status: 401, body: { error: { code: 'DirectApiAuthorizationRequired', message: 'bad signature' } } };
    const body = request.json as
      { type?: string; attachments?: { contentType?: string; content?: { type?: string; actions?: { type?: string; url?: string }[] } }[] } | undefined;
    if (body?.type !== 'message') violations.push('type is not "message"');
    const card = body?.attachments?.[0];
    if (card?.contentType !== 'application/vnd.microsoft.card.adaptive' || card.content?.type !== 'AdaptiveCard')
      violations.push('no Adaptive Card attachment');
    for (const action of card?.content?.actions ?? [])
      if (action.type !== 'Action.OpenUrl' || !action.url) violations.push(`action ${action.type} is not an OpenUrl with a url`);
    return { status: 202 };
  });
  return {
    server,
    webhookUrl: `${server.url}/workflows/abc123/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${TEAMS_SIG}`,
    violations,
    close: () => server.close(),
  };
}
