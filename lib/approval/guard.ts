/**
 * What you approve is what runs, for every action node: a message that carries msg.approval acts only
 * when the approval is approved, its decisive fields are unchanged, the target is among their values
 * and this hub recorded that very decision. Without msg.approval the node's own condition decides.
 */
import { verifyApproval, type ApprovalCheck } from '../contract/approval';
import type { ApprovalEngine } from './engine';

export type ApprovalGuard = { carried: false } | ({ carried: true } & ApprovalCheck);

/** Whether msg carries an approval at all (null and undefined do not). */
export function carriesApproval(msg: unknown): boolean {
  if (msg === null || typeof msg !== 'object') return false;
  const approval = (msg as { approval?: unknown }).approval;
  return approval !== undefined && approval !== null;
}

/**
 * The check before acting on `target`: `{carried: false}` when the message has no approval;
 * otherwise the shared verifyApproval result, confirmed against the hub's engine when one is given.
 */
export async function checkApprovalFor(msg: unknown, target: string, engine?: Pick<ApprovalEngine, 'confirm'>): Promise<ApprovalGuard> {
  if (!carriesApproval(msg)) return { carried: false };
  const check = engine ? await engine.confirm(msg, target) : verifyApproval(msg, target);
  return { carried: true, ...check };
}
