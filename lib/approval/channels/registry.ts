/** Every approval channel kind, for the config node, the editor form and the README table. */
import type { ChannelDescriptor } from './kit';
import { descriptor as email } from './kinds/email';
import { descriptor as mattermost } from './kinds/mattermost';
import { descriptor as slack } from './kinds/slack';
import { descriptor as teams } from './kinds/teams';
import { descriptor as telegram } from './kinds/telegram';
import { descriptor as webhook } from './kinds/webhook';

export const CHANNEL_KINDS: readonly ChannelDescriptor[] = [email, slack, teams, telegram, mattermost, webhook];

export function channelDescriptor(kind: string): ChannelDescriptor | undefined {
  return CHANNEL_KINDS.find((d) => d.kind === kind);
}
