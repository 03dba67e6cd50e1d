/**
 * Approval links: one per approver identity and decision, carrying a 256-bit random token. Only the
 * token's SHA-256 is stored (a leaked store mints no working link); a link works once and only while
 * its approval is pending. Node-RED-free.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { StateStore } from '../core/types';
import type { ApprovalEngine, DecideResult } from './engine';
import { normaliseIdentity, personOf, type ApprovalRecord } from './records';

export const LINKS_NS = 'approval-links';
/** sha256(token) → when it was used; setIfAbsent here makes a link single-use. */
export const USED_LINKS_NS = 'approval-links:used';
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const DEFAULT_RETENTION_MS = 7 * 24 * 3600_000;
/** Unknown-link POSTs audited one by one per minute; the rest are counted. */
const UNKNOWN_PER_MINUTE = 20;

export interface LinkRecord {
  approval: string;
  identity: string;
  person: string;
  decision: 'approve' | 'deny';
}

export interface MintedLink extends LinkRecord {
  /** The secret; never stored, only handed to the channel that sends it. */
  token: string;
  url: string;
}

export type LinkLookup =
  | { status: 'pending'; link: LinkRecord; record: ApprovalRecord }
  | { status: 'used' | 'decided' | 'expired'; link: LinkRecord; record: ApprovalRecord }
  | { status: 'unknown' };

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface ApprovalLinksOptions {
  store: StateStore;
  engine: ApprovalEngine;
  /** How long after the approval's expiry a link still gets a clear page instead of "unknown". Default 7 days. */
  retentionMs?: number;
}

export class ApprovalLinks {
  private readonly store: StateStore;
  private readonly engine: ApprovalEngine;
  private readonly retentionMs: number;
  private unknownMinute = 0;
  private unknownCount = 0;
  private unknownLeftOut = 0;

  constructor(options: ApprovalLinksOptions) {
    this.store = options.store;
    this.engine = options.engine;
    this.retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  }

  /**
   * Mint approve and deny links for the given identities (default: every identity of everyone who may
   * decide now). `baseUrl` is the page's address, e.g. http://hub:1880/soar/approval/.
   */
  async mint(record: ApprovalRecord, baseUrl: string, identities?: string[]): Promise<MintedLink[]> {
    const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
    const wanted = identities
      ? identities.map(normaliseIdentity)
      : [...record.policy.approvers, ...(record.escalated ? record.policy.escalation : [])].flatMap((p) => p.identities);
    const ttlMs = Math.max(1, record.expiresAt - this.engine.now()) + this.retentionMs;
    const out: MintedLink[] = [];
    for (const identity of wanted) {
      const person = personOf(record, identity);
      if (!person) throw new Error(`${identity} may not decide approval ${record.id}`);
      for (const decision of ['approve', 'deny'] as const) {
        const token = randomBytes(32).toString('base64url');
        const link: LinkRecord = { approval: record.id, identity, person: person.name, decision };
        await this.store.set(LINKS_NS, hashToken(token), link, { ttlMs });
        out.push({ ...link, token, url: base + token });
      }
    }
    return out;
  }

  async lookup(token: string): Promise<LinkLookup> {
    if (typeof token !== 'string' || !TOKEN.test(token)) return { status: 'unknown' };
    const hash = hashToken(token);
    const link = await this.store.get<LinkRecord>(LINKS_NS, hash);
    if (!link) return { status: 'unknown' };
    const record = await this.engine.get(link.approval);
    if (!record) return { status: 'unknown' };
    if (await this.store.get(USED_LINKS_NS, hash)) return { status: 'used', link, record };
    if (record.state === 'expired') return { status: 'expired', link, record };
    if (record.state !== 'pending') return { status: 'decided', link, record };
    if (this.engine.now() >= record.expiresAt) return { status: 'expired', link, record };
    return { status: 'pending', link, record };
  }

  /**
   * A POST on an unknown link: audited, but at most UNKNOWN_PER_MINUTE a minute (anyone who reaches the
   * page can send them; a flood must not fill the audit log). The next audited one says how many were
   * left out.
   */
  private async refuseUnknown(): Promise<void> {
    const minute = Math.floor(this.engine.now() / 60_000);
    if (minute !== this.unknownMinute) {
      this.unknownMinute = minute;
      this.unknownCount = 0;
    }
    this.unknownCount += 1;
    if (this.unknownCount > UNKNOWN_PER_MINUTE) {
      this.unknownLeftOut += 1;
      return;
    }
    const leftOut = this.unknownLeftOut;
    this.unknownLeftOut = 0;
    await this.engine.refuse({
      channel: 'page',
      code: 'unknown',
      reason: `unknown approval link (forged, mistyped, or older than the retention time)${leftOut ? `; ${leftOut} more such POSTs before this one were not recorded one by one` : ''}`,
    });
  }

  /** A reused link: audited as a refusal (never with its token). */
  private refuseUsed(link: LinkRecord): Promise<void> {
    return this.engine.refuse({
      id: link.approval,
      identity: link.identity,
      channel: 'page',
      code: 'link-used',
      reason: `the ${link.decision} link of ${link.person} for approval ${link.approval} was already used`,
    });
  }

  /** Use a link: claims it (once, atomically) and casts its vote through the engine. Every refusal is audited. */
  async use(token: string, comment?: string): Promise<{ lookup: LinkLookup; result?: DecideResult }> {
    const lookup = await this.lookup(token);
    if (lookup.status === 'unknown') {
      await this.refuseUnknown();
      return { lookup };
    }
    if (lookup.status === 'used') {
      await this.refuseUsed(lookup.link);
      return { lookup };
    }
    if (lookup.status !== 'pending') {
      // Decided or expired: the engine refuses and audits it (and resolves a timeout its timer has not run yet).
      await this.engine.decide({ id: lookup.link.approval, identity: lookup.link.identity, decision: lookup.link.decision, channel: 'page' });
      return { lookup };
    }
    const hash = hashToken(token);
    const ttlMs = Math.max(1, lookup.record.expiresAt - this.engine.now()) + this.retentionMs;
    if (!(await this.store.setIfAbsent(USED_LINKS_NS, hash, { at: new Date(this.engine.now()).toISOString() }, { ttlMs }))) {
      await this.refuseUsed(lookup.link);
      return { lookup: { ...lookup, status: 'used' } };
    }
    const result = await this.engine.decide({
      id: lookup.link.approval,
      identity: lookup.link.identity,
      decision: lookup.link.decision,
      channel: 'page',
      comment,
    });
    return { lookup, result };
  }
}
