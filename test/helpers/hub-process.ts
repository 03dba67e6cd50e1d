/**
 * Start the hub exactly as the README says (`npm start`, here without its prestart build, which
 * `npm test` already did) in a fresh SOAR_HOME on a free port, and stop it by its process group.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as net from "node:net";
import { root, tempDir } from "./nr";

export interface RunningHub {
  proc: ChildProcess;
  home: string;
  port: number;
  output: () => string;
  banner: Record<string, string>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export async function startHub(env: Record<string, string> = {}, timeoutMs = 90000): Promise<RunningHub> {
  const home = env.SOAR_HOME ?? tempDir("soar-hub-");
  const port = Number(env.PORT ?? (await freePort()));
  const proc = spawn("npm", ["start", "--ignore-scripts", "--silent"], {
    cwd: root,
    env: { ...process.env, SOAR_HOME: home, PORT: String(port), ...env },
    detached: true, // own process group: npm, the start script and Node-RED stop together
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once("exit", () => r()));
    try {
      process.kill(-proc.pid!, "SIGTERM");
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-proc.pid!, "SIGKILL");
      } catch {
        /* gone */
      }
    }, 10000);
    await exited;
    clearTimeout(timer);
  };
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    const check = () => {
      if (out.includes("Send a sample alert:")) {
        clearTimeout(timer);
        resolve(true);
      }
    };
    proc.stdout!.on("data", check);
    proc.once("exit", () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (!ready) {
    await stop();
    throw new Error(`hub did not start:\n${out.slice(-4000)}`);
  }
  const banner: Record<string, string> = {};
  for (const line of out.split("\n")) {
    const m = /^\s{2}(editor|intake|intake token|editor login|audit log):\s+(.*)$/.exec(line);
    if (m) banner[m[1]] = m[2].trim();
  }
  const curl = out.split("\n").find((l) => l.trim().startsWith("curl "));
  if (curl) banner.curl = curl.trim();
  return { proc, home, port, output: () => out, banner, stop };
}
