#!/usr/bin/env node
// Build what Node-RED loads: compiled JS under dist/, and next to each node's .js its editor
// .html, icons/ and locales/ (Node-RED only looks beside the registered .js file).
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");

const root = path.resolve(__dirname, "..");
const dist = path.join(root, "dist");

fs.rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", root], { stdio: "inherit" });

const nodesOut = path.join(dist, "nodes");
for (const file of fs.readdirSync(path.join(root, "nodes"))) {
  if (file.endsWith(".html")) fs.copyFileSync(path.join(root, "nodes", file), path.join(nodesOut, file));
}
fs.cpSync(path.join(root, "icons"), path.join(nodesOut, "icons"), { recursive: true });
fs.cpSync(path.join(root, "locales"), path.join(nodesOut, "locales"), { recursive: true });

const cli = path.join(dist, "bin", "soar.js");
if (fs.existsSync(cli)) fs.chmodSync(cli, 0o755);
console.log("built dist/ (nodes with html, icons, locales)");
