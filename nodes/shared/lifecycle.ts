/**
 * One lifecycle for SOAR nodes, the way Node-RED's core nodes use the API: acquire what the node
 * needs (the hub, a firewall) once, show a status when it is ready or failed, run each message
 * after it is ready with done(err) on errors, and undo everything on close with (removed, done).
 */
import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow, NodeStatus } from 'node-red';
import type { Hub } from '../../lib/hub/hub';
import { acquireHub } from './hub';

type Send = (msg: NodeMessage | (NodeMessage | NodeMessage[] | null)[]) => void;
export type InputHandler<R> = (msg: NodeMessageInFlow & Record<string, any>, send: Send, resource: R) => Promise<void> | void;

export interface LifecycleSpec<R> {
  /** The node type's i18n namespace, e.g. "soar-block-ip"; status keys are "<namespace>.status.<key>". */
  namespace: string;
  /** Get what the node needs; a rejection shows the failed status, is logged, and fails every message. */
  acquire: () => Promise<R>;
  /** Status once acquired (default: none). */
  ready?: (resource: R) => NodeStatus | undefined;
  /** Status key when acquire failed (default "setup-failed"); a function can tell failures apart (config vs hub). */
  failedKey?: string | ((err: Error) => string);
  /** The log line for a failed acquire (default: the error's message). */
  failedMessage?: (err: Error) => string;
  /** Status key when a message failed (default "error"). */
  errorKey?: string;
  /** false for config nodes, which have no status in the editor (default true). */
  showStatus?: boolean;
  /** Give back what acquire got, after the node's own close steps (e.g. hub.release()). */
  release?: (resource: R, removed: boolean) => Promise<void> | void;
}

export interface Lifecycle<R> {
  /** Resolves once acquired; never rejects unhandled (the failure is reported by the helper). */
  readonly ready: Promise<R>;
  /** The acquired resource, or undefined before ready / after close. */
  current(): R | undefined;
  /**
   * The input handler: waits for ready, then done() on return or status + done(err) on a throw.
   * `errorStatus` replaces the default error status (return undefined to leave the status as it is).
   */
  onInput(handler: InputHandler<R>, options?: { errorStatus?: (err: Error) => NodeStatus | undefined }): void;
  /** A close step, run before release in the order added; errors are logged as warnings. */
  onClose(step: (removed: boolean) => Promise<void> | void): void;
}

export function lifecycle<R>(node: Node, spec: LifecycleSpec<R>): Lifecycle<R> {
  const status = (key: string) => `${spec.namespace}.status.${key}`;
  const show = (s: NodeStatus) => {
    if (spec.showStatus !== false) node.status(s);
  };
  let resource: R | undefined;
  let acquired = false;
  const closeSteps: ((removed: boolean) => Promise<void> | void)[] = [];

  const ready = spec.acquire().then((r) => {
    resource = r;
    acquired = true;
    return r;
  });
  ready.then(
    (r) => {
      const shown = spec.ready?.(r);
      if (shown) show(shown);
    },
    (err: Error) => {
      const key = typeof spec.failedKey === 'function' ? spec.failedKey(err) : spec.failedKey;
      show({ fill: 'red', shape: 'ring', text: status(key ?? 'setup-failed') });
      node.error(spec.failedMessage ? spec.failedMessage(err) : err.message);
    },
  );

  node.on('close', (removed: boolean, done: () => void) => {
    void (async () => {
      for (const step of closeSteps) {
        try {
          await step(removed);
        } catch (err) {
          node.warn((err as Error).message);
        }
      }
      await ready.catch(() => undefined);
      const held = resource;
      resource = undefined;
      if (acquired && spec.release) {
        try {
          await spec.release(held as R, removed);
        } catch (err) {
          node.warn((err as Error).message);
        }
      }
      show({});
    })().finally(done);
  });

  return {
    ready,
    current: () => resource,
    onInput(handler, options) {
      node.on('input', (msg: NodeMessageInFlow & Record<string, any>, send: Send, done: (err?: Error) => void) => {
        void (async () => {
          try {
            const r = await ready;
            await handler(msg, send, r);
            done();
          } catch (err) {
            const shown = options?.errorStatus
              ? options.errorStatus(err as Error)
              : { fill: 'red' as const, shape: 'ring' as const, text: status(spec.errorKey ?? 'error') };
            if (shown) show(shown);
            done(err as Error);
          }
        })();
      });
    },
    onClose(step) {
      closeSteps.push(step);
    },
  };
}

/** lifecycle() for nodes that use a hub themselves: acquire it through their soar-hub config, release on close. */
export function hubLifecycle<R = Hub>(
  RED: NodeAPI,
  node: Node,
  spec: Omit<LifecycleSpec<R>, 'acquire' | 'release'> & {
    hub: string | undefined;
    /** Build the node's own parts once the hub is there (a throw releases the hub and fails the node). */
    setup?: (hub: Hub) => Promise<R> | R;
    /** Close the node's own parts before the hub is released. */
    teardown?: (resource: R, removed: boolean) => Promise<void> | void;
  },
): Lifecycle<R> {
  let hub: Hub | undefined;
  return lifecycle<R>(node, {
    ...spec,
    acquire: async () => {
      hub = await acquireHub(RED, spec.hub);
      if (!spec.setup) return hub as unknown as R;
      try {
        return await spec.setup(hub);
      } catch (err) {
        const h = hub;
        hub = undefined;
        await h.release().catch(() => undefined);
        throw err;
      }
    },
    release: async (resource, removed) => {
      try {
        await spec.teardown?.(resource, removed);
      } finally {
        const h = hub;
        hub = undefined;
        await h?.release();
      }
    },
  });
}
