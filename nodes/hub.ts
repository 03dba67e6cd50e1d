/**
 * soar-hub: the hub-wide settings every SOAR node of a flow shares — where the audit log and
 * durable state live, simulation mode, and the guardrail policy for destructive actions.
 */
import * as path from 'node:path';
import type { NodeAPI, NodeDef } from 'node-red';
import { Hub } from '../lib/hub/hub';
import { GuardrailPolicy, type GuardrailPolicySpec } from '../lib/core/guardrails';
import { listField, migrateConfig, SettingsParser, translator, userDir, type SoarHubConfigNode } from './common';

interface HubDef extends NodeDef {
  dir: string;
  simulate: boolean;
  includeDefaults: boolean;
  protectedCidrs: string;
  protectedHosts: string;
  gateways: string;
  dnsServers: string;
  maxActionsPerHour: number | string;
  repeatWindowDays: number | string;
  repeatFactor: number | string;
  maxBlockDays: number | string;
}

/** Blank -> undefined (the library's default, 100); anything else as a number for the library to judge (0 refuses all). */
function rawNumber(value: unknown): number | undefined {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return undefined;
  return typeof value === 'number' ? value : Number(String(value).trim());
}

export = function (RED: NodeAPI): void {
  const t = translator(RED, 'soar-hub');

  function SoarHubNode(this: SoarHubConfigNode, saved: HubDef): void {
    const config = migrateConfig(saved, (message) => RED.log.warn(`soar-hub ${saved.id}: ${message}`));
    RED.nodes.createNode(this, config);
    const dir = config.dir?.trim() ? path.resolve(userDir(RED), config.dir.trim()) : path.join(userDir(RED), 'soar');
    // The lease manager silently replaces what it cannot use, so its numbers are checked here;
    // an invalid one is refused like an invalid guardrail: logged now, and every action refused.
    const settings = new SettingsParser();
    const repeat = {
      windowMs: settings.number('repeatWindowDays', config.repeatWindowDays, { default: 7, min: 0, exclusiveMin: true }) * 86_400_000,
      factor: settings.number('repeatFactor', config.repeatFactor, { default: 2, min: 1 }),
      maxTtlSeconds: settings.number('maxBlockDays', config.maxBlockDays, { default: 30, min: 0, exclusiveMin: true }) * 86_400,
    };
    const guardrails: GuardrailPolicySpec = {
      includeDefaults: config.includeDefaults !== false,
      protectedCidrs: listField(config.protectedCidrs),
      protectedHosts: listField(config.protectedHosts),
      gateways: listField(config.gateways),
      dnsServers: listField(config.dnsServers),
      maxActionsPerHour: rawNumber(config.maxActionsPerHour),
      invalidSettings: settings.errors,
    };
    // The guardrail policy is the judge of its own settings (maxActionsPerHour, ranges, hosts): ask it now,
    // so a refused setting is in the log at deploy and not only in the first refused action.
    const check = new GuardrailPolicy(guardrails, { ownAddresses: () => [], ownHostname: () => '' }).describe() as { errors: string[] };
    this.settingErrors = check.errors;
    if (check.errors.length) this.error(t('errors.invalid-settings', { errors: check.errors.join('; ') }));
    this.hubOptions = { dir, simulate: Boolean(config.simulate), guardrails, repeat };
  }
  RED.nodes.registerType('soar-hub', SoarHubNode);

  // The editor's SOAR sidebar: active leases (blocks) of every open hub, and releasing one.
  type Req = { body?: Record<string, unknown>; user?: { username?: string } };
  type Res = { json(v: unknown): void; status(code: number): Res };
  const admin = RED.httpAdmin as unknown as { get(p: string, ...h: unknown[]): void; post(p: string, ...h: unknown[]): void };
  admin.get('/soar/leases', RED.auth.needsPermission('soar-hub.read'), (_req: Req, res: Res) => {
    void (async () => {
      const out = [];
      const hubs = await Hub.all();
      for (const hub of hubs) {
        for (const lease of await hub.leases.list()) {
          // A lease whose firewall was removed: releasable when its provider is remembered or rebuildable.
          const state = await hub.firewallState(lease.provider);
          const providerLabel = hub.firewalls.label(lease.provider) ?? lease.providerLabel ?? lease.provider;
          out.push({
            ...lease,
            hub: hub.dir,
            providerLabel,
            providerState: state,
            orphaned: state === 'orphaned' || state === 'unknown' ? `${providerLabel} was removed` : undefined,
          });
        }
      }
      res.json({ leases: out, simulate: hubs.some((h) => h.simulate) });
    })().catch((err: Error) => res.status(500).json({ error: err.message }));
  });
  // Pending approvals of every open hub, and deciding one as the editor user (identity editor:<username>;
  // without adminAuth there is no user: editor:anonymous, which decides only where it is listed).
  admin.get('/soar/approvals', RED.auth.needsPermission('soar-hub.read'), (_req: Req, res: Res) => {
    void (async () => {
      const out = [];
      for (const hub of await Hub.all()) {
        for (const record of await hub.approvals.pending()) {
          out.push({
            hub: hub.dir,
            id: record.id,
            title: record.summary.title,
            action: record.summary.action,
            target: record.summary.target,
            // Every key a map-valued decisive field (enrichment.indicators) lets act, with its verdict.
            ...(record.summary.covers?.length ? { covers: record.summary.covers.map(({ value, verdict, score }) => ({ value, verdict, score })) } : {}),
            approvals: new Set(record.votes.filter((v) => v.decision === 'approve').map((v) => v.person)).size,
            quorum: record.policy.quorum,
            expiresAt: new Date(record.expiresAt).toISOString(),
          });
        }
      }
      res.json({ approvals: out });
    })().catch((err: Error) => res.status(500).json({ error: err.message }));
  });
  admin.post('/soar/approvals/decide', RED.auth.needsPermission('soar-hub.write'), (req: Req, res: Res) => {
    void (async () => {
      const id = typeof req.body?.id === 'string' ? req.body.id : '';
      const decision = req.body?.decision;
      const wanted = typeof req.body?.hub === 'string' ? req.body.hub : '';
      if (!id || !wanted || (decision !== 'approve' && decision !== 'deny')) {
        res.status(400).json({ error: 'hub, id and decision (approve or deny) are needed' });
        return;
      }
      const hub = (await Hub.all()).find((h) => h.dir === wanted);
      if (!hub) {
        res.status(404).json({ error: `no open hub for the folder ${wanted.slice(0, 200)}` });
        return;
      }
      const identity = `editor:${req.user?.username || 'anonymous'}`;
      const comment = typeof req.body?.comment === 'string' ? req.body.comment : undefined;
      const result = await hub.approvals.decide({ id, identity, decision, channel: 'editor', comment });
      if (!result.ok) {
        const status = result.code === 'unknown' ? 404 : result.code === 'not-approver' ? 403 : result.code === 'bad-input' ? 400 : 409;
        res.status(status).json({ error: result.reason, code: result.code, identity });
        return;
      }
      res.json({ identity, state: result.record.state, resolved: result.resolved });
    })().catch((err: Error) => res.status(500).json({ error: err.message }));
  });
  admin.post('/soar/leases/release', RED.auth.needsPermission('soar-hub.write'), (req: Req, res: Res) => {
    void (async () => {
      const target = String(req.body?.target ?? '');
      const provider = String(req.body?.provider ?? '');
      const wanted = typeof req.body?.hub === 'string' ? req.body.hub : '';
      if (!wanted || !target || !provider) {
        res.status(400).json({ error: 'target, provider and hub are needed' });
        return;
      }
      // Only the hub asked for: releasing on another hub's store would act on the wrong leases.
      const hub = (await Hub.all()).find((h) => h.dir === wanted);
      if (!hub) {
        res.status(404).json({ error: `no open hub for the folder ${wanted.slice(0, 200)}` });
        return;
      }
      const state = await hub.firewallState(provider);
      const by = req.user?.username ? `editor:${req.user.username}` : 'editor';
      const outcome = await hub.leases.unblock(target, provider, { by, reason: 'released in the editor' });
      // An orphaned lease (its firewall removed, settings needing credentials) is a conflict, not a gateway error.
      const failedStatus = outcome.status === 'failed' && outcome.code === 'NOT_FOUND' && (state === 'orphaned' || state === 'unknown') ? 409 : 502;
      res.status(outcome.status === 'failed' ? failedStatus : outcome.status === 'not-found' ? 404 : 200).json(outcome);
    })().catch((err: Error) => res.status(500).json({ error: err.message }));
  });

  // Isolated hosts of every open hub (and releases still being followed), and releasing one.
  admin.get('/soar/isolations', RED.auth.needsPermission('soar-hub.read'), (_req: Req, res: Res) => {
    void (async () => {
      const out = [];
      const hubs = await Hub.all();
      for (const hub of hubs) {
        for (const isolation of await hub.isolations.list()) {
          const state = await hub.edrState(isolation.provider);
          const providerLabel = hub.edrs.label(isolation.provider) ?? isolation.providerLabel ?? isolation.provider;
          out.push({
            ...isolation,
            hub: hub.dir,
            providerLabel,
            providerState: state,
            orphaned: state === 'orphaned' || state === 'unknown' ? `${providerLabel} is not deployed` : undefined,
          });
        }
        for (const release of await hub.isolations.pendingReleases()) {
          out.push({
            ...release.lease,
            state: 'pending-release',
            hub: hub.dir,
            providerLabel: hub.edrs.label(release.lease.provider) ?? release.lease.provider,
            releasing: true,
          });
        }
      }
      res.json({ isolations: out, simulate: hubs.some((h) => h.simulate) });
    })().catch((err: Error) => res.status(500).json({ error: err.message }));
  });
  admin.post('/soar/isolations/release', RED.auth.needsPermission('soar-hub.write'), (req: Req, res: Res) => {
    void (async () => {
      const target = String(req.body?.target ?? '');
      const provider = String(req.body?.provider ?? '');
      const wanted = typeof req.body?.hub === 'string' ? req.body.hub : '';
      if (!wanted || !target || !provider) {
        res.status(400).json({ error: 'target, provider and hub are needed' });
        return;
      }
      const hub = (await Hub.all()).find((h) => h.dir === wanted);
      if (!hub) {
        res.status(404).json({ error: `no open hub for the folder ${wanted.slice(0, 200)}` });
        return;
      }
      const state = await hub.edrState(provider);
      const by = req.user?.username ? `editor:${req.user.username}` : 'editor';
      const outcome = await hub.isolations.release({ target, provider, by, reason: 'released in the editor' });
      const failedStatus = outcome.status === 'failed' && outcome.code === 'NOT_FOUND' && (state === 'orphaned' || state === 'unknown') ? 409 : 502;
      res.status(outcome.status === 'failed' ? failedStatus : outcome.status === 'refused' ? 400 : outcome.status === 'not-isolated' ? 404 : 200).json(outcome);
    })().catch((err: Error) => res.status(500).json({ error: err.message }));
  });
};
