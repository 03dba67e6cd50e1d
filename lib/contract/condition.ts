/**
 * The condition every action node checks before it acts: a verdict at or above the node's level,
 * or an approval that was approved. An approval that was denied or expired always refuses, whatever
 * the node's condition. And what the verdict accused: the indicators that themselves reached the
 * level (msg.enrichment.indicators), so an action never lands on an address nothing accused.
 */
import type { IocType } from '../ioc/types';
import type { IntelLevel } from '../intel/types';
import type { ActionRecord, AllowedBy, MsgEnrichment } from './types';

/** off: act on every message (nodes saved before the condition existed). */
export type ActionCondition = 'off' | 'suspicious' | 'malicious';
export const ACTION_CONDITIONS: readonly ActionCondition[] = ['malicious', 'suspicious', 'off'];

export const VERDICT_RANK: Readonly<Record<IntelLevel, number>> = Object.freeze({ unknown: 0, benign: 0, suspicious: 1, malicious: 2 });

export type ConditionOutcome = { allowed: true; by: AllowedBy } | { allowed: false; reason: string };

interface ConditionInput {
  enrichment?: unknown;
  approval?: unknown;
}

function rank(level: unknown): number | undefined {
  return typeof level === 'string' && Object.prototype.hasOwnProperty.call(VERDICT_RANK, level) ? VERDICT_RANK[level as IntelLevel] : undefined;
}

export function checkActionCondition(msg: ConditionInput, condition: ActionCondition): ConditionOutcome {
  const approval = msg.approval as { id?: unknown; decision?: unknown } | undefined | null;
  if (approval !== undefined && approval !== null) {
    const id = typeof approval === 'object' && typeof approval.id === 'string' ? ` ${approval.id}` : '';
    const decision = typeof approval === 'object' ? approval.decision : undefined;
    if (decision === 'approved') return { allowed: true, by: 'approval' };
    if (decision === 'denied' || decision === 'expired') return { allowed: false, reason: `approval${id} was ${decision}` };
    return { allowed: false, reason: `msg.approval${id} carries no decision (approved, denied or expired)` };
  }
  if (condition === 'off') return { allowed: true, by: 'off' };
  const enrichment = msg.enrichment as { verdict?: unknown; score?: unknown } | undefined | null;
  const verdict = enrichment && typeof enrichment === 'object' ? enrichment.verdict : undefined;
  const has = rank(verdict);
  if (has === undefined) {
    return {
      allowed: false,
      reason: `no verdict (msg.enrichment.verdict) and no approval (msg.approval): this action needs a ${condition} verdict or an approval`,
    };
  }
  if (has >= VERDICT_RANK[condition]) return { allowed: true, by: 'verdict' };
  const score = typeof enrichment?.score === 'number' ? ` (score ${enrichment.score})` : '';
  return {
    allowed: false,
    reason: `verdict ${String(verdict)}${score} is below ${condition} and there is no approval: this action needs a ${condition} verdict or an approval`,
  };
}

export interface AccusedTarget {
  value: string;
  verdict: IntelLevel;
  score?: number;
}

const ADDRESS_TYPES: readonly IocType[] = ['ipv4', 'ipv6'];

/** The indicators (addresses by default) whose own verdict reached `level`, in the order the verdict lists them. */
export function accusedTargets(enrichment: unknown, level: Exclude<ActionCondition, 'off'>, types: readonly IocType[] = ADDRESS_TYPES): AccusedTarget[] {
  const e = enrichment as Partial<MsgEnrichment> | undefined | null;
  if (!e || typeof e !== 'object' || !e.indicators || typeof e.indicators !== 'object') return [];
  const out: AccusedTarget[] = [];
  for (const [value, own] of Object.entries(e.indicators)) {
    const r = rank(own?.verdict);
    if (r === undefined || r < VERDICT_RANK[level]) continue;
    const type = e.results?.[value]?.[0]?.indicator?.type;
    if (!type || !types.includes(type)) continue;
    out.push({ value, verdict: own.verdict, ...(typeof own.score === 'number' ? { score: own.score } : {}) });
  }
  return out;
}

/** What the verdict said about one target, for its action record. */
export function verdictAbout(enrichment: unknown, target: string): NonNullable<ActionRecord['verdict']> | undefined {
  const e = enrichment as Partial<MsgEnrichment> | undefined | null;
  if (!e || typeof e !== 'object') return undefined;
  const own = e.indicators?.[target];
  if (!own) return { verdict: 'none' };
  return { verdict: own.verdict, ...(typeof own.score === 'number' ? { score: own.score } : {}) };
}
