/**
 * soar-isolate-host: isolates (or releases) the host an alert names through the EDR of a soar-edr
 * config node. Every isolation is a lease in the hub (optional TTL, undone once, recovered at start,
 * reconciled against the vendor's status); the hub's host guardrails, hourly cap and simulation apply,
 * and the node's condition (a verdict at or above its level, or an approval) gates isolations.
 * Outputs: 1 done (isolated / released / already-isolated / not-isolated / pending / simulated),
 * 2 refused, 3 failed, 4 finished later: a pending vendor action of this node that ended after its
 * message went on (also after a restart), as a new message.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { ACTION_CONDITIONS, checkActionCondition, type ActionCondition, type ActionRecord } from '../lib/contract';
import { checkApprovalFor } from '../lib/approval/guard';
import { parseTtlHours, type Drift, type Finished, type IsolateOutcome } from '../lib/edr/leases';
import { lifecycle, migrateConfig, translator, type EdrConfigNode } from './common';

interface IsolateHostDef extends NodeDef {
  /** Config version (resources/migrations/soar-isolate-host.js). */
  configVersion?: number;
  edr: string;
  target: string;
  targetType: string;
  action: 'isolate' | 'release' | 'msg';
  /** Isolate only on a verdict at or above this level, or an approval; "off" acts on every message. */
  gate: ActionCondition;
  /** Hours until the isolation is released by itself; blank = until released. */
  ttl: number | string;
  reason: string;
  reasonType: string;
}

type Msg = NodeMessageInFlow & Record<string, any>;

/** The reason cut to fit under a node: the full text is on the message and in the audit log. */
function brief(reason: string | undefined): string {
  if (!reason) return '';
  // "crowdstrike: isolate of web04 (5d5f…) not finished …": the node already names the host.
  reason = reason.replace(/^[a-z0-9-]+: (?:isolate|release) of [^()]*\([^)]*\) /, '');
  return reason.length > 48 ? `${reason.slice(0, 47)}…` : reason;
}

export = function (RED: NodeAPI): void {
  const t = translator(RED, 'soar-isolate-host');

  function evaluate(node: Node, value: string, type: string, msg: NodeMessageInFlow): Promise<unknown> {
    return new Promise((resolve, reject) =>
      RED.util.evaluateNodeProperty(value, type, node, msg, (err: Error | null, result: unknown) => (err ? reject(err) : resolve(result))),
    );
  }

  function IsolateHostNode(this: Node, saved: IsolateHostDef): void {
    const config = migrateConfig(saved, (message) => RED.log.warn(`soar-isolate-host ${saved.id}: ${message}`));
    RED.nodes.createNode(this, config);
    const node = this;
    const edr = RED.nodes.getNode(config.edr) as EdrConfigNode | null;
    const errors: string[] = [];
    const ttl = parseTtlHours(typeof config.ttl === 'string' ? config.ttl.trim() : config.ttl);
    if ('error' in ttl) errors.push(`the isolation time: ${ttl.error}`);
    const gate = config.gate;
    if (!ACTION_CONDITIONS.includes(gate)) errors.push(`the condition must be one of ${ACTION_CONDITIONS.join(', ')}, got ${JSON.stringify(gate)}`);
    if (!['isolate', 'release', 'msg'].includes(config.action)) errors.push(`the action must be isolate, release or msg, got ${JSON.stringify(config.action)}`);
    const settingError = errors.length ? t('errors.settings', { errors: errors.join('; ') }) : undefined;
    if (settingError) node.error(settingError);
    const targetPath = `${config.targetType || 'msg'}.${config.target || 'alert.host.name'}`;

    const lc = lifecycle<EdrConfigNode>(node, {
      namespace: 'soar-isolate-host',
      acquire: async () => {
        if (!edr) throw new Error(t('errors.no-edr'));
        await edr.ready;
        return edr;
      },
      failedKey: edr ? 'edr-failed' : 'no-edr',
      ready: (e) => {
        if (settingError) return { fill: 'red', shape: 'ring', text: t('status.invalid-settings') };
        const policy = e.hub?.guardrails.describe() as { valid?: boolean } | undefined;
        if (policy && policy.valid === false) return { fill: 'red', shape: 'ring', text: t('status.hub-invalid') };
        return { fill: 'grey', shape: 'ring', text: e.label };
      },
    });

    // Pending actions this node asked for, finishing after their message went on (also after a restart).
    const onFinished = (f: Finished) => {
      if (f.origin !== node.id) return;
      const record: ActionRecord = {
        kind: f.op,
        target: f.deviceName ?? f.deviceId,
        provider: f.providerLabel ?? edr?.label ?? f.provider,
        status: f.status,
        simulated: false,
        state: f.state,
        device: { id: f.deviceId, ...(f.deviceName ? { name: f.deviceName } : {}) },
        finishedLater: true,
        ...(f.reason ? { error: f.reason } : {}),
      };
      node.status({
        fill: f.status === 'failed' ? 'red' : 'green',
        shape: 'dot',
        text: t(`status.${f.status}`, { target: record.target, why: brief(f.reason) }),
      });
      const msg: NodeMessage & Record<string, unknown> = { topic: `soar/${f.op}/finished`, payload: { ...f }, actions: [record], correlationId: f.msgId };
      if (f.alertId) msg.alert = { id: f.alertId };
      node.send([null, null, null, msg]);
    };
    const onDrift = (drift: Drift) =>
      node.status({
        fill: 'yellow',
        shape: 'ring',
        text: t('status.drift', { count: drift.missing.length + drift.extra.length + drift.expiredButPresent.length }),
      });
    let listening: EdrConfigNode | undefined;
    void lc.ready.then(
      (e) => {
        e.hub?.isolations.on('finished', onFinished);
        e.events.on('drift', onDrift);
        listening = e;
      },
      () => undefined,
    );
    lc.onClose(() => {
      listening?.hub?.isolations.removeListener('finished', onFinished);
      listening?.events.removeListener('drift', onDrift);
    });

    lc.onInput(async (msg: Msg, send, e) => {
      const hub = e.hub!;
      const op =
        config.action === 'msg'
          ? msg.action === 'release' || msg.action === 'unisolate'
            ? 'release'
            : msg.action === 'isolate' || msg.action === undefined
              ? 'isolate'
              : undefined
          : config.action;
      const raw = await evaluate(node, config.target || 'alert.host.name', config.targetType || 'msg', msg).catch((err: Error) => {
        if ((config.targetType || 'msg') === 'msg' && err instanceof TypeError) return undefined;
        throw err;
      });
      const target = typeof raw === 'string' ? raw.trim() : typeof raw === 'number' ? String(raw) : '';
      const reasonValue = config.reason ? await evaluate(node, config.reason, config.reasonType || 'msg', msg).catch(() => undefined) : undefined;
      const reason = typeof reasonValue === 'string' ? reasonValue : typeof msg.alert?.title === 'string' ? msg.alert.title : undefined;
      const by: string = Array.isArray(msg.approval?.by) && msg.approval.by.length ? msg.approval.by.join(', ') : `flow:${node.id}`;
      const ttlGiven = msg.ttlHours !== undefined && msg.ttlHours !== null && msg.ttlHours !== '';
      const ttlHours = ttlGiven ? msg.ttlHours : 'hours' in ttl ? ttl.hours : undefined;
      const request = {
        target,
        provider: e.providerName,
        reason,
        alertId: msg.alert?.id,
        approvalId: msg.approval?.id,
        by,
        origin: node.id,
        msgId: msg._msgid,
      };

      let refusal: string | undefined;
      let allowedBy: ActionRecord['allowedBy'];
      if (settingError) refusal = settingError;
      else if (!op) refusal = t('errors.msg-action', { action: JSON.stringify(String(msg.action)).slice(0, 40) });
      else if (!target) refusal = t('errors.no-target', { property: targetPath });
      else if (op === 'isolate') {
        const condition = checkActionCondition({ enrichment: msg.enrichment, approval: msg.approval }, gate);
        if (!condition.allowed) refusal = condition.reason;
        else {
          // What was approved is what runs: the same check as block IP (lib/approval/guard.ts).
          const approval = await checkApprovalFor(msg, target, hub.approvals);
          if (approval.carried && !approval.ok) refusal = approval.reason;
          else allowedBy = condition.by;
        }
      }

      let out: IsolateOutcome;
      if (refusal) {
        // Refused before the EDR is asked: audited like a guardrail refusal.
        const context = Object.fromEntries(Object.entries({ alertId: request.alertId, approvalId: request.approvalId, by }).filter(([, v]) => v !== undefined));
        await hub.audit.append('action.refused', {
          kind: op ?? 'isolate',
          target: target || '(none)',
          provider: e.providerName,
          providerLabel: e.label,
          reason: refusal,
          condition: gate,
          request: context,
        });
        out = { status: 'refused', op: op ?? 'isolate', reason: refusal };
      } else if (op === 'release') {
        out = await hub.isolations.release(request);
      } else {
        out = await hub.isolations.isolate({ ...request, ttlHours });
      }

      const record: ActionRecord = {
        kind: out.op,
        target: target || '(none)',
        provider: e.label,
        status: out.status,
        simulated: out.status === 'simulated',
        ...('state' in out ? { state: out.state, device: { id: out.device.id, ...(out.device.name ? { name: out.device.name } : {}) } } : {}),
        ...('isolation' in out && out.isolation ? { lease: out.isolation as unknown as ActionRecord['lease'] } : {}),
        ...(out.status === 'refused' ? { reason: out.reason } : {}),
        ...(out.status === 'failed' ? { error: out.reason } : {}),
        ...(allowedBy ? { allowedBy } : {}),
      };
      msg.actions = [...(Array.isArray(msg.actions) ? msg.actions : []), record];
      const index = out.status === 'refused' ? 1 : out.status === 'failed' ? 2 : 0;
      const fill = index === 2 ? 'red' : index === 1 ? 'yellow' : out.status === 'simulated' ? 'blue' : out.status === 'pending' ? 'yellow' : 'green';
      const why = brief(out.status === 'refused' || out.status === 'failed' ? out.reason : undefined);
      node.status({ fill, shape: 'dot', text: t(`status.${out.status}`, { target: record.target, why }) });
      const outputs: (NodeMessage | null)[] = [null, null, null, null];
      outputs[index] = msg;
      send(outputs);
    });
  }

  RED.nodes.registerType('soar-isolate-host', IsolateHostNode);
};
