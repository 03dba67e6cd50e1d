/**
 * Audit records of refused intake requests (alert.rejected): status, reason and remote address,
 * never the credentials or the body. Rate-limited per intake, so a scanner or a misconfigured sender
 * cannot flood the audit log: at most `perMinute` records a minute; the next record carries the
 * count of those left out (`suppressed`), and close() writes a last one when some are still owed.
 * Node-RED-free.
 */
import type { AuditLog } from '../core/audit';

export interface RejectionRecorderOptions {
  intakeId: string;
  /** Records per rolling minute (default 20). */
  perMinute?: number;
  now?: () => number;
  /** Called when a record could not be written (the node logs it). */
  onError?: (err: Error) => void;
}

export interface Rejection {
  status: number;
  reason: string;
  remote?: string;
  method?: string;
}

/**
 * A 400's reason may quote the body (a JSON parser's message does, a format hint lists its keys):
 * only reasons of a fixed wording are kept, any other is reduced to its kind.
 */
const FIXED_400 =
  /^(body is empty|body is not valid UTF-8|client aborted the request|request body could not be read|(item \d+: )?JSON nesting is deeper than \d+ levels)/;

function safeReason(status: number, reason: string): string {
  if (status === 400) {
    const fixed = FIXED_400.exec(reason);
    return fixed ? fixed[0] : 'malformed or unrecognised alert body (the reason went to the sender only)';
  }
  return reason.length > 300 ? `${reason.slice(0, 299)}…` : reason;
}

export class RejectionRecorder {
  private readonly times: number[] = [];
  private suppressed = 0;
  private readonly perMinute: number;
  private readonly now: () => number;

  constructor(
    private readonly audit: Pick<AuditLog, 'append'>,
    private readonly opts: RejectionRecorderOptions,
  ) {
    this.perMinute = opts.perMinute ?? 20;
    this.now = opts.now ?? Date.now;
  }

  /** Record one rejection (or count it as suppressed). Never throws; the write is not awaited by the answer. */
  record(r: Rejection): void {
    const now = this.now();
    while (this.times.length > 0 && this.times[0] <= now - 60_000) this.times.shift();
    if (this.times.length >= this.perMinute) {
      this.suppressed += 1;
      return;
    }
    this.times.push(now);
    const fields: Record<string, unknown> = { intake: this.opts.intakeId, status: r.status, reason: safeReason(r.status, r.reason) };
    if (r.remote) fields.remote = r.remote;
    if (r.method) fields.method = r.method;
    if (this.suppressed > 0) {
      fields.suppressed = this.suppressed;
      this.suppressed = 0;
    }
    this.write(fields);
  }

  /** Write the count still owed, if any (the node's close). */
  flush(): Promise<void> {
    if (this.suppressed === 0) return Promise.resolve();
    const fields = { intake: this.opts.intakeId, suppressed: this.suppressed, reason: 'rejections left out by the rate limit' };
    this.suppressed = 0;
    return this.write(fields);
  }

  private write(fields: Record<string, unknown>): Promise<void> {
    try {
      return this.audit.append('alert.rejected', fields).then(
        () => undefined,
        (err: Error) => this.opts.onError?.(err),
      );
    } catch (err) {
      this.opts.onError?.(err as Error);
      return Promise.resolve();
    }
  }
}
