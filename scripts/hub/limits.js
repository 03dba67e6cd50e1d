// Connection bounds for the hub's HTTP server. Slow-header connections (a client that never
// finishes its request head) must neither pile up until the process runs out of file
// descriptors nor crowd out the editor and the senders. Three layers:
//  - Node's own deadlines: headersTimeout/requestTimeout, checked every second;
//  - a cap per source address and a total cap;
//  - at a cap, the oldest connection that is not serving a request (still sending its head, or
//    idle keep-alive) is closed to make room, so one source holding many slow connections cannot
//    lock out a new client, even one from the same address (the editor on loopback).
'use strict';

const DEFAULTS = {
  headersTimeout: 10000,
  requestTimeout: 120000, // whole request incl. body; flows deploys from the editor can be large
  keepAliveTimeout: 5000,
  perSource: 64,
  total: 1024,
};

function serverOptions(limits = DEFAULTS) {
  return {
    headersTimeout: limits.headersTimeout,
    requestTimeout: limits.requestTimeout,
    keepAliveTimeout: limits.keepAliveTimeout,
    connectionsCheckingInterval: 1000,
  };
}

function boundConnections(server, limits = DEFAULTS) {
  /** @type {Map<string, Set<import("net").Socket>>} */
  const bySource = new Map();
  let total = 0;
  const stats = { evicted: 0, refused: 0 };

  // A connection is busy while a request on it is being answered, or once upgraded (websocket).
  const busy = (s) => s.__soarActive > 0 || s.__soarUpgraded;

  function oldestIdle(set) {
    let pick;
    for (const s of set) if (!busy(s) && (!pick || s.__soarSince < pick.__soarSince)) pick = s;
    return pick;
  }

  function evict(s) {
    if (s.__soarSet && s.__soarSet.delete(s)) total--;
    s.destroy();
    stats.evicted++;
  }

  function makeRoom(source) {
    const own = bySource.get(source);
    if (own && own.size >= limits.perSource) {
      const victim = oldestIdle(own);
      if (!victim) return false;
      evict(victim);
    }
    if (total >= limits.total) {
      // Take from the source holding the most connections.
      const sources = [...bySource.values()].sort((a, b) => b.size - a.size);
      let victim;
      for (const set of sources) if ((victim = oldestIdle(set))) break;
      if (!victim) return false;
      evict(victim);
    }
    return true;
  }

  server.on('connection', (socket) => {
    const source = socket.remoteAddress || '?';
    if (!makeRoom(source)) {
      stats.refused++;
      socket.destroy();
      return;
    }
    socket.__soarSince = Date.now();
    socket.__soarActive = 0;
    let set = bySource.get(source);
    if (!set) bySource.set(source, (set = new Set()));
    set.add(socket);
    socket.__soarSet = set;
    total++;
    socket.once('close', () => {
      // An evicted socket was already taken off the count; count each one once.
      if (set.delete(socket)) total--;
      if (set.size === 0 && bySource.get(source) === set) bySource.delete(source);
    });
  });
  server.on('request', (req, res) => {
    const s = req.socket;
    s.__soarActive = (s.__soarActive || 0) + 1;
    res.once('close', () => {
      s.__soarActive--;
      s.__soarSince = Date.now(); // idle keep-alive from now on
    });
  });
  server.on('upgrade', (req) => {
    req.socket.__soarUpgraded = true;
  });

  return { stats, count: () => total, sources: () => bySource.size };
}

module.exports = { DEFAULTS, serverOptions, boundConnections };
