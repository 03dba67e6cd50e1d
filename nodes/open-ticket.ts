/**
 * soar-open-ticket: one ticket per incident in the tracker of a soar-ticketing config node. The first
 * alert of an incident opens the ticket, repeats become coalesced comments, a closed ticket gets a
 * successor (or a comment); when the tracker is down the request waits in the outbox and the message
 * goes on at once as "queued". Outputs: done, delivered later, failed.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { buildTicketRequest, DEFAULT_BODY, DEFAULT_TITLE } from '../lib/ticket/defaults';
import type { OutboxEvent, TicketOutcome } from '../lib/ticket/outbox';
import { escaperFor } from '../lib/ticket/markup';
import { compileTemplate, MESSAGE_ROOTS, type CompiledTemplate } from '../lib/ticket/template';
import { lifecycle, migrateConfig, SettingsParser, translator } from './common';
import type { TicketingConfigNode, TicketingParts } from './shared/ticketing';

interface OpenTicketDef extends NodeDef {
  /** Config version (resources/migrations/soar-open-ticket.js). */
  configVersion?: number;
  ticketing: string;
  incident: string;
  incidentType: string;
  title: string;
  body: string;
  coalesceMinutes: number | string;
  closedPolicy: 'link' | 'comment';
}

/**
 * A failure for the node status: the tracker's own words first ("422 Project cannot be blank"), the
 * request line dropped (msg.ticket.error and the audit record keep the whole message).
 */
function statusMessage(message: string): string {
  const http = /→ HTTP (\d{3})(?: [A-Z_]+)?: ([\s\S]+)$/.exec(message);
  const line = (http ? `${http[1]} ${http[2]}` : message).replace(/\s+/g, ' ').trim();
  return line.length > 100 ? `${line.slice(0, 99)}…` : line;
}

type Msg = NodeMessageInFlow & Record<string, unknown> & { ticket?: unknown };

export = function (RED: NodeAPI): void {
  const t = translator(RED, 'soar-open-ticket');

  function evaluate(node: Node, value: string, type: string, msg: NodeMessageInFlow): Promise<unknown> {
    return new Promise((resolve, reject) =>
      RED.util.evaluateNodeProperty(value, type, node, msg, (err: Error | null, result: unknown) => (err ? reject(err) : resolve(result))),
    );
  }

  function OpenTicketNode(this: Node, saved: OpenTicketDef): void {
    const config = migrateConfig(saved, (message) => RED.log.warn(`soar-open-ticket ${saved.id}: ${message}`));
    RED.nodes.createNode(this, config);
    const node = this;
    const ticketing = RED.nodes.getNode(config.ticketing) as TicketingConfigNode | null;

    // Settings and templates are checked now, so a typo shows at deploy and not as an empty ticket.
    const settings = new SettingsParser();
    const coalesceMinutes = settings.number('the coalescing time', config.coalesceMinutes, { default: 5, min: 0 });
    const closedPolicy = config.closedPolicy === 'comment' ? 'comment' : 'link';
    if (config.closedPolicy && config.closedPolicy !== 'comment' && config.closedPolicy !== 'link')
      settings.errors.push(`the closed-ticket policy must be link or comment, got ${JSON.stringify(config.closedPolicy)}`);
    const compile = (what: string, source: string | undefined, fallback: string): CompiledTemplate | undefined => {
      try {
        return compileTemplate(source?.trim() ? source : fallback, { roots: MESSAGE_ROOTS });
      } catch (err) {
        settings.errors.push(`${what}: ${(err as Error).message}`);
        return undefined;
      }
    };
    const title = compile('the title', config.title, DEFAULT_TITLE);
    const body = compile('the body', config.body, DEFAULT_BODY);
    const incidentProp = config.incident?.trim() || 'alert.fingerprint';
    const incidentType = config.incidentType || 'msg';
    const settingError = settings.errors.length ? t('errors.settings', { errors: settings.errors.join('; ') }) : undefined;
    if (settingError) node.error(settingError);

    const lc = lifecycle<TicketingParts>(node, {
      namespace: 'soar-open-ticket',
      acquire: async () => {
        if (!ticketing) throw new Error(t('errors.no-ticketing'));
        return ticketing.ready;
      },
      failedKey: ticketing ? 'ticketing-failed' : 'no-ticketing',
      ready: () =>
        settingError ? { fill: 'red', shape: 'ring', text: t('status.invalid-settings') } : { fill: 'grey', shape: 'ring', text: ticketing!.label },
    });
    const outboxSettings = { coalesceMs: coalesceMinutes * 60_000, closedPolicy } as const;

    const warnedMissing = new Set<string>();
    let last = '';
    let lastFill: 'green' | 'yellow' | 'red' = 'green';
    let statusTimer: NodeJS.Timeout | undefined;
    /** Status like "created SEC-12 · 2 queued"; the queued count is read at most twice a second. */
    const showStatus = (parts: TicketingParts) => {
      if (statusTimer) return;
      statusTimer = setTimeout(() => {
        statusTimer = undefined;
        parts
          .outbox(outboxSettings)
          .pending()
          .then(({ creating }) => {
            const text = creating ? t('status.with-queued', { last, count: creating }) : last;
            node.status({ fill: lastFill, shape: 'dot', text });
          })
          .catch(() => undefined);
      }, 200);
      statusTimer.unref?.();
    };
    const remember = (fill: 'green' | 'yellow' | 'red', text: string, parts: TicketingParts | undefined) => {
      last = text;
      lastFill = fill;
      if (parts) showStatus(parts);
      else node.status({ fill, shape: 'dot', text });
    };

    const ticketOf = (outcome: Pick<TicketOutcome, 'id' | 'key' | 'url' | 'incident'>, status: string) => ({
      provider: ticketing?.kind ?? '',
      ...(outcome.id !== undefined ? { id: outcome.id } : {}),
      ...(outcome.key !== undefined ? { key: outcome.key } : {}),
      ...(outcome.url !== undefined ? { url: outcome.url } : {}),
      status,
      incident: outcome.incident,
    });

    // Deliveries after the message went on: a new message on output 2 (or 3 when the tracker refused).
    const offDelivery = ticketing?.onDelivery((event: OutboxEvent, to: string[]) => {
      if (!event.deferred || event.type === 'queued' || !to.includes(node.id)) return;
      const parts = lc.current();
      const base = { incident: event.incident, ...(event.ref ? { id: event.ref.id, key: event.ref.key, url: event.ref.url } : {}) };
      if (event.type === 'failed') {
        const message = event.failure?.message ?? 'failed';
        remember('red', t('status.failed', { message: statusMessage(message) }), parts);
        node.send([
          null,
          null,
          { topic: 'ticket', ticket: { ...ticketOf(base, 'failed'), error: message, code: event.failure?.code }, incident: event.incident },
        ]);
        return;
      }
      remember('green', t(`status.${event.type}`, { key: event.ref?.key ?? '' }), parts);
      node.send([
        null,
        {
          topic: 'ticket',
          ticket: { ...ticketOf(base, event.type), attempts: event.attempts, ...(event.sightings !== undefined ? { sightings: event.sightings } : {}) },
          incident: event.incident,
        },
        null,
      ]);
    });
    lc.onClose(() => {
      offDelivery?.();
      if (statusTimer) clearTimeout(statusTimer);
      statusTimer = undefined;
    });

    lc.onInput(async (msg: Msg, send, parts) => {
      const fail = async (message: string, incident: string, code: string) => {
        await parts.hub.audit.append('ticket.failed', { tracker: ticketing!.label, kind: ticketing!.kind, incident, code, error: message });
        msg.ticket = { provider: ticketing!.kind, status: 'failed', incident, error: message, code };
        remember('red', t('status.failed', { message: statusMessage(message) }), parts);
        send([null, null, msg]);
      };
      if (settingError || !title || !body) return fail(settingError ?? 'invalid templates', '', 'BAD_SETTINGS');
      const keyValue = await evaluate(node, incidentProp, incidentType, msg).catch((err: Error) => {
        if (incidentType === 'msg' && err instanceof TypeError) return undefined;
        throw err;
      });
      const incident = typeof keyValue === 'string' || typeof keyValue === 'number' ? String(keyValue).trim() : '';
      const built = buildTicketRequest(
        { ...msg, incident },
        {
          title,
          body,
          incidentPath: 'incident',
          escape: escaperFor(parts.provider.markup),
          ...(ticketing!.hubUrl ? { hubUrl: ticketing!.hubUrl } : {}),
        },
      );
      if (!built.request) {
        const message = incident ? (built.error ?? 'no ticket request') : t('errors.no-incident', { property: `${incidentType}.${incidentProp}` });
        return fail(message, incident, 'BAD_REQUEST');
      }
      // A field a message lacks renders empty; the ticket still opens, and the node says which field (once each).
      const unseen = built.missing.filter((field) => !warnedMissing.has(field));
      if (unseen.length && warnedMissing.size < 100) {
        for (const field of unseen) warnedMissing.add(field);
        node.warn(`${t('warnings.missing-fields')}: ${unseen.join(', ')}`);
      }
      const outbox = parts.outbox(outboxSettings);
      const outcome = await outbox.submit(built.request);
      if (outcome.status === 'failed') {
        return fail(outcome.failure?.message ?? 'failed', outcome.incident, outcome.failure?.code ?? 'FAILED');
      }
      // Whoever was told "queued" or "coalesced" hears of the delivery on output 2, also after a restart.
      if (outcome.status === 'queued' || outcome.coalesced) await ticketing!.waitFor(node.id, outcome.incident);
      msg.ticket = ticketOf(outcome, outcome.status);
      if (outcome.status === 'queued') remember('yellow', t('status.queued-one', { incident: outcome.incident.slice(0, 24) }), parts);
      else remember('green', t(`status.${outcome.status}`, { key: outcome.key ?? '' }), parts);
      const out: (NodeMessage | null)[] = [msg, null, null];
      send(out);
    });
  }

  RED.nodes.registerType<Node, OpenTicketDef, { soarOpenTicketTemplates: { title: string; body: string } }, Record<string, never>>(
    'soar-open-ticket',
    OpenTicketNode,
    {
      // The default templates, shown as placeholders in the editor.
      settings: { soarOpenTicketTemplates: { value: { title: DEFAULT_TITLE, body: DEFAULT_BODY }, exportable: true } },
    },
  );
};
