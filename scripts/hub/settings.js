// The hub's Node-RED settings: safe defaults from `npm start`, the user's own file
// ($SOAR_HOME/settings.user.js) merged over them, then the few keys the hub itself depends on.
'use strict';
const fs = require('fs');
const path = require('path');

const USER_FILE = 'settings.user.js';

/** Keys `npm start` sets from the environment or relies on; a user value is ignored, with a warning. */
const FORCED = {
  uiHost: 'the address comes from HOST; the admin guard and the banner depend on it',
  uiPort: 'the port comes from PORT; the admin guard and the banner depend on it',
  userDir: 'the user directory is SOAR_HOME',
  flowFile: '`npm start` seeds and reads flows.json (quickstart, intake paths while starting)',
  credentialSecret: 'the kept secret (or SOAR_CREDENTIAL_SECRET) that flows_cred.json is encrypted with',
  httpAdminRoot: "the editor lives under /admin so its body parser never touches the intake's raw (HMAC) bodies",
  httpNodeRoot: 'intake and blocklist paths are served from /',
  httpRoot: 'would move the editor and the intake (see httpAdminRoot, httpNodeRoot)',
  httpAdminCors: 'the admin side answers only its own origin',
  https: 'the hub serves plain HTTP; put a TLS reverse proxy in front (and list its name in SOAR_ALLOWED_HOSTS)',
  httpStatic: "the hub's server does not serve static folders",
};

const TEMPLATE = `// Your own Node-RED settings for the SOAR hub. \`npm start\` merges this object over its defaults
// (objects key by key, anything else replaces) and never rewrites this file.
// Set by the hub, ignored here: ${Object.keys(FORCED).join(', ')}.
// A login (adminAuth) may be replaced by your own but not removed off loopback.
// See README.md, section "The hub (\`npm start\`)".
module.exports = {
  // editorTheme: { palette: { catalogues: ["https://nodes.example.org/catalogue.json"] } },
  // logging: { console: { level: "debug" } },
};
`;

const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/** Deep merge of plain objects; arrays, functions and scalars from `over` replace. */
function merge(base, over) {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    out[k] = isPlainObject(v) && isPlainObject(base[k]) ? merge(base[k], v) : v;
  }
  return out;
}

/** The user's settings object, {} when there is no file. A broken file is an error, never ignored. */
function loadUserSettings(home) {
  const file = path.join(home, USER_FILE);
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, TEMPLATE, { mode: 0o600 });
    return { file, settings: {}, created: true };
  }
  let value;
  try {
    delete require.cache[require.resolve(file)];
    value = require(file);
  } catch (err) {
    throw new Error(`${file} could not be loaded: ${err.message}`);
  }
  if (!isPlainObject(value)) throw new Error(`${file} must export an object (module.exports = { ... })`);
  return { file, settings: value, created: false };
}

/**
 * defaults ⊕ user ⊕ forced. `requireLogin`: without the user's own adminAuth the hub's stays.
 * Returns the settings and warnings about user keys that were overridden.
 */
function composeSettings({ defaults, user, forced, requireLogin }) {
  const warnings = [];
  const mine = { ...user };
  for (const key of Object.keys(FORCED)) {
    if (key in mine) {
      warnings.push(`settings.user.js: ${key} is ignored (${FORCED[key]})`);
      delete mine[key];
    }
  }
  if (requireLogin && 'adminAuth' in mine && !mine.adminAuth) {
    warnings.push('settings.user.js: adminAuth cannot be switched off while the hub listens off loopback');
    delete mine.adminAuth;
  }
  const settings = { ...merge(defaults, mine), ...forced };
  if (mine.adminAuth) settings.adminAuth = mine.adminAuth; // a login is replaced whole, never mixed with ours
  for (const key of Object.keys(FORCED)) if (!(key in forced)) delete settings[key];
  return { settings, warnings };
}

module.exports = { USER_FILE, FORCED, TEMPLATE, merge, loadUserSettings, composeSettings };
