import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startHub, type RunningHub } from '../helpers/hub-process';
import { readJsonLines, root } from '../helpers/nr';

const run = promisify(execFile);
const SAMPLES = path.join(root, 'test', 'fixtures', 'samples');

/** The approval page links the hub logged (Node-RED's log, the console of `npm start`) for an approval title. */
function loggedLinks(output: string, title: string): { decision: string; person: string; url: string }[] {
  return output
    .split('\n')
    .map((line) => /\[info\] approval "(.*)": (approve|deny) as (\S+): (http:\/\/\S+)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && m[1] === title)
    .map((m) => ({ decision: m[2], person: m[3], url: m[4] }));
}

async function poll<T>(get: () => Promise<T | undefined>, what: string, tries = 100): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await get();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** The Wazuh sshd sample as a new alert (its own fingerprint) from `source`. */
function sshdFrom(source: string): string {
  const raw = JSON.parse(fs.readFileSync(path.join(SAMPLES, 'wazuh', 'sshd-bruteforce.json'), 'utf8'));
  raw.id = `e2e-${source}`;
  raw.data.srcip = source;
  raw.full_log = `Nov 20 08:14:03 web-02 sshd[40211]: Invalid user admin from ${source} port 51122`;
  return JSON.stringify(raw);
}

function dotted(obj: unknown, p: string): unknown {
  return p.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

/** Raw HTTP so tests control bytes, chunking and timing exactly. */
function rawPost(
  url: string,
  opts: { headers?: Record<string, string>; body?: Buffer | string; chunks?: { data: Buffer | string; delayMs: number }[] },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: opts.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    // The server may answer (413) and close while we are still sending; the answer is what counts,
    // so an error only fails the request when no answer came at all.
    let failure: Error | undefined;
    let answered = false;
    req.on('response', () => (answered = true));
    req.on('error', (err) => (failure = err));
    req.on('close', () => {
      if (!answered) reject(failure ?? new Error('connection closed without an answer'));
    });
    if (opts.chunks) {
      let i = 0;
      const next = () => {
        if (i >= opts.chunks!.length) return; // never ends: a slow client
        const c = opts.chunks![i++];
        setTimeout(() => {
          if (!req.destroyed) req.write(c.data);
          next();
        }, c.delayMs);
      };
      next();
    } else {
      req.end(opts.body);
    }
  });
}

describe('the hub started with npm start (e2e)', function () {
  this.timeout(180000);
  let hub: RunningHub;
  let token: string;
  let intake: string;

  before(async function () {
    hub = await startHub();
    token = hub.banner['intake token'];
    intake = hub.banner.intake;
  });
  after(async function () {
    await hub?.stop();
  });

  const auditRecords = () => readJsonLines(path.join(hub.home, 'soar', 'audit.jsonl'));
  const blocklist = async () => (await fetch(`http://127.0.0.1:${hub.port}/soar/blocklist/soar.txt`)).text();
  /** What the editor's SOAR sidebar lists (no login on loopback). */
  const admin = (p: string, init?: RequestInit) => fetch(`http://127.0.0.1:${hub.port}/admin/soar/${p}`, init);
  const post = (body: string | Buffer, type = 'application/json', extra: Record<string, string> = {}) =>
    rawPost(intake, { headers: { authorization: `Bearer ${token}`, 'content-type': type, ...extra }, body });

  it('prints the editor URL, intake URL, token and a curl command that works as printed', async function () {
    assert.match(hub.banner.editor, /^http:\/\/127\.0\.0\.1:\d+\/admin\/$/);
    assert.equal(intake, `http://127.0.0.1:${hub.port}/soar/alerts`);
    assert.ok(token && token.length >= 20);
    assert.ok(fs.existsSync(path.join(hub.home, 'flows_cred.json')));
    assert.ok(!fs.readFileSync(path.join(hub.home, 'flows_cred.json'), 'utf8').includes(token), 'token stored encrypted');
    const { stdout } = await run('bash', ['-c', hub.banner.curl], { cwd: root });
    const answer = JSON.parse(stdout);
    assert.equal(answer.accepted + answer.duplicates, 1);
    const editor = await fetch(hub.banner.editor);
    assert.equal(editor.status, 200);
    assert.match(hub.output(), /^ {2}approvals: {4}the editor's SOAR sidebar tab, or the approve\/deny links this console shows/m);
  });

  it('enriches alerts against the bundled demo feed with no API key, and records the verdict', async function () {
    const res = await post(fs.readFileSync(path.join(SAMPLES, 'wazuh', 'integrator-envelope.json')));
    assert.equal(res.status, 202, res.body);
    const id = JSON.parse(res.body).ids[0];
    let rec: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && !rec; i++) {
      rec = auditRecords().find((r) => r.type === 'enrichment.verdict' && r.alertId === id);
      if (!rec) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(rec, 'verdict recorded in the audit log');
    assert.equal(rec!.verdict, 'malicious', JSON.stringify(rec));
    assert.match((rec!.why as string[]).join('\n'), /demo blocklist/);
  });

  it("holds the malicious alert for approval, logs one approve and one deny link in the hub's console, and blocks once the link is followed (GET shows, POST decides)", async function () {
    const title = 'Multiple Windows logon failures.';
    const links = await poll(
      async () => {
        const found = loggedLinks(hub.output(), title);
        return found.length >= 2 ? found : undefined;
      },
      `the approval links in the output:\n${hub.output().slice(-2000)}`,
    );
    assert.deepEqual(
      links.map((l) => [l.decision, l.person]),
      [
        ['approve', 'admin'],
        ['deny', 'admin'],
      ],
      'one approve and one deny link for the one approver',
    );
    for (const l of links) assert.match(l.url, new RegExp(`^http://127\\.0\\.0\\.1:${hub.port}/soar/approval/[\\w-]{43}$`));
    const list = await blocklist();
    assert.match(list, /^#/m, 'a comment header firewalls skip');
    assert.doesNotMatch(list, /^198\.51\.100\.23$/m, 'nothing is blocked before the approval');

    // The link works as printed: GET shows the request and decides nothing; POST approves.
    const approve = links[0].url;
    const page = await fetch(approve);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<form method="post">/);
    assert.match(html, /Multiple Windows logon failures\./);
    assert.match(html, /198\.51\.100\.23: malicious/);
    await new Promise((r) => setTimeout(r, 300));
    assert.doesNotMatch(await blocklist(), /^198\.51\.100\.23$/m, 'a GET decides nothing');
    const posted = await fetch(approve, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'comment=e2e' });
    assert.equal(posted.status, 200);
    assert.match(await posted.text(), /Decision recorded/);

    // The block happens: on the published blocklist as a firewall fetches it, and as a lease in the sidebar.
    await poll(async () => (/^198\.51\.100\.23$/m.test(await blocklist()) ? true : undefined), '198.51.100.23 on the blocklist');
    const leases = ((await (await admin('leases')).json()) as { leases: { target: string; approvalId?: string; by?: string }[] }).leases;
    const lease = leases.find((l) => l.target === '198.51.100.23');
    assert.ok(lease, JSON.stringify(leases));
    assert.match(String(lease!.approvalId), /^[\w-]+$/, 'the lease names the approval it ran under');
    const decided = auditRecords().find((r) => r.type === 'approval.decided' && r.approval === lease!.approvalId);
    assert.deepEqual(decided?.by, ['editor:admin']);
    const reused = await fetch(approve, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    assert.equal(reused.status, 409, 'a link works once');
  });

  it("lists the waiting alert in the SOAR sidebar's admin API and approves it there as the editor user (editor:anonymous without a login)", async function () {
    const title = 'sshd: brute force trying to get access to the system. Non existent user.';
    // The sample the first test posted waits with the same title: this alert's request is the next one.
    const requested = () => auditRecords().filter((r) => r.type === 'approval.requested' && r.title === title);
    const before = requested().length;
    const res = await post(sshdFrom('198.51.100.140'));
    assert.equal(res.status, 202, res.body);
    const mine = await poll(async () => requested()[before], "this alert's approval request");
    type Pending = { hub: string; id: string; title: string; action?: string; quorum: number };
    const pending = await poll(async () => {
      const list = ((await (await admin('approvals')).json()) as { approvals: Pending[] }).approvals;
      return list.find((a) => a.id === mine.approval);
    }, 'the pending approval in the sidebar');
    assert.equal(pending.title, title);
    assert.equal(pending.action, 'block the IP addresses the verdict accused');
    assert.equal(pending.quorum, 1);
    assert.doesNotMatch(await blocklist(), /^198\.51\.100\.140$/m);
    const decide = await admin('approvals/decide', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ hub: pending.hub, id: pending.id, decision: 'approve' }),
    });
    assert.equal(decide.status, 200);
    assert.deepEqual(await decide.json(), { identity: 'editor:anonymous', state: 'approved', resolved: true });
    await poll(async () => (/^198\.51\.100\.140$/m.test(await blocklist()) ? true : undefined), '198.51.100.140 on the blocklist');
    const still = ((await (await admin('approvals')).json()) as { approvals: Pending[] }).approvals;
    assert.ok(!still.some((a) => a.id === pending.id), 'no longer pending');
  });

  it('normalises every bundled sample as the expected files say', async function () {
    const formats = fs.readdirSync(path.join(SAMPLES, 'expected'));
    let checked = 0;
    for (const fmt of formats) {
      for (const file of fs.readdirSync(path.join(SAMPLES, 'expected', fmt))) {
        const expected = JSON.parse(fs.readFileSync(path.join(SAMPLES, 'expected', fmt, file), 'utf8'));
        const res = await post(fs.readFileSync(path.join(SAMPLES, fmt, file)), 'application/json', {});
        assert.equal(res.status, 202, `${fmt}/${file}: ${res.body}`);
        const answer = JSON.parse(res.body);
        const cases: Record<string, unknown>[] = expected.alerts ?? [expected];
        assert.equal(answer.ids.length, expected.count ?? 1, `${fmt}/${file} count`);
        const records = auditRecords().filter((r) => r.type === 'alert.received' || r.type === 'alert.duplicate');
        cases.forEach((want, i) => {
          const rec = records.findLast((r) => (r.alert as { id: string }).id === answer.ids[i]);
          assert.ok(rec, `${fmt}/${file}: audit record for ${answer.ids[i]}`);
          const alert = rec!.alert as Record<string, unknown>;
          for (const [key, value] of Object.entries(want)) {
            if (key === 'observables_include') {
              for (const o of value as { type: string; value: string }[]) {
                const obs = alert.observables as { type: string; value: string }[];
                assert.ok(
                  obs.some((x) => x.type === o.type && x.value === o.value),
                  `${fmt}/${file}: observable ${o.type} ${o.value} in ${JSON.stringify(obs)}`,
                );
              }
            } else {
              assert.deepEqual(dotted(alert, key), value, `${fmt}/${file}: ${key}`);
            }
          }
          checked++;
        });
      }
    }
    assert.ok(checked >= 12, `checked ${checked} alerts`);
  });

  it("answers bad input with the intake's own 4xx JSON reasons and never dies", async function () {
    const malformed = await post('{"rule": {"level": 10,');
    assert.equal(malformed.status, 400);
    assert.ok(JSON.parse(malformed.body).error, 'JSON reason from the intake, not an HTML page');

    const unsupported = await post('<alert/>', 'application/xml');
    assert.equal(unsupported.status, 415);
    assert.match(JSON.parse(unsupported.body).error, /json/i);

    const utf8 = await post(Buffer.concat([Buffer.from('{"title":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]));
    assert.equal(utf8.status, 400);
    assert.match(JSON.parse(utf8.body).error, /UTF-8/i);

    const deep = await post('['.repeat(100000) + ']'.repeat(100000));
    assert.equal(deep.status, 400);
    assert.match(JSON.parse(deep.body).error, /nest|deep/i);

    const proto = await post('{"title":"proto","src_ip":"203.0.113.5","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}');
    assert.ok(proto.status === 202 || proto.status === 400, proto.body);

    const huge = await post(
      JSON.stringify({
        timestamp: '2026-11-20T21:05:44.120931+0000',
        event_type: 'alert',
        src_ip: '203.0.113.9',
        src_port: 1e308,
        dest_ip: '192.0.2.1',
        dest_port: 443,
        alert: { signature_id: 1, signature: 'huge numbers', severity: 1e308 },
      }).replace('1e+308', '1e400'),
    );
    assert.ok(huge.status === 202 || huge.status === 400, huge.body);
    if (huge.status === 202) {
      const rec = auditRecords().find((r) => (r.alert as { id?: string } | undefined)?.id === JSON.parse(huge.body).ids[0]);
      assert.equal((rec!.alert as { source: { port?: number } }).source.port, undefined, 'an impossible port is dropped');
    }

    const big = await rawPost(intake, {
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: Buffer.alloc(20 * 1024 * 1024, 0x20),
    });
    assert.equal(big.status, 413);
    assert.match(JSON.parse(big.body).error, /limit/);

    const noAuth = await rawPost(intake, { headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(noAuth.status, 401);

    const slow = await rawPost(intake, {
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': '1000' },
      chunks: [{ data: '{"title":', delayMs: 10 }],
    });
    assert.equal(slow.status, 408);

    for (const r of [malformed, unsupported, utf8, deep, proto, huge, big, noAuth, slow]) assert.ok(r.status < 500, `no 5xx: ${r.status}`);
    const alive = await fetch(hub.banner.editor);
    assert.equal(alive.status, 200, 'the hub is still up');
  });

  it('replays recorded alerts into the flow with `soar replay`', async function () {
    const res = await post(fs.readFileSync(path.join(SAMPLES, 'graylog', 'http-notification.json')));
    const id = JSON.parse(res.body).ids[0];
    const file = path.join(hub.home, 'soar', 'audit.jsonl');
    const before = auditRecords().filter((r) => r.replay === true).length;
    const { stdout } = await run(process.execPath, [path.join(root, 'dist', 'bin', 'soar.js'), 'replay', '--file', file, '--id', id, '--url', intake], {
      env: { ...process.env, SOAR_INTAKE_TOKEN: token },
    });
    assert.ok(!stdout.includes(token), 'the token is never printed');
    const replayed = auditRecords().filter((r) => r.replay === true);
    assert.equal(replayed.length, before + 1, stdout);
    const rec = replayed[replayed.length - 1] as { type: string; alert: { id: string; title: string } };
    assert.equal(rec.type, 'alert.received', 'a replay is not swallowed by the dedup window');
    assert.equal(rec.alert.id, id);
    assert.equal(rec.alert.title, 'Port scan detected');
  });

  it('keeps an audit log whose chain `soar audit verify` confirms', async function () {
    const { stdout } = await run(process.execPath, [
      path.join(root, 'dist', 'bin', 'soar.js'),
      'audit',
      'verify',
      '--file',
      path.join(hub.home, 'soar', 'audit.jsonl'),
    ]);
    assert.match(stdout, /ok: \d+ records/);
  });

  it("runs the README's `npm run soar -- audit verify` as written in a checkout", async function () {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    assert.match(readme, /^ {4}npm run soar -- audit verify/m);
    const { stdout } = await run('npm', ['run', '--silent', 'soar', '--', 'audit', 'verify', '--file', path.join(hub.home, 'soar', 'audit.jsonl')], {
      cwd: root,
    });
    assert.match(stdout, /ok: \d+ records/);
  });
});

describe('the hub on a non-loopback address (e2e)', function () {
  this.timeout(120000);
  it('requires an editor login with the generated admin password', async function () {
    const hub = await startHub({ HOST: '0.0.0.0' });
    try {
      const login = hub.banner['editor login'];
      assert.ok(login, 'a generated password is printed');
      const password = /admin \/ (\S+)/.exec(login)![1];
      const base = `http://127.0.0.1:${hub.port}/admin`;
      assert.equal((await fetch(`${base}/flows`)).status, 401);
      const tokenRes = await fetch(`${base}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: 'node-red-editor', grant_type: 'password', scope: '*', username: 'admin', password }),
      });
      assert.equal(tokenRes.status, 200);
      const { access_token } = (await tokenRes.json()) as { access_token: string };
      assert.equal((await fetch(`${base}/flows`, { headers: { authorization: `Bearer ${access_token}` } })).status, 200);

      // A malicious alert waits for approval; the sidebar's admin API needs the login and decides as editor:admin.
      const alert = await fetch(hub.banner.intake, {
        method: 'POST',
        headers: { authorization: `Bearer ${hub.banner['intake token']}`, 'content-type': 'application/json' },
        body: sshdFrom('198.51.100.141'),
      });
      assert.equal(alert.status, 202, await alert.text());
      assert.equal((await fetch(`${base}/soar/approvals`)).status, 401);
      const auth = { authorization: `Bearer ${access_token}` };
      const pending = await poll(async () => {
        const list = ((await (await fetch(`${base}/soar/approvals`, { headers: auth })).json()) as { approvals: { hub: string; id: string }[] }).approvals;
        return list[0];
      }, 'the pending approval');
      const decide = await fetch(`${base}/soar/approvals/decide`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ hub: pending.hub, id: pending.id, decision: 'approve' }),
      });
      assert.equal(decide.status, 200);
      assert.deepEqual(await decide.json(), { identity: 'editor:admin', state: 'approved', resolved: true });
      await poll(
        async () => (/^198\.51\.100\.141$/m.test(await (await fetch(`http://127.0.0.1:${hub.port}/soar/blocklist/soar.txt`)).text()) ? true : undefined),
        '198.51.100.141 on the blocklist',
      );
      for (const f of fs.readdirSync(hub.home)) {
        const file = path.join(hub.home, f);
        if (fs.statSync(file).isFile()) assert.ok(!fs.readFileSync(file, 'utf8').includes(password), `only the hash is kept (${f})`);
      }
      // The banner names the addresses the hub is reachable at, not only 127.0.0.1.
      const external = Object.values(os.networkInterfaces())
        .flat()
        .filter((a) => a && !a.internal && a.family === 'IPv4');
      const also = hub
        .output()
        .split('\n')
        .filter((l) => /^\s{2}also at:/.test(l))
        .join('\n');
      for (const a of external) assert.ok(also.includes(`http://${a!.address}:${hub.port}/admin/`), `${a!.address} in ${also}`);
    } finally {
      await hub.stop();
    }
  });
});
