#!/usr/bin/env node
// `npm start`: a working response hub on embedded defaults. Prepares the user directory
// ($SOAR_HOME, default .hub/), the credential secret, the intake token and the quickstart
// playbook, then runs Node-RED from this checkout's own dependencies, embedded in the hub's own
// HTTP server (scripts/hub/server.js), with the pack loaded.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { loadUserSettings, composeSettings } = require('./hub/settings');
const { isWildcard } = require('./hub/guard');

const root = path.resolve(__dirname, '..');
const QUICKSTART = path.join(root, 'examples', 'Quickstart playbook.json');
const INTAKE_NODE_ID = 'soar-quickstart-intake';
const SAMPLE = path.join(root, 'test', 'fixtures', 'samples', 'wazuh', 'sshd-bruteforce.json');

function isLoopback(host) {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** A secret from the environment, else one generated once and kept (mode 0600) in the hub folder. */
function keptSecret(home, file, envValue, bytes = 24) {
  if (envValue) return { value: envValue, generated: false };
  const p = path.join(home, file);
  if (fs.existsSync(p)) return { value: fs.readFileSync(p, 'utf8').trim(), generated: false };
  const value = crypto.randomBytes(bytes).toString('base64url');
  fs.writeFileSync(p, value + '\n', { mode: 0o600 });
  return { value, generated: true };
}

// Node-RED's own credential file format: {"$": <iv hex><aes-256-ctr base64>}, key sha256(secret).
function readCredentials(file, secret) {
  if (!fs.existsSync(file)) return {};
  const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!stored.$) return stored;
  const key = crypto.createHash('sha256').update(secret).digest();
  const decipher = crypto.createDecipheriv('aes-256-ctr', key, Buffer.from(stored.$.slice(0, 32), 'hex'));
  return JSON.parse(decipher.update(stored.$.slice(32), 'base64', 'utf8') + decipher.final('utf8'));
}
function writeCredentials(file, secret, creds) {
  const key = crypto.createHash('sha256').update(secret).digest();
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv('aes-256-ctr', key, iv);
  const $ = iv.toString('hex') + cipher.update(JSON.stringify(creds), 'utf8', 'base64') + cipher.final('base64');
  fs.writeFileSync(file, JSON.stringify({ $ }), { mode: 0o600 });
}

function bcryptHash(password) {
  // bcryptjs comes with Node-RED's editor API (it checks adminAuth passwords with it).
  const bcrypt = require(require.resolve('bcryptjs', { paths: [path.dirname(require.resolve('@node-red/editor-api/package.json'))] }));
  return bcrypt.hashSync(password, 10);
}

/** Files in the hub folder that hold secrets (or flows, which may): owner-only. */
const SECRET_FILES = [
  '.credential-secret',
  '.intake-token',
  '.admin-password.bcrypt',
  '.sessions.json',
  'flows_cred.json',
  'flows.json',
  'settings.js',
  'settings.user.js',
  '.config.runtime.json',
  '.config.users.json',
  '.config.nodes.json',
];

/** An existing home we own is tightened to 0700 and its secret files to 0600; others only warn. */
function tightenHome(home, warn = console.warn) {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const tighten = (p, mode) => {
    let st;
    try {
      st = fs.lstatSync(p);
    } catch {
      return;
    }
    if (st.isSymbolicLink() || (st.mode & 0o777 & ~mode) === 0) return;
    if (uid === undefined || st.uid === uid) fs.chmodSync(p, mode);
    else warn(`warning: ${p} is readable by other users (mode ${(st.mode & 0o777).toString(8)}) and not ours to change`);
  };
  tighten(home, 0o700);
  for (const f of SECRET_FILES) tighten(path.join(home, f), 0o600);
}

function prepareHub(env = process.env) {
  const home = path.resolve(env.SOAR_HOME || path.join(root, '.hub'));
  const host = env.HOST || '127.0.0.1';
  const port = Number(env.PORT) || 1880;
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  tightenHome(home);

  const secret = keptSecret(home, '.credential-secret', env.SOAR_CREDENTIAL_SECRET, 32).value;

  // An open Node-RED editor on a network is remote code execution: require a login off loopback
  // (and on loopback too with SOAR_ADMIN_LOGIN=1, for machines shared with other users).
  const requireLogin = !isLoopback(host) || /^(1|true|yes|always)$/i.test(env.SOAR_ADMIN_LOGIN || '');
  let adminPassword;
  let adminHash;
  if (requireLogin) {
    // A lost password: delete this file and start again; a new one is printed once.
    const hashFile = path.join(home, '.admin-password.bcrypt');
    if (fs.existsSync(hashFile)) adminHash = fs.readFileSync(hashFile, 'utf8').trim();
    else {
      adminPassword = crypto.randomBytes(12).toString('base64url');
      adminHash = bcryptHash(adminPassword);
      fs.writeFileSync(hashFile, adminHash + '\n', { mode: 0o600 });
    }
  }

  // The quickstart and its intake token are seeded on first start only (when the flow file is
  // written); afterwards the flow and its credentials are the user's. SOAR_INTAKE_TOKEN, when
  // set, is an explicit instruction and applied at every start.
  const flowFile = path.join(home, 'flows.json');
  const firstStart = !fs.existsSync(flowFile);
  if (firstStart) fs.writeFileSync(flowFile, fs.readFileSync(QUICKSTART), { mode: 0o600 });
  const credFile = path.join(home, 'flows_cred.json');
  const flows = JSON.parse(fs.readFileSync(flowFile, 'utf8'));
  const hasQuickstartIntake = Array.isArray(flows) && flows.some((n) => n.id === INTAKE_NODE_ID);
  const hasApprovals = Array.isArray(flows) && flows.some((n) => n && n.type === 'soar-wait-approval');
  if (hasQuickstartIntake && (firstStart || env.SOAR_INTAKE_TOKEN)) {
    const token = keptSecret(home, '.intake-token', env.SOAR_INTAKE_TOKEN).value;
    const creds = readCredentials(credFile, secret);
    creds[INTAKE_NODE_ID] = { ...(creds[INTAKE_NODE_ID] || {}), token };
    writeCredentials(credFile, secret, creds);
  }
  let token;
  if (hasQuickstartIntake) {
    try {
      token = readCredentials(credFile, secret)[INTAKE_NODE_ID]?.token;
    } catch {
      token = undefined; // shown as "see the editor"; Node-RED reports unreadable credentials itself
    }
  }

  // The settings.js earlier versions wrote on every start carried the credential secret in clear.
  const oldSettings = path.join(home, 'settings.js');
  if (fs.existsSync(oldSettings) && fs.readFileSync(oldSettings, 'utf8').startsWith('// Written by `npm start` on every start')) {
    fs.rmSync(oldSettings);
  }

  const defaults = {
    editorTheme: { tours: false, projects: { enabled: false } },
    externalModules: { palette: { allowInstall: true, allowUpload: true } },
    telemetry: { enabled: false },
    diagnostics: { enabled: false },
    logging: { console: { level: env.SOAR_LOG_LEVEL || 'info', metrics: false, audit: false } },
  };
  if (adminHash) defaults.adminAuth = { type: 'credentials', users: [{ username: 'admin', password: adminHash, permissions: '*' }] };
  const user = loadUserSettings(home);
  const { settings, warnings } = composeSettings({
    defaults,
    user: user.settings,
    requireLogin,
    forced: {
      uiHost: host,
      uiPort: port,
      httpAdminRoot: '/admin/', // keeps the editor's body parser off the intake's raw bodies (HMAC)
      httpNodeRoot: '/',
      userDir: home,
      flowFile: 'flows.json',
      credentialSecret: secret,
      // This checkout's pack always loads; the user's own folders come after it.
      nodesDir: [root, ...[].concat(user.settings.nodesDir || [])],
    },
  });

  const extraHosts = (env.SOAR_ALLOWED_HOSTS || '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const shown = isLoopback(host) || isWildcard(host) ? '127.0.0.1' : host;
  const url = (h) => `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
  const base = url(shown);
  const alsoAt = isWildcard(host) ? reachableAddresses(host === '::').map(url) : [];
  return {
    home,
    host,
    port,
    token,
    hasApprovals,
    adminPassword,
    settings,
    warnings,
    userSettingsFile: user.file,
    flowFile,
    extraHosts,
    alsoAt,
    editorUrl: `${base}/admin/`,
    intakeUrl: `${base}/soar/alerts`,
  };
}

/** The machine's non-loopback interface addresses (IPv6 too when listening on ::). */
function reachableAddresses(withIpv6) {
  const out = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list || []) {
      if (a.internal) continue;
      if (a.family === 'IPv4' || (withIpv6 && a.family === 'IPv6' && !a.address.startsWith('fe80:'))) out.push(a.address);
    }
  }
  return out;
}

function banner(hub) {
  const lines = [
    '',
    'SOAR hub is running',
    `  editor:       ${hub.editorUrl}`,
    ...hub.alsoAt.map((u) => `  also at:      ${u}/admin/`),
    `  intake:       ${hub.intakeUrl}`,
    `  intake token: ${hub.token ?? "(set in the editor: the alert intake node's token)"}`,
    hub.adminPassword ? `  editor login: admin / ${hub.adminPassword}   (shown only this once)` : null,
    `  audit log:    ${path.join(hub.home, 'soar', 'audit.jsonl')}`,
    `  settings:     ${hub.userSettingsFile}`,
    // Wait-for-approval nodes log each editor approver's approve and deny page links below.
    hub.hasApprovals ? "  approvals:    the editor's SOAR sidebar tab, or the approve/deny links this console shows when an alert waits" : null,
    '',
    'Send a sample alert:',
    `  curl -sS -X POST ${hub.intakeUrl} -H 'Authorization: Bearer ${hub.token ?? '<token>'}' -H 'Content-Type: application/json' --data-binary @${path.relative(process.cwd(), SAMPLE) || SAMPLE}`,
    '',
  ];
  return lines.filter((l) => l !== null).join('\n');
}

async function main() {
  // Everything the hub writes (sessions, credentials after a deploy, context) is owner-only.
  process.umask(0o077);
  const hub = prepareHub();
  for (const w of hub.warnings) console.warn(w);
  const { runHub } = require('./hub/server');
  const { DEFAULTS } = require('./hub/limits');
  // Behind a reverse proxy every client shares the proxy's address; these raise the bounds.
  const limits = {
    ...DEFAULTS,
    perSource: Number(process.env.SOAR_MAX_CONNECTIONS_PER_SOURCE) || DEFAULTS.perSource,
    total: Number(process.env.SOAR_MAX_CONNECTIONS) || DEFAULTS.total,
  };
  await runHub({ settings: hub.settings, host: hub.host, port: hub.port, flowFile: hub.flowFile, extraHosts: hub.extraHosts, limits });
  console.log(banner(hub));
}

module.exports = { prepareHub, readCredentials, writeCredentials, tightenHome, SECRET_FILES };
if (require.main === module)
  main().catch((err) => {
    console.error(`npm start: the hub did not start: ${err.message}`);
    process.exit(1);
  });
