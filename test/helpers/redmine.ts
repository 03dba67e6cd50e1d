/**
 * A real Redmine for system tests: Debian's `redmine` + `redmine-sqlite`, run by the test as its
 * own process under WEBrick on 127.0.0.1:<free port>, with its own SQLite database per run. Nothing
 * of the package's own instance is written.
 *
 * Install: see .ci/run (`apt-get install -y --no-install-recommends redmine redmine-sqlite`, with
 * the debconf answer "sqlite3" for the database type). The package starts no service.
 *
 * How: the package serves an instance folder (`instances/<name>` with config/database.yml and a
 * secret key) picked by REDMINE_INSTANCE, and its Gemfile reads the adapters of every instance's
 * database.yml under /usr/share/redmine. So a run copies /usr/share/redmine (~10 MB) to a temp dir,
 * gives the copy its own `instances/soar` folder whose database.yml points at the run's SQLite file,
 * and makes the copy's Gemfile look at the copy. The database comes from a template made once per
 * Redmine version (migrate, then default data in a second call — in one call the default data does
 * not load — then REST on, a private project "security", a custom field for the incident key and
 * the admin's API key; a second project "strict" whose issues need a "Team" field), kept in the temp dir and copied per run.
 *
 * Stopped by its PID (SIGTERM, then SIGKILL).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const REDMINE_ROOT = '/usr/share/redmine';
const INSTANCE = 'soar';

export interface RedmineSetup {
  apiKey: string;
  project: string;
  customFieldId: number;
  version: string;
}

export interface RunningRedmine extends RedmineSetup {
  url: string;
  port: number;
  dir: string;
  pid(): number | undefined;
  /** Milliseconds from spawning the server to its first answer (the last start). */
  startMs: number;
  /** Milliseconds spent making the template database (0 when it was already there). */
  templateMs: number;
  log(): string;
  /** Stop the server (by PID); the database stays. */
  stop(): Promise<void>;
  /** Start it again on the same port and database. */
  start(): Promise<void>;
  /** Stop and remove the temp dir. Safe to call twice. */
  dispose(): Promise<void>;
  /** `rails runner` on this instance's database (the server may run or not); resolves with its stdout. */
  runner(ruby: string, input?: string): Promise<string>;
}

function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { encoding: 'utf8', timeout: options.timeoutMs ?? 300_000, cwd: options.cwd, env: options.env, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 127) : 0;
        resolve({ stdout, stderr: stderr || (error ? error.message : ''), code });
      },
    );
  });
}

async function must(what: string, command: string, args: string[], options: Parameters<typeof run>[2] = {}): Promise<string> {
  const result = await run(command, args, options);
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}): ${(result.stderr || result.stdout).trim().slice(-1500)}`);
  return result.stdout;
}

/** Why Redmine cannot be started here, or undefined when it can. */
export function redmineUnsupportedReason(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (!existsSync(path.join(REDMINE_ROOT, 'bin', 'rails')))
    return `${REDMINE_ROOT} is missing (apt-get install -y --no-install-recommends redmine redmine-sqlite; see .ci/run)`;
  if (!existsSync('/var/lib/redmine/Gemfile.lock')) return 'the redmine package is not configured (/var/lib/redmine/Gemfile.lock is missing)';
  if (!readFileSyncSafe('/var/lib/redmine/Gemfile.lock').includes('sqlite3'))
    return 'redmine-sqlite is not installed (no sqlite3 in /var/lib/redmine/Gemfile.lock)';
  return undefined;
}

function readFileSyncSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** In a mocha before(): skip with the reason printed, or fail when SOAR_REQUIRE_SYSTEM=1. */
export function requireRedmineOrSkip(context: Mocha.Context, what: string): void {
  const reason = redmineUnsupportedReason();
  if (reason === undefined) return;
  if (process.env.SOAR_REQUIRE_SYSTEM === '1') throw new Error(`${what}: ${reason} (SOAR_REQUIRE_SYSTEM=1 forbids skipping)`);
  console.log(`      skipping ${what}: ${reason}`);
  context.skip();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const port = (probe.address() as { port: number }).port;
      probe.close(() => resolve(port));
    });
  });
}

/** A private copy of the package's application folder whose instance uses `database`. */
async function prepareApp(dir: string, database: string): Promise<string> {
  const app = path.join(dir, 'app');
  await must('copying /usr/share/redmine', 'cp', ['-a', REDMINE_ROOT, app]);
  // The links point into the package's own instance: replaced by the copy's own files.
  await rm(path.join(app, 'instances'), { force: true });
  await rm(path.join(app, 'config', 'database.yml'), { force: true });
  await rm(path.join(app, 'Gemfile.lock'), { force: true });
  await copyFile('/var/lib/redmine/Gemfile.lock', path.join(app, 'Gemfile.lock'));
  const instance = path.join(app, 'instances', INSTANCE);
  for (const sub of ['config', 'tmp', 'log', 'files', 'public']) await mkdir(path.join(instance, sub), { recursive: true });
  await writeFile(
    path.join(instance, 'config', 'database.yml'),
    `production:\n  adapter: sqlite3\n  database: ${JSON.stringify(database)}\n  encoding: utf8\n`,
  );
  await writeFile(path.join(instance, 'config', 'secret_key.txt'), randomBytes(32).toString('hex') + '\n');
  const gemfile = path.join(app, 'Gemfile');
  const text = await readFile(gemfile, 'utf8');
  await writeFile(gemfile, text.split(`${REDMINE_ROOT}/{config,instances/*/config}/database.yml`).join(`${app}/{config,instances/*/config}/database.yml`));
  return app;
}

const railsEnv = (): NodeJS.ProcessEnv => ({ ...process.env, RAILS_ENV: 'production', REDMINE_INSTANCE: INSTANCE, REDMINE_LANG: 'en' });

const SETUP_RUBY = `
Setting.rest_api_enabled = '1'
raise 'default data missing: no trackers, statuses or priorities' if Tracker.count == 0 || IssueStatus.count == 0 || IssuePriority.count == 0
project = Project.find_by(identifier: 'security') || Project.create!(name: 'Security', identifier: 'security', is_public: false, tracker_ids: Tracker.pluck(:id), enabled_module_names: %w[issue_tracking])
cf = IssueCustomField.find_by(name: 'SOAR incident') || IssueCustomField.create!(name: 'SOAR incident', field_format: 'string', is_for_all: true, is_filter: true, searchable: true, tracker_ids: Tracker.pluck(:id))
strict = Project.find_by(identifier: 'strict') || Project.create!(name: 'Strict', identifier: 'strict', is_public: false, tracker_ids: Tracker.pluck(:id), enabled_module_names: %w[issue_tracking])
IssueCustomField.find_by(name: 'Team') || IssueCustomField.create!(name: 'Team', field_format: 'string', is_for_all: false, is_required: true, project_ids: [strict.id], tracker_ids: Tracker.pluck(:id))
admin = User.find_by_login('admin')
admin.update_columns(must_change_passwd: false)
puts 'SETUP ' + { 'apiKey' => admin.api_key, 'project' => project.identifier, 'customFieldId' => cf.id, 'version' => Redmine::VERSION.to_s }.to_json
`;

async function packageVersion(): Promise<string> {
  const out = await run('dpkg-query', ['-W', '-f', '${Version}', 'redmine']);
  return out.code === 0 && out.stdout.trim() ? out.stdout.trim().replace(/[^\w.+-]/g, '_') : 'unknown';
}

/** The template database and its setup, made once per Redmine version. */
async function template(): Promise<{ file: string; setup: RedmineSetup; madeMs: number }> {
  // The suffix changes whenever SETUP_RUBY does.
  const dir = path.join(tmpdir(), `soar-redmine-template-${await packageVersion()}-2`);
  const file = path.join(dir, 'template.sqlite3');
  const setupFile = path.join(dir, 'setup.json');
  if (existsSync(file) && existsSync(setupFile)) return { file, setup: JSON.parse(await readFile(setupFile, 'utf8')) as RedmineSetup, madeMs: 0 };
  const started = Date.now();
  const work = await mkdtemp(path.join(tmpdir(), 'soar-redmine-build-'));
  try {
    const database = path.join(work, 'db.sqlite3');
    const app = await prepareApp(work, database);
    await must('rails db:migrate', 'ruby', ['bin/rails', 'db:migrate'], { cwd: app, env: railsEnv() });
    await must('rails redmine:load_default_data', 'ruby', ['bin/rails', 'redmine:load_default_data'], { cwd: app, env: railsEnv() });
    const out = await must('rails runner (setup)', 'ruby', ['bin/rails', 'runner', SETUP_RUBY], { cwd: app, env: railsEnv() });
    const line = out.split('\n').find((l) => l.startsWith('SETUP '));
    if (!line) throw new Error(`rails runner printed no setup: ${out.slice(-500)}`);
    const setup = JSON.parse(line.slice(6)) as RedmineSetup;
    await mkdir(dir, { recursive: true });
    await copyFile(database, `${file}.tmp`);
    await writeFile(`${setupFile}.tmp`, JSON.stringify(setup));
    await rename(`${file}.tmp`, file);
    await rename(`${setupFile}.tmp`, setupFile);
    return { file, setup, madeMs: Date.now() - started };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

export async function startRedmine(): Promise<RunningRedmine> {
  const tpl = await template();
  const dir = await mkdtemp(path.join(tmpdir(), 'soar-redmine-'));
  const database = path.join(dir, 'db.sqlite3');
  await copyFile(tpl.file, database);
  const app = await prepareApp(dir, database);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = '';
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of running) if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
    });
  }

  const instance: RunningRedmine = {
    ...tpl.setup,
    url,
    port,
    dir,
    startMs: 0,
    templateMs: tpl.madeMs,
    pid: () => child?.pid,
    log: () => output,
    async start() {
      output = '';
      const began = Date.now();
      const proc = spawn(
        'ruby',
        ['-e', 'require "webrick"; load Gem.bin_path("rack","rackup")', '--', '-s', 'webrick', '-o', '127.0.0.1', '-p', String(port), '-E', 'production'],
        {
          cwd: app,
          env: railsEnv(),
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      child = proc;
      running.add(proc);
      proc.once('exit', () => running.delete(proc));
      const keep = (chunk: Buffer) => {
        output = (output + chunk.toString('utf8')).slice(-20_000);
      };
      proc.stdout?.on('data', keep);
      proc.stderr?.on('data', keep);
      const deadline = began + 240_000;
      for (;;) {
        if (proc.exitCode !== null) throw new Error(`redmine exited with ${proc.exitCode} before answering: ${output.slice(-1500)}`);
        try {
          const answer = await fetch(`${url}/users/current.json`, { headers: { 'x-redmine-api-key': tpl.setup.apiKey }, signal: AbortSignal.timeout(5000) });
          if (answer.status === 200) break;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) {
          await instance.stop();
          throw new Error(`redmine did not answer within 240 s: ${output.slice(-1500)}`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      instance.startMs = Date.now() - began;
    },
    async stop() {
      const proc = child;
      if (!proc?.pid || proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      process.kill(proc.pid, 'SIGTERM');
      const killer = setTimeout(() => {
        if (proc.pid && proc.exitCode === null) process.kill(proc.pid, 'SIGKILL');
      }, 10_000);
      await gone;
      clearTimeout(killer);
    },
    async dispose() {
      await instance.stop();
      await rm(dir, { recursive: true, force: true });
    },
    runner(ruby: string, input?: string) {
      return new Promise((resolve, reject) => {
        const proc = execFile(
          'ruby',
          ['bin/rails', 'runner', ruby],
          { encoding: 'utf8', timeout: 300_000, cwd: app, env: railsEnv(), maxBuffer: 16 * 1024 * 1024 },
          (error, stdout, stderr) => (error ? reject(new Error(`rails runner failed: ${(stderr || error.message).slice(-1500)}`)) : resolve(stdout)),
        );
        proc.stdin?.end(input ?? '');
      });
    },
  };
  try {
    await instance.start();
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return instance;
}
