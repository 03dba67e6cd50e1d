/**
 * Approval channels: how an approval request reaches people (e-mail, chat, webhook) and, for the
 * inbound ones, how their decision comes back. Node-RED-free; the engine owns records, quorum and
 * expiry, a channel only delivers notices and turns a verified click into a `decide()` call.
 */
import type { HttpClientOptions } from '../../core/http';

export type ChannelDecisionValue = 'approve' | 'deny';
export type NoticeKind = 'request' | 'reminder' | 'escalation' | 'decided';

/** The approval page links minted for one approver ("email:ana@example.org", "slack:U024BE7LH", ...). */
export interface ApproverLinks {
  identity: string;
  /** Shown next to the links when there are several approvers (e.g. "Ana"). */
  name?: string;
  approve: string;
  deny: string;
}

/** How an approval ended, for `decided` notices and `update()`. */
export interface DecisionInfo {
  outcome: 'approved' | 'denied' | 'expired';
  /** Identity or name of whoever decided (absent for expiry). */
  by?: string;
  /** ISO time of the decision. */
  at: string;
  comment?: string;
}

export interface ApprovalNotice {
  approvalId: string;
  kind: NoticeKind;
  /** One line: what is asked, e.g. "Block 203.0.113.7 on the edge firewall?". */
  title: string;
  /** Context lines: the alert, the verdict and its reasons. */
  summary: string[];
  /** What is decided, e.g. {action: "block IP", target: "203.0.113.7"}. */
  fields: Record<string, string>;
  /** Identities of this channel allowed to decide ("telegram:123", ...); recipients for e-mail. */
  approvers: string[];
  /** Approval page links per approver (all channels may show them; link channels rely on them). */
  links: ApproverLinks[];
  /** ISO time the approval expires. */
  expiresAt: string;
  /** Set for kind "decided". */
  decision?: DecisionInfo;
}

/** What a channel needs to find its message again (Slack channel+ts, Telegram chat+message id, ...). */
export interface MessageRef {
  channel: string;
  approvalId: string;
  /** Channel-specific, JSON-safe, so the engine can keep it in the approval record across restarts. */
  data: Record<string, string | number>;
}

export interface ChannelDecision {
  approvalId: string;
  /** "<channel>:<id>", e.g. "slack:U024BE7LH". */
  identity: string;
  decision: ChannelDecisionValue;
  comment?: string;
  /** The channel kind the decision came through. */
  channel: string;
}

export interface DecideResult {
  ok: boolean;
  /** Why it was refused; shown to the person who clicked. */
  reason?: string;
  /** Set when this vote settled the approval: the channel shows the outcome on the clicked message at once. */
  decided?: DecisionInfo;
}

/** Provided by the engine: records the vote (it checks the approver list, expiry and state itself). */
export type DecideFn = (decision: ChannelDecision) => Promise<DecideResult>;

/** A plain Node HTTP handler; mount it on the hub's server (it reads the raw body itself). */
export type CallbackHandler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;

export interface ApprovalChannel {
  readonly kind: string;
  /** One or more messages per notice (e-mail sends one per approver). Rejects with a ProviderError. */
  notify(notice: ApprovalNotice): Promise<MessageRef[]>;
  /** Replace the buttons with the outcome; absent where a sent message cannot change (e-mail, Teams, webhook). */
  update?(ref: MessageRef, decision: DecisionInfo): Promise<void>;
  /** Inbound over HTTP (Slack, Mattermost): the callback handler to mount on the hub. */
  callback?: CallbackHandler;
  /** Pollers (Telegram getUpdates). */
  start?(): void;
  stop?(): Promise<void>;
}

/** A click or callback a channel refused before it reached the engine. */
export interface ChannelRefusal {
  code: 'forged' | 'stale' | 'replayed' | 'not-approver';
  reason: string;
  approvalId?: string;
  identity?: string;
}

export interface ChannelContext {
  /** The config node's name, for error messages and the HTTP client's provider label. */
  name: string;
  /** Needed by inbound channels (Slack, Telegram, Mattermost); without it their callbacks refuse. */
  decide?: DecideFn;
  /** Problems with no caller to return to (a failed update after a decision); never given a secret. */
  warn?: (message: string) => void;
  /** Callbacks refused by the channel itself (bad signature or HMAC, stale, replayed, not an approver), for the audit log. */
  refused?: (refusal: ChannelRefusal) => void;
  /** Test hooks for the HTTP client (clock, sleep, retry) and the channel's own clock. */
  http?: Partial<Pick<HttpClientOptions, 'now' | 'sleep' | 'retry' | 'random' | 'timeoutMs'>>;
  now?: () => number;
}
