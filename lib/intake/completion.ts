/**
 * When is an alert's flow complete? Node-RED reports each delivery of a message to a node
 * (`preDeliver` hook) and each node's done() for it (`onComplete` hook). A tracked message is
 * complete when every delivery of its _msgid made after it was sent has been answered by the node
 * it went to: the last node that had it called done() (or done(err)) and sent nothing on.
 *
 * Nodes whose input handler takes no `done` (the older API: in Node-RED 4.1 the core switch and
 * filter nodes, and older third-party nodes) never report completion. A delivery to such a node is
 * answered when its input handler has returned (`postReceive` hook); what it sends on is counted
 * from then on, and the count must stay at zero for a short grace period (it may send from a queue
 * a moment later, as the switch node does under load).
 *
 * Node-RED-free apart from the shape of the two hook events; one tracker per runtime (hooks are
 * process-wide). The node registers the hooks once through registerCompletionHooks().
 */

interface Tracked {
  /** Deliveries not yet answered by done(), per destination node id. */
  open: Map<string, number>;
  /** Destinations that cannot call done(): answered when their input handler returned. */
  legacy?: Set<string>;
  /** The last answer came from such a node: wait a little before calling it complete. */
  graceful: boolean;
  total: number;
  delivered: boolean;
  /** A message sent on no wire completes at once. */
  wired: boolean;
  owner: string;
  callbacks: (() => void)[];
  checking: boolean;
}

export interface DeliverEvent {
  msg?: { _msgid?: string };
  destination?: { id?: string; node?: { _expectedDoneCount?: number } };
}

/** How long a message must stay without open deliveries after a node without done() had it. */
export const LEGACY_GRACE_MS = 250;

export interface CompleteEvent {
  msg?: { _msgid?: string };
  node?: { id?: string };
}

export class CompletionTracker {
  private readonly byMsgId = new Map<string, Tracked>();

  /** Messages being tracked (for status and tests). */
  get size(): number {
    return this.byMsgId.size;
  }

  /**
   * Start tracking a message before it is sent. `wired` says whether the sending output has wires.
   * Several alerts may share one _msgid (copies of one input message): each gets its callback when
   * that _msgid completes.
   */
  track(msgid: string, owner: string, wired: boolean, onComplete: () => void): void {
    const existing = this.byMsgId.get(msgid);
    if (existing) {
      existing.callbacks.push(onComplete);
      existing.wired ||= wired;
      return;
    }
    this.byMsgId.set(msgid, { open: new Map(), graceful: false, total: 0, delivered: false, wired, owner, callbacks: [onComplete], checking: false });
  }

  /** Call after node.send(): a message sent on no wire is complete now. */
  sent(msgid: string): void {
    const t = this.byMsgId.get(msgid);
    if (t && !t.wired) this.scheduleCheck(msgid, t);
  }

  preDeliver(event: DeliverEvent): void {
    const msgid = event.msg?._msgid;
    if (msgid === undefined) return;
    const t = this.byMsgId.get(msgid);
    const dest = event.destination?.id;
    if (!t || dest === undefined) return;
    t.open.set(dest, (t.open.get(dest) ?? 0) + 1);
    t.total += 1;
    t.delivered = true;
    // Node-RED counts the input listeners that take done; a node with none cannot report completion.
    const node = event.destination?.node;
    if (node && typeof node._expectedDoneCount === 'number' && node._expectedDoneCount === 0) (t.legacy ??= new Set()).add(dest);
  }

  /** The node's input handler returned: for a node without done() that is all we will hear. */
  postReceive(event: DeliverEvent): void {
    const msgid = event.msg?._msgid;
    if (msgid === undefined) return;
    const t = this.byMsgId.get(msgid);
    const id = event.destination?.id;
    if (!t || id === undefined || !t.legacy?.has(id)) return;
    t.graceful = true;
    this.answer(msgid, t, id);
  }

  onComplete(event: CompleteEvent): void {
    const msgid = event.msg?._msgid;
    if (msgid === undefined) return;
    const t = this.byMsgId.get(msgid);
    const id = event.node?.id;
    if (!t || id === undefined) return;
    const open = t.open.get(id);
    // done() of a node this message was not delivered to since tracking began (the intake's own
    // done() for its input message, a node upstream) says nothing about our deliveries.
    if (!open || t.legacy?.has(id)) return;
    this.answer(msgid, t, id);
  }

  private answer(msgid: string, t: Tracked, id: string): void {
    const open = t.open.get(id);
    if (!open) return;
    if (open === 1) t.open.delete(id);
    else t.open.set(id, open - 1);
    t.total -= 1;
    if (t.total === 0) this.scheduleCheck(msgid, t);
  }

  /** Forget the messages of one owner (its flows were stopped: they will never complete). */
  forget(owner: string): void {
    for (const [msgid, t] of this.byMsgId) if (t.owner === owner) this.byMsgId.delete(msgid);
  }

  /**
   * A node sends on before it calls done(), so in the usual case the next delivery is counted before
   * the count reaches zero. Check again after the current turn anyway: a node may call done() first
   * and send in the same turn, and a runtime with asynchronous delivery hooks counts a little later.
   */
  private scheduleCheck(msgid: string, t: Tracked): void {
    if (t.checking) return;
    t.checking = true;
    const check = () => {
      t.checking = false;
      if (this.byMsgId.get(msgid) !== t || t.total !== 0 || (t.wired && !t.delivered)) return;
      this.byMsgId.delete(msgid);
      for (const cb of t.callbacks) cb();
    };
    if (t.graceful) setTimeout(check, LEGACY_GRACE_MS).unref();
    else setImmediate(check);
  }
}

interface HooksLike {
  add(id: string, cb: (event: unknown) => void): void;
  has?(id: string): boolean;
}

const trackers = new WeakMap<object, CompletionTracker>();

/**
 * The runtime's tracker, registering the preDeliver/onComplete hooks on first use. Returns
 * undefined when the runtime has no hooks API (completion cannot be observed there).
 */
export function completionTrackerFor(hooks: HooksLike | undefined): CompletionTracker | undefined {
  if (!hooks || typeof hooks.add !== 'function') return undefined;
  let tracker = trackers.get(hooks);
  if (tracker && (!hooks.has || hooks.has('preDeliver.soar-intake'))) return tracker;
  tracker ??= new CompletionTracker();
  const t = tracker;
  // One-argument hook functions that return nothing run synchronously and never halt a message.
  hooks.add('preDeliver.soar-intake', (event: unknown) => {
    t.preDeliver(event as DeliverEvent);
  });
  hooks.add('onComplete.soar-intake', (event: unknown) => {
    t.onComplete(event as CompleteEvent);
  });
  hooks.add('postReceive.soar-intake', (event: unknown) => {
    t.postReceive(event as DeliverEvent);
  });
  trackers.set(hooks, tracker);
  return tracker;
}
