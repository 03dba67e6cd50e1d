import type { ApprovalNotice, ChannelDecision, DecideFn } from '../../../../lib/approval/channels/types';

export function notice(overrides: Partial<ApprovalNotice> = {}): ApprovalNotice {
  return {
    approvalId: '7f0c9a52-3b1e-4c55-9d1a-0b6e2f3c4d5e',
    kind: 'request',
    title: 'Block 203.0.113.7 on the edge firewall?',
    summary: ['Alert 5712: SSH brute force from 203.0.113.7', 'Verdict: malicious (AbuseIPDB 100)'],
    fields: { action: 'block IP', target: '203.0.113.7' },
    approvers: [],
    links: [],
    expiresAt: '2026-01-15T12:30:00.000Z',
    ...overrides,
  };
}

/** A decide() that records calls and refuses identities not in `approvers`. */
export function recordingDecide(approvers: string[]): { decide: DecideFn; calls: ChannelDecision[] } {
  const calls: ChannelDecision[] = [];
  return {
    calls,
    decide: async (decision) => {
      calls.push(decision);
      return approvers.includes(decision.identity) ? { ok: true } : { ok: false, reason: `${decision.identity} may not decide` };
    },
  };
}
