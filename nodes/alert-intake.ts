/**
 * soar-alert-intake: the start of a playbook. Receives alerts on an HTTP endpoint of Node-RED's own
 * server (or on its input port), normalises them, deduplicates, records each durably in the audit
 * log, and sends one message per alert with msg.alert (also msg.payload).
 *
 * Each alert sent on keeps an in-flight record in the hub's store until Node-RED reports its flow
 * complete (lib/intake/completion.ts); at start the alerts still in flight are sent again with
 * msg.redelivered = true.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import type { AlertFormat } from '../lib/alert';
import { AlertInputError, parseBody } from '../lib/alert';
import type { Hub } from '../lib/hub/hub';
import { escapeControl } from '../lib/core/text';
import { IntakeAuthenticator, type IntakeAuthType } from '../lib/intake/auth';
import { completionTrackerFor, type CompletionTracker } from '../lib/intake/completion';
import { createIntakeHandler, createMethodNotAllowedHandler } from '../lib/intake/http';
import { PathRegistry, pathKey, routePathOf } from '../lib/intake/paths';
import { BacklogFullError, IntakePipeline, type IngestContext, type IngestOutcome, type Redelivery } from '../lib/intake/pipeline';
import { RejectionRecorder } from '../lib/intake/rejections';
import { acquireHub, listField, mapField, positiveNumber } from './common';

interface IntakeDef extends NodeDef {
  hub: string;
  path: string;
  authType: IntakeAuthType;
  hmacHeader: string;
  allowFrom: string;
  format: AlertFormat | 'auto';
  splunkFieldMap: string;
  genericFieldMap: string;
  genericJsonata: string;
  dedupWindow: number | string;
  duplicateMode: 'suppress' | 'mark';
  maxBodyKb: number | string;
  maxBacklog: number | string;
  bodyTimeout: number | string;
  wires?: string[][];
}

interface IntakeCredentials {
  token?: string;
  hmacSecret?: string;
  basicUser?: string;
  basicPassword?: string;
}

type Handler = (req: unknown, res: unknown, next?: () => void) => void;
interface RouteLayer {
  route?: { path: string; methods: Record<string, boolean>; stack?: { handle: Handler }[] };
}
type ExpressLike = {
  post(path: string, h: Handler): void;
  all(path: string, h: Handler): void;
  _router?: { stack: RouteLayer[] };
  router?: { stack: RouteLayer[] };
};

/** Intake paths per HTTP app (one per runtime; the test helper makes a new one per load). */
const pathRegistries = new WeakMap<object, PathRegistry>();
/** In-flight keys this process tracks, per hub folder and intake: a redeploy must not send them again. */
const liveKeys = new WeakMap<CompletionTracker, Map<string, Set<string>>>();

function routeStack(app: ExpressLike): RouteLayer[] {
  return (app._router ?? app.router)?.stack ?? [];
}

export = function (RED: NodeAPI): void {
  const t = (key: string, subs?: Record<string, string | number>) => RED._(`soar-alert-intake.${key}`, subs);

  function AlertIntakeNode(this: Node<IntakeCredentials>, config: IntakeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const creds = node.credentials ?? {};
    let hub: Hub | undefined;
    let pipeline: IntakePipeline | undefined;
    let handler: Handler | undefined;
    let notAllowed: Handler | undefined;
    let routePath: string | undefined;
    let ownsPath = false;
    let lastRejection = '';
    let rejections: RejectionRecorder | undefined;
    const app = RED.httpNode as unknown as ExpressLike;
    let paths = pathRegistries.get(app);
    if (!paths) {
      paths = new PathRegistry();
      pathRegistries.set(app, paths);
    }
    // Completion is observed through the runtime's hooks; without them nothing is tracked.
    const tracker = completionTrackerFor((RED as unknown as { hooks?: Parameters<typeof completionTrackerFor>[0] }).hooks);
    const wired = (config.wires?.[0]?.length ?? 0) > 0;
    let owner = '';
    const live = () => {
      if (!tracker) return undefined;
      let byOwner = liveKeys.get(tracker);
      if (!byOwner) liveKeys.set(tracker, (byOwner = new Map()));
      let keys = byOwner.get(owner);
      if (!keys) byOwner.set(owner, (keys = new Set()));
      return keys;
    };
    const record = (status: number, reason: string, remote: string | undefined, method?: string) => {
      lastRejection = t('status.rejected', { status });
      rejections?.record({ status, reason, remote, method });
      showCounts();
    };
    let stopWatchingAudit: (() => void) | undefined;

    // Status goes to every open editor; under load update it a few times a second, not per batch.
    let statusTimer: NodeJS.Timeout | undefined;
    let lastStatusAt = 0;
    const showCounts = () => {
      if (statusTimer) return;
      const wait = Math.max(0, lastStatusAt + 250 - Date.now());
      if (wait === 0) return renderCounts();
      statusTimer = setTimeout(() => {
        statusTimer = undefined;
        renderCounts();
      }, wait);
    };
    const renderCounts = () => {
      lastStatusAt = Date.now();
      if (!pipeline) return;
      const c = pipeline.counters;
      const text = t('status.counts', { received: c.received, duplicates: c.duplicates });
      node.status({ fill: 'green', shape: 'dot', text: lastRejection ? `${text} · ${lastRejection}` : text });
    };

    // A user's JSONata mapping for the generic format; evaluated per item before normalisation.
    const jsonata = config.format === 'generic' && config.genericJsonata?.trim() ? RED.util.prepareJSONataExpression(config.genericJsonata, node) : undefined;
    const prepareMapper = jsonata
      ? async (items: unknown[]): Promise<IngestContext['genericMapper']> => {
          const mapped = new Map<unknown, Record<string, unknown>>();
          for (const item of items) {
            const value = await new Promise<unknown>((resolve, reject) =>
              RED.util.evaluateJSONataExpression(jsonata, { payload: item } as never, (err: Error | null, v: unknown) => (err ? reject(err) : resolve(v))),
            ).catch((err: Error) => {
              throw new AlertInputError(`the generic JSONata mapping failed: ${err.message}`, 400);
            });
            if (value && typeof value === 'object') mapped.set(item, value as Record<string, unknown>);
          }
          return (item: unknown) => mapped.get(item);
        }
      : undefined;

    const messagesFor = (outcome: IngestOutcome, ctx: IngestContext, base?: NodeMessageInFlow): NodeMessage[] =>
      outcome.toSend.map(({ alert, duplicate }, i) => {
        const msg = (base && i === outcome.toSend.length - 1 ? base : base ? RED.util.cloneMessage(base) : {}) as NodeMessage & Record<string, unknown>;
        msg.payload = alert;
        msg.alert = alert;
        msg.topic = alert.title;
        msg.soar = { intake: node.id, via: ctx.via, duplicate, ...(ctx.replay ? { replay: true } : {}) };
        return msg;
      });

    /** Send, tracking each message's completion so its in-flight record is dropped when its flow is done. */
    const sendTracked = (msgs: NodeMessage[], keys: (string | undefined)[], send: (out: NodeMessage[][]) => void) => {
      const ids: string[] = [];
      const p = pipeline;
      const keySet = live();
      if (tracker && p && keySet) {
        msgs.forEach((msg, i) => {
          const key = keys[i];
          if (!key) return;
          const m = msg as NodeMessage & { _msgid?: string };
          m._msgid ??= RED.util.generateId();
          keySet.add(key);
          tracker.track(m._msgid, owner, wired, () => {
            keySet.delete(key);
            p.complete(key);
          });
          ids.push(m._msgid);
        });
      }
      send([msgs]);
      for (const id of ids) tracker!.sent(id);
    };

    const redeliver = async (full: boolean) => {
      const p = pipeline;
      if (!p || !tracker) return;
      const keySet = live()!;
      if (full) {
        // Every node was stopped: what this process still tracked will never complete.
        tracker.forget(owner);
        keySet.clear();
      }
      const again: Redelivery[] = await p.redeliveries((key) => keySet.has(key));
      if (again.length === 0) return;
      node.log(t('log.redelivering', { count: again.length }));
      const msgs = again.map((r) => {
        const msg = { _msgid: RED.util.generateId(), payload: r.alert, alert: r.alert, topic: r.alert.title, redelivered: true } as NodeMessage &
          Record<string, unknown>;
        msg.soar = { intake: node.id, via: r.via, duplicate: r.duplicate, redelivered: true, attempt: r.attempt, ...(r.replay ? { replay: true } : {}) };
        return msg;
      });
      sendTracked(
        msgs,
        again.map((r) => r.key),
        (out) => node.send(out),
      );
    };
    const onFlowsStarted = (event: { type?: string }) => {
      void ready
        .then(() => redeliver(event?.type === 'full'))
        .catch((err: Error) => node.error(t('errors.redeliver', { message: escapeControl(err.message) })));
    };

    let ready: Promise<void>;
    try {
      const auth = new IntakeAuthenticator({
        type: config.authType || 'bearer',
        token: creds.token,
        hmacSecret: creds.hmacSecret,
        hmacHeader: config.hmacHeader,
        basicUser: creds.basicUser,
        basicPassword: creds.basicPassword,
        allowFrom: listField(config.allowFrom),
      });
      const options = {
        intakeId: node.id,
        format: config.format || 'auto',
        splunkFieldMap: mapField(config.splunkFieldMap, 'Splunk field map'),
        genericFieldMap: mapField(config.genericFieldMap, 'generic field map'),
        dedupWindowMs: Number(config.dedupWindow ?? 300) * 1000 || 0,
        duplicateMode: config.duplicateMode === 'mark' ? ('mark' as const) : ('suppress' as const),
        maxBacklog: positiveNumber(config.maxBacklog, 5000),
      };

      ready = acquireHub(RED, config.hub).then(async (h) => {
        hub = h;
        // A full disk fails every request until the writer's background probe succeeds: log the
        // change of state once each way, not once per refused request.
        stopWatchingAudit = h.audit.onStateChange((state, cause) => {
          if (state === 'failing') {
            node.error(t('errors.record-failing', { message: escapeControl(cause?.message ?? '') }));
            node.status({ fill: 'red', shape: 'ring', text: 'soar-alert-intake.status.hub-failed' });
          } else {
            node.log(t('errors.record-recovered'));
            renderCounts();
          }
        });
        owner = `${h.dir}|${node.id}`;
        const p = new IntakePipeline(h.audit, h.store, { ...options, trackInflight: Boolean(tracker) });
        p.onStoreError = (err) => node.warn(t('errors.inflight', { message: escapeControl(err.message) }));
        await p.start();
        rejections = new RejectionRecorder(h.audit, {
          intakeId: node.id,
          onError: (err) => node.warn(t('errors.rejected', { message: escapeControl(err.message) })),
        });
        pipeline = p;
        showCounts();
      });
      ready.catch((err: Error) => {
        node.error(t('errors.hub', { message: escapeControl(err.message) }));
        node.status({ fill: 'red', shape: 'ring', text: 'soar-alert-intake.status.hub-failed' });
      });

      routePath = routePathOf(config.path);
      const other = routePath ? paths.claim(routePath, { id: node.id, name: config.name }) : undefined;
      if (routePath && other) {
        // Express would hand every request to the first route: this one would never see an alert.
        const otherName = other.name ? `"${escapeControl(other.name)}" (${other.id})` : other.id;
        node.error(t('errors.duplicate-path', { path: escapeControl(routePath), other: otherName }));
        node.status({ fill: 'red', shape: 'ring', text: 'soar-alert-intake.status.duplicate-path' });
        routePath = undefined;
      } else if (routePath) {
        ownsPath = true;
        let httpHandler: ReturnType<typeof createIntakeHandler> | undefined;
        handler = (req, res) => {
          void ready.then(
            () => {
              httpHandler ??= createIntakeHandler({
                auth,
                pipeline: pipeline!,
                limitBytes: positiveNumber(config.maxBodyKb, 1024) * 1024,
                bodyTimeoutMs: positiveNumber(config.bodyTimeout, 10) * 1000,
                prepareMapper,
                onAccepted: (outcome, ctx) => {
                  lastRejection = '';
                  const msgs = messagesFor(outcome, ctx);
                  if (msgs.length)
                    sendTracked(
                      msgs,
                      outcome.toSend.map((a) => a.inflightKey),
                      (out) => node.send(out),
                    );
                  showCounts();
                },
                onRejected: (status, reason, remote) => record(status, reason, remote),
                onFailure: (err) => {
                  if (hub?.audit.state !== 'failing') node.error(t('errors.record', { message: escapeControl(err.message) }));
                },
              });
              return httpHandler(req as never, res as never);
            },
            () => {
              const r = res as { statusCode: number; setHeader(k: string, v: string): void; end(s: string): void };
              r.statusCode = 503;
              r.setHeader('content-type', 'application/json');
              r.end(JSON.stringify({ error: "the intake's audit log or state store could not be opened; see the Node-RED log" }));
            },
          );
        };
        const ours = routePath;
        notAllowed = createMethodNotAllowedHandler({
          hasOtherRoute: (method) =>
            routeStack(app).some((layer) => {
              const route = layer.route;
              if (!route || pathKey(route.path) !== pathKey(ours) || route.stack?.some((l) => l.handle === notAllowed || l.handle === handler)) return false;
              const m = method.toLowerCase();
              return Boolean(route.methods[m] || route.methods._all || (m === 'head' && route.methods.get));
            }),
          onRejected: (status, reason, remote, method) => record(status, reason, remote, method),
        }) as Handler;
        app.post(routePath, handler);
        app.all(routePath, notAllowed);
      }
      RED.events.on('flows:started', onFlowsStarted);
    } catch (err) {
      // Configuration errors (missing token, bad allowlist, bad field map): say so, accept nothing.
      node.error(t('errors.config', { message: (err as Error).message }));
      node.status({ fill: 'red', shape: 'ring', text: 'soar-alert-intake.status.config-error' });
      ready = Promise.reject(err);
      ready.catch(() => undefined);
    }

    node.on('input', (msg: NodeMessageInFlow, send, done) => {
      void (async () => {
        try {
          await ready;
          const p = msg.payload as unknown;
          const body = Buffer.isBuffer(p) ? p : Buffer.from(typeof p === 'string' ? p : JSON.stringify(p ?? null), 'utf8');
          const items = parseBody(body, Buffer.isBuffer(p) || typeof p === 'string' ? undefined : 'application/json');
          const ctx: IngestContext = { via: 'input', replay: (msg as { replay?: unknown }).replay === true };
          if (prepareMapper) ctx.genericMapper = await prepareMapper(items);
          const outcome = await pipeline!.ingest(items, ctx);
          const msgs = messagesFor(outcome, ctx, msg);
          if (msgs.length)
            sendTracked(
              msgs,
              outcome.toSend.map((a) => a.inflightKey),
              send as (out: NodeMessage[][]) => void,
            );
          showCounts();
          done();
        } catch (err) {
          if (err instanceof AlertInputError || err instanceof BacklogFullError) {
            lastRejection = t('status.rejected', { status: err.status });
            showCounts();
          }
          // The reason may quote alert text: Node-RED logs it, so no control characters may pass.
          if (err instanceof Error) err.message = escapeControl(err.message);
          done(err as Error);
        }
      })();
    });

    node.on('close', (removed: boolean, done: () => void) => {
      RED.events.removeListener('flows:started', onFlowsStarted);
      if (routePath && handler) {
        const stack = routeStack(app);
        for (let i = stack.length - 1; i >= 0; i--) {
          const route = stack[i].route;
          if (route && route.path === routePath && route.stack?.some((l) => l.handle === handler || l.handle === notAllowed)) stack.splice(i, 1);
        }
      }
      if (routePath && ownsPath) paths.release(routePath, node.id);
      clearTimeout(statusTimer);
      stopWatchingAudit?.();
      node.status({});
      ready
        .catch(() => undefined)
        .then(() => rejections?.flush())
        .then(() => {
          const h = hub;
          hub = undefined;
          return h?.release();
        })
        .catch((err: Error) => node.warn(err.message))
        .finally(done);
    });
  }

  RED.nodes.registerType<Node<IntakeCredentials>, IntakeDef, Record<string, never>, IntakeCredentials>('soar-alert-intake', AlertIntakeNode, {
    credentials: {
      token: { type: 'password' },
      hmacSecret: { type: 'password' },
      basicUser: { type: 'text' },
      basicPassword: { type: 'password' },
    },
  });
};
