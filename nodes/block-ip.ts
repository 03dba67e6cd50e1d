/**
 * soar-block-ip: blocks (or unblocks) addresses and ranges on the firewall of a soar-firewall config
 * node. Every block is a lease in the hub (expiring, extended on repeat, escalated for repeat
 * offenders, undone at expiry even after a crash); the hub's guardrails and simulation mode apply.
 * A block needs the node's condition (a verdict at or above its level, or an approval) and, by
 * default, lands only on the addresses the verdict itself accused.
 * Outputs: done (blocked/extended/unblocked/simulated), refused (condition, guardrails, caps), failed.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { ACTION_CONDITIONS, accusedTargets, checkActionCondition, verdictAbout, type ActionCondition, type ActionRecord } from '../lib/contract';
import type { Drift } from '../lib/firewall/leases';
import { checkApprovalFor } from '../lib/approval/guard';
import { lifecycle, migrateConfig, SettingsParser, translator, type FirewallConfigNode } from './common';

interface BlockIpDef extends NodeDef {
  /** Config version (resources/migrations/soar-block-ip.js). */
  configVersion?: number;
  firewall: string;
  target: string;
  /** A typedInput type, or "accused": the addresses msg.enrichment found at or above the condition's level. */
  targetType: string;
  action: 'block' | 'unblock' | 'msg';
  /** Act only on a verdict at or above this level, or an approval; "off" acts on every message. */
  gate: ActionCondition;
  ttl: number | string;
  ttlUnit: 's' | 'm' | 'h' | 'd';
  permanent: boolean;
  reason: string;
  reasonType: string;
  driftOutput: boolean;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

export = function (RED: NodeAPI): void {
  const t = translator(RED, 'soar-block-ip');

  function evaluate(node: Node, value: string, type: string, msg: NodeMessageInFlow): Promise<unknown> {
    return new Promise((resolve, reject) =>
      RED.util.evaluateNodeProperty(value, type, node, msg, (err: Error | null, result: unknown) => (err ? reject(err) : resolve(result))),
    );
  }

  function BlockIpNode(this: Node, saved: BlockIpDef): void {
    const config = migrateConfig(saved, (message) => RED.log.warn(`soar-block-ip ${saved.id}: ${message}`));
    RED.nodes.createNode(this, config);
    const node = this;
    const firewall = RED.nodes.getNode(config.firewall) as FirewallConfigNode | null;

    // Settings that would weaken the node are refused (error status, logged, every block refused),
    // never replaced by a default; blank is the documented default.
    const settings = new SettingsParser();
    const unit = config.ttlUnit === undefined || config.ttlUnit === ('' as never) ? 'h' : config.ttlUnit;
    if (!(unit in UNIT_SECONDS)) settings.errors.push(`the block time unit must be s, m, h or d, got ${JSON.stringify(config.ttlUnit)}`);
    const ttlValue = config.permanent ? 0 : settings.number('the block time', config.ttl, { default: 1, min: 0, exclusiveMin: true });
    const defaultTtl = config.permanent ? ('permanent' as const) : ttlValue * (UNIT_SECONDS[unit] ?? 1);
    const gate = config.gate;
    if (!ACTION_CONDITIONS.includes(gate)) settings.errors.push(`the condition must be one of ${ACTION_CONDITIONS.join(', ')}, got ${JSON.stringify(gate)}`);
    const settingError = settings.errors.length ? t('errors.settings', { errors: settings.errors.join('; ') }) : undefined;
    if (settingError) node.error(settingError);
    const targetPath = `${config.targetType || 'msg'}.${config.target || 'alert.source.ip'}`;

    const lc = lifecycle<FirewallConfigNode>(node, {
      namespace: 'soar-block-ip',
      acquire: async () => {
        if (!firewall) throw new Error(t('errors.no-firewall'));
        await firewall.ready;
        return firewall;
      },
      failedKey: firewall ? 'firewall-failed' : 'no-firewall',
      ready: (fw) => {
        if (settingError) return { fill: 'red', shape: 'ring', text: t('status.invalid-settings') };
        const policy = fw.hub?.guardrails.describe() as { valid?: boolean } | undefined;
        if (policy && policy.valid === false) return { fill: 'red', shape: 'ring', text: t('status.hub-invalid') };
        return { fill: 'grey', shape: 'ring', text: fw.label };
      },
    });

    // Reconciliation drift from the firewall, on the optional extra output.
    const onDrift = (drift: Drift) => {
      const count = drift.missing.length + drift.extra.length + drift.expiredButPresent.length;
      node.status({ fill: 'yellow', shape: 'ring', text: t('status.drift', { count }) });
      if (config.driftOutput) node.send([null, null, null, { topic: 'drift', payload: drift }]);
    };
    firewall?.events.on('drift', onDrift);
    lc.onClose(() => {
      firewall?.events.removeListener('drift', onDrift);
    });

    /** The addresses of the target property; a path through a missing part (no msg.alert.source) is "no address". */
    async function propertyTargets(msg: NodeMessageInFlow): Promise<unknown[]> {
      const type = config.targetType || 'msg';
      const raw = await evaluate(node, config.target || 'alert.source.ip', type, msg).catch((err: Error) => {
        if (type === 'msg' && err instanceof TypeError) return undefined;
        throw err;
      });
      const targets = (Array.isArray(raw) ? raw : [raw]).filter((v) => v !== undefined && v !== null && v !== '');
      if (!targets.length) throw new Error(t('errors.no-target', { property: targetPath }));
      return targets;
    }

    lc.onInput(async (msg, send, fw) => {
      const hub = fw.hub!;
      const action = config.action === 'msg' ? (msg.action === 'unblock' || msg.unblock === true ? 'unblock' : 'block') : config.action || 'block';
      const reasonValue = config.reason ? await evaluate(node, config.reason, config.reasonType || 'msg', msg).catch(() => undefined) : undefined;
      const reason = typeof reasonValue === 'string' ? reasonValue : typeof msg.alert?.title === 'string' ? msg.alert.title : undefined;
      // msg.ttl overrides the node's block time; one the library would refuse is refused, not replaced.
      const ttlGiven = msg.ttl !== undefined && msg.ttl !== null && msg.ttl !== '';
      const ttlOk = !ttlGiven || msg.ttl === 'permanent' || (Number.isFinite(Number(msg.ttl)) && Number(msg.ttl) > 0);
      const ttl = !ttlGiven ? defaultTtl : msg.ttl === 'permanent' ? 'permanent' : Number(msg.ttl);
      const by: string = Array.isArray(msg.approval?.by) && msg.approval.by.length ? msg.approval.by.join(', ') : `flow:${node.id}`;
      const request = { alertId: msg.alert?.id, approvalId: msg.approval?.id, by };
      const level = gate === 'off' || !ACTION_CONDITIONS.includes(gate) ? 'malicious' : gate;

      const records: ActionRecord[] = [];
      /** Refused before the firewall is asked (settings, condition, nothing accused): audited like a guardrail refusal. */
      const refuseAll = async (targets: string[], why: string) => {
        const context = Object.fromEntries(Object.entries(request).filter(([, v]) => v !== undefined));
        for (const target of targets.length ? targets : ['(none)']) {
          await hub.audit.append('action.refused', { kind: action, target, provider: fw.providerName, reason: why, condition: gate, request: context });
          records.push({ kind: action, target, provider: fw.label, status: 'refused', simulated: false, reason: why });
        }
      };

      let targets: { text: string; verdict?: ActionRecord['verdict'] }[];
      let allowedBy: ActionRecord['allowedBy'];
      if (config.targetType === 'accused') {
        targets = accusedTargets(msg.enrichment, level).map((a) => ({
          text: a.value,
          verdict: { verdict: a.verdict, ...(a.score !== undefined ? { score: a.score } : {}) },
        }));
      } else {
        targets = (await propertyTargets(msg)).map((v) => ({ text: String(v), verdict: verdictAbout(msg.enrichment, String(v)) }));
      }
      if (action === 'block') {
        const condition = checkActionCondition({ enrichment: msg.enrichment, approval: msg.approval }, settingError ? 'malicious' : gate);
        if (settingError)
          await refuseAll(
            targets.map((x) => x.text),
            settingError,
          );
        else if (!ttlOk)
          await refuseAll(
            targets.map((x) => x.text),
            t('errors.msg-ttl', { ttl: JSON.stringify(msg.ttl) }),
          );
        else if (!condition.allowed)
          await refuseAll(
            targets.map((x) => x.text),
            condition.reason,
          );
        else if (!targets.length) await refuseAll([], t('errors.none-accused', { level }));
        else allowedBy = condition.by;
        // What you approve is what runs: an approval must cover each target as it is now, and be one this hub decided.
        if (allowedBy === 'approval') {
          for (const { text } of targets) {
            const check = await checkApprovalFor(msg, text, hub.approvals);
            if (check.carried && !check.ok) await refuseAll([text], check.reason);
          }
          if (records.length) {
            const refusedTargets = new Set(records.map((r) => r.target));
            const rest = targets.filter((x) => !refusedTargets.has(x.text)).map((x) => x.text);
            if (rest.length) await refuseAll(rest, t('errors.approval-partial'));
            allowedBy = undefined;
          }
        }
      } else if (!targets.length) {
        await refuseAll([], t('errors.none-accused', { level }));
      }

      if (!records.length) {
        for (const { text, verdict } of targets) {
          const about =
            verdict && verdict.verdict !== 'none' ? t('reason.verdict', { target: text, verdict: verdict.verdict, score: verdict.score ?? '-' }) : undefined;
          const why = reason && about ? `${reason} (${about})` : (reason ?? about);
          if (action === 'unblock') {
            const out = await hub.leases.unblock(text, fw.providerName, { by, reason: why });
            records.push({
              kind: 'unblock',
              target: text,
              provider: fw.label,
              status: out.status === 'released' ? 'unblocked' : (out.status as ActionRecord['status']),
              simulated: out.status === 'simulated',
              ...(out.status === 'failed' ? { error: out.reason } : {}),
            });
          } else {
            const out = await hub.leases.block({ target: text, provider: fw.providerName, ttlSeconds: ttl, reason: why, ...request });
            records.push({
              kind: 'block',
              target: 'lease' in out ? out.lease.target : text,
              provider: fw.label,
              status: out.status,
              simulated: out.status === 'simulated',
              ...('lease' in out ? { lease: out.lease as unknown as ActionRecord['lease'] } : {}),
              ...(out.status === 'refused' ? { reason: out.reason } : {}),
              ...(out.status === 'failed' ? { error: out.reason } : {}),
              ...(verdict ? { verdict } : {}),
              ...(allowedBy ? { allowedBy } : {}),
            });
          }
        }
      }

      const done_ = records.filter((r) => !['refused', 'failed', 'not-found'].includes(r.status));
      const refused = records.filter((r) => r.status === 'refused' || r.status === 'not-found');
      const failed = records.filter((r) => r.status === 'failed');
      const groups = [done_, refused, failed];
      // Mixed outcomes (several addresses) go out on each matching output; clones are taken before
      // msg is changed, so every message carries only its own records.
      const previous: unknown[] = Array.isArray(msg.actions) ? [...msg.actions] : [];
      const firstUsed = groups.findIndex((g) => g.length);
      const copies = groups.map((group, i) => (group.length && i !== firstUsed ? RED.util.cloneMessage(msg) : null));
      const outputs: (NodeMessage | null)[] = groups.map((group, i) => {
        if (!group.length) return null;
        const out = (i === firstUsed ? msg : copies[i]) as NodeMessage & Record<string, any>;
        out.actions = [...previous, ...group];
        return out;
      });
      if (config.driftOutput) outputs.push(null);

      const last = records[records.length - 1];
      const leaseCount = await hub.leases.count(fw.providerName);
      const fill = failed.length ? 'red' : refused.length ? 'yellow' : last.simulated ? 'blue' : 'green';
      node.status({ fill, shape: 'dot', text: t(`status.${last.status}`, { target: last.target, count: leaseCount }) });
      send(outputs);
    });
  }

  RED.nodes.registerType('soar-block-ip', BlockIpNode);
};
