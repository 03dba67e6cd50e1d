/**
 * A real CrowdSec Local API for system tests: Debian's crowdsec package, started by the test as its
 * own process (no systemd), with a temp config dir, a temp SQLite database and the LAPI on
 * 127.0.0.1:<free port>. Only the API runs (`-no-cs`: no acquisition, parsers or scenarios needed) and
 * the Central API is off (`online_client: null` and `-no-capi`): nothing leaves the machine.
 *
 * Install (offline, no central registration at install time):
 *   mkdir -p /etc/crowdsec
 *   [ -s /etc/crowdsec/online_api_credentials.yaml ] || echo '# no central API' > /etc/crowdsec/online_api_credentials.yaml
 *   DEBIAN_FRONTEND=noninteractive apt-get install -y crowdsec
 *
 * The machine and the bouncer key are made with cscli against the temp config, like an admin would.
 * Stopped by its PID.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const CROWDSEC_BIN = '/usr/bin/crowdsec';
export const CSCLI_BIN = '/usr/bin/cscli';

function run(command: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 127) : 0;
      resolve({ stdout, stderr: stderr || (error ? error.message : ''), code });
    });
  });
}

/** Why CrowdSec cannot be started here, or undefined when it can. */
export async function crowdsecUnsupportedReason(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  for (const binary of [CROWDSEC_BIN, CSCLI_BIN]) {
    if (!existsSync(binary)) return `${binary} is missing (apt-get install -y crowdsec; see test/helpers/crowdsec.ts for the offline install)`;
  }
  const version = await run(CROWDSEC_BIN, ['-version']);
  if (version.code !== 0) return `crowdsec -version failed: ${version.stderr.trim().slice(0, 200)}`;
  return undefined;
}

/** In a mocha before(): skip with the reason printed, or fail when SOAR_REQUIRE_SYSTEM=1. */
export async function requireCrowdsecOrSkip(context: Mocha.Context, what: string): Promise<void> {
  const reason = await crowdsecUnsupportedReason();
  if (reason === undefined) return;
  if (process.env.SOAR_REQUIRE_SYSTEM === '1') throw new Error(`${what}: ${reason} (SOAR_REQUIRE_SYSTEM=1 forbids skipping)`);
  console.log(`      skipping ${what}: ${reason}`);
  context.skip();
}

export interface RunningCrowdsec {
  /** LAPI root, http://127.0.0.1:<port>. */
  url: string;
  port: number;
  dir: string;
  machineId: string;
  password: string;
  bouncerKey: string;
  pid(): number;
  /** What crowdsec logged since it (last) started. */
  log(): string;
  /** cscli against this instance's config; resolves with stdout, rejects on a non-zero exit. */
  cscli(args: string[]): Promise<string>;
  /** Stop and start again on the same port and database (every JWT it issued becomes invalid). */
  restart(): Promise<void>;
  /** Stop by PID and remove the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

function configYaml(dir: string, port: number): string {
  return `common:
  daemonize: false
  log_media: stdout
  log_level: info
  working_dir: ${dir}
config_paths:
  config_dir: ${dir}/config/
  data_dir: ${dir}/data/
  simulation_path: ${dir}/config/simulation.yaml
  hub_dir: ${dir}/hub/
  index_path: ${dir}/hub/.index.json
  notification_dir: ${dir}/config/notifications/
  plugin_dir: /usr/lib/crowdsec/plugins/
cscli:
  output: human
db_config:
  log_level: info
  type: sqlite
  db_path: ${dir}/data/crowdsec.db
  use_wal: true
api:
  client:
    credentials_path: ${dir}/config/local_api_credentials.yaml
  server:
    log_level: info
    listen_uri: 127.0.0.1:${port}
    profiles_path: ${dir}/config/profiles.yaml
    online_client: null
    trusted_ips:
      - 127.0.0.1
prometheus:
  enabled: false
`;
}

// The LAPI refuses to start without a profile; alerts that carry their own decisions bypass it.
const PROFILES_YAML = `name: default_ip_remediation
filters:
 - Alert.Remediation == true && Alert.GetScope() == "Ip"
decisions:
 - type: ban
   duration: 4h
on_success: break
`;

function killQuietly(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killQuietly(child.pid, 'SIGTERM');
    const timer = setTimeout(() => killQuietly(child.pid, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  running.delete(child);
}

/** Start crowdsec with `config`; resolves once the LAPI says it listens. */
function launch(configFile: string, port: number, onLog: (text: string) => void): Promise<ChildProcess> {
  const child = spawn(CROWDSEC_BIN, ['-c', configFile, '-no-cs', '-no-capi'], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let seen = '';
  return new Promise<ChildProcess>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      seen += text;
      onLog(text);
      if (seen.includes(`Local API listening on 127.0.0.1:${port}`)) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      running.delete(child);
      reject(new Error(`crowdsec exited at start (${code ?? signal}): ${seen.trim().slice(-800)}`));
    });
  });
}

export async function startCrowdsec(): Promise<RunningCrowdsec> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const child of running) if (child.exitCode === null) killQuietly(child.pid, 'SIGKILL');
    });
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'soar-crowdsec-'));
  await mkdir(path.join(dir, 'config'));
  await mkdir(path.join(dir, 'data'));
  await writeFile(path.join(dir, 'config', 'profiles.yaml'), PROFILES_YAML);
  await writeFile(path.join(dir, 'config', 'simulation.yaml'), 'simulation: off\n');
  const configFile = path.join(dir, 'config', 'config.yaml');

  let log = '';
  let child: ChildProcess | undefined;
  let port = 0;
  // A port found free can be taken before crowdsec binds it: try a few.
  for (let attempt = 1; !child; attempt++) {
    port = await freePort();
    await writeFile(configFile, configYaml(dir, port));
    log = '';
    try {
      child = await launch(configFile, port, (text) => {
        log += text;
      });
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test(String(error))) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }

  const cscli = async (args: string[]): Promise<string> => {
    const result = await run(CSCLI_BIN, ['-c', configFile, ...args]);
    if (result.code !== 0) throw new Error(`cscli ${args.join(' ')} failed (${result.code}): ${result.stderr.trim().slice(0, 400)}`);
    return result.stdout;
  };

  const machineId = 'soar-test';
  const password = `Pw-${randomBytes(12).toString('hex')}`;
  let bouncerKey: string;
  try {
    await cscli(['machines', 'add', machineId, '--password', password, '-f', path.join(dir, 'config', 'local_api_credentials.yaml')]);
    bouncerKey = (await cscli(['bouncers', 'add', 'test-bouncer', '-o', 'raw'])).trim();
    if (!/^[A-Za-z0-9]{16,}$/.test(bouncerKey)) throw new Error(`unexpected bouncer key output: ${bouncerKey.slice(0, 80)}`);
  } catch (error) {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  let stopped = false;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dir,
    machineId,
    password,
    bouncerKey,
    pid: () => child!.pid!,
    log: () => log,
    cscli,
    restart: async () => {
      await stopChild(child!);
      log = '';
      child = await launch(configFile, port, (text) => {
        log += text;
      });
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopChild(child!);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
