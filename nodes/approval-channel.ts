/**
 * soar-approval-channel: one way approval requests reach people — e-mail, Slack, Microsoft Teams,
 * Telegram, Mattermost or a generic webhook (the kinds and their settings come from the descriptors
 * in lib/approval/channels/kinds/, which the editor gets as RED.settings.soarApprovalChannelKinds).
 * Decisions that come back (a Slack or Mattermost click on the callback route below httpNodeRoot, a
 * Telegram click fetched by long polling) go to the hub's approval engine, which checks the approver
 * list, the expiry and that one person counts once.
 */
import type { NodeAPI, NodeDef } from 'node-red';
import { CHANNEL_KINDS, channelDescriptor } from '../lib/approval/channels/registry';
import type { ChannelDecision, DecideResult } from '../lib/approval/channels/types';
import { decisionInfo, type ChannelEndpoint } from '../lib/approval/dispatch';
import { redact } from '../lib/core/redact';
import { Hub } from '../lib/hub/hub';
import { editorView, isCredential, readFields } from '../lib/providers/descriptor';
import { addRoute, hubLifecycle, httpNodeBase, translator, type ApprovalChannelConfigNode, type ChannelState, type RouteApp } from './common';

interface ApprovalChannelDef extends NodeDef {
  hub: string;
  kind: string;
  /** The kind's own fields, flat: see lib/approval/channels/kinds/. */
  [field: string]: unknown;
}

/** Every credential any kind declares (Node-RED needs one list per node type). */
function channelCredentials(): Record<string, { type: 'password' }> {
  const out: Record<string, { type: 'password' }> = {};
  for (const d of CHANNEL_KINDS) for (const f of d.fields) if (isCredential(f)) out[f.name] = { type: 'password' };
  return out;
}

function callbackPath(id: string): string {
  return `/soar/approval-channel/${encodeURIComponent(id)}/callback`;
}

/** The deployed channel nodes, for the dialog's state line. */
const deployed = new Map<string, ApprovalChannelConfigNode>();
let adminApp: unknown;

export = function (RED: NodeAPI): void {
  const t = translator(RED, 'soar-approval-channel');

  type Res = { json(v: unknown): void; status(code: number): Res };
  function ensureAdminRoute(): void {
    if (adminApp === RED.httpAdmin) return;
    adminApp = RED.httpAdmin;
    // The dialog's state line: ready / polling / failing with the last error (already free of secrets).
    (RED.httpAdmin as unknown as { get(p: string, ...h: unknown[]): void }).get(
      '/soar/approval-channels/:id',
      RED.auth.needsPermission('soar-hub.read'),
      (req: { params: { id: string } }, res: Res) => {
        const node = deployed.get(String(req.params.id));
        if (!node) return void res.status(404).json({ error: 'not deployed' });
        res.json({ kind: node.kind, callbackPath: node.callbackPath, ...node.state() });
      },
    );
  }
  ensureAdminRoute();

  function ApprovalChannelNode(this: ApprovalChannelConfigNode, config: ApprovalChannelDef): void {
    RED.nodes.createNode(this, config);
    ensureAdminRoute();
    const node = this;
    node.kind = String(config.kind ?? '');
    const descriptor = channelDescriptor(node.kind);
    node.label = String(config.name ?? '').trim() || descriptor?.label || node.kind;
    node.callbackPath = callbackPath(node.id);
    const credentials = (node.credentials ?? {}) as Record<string, unknown>;
    const secrets = Object.values(credentials).filter((v): v is string => typeof v === 'string' && v.length >= 4);
    let state: ChannelState = 'starting';
    let lastError: string | undefined;
    let polling = false;
    let hubRef: Hub | undefined;
    let removeRoute: (() => void) | undefined;
    node.state = () => ({ state, ...(lastError ? { error: lastError } : {}) });
    node.report = (ok, error) => {
      if (state === 'error') return;
      if (ok) {
        state = polling ? 'polling' : 'ready';
        lastError = undefined;
      } else {
        state = 'failing';
        lastError = redact(String(error ?? 'failed'), secrets).slice(0, 300);
      }
    };
    deployed.set(node.id, node);

    /** A click verified by the channel: the engine of the hub holding that approval decides. */
    const decide = async (d: ChannelDecision): Promise<DecideResult> => {
      let hub = hubRef;
      if (!hub) return { ok: false, reason: 'the hub is not open' };
      if (!(await hub.approvals.get(d.approvalId))) {
        // An approval asked through another hub (a wait node with its own hub setting) is decided there.
        for (const other of await Hub.all()) if (await other.approvals.get(d.approvalId)) hub = other;
      }
      const result = await hub.approvals.decide({
        id: d.approvalId,
        identity: d.identity,
        decision: d.decision,
        channel: d.channel,
        ...(d.comment ? { comment: d.comment } : {}),
      });
      if (!result.ok) return { ok: false, reason: result.reason };
      return { ok: true, ...(result.resolved ? { decided: decisionInfo(result.record) } : {}) };
    };

    const lc = hubLifecycle<ChannelEndpoint>(RED, node, {
      namespace: 'soar-approval-channel',
      hub: config.hub,
      showStatus: false,
      failedMessage: (err) => t('errors.setup', { name: node.label, message: redact(err.message, secrets) }),
      setup: (hub) => {
        if (!descriptor) throw new Error(t('errors.kind', { kind: node.kind || '(none)' }));
        const flat: Record<string, unknown> = { ...config };
        // Mattermost posts its clicks to the URL the buttons carry: by default this node's own route.
        if (node.kind === 'mattermost' && !String(flat.callbackUrl ?? '').trim()) flat.callbackUrl = httpNodeBase(RED.settings) + node.callbackPath.slice(1);
        const values = readFields(descriptor, flat, credentials);
        const channel = descriptor.create(values, {
          name: node.label,
          decide,
          warn: (message) => node.warn(redact(message, secrets)),
          // Refused before the engine saw it (the engine audits its own refusals).
          refused: (r) =>
            void hub.audit
              .append('approval.refused', {
                approval: String(r.approvalId ?? '').slice(0, 100),
                code: r.code,
                reason: redact(r.reason, secrets).slice(0, 300),
                channel: node.kind,
                via: node.label,
                ...(r.identity ? { identity: r.identity.slice(0, 260) } : {}),
              })
              .catch((err: Error) => node.warn(err.message)),
        });
        hubRef = hub;
        if (channel.callback) removeRoute = addRoute(RED.httpNode as unknown as RouteApp, node.callbackPath, ['post'], channel.callback);
        if (channel.start) {
          channel.start();
          polling = true;
        }
        state = polling ? 'polling' : 'ready';
        return { id: node.id, label: node.label, kind: node.kind, channel, supports: descriptor.supports, secrets };
      },
      teardown: async (endpoint) => {
        removeRoute?.();
        removeRoute = undefined;
        // Telegram's long poll ends before the hub (and its engine) is released.
        await endpoint.channel.stop?.();
      },
    });
    lc.ready.catch((err: Error) => {
      state = 'error';
      lastError = redact(err.message, secrets).slice(0, 300);
    });
    node.ready = lc.ready;
    lc.onClose(() => {
      removeRoute?.();
      removeRoute = undefined;
      hubRef = undefined;
      if (deployed.get(node.id) === node) deployed.delete(node.id);
    });
  }

  RED.nodes.registerType<ApprovalChannelConfigNode, ApprovalChannelDef, { soarApprovalChannelKinds: Record<string, unknown>[] }, Record<string, string>>(
    'soar-approval-channel',
    ApprovalChannelNode,
    {
      credentials: channelCredentials(),
      settings: { soarApprovalChannelKinds: { value: editorView(CHANNEL_KINDS), exportable: true } },
    },
  );
};
