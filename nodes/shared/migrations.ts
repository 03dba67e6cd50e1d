/**
 * Runtime side of the versioned node config: the same plain-JS migrations the editor loads from
 * resources/migrations (so they are written once), applied to a node's config before it reads it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface MigrationStep {
  describe: string;
  up(config: Record<string, unknown>): Record<string, unknown> | void;
}
export interface TypeMigrations {
  type: string;
  steps: MigrationStep[];
}
export interface MigrationResult<C> {
  config: C;
  from: number;
  to: number;
  changed: boolean;
  /** Saved by a newer release: left as it is. */
  newer?: boolean;
}
interface Core {
  register(spec: TypeMigrations): void;
  currentVersion(type: string): number;
  migrate<C>(config: C): MigrationResult<C>;
  migrateEditorNode(node: Record<string, unknown>): boolean;
  installEditor(RED: unknown): void;
  types: Record<string, TypeMigrations>;
}

/** resources/ sits at the package root: two levels up from nodes/shared (tsx), three from dist/nodes/shared. */
export function migrationsDir(): string {
  const candidates = [path.join(__dirname, '..', '..', 'resources', 'migrations'), path.join(__dirname, '..', '..', '..', 'resources', 'migrations')];
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'core.js')));
  if (!found) throw new Error(`resources/migrations/core.js not found (looked in ${candidates.join(', ')})`);
  return found;
}

let core: Core | undefined;

/** The migration registry with every type module of resources/migrations loaded. */
export function migrations(): Core {
  if (core) return core;
  const dir = migrationsDir();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require(path.join(dir, 'core.js')) as Core;
  for (const file of fs.readdirSync(dir).sort()) {
    if (!file.endsWith('.js') || file === 'core.js') continue;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded.register(require(path.join(dir, file)) as TypeMigrations);
  }
  core = loaded;
  return core;
}

/**
 * A node's saved config brought to its current shape (changed in place, and returned). `warn`
 * hears about configs saved by a newer release (used as they are).
 */
export function migrateConfig<C extends { type?: string; configVersion?: unknown }>(config: C, warn?: (message: string) => void): C {
  const result = migrations().migrate(config);
  if (result.newer) warn?.(`config version ${String(config.configVersion)} is newer than this release knows (${result.to}); used as it is`);
  // In place: Node-RED's per-node copy of the config carries hidden properties (its flow) that
  // createNode needs and a copy would lose.
  if (result.changed) Object.assign(config, result.config);
  return config;
}
