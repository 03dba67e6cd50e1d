/**
 * The one way action code should block: every target through the guardrail policy, the hour's cap
 * taken for the whole batch, and only then the provider, with the addresses in canonical form.
 * A refusal throws before the provider is touched. Node-RED-free.
 */
import { ProviderError } from '../core/errors';
import type { GuardrailPolicy } from '../core/guardrails';
import type { BlockTarget, FirewallProvider } from './types';

export interface GuardedBlockResult {
  /** The targets as handed to the provider (canonical addresses). */
  blocked: BlockTarget[];
}

/** Refused targets are listed with their reasons; nothing is blocked unless all pass (all or none). */
export async function guardedBlock(
  policy: GuardrailPolicy,
  provider: FirewallProvider,
  targets: BlockTarget[],
): Promise<GuardedBlockResult> {
  const approved: BlockTarget[] = [];
  const refusals: string[] = [];
  for (const target of targets) {
    const check = policy.checkAddress(target?.address);
    if (check.allowed) approved.push({ ...target, address: check.normalised });
    else refusals.push(check.reason);
  }
  if (refusals.length > 0) {
    throw new ProviderError({
      provider: provider.kind,
      code: 'FORBIDDEN',
      attempts: 0,
      message: `guardrail refused ${refusals.length} of ${targets.length} target(s), nothing blocked: ${refusals.slice(0, 5).join('; ')}${refusals.length > 5 ? '; ...' : ''}`,
    });
  }
  if (approved.length === 0) return { blocked: [] };
  const slot = policy.takeActionSlot(provider.name, approved.length);
  if (!slot.allowed) {
    throw new ProviderError({ provider: provider.kind, code: 'FORBIDDEN', attempts: 0, message: `guardrail: ${slot.reason}` });
  }
  await provider.block(approved);
  return { blocked: approved };
}
