/**
 * Approval notices to the channels a wait-for-approval node uses: who each notice goes to, the page
 * links it carries, and the sent messages' references, kept in the store (namespace approvals:refs)
 * so the outcome still reaches them after a redeploy or a restart. A failing channel is audited and
 * reported, never thrown: the other channels and the approval page keep working. Node-RED-free.
 */
import type { AuditLog } from '../core/audit';
import { mutexFor, type KeyedMutex } from '../core/leases/keyed-mutex';
import { redact } from '../core/redact';
import type { StateStore } from '../core/types';
import type { ApprovalChannel, ApprovalNotice, ApproverLinks, DecisionInfo, MessageRef, NoticeKind } from './channels/types';
import type { ApprovalLinks } from './links';
import { coveredText } from './page';
import { IDENTITY_CHANNELS, type ApprovalRecord, type ApproverPerson } from './records';

/** approval id → the messages sent for it, per channel endpoint. */
export const REFS_NS = 'approvals:refs';
const DEFAULT_RETENTION_MS = 7 * 24 * 3600_000;

/** One configured channel (a soar-approval-channel config node). */
export interface ChannelEndpoint {
  /** Stable key of the endpoint (the config node's id): stored with the references. */
  id: string;
  /** Shown in audit records and statuses (the config node's name or kind). */
  label: string;
  kind: string;
  channel: ApprovalChannel;
  supports: { inbound: boolean; updates: boolean; links: boolean };
  /** Credentials of the endpoint, kept out of every audit record and warning. */
  secrets?: string[];
}

export interface StoredRef {
  endpoint: string;
  ref: MessageRef;
}

interface RefsEntry {
  refs: StoredRef[];
  /** Endpoints that were sent a notice for this approval (also those whose messages cannot change). */
  endpoints: string[];
}

export interface ChannelOutcome {
  endpoint: ChannelEndpoint;
  /** What was sent: a notice kind, or "update" for an outcome written into sent messages. */
  action: NoticeKind | 'update';
  ok: boolean;
  error?: string;
}

export interface ApprovalDispatchOptions {
  store: StateStore;
  audit: Pick<AuditLog, 'append'>;
  links: Pick<ApprovalLinks, 'mint'>;
  /** The approval page address the links point at. */
  pageBase: string;
  /** The endpoints in use now (looked up per event: config nodes may come later than the node). */
  endpoints: () => ChannelEndpoint[] | Promise<ChannelEndpoint[]>;
  /** Every send or update, for the node's status. */
  onOutcome?: (outcome: ChannelOutcome) => void;
  warn?: (message: string) => void;
  retentionMs?: number;
}

/** Identity kinds a channel kind addresses people by (Teams and webhook have none: they carry links). */
function identityKind(kind: string): string | undefined {
  return (IDENTITY_CHANNELS as readonly string[]).includes(kind) ? kind : undefined;
}

export function decisionInfo(record: ApprovalRecord): DecisionInfo {
  const outcome = record.state === 'approved' ? 'approved' : record.state === 'denied' ? 'denied' : 'expired';
  const by = record.decision?.by ?? [];
  return {
    outcome,
    ...(by.length ? { by: by.join(', ') } : {}),
    at: record.decision?.at ?? new Date().toISOString(),
    ...(record.comment ? { comment: record.comment } : {}),
  };
}

/** The notice text every channel renders: title, context lines and the decided fields of the record. */
export function noticeOf(record: ApprovalRecord, kind: NoticeKind, approvers: string[], links: ApproverLinks[]): ApprovalNotice {
  const s = record.summary;
  const summary = [
    ...(s.severity ? [`Severity: ${s.severity}`] : []),
    ...(s.verdict ? [`Verdict: ${s.verdict}${s.score !== undefined ? ` (score ${s.score})` : ''}`] : []),
    ...s.reasons.map((r) => `- ${r}`),
    ...(s.covers?.length
      ? [`Covers: ${s.covers.slice(0, 20).map(coveredText).join('; ')}${s.covers.length > 20 ? `; and ${s.covers.length - 20} more` : ''}`]
      : []),
  ];
  const fields: Record<string, string> = {};
  if (s.action) fields.action = s.action;
  if (s.target) fields.target = s.target;
  return {
    approvalId: record.id,
    kind,
    title: s.title,
    summary,
    fields,
    approvers,
    links,
    expiresAt: new Date(record.expiresAt).toISOString(),
    ...(kind === 'decided' ? { decision: decisionInfo(record) } : {}),
  };
}

export class ApprovalDispatch {
  private readonly locks: KeyedMutex;
  private readonly retentionMs: number;
  private readonly inflight = new Map<string, Promise<unknown>>();
  private readonly warn: (message: string) => void;

  constructor(private readonly options: ApprovalDispatchOptions) {
    this.locks = mutexFor(options.store);
    this.retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
    this.warn = options.warn ?? (() => undefined);
  }

  /** The request: to every approver on every channel. */
  requested(record: ApprovalRecord): Promise<void> {
    return this.track(record.id, () => this.send(record, 'request', record.policy.approvers));
  }

  /** A reminder to those who have not voted yet. */
  reminder(record: ApprovalRecord, to: ApproverPerson[]): Promise<void> {
    return this.track(record.id, () => this.send(record, 'reminder', to));
  }

  /** The escalation list, who may decide from now on. */
  escalation(record: ApprovalRecord, to: ApproverPerson[]): Promise<void> {
    return this.track(record.id, () => this.send(record, 'escalation', to));
  }

  /** The outcome: written into the sent messages where the channel can, else sent as a "decided" notice. */
  resolved(record: ApprovalRecord): Promise<void> {
    return this.track(record.id, () => this.finish(record));
  }

  /**
   * After a restart or a redeploy: approvals decided while nobody wrote their outcome to the channels
   * (their references are still stored) get it now.
   */
  async sweep(get: (id: string) => Promise<ApprovalRecord | undefined>, origin: string): Promise<void> {
    for (const { key } of await this.options.store.list<RefsEntry>(REFS_NS)) {
      const record = await get(key);
      if (record && record.origin === origin && record.state !== 'pending') await this.resolved(record);
    }
  }

  /** Resolves once every send and update started so far is done. */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight.values()]);
  }

  /** Runs one approval's sends in order (the outcome never overtakes the request it updates). */
  private track(id: string, work: () => Promise<void>): Promise<void> {
    const before = this.inflight.get(id) ?? Promise.resolve();
    const next = before.then(work, work).catch((err: Error) => this.warn(`approval ${id}: ${err.message}`));
    this.inflight.set(id, next);
    void next.finally(() => {
      if (this.inflight.get(id) === next) this.inflight.delete(id);
    });
    return next;
  }

  private async send(record: ApprovalRecord, kind: NoticeKind, to: ApproverPerson[]): Promise<void> {
    if (!to.length) return;
    const endpoints = await this.options.endpoints();
    if (!endpoints.length) return;
    const deciders = [...record.policy.approvers, ...(record.escalated || kind === 'escalation' ? record.policy.escalation : [])];
    const results = await Promise.all(
      endpoints.map(async (endpoint): Promise<StoredRef[] | undefined> => {
        const idKind = identityKind(endpoint.kind);
        const recipients = idKind ? identitiesOn(to, idKind) : [];
        // A person-addressed channel (chat, e-mail) with nobody of `to` on it has nothing to send.
        if (idKind && !recipients.length) return undefined;
        try {
          // E-mail writes to each recipient; a chat channel posts once, and lets everyone who may decide click.
          const approvers = endpoint.supports.links && idKind ? recipients : idKind ? identitiesOn(deciders, idKind) : [];
          const links = endpoint.supports.links ? await this.linksFor(record, idKind ? recipients : to.map(linkIdentity), to) : [];
          const refs = await endpoint.channel.notify(noticeOf(record, kind, approvers, links));
          await this.audit('approval.notified', { approval: record.id, channel: endpoint.label, kind: endpoint.kind, notice: kind, messages: refs.length });
          this.options.onOutcome?.({ endpoint, action: kind, ok: true });
          return refs.map((ref) => ({ endpoint: endpoint.id, ref }));
        } catch (err) {
          const error = this.errorText(endpoint, err);
          await this.audit('approval.notify-failed', { approval: record.id, channel: endpoint.label, kind: endpoint.kind, notice: kind, error });
          this.options.onOutcome?.({ endpoint, action: kind, ok: false, error });
          // Mails that went out before one failed still get the outcome.
          const sent = (err as { body?: { sent?: MessageRef[] } })?.body?.sent;
          return Array.isArray(sent) && sent.length ? sent.map((ref) => ({ endpoint: endpoint.id, ref })) : [];
        }
      }),
    );
    const sentTo = endpoints.filter((_, i) => results[i] !== undefined).map((e) => e.id);
    const refs = results.flatMap((r) => r ?? []);
    if (!sentTo.length) return;
    await this.locks.run([`approval-refs:${record.id}`], async () => {
      const entry = (await this.options.store.get<RefsEntry>(REFS_NS, record.id)) ?? { refs: [], endpoints: [] };
      const next: RefsEntry = { refs: [...entry.refs, ...refs], endpoints: [...new Set([...entry.endpoints, ...sentTo])] };
      await this.options.store.set(REFS_NS, record.id, next, { ttlMs: Math.max(1, record.expiresAt - Date.now()) + this.retentionMs });
    });
  }

  private async finish(record: ApprovalRecord): Promise<void> {
    const entry = await this.options.store.get<RefsEntry>(REFS_NS, record.id);
    if (!entry) return;
    const decision = decisionInfo(record);
    const byId = new Map((await this.options.endpoints()).map((e) => [e.id, e]));
    for (const endpointId of entry.endpoints) {
      const endpoint = byId.get(endpointId);
      if (!endpoint) continue; // the channel was removed from the node: nothing to update it through
      if (endpoint.channel.update) {
        for (const { ref } of entry.refs.filter((r) => r.endpoint === endpointId)) {
          try {
            await endpoint.channel.update(ref, decision);
            await this.audit('approval.channel-updated', { approval: record.id, channel: endpoint.label, kind: endpoint.kind, outcome: decision.outcome });
            this.options.onOutcome?.({ endpoint, action: 'update', ok: true });
          } catch (err) {
            const error = this.errorText(endpoint, err);
            await this.audit('approval.update-failed', { approval: record.id, channel: endpoint.label, kind: endpoint.kind, outcome: decision.outcome, error });
            this.options.onOutcome?.({ endpoint, action: 'update', ok: false, error });
          }
        }
        continue;
      }
      // A sent mail or card cannot change: those it went to get the outcome as a notice of its own.
      const idKind = identityKind(endpoint.kind);
      const to = [...record.policy.approvers, ...(record.escalated ? record.policy.escalation : [])];
      const approvers = idKind ? identitiesOn(to, idKind) : [];
      if (idKind && !approvers.length) continue;
      try {
        const refs = await endpoint.channel.notify(noticeOf(record, 'decided', approvers, []));
        await this.audit('approval.notified', { approval: record.id, channel: endpoint.label, kind: endpoint.kind, notice: 'decided', messages: refs.length });
        this.options.onOutcome?.({ endpoint, action: 'decided', ok: true });
      } catch (err) {
        const error = this.errorText(endpoint, err);
        await this.audit('approval.notify-failed', { approval: record.id, channel: endpoint.label, kind: endpoint.kind, notice: 'decided', error });
        this.options.onOutcome?.({ endpoint, action: 'decided', ok: false, error });
      }
    }
    // Done once: a later restart does not write the outcome again.
    await this.options.store.delete(REFS_NS, record.id);
  }

  private async linksFor(record: ApprovalRecord, identities: string[], to: ApproverPerson[]): Promise<ApproverLinks[]> {
    const wanted = [...new Set(identities.filter(Boolean))];
    if (!wanted.length) return [];
    const minted = await this.options.links.mint(record, this.options.pageBase, wanted);
    const names = new Map(to.flatMap((p) => p.identities.map((i) => [i, p.name] as const)));
    const out = new Map<string, ApproverLinks>();
    for (const link of minted) {
      const entry = out.get(link.identity) ?? { identity: link.identity, name: names.get(link.identity) ?? link.person, approve: '', deny: '' };
      entry[link.decision] = link.url;
      out.set(link.identity, entry);
    }
    return [...out.values()];
  }

  private errorText(endpoint: ChannelEndpoint, err: unknown): string {
    const message = err instanceof Error ? err.message : String(err);
    return redact(message, endpoint.secrets ?? []).slice(0, 500);
  }

  private async audit(type: string, fields: Record<string, unknown>): Promise<void> {
    try {
      await this.options.audit.append(type, fields);
    } catch (err) {
      this.warn(`approval audit record ${type} could not be written: ${(err as Error).message}`);
    }
  }
}

/** The identities of these persons on one channel kind ("slack:U1", ...), each once. */
export function identitiesOn(persons: ApproverPerson[], kind: string): string[] {
  return [...new Set(persons.flatMap((p) => p.identities.filter((i) => i.startsWith(`${kind}:`))))];
}

/** A link-only channel (Teams, webhook) carries one link pair per person: as their editor identity, else their first. */
function linkIdentity(person: ApproverPerson): string {
  return person.identities.find((i) => i.startsWith('editor:')) ?? person.identities[0] ?? '';
}
