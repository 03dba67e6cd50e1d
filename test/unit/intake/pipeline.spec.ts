import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AuditLog } from "../../../lib/core/audit";
import { FileStateStore } from "../../../lib/core/file-store";
import { BacklogFullError, IntakePipeline } from "../../../lib/intake/pipeline";

const samples = path.resolve(__dirname, "..", "..", "fixtures", "samples");
const wazuh = () => JSON.parse(fs.readFileSync(path.join(samples, "wazuh", "sshd-bruteforce.json"), "utf8"));

/** An audit log whose writes complete only when the test says so. */
class HeldAudit {
  held: (() => void)[] = [];
  records: { type: string; fields: Record<string, unknown> }[] = [];
  append(type: string, fields: Record<string, unknown>) {
    this.records.push({ type, fields });
    return new Promise<void>((resolve) => this.held.push(resolve));
  }
  releaseAll() {
    this.held.splice(0).forEach((r) => r());
  }
}

describe("intake pipeline", function () {
  let dir: string;
  let audit: AuditLog;
  let store: FileStateStore;
  beforeEach(async function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "soar-pipeline-"));
    audit = await AuditLog.open(path.join(dir, "audit.jsonl"));
    store = await FileStateStore.open(path.join(dir, "state"));
  });
  afterEach(async function () {
    await audit.close();
    await store.close();
  });

  const options = { intakeId: "n1", dedupWindowMs: 60_000, duplicateMode: "suppress" as const, maxBacklog: 100 };

  it("records alerts durably and counts them", async function () {
    const p = new IntakePipeline(audit, store, options);
    const out = await p.ingest([wazuh()], { via: "http", remoteAddress: "127.0.0.1" });
    assert.equal(out.toSend.length, 1);
    const lines = fs.readFileSync(path.join(dir, "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines[0].type, "alert.received");
    assert.equal(lines[0].remote, "127.0.0.1");
    assert.equal(lines[0].alert.fingerprint, out.alerts[0].alert.fingerprint);
    assert.deepEqual(p.counters, { received: 1, duplicates: 0, ignored: 0, rejected: 0 });
  });

  it("lets the dedup window expire, counted from the first alert", async function () {
    let now = Date.parse("2026-11-27T10:00:00Z");
    const p = new IntakePipeline(audit, store, options, () => now);
    assert.equal((await p.ingest([wazuh()], { via: "input" })).duplicates, 0);
    now += 30_000;
    assert.equal((await p.ingest([wazuh()], { via: "input" })).duplicates, 1);
    now += 31_000; // 61 s after the first: a new window starts
    assert.equal((await p.ingest([wazuh()], { via: "input" })).duplicates, 0);
    assert.equal((await p.ingest([wazuh()], { via: "input", replay: true })).duplicates, 0, "replays skip dedup");
  });

  it("keeps the window across a restart through the state store", async function () {
    const first = new IntakePipeline(audit, store, options);
    await first.ingest([wazuh()], { via: "input" });
    await store.close();
    store = await FileStateStore.open(path.join(dir, "state"));
    const second = new IntakePipeline(audit, store, options);
    await second.start();
    assert.equal((await second.ingest([wazuh()], { via: "input" })).duplicates, 1);
    const other = new IntakePipeline(audit, store, { ...options, intakeId: "n2" });
    await other.start();
    assert.equal((await other.ingest([wazuh()], { via: "input" })).duplicates, 0, "windows are per intake");
  });

  it("answers 429 when more alerts wait for their durable write than the bound, and recovers", async function () {
    const held = new HeldAudit();
    const p = new IntakePipeline(held as unknown as AuditLog, store, { ...options, dedupWindowMs: 0, maxBacklog: 3 });
    const alert = (i: number) => ({ ...wazuh(), id: `a${i}`, data: { srcip: `203.0.113.${i}` } });
    const first = p.ingest([alert(1), alert(2)], { via: "http" });
    await new Promise((r) => setImmediate(r));
    assert.equal(p.backlog, 2);
    await assert.rejects(p.ingest([alert(3), alert(4)], { via: "http" }), (err: unknown) => err instanceof BacklogFullError && err.status === 429 && err.retryAfterSeconds >= 1);
    held.releaseAll();
    await first;
    assert.equal(p.backlog, 0);
    const later = p.ingest([alert(5), alert(6), alert(7)], { via: "http" });
    await new Promise((r) => setImmediate(r));
    held.releaseAll();
    assert.equal((await later).alerts.length, 3);
    assert.equal(p.counters.rejected, 1);
  });

  it("resolves batches in arrival order even when a later one is durable first", async function () {
    const held = new HeldAudit();
    const p = new IntakePipeline(held as unknown as AuditLog, store, { ...options, dedupWindowMs: 0 });
    const order: string[] = [];
    const a = p.ingest([{ ...wazuh(), id: "first" }], { via: "input" }).then(() => order.push("first"));
    const b = p.ingest([{ ...wazuh(), id: "second" }], { via: "input" }).then(() => order.push("second"));
    await new Promise((r) => setImmediate(r));
    held.held[1](); // the second batch's write completes first
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, []);
    held.held[0]();
    await Promise.all([a, b]);
    assert.deepEqual(order, ["first", "second"]);
  });

  it("records non-alerts as ignored with the reason", async function () {
    const p = new IntakePipeline(audit, store, options);
    const out = await p.ingest([{ timestamp: "2026-11-20T21:05:44Z", event_type: "dns", src_ip: "198.18.0.1" }], { via: "input" });
    assert.equal(out.alerts.length, 0);
    assert.match(out.ignored[0].reason, /dns/);
    assert.equal(p.counters.ignored, 1);
  });
});
