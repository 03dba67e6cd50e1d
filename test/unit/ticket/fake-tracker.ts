/**
 * An in-memory tracker behind the TicketProvider interface, with injectable failures, for the
 * outbox tests and benchmark-like runs. Failures are ProviderErrors, as the real clients throw.
 */
import { ProviderError, type ProviderErrorCode } from '../../../lib/core/errors';
import type { CreateTicketInput, CommentOptions, TicketFailure, TicketProvider, TicketRef, TicketStatus } from '../../../lib/ticket/types';

export interface FakeTicket {
  ref: TicketRef;
  input: CreateTicketInput;
  state: 'open' | 'closed';
  comments: Array<{ text: string; options?: CommentOptions }>;
}

type Op = 'find' | 'create' | 'comment' | 'status';

export class FakeTracker implements TicketProvider {
  readonly kind = 'fake';
  readonly name: string;
  readonly limits = { title: 255, body: 60_000, comment: 60_000 };
  readonly tickets: FakeTicket[] = [];
  readonly calls: Record<Op, number> = { find: 0, create: 0, comment: 0, status: 0 };
  /** Every call fails with NETWORK while true. */
  down = false;
  /** Errors thrown by the next calls of an operation, in order. */
  readonly failures: Record<Op, ProviderError[]> = { find: [], create: [], comment: [], status: [] };
  /** Search does not see tickets created less than this many calls ago (Jira's search lag); 0 = none. */
  searchBlind = false;
  /** Delay of every call (real ms). */
  delayMs = 0;
  /** Called inside create after the ticket exists (e.g. to hang, simulating a crash mid-call). */
  afterCreate?: () => Promise<void>;

  constructor(name = 't') {
    this.name = name;
  }

  private async enter(op: Op): Promise<void> {
    this.calls[op] += 1;
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.down) throw new ProviderError({ provider: this.kind, code: 'NETWORK', message: 'fake: connection refused' });
    const next = this.failures[op].shift();
    if (next) throw next;
  }

  async findOpenByIncident(incidentKey: string): Promise<TicketRef | undefined> {
    await this.enter('find');
    if (this.searchBlind) return undefined;
    return this.tickets.find((t) => t.input.incidentKey === incidentKey && t.state === 'open')?.ref;
  }

  async create(input: CreateTicketInput): Promise<TicketRef> {
    await this.enter('create');
    const n = this.tickets.length + 1;
    const ref: TicketRef = { id: String(n), key: `#${n}`, url: `http://127.0.0.1/fake/${n}` };
    this.tickets.push({ ref, input: { ...input }, state: 'open', comments: [] });
    if (this.afterCreate) await this.afterCreate();
    return ref;
  }

  async comment(ref: TicketRef, text: string, options?: CommentOptions): Promise<void> {
    await this.enter('comment');
    const ticket = this.tickets.find((t) => t.ref.id === ref.id);
    if (!ticket) throw new ProviderError({ provider: this.kind, code: 'NOT_FOUND', status: 404, message: 'fake: no such ticket' });
    ticket.comments.push({ text, ...(options ? { options } : {}) });
  }

  async status(ref: TicketRef): Promise<TicketStatus> {
    await this.enter('status');
    const ticket = this.tickets.find((t) => t.ref.id === ref.id);
    if (!ticket) throw new ProviderError({ provider: this.kind, code: 'NOT_FOUND', status: 404, message: 'fake: no such ticket' });
    return { state: ticket.state };
  }

  priorityFor(severity: number): string {
    return String(severity);
  }

  budgetState() {
    return { windows: [], queued: 0 };
  }

  close(): void {}

  get commentCount(): number {
    return this.tickets.reduce((n, t) => n + t.comments.length, 0);
  }
}

export function failure(code: ProviderErrorCode, message: string, extra: { status?: number; retryAfterMs?: number } = {}): ProviderError {
  return new ProviderError({ provider: 'fake', code, message, ...extra });
}

const TRANSIENT = new Set(['NETWORK', 'TIMEOUT', 'RATE_LIMITED', 'QUOTA_EXHAUSTED', 'SERVER', 'CANCELLED']);

/** The classification the outbox is given (same rules as lib/ticket/errors.ts in the clients' branch). */
export function classify(error: unknown): TicketFailure {
  if (error instanceof ProviderError) {
    const out: TicketFailure = {
      kind: error.code === 'CONFLICT' ? 'duplicate' : TRANSIENT.has(error.code) ? 'transient' : 'permanent',
      code: error.code,
      message: error.message,
    };
    if (error.status !== undefined) out.status = error.status;
    if (error.retryAfterMs !== undefined) out.retryAfterMs = error.retryAfterMs;
    return out;
  }
  return { kind: 'permanent', code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}
