/**
 * soar-ticketing: one ticket tracker (the hub's local case store, Redmine, TheHive, Jira, GitHub,
 * GitLab, ServiceNow) with its credentials, and the outbox in front of it: the incident ledger and
 * the queue of requests the tracker could not take yet, kept in the hub's store so they survive
 * redeploys and restarts. What each kind needs comes from its descriptor (lib/ticket/kinds/), which
 * the editor gets as RED.settings.soarTicketingKinds.
 */
import type { NodeAPI, NodeDef } from 'node-red';
import type { Hub } from '../lib/hub/hub';
import { editorView, isCredential } from '../lib/providers/descriptor';
import { cleanBaseUrl } from '../lib/ticket/common';
import { classifyTicketError } from '../lib/ticket/errors';
import { TicketOutbox, type OutboxEvent } from '../lib/ticket/outbox';
import { createTicketProvider, ticketDescriptor, ticketDescriptors } from '../lib/ticket/registry';
import { LocalCaseStore, type LocalCase } from '../lib/ticket/local';
import { hubLifecycle, translator } from './common';
import type { TicketingConfigNode, TicketingParts } from './shared/ticketing';

interface TicketingDef extends NodeDef {
  hub: string;
  kind: string;
  /** The kind's own fields, flat (url, project, owner, ...): see lib/ticket/kinds/. */
  [field: string]: unknown;
}

/** The local case stores of the deployed ticketing nodes, for the sidebar and the read-only case page. */
const localStores = new Map<string, { store: LocalCaseStore; label: string; hub: string }>();
/** The HTTP apps the case routes are on (one per Node-RED process; test harnesses make new ones per flow load). */
let routeApps: [unknown, unknown] | undefined;

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** The read-only case page: plain HTML, everything escaped, no scripts and no outside assets. */
function casePage(c: LocalCase, tracker: string): string {
  const rows = c.timeline
    .map((e) => `<li><time>${esc(e.time)}</time> <b>${esc(e.type)}</b>${e.by ? ` by ${esc(e.by)}` : ''}${e.text ? `<pre>${esc(e.text)}</pre>` : ''}</li>`)
    .join('\n');
  const iocs = c.observables.map((o) => `<li>${esc(o.type)} <code>${esc(o.value)}</code></li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Case #${esc(c.number)}: ${esc(c.title)}</title>
<style>body{font-family:sans-serif;max-width:60em;margin:1em auto;padding:0 1em}pre{white-space:pre-wrap;background:#f4f4f4;padding:.5em}li{margin:.4em 0}.closed{color:#a00}.open{color:#070}</style>
</head><body>
<h1>Case #${esc(c.number)}: ${esc(c.title)}</h1>
<p class="${c.state === 'open' ? 'open' : 'closed'}">${esc(c.state)}${c.closedBy ? ` by ${esc(c.closedBy)} at ${esc(c.closedAt)}` : ''} · priority ${esc(c.priority)} · tracker ${esc(tracker)}</p>
<p>Incident <code>${esc(c.incidentKey)}</code> · opened ${esc(c.createdAt)} · updated ${esc(c.updatedAt)}${c.linkTo ? ` · follows ${esc(c.linkTo.key)}` : ''}</p>
<pre>${esc(c.body)}</pre>
${iocs ? `<h2>Indicators</h2><ul>${iocs}</ul>` : ''}
<h2>Timeline</h2>
<ul>${rows}</ul>
</body></html>
`;
}

/** Every credential any kind declares (Node-RED needs one list per node type). */
function ticketingCredentials(): Record<string, { type: 'password' }> {
  const out: Record<string, { type: 'password' }> = {};
  for (const d of ticketDescriptors()) for (const f of d.fields) if (isCredential(f)) out[f.name] = { type: 'password' };
  return out;
}

/** Test-only outbox options (fast backoff), set through the environment so flows stay what users save. */
function testBackoff(): Record<string, unknown> {
  const base = Number(process.env.SOAR_TICKET_BACKOFF_MS);
  return Number.isFinite(base) && base > 0 ? { backoff: { baseMs: base, maxMs: base * 4 } } : {};
}

export = function (RED: NodeAPI): void {
  const t = translator(RED, 'soar-ticketing');

  type Req = { body?: Record<string, unknown>; params: Record<string, string>; query: Record<string, unknown>; user?: { username?: string } };
  type Res = { json(v: unknown): void; status(code: number): Res; setHeader(name: string, value: string): void; end(body?: string): void; statusCode: number };
  type App = { get(p: string, ...h: unknown[]): void; post(p: string, ...h: unknown[]): void };

  /** The SOAR sidebar's case list and close button (editor admin API), and the read-only case page (HTTP nodes' server). */
  function ensureRoutes(): void {
    if (routeApps && routeApps[0] === RED.httpAdmin && routeApps[1] === RED.httpNode) return;
    routeApps = [RED.httpAdmin, RED.httpNode];
    const admin = RED.httpAdmin as unknown as App;
    admin.get('/soar/cases', RED.auth.needsPermission('soar-hub.read'), (_req: Req, res: Res) => {
      void (async () => {
        const out = [];
        for (const [tracker, entry] of localStores) {
          for (const summary of await entry.store.list({ limit: 200 })) {
            const full = await entry.store.get(summary.id);
            out.push({
              ...summary,
              tracker,
              trackerLabel: entry.label,
              hub: entry.hub,
              ...(full?.linkTo ? { linkTo: { key: full.linkTo.key } } : {}),
              timeline: full?.timeline.slice(-20) ?? [],
            });
          }
        }
        res.json({ cases: out });
      })().catch((err: Error) => res.status(500).json({ error: err.message }));
    });
    admin.post('/soar/cases/close', RED.auth.needsPermission('soar-hub.write'), (req: Req, res: Res) => {
      void (async () => {
        const tracker = typeof req.body?.tracker === 'string' ? req.body.tracker : '';
        const id = typeof req.body?.id === 'string' || typeof req.body?.id === 'number' ? String(req.body.id) : '';
        const entry = localStores.get(tracker);
        if (!entry || !id) {
          res.status(entry ? 400 : 404).json({ error: entry ? 'the case id is needed' : 'no deployed local case store with that id' });
          return;
        }
        if (!(await entry.store.get(id))) {
          res.status(404).json({ error: `no case ${id.slice(0, 40)}` });
          return;
        }
        const by = req.user?.username ? `editor:${req.user.username}` : 'editor';
        const note = typeof req.body?.note === 'string' ? req.body.note.slice(0, 2_000) : undefined;
        const closed = await entry.store.closeCase(id, by, note).catch((err: Error & { status?: number }) => {
          res.status(err.status === 409 ? 409 : 500).json({ error: err.message });
          return undefined;
        });
        if (closed) res.json({ id: closed.id, state: closed.state, closedBy: closed.closedBy, closedAt: closed.closedAt });
      })().catch((err: Error) => res.status(500).json({ error: err.message }));
    });
    const httpNode = RED.httpNode as unknown as App;
    const serve = (res: Res, status: number, type: string, body: string) => {
      res.statusCode = status;
      res.setHeader('content-type', `${type}; charset=utf-8`);
      if (type === 'text/html') res.setHeader('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'");
      res.end(body);
    };
    const failed = (res: Res) => () => {
      res.statusCode = 500;
      res.end();
    };
    // The case URL names its store (case numbers start at 1 in every local store).
    httpNode.get('/soar/cases/:tracker/:id', (req: Req, res: Res) => {
      void (async () => {
        const entry = localStores.get(String(req.params.tracker));
        const found = entry ? await entry.store.get(String(req.params.id)) : undefined;
        if (entry && found) serve(res, 200, 'text/html', casePage(found, entry.label));
        else serve(res, 404, 'text/plain', 'no such case\n');
      })().catch(failed(res));
    });
    // Links without the store (older tickets, `?tracker=` from older sidebars): served only when one store matches.
    httpNode.get('/soar/cases/:id', (req: Req, res: Res) => {
      void (async () => {
        const id = String(req.params.id);
        const wanted = typeof req.query.tracker === 'string' ? req.query.tracker : undefined;
        const hits: Array<{ tracker: string; entry: { store: LocalCaseStore; label: string }; found: LocalCase }> = [];
        for (const [tracker, entry] of localStores) {
          if (wanted && wanted !== tracker) continue;
          const found = await entry.store.get(id);
          if (found) hits.push({ tracker, entry, found });
        }
        if (hits.length === 1) return serve(res, 200, 'text/html', casePage(hits[0].found, hits[0].entry.label));
        if (!hits.length) return serve(res, 404, 'text/plain', 'no such case\n');
        const urls = hits.map((h) => `${h.entry.label}: /soar/cases/${encodeURIComponent(h.tracker)}/${encodeURIComponent(id)}`);
        serve(res, 409, 'text/plain', `case ${id.slice(0, 40)} is in more than one local case store; open it by its store:\n${urls.join('\n')}\n`);
      })().catch(failed(res));
    });
  }

  ensureRoutes();

  function TicketingNode(this: TicketingConfigNode, config: TicketingDef): void {
    RED.nodes.createNode(this, config);
    ensureRoutes();
    const node = this;
    const kind = ticketDescriptor(config.kind) ? config.kind : 'local';
    node.kind = kind;
    node.label = config.name?.trim() || kind;
    const hubUrl = typeof config.hubUrl === 'string' ? config.hubUrl.trim() : '';
    const listeners = new Set<(event: OutboxEvent, to: string[]) => void>();
    const outboxes = new Map<string, TicketOutbox>();
    // The tracker's ledger name is this node's id: stable across renames and redeploys.
    const tracker = node.id;
    const waitNs = `ticket:waiting:${tracker}`;
    let store: Hub['store'] | undefined;
    let audit: Hub['audit'] | undefined;

    const onEvent = (event: OutboxEvent) => {
      void (async () => {
        // One audit record per call to the tracker (created / comment posted / queued / failed).
        const fields: Record<string, unknown> = { tracker: node.label, kind, incident: event.incident, attempts: event.attempts, deferred: event.deferred };
        if (event.ref) Object.assign(fields, { id: event.ref.id, key: event.ref.key, url: event.ref.url });
        if (event.linked) fields.linked = event.linked.key;
        if (event.sightings !== undefined) fields.sightings = event.sightings;
        if (event.failure) Object.assign(fields, { code: event.failure.code, error: event.failure.message });
        if (event.nextAttemptAt !== undefined) fields.nextAttemptAt = new Date(event.nextAttemptAt).toISOString();
        await audit?.append(`ticket.${event.type}`, fields).catch((err: Error) => node.warn(err.message));
        let to: string[] = [];
        if (event.deferred && event.type !== 'queued' && store) {
          to = (await store.get<string[]>(waitNs, event.incident).catch(() => undefined)) ?? [];
          await store.delete(waitNs, event.incident).catch(() => undefined);
        }
        for (const listener of listeners) listener(event, to);
      })();
    };

    const lc = hubLifecycle<TicketingParts>(RED, node, {
      namespace: 'soar-ticketing',
      hub: config.hub,
      showStatus: false,
      setup: async (hub) => {
        // The link back in ticket bodies: refused at deploy when it is not an address a responder can open.
        if (hubUrl) node.hubUrl = cleanBaseUrl('the hub address', hubUrl);
        // Local cases are kept under this node's id, so renaming the node keeps them.
        const provider = createTicketProvider(kind, config, (node.credentials ?? {}) as Record<string, unknown>, {
          name: kind === 'local' ? node.id : node.label,
          store: hub.store,
        });
        if (provider instanceof LocalCaseStore) localStores.set(node.id, { store: provider, label: node.label, hub: hub.dir });
        store = hub.store;
        audit = hub.audit;
        const parts: TicketingParts = {
          hub,
          provider,
          outbox: (settings) => {
            const id = `${settings.coalesceMs}:${settings.closedPolicy}`;
            let outbox = outboxes.get(id);
            if (!outbox) {
              outbox = new TicketOutbox({
                store: hub.store,
                provider,
                classify: classifyTicketError,
                tracker,
                ...settings,
                ...testBackoff(),
                ...(node.outboxOptions ?? {}),
              });
              outbox.on('delivery', onEvent);
              outbox.on('error', (err: Error) => node.warn(t('errors.outbox', { message: err.message })));
              outboxes.set(id, outbox);
              // Deliver what an earlier run left queued (after a redeploy or a restart).
              outbox.start().catch((err: Error) => node.warn(t('errors.outbox', { message: err.message })));
            }
            return outbox;
          },
        };
        // Drain the queue left by an earlier run even before an open-ticket node submits again.
        parts.outbox({ coalesceMs: 5 * 60_000, closedPolicy: 'link' });
        return parts;
      },
      failedMessage: (err) => t('errors.setup', { message: err.message }),
      teardown: ({ provider }) => {
        for (const outbox of outboxes.values()) {
          outbox.stop();
          outbox.removeAllListeners('delivery');
        }
        outboxes.clear();
        provider.close();
      },
    });
    node.ready = lc.ready;
    node.waitFor = async (nodeId, incident) => {
      if (!store) return;
      const now = (await store.get<string[]>(waitNs, incident)) ?? [];
      if (!now.includes(nodeId)) await store.set(waitNs, incident, [...now, nodeId]);
    };
    node.onDelivery = (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    };
    lc.onClose(() => {
      localStores.delete(node.id);
      store = undefined;
      audit = undefined;
    });
  }

  RED.nodes.registerType<TicketingConfigNode, TicketingDef, { soarTicketingKinds: Record<string, unknown>[] }, Record<string, string>>(
    'soar-ticketing',
    TicketingNode,
    {
      credentials: ticketingCredentials(),
      settings: { soarTicketingKinds: { value: editorView(ticketDescriptors()), exportable: true } },
    },
  );
};
