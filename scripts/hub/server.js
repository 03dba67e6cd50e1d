// Node-RED embedded in the hub's own HTTP server, so that what guards the server sits in front of
// everything Node-RED serves: the admin guard (own Host and Origin only), the connection bounds,
// and the 503 answer for alert intakes while the flows are not running.
'use strict';
const http = require('http');
const path = require('path');
const { createGuard } = require('./guard');
const { createIntakeGate, intakePathsFromFile } = require('./intake-gate');
const { DEFAULTS, serverOptions, boundConnections } = require('./limits');

const root = path.resolve(__dirname, '..', '..');
const nodeRedDir = path.dirname(require.resolve('node-red/package.json'));
const PACK = require(path.join(root, 'package.json'));

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    const onError = (err) => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE') {
        reject(new Error(`port ${port} on ${host} is already in use by another process; stop it or start the hub with another PORT`));
      } else if (err.code === 'EACCES') {
        reject(new Error(`not allowed to listen on ${host}:${port} (ports below 1024 need privileges); choose another PORT`));
      } else if (err.code === 'EADDRNOTAVAIL') {
        reject(new Error(`${host} is not an address of this machine; check HOST`));
      } else reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** The pack's node sets as Node-RED's registry reports them; throws unless every type loaded. */
function checkPackLoaded(RED) {
  const expected = Object.keys(PACK['node-red'].nodes);
  const sets = RED.nodes.getNodeList().filter((s) => s.module === PACK.name);
  const problems = [];
  for (const type of expected) {
    const set = sets.find((s) => (s.types || []).includes(type));
    if (!set) problems.push(`${type}: not registered`);
    else if (set.err) problems.push(`${type}: ${set.err}`);
    else if (!set.enabled) problems.push(`${type}: disabled in the palette`);
    else if (typeof RED.nodes.getType(type) !== 'function') problems.push(`${type}: not loaded`);
  }
  if (problems.length) {
    throw new Error(`the SOAR nodes did not load (${problems.join('; ')}); run \`npm run build\` and start again`);
  }
  return expected;
}

/**
 * Start Node-RED inside our server: guard, listen (the port must be ours), start the runtime,
 * check the pack is loaded. Resolves when the hub is ready to take alerts.
 */
async function runHub({ settings, host, port, flowFile, extraHosts = [], limits = DEFAULTS, log = console, flowsTimeoutMs = 30000 }) {
  const express = require(require.resolve('express', { paths: [nodeRedDir] }));
  const RED = require('node-red');

  const app = express();
  app.disable('x-powered-by');
  const server = http.createServer(serverOptions(limits), app);
  server.setMaxListeners(0);
  const guard = createGuard({ host, port, adminRoot: settings.httpAdminRoot, extraHosts });
  guard.guardUpgrades(server);
  const bounds = boundConnections(server, limits);

  let ready = false;
  app.use(guard.middleware);
  // The admin side before the runtime has started would answer half-initialised; say so instead.
  app.use(settings.httpAdminRoot, (req, res, next) => {
    if (ready) return next();
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '2', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ error: 'the hub is starting; retry later' }));
  });

  RED.init(server, settings);
  const gate = createIntakeGate({ initialPaths: intakePathsFromFile(flowFile), events: RED.events });
  // RED.start() resolves before the flows have started; the banner waits for them.
  const flowsStarted = new Promise((resolve) => RED.events.once('flows:started', () => resolve(true)));
  app.use(settings.httpAdminRoot, RED.httpAdmin);
  app.use(settings.httpNodeRoot, RED.httpNode);
  app.use(gate.fallback);

  // Listen before the runtime starts: if the port is not ours, nothing else happens.
  await listen(server, port, host);
  settings.serverPort = server.address().port;

  let stopping = false;
  const stop = (code = 0) => {
    if (stopping) return;
    stopping = true;
    const exit = () => process.exit(code);
    setTimeout(exit, 10000).unref();
    Promise.resolve()
      .then(() => RED.stop())
      .catch(() => {})
      .then(() => server.close())
      .finally(exit);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => stop(0));
  process.on('uncaughtException', (err) => {
    try {
      RED.log.error(`Uncaught exception: ${err && err.stack ? err.stack : err}`);
    } catch {
      log.error(err);
    }
    process.exit(1);
  });

  try {
    await RED.start();
    checkPackLoaded(RED);
    const started = await Promise.race([flowsStarted, new Promise((r) => setTimeout(() => r(false), flowsTimeoutMs))]);
    if (!started) log.warn(`warning: the flows have not started after ${flowsTimeoutMs / 1000} s; see the log above`);
  } catch (err) {
    server.close();
    throw err;
  }
  ready = true;
  return { RED, server, gate, bounds, stop };
}

module.exports = { runHub, checkPackLoaded, listen };
