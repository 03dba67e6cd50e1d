/**
 * Node-RED test-helper setup shared by the node-level suites. SOAR_NODE_RED points at another
 * Node-RED (the CI leg that runs this suite on Node-RED 5 under Node 22).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';

export const helper = require('node-red-node-test-helper');
const nodeRedMain = process.env.SOAR_NODE_RED ? require.resolve(process.env.SOAR_NODE_RED) : require.resolve('node-red');
helper.init(nodeRedMain);
if (process.env.SOAR_NODE_RED) {
  const version = require(path.join(path.dirname(require.resolve(path.join(process.env.SOAR_NODE_RED, 'package.json'))), 'package.json')).version;
  console.log(`node-level tests on Node-RED ${version} (${nodeRedMain}), Node ${process.version}`);
}

export const root = path.resolve(__dirname, '..', '..');

/** The compiled node modules, as Node-RED loads them (run `npm run build` first; `npm test` does). */
export function nodeModule(name: string): (RED: unknown) => void {
  const file = path.join(root, 'dist', 'nodes', `${name}.js`);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run npm run build`);
  return require(file);
}

/**
 * Wrap a node module so the test can reach the RED object it was given: test-helper's RED.httpNode
 * is an express app that is not mounted on the helper's server, so tests serve it themselves.
 */
export function capturingRED(mod: (RED: unknown) => void): { module: (RED: unknown) => void; red: () => { httpNode: http.RequestListener } } {
  let captured: { httpNode: http.RequestListener } | undefined;
  return {
    module: (RED: unknown) => {
      captured = RED as { httpNode: http.RequestListener };
      return mod(RED);
    },
    red: () => {
      if (!captured) throw new Error('node module not loaded yet');
      return captured;
    },
  };
}

export async function serve(listener: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

export function tempDir(prefix = 'soar-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function readJsonLines(file: string): Record<string, unknown>[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

export function sample(rel: string): string {
  return fs.readFileSync(path.join(root, 'test', 'fixtures', 'samples', rel), 'utf8');
}
