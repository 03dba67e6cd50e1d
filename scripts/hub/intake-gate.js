// While the flows are not running (the hub is starting, or a deploy is restarting them) an alert
// intake's route does not exist and Express would answer an HTML 404, which senders treat as
// final and drop the alert. This answers 503 JSON with Retry-After instead, for every intake path
// of the last deployed flows. It sits after Node-RED's node routes, so a running intake always
// answers for itself.
'use strict';
const fs = require('fs');

const INTAKE_TYPE = 'soar-alert-intake';

function normalisePath(p) {
  let s = String(p || '').trim();
  if (!s) return undefined;
  if (!s.startsWith('/')) s = '/' + s;
  s = s.replace(/\/+$/, '') || '/';
  return s.toLowerCase(); // Express routes match case-insensitively and ignore a trailing slash
}

/** Intake paths of enabled intake nodes on enabled tabs, from a flow configuration array. */
function intakePaths(flows) {
  const paths = new Set();
  if (!Array.isArray(flows)) return paths;
  const disabledTabs = new Set(flows.filter((n) => n && n.type === 'tab' && n.disabled).map((n) => n.id));
  for (const n of flows) {
    if (!n || n.type !== INTAKE_TYPE || n.d || disabledTabs.has(n.z)) continue;
    const p = normalisePath(n.path || '/soar/alerts');
    if (p) paths.add(p);
  }
  return paths;
}

function intakePathsFromFile(file) {
  try {
    return intakePaths(JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch {
    return new Set();
  }
}

/** A path a sender meant for the SOAR routes (also `//soar/…`, `%61`-encoded or with dot segments). */
function soarPath(req) {
  let raw = String(req.originalUrl || req.url || '/').split('?')[0];
  try {
    raw = decodeURIComponent(raw);
  } catch {
    /* keep it as sent */
  }
  return /^\/+(?:\.\/)*soar(?:[/;\0]|$)/i.test(raw);
}

/** No route matched: senders get a JSON answer they can log, never Express's HTML page. */
function notFound(res) {
  res.writeHead(404, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ error: 'no SOAR route at this path (alert intakes answer POST on their own path)' }));
}

function createIntakeGate({ initialPaths, events, retryAfterSeconds = 5 }) {
  let paths = initialPaths;
  let state = 'starting'; // starting | running | restarting
  if (events) {
    events.on('flows:stopping', () => {
      if (state === 'running') state = 'restarting';
    });
    events.on('flows:starting', (e) => {
      if (e && e.config && Array.isArray(e.config.flows)) paths = intakePaths(e.config.flows);
      if (state === 'running') state = 'restarting';
    });
    events.on('flows:started', (e) => {
      if (e && e.config && Array.isArray(e.config.flows)) paths = intakePaths(e.config.flows);
      state = 'running';
    });
  }

  /** Last middleware on the node side: requests no route answered. */
  function fallback(req, res, next) {
    const p = normalisePath((req.originalUrl || req.url || '/').split('?')[0]);
    if (!p || !paths.has(p)) return soarPath(req) ? notFound(res) : next();
    // Once running, a method the intake does not take is the intake's business, not ours.
    if (state === 'running' && req.method !== 'POST') return next();
    const reason =
      state === 'starting' ? 'the hub is starting' : state === 'restarting' ? 'the flows are being redeployed' : 'the alert intake on this path is not running';
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': String(retryAfterSeconds), 'cache-control': 'no-store' });
    res.end(JSON.stringify({ error: `${reason}; retry later`, retryAfter: retryAfterSeconds }));
  }

  return { fallback, state: () => state, paths: () => paths };
}

module.exports = { createIntakeGate, intakePaths, intakePathsFromFile, normalisePath };
