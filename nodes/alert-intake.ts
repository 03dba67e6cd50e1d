/**
 * soar-alert-intake: the start of a playbook. Receives alerts on an HTTP endpoint of Node-RED's own
 * server (or on its input port), normalises them, deduplicates, records each durably in the audit
 * log, and sends one message per alert with msg.alert (also msg.payload).
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from "node-red";
import type { AlertFormat } from "../lib/alert";
import { AlertInputError, parseBody } from "../lib/alert";
import type { Hub } from "../lib/core/hub";
import { IntakeAuthenticator, type IntakeAuthType } from "../lib/intake/auth";
import { createIntakeHandler } from "../lib/intake/http";
import { BacklogFullError, IntakePipeline, type IngestContext, type IngestOutcome } from "../lib/intake/pipeline";
import { acquireHub, listField, mapField, positiveNumber } from "./common";

interface IntakeDef extends NodeDef {
  hub: string;
  path: string;
  authType: IntakeAuthType;
  hmacHeader: string;
  allowFrom: string;
  format: AlertFormat | "auto";
  splunkFieldMap: string;
  genericFieldMap: string;
  genericJsonata: string;
  dedupWindow: number | string;
  duplicateMode: "suppress" | "mark";
  maxBodyKb: number | string;
  maxBacklog: number | string;
  bodyTimeout: number | string;
}

interface IntakeCredentials {
  token?: string;
  hmacSecret?: string;
  basicUser?: string;
  basicPassword?: string;
}

type Handler = (req: unknown, res: unknown) => void;
interface RouteLayer {
  route?: { path: string; methods: Record<string, boolean>; stack?: { handle: Handler }[] };
}
type ExpressLike = { post(path: string, h: Handler): void; _router?: { stack: RouteLayer[] }; router?: { stack: RouteLayer[] } };

export = function (RED: NodeAPI): void {
  const t = (key: string, subs?: Record<string, string | number>) => RED._(`soar-alert-intake.${key}`, subs);

  function AlertIntakeNode(this: Node<IntakeCredentials>, config: IntakeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const creds = node.credentials ?? {};
    let hub: Hub | undefined;
    let pipeline: IntakePipeline | undefined;
    let handler: Handler | undefined;
    let routePath: string | undefined;
    let lastRejection = "";
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
      const text = t("status.counts", { received: c.received, duplicates: c.duplicates });
      node.status({ fill: "green", shape: "dot", text: lastRejection ? `${text} · ${lastRejection}` : text });
    };

    // A user's JSONata mapping for the generic format; evaluated per item before normalisation.
    const jsonata = config.format === "generic" && config.genericJsonata?.trim() ? RED.util.prepareJSONataExpression(config.genericJsonata, node) : undefined;
    const prepareMapper = jsonata
      ? async (items: unknown[]): Promise<IngestContext["genericMapper"]> => {
          const mapped = new Map<unknown, Record<string, unknown>>();
          for (const item of items) {
            const value = await new Promise<unknown>((resolve, reject) =>
              RED.util.evaluateJSONataExpression(jsonata, { payload: item } as never, (err: Error | null, v: unknown) => (err ? reject(err) : resolve(v))),
            ).catch((err: Error) => {
              throw new AlertInputError(`the generic JSONata mapping failed: ${err.message}`, 400);
            });
            if (value && typeof value === "object") mapped.set(item, value as Record<string, unknown>);
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

    let ready: Promise<void>;
    try {
      const auth = new IntakeAuthenticator({
        type: config.authType || "bearer",
        token: creds.token,
        hmacSecret: creds.hmacSecret,
        hmacHeader: config.hmacHeader,
        basicUser: creds.basicUser,
        basicPassword: creds.basicPassword,
        allowFrom: listField(config.allowFrom),
      });
      const options = {
        intakeId: node.id,
        format: config.format || "auto",
        splunkFieldMap: mapField(config.splunkFieldMap, "Splunk field map"),
        genericFieldMap: mapField(config.genericFieldMap, "generic field map"),
        dedupWindowMs: Number(config.dedupWindow ?? 300) * 1000 || 0,
        duplicateMode: config.duplicateMode === "mark" ? ("mark" as const) : ("suppress" as const),
        maxBacklog: positiveNumber(config.maxBacklog, 5000),
      };

      ready = acquireHub(RED, config.hub).then(async (h) => {
        hub = h;
        // A full disk fails every request until the writer's background probe succeeds: log the
        // change of state once each way, not once per refused request.
        stopWatchingAudit = h.audit.onStateChange((state, cause) => {
          if (state === "failing") {
            node.error(t("errors.record-failing", { message: cause?.message ?? "" }));
            node.status({ fill: "red", shape: "ring", text: "soar-alert-intake.status.hub-failed" });
          } else {
            node.log(t("errors.record-recovered"));
            renderCounts();
          }
        });
        const p = new IntakePipeline(h.audit, h.store, options);
        p.onStoreError = (err) => node.warn(t("errors.dedup", { message: err.message }));
        await p.start();
        pipeline = p;
        showCounts();
      });
      ready.catch((err: Error) => {
        node.error(t("errors.hub", { message: err.message }));
        node.status({ fill: "red", shape: "ring", text: "soar-alert-intake.status.hub-failed" });
      });

      if (config.path?.trim()) {
        routePath = config.path.trim().startsWith("/") ? config.path.trim() : `/${config.path.trim()}`;
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
                  lastRejection = "";
                  const msgs = messagesFor(outcome, ctx);
                  if (msgs.length) node.send([msgs]);
                  showCounts();
                },
                onRejected: (status) => {
                  lastRejection = t("status.rejected", { status });
                  showCounts();
                },
                onFailure: (err) => {
                  if (hub?.audit.state !== "failing") node.error(t("errors.record", { message: err.message }));
                },
              });
              return httpHandler(req as never, res as never);
            },
            () => {
              const r = res as { statusCode: number; setHeader(k: string, v: string): void; end(s: string): void };
              r.statusCode = 503;
              r.setHeader("content-type", "application/json");
              r.end(JSON.stringify({ error: "the intake's audit log or state store could not be opened; see the Node-RED log" }));
            },
          );
        };
        (RED.httpNode as unknown as ExpressLike).post(routePath, handler);
      }
    } catch (err) {
      // Configuration errors (missing token, bad allowlist, bad field map): say so, accept nothing.
      node.error(t("errors.config", { message: (err as Error).message }));
      node.status({ fill: "red", shape: "ring", text: "soar-alert-intake.status.config-error" });
      ready = Promise.reject(err);
      ready.catch(() => undefined);
    }

    node.on("input", (msg: NodeMessageInFlow, send, done) => {
      void (async () => {
        try {
          await ready;
          const p = msg.payload as unknown;
          const body = Buffer.isBuffer(p) ? p : Buffer.from(typeof p === "string" ? p : JSON.stringify(p ?? null), "utf8");
          const items = parseBody(body, Buffer.isBuffer(p) || typeof p === "string" ? undefined : "application/json");
          const ctx: IngestContext = { via: "input", replay: (msg as { replay?: unknown }).replay === true };
          if (prepareMapper) ctx.genericMapper = await prepareMapper(items);
          const outcome = await pipeline!.ingest(items, ctx);
          const msgs = messagesFor(outcome, ctx, msg);
          if (msgs.length) send([msgs]);
          showCounts();
          done();
        } catch (err) {
          if (err instanceof AlertInputError || err instanceof BacklogFullError) {
            lastRejection = t("status.rejected", { status: err.status });
            showCounts();
          }
          done(err as Error);
        }
      })();
    });

    node.on("close", (removed: boolean, done: () => void) => {
      if (routePath && handler) {
        const app = RED.httpNode as unknown as ExpressLike;
        const stack = (app._router ?? app.router)?.stack ?? [];
        for (let i = stack.length - 1; i >= 0; i--) {
          const route = stack[i].route;
          if (route && route.path === routePath && route.methods.post && route.stack?.some((l) => l.handle === handler)) stack.splice(i, 1);
        }
      }
      clearTimeout(statusTimer);
      stopWatchingAudit?.();
      node.status({});
      ready
        .catch(() => undefined)
        .then(() => {
          const h = hub;
          hub = undefined;
          return h?.release();
        })
        .catch((err: Error) => node.warn(err.message))
        .finally(done);
    });
  }

  RED.nodes.registerType<Node<IntakeCredentials>, IntakeDef, Record<string, never>, IntakeCredentials>("soar-alert-intake", AlertIntakeNode, {
    credentials: {
      token: { type: "password" },
      hmacSecret: { type: "password" },
      basicUser: { type: "text" },
      basicPassword: { type: "password" },
    },
  });
};
