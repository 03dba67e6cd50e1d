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
export function recordingDecide(approvers: string[], settles = false): { decide: DecideFn; calls: ChannelDecision[] } {
  const calls: ChannelDecision[] = [];
  return {
    calls,
    decide: async (decision) => {
      calls.push(decision);
      if (!approvers.includes(decision.identity)) return { ok: false, reason: `${decision.identity} may not decide` };
      // With `settles`, this one vote decides the approval (a quorum of one).
      return settles
        ? { ok: true, decided: { outcome: decision.decision === 'approve' ? 'approved' : 'denied', by: decision.identity, at: '2026-01-15T12:05:00.000Z' } }
        : { ok: true };
    },
  };
}
