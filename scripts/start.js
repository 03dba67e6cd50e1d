#!/usr/bin/env node
// `npm start`: a working response hub on embedded defaults. Prepares the user directory
// ($SOAR_HOME, default .hub/), the credential secret, the intake token and the quickstart
// playbook, then runs Node-RED from this checkout's own dependencies with the pack loaded.
"use strict";
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const { spawn } = require("child_process");

const root = path.resolve(__dirname, "..");
const QUICKSTART = path.join(root, "examples", "Quickstart playbook.json");
const INTAKE_NODE_ID = "soar-quickstart-intake";
const SAMPLE = path.join(root, "test", "fixtures", "samples", "wazuh", "sshd-bruteforce.json");

function isLoopback(host) {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

/** A secret from the environment, else one generated once and kept (mode 0600) in the hub folder. */
function keptSecret(home, file, envValue, bytes = 24) {
  if (envValue) return { value: envValue, generated: false };
  const p = path.join(home, file);
  if (fs.existsSync(p)) return { value: fs.readFileSync(p, "utf8").trim(), generated: false };
  const value = crypto.randomBytes(bytes).toString("base64url");
  fs.writeFileSync(p, value + "\n", { mode: 0o600 });
  return { value, generated: true };
}

// Node-RED's own credential file format: {"$": <iv hex><aes-256-ctr base64>}, key sha256(secret).
function readCredentials(file, secret) {
  if (!fs.existsSync(file)) return {};
  const stored = JSON.parse(fs.readFileSync(file, "utf8"));
  if (!stored.$) return stored;
  const key = crypto.createHash("sha256").update(secret).digest();
  const decipher = crypto.createDecipheriv("aes-256-ctr", key, Buffer.from(stored.$.slice(0, 32), "hex"));
  return JSON.parse(decipher.update(stored.$.slice(32), "base64", "utf8") + decipher.final("utf8"));
}
function writeCredentials(file, secret, creds) {
  const key = crypto.createHash("sha256").update(secret).digest();
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv("aes-256-ctr", key, iv);
  const $ = iv.toString("hex") + cipher.update(JSON.stringify(creds), "utf8", "base64") + cipher.final("base64");
  fs.writeFileSync(file, JSON.stringify({ $ }), { mode: 0o600 });
}

function bcryptHash(password) {
  // bcryptjs comes with Node-RED's editor API (it checks adminAuth passwords with it).
  const bcrypt = require(require.resolve("bcryptjs", { paths: [path.dirname(require.resolve("@node-red/editor-api/package.json"))] }));
  return bcrypt.hashSync(password, 10);
}

function prepareHub(env = process.env) {
  const home = path.resolve(env.SOAR_HOME || path.join(root, ".hub"));
  const host = env.HOST || "127.0.0.1";
  const port = Number(env.PORT) || 1880;
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });

  const secret = keptSecret(home, ".credential-secret", env.SOAR_CREDENTIAL_SECRET, 32).value;
  const token = keptSecret(home, ".intake-token", env.SOAR_INTAKE_TOKEN).value;

  // An open Node-RED editor on a network is remote code execution: require a login off loopback.
  let adminPassword;
  let adminHash;
  if (!isLoopback(host)) {
    const hashFile = path.join(home, ".admin-password.bcrypt");
    if (fs.existsSync(hashFile)) adminHash = fs.readFileSync(hashFile, "utf8").trim();
    else {
      adminPassword = crypto.randomBytes(12).toString("base64url");
      adminHash = bcryptHash(adminPassword);
      fs.writeFileSync(hashFile, adminHash + "\n", { mode: 0o600 });
    }
  }

  const flowFile = path.join(home, "flows.json");
  if (!fs.existsSync(flowFile)) fs.copyFileSync(QUICKSTART, flowFile);
  const credFile = path.join(home, "flows_cred.json");
  const creds = readCredentials(credFile, secret);
  const flows = JSON.parse(fs.readFileSync(flowFile, "utf8"));
  if (flows.some((n) => n.id === INTAKE_NODE_ID)) {
    creds[INTAKE_NODE_ID] = { ...(creds[INTAKE_NODE_ID] || {}), token };
    writeCredentials(credFile, secret, creds);
  }

  const settings = {
    uiHost: host,
    uiPort: port,
    httpAdminRoot: "/admin", // keeps the editor's body parser off the intake's raw bodies (HMAC)
    httpNodeRoot: "/",
    userDir: home,
    flowFile: "flows.json",
    credentialSecret: secret,
    nodesDir: [root],
    adminAuth: adminHash ? { type: "credentials", users: [{ username: "admin", password: adminHash, permissions: "*" }] } : undefined,
    editorTheme: { tours: false, palette: { catalogues: [] }, projects: { enabled: false } },
    externalModules: { palette: { allowInstall: false } },
    telemetry: { enabled: false },
    diagnostics: { enabled: false },
    logging: { console: { level: env.SOAR_LOG_LEVEL || "info", metrics: false, audit: false } },
  };
  const settingsFile = path.join(home, "settings.js");
  fs.writeFileSync(
    settingsFile,
    "// Written by `npm start` on every start from the environment (HOST, PORT, SOAR_HOME...); edits here are replaced.\n" +
      "module.exports = " + JSON.stringify(settings, null, 2) + ";\n",
    { mode: 0o600 },
  );

  const shown = isLoopback(host) || host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  const base = `http://${shown.includes(":") ? `[${shown}]` : shown}:${port}`;
  return { home, host, port, token, adminPassword, settingsFile, editorUrl: `${base}/admin/`, intakeUrl: `${base}/soar/alerts` };
}

function banner(hub) {
  const lines = [
    "",
    "SOAR hub is running",
    `  editor:       ${hub.editorUrl}`,
    `  intake:       ${hub.intakeUrl}`,
    `  intake token: ${hub.token}`,
    hub.adminPassword ? `  editor login: admin / ${hub.adminPassword}   (shown only this once)` : null,
    `  audit log:    ${path.join(hub.home, "soar", "audit.jsonl")}`,
    "",
    "Send a sample alert:",
    `  curl -sS -X POST ${hub.intakeUrl} -H 'Authorization: Bearer ${hub.token}' -H 'Content-Type: application/json' --data-binary @${path.relative(process.cwd(), SAMPLE) || SAMPLE}`,
    "",
  ];
  return lines.filter((l) => l !== null).join("\n");
}

async function waitForEditor(url, child, timeoutMs = 60000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && child.exitCode === null) {
    try {
      const res = await fetch(url);
      if (res.status === 200 || res.status === 401) return true;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

async function main() {
  const hub = prepareHub();
  const red = require.resolve("node-red/red.js");
  const child = spawn(process.execPath, [red, "-u", hub.home, "-s", hub.settingsFile], { stdio: "inherit" });
  const stop = (sig) => child.exitCode === null && child.kill(sig);
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  if (await waitForEditor(hub.editorUrl, child)) {
    console.log(banner(hub));
  }
}

module.exports = { prepareHub, readCredentials, writeCredentials };
if (require.main === module) main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
