/**
 * The EDR family: one small interface every isolate-host provider implements. Node-RED-free.
 *
 * Made for an isolation lease engine (lease kind "isolate") and for following an asynchronous vendor
 * action to its end across restarts:
 * - resolve() turns what the alert names (host name, IP address, or the EDR's own device/agent id)
 *   into exactly one device; none is a NOT_FOUND "unknown host", two or more a CONFLICT "ambiguous
 *   host" naming the candidates. Nothing is ever done to an ambiguous name.
 * - isolate()/release() start the vendor action and return at once: either the device already is in
 *   the wanted state (already-isolated / not-isolated, not errors), or an action is under way (a new
 *   one, or one that was already pending) and the result carries a PendingAction handle, or the
 *   vendor took the command and has nothing to follow (Wazuh: "sent").
 * - A PendingAction is plain JSON: store it, read it back after a restart, give it to
 *   followUntilDone() (./follow.ts) with a new provider instance.
 * - status() reads the device's isolation state from the vendor. A provider whose vendor has no such
 *   call (capabilities.status false: Wazuh) answers "unknown": the isolation lease is then the only
 *   record of whether the host is isolated, and the caller decides already-isolated from it.
 */

export type EdrOp = 'isolate' | 'release';

/** Isolation state of a device. pending-* while the vendor is still applying an action. */
export type EdrState = 'isolated' | 'pending-isolate' | 'normal' | 'pending-release' | 'unknown';

export interface EdrDevice {
  /** The vendor's own id (CrowdStrike aid, Defender machine id, SentinelOne agent id, Wazuh agent id). */
  id: string;
  /** Host name as the vendor knows it. */
  name?: string;
  /** Addresses the vendor reports for it. */
  addresses?: string[];
}

export interface EdrStatus {
  deviceId: string;
  state: EdrState;
  /** The vendor's own word for it ("containment_pending", "disconnecting", "Pending"...), when it has one. */
  raw?: string;
}

/**
 * A vendor action being followed. Serialisable as JSON; everything followUntilDone() needs after a
 * restart. `provider` is the provider instance name (the config node id), `kind` the vendor kind.
 */
export interface PendingAction {
  v: 1;
  kind: string;
  provider: string;
  op: EdrOp;
  deviceId: string;
  deviceName?: string;
  /** The vendor's action id when it has one (Defender MachineAction id); else the device status is polled. */
  actionId?: string;
  /** ISO time the action was requested (or found pending); followUntilDone's timeout counts from it. */
  requestedAt: string;
}

/**
 * - requested: a new vendor action was started; follow `handle`.
 * - in-progress: the same action was already pending (a repeat, or someone else's); follow `handle`.
 * - sent: the vendor took the command and offers nothing to follow (Wazuh active response).
 * - done: finished within the call.
 * - already-isolated / not-isolated: nothing to do, the device already is in the wanted state.
 */
export type EdrOutcome = 'requested' | 'in-progress' | 'sent' | 'done' | 'already-isolated' | 'not-isolated';

export interface EdrActionResult {
  outcome: EdrOutcome;
  device: EdrDevice;
  status: EdrStatus;
  handle?: PendingAction;
}

/** One look at a pending action: still running, finished as wanted, or failed (with the vendor's reason). */
export interface EdrProgress {
  phase: 'pending' | 'succeeded' | 'failed';
  status: EdrStatus;
  /** Why it failed (vendor status and text), already redacted. */
  reason?: string;
}

export interface EdrActionOptions {
  /** Shown in the vendor console where it takes one (Defender Comment, Wazuh alert). */
  comment?: string;
  signal?: AbortSignal;
}

export interface EdrCapabilities {
  /** The vendor can tell whether a device is isolated. False: status() says "unknown". */
  status: boolean;
  /** What resolve() accepts. */
  resolveBy: readonly ('name' | 'ip' | 'id')[];
  /**
   * How long an isolate request waits for its pending action to end before it answers "pending" and
   * the end comes later as "finished". For providers whose pending step is short and bounded
   * (ssh-nftables: the confirming SSH session); absent or 0 for vendors that take minutes.
   */
  settleMs?: number;
}

export interface EdrProvider {
  readonly kind: string;
  /** Instance name (config node id): the key isolate leases refer to. */
  readonly name: string;
  readonly capabilities: EdrCapabilities;
  resolve(target: string, signal?: AbortSignal): Promise<EdrDevice>;
  isolate(device: EdrDevice, options?: EdrActionOptions): Promise<EdrActionResult>;
  release(device: EdrDevice, options?: EdrActionOptions): Promise<EdrActionResult>;
  status(deviceId: string, signal?: AbortSignal): Promise<EdrStatus>;
  /** One poll of a pending action (used by followUntilDone). */
  progress(handle: PendingAction, signal?: AbortSignal): Promise<EdrProgress>;
  close(): Promise<void>;
}

/** The state an operation ends in. */
export function finalStateOf(op: EdrOp): EdrState {
  return op === 'isolate' ? 'isolated' : 'normal';
}

/** The state an operation passes through. */
export function pendingStateOf(op: EdrOp): EdrState {
  return op === 'isolate' ? 'pending-isolate' : 'pending-release';
}
