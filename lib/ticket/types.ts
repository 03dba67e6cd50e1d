/**
 * The ticketing family: the one small interface every tracker client implements (Redmine, TheHive,
 * Jira, GitHub, GitLab, ServiceNow, and the local case store). Node-RED-free.
 *
 * Contract for the callers (the outbox and the open-ticket node):
 * - `findOpenByIncident(key)` searches the tracker's own dedup field (see docs/ticketing.md); the
 *   tracker's search may lag behind a create (Jira), so callers keep their own incident → ticket record.
 * - Every method rejects with a `ProviderError` (lib/core/errors.ts); `classifyTicketError` turns any
 *   rejection into transient / permanent / duplicate. A secret never appears in a message.
 * - `create` never retries by itself after the request may have reached the tracker (a 5xx or a
 *   timeout on a POST can still have created the ticket): the caller looks for it with
 *   `findOpenByIncident` before creating again.
 * - Text over the tracker's limit is cut with a visible note, never refused and never cut silently.
 */
import type { BudgetLimits, BudgetState } from '../core/budget';
import type { TicketMarkup } from './markup';

/** The normalised alert's OCSF severity_id: 0 unknown, 1 informational, 2 low, 3 medium, 4 high, 5 critical, 6 fatal. */
export type TicketSeverity = 0 | 1 | 2 | 3 | 4 | 5 | 6;

/** An indicator to attach (TheHive observables); other trackers get them in the text only. */
export interface TicketObservable {
  /** The pack's indicator type (ipv4, ipv6, domain, url, md5, sha1, sha256, email, ...). */
  type: string;
  value: string;
  /** Short note shown with the observable. */
  message?: string;
}

/** Where a ticket lives; stored by the caller (outbox, local record) and handed back to `comment`/`status`. */
export interface TicketRef {
  /** What the API addresses it by: Redmine/GitHub/GitLab issue number (iid), Jira issue key, ServiceNow sys_id, TheHive _id. */
  id: string;
  /** What a person calls it: "#12", "SEC-24", "INC0010001", "~4128" (TheHive alert) or "#3" (TheHive case). */
  key: string;
  /** The ticket's page for a person (may be '' when the tracker has none, e.g. a TheHive alert without a UI base). */
  url: string;
  /** Sub-type where a tracker has two (TheHive "alert" | "case"); absent elsewhere. */
  type?: string;
}

export interface CreateTicketInput {
  title: string;
  /** Plain text (Markdown where the tracker renders it); converted per tracker (ADF for Jira). */
  body: string;
  severity: TicketSeverity | number;
  /** Stored in the tracker's dedup field (label, sourceRef, correlation_id, custom field). */
  incidentKey: string;
  observables?: TicketObservable[];
  /** A previous (closed) ticket of the same incident, linked from the new one. */
  linkTo?: TicketRef;
}

export interface CommentOptions {
  /** New indicators of this sighting (TheHive adds them as observables; others ignore them). */
  observables?: TicketObservable[];
}

export type TicketState = 'open' | 'closed';

export interface TicketStatus {
  state: TicketState;
  /** The tracker's own status name ("Resolved", "Done", "closed", "7"), for messages. */
  vendorStatus?: string;
}

/** Size limits, in characters, after which text is cut with a note. */
export interface TicketLimits {
  title: number;
  body: number;
  comment: number;
}

export interface TicketProvider {
  /** The kind (descriptor kind): "redmine", "thehive", "jira", "github", "gitlab", "servicenow". */
  readonly kind: string;
  /** Instance name (config node name). */
  readonly name: string;
  readonly limits: TicketLimits;
  /** What the tracker renders ticket text as, so values from alerts are escaped for it (lib/ticket/markup.ts); absent: plain. */
  readonly markup?: TicketMarkup;
  /** An open ticket carrying this incident key, or undefined. */
  findOpenByIncident(incidentKey: string, signal?: AbortSignal): Promise<TicketRef | undefined>;
  create(input: CreateTicketInput, signal?: AbortSignal): Promise<TicketRef>;
  comment(ref: TicketRef, text: string, options?: CommentOptions, signal?: AbortSignal): Promise<void>;
  /** Open or closed (a closed ticket is not reopened; the caller opens a new one that links it). */
  status(ref: TicketRef, signal?: AbortSignal): Promise<TicketStatus>;
  /** The tracker's priority name/value for a severity (for docs, status and tests). */
  priorityFor(severity: number): string;
  budgetState(): BudgetState;
  /** Rejects queued requests and refuses new ones (node close). */
  close(): void;
}

/** What the outbox does with a failure. */
export type TicketFailureKind = 'transient' | 'permanent' | 'duplicate';

export interface TicketFailure {
  kind: TicketFailureKind;
  /** Redacted, with the tracker's own message where it gave one. */
  message: string;
  /** ProviderError code (NETWORK, RATE_LIMITED, BAD_REQUEST, ...). */
  code: string;
  status?: number;
  /** The tracker's hint (Retry-After, reset header); absent → the caller's own backoff. */
  retryAfterMs?: number;
  /** When the whole client is paused until (quota or a long rate limit). */
  resumeAt?: Date;
  /** duplicate: the ticket that already exists, when the client could find it. */
  existing?: TicketRef;
}

/** Common client options, filled from a descriptor's fields and the config node's context. */
export interface TicketProviderOptions {
  name?: string;
  /** The tracker's API root (https://redmine.example.org, https://acme.atlassian.net, ...). */
  baseURL?: string;
  budget?: BudgetLimits;
  timeoutMs?: number;
  /** Injected for tests: clock and sleep (passed to the HTTP client). */
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Attempts per idempotent call (reads, comments with a dedup key); default the HTTP client's. */
  maxAttempts?: number;
}
