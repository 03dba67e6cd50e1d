/**
 * soar-wait-approval: holds a message in the hub's approval engine until its approvers decide, then
 * sends it on output 1 approved, 2 denied or 3 expired, exactly once — also after a redeploy, a
 * restart or kill -9 (the engine keeps it in the hub's store). The approval page is served on
 * Node-RED's HTTP server at <httpNodeRoot>soar/approval/<token>; the SOAR sidebar decides as the editor user.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApprovalEngine } from '../lib/approval/engine';
import { APPROVALS_NS } from '../lib/approval/engine';
import { ApprovalDispatch, identitiesOn, type ChannelEndpoint } from '../lib/approval/dispatch';
import type { ApprovalLinks, LinkLookup } from '../lib/approval/links';
import { createApprovalPageHandler } from '../lib/approval/page';
import { parsePersons } from '../lib/approval/persons';
import {
  IDENTITY_CHANNELS,
  normalisePolicy,
  restoreMessage,
  type ApprovalPolicy,
  type ApprovalRecord,
  type ApproverPerson,
  type TimeoutOutcome,
} from '../lib/approval/records';
import { Hub } from '../lib/hub/hub';
import {
  addSharedRoute,
  httpNodeBase,
  hubLifecycle,
  listField,
  migrateConfig,
  SettingsParser,
  translator,
  type ApprovalChannelConfigNode,
  type RouteApp,
} from './common';

/** The channel config node ids of a node: the slots in order, then any the slots could not take. */
function channelIds(config: WaitApprovalDef): string[] {
  const ids: string[] = [];
  for (let i = 1; i <= CHANNEL_SLOTS; i++) {
    const id = config[`channel${i}`];
    if (typeof id === 'string' && id !== '' && !ids.includes(id)) ids.push(id);
  }
  if (Array.isArray(config.channels)) for (const id of config.channels) if (typeof id === 'string' && id !== '' && !ids.includes(id)) ids.push(id);
  return ids;
}

interface WaitApprovalDef extends NodeDef {
  configVersion?: number;
  hub: string;
  approvers: string;
  quorum: number | string;
  denyNeedsQuorum: boolean;
  timeout: number | string;
  onTimeout: TimeoutOutcome;
  escalation: string;
  escalateAfter: number | string;
  reminders: string;
  fields: string;
  action: string;
  pageUrl: string;
  /** soar-approval-channel config nodes the request goes out through (besides the page and the sidebar). */
  channel1?: string;
  channel2?: string;
  channel3?: string;
  channel4?: string;
  /** Flows saved before the slots (resources/migrations/soar-wait-approval.js moves them); ids that did not fit stay here. */
  channels?: string[];
  [slot: `channel${number}`]: string | undefined;
}

const STATE_OUTPUT: Record<string, number> = { approved: 0, denied: 1, expired: 2 };
const MINUTE = 60_000;

const PAGE_ROUTE = '/soar/approval/:token';
/** Approval channel slots (channel1..4): config-node references the editor counts, checks and exports. */
const CHANNEL_SLOTS = 4;

/** Links of every open hub: a token belongs to one of them. */
const allHubLinks = {
  async lookup(token: string): Promise<LinkLookup> {
    for (const hub of await Hub.all()) {
      const found = await hub.approvalLinks.lookup(token);
      if (found.status !== 'unknown') return found;
    }
    return { status: 'unknown' };
  },
  async use(token: string, comment?: string) {
    for (const hub of await Hub.all()) {
      const found = await hub.approvalLinks.lookup(token);
      if (found.status !== 'unknown') return hub.approvalLinks.use(token, comment);
    }
    // No hub knows it: the first one refuses it, so the forged or stale link is audited.
    const [first] = await Hub.all();
    return first ? first.approvalLinks.use(token, comment) : { lookup: { status: 'unknown' } as LinkLookup };
  },
} as unknown as ApprovalLinks;

export = function (RED: NodeAPI): void {
  const t = translator(RED, 'soar-wait-approval');
  const page = createApprovalPageHandler({ links: allHubLinks, warn: (m) => RED.log.warn(m) });

  const addPageRoute = () =>
    addSharedRoute(RED.httpNode as unknown as RouteApp, PAGE_ROUTE, ['get', 'post'], (req, res) => void page(req as IncomingMessage, res as ServerResponse));

  function pageBase(configured: string): string {
    if (configured && configured.trim()) return configured.trim();
    return `${httpNodeBase(RED.settings)}soar/approval/`;
  }

  function WaitApprovalNode(this: Node, saved: WaitApprovalDef): void {
    const config = migrateConfig(saved, (message) => RED.log.warn(`soar-wait-approval ${saved.id}: ${message}`));
    RED.nodes.createNode(this, config);
    const node = this;

    const settings = new SettingsParser();
    const quorum = settings.number('the quorum', config.quorum, { default: 1, min: 1, integer: true });
    const timeoutMin = settings.number('the timeout', config.timeout, { default: 60, min: 0, exclusiveMin: true });
    const escalateAfterRaw = config.escalateAfter;
    const escalateAfterMin =
      escalateAfterRaw === undefined || escalateAfterRaw === null || String(escalateAfterRaw).trim() === ''
        ? undefined
        : settings.number('escalate after', escalateAfterRaw, { default: 0, min: 0, exclusiveMin: true });
    const reminders: number[] = [];
    for (const r of listField(config.reminders)) reminders.push(settings.number('a reminder', r, { default: 0, min: 0, exclusiveMin: true }) * MINUTE);
    let policy: ApprovalPolicy | undefined;
    let settingError: string | undefined;
    /** Approvers and the escalation list, as the engine reads them. */
    let everyone: ApproverPerson[] = [];
    try {
      const fields = listField(config.fields);
      policy = {
        approvers: parsePersons(config.approvers, 'approvers'),
        quorum,
        denyNeedsQuorum: config.denyNeedsQuorum === true,
        timeoutMs: timeoutMin * MINUTE,
        onTimeout: config.onTimeout || 'deny',
        escalation: parsePersons(config.escalation, 'escalation list'),
        ...(escalateAfterMin !== undefined ? { escalateAfterMs: escalateAfterMin * MINUTE } : {}),
        remindAfterMs: reminders,
        ...(fields.length ? { fields } : {}),
      };
      if (settings.errors.length) throw new Error(settings.errors.join('; '));
      everyone = ((p) => [...p.approvers, ...p.escalation])(normalisePolicy(policy));
    } catch (err) {
      settingError = t('errors.settings', { errors: (err as Error).message });
      node.error(settingError);
    }
    // One editor identity per person: a person listed as editor:admin and editor:anonymous gets one
    // approve and one deny link in the log, not two of each (either identity votes as that person).
    const editorIdentities = (persons: ApproverPerson[] | undefined) => (persons ?? []).flatMap((p) => p.identities.find((i) => i.startsWith('editor:')) ?? []);
    const base = pageBase(config.pageUrl);
    const removeRoute = addPageRoute();

    let engine: ApprovalEngine | undefined;
    let hubRef: Hub | undefined;
    const unsubscribe: (() => void)[] = [];
    const deliveries = new Set<Promise<unknown>>();
    const requests = new Set<Promise<unknown>>();
    let dispatch: ApprovalDispatch | undefined;
    /** Channels whose last send or update failed (label by config node id), shown in the status. */
    const failing = new Map<string, string>();

    // The channel config nodes exist before this node (Node-RED creates config nodes first).
    const channelNodes: ApprovalChannelConfigNode[] = [];
    for (const id of channelIds(config)) {
      const found = RED.nodes.getNode(id) as ApprovalChannelConfigNode | null;
      if (found && typeof (found as Partial<ApprovalChannelConfigNode>).report === 'function') channelNodes.push(found);
      else {
        // The page and the other channels still work: a missing channel is reported, not fatal.
        failing.set(id, id);
        node.error(t('errors.channel-missing', { id }));
      }
    }

    // A channel that addresses people (e-mail, chat) posts only for those with an identity on it: one
    // nobody on the lists has would never reach anyone, so say so at deploy rather than stay silent.
    const unreachable = settingError
      ? []
      : channelNodes
          .filter((c) => (IDENTITY_CHANNELS as readonly string[]).includes(c.kind) && identitiesOn(everyone, c.kind).length === 0)
          .map((c) => c.label);
    for (const c of channelNodes.filter((n) => unreachable.includes(n.label))) {
      node.warn(t('errors.channel-unreachable', { channel: c.label, kind: c.kind }));
    }

    /** The channels, once each is set up; one that could not be set up fails every send, audited. */
    const endpoints = () =>
      Promise.all(
        channelNodes.map((c) =>
          c.ready.catch((err: Error): ChannelEndpoint => ({
            id: c.id,
            label: c.label,
            kind: c.kind,
            supports: { inbound: false, updates: false, links: false },
            channel: { kind: c.kind, notify: () => Promise.reject(new Error(t('errors.channel-setup', { message: err.message }))) },
          })),
        ),
      );

    const showCount = () => {
      if (!engine || settingError) return;
      void engine
        .pending()
        .then((list) => {
          const count = list.filter((r) => r.origin === node.id).length;
          if (failing.size) {
            const channels = [...failing.values()].join(', ');
            node.status({ fill: 'red', shape: 'dot', text: t('status.pending-failing', { count, channels }) });
            return;
          }
          if (unreachable.length) {
            node.status({ fill: 'yellow', shape: 'ring', text: t('status.pending-unreachable', { count, channels: unreachable.join(', ') }) });
            return;
          }
          node.status({ fill: count ? 'yellow' : 'grey', shape: count ? 'dot' : 'ring', text: t('status.pending', { count }) });
        })
        .catch(() => undefined);
    };

    /** Send a decided approval on its output once, then mark it delivered in the store. */
    const deliver = (record: ApprovalRecord, message: Record<string, unknown>) => {
      if (record.origin !== node.id || record.delivered || !hubRef || !engine) return;
      if (!hubRef.claimApprovalDelivery(record.id)) return;
      const outputs: (Record<string, unknown> | null)[] = [null, null, null];
      outputs[STATE_OUTPUT[record.state] ?? 2] = message;
      node.send(outputs as never);
      const marking = engine.delivered(record.id).catch((err: Error) => node.warn(t('errors.delivered', { id: record.id, message: err.message })));
      deliveries.add(marking);
      void marking.finally(() => deliveries.delete(marking));
      showCount();
    };

    /** Log page links for the editor approvers only (never for e-mail or chat identities: their links are secrets sent to them). */
    const logLinks = async (record: ApprovalRecord, identities: string[]) => {
      if (!identities.length || !hubRef) return;
      const links = await hubRef.approvalLinks.mint(record, base, identities);
      for (const link of links) RED.log.info(t('log.link', { title: record.summary.title, person: link.person, decision: link.decision, url: link.url }));
    };

    const lc = hubLifecycle(RED, node, {
      namespace: 'soar-wait-approval',
      hub: (config as { hub?: string }).hub,
      setup: async (hub) => {
        hubRef = hub;
        engine = hub.approvals;
        const channels = new ApprovalDispatch({
          store: hub.store,
          audit: hub.audit,
          links: hub.approvalLinks,
          pageBase: base,
          endpoints,
          warn: (message) => node.warn(message),
          onOutcome: ({ endpoint, ok, error }) => {
            channelNodes.find((c) => c.id === endpoint.id)?.report(ok, error);
            const was = failing.has(endpoint.id);
            if (ok) failing.delete(endpoint.id);
            else {
              failing.set(endpoint.id, endpoint.label);
              if (!was) node.warn(t('errors.channel-failed', { channel: endpoint.label, message: error ?? '' }));
            }
            if (was !== failing.has(endpoint.id)) showCount();
          },
        });
        dispatch = channels;
        const mine = (record: ApprovalRecord) => record.origin === node.id && channelNodes.length > 0;
        try {
          unsubscribe.push(
            engine.on('resolved', ({ record, message }) => {
              deliver(record, message);
              if (mine(record)) void channels.resolved(record);
            }),
          );
          unsubscribe.push(engine.on('requested', ({ record }) => void (mine(record) && channels.requested(record))));
          unsubscribe.push(engine.on('reminder', ({ record, to }) => void (mine(record) && channels.reminder(record, to))));
          unsubscribe.push(
            engine.on('escalation', ({ record, to }) => {
              if (record.origin !== node.id) return;
              logLinks(record, editorIdentities(to)).catch((err: Error) => node.warn(err.message));
              if (mine(record)) void channels.escalation(record, to);
            }),
          );
          await hub.startApprovals();
          // Decided while this node was not running: the sent chat messages still get the outcome.
          if (channelNodes.length) void channels.sweep((id) => hub.approvals.get(id), node.id);
          // Decided while no node listened (a redeploy, a restart): send what is still undelivered.
          for (const { value: record } of await hub.store.list<ApprovalRecord>(APPROVALS_NS)) {
            if (record.origin === node.id && record.state !== 'pending' && !record.delivered && record.decision) {
              const message = restoreMessage(record.message);
              message.approval = { ...record.decision };
              deliver(record, message);
            }
          }
        } catch (err) {
          for (const off of unsubscribe.splice(0)) off();
          throw err;
        }
        return hub;
      },
      ready: () => {
        if (settingError) return { fill: 'red', shape: 'ring', text: t('status.invalid-settings') };
        showCount();
        return undefined;
      },
      failedKey: 'hub-failed',
      failedMessage: (err) => t('errors.hub', { message: err.message }),
      teardown: async () => {
        // Requests, notices and "sent" marks in flight finish before the hub (its store and audit log) is released.
        await Promise.allSettled([...requests, ...deliveries]);
        await dispatch?.idle();
      },
    });
    lc.onClose(() => {
      for (const off of unsubscribe.splice(0)) off();
      removeRoute();
    });

    lc.onInput(async (msg, _send, hub) => {
      if (settingError || !policy) {
        // Refused like a bad policy inside the engine: audited, then the error (for catch nodes).
        await hub.audit.append('approval.refused', { code: 'bad-policy', reason: settingError, origin: node.id }).catch((err: Error) => node.warn(err.message));
        throw new Error(settingError);
      }
      const work = (async () => {
        const record = await hub.approvals.request({ msg, policy: policy!, origin: node.id, ...(config.action ? { action: config.action } : {}) });
        await logLinks(record, editorIdentities(record.policy.approvers));
      })();
      requests.add(work);
      try {
        await work;
      } finally {
        requests.delete(work);
      }
      showCount();
    });
  }

  RED.nodes.registerType('soar-wait-approval', WaitApprovalNode);
};
