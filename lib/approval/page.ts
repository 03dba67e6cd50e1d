/**
 * The approval page: a plain (req, res) handler for the hub's HTTP server or a Node-RED httpNode route.
 * GET shows the request and a confirm form; only POST decides (mail scanners and link previews fetch
 * GETs). The token in the path is the capability: no cookies, no session, so no CSRF to forge. No
 * scripts, no third-party assets; a strict Content-Security-Policy allows only the page's own style.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DecideResult } from './engine';
import type { ApprovalLinks, LinkLookup } from './links';
import type { ApprovalRecord, CoveredValue } from './records';

/** "203.0.113.44 — malicious (score 92)". */
export function coveredText(c: CoveredValue): string {
  if (c.verdict === undefined) return c.value;
  return `${c.value} — ${c.verdict}${c.score === undefined ? '' : ` (score ${c.score})`}`;
}

const BODY_LIMIT = 16 * 1024;

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.4rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}
textarea{width:100%;min-height:4rem;font:inherit}button{font:inherit;padding:.5rem 1.5rem;margin-top:.8rem;border:0;border-radius:4px;color:#fff}
.approve{background:#1a7f37}.deny{background:#b42318}.note{color:#555;font-size:.9rem}`;
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');
export const APPROVAL_PAGE_CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

function summaryHtml(record: ApprovalRecord): string {
  const s = record.summary;
  const rows: Array<[string, string | undefined]> = [
    ['Action', s.action],
    ['Target', s.target],
    ['Severity', s.severity],
    ['Verdict', s.verdict === undefined ? undefined : `${s.verdict}${s.score === undefined ? '' : ` (score ${s.score})`}`],
    ['Approvals', `${new Set(record.votes.filter((v) => v.decision === 'approve').map((v) => v.person)).size} of ${record.policy.quorum} needed`],
    [
      'Expires',
      new Date(record.expiresAt)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC'),
    ],
  ];
  const dl = rows
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`)
    .join('');
  const reasons = s.reasons.length ? `<h2>Why</h2><ul>${s.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join('')}</ul>` : '';
  // A map field (enrichment.indicators) lets the action run on any of its keys: show each with its verdict.
  const covers = s.covers?.length
    ? `<h2>This approval covers</h2><ul>${s.covers.map((c) => `<li class="covers">${escapeHtml(coveredText(c))}</li>`).join('')}</ul>`
    : '';
  return `<h1>${escapeHtml(s.title)}</h1><dl>${dl}</dl>${reasons}${covers}`;
}

function send(res: ServerResponse, status: number, title: string, body: string, extra: Record<string, string> = {}): void {
  const html = layout(title, body);
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(html)),
    'Content-Security-Policy': APPROVAL_PAGE_CSP,
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    ...extra,
  });
  res.end(html);
}

function message(res: ServerResponse, status: number, heading: string, text: string): void {
  send(res, status, heading, `<h1>${escapeHtml(heading)}</h1><p>${escapeHtml(text)}</p>`);
}

/** The clear page for a link that cannot decide (any more). */
function closedPage(res: ServerResponse, lookup: LinkLookup): void {
  if (lookup.status === 'unknown')
    return message(res, 404, 'Unknown link', 'This approval link is not known. It may be mistyped, or so old that it was removed.');
  const { record } = lookup;
  if (lookup.status === 'expired')
    return message(
      res,
      410,
      'This approval has expired',
      `The approval "${record.summary.title}" expired at ${new Date(record.expiresAt).toISOString()} without enough decisions; nothing was decided through this link.`,
    );
  const state = record.state === 'pending' ? 'still pending' : record.state;
  if (lookup.status === 'used')
    return message(res, 409, 'This request was already decided through this link', `Each link works once. The approval "${record.summary.title}" is ${state}.`);
  return message(
    res,
    409,
    'This request was already decided',
    `The approval "${record.summary.title}" was already ${state}${record.decision?.by.length ? ` by ${record.decision.by.join(', ')}` : ''}.`,
  );
}

function confirmPage(res: ServerResponse, lookup: Extract<LinkLookup, { status: 'pending' }>): void {
  const verb = lookup.link.decision === 'approve' ? 'Approve' : 'Deny';
  const body = `${summaryHtml(lookup.record)}<form method="post"><p>You are <strong>${escapeHtml(lookup.link.person)}</strong> (${escapeHtml(lookup.link.identity)}).</p>
<label for="comment">Comment (optional)</label><textarea id="comment" name="comment" maxlength="1000"></textarea>
<button type="submit" class="${lookup.link.decision}">${verb}</button></form>
<p class="note">Nothing is decided until you press ${verb}. This link works once.</p>`;
  send(res, 200, `${verb}: ${lookup.record.summary.title}`, body);
}

function resultPage(res: ServerResponse, lookup: LinkLookup, result: DecideResult): void {
  if (!result.ok) {
    if (result.code === 'expired') return message(res, 410, 'This approval has expired', result.reason);
    if (result.code === 'decided') return message(res, 409, 'This request was already decided', result.reason);
    if (result.code === 'already-voted') return message(res, 409, 'You already decided this request', result.reason);
    if (result.code === 'not-approver') return message(res, 403, 'Not an approver', result.reason);
    return message(res, 400, 'Refused', result.reason);
  }
  const record = result.record;
  const verb = lookup.status === 'pending' && lookup.link.decision === 'approve' ? 'approved' : 'denied';
  const status =
    record.state === 'pending'
      ? `It needs more approvals (${new Set(record.votes.filter((v) => v.decision === 'approve').map((v) => v.person)).size} of ${record.policy.quorum}).`
      : `The request is now ${record.state}.`;
  send(res, 200, 'Decision recorded', `<h1>Decision recorded</h1><p>You ${verb} "${escapeHtml(record.summary.title)}". ${escapeHtml(status)}</p>`);
}

async function readForm(req: IncomingMessage & { body?: unknown }): Promise<URLSearchParams | number> {
  // Behind Express (Node-RED httpNode) a body parser may already have read it.
  if (req.body !== undefined && req.body !== null && typeof req.body === 'object' && !Buffer.isBuffer(req.body)) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(req.body as Record<string, unknown>)) if (typeof v === 'string') params.set(k, v);
    return params;
  }
  if (typeof req.body === 'string' || Buffer.isBuffer(req.body)) return new URLSearchParams(String(req.body));
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]
    .trim()
    .toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return 415;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) return 413;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** The token: the last path segment (the route is mounted at any prefix, e.g. /soar/approval/:token). */
function tokenOf(url: string | undefined): string {
  const path = (url ?? '').split('?')[0];
  const last = path.slice(path.lastIndexOf('/') + 1);
  try {
    return decodeURIComponent(last);
  } catch {
    return '';
  }
}

export interface ApprovalPageOptions {
  links: ApprovalLinks;
  warn?: (message: string) => void;
}

/** The page handler; resolves when the response is written (tests and benchmarks await it). */
export function createApprovalPageHandler(options: ApprovalPageOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const warn = options.warn ?? ((m: string) => process.emitWarning(m, 'SoarApprovalWarning'));
  return async (req, res) => {
    try {
      const token = tokenOf(req.url);
      if (req.method === 'GET' || req.method === 'HEAD') {
        const lookup = await options.links.lookup(token);
        if (lookup.status === 'pending') return confirmPage(res, lookup);
        return closedPage(res, lookup);
      }
      if (req.method !== 'POST') {
        res.writeHead(405, { Allow: 'GET, HEAD, POST', 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('method not allowed\n');
        return;
      }
      const form = await readForm(req);
      if (typeof form === 'number') return message(res, form, 'Refused', form === 413 ? 'The form is too large.' : 'Send the form from the approval page.');
      const { lookup, result } = await options.links.use(token, form.get('comment') ?? undefined);
      if (!result) return closedPage(res, lookup);
      return resultPage(res, lookup, result);
    } catch (err) {
      warn(`approval page: ${(err as Error).message}`);
      if (!res.headersSent) message(res, 500, 'Something went wrong', 'The decision could not be recorded. Try the link again in a moment.');
      else res.end();
    }
  };
}
