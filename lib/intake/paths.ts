/**
 * Which intake owns which URL path in this runtime. Express matches routes case-insensitively and
 * ignores one trailing slash, so `/Soar/Alerts/` and `/soar/alerts` are the same path: a second
 * intake there would never see a request. The first to claim a path keeps it; the second is refused.
 * Node-RED-free.
 */

export interface PathOwner {
  id: string;
  name?: string;
}

/** The path as the node's route uses it (leading slash added, surrounding blanks trimmed). */
export function routePathOf(configured: string | undefined): string | undefined {
  const p = configured?.trim();
  if (!p) return undefined;
  return p.startsWith('/') ? p : `/${p}`;
}

/** The form two paths are compared in. */
export function pathKey(routePath: string): string {
  let p = routePath.trim().toLowerCase();
  if (!p.startsWith('/')) p = `/${p}`;
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p;
}

export class PathRegistry {
  private readonly owners = new Map<string, PathOwner>();

  /** Claim a path; returns the other owner when it is taken (by another node). */
  claim(routePath: string, owner: PathOwner): PathOwner | undefined {
    const key = pathKey(routePath);
    const current = this.owners.get(key);
    if (current && current.id !== owner.id) return current;
    this.owners.set(key, owner);
    return undefined;
  }

  release(routePath: string, id: string): void {
    const key = pathKey(routePath);
    if (this.owners.get(key)?.id === id) this.owners.delete(key);
  }

  owner(routePath: string): PathOwner | undefined {
    return this.owners.get(pathKey(routePath));
  }
}
