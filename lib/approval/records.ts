/**
 * Approval records: who may decide, what is asked, the held message as JSON, and the tally.
 * Node-RED-free; the engine (./engine) stores them in the StateStore.
 */
import { approvalDigest, checkFieldPath, coveredValuesOf, DEFAULT_APPROVAL_FIELDS, readPath } from '../contract/approval';
import type { MsgApproval } from '../contract/types';
import { sliceWhole } from '../core/text';

export const IDENTITY_CHANNELS = ['editor', 'email', 'slack', 'telegram', 'mattermost'] as const;
export type IdentityChannel = (typeof IDENTITY_CHANNELS)[number];

/** One person and their identities on each channel ("email:ana@example.org", "slack:U024BE7LH"). */
export interface ApproverPerson {
  name: string;
  identities: string[];
}

export type TimeoutOutcome = 'deny' | 'approve' | 'escalate';

export interface ApprovalPolicy {
  approvers: ApproverPerson[];
  /** How many distinct persons must approve (default 1). */
  quorum?: number;
  /** false (default): one deny denies. true: a deny needs `quorum` denies too (or approval becoming impossible). */
  denyNeedsQuorum?: boolean;
  /** Time to decide, ms. */
  timeoutMs: number;
  /** What the timeout decides (default deny, sent on the expired output). */
  onTimeout?: TimeoutOutcome;
  /** Remind the persons who have not voted this long after the request (ms offsets, ascending). */
  remindAfterMs?: number[];
  /** Notify the escalation list this long after the request (ms). */
  escalateAfterMs?: number;
  /** Notified at escalateAfterMs and on an "escalate" timeout; they may decide from then on. */
  escalation?: ApproverPerson[];
  /** With onTimeout "escalate": the extra time the escalation list gets (default timeoutMs). */
  escalationTimeoutMs?: number;
  /** Decisive message paths the digest covers (default alert.source.ip). */
  fields?: string[];
}

export interface NormalisedPolicy {
  approvers: ApproverPerson[];
  quorum: number;
  denyNeedsQuorum: boolean;
  timeoutMs: number;
  onTimeout: TimeoutOutcome;
  remindAfterMs: number[];
  escalateAfterMs?: number;
  escalation: ApproverPerson[];
  escalationTimeoutMs: number;
  fields: string[];
}

/** One value a decisive field covers (its value, a list item, or a key of enrichment.indicators with what the verdict said about it). */
export interface CoveredValue {
  field: string;
  value: string;
  verdict?: string;
  score?: number;
}

export interface ApprovalSummary {
  title: string;
  severity?: string;
  verdict?: string;
  score?: number;
  reasons: string[];
  action?: string;
  target?: string;
  /** Every value the decisive fields cover, worst verdict first: everything the approval lets act on (absent when that is just the target). */
  covers?: CoveredValue[];
}

export interface Vote {
  person: string;
  identity: string;
  channel: string;
  decision: 'approve' | 'deny';
  at: string;
  comment?: string;
}

export type ApprovalState = 'pending' | 'approved' | 'denied' | 'expired';

export interface ApprovalRecord {
  v: 1;
  id: string;
  state: ApprovalState;
  createdAt: number;
  expiresAt: number;
  policy: NormalisedPolicy;
  summary: ApprovalSummary;
  digest: string;
  /** The held message as JSON text (see serialiseMessage). */
  message: string;
  /** Top-level parts dropped when holding the message (msg.req, msg.res). */
  dropped: string[];
  votes: Vote[];
  /** Reminder offsets already sent. */
  reminded: number[];
  escalated: boolean;
  /** The escalation timeout already extended the expiry. */
  extended: boolean;
  origin?: string;
  decision?: MsgApproval;
  /** Why it was decided (quorum, deny, timeout). */
  reason?: string;
  comment?: string;
  /** The node sent the decided message on; until then a restart sends it again. */
  delivered?: boolean;
}

export class ApprovalError extends Error {
  constructor(
    readonly code: 'bad-policy' | 'not-serialisable' | 'too-large',
    message: string,
  ) {
    super(message);
    this.name = 'ApprovalError';
  }
}

const IDENTITY = /^(editor|email|slack|telegram|mattermost):(\S{1,254})$/;

/** "email:Ana@Example.org" → "email:ana@example.org" (e-mail compared without case). */
export function normaliseIdentity(identity: unknown): string {
  const match = typeof identity === 'string' ? IDENTITY.exec(identity.trim()) : null;
  if (!match) {
    throw new ApprovalError(
      'bad-policy',
      `approver identity must be <channel>:<id> with channel ${IDENTITY_CHANNELS.join(', ')} (got ${JSON.stringify(String(identity)).slice(0, 80)})`,
    );
  }
  return match[1] === 'email' ? `email:${match[2].toLowerCase()}` : `${match[1]}:${match[2]}`;
}

function persons(list: unknown, what: string, seen: Map<string, string>): ApproverPerson[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new ApprovalError('bad-policy', `${what} must be a list of persons`);
  return list.map((p, i) => {
    const person = p as Partial<ApproverPerson> | null;
    const name = typeof person?.name === 'string' && person.name.trim() !== '' ? person.name.trim() : undefined;
    if (!name) throw new ApprovalError('bad-policy', `${what}[${i}] has no name`);
    if (!Array.isArray(person?.identities) || person.identities.length === 0) throw new ApprovalError('bad-policy', `${what} ${name} has no identities`);
    const identities = [...new Set(person.identities.map(normaliseIdentity))];
    for (const id of identities) {
      const other = seen.get(id);
      if (other !== undefined && other !== name) throw new ApprovalError('bad-policy', `identity ${id} is listed for both ${other} and ${name}`);
      seen.set(id, name);
    }
    return { name, identities };
  });
}

function positive(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new ApprovalError('bad-policy', `${what} must be a positive number of milliseconds`);
  return value;
}

export function normalisePolicy(policy: ApprovalPolicy): NormalisedPolicy {
  const seen = new Map<string, string>();
  const approvers = persons(policy?.approvers, 'approvers', seen);
  if (approvers.length === 0) throw new ApprovalError('bad-policy', 'an approval needs at least one approver');
  const names = new Set<string>();
  for (const p of approvers) {
    if (names.has(p.name)) throw new ApprovalError('bad-policy', `approver ${p.name} is listed twice`);
    names.add(p.name);
  }
  const escalation = persons(policy.escalation, 'escalation', seen);
  const quorum = policy.quorum ?? 1;
  if (!Number.isInteger(quorum) || quorum < 1) throw new ApprovalError('bad-policy', `quorum must be a whole number of at least 1 (got ${String(quorum)})`);
  if (quorum > approvers.length) {
    throw new ApprovalError(
      'bad-policy',
      `quorum ${quorum} is larger than the ${approvers.length} listed approver${approvers.length === 1 ? '' : 's'}: it could never be reached`,
    );
  }
  const timeoutMs = positive(policy.timeoutMs, 'timeoutMs');
  const onTimeout = policy.onTimeout ?? 'deny';
  if (!['deny', 'approve', 'escalate'].includes(onTimeout))
    throw new ApprovalError('bad-policy', `onTimeout must be deny, approve or escalate (got ${String(onTimeout)})`);
  if (onTimeout === 'escalate' && escalation.length === 0) throw new ApprovalError('bad-policy', 'onTimeout escalate needs an escalation list');
  const remindAfterMs = (policy.remindAfterMs ?? []).map((ms) => positive(ms, 'remindAfterMs')).sort((a, b) => a - b);
  const escalateAfterMs = policy.escalateAfterMs === undefined ? undefined : positive(policy.escalateAfterMs, 'escalateAfterMs');
  if (escalateAfterMs !== undefined && escalation.length === 0) throw new ApprovalError('bad-policy', 'escalateAfterMs needs an escalation list');
  const fields = (policy.fields && policy.fields.length > 0 ? policy.fields : [...DEFAULT_APPROVAL_FIELDS]).map((f) => {
    try {
      return checkFieldPath(f);
    } catch (err) {
      throw new ApprovalError('bad-policy', (err as Error).message);
    }
  });
  return {
    approvers,
    quorum,
    denyNeedsQuorum: policy.denyNeedsQuorum === true,
    timeoutMs,
    onTimeout,
    remindAfterMs: [...new Set(remindAfterMs)],
    ...(escalateAfterMs !== undefined ? { escalateAfterMs } : {}),
    escalation,
    escalationTimeoutMs: policy.escalationTimeoutMs === undefined ? timeoutMs : positive(policy.escalationTimeoutMs, 'escalationTimeoutMs'),
    fields,
  };
}

/** Who an identity belongs to among those who may decide now (approvers; the escalation list once escalated). */
export function personOf(record: ApprovalRecord, identity: string): ApproverPerson | undefined {
  const lists = record.escalated ? [record.policy.approvers, record.policy.escalation] : [record.policy.approvers];
  for (const list of lists) for (const p of list) if (p.identities.includes(identity)) return p;
  return undefined;
}

/** Decide from the votes: undefined while still open. */
export function tally(record: ApprovalRecord): { state: 'approved' | 'denied'; reason: string } | undefined {
  const approve = new Set(record.votes.filter((v) => v.decision === 'approve').map((v) => v.person));
  const deny = new Set(record.votes.filter((v) => v.decision === 'deny').map((v) => v.person));
  const { quorum, denyNeedsQuorum } = record.policy;
  if (approve.size >= quorum) return { state: 'approved', reason: `${approve.size} of ${quorum} required approvals` };
  if (deny.size > 0 && !denyNeedsQuorum) return { state: 'denied', reason: `denied by ${[...deny].join(', ')}` };
  if (deny.size >= quorum) return { state: 'denied', reason: `${deny.size} denials reached the quorum of ${quorum}` };
  const electorate = record.policy.approvers.length + (record.escalated ? record.policy.escalation.length : 0);
  if (approve.size + (electorate - approve.size - deny.size) < quorum) return { state: 'denied', reason: `the quorum of ${quorum} can no longer be reached` };
  return undefined;
}

const MAX_MESSAGE_BYTES = 1024 * 1024;
/** Parts of a Node-RED message that are live objects of one request and never survive holding. */
const DROPPED = ['req', 'res'];

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The held message as JSON. Dropped: msg.req and msg.res (live HTTP objects). Kept with a tag and
 * revived: Buffers. Turned into ISO strings: Dates. Refused with the path: functions, symbols, BigInts,
 * NaN/Infinity, Maps, Sets, class instances, cycles, and messages over 1 MiB.
 */
export function serialiseMessage(msg: unknown, maxBytes = MAX_MESSAGE_BYTES): { json: string; dropped: string[] } {
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) throw new ApprovalError('not-serialisable', 'the message must be an object');
  const dropped: string[] = [];
  const stack = new Set<object>();
  const refuse = (path: string, what: string): never => {
    throw new ApprovalError('not-serialisable', `the message cannot be held: ${path} is ${what}, which does not survive as JSON`);
  };
  const walk = (value: unknown, path: string): unknown => {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return value;
      case 'number':
        return Number.isFinite(value) ? value : refuse(path, String(value));
      case 'undefined':
        return undefined;
      case 'function':
        return refuse(path, 'a function');
      case 'symbol':
        return refuse(path, 'a symbol');
      case 'bigint':
        return refuse(path, 'a BigInt');
    }
    if (value === null) return null;
    const obj = value as object;
    if (Buffer.isBuffer(obj)) return { $soarBuffer: obj.toString('base64') };
    if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? refuse(path, 'an invalid Date') : obj.toISOString();
    if (stack.has(obj)) return refuse(path, 'a circular reference');
    stack.add(obj);
    try {
      if (Array.isArray(obj)) return obj.map((item, i) => (item === undefined ? null : walk(item, `${path}[${i}]`)));
      if (!isPlain(obj)) return refuse(path, `a ${obj.constructor?.name ?? 'non-plain'} object`);
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(obj)) {
        if (path === 'msg' && DROPPED.includes(key)) {
          dropped.push(key);
          continue;
        }
        const v = walk(item, `${path}.${key}`);
        if (v !== undefined) out[key] = v;
      }
      return out;
    } finally {
      stack.delete(obj);
    }
  };
  const json = JSON.stringify(walk(msg, 'msg'));
  if (Buffer.byteLength(json) > maxBytes)
    throw new ApprovalError('too-large', `the message cannot be held: ${Buffer.byteLength(json)} bytes as JSON, more than ${maxBytes}`);
  return { json, dropped };
}

/** The held message back as an object, Buffers revived. */
export function restoreMessage(json: string): Record<string, unknown> {
  return JSON.parse(json, (_key, value) => {
    if (value && typeof value === 'object' && !Array.isArray(value) && typeof value.$soarBuffer === 'string' && Object.keys(value).length === 1) {
      return Buffer.from(value.$soarBuffer, 'base64');
    }
    return value;
  }) as Record<string, unknown>;
}

function text(value: unknown, max = 300): string | undefined {
  if (typeof value === 'string' && value.trim() !== '') return value.length > max ? `${sliceWhole(value, max - 1)}…` : value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

/** What is asked, rendered from the message: alert title/severity, verdict and reasons, action and target. */
export function renderSummary(
  msg: Record<string, unknown>,
  ask: { action?: string; target?: string; title?: string } = {},
  fields: readonly string[] = DEFAULT_APPROVAL_FIELDS,
): ApprovalSummary {
  const alert = (msg.alert ?? {}) as Record<string, unknown>;
  const enrichment = (msg.enrichment ?? {}) as Record<string, unknown>;
  const severity = text(alert.severity_label) ?? text(alert.severity);
  const reasons = Array.isArray(enrichment.why)
    ? enrichment.why
        .map((r) => text(r))
        .filter((r): r is string => r !== undefined)
        .slice(0, 20)
    : [];
  const covers = coveredValues(msg, fields);
  let target = text(ask.target);
  if (target === undefined) {
    // The first decisive field with a value or a list of them (maps are handled below).
    const first = fields.map((f) => approvalValue(msg, f)).find((v) => v !== undefined);
    target = first;
  }
  if (target === undefined) {
    // A map such as enrichment.indicators: the target is what the verdict accused (malicious), as block IP reads it.
    const accused = covers.filter((c) => c.verdict === 'malicious').map((c) => c.value);
    if (accused.length) target = text(accused.join(', '));
  }
  const summary: ApprovalSummary = { title: text(ask.title) ?? text(alert.title) ?? 'Approval requested', reasons };
  if (severity !== undefined) summary.severity = severity;
  if (text(enrichment.verdict) !== undefined) summary.verdict = text(enrichment.verdict);
  if (typeof enrichment.score === 'number') summary.score = enrichment.score;
  if (text(ask.action) !== undefined) summary.action = text(ask.action);
  if (target !== undefined) summary.target = target;
  // The list says what else the approval lets act on; a lone value equal to the target adds nothing.
  if (covers.length > 1 || (covers.length === 1 && covers[0].value !== target)) summary.covers = covers;
  return summary;
}

const VERDICT_RANK: Record<string, number> = { malicious: 0, suspicious: 1, unknown: 2, benign: 3 };
const COVERS_MAX = 100;

/** The keys of map-valued decisive fields (what verifyApproval lets act on), worst verdict first. */
function coveredValues(msg: Record<string, unknown>, fields: readonly string[]): CoveredValue[] {
  const out: CoveredValue[] = [];
  for (const field of fields) {
    const at = readPath(msg, field);
    const value = at.value;
    if (!at.found) continue;
    if (value === null || typeof value !== 'object' || Array.isArray(value) || Buffer.isBuffer(value) || value instanceof Date) {
      // The same values the check before an action accepts (lib/contract/approval.ts), so the list never hides one.
      for (const item of coveredValuesOf(value)) out.push({ field, value: item });
      continue;
    }
    for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
      const about = entry !== null && typeof entry === 'object' ? (entry as Record<string, unknown>) : {};
      const verdict = text(about.verdict, 40);
      const score = typeof about.score === 'number' && Number.isFinite(about.score) ? about.score : undefined;
      out.push({ field, value: text(key) ?? key, ...(verdict !== undefined ? { verdict } : {}), ...(score !== undefined ? { score } : {}) });
    }
  }
  const rank = (c: CoveredValue) => VERDICT_RANK[c.verdict ?? 'unknown'] ?? VERDICT_RANK.unknown;
  return out.sort((a, b) => rank(a) - rank(b) || (b.score ?? -1) - (a.score ?? -1) || a.value.localeCompare(b.value)).slice(0, COVERS_MAX);
}

function approvalValue(msg: unknown, path: string): string | undefined {
  const current = readPath(msg, path).value;
  if (Array.isArray(current)) {
    const items = coveredValuesOf(current);
    return items.length ? text(items.join(', ')) : undefined;
  }
  return text(current);
}

export function digestOf(msg: unknown, fields: readonly string[]): string {
  return approvalDigest(msg, fields);
}
