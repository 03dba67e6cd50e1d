/**
 * Routes the SOAR nodes add to Node-RED's HTTP apps (RED.httpNode) at deploy and take away on close,
 * as plain (req, res) handlers: Node-RED adds no body parser to httpNode (the core http-in node adds
 * its parsers per route), so a handler that checks a signature reads the raw body itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

type Layer = { route?: { path: string; stack?: { handle: unknown }[] } };
/** The part of an express app used here (express 4 keeps its router at _router, express 5 at router). */
export type RouteApp = {
  get(path: string, h: unknown): void;
  post(path: string, h: unknown): void;
  _router?: { stack: Layer[] };
  router?: { stack: Layer[] };
};
export type PlainHandler = (req: IncomingMessage, res: ServerResponse) => void;
export type Method = 'get' | 'post';

/** Add a route; the returned function removes exactly this handler's layers again. */
export function addRoute(app: RouteApp, path: string, methods: readonly Method[], handler: PlainHandler): () => void {
  const handle = (req: unknown, res: unknown) => handler(req as IncomingMessage, res as ServerResponse);
  for (const method of methods) app[method](path, handle);
  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    const stack = (app._router ?? app.router)?.stack ?? [];
    for (let i = stack.length - 1; i >= 0; i--) {
      const route = stack[i].route;
      if (route && route.path === path && route.stack?.some((l) => l.handle === handle)) stack.splice(i, 1);
    }
  };
}

const shared = new WeakMap<object, Map<string, { users: number; remove: () => void }>>();

/**
 * One route per app and path shared by every node that needs it (the approval page): added by the
 * first, removed with the last. `handler` is used when the route is added.
 */
export function addSharedRoute(app: RouteApp, path: string, methods: readonly Method[], handler: PlainHandler): () => void {
  let byPath = shared.get(app);
  if (!byPath) shared.set(app, (byPath = new Map()));
  let entry = byPath.get(path);
  if (!entry) {
    entry = { users: 0, remove: addRoute(app, path, methods, handler) };
    byPath.set(path, entry);
  }
  entry.users += 1;
  const mine = entry;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    mine.users -= 1;
    if (mine.users > 0) return;
    if (byPath!.get(path) === mine) byPath!.delete(path);
    mine.remove();
  };
}

/** The public base URL of Node-RED's HTTP nodes, from its settings (http://host:port/<httpNodeRoot>). */
export function httpNodeBase(settings: unknown): string {
  const s = settings as { uiHost?: string; uiPort?: number; httpNodeRoot?: string | false; https?: unknown };
  const host = !s.uiHost || s.uiHost === '0.0.0.0' || s.uiHost === '::' ? 'localhost' : s.uiHost.includes(':') ? `[${s.uiHost}]` : s.uiHost;
  let root = typeof s.httpNodeRoot === 'string' ? s.httpNodeRoot : '/';
  if (!root.endsWith('/')) root += '/';
  return `${s.https ? 'https' : 'http'}://${host}:${s.uiPort ?? 1880}${root}`;
}
