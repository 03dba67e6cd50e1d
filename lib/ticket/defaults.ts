/**
 * What a responder wants to read in a ticket: the default title, body and comment templates, and the
 * view they render over (built from the message: indicators defanged, actions with their leases,
 * links back to the hub). Node-RED-free.
 */
import { defang } from '../ioc/defang';
import type { TicketRequest } from './outbox';
import type { CompiledTemplate } from './template';
import type { TicketObservable } from './types';

export const DEFAULT_TITLE = '[SOAR] {{alert.severity_label}}: {{alert.title}}';

export const DEFAULT_BODY = [
  '{{alert.title}}',
  '{{#alert.description}}{{alert.description}}\n{{/alert.description}}',
  'Severity: {{alert.severity_label}}{{#alert.rule.id}} · rule {{alert.rule.id}}{{/alert.rule.id}}{{#alert.rule.name}} ({{alert.rule.name}}){{/alert.rule.name}}',
  '{{#alert.origin.product}}Source: {{alert.origin.product}}{{/alert.origin.product}}{{#alert.host.name}} · host {{alert.host.name}}{{/alert.host.name}}{{#alert.time}} · seen {{alert.time}}{{/alert.time}}',
  'Incident: {{incident}}',
  '{{#enrichment}}',
  'Verdict: {{verdict}}{{#score}} (score {{score}}){{/score}}',
  '{{#why}}- {{.}}',
  '{{/why}}{{/enrichment}}{{#iocs.length}}',
  'Indicators (defanged):',
  '{{#iocs}}- {{type}} {{value}}{{#role}} ({{role}}){{/role}}',
  '{{/iocs}}{{/iocs.length}}{{#actions.length}}',
  'Actions taken:',
  '{{#actions}}- {{kind}} {{target}}{{#provider}} on {{provider}}{{/provider}}: {{status}}{{#until}}, lease until {{until}}{{/until}}{{#error}} ({{error}}){{/error}}',
  '{{/actions}}{{/actions.length}}{{#approval}}',
  'Approval:{{#id}} {{id}}{{/id}}{{#status}} {{status}}{{/status}}{{#by}} by {{by}}{{/by}}{{#time}} at {{time}}{{/time}}',
  '{{/approval}}{{#hub.url}}',
  'On the hub: {{{hub.url}}}{{#hub.caseUrl}}',
  'Case: {{{hub.caseUrl}}}{{/hub.caseUrl}}',
  '{{/hub.url}}',
].join('\n');

export interface ViewOptions {
  /** The hub's address as responders reach it (links back). */
  hubUrl?: string;
  incidentKey?: string;
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** Indicators from msg.iocs, else from the alert's observables; values defanged for display. */
function viewIocs(msg: Record<string, unknown>): Array<Record<string, unknown>> {
  const alert = asObject(msg.alert);
  const list = Array.isArray(msg.iocs) ? msg.iocs : Array.isArray(alert?.observables) ? (alert?.observables as unknown[]) : [];
  const out: Array<Record<string, unknown>> = [];
  for (const item of list) {
    const ioc = asObject(item);
    if (!ioc || typeof ioc.value !== 'string') continue;
    const type = typeof ioc.type === 'string' ? ioc.type : 'other';
    out.push({ type, value: defang(ioc.value, type), ...(typeof ioc.role === 'string' ? { role: ioc.role } : {}) });
  }
  return out;
}

function viewActions(msg: Record<string, unknown>): Array<Record<string, unknown>> {
  if (!Array.isArray(msg.actions)) return [];
  return msg.actions.map((item) => {
    const action = asObject(item) ?? {};
    const lease = asObject(action.lease);
    const target = typeof action.target === 'string' ? defang(action.target, action.target.includes(':') ? 'ipv6' : undefined) : action.target;
    return { ...action, target, ...(lease?.expiresAt !== undefined ? { until: lease.expiresAt } : {}) };
  });
}

/** The object the templates render over. Never changes the message. */
export function ticketView(msg: Record<string, unknown>, options: ViewOptions = {}): Record<string, unknown> {
  const approval = asObject(msg.approval);
  const hubUrl = options.hubUrl?.replace(/\/+$/, '');
  return {
    ...msg,
    iocs: viewIocs(msg),
    actions: viewActions(msg),
    ...(approval ? { approval: { ...approval, by: Array.isArray(approval.by) ? approval.by.join(', ') : approval.by } } : {}),
    incident: options.incidentKey ?? msg.incident,
    hub: { ...(asObject(msg.hub) ?? {}), ...(hubUrl ? { url: hubUrl } : {}) },
  };
}

export interface RequestOptions extends ViewOptions {
  /** Compiled title and body templates (lib/ticket/template.ts); defaults: DEFAULT_TITLE / DEFAULT_BODY. */
  title: CompiledTemplate;
  body: CompiledTemplate;
  /** Dotted message path of the incident key. Default `alert.fingerprint`. */
  incidentPath?: string;
  /**
   * How values from the message are escaped in the body (the tracker's escaper, lib/ticket/markup.ts).
   * The title is never escaped: every tracker shows titles as plain text.
   */
  escape?: 'none' | 'html' | ((text: string) => string);
}

export interface BuiltRequest {
  request?: TicketRequest;
  /** Why no request could be built (no incident key, empty title): for the failure output. */
  error?: string;
  /** Template fields the message did not have (rendered empty): for a warning. */
  missing: string[];
}

function ownPath(root: unknown, path: string): unknown {
  let current = root;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.prototype.hasOwnProperty.call(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** The outbox request for a message: incident key, rendered title and body, severity, indicators (raw). */
export function buildTicketRequest(msg: Record<string, unknown>, options: RequestOptions): BuiltRequest {
  const path = options.incidentPath ?? 'alert.fingerprint';
  const keyValue = ownPath(msg, path);
  const incidentKey = typeof keyValue === 'string' || typeof keyValue === 'number' ? String(keyValue).trim() : '';
  if (!incidentKey) return { error: `no incident key at msg.${path}`, missing: [] };
  const view = ticketView(msg, { ...options, incidentKey });
  const title = options.title.render(view);
  const body = options.body.render(view, { escape: options.escape });
  const missing = [...new Set([...title.missing, ...body.missing])];
  const oneLine = title.text.replace(/\s+/g, ' ').trim();
  if (!oneLine) return { error: 'the title is empty after rendering the template', missing };
  const alert = asObject(msg.alert);
  const severity = typeof alert?.severity === 'number' ? alert.severity : 0;
  const observables: TicketObservable[] = [];
  const source = Array.isArray(msg.iocs) ? msg.iocs : Array.isArray(alert?.observables) ? (alert?.observables as unknown[]) : [];
  for (const item of source) {
    const ioc = asObject(item);
    if (ioc && typeof ioc.value === 'string' && typeof ioc.type === 'string') observables.push({ type: ioc.type, value: ioc.value });
  }
  const summary = typeof alert?.title === 'string' ? alert.title : oneLine;
  return { request: { incidentKey, title: oneLine, body: body.text, severity, summary, ...(observables.length ? { observables } : {}) }, missing };
}
