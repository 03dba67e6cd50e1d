import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../../../bin/soar';
import { AuditLog } from '../../../lib/core/audit';
import { REPO_ROOT } from '../../fixtures/crash/child';

interface Captured {
  code: number;
  out: string[];
  err: string[];
}

interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const TOKEN = 's3cr3t-intake-token';

describe('soar CLI', () => {
  let root: string;
  let auditFile: string;

  const run = async (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Captured> => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, { out: (line) => out.push(line), err: (line) => err.push(line), env, cwd: root });
    return { code, out, err };
  };

  /** Audit log with `count` alerts a0..a(count-1), one a minute from 10:00, with verdicts in between. */
  const writeAudit = async (file: string, count: number) => {
    let ms = Date.parse('2024-03-01T10:00:00.000Z');
    const log = await AuditLog.open(file, { fsync: false, now: () => new Date(ms) });
    for (let i = 0; i < count; i++) {
      await log.append('alert.received', { alert: { id: `a${i}`, source: 'suricata', n: i } });
      await log.append('verdict', { alertId: `a${i}`, verdict: 'benign' });
      ms += 60_000;
    }
    await log.close();
  };

  beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-cli-'));
    auditFile = path.join(root, 'audit.jsonl');
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  describe('audit verify', () => {
    it('prints ok and exits 0 for an intact chain', async () => {
      await writeAudit(auditFile, 5);
      assert.deepEqual(await run(['audit', 'verify', '--file', auditFile]), {
        code: 0,
        out: ['ok: 10 records, chain intact up to the signed checkpoint (seq 10)'],
        err: [],
      });
    });

    it('defaults to $SOAR_HOME/soar/audit.jsonl, SOAR_HOME defaulting to .hub', async () => {
      await writeAudit(path.join(root, '.hub', 'soar', 'audit.jsonl'), 1);
      await writeAudit(path.join(root, 'home', 'soar', 'audit.jsonl'), 2);
      assert.deepEqual((await run(['audit', 'verify'])).out, ['ok: 2 records, chain intact up to the signed checkpoint (seq 2)']);
      assert.deepEqual((await run(['audit', 'verify'], { SOAR_HOME: 'home' })).out, ['ok: 4 records, chain intact up to the signed checkpoint (seq 4)']);
    });

    it('prints where the chain breaks and exits 1', async () => {
      await writeAudit(auditFile, 5);
      const lines = fs.readFileSync(auditFile, 'utf8').split('\n');
      lines[6] = lines[6].replace('"source":"suricata"', '"source":"forged"');
      fs.writeFileSync(auditFile, lines.join('\n'));
      assert.deepEqual(await run(['audit', 'verify', '--file', auditFile]), {
        code: 1,
        out: ['broken at line 7 (seq 7): MAC mismatch (6 records verified)'],
        err: [],
      });
    });

    it('reports truncation (checkpoint ahead of the file) and exits 1', async () => {
      await writeAudit(auditFile, 3);
      const lines = fs.readFileSync(auditFile, 'utf8').split('\n');
      fs.writeFileSync(auditFile, lines.slice(0, 4).join('\n') + '\n');
      assert.deepEqual(await run(['audit', 'verify', '--file', auditFile]), {
        code: 1,
        out: ['truncated at line 5: the log ends at seq 4 but the signed checkpoint vouches for seq 6 (4 records verified)'],
        err: [],
      });
    });

    it('reports a missing key, and takes --key-file and --checkpoint', async () => {
      await writeAudit(auditFile, 2);
      const moved = path.join(root, 'elsewhere', 'k');
      fs.mkdirSync(path.dirname(moved));
      fs.renameSync(path.join(root, 'audit.key'), moved);
      const missing = await run(['audit', 'verify', '--file', auditFile]);
      assert.equal(missing.code, 1);
      assert.match(missing.out[0], /^key missing: audit key .*audit\.key is missing: only the unkeyed part of the log can be checked \(0 records verified\)$/);
      fs.renameSync(`${auditFile}.head`, path.join(root, 'elsewhere', 'h'));
      assert.deepEqual(await run(['audit', 'verify', '--file', auditFile, '--key-file', moved, '--checkpoint', path.join(root, 'elsewhere', 'h')]), {
        code: 0,
        out: ['ok: 4 records, chain intact up to the signed checkpoint (seq 4)'],
        err: [],
      });
      assert.equal((await run(['audit', 'verify', '--file', auditFile, '--key-file', moved])).out[0].split(':')[0], 'checkpoint missing');
    });

    it('an old unkeyed log verifies, saying it is unkeyed; continued keyed, it says up to which line', async () => {
      const log = await AuditLog.open(auditFile, { fsync: false, keyed: false });
      await log.append('alert.received', { alert: { id: 'old' } });
      await log.close();
      assert.deepEqual((await run(['audit', 'verify', '--file', auditFile])).out, [
        'ok: 1 records, chain intact; unkeyed (no audit key): corruption is detected, rewriting is not',
      ]);
      await writeAudit(auditFile, 1);
      assert.deepEqual((await run(['audit', 'verify', '--file', auditFile])).out, [
        'ok: 3 records, chain intact up to the signed checkpoint (seq 3); unkeyed up to line 1 (written before the key)',
      ]);
    });

    it('exits 2 with a message when the file cannot be read or the usage is wrong', async () => {
      const missing = await run(['audit', 'verify', '--file', 'nope.jsonl']);
      assert.equal(missing.code, 2);
      assert.match(missing.err[0], /cannot read audit log .*nope\.jsonl: ENOENT/);
      const unknown = await run(['audit', 'verify', '--bogus']);
      assert.equal(unknown.code, 2);
      assert.match(unknown.err[0], /--bogus/);
      assert.equal((await run(['frobnicate'])).code, 2);
    });

    it('the compiled-style entry point sets the process exit code', async function () {
      this.timeout(30_000);
      await writeAudit(auditFile, 2);
      const script = path.join(REPO_ROOT, 'bin', 'soar.ts');
      const exec = (args: string[]) =>
        new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
          let stdout = '';
          child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
          child.on('error', reject);
          child.on('close', (code) => resolve({ code, stdout }));
        });
      assert.deepEqual(await exec(['audit', 'verify', '--file', auditFile]), {
        code: 0,
        stdout: 'ok: 4 records, chain intact up to the signed checkpoint (seq 4)\n',
      });
      fs.appendFileSync(auditFile, 'oops\n');
      assert.deepEqual(await exec(['audit', 'verify', '--file', auditFile]), { code: 1, stdout: 'broken at line 5: not JSON (4 records verified)\n' });
    });
  });

  describe('replay', () => {
    let server: http.Server;
    let received: ReceivedRequest[];
    let answer: { status: number; body: string };
    let url: string;

    beforeEach(async () => {
      received = [];
      answer = { status: 202, body: '{"accepted":true}' };
      server = http.createServer((req, res) => {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => (body += chunk));
        req.on('end', () => {
          received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
          res.writeHead(answer.status, { 'content-type': 'application/json' });
          res.end(answer.body);
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/soar/alerts`;
    });
    afterEach(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    const alertsOf = (request: ReceivedRequest) => {
      assert.ok(request.body.endsWith('\n'));
      return request.body
        .slice(0, -1)
        .split('\n')
        .map((line) => JSON.parse(line));
    };

    it('POSTs the recorded alerts as NDJSON batches of at most 500, with the bearer token and replay=1', async () => {
      await writeAudit(auditFile, 1200);
      const result = await run(['replay', '--file', auditFile, '--url', url], { SOAR_INTAKE_TOKEN: TOKEN });
      assert.equal(result.code, 0, result.err.join('\n'));
      assert.equal(received.length, 3);
      assert.deepEqual(
        received.map((request) => alertsOf(request).length),
        [500, 500, 200],
      );
      for (const request of received) {
        assert.equal(request.method, 'POST');
        assert.equal(request.url, '/soar/alerts?replay=1');
        assert.equal(request.headers.authorization, `Bearer ${TOKEN}`);
        assert.equal(request.headers['content-type'], 'application/x-ndjson');
      }
      const all = received.flatMap(alertsOf);
      assert.deepEqual(all[0], { id: 'a0', source: 'suricata', n: 0 });
      assert.deepEqual(
        all.map((alert) => alert.id),
        Array.from({ length: 1200 }, (_, i) => `a${i}`),
      );
      assert.equal(result.out.at(-1), `replayed 1200 alerts in 3 requests to ${url}`);
      assert.ok(
        result.out.some((line) => line.includes('{"accepted":true}')),
        "prints the intake's answers",
      );
      assert.ok(![...result.out, ...result.err].some((line) => line.includes(TOKEN)), 'the token is never printed');
    });

    it('--token is used too, and an existing query is kept', async () => {
      await writeAudit(auditFile, 2);
      const result = await run(['replay', '--file', auditFile, '--url', `${url}?source=test`, '--token', TOKEN]);
      assert.equal(result.code, 0);
      assert.equal(received[0].headers.authorization, `Bearer ${TOKEN}`);
      assert.equal(received[0].url, '/soar/alerts?source=test&replay=1');
    });

    it('filters by id and by time', async () => {
      await writeAudit(auditFile, 10);
      await run(['replay', '--file', auditFile, '--url', url, '--id', 'a3', '--id', 'a7', '--id', 'zzz']);
      assert.deepEqual(
        received.flatMap(alertsOf).map((alert) => alert.id),
        ['a3', 'a7'],
      );
      received = [];
      // a2 is at 10:02 (included), a5 at 10:05 (excluded).
      await run(['replay', '--file', auditFile, '--url', url, '--since', '2024-03-01T10:02:00Z', '--until', '2024-03-01T10:05:00Z']);
      assert.deepEqual(
        received.flatMap(alertsOf).map((alert) => alert.id),
        ['a2', 'a3', 'a4'],
      );
      received = [];
      const none = await run(['replay', '--file', auditFile, '--url', url, '--since', '2030-01-01T00:00:00Z']);
      assert.equal(none.code, 0);
      assert.equal(received.length, 0, 'nothing to send, no request');
      assert.equal(none.out.at(-1), `replayed 0 alerts in 0 requests to ${url}`);
    });

    it('--dry-run lists the ids and sends nothing', async () => {
      await writeAudit(auditFile, 4);
      const result = await run(['replay', '--file', auditFile, '--dry-run', '--id', 'a1', '--id', 'a2']);
      assert.deepEqual(result, { code: 0, out: ['a1', 'a2', 'dry run: 2 alerts would be replayed'], err: [] });
      assert.equal(received.length, 0);
    });

    it('a non-2xx answer exits 1 with the status and body, token redacted', async () => {
      await writeAudit(auditFile, 3);
      answer = { status: 401, body: `{"error":"bad token ${TOKEN}"}` };
      const result = await run(['replay', '--file', auditFile, '--url', url, '--token', TOKEN]);
      assert.equal(result.code, 1);
      assert.equal(received.length, 1);
      assert.match(result.err[0], /intake answered 401 Unauthorized/);
      assert.match(result.err[0], /bad token \*\*\*/);
      assert.ok(!result.err[0].includes(TOKEN));
    });

    it('an unreachable intake exits 1', async () => {
      await writeAudit(auditFile, 1);
      const closed = await new Promise<number>((resolve) => {
        const probe = http.createServer().listen(0, '127.0.0.1', () => {
          const port = (probe.address() as AddressInfo).port;
          probe.close(() => resolve(port));
        });
      });
      const result = await run(['replay', '--file', auditFile, '--url', `http://127.0.0.1:${closed}/soar/alerts`]);
      assert.equal(result.code, 1);
      assert.match(result.err[0], /could not reach http:\/\/127\.0\.0\.1:\d+\/soar\/alerts: ECONNREFUSED/);
    });

    it('usage errors exit 2: no --url, bad dates, bad scheme', async () => {
      await writeAudit(auditFile, 1);
      assert.equal((await run(['replay', '--file', auditFile])).code, 2);
      assert.equal((await run(['replay', '--file', auditFile, '--url', url, '--since', 'yesterday'])).code, 2);
      assert.equal((await run(['replay', '--file', auditFile, '--url', 'ftp://127.0.0.1/x'])).code, 2);
      assert.equal(received.length, 0);
    });
  });
});
