// The editor and its admin API answer only the hub's own pages. Any web page the user opens can
// make the browser send requests to 127.0.0.1; without this guard such a page could deploy flows
// or release blocks (cross-site form POST, fetch), or read the admin API after pointing its own
// domain at 127.0.0.1 (DNS rebinding). Node-RED's editor API answers every origin with
// `Access-Control-Allow-Origin: *` before any setting can intervene, so the guard sits in front of
// the whole HTTP server, and the comms websocket is guarded on the server's upgrade event.
'use strict';
const os = require('os');

function isAdminPath(url, adminRoot) {
  const p = (url || '/').split('?')[0].toLowerCase();
  const base = adminRoot.replace(/\/+$/, '');
  return p === base || p.startsWith(base + '/');
}

/** `host[:port]` → { name, port } with brackets removed from IPv6 literals; undefined if malformed. */
function parseHost(value) {
  if (typeof value !== 'string' || !value) return undefined;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]/\s@]+))(?::(\d{1,5}))?$/.exec(value.trim());
  if (!m) return undefined;
  return { name: (m[1] ?? m[2]).toLowerCase().replace(/\.$/, ''), port: m[3] === undefined ? undefined : Number(m[3]) };
}

function isWildcard(host) {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/**
 * The names under which the hub is its own origin: loopback names, the configured HOST, the
 * machine's interface addresses and host name when it listens on every address, and any names
 * in SOAR_ALLOWED_HOSTS (e.g. the name a reverse proxy forwards).
 */
function ownHostNames({ host, extra = [] }) {
  const names = new Set(['127.0.0.1', 'localhost', '::1']);
  for (const n of extra) if (n) names.add(String(n).toLowerCase());
  if (!isWildcard(host)) names.add(String(host).toLowerCase());
  else {
    names.add(os.hostname().toLowerCase());
    for (const list of Object.values(os.networkInterfaces())) {
      for (const a of list || []) names.add(a.address.split('%')[0].toLowerCase());
    }
  }
  return names;
}

function createGuard({ host, port, adminRoot = '/admin/', extraHosts = [] }) {
  let cached;
  let cachedAt = 0;
  // Interface addresses change (DHCP, new links); re-read them at most every few seconds.
  const names = () => {
    if (!cached || Date.now() - cachedAt > 5000) {
      cached = ownHostNames({ host, extra: extraHosts });
      cachedAt = Date.now();
    }
    return cached;
  };
  const ownHost = (value) => {
    const h = parseHost(value);
    if (!h) return false;
    if ((h.port ?? 80) !== port) return false;
    return names().has(h.name);
  };
  const ownOrigin = (origin) => {
    const m = /^http:\/\/([^/]+)$/i.exec(origin);
    return Boolean(m) && ownHost(m[1]);
  };

  /** Why a request to the admin side is refused, or undefined when it may pass. */
  function refusal(req) {
    const h = req.headers;
    if (!ownHost(h.host)) return 'foreign Host header';
    if (h.origin !== undefined && !ownOrigin(h.origin)) return 'foreign Origin';
    const site = h['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      // Following a link to the editor is fine; anything else another site starts is not.
      const navigation = (req.method === 'GET' || req.method === 'HEAD') && h['sec-fetch-mode'] === 'navigate';
      if (!navigation) return `cross-site request (Sec-Fetch-Site: ${site})`;
    }
    return undefined;
  }

  /** Express-style middleware for the HTTP request path. */
  function middleware(req, res, next) {
    if (!isAdminPath(req.url, adminRoot)) return next();
    const why = refusal(req);
    if (why) {
      res.writeHead(403, { 'content-type': 'application/json', 'cache-control': 'no-store', vary: 'Origin, Host' });
      res.end(JSON.stringify({ error: `refused: ${why}; the editor answers only its own pages` }));
      return;
    }
    // Node-RED's editor API adds `Access-Control-Allow-Origin: *`; the admin side is same-origin only.
    const setHeader = res.setHeader;
    res.setHeader = function (name, value) {
      if (/^access-control-/i.test(name)) return this;
      return setHeader.call(this, name, value);
    };
    next();
  }

  /** Wrap server.emit so refused websocket upgrades never reach Node-RED's comms. */
  function guardUpgrades(server) {
    const emit = server.emit;
    server.emit = function (event, req, socket, ...rest) {
      if (event === 'upgrade' && isAdminPath(req.url, adminRoot)) {
        const why = refusal(req);
        if (why) {
          const body = JSON.stringify({ error: `refused: ${why}` });
          socket.end(
            `HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
          );
          return true;
        }
      }
      return emit.call(this, event, req, socket, ...rest);
    };
  }

  return { middleware, guardUpgrades, refusal, ownHost };
}

module.exports = { createGuard, parseHost, isAdminPath, ownHostNames, isWildcard };
