import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import * as path from "node:path";
import { capturingRED, helper, nodeModule, readJsonLines, sample, serve, tempDir } from "../helpers/nr";

const hubModule = nodeModule("hub");
const intakeModule = nodeModule("alert-intake");
const TOKEN = "intake-test-token-0123456789";

type Msg = Record<string, any>;

function flow(dir: string, intake: Record<string, unknown> = {}) {
  return [
    { id: "tab1", type: "tab", label: "t" },
    { id: "hub1", type: "soar-hub", dir },
    { id: "in1", z: "tab1", type: "soar-alert-intake", hub: "hub1", path: "/soar/alerts", authType: "bearer", format: "auto", dedupWindow: 300, duplicateMode: "suppress", maxBodyKb: 64, maxBacklog: 5000, bodyTimeout: 5, wires: [["out1"]], ...intake },
    { id: "out1", z: "tab1", type: "helper" },
    { id: "catch1", z: "tab1", type: "catch", scope: null, wires: [["caught1"]] },
    { id: "caught1", z: "tab1", type: "helper" },
  ];
}

/** Collect messages arriving at a helper node. */
function collect(id: string): Msg[] {
  const got: Msg[] = [];
  helper.getNode(id).on("input", (m: Msg) => got.push(m));
  return got;
}

function nextMessage(id: string): Promise<Msg> {
  return new Promise((resolve) => helper.getNode(id).once("input", resolve));
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe("soar-alert-intake node", function () {
  let dir: string;
  beforeEach(async function () {
    dir = tempDir();
    await helper.startServer();
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
  });

  describe("input port", function () {
    it("normalises a Wazuh alert from msg.payload and records it in the audit log first", async function () {
      await helper.load([hubModule, intakeModule], flow(dir), { in1: { token: TOKEN } });
      const out = nextMessage("out1");
      helper.getNode("in1").receive({ payload: JSON.parse(sample("wazuh/sshd-bruteforce.json")) });
      const msg = await out;
      assert.equal(msg.alert.schema, "soar.alert/1");
      assert.equal(msg.alert.origin.format, "wazuh");
      assert.equal(msg.alert.source.ip, "203.0.113.44");
      assert.equal(msg.alert.host.name, "web-02");
      assert.equal(msg.alert.severity, 3);
      assert.deepEqual(msg.payload, msg.alert);
      assert.equal(msg.soar.via, "input");
      const audit = readJsonLines(path.join(dir, "audit.jsonl"));
      const rec = audit.find((r) => r.type === "alert.received") as Msg;
      assert.ok(rec, "alert.received record written");
      assert.equal(rec.alert.id, msg.alert.id);
      assert.equal(rec.alert.raw, undefined, "raw is not kept in the audit log");
    });

    it("fans an Alertmanager batch out into one message per alert", async function () {
      await helper.load([hubModule, intakeModule], flow(dir), { in1: { token: TOKEN } });
      const got = collect("out1");
      helper.getNode("in1").receive({ payload: sample("alertmanager/webhook-v4.json") });
      await until(() => got.length === 2, "two alerts");
      assert.deepEqual(got.map((m) => m.alert.severity), [5, 3]);
      assert.equal(got[0].alert.status, "firing");
    });

    it("reports malformed input to Catch nodes with the reason and sends nothing", async function () {
      await helper.load([hubModule, intakeModule], flow(dir), { in1: { token: TOKEN } });
      const got = collect("out1");
      const caught = nextMessage("caught1");
      helper.getNode("in1").receive({ payload: '{"rule": {"level": 10' });
      const err = await caught;
      assert.match(err.error.message, /JSON|parse|Unexpected|end/i);
      assert.equal(got.length, 0);
    });

    it("suppresses duplicates within the window, and the window survives a redeploy", async function () {
      await helper.load([hubModule, intakeModule], flow(dir), { in1: { token: TOKEN } });
      let got = collect("out1");
      const alert = JSON.parse(sample("wazuh/sshd-bruteforce.json"));
      helper.getNode("in1").receive({ payload: alert });
      await until(() => got.length === 1, "first alert");
      const second = { ...alert, id: "1763626999.1", timestamp: "2026-11-20T08:15:03.512+0000" };
      helper.getNode("in1").receive({ payload: second });
      await until(() => readJsonLines(path.join(dir, "audit.jsonl")).some((r) => r.type === "alert.duplicate"), "duplicate recorded");
      assert.equal(got.length, 1, "duplicate not sent on");
      assert.ok(helper.getNode("in1").status.calledWithMatch({ text: "soar-alert-intake.status.counts" }));

      await helper.unload();
      await helper.load([hubModule, intakeModule], flow(dir), { in1: { token: TOKEN } });
      got = collect("out1");
      helper.getNode("in1").receive({ payload: { ...alert, id: "1763627000.2" } });
      await until(() => readJsonLines(path.join(dir, "audit.jsonl")).filter((r) => r.type === "alert.duplicate").length === 2, "duplicate after redeploy");
      assert.equal(got.length, 0);
    });

    it("passes duplicates marked when configured to", async function () {
      await helper.load([hubModule, intakeModule], flow(dir, { duplicateMode: "mark" }), { in1: { token: TOKEN } });
      const got = collect("out1");
      const alert = JSON.parse(sample("suricata/eve-alert.json"));
      helper.getNode("in1").receive({ payload: alert });
      helper.getNode("in1").receive({ payload: alert });
      await until(() => got.length === 2, "both alerts");
      assert.deepEqual(got.map((m) => m.soar.duplicate), [false, true]);
    });

    it("maps a generic alert with the user's JSONata expression", async function () {
      const jsonata = '{"title": payload.summary, "source.ip": payload.attacker.addr, "severity": payload.sev}';
      await helper.load([hubModule, intakeModule], flow(dir, { format: "generic", genericJsonata: jsonata }), { in1: { token: TOKEN } });
      const out = nextMessage("out1");
      helper.getNode("in1").receive({ payload: { summary: "Custom detector fired", attacker: { addr: "198.51.100.77" }, sev: "critical" } });
      const msg = await out;
      assert.equal(msg.alert.title, "Custom detector fired");
      assert.equal(msg.alert.source.ip, "198.51.100.77");
      assert.equal(msg.alert.origin.format, "generic");
    });
  });

  describe("HTTP endpoint", function () {
    async function start(intake: Record<string, unknown>, creds: Record<string, string>) {
      const cap = capturingRED(intakeModule);
      await helper.load([hubModule, cap.module], flow(dir, intake), { in1: creds });
      return serve(cap.red().httpNode);
    }

    it("accepts with the bearer token, answers 202 only after the audit record is on disk", async function () {
      const srv = await start({}, { token: TOKEN });
      try {
        const got = collect("out1");
        const res = await fetch(`${srv.url}/soar/alerts`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: sample("elastic/detection-alert.json") });
        assert.equal(res.status, 202);
        const body = await res.json();
        assert.deepEqual(body, { accepted: 1, ids: ["5f0c4b1e-8a1d-4c3e-9a2f-1b2c3d4e5f60"], duplicates: 0, ignored: [] });
        const audit = readJsonLines(path.join(dir, "audit.jsonl"));
        assert.ok(audit.some((r: Msg) => r.type === "alert.received" && r.alert.id === body.ids[0]), "recorded before the answer");
        await until(() => got.length === 1, "message sent");
        assert.equal(got[0].soar.via, "http");
      } finally {
        await srv.close();
      }
    });

    it("refuses missing and wrong tokens with 401 and a JSON reason, without recording", async function () {
      const srv = await start({}, { token: TOKEN });
      try {
        const none = await fetch(`${srv.url}/soar/alerts`, { method: "POST", body: sample("generic/minimal.json") });
        assert.equal(none.status, 401);
        assert.match((await none.json()).error, /missing bearer token/);
        const wrong = await fetch(`${srv.url}/soar/alerts`, { method: "POST", headers: { authorization: "Bearer nope" }, body: sample("generic/minimal.json") });
        assert.equal(wrong.status, 401);
        const text = JSON.stringify(await wrong.json());
        assert.match(text, /invalid bearer token/);
        assert.ok(!text.includes(TOKEN));
        assert.equal(readJsonLines(path.join(dir, "audit.jsonl")).filter((r) => r.type === "alert.received").length, 0);
      } finally {
        await srv.close();
      }
    });

    it("checks an HMAC-SHA256 signature of the raw body", async function () {
      const secret = "hmac-secret-for-tests";
      const srv = await start({ authType: "hmac", hmacHeader: "X-Hub-Signature-256" }, { hmacSecret: secret });
      try {
        const body = sample("graylog/http-notification.json");
        const sig = "sha256=" + createHmac("sha256", secret).update(body).digest("hex");
        const ok = await fetch(`${srv.url}/soar/alerts`, { method: "POST", headers: { "x-hub-signature-256": sig, "content-type": "application/json" }, body });
        assert.equal(ok.status, 202);
        const tampered = await fetch(`${srv.url}/soar/alerts`, { method: "POST", headers: { "x-hub-signature-256": sig, "content-type": "application/json" }, body: body.replace("Port scan", "Port scam") });
        assert.equal(tampered.status, 401);
        assert.match((await tampered.json()).error, /does not match/);
      } finally {
        await srv.close();
      }
    });

    it("checks HTTP basic credentials and the source allowlist", async function () {
      const srv = await start({ authType: "basic", allowFrom: "127.0.0.0/8" }, { basicUser: "wazuh", basicPassword: "pw-123" });
      try {
        const basic = (u: string, p: string) => "Basic " + Buffer.from(`${u}:${p}`).toString("base64");
        const ok = await fetch(`${srv.url}/soar/alerts`, { method: "POST", headers: { authorization: basic("wazuh", "pw-123") }, body: sample("wazuh/sshd-bruteforce.json") });
        assert.equal(ok.status, 202);
        const bad = await fetch(`${srv.url}/soar/alerts`, { method: "POST", headers: { authorization: basic("wazuh", "pw-124") }, body: sample("wazuh/sshd-bruteforce.json") });
        assert.equal(bad.status, 401);
      } finally {
        await srv.close();
      }
      await helper.unload();
      const denied = await start({ authType: "bearer", allowFrom: "198.18.0.0/15" }, { token: TOKEN });
      try {
        const res = await fetch(`${denied.url}/soar/alerts`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: sample("wazuh/sshd-bruteforce.json") });
        assert.equal(res.status, 403);
        assert.match((await res.json()).error, /not in the allowlist/);
      } finally {
        await denied.close();
      }
    });

    it("answers bad input with 400/413/415 and its reason, NDJSON with every alert, non-alerts as ignored", async function () {
      const srv = await start({}, { token: TOKEN });
      const post = (body: string | Buffer, type = "application/json") =>
        fetch(`${srv.url}/soar/alerts`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": type }, body: typeof body === "string" ? body : new Uint8Array(body) });
      try {
        const malformed = await post('{"title": "x", ');
        assert.equal(malformed.status, 400);
        assert.ok((await malformed.json()).error.length > 5);
        const xml = await post("<alert/>", "application/xml");
        assert.equal(xml.status, 415);
        const big = await post(JSON.stringify({ title: "x", pad: "y".repeat(70 * 1024) }));
        assert.equal(big.status, 413);
        assert.match((await big.json()).error, /limit/);
        const ndjson = [sample("wazuh/sshd-bruteforce.json"), sample("suricata/eve-alert.json")].map((s) => JSON.stringify(JSON.parse(s))).join("\n");
        const two = await post(ndjson, "application/x-ndjson");
        assert.equal(two.status, 202);
        assert.equal((await two.json()).accepted, 2);
        const flowEvent = await post(JSON.stringify({ timestamp: "2026-11-20T21:05:44.120931+0000", event_type: "flow", src_ip: "198.18.30.7", dest_ip: "192.0.2.200" }));
        assert.equal(flowEvent.status, 202);
        const fb = await flowEvent.json();
        assert.equal(fb.accepted, 0);
        assert.match(fb.ignored[0].reason, /flow/);
      } finally {
        await srv.close();
      }
    });

    it("skips dedup for replays and removes its route when closed", async function () {
      const srv = await start({}, { token: TOKEN });
      try {
        const post = (q = "") => fetch(`${srv.url}/soar/alerts${q}`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: sample("crowdsec/alerts.json") });
        assert.equal((await (await post()).json()).duplicates, 0);
        assert.equal((await (await post()).json()).duplicates, 1);
        const replayed = await (await post("?replay=1")).json();
        assert.equal(replayed.duplicates, 0);
        assert.equal(replayed.accepted, 1);
        await helper.unload();
        const gone = await post();
        assert.equal(gone.status, 404);
      } finally {
        await srv.close();
      }
    });
  });
});
