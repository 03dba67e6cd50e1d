/**
 * The hub as `npm start` runs it, fed a table of malformed and hostile requests (intake and admin
 * side). It must neither die, nor answer 5xx, nor answer an intake path with an HTML page, nor leave
 * a request unanswered; and it must still serve the editor and accept an alert afterwards.
 * Everything goes to 127.0.0.1 over raw sockets, so the test controls bytes, headers and timing.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { startHub, type RunningHub } from '../helpers/hub-process';
import { root } from '../helpers/nr';

const SAMPLE = fs.readFileSync(path.join(root, 'test', 'fixtures', 'samples', 'wazuh', 'sshd-bruteforce.json'), 'utf8');
const HANG_MS = 15000;
/** Interim answers (100 Continue) before the real one. */
const INTERIM = /^(HTTP\/1\.[01] 1\d\d[^\r]*\r\n(?:[^\r]+\r\n)*\r\n)+/;

interface Attempt {
  name: string;
  side: 'intake' | 'admin';
  method: string;
  path: string;
  /** Sent in this order, duplicates kept; Host and Connection are added unless given. */
  headers: [string, string][];
  body?: Buffer;
  /** Sent with Transfer-Encoding: chunked, one chunk per entry. */
  chunks?: Buffer[];
  /** Body sent in pieces with pauses (a slow sender). */
  trickle?: { data: Buffer; delayMs: number }[];
}

interface Answer {
  status?: number;
  headers: Record<string, string>;
  body: string;
  /** "hang": nothing within HANG_MS; "reset": the connection ended with no status line. */
  failure?: 'hang' | 'reset';
}

let counter = 0;
/** A valid Wazuh alert that dedup will not swallow (its source address is in the fingerprint). */
function alert(mutate: (a: Record<string, unknown>) => void = () => {}): Record<string, unknown> {
  const a = JSON.parse(SAMPLE);
  const n = ++counter;
  a.data.srcip = `203.0.113.${n % 250}`;
  a.id = `hostile.${Date.now()}.${n}`;
  mutate(a);
  return a;
}
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

function exchange(port: number, at: Attempt): Promise<Answer> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const names = at.headers.map(([k]) => k.toLowerCase());
    const head: [string, string][] = [];
    if (!names.includes('host')) head.push(['Host', `127.0.0.1:${port}`]);
    head.push(...at.headers);
    if (!names.includes('connection')) head.push(['Connection', 'close']);
    if (at.chunks) head.push(['Transfer-Encoding', 'chunked']);
    else if (!names.includes('content-length')) {
      const len = at.body?.length ?? at.trickle?.reduce((n, p) => n + p.data.length, 0);
      if (len !== undefined) head.push(['Content-Length', String(len)]);
    }
    const start = Buffer.from(`${at.method} ${at.path} HTTP/1.1\r\n${head.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`, 'latin1');
    let got = Buffer.alloc(0);
    let done = false;
    const finish = (failure?: 'hang' | 'reset') => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const text = got.toString('latin1').replace(INTERIM, '');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (!m) return resolve({ headers: {}, body: '', failure: failure ?? 'reset' });
      const [top, ...rest] = text.split('\r\n\r\n');
      const headers: Record<string, string> = {};
      for (const line of top.split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status: Number(m[1]), headers, body: rest.join('\r\n\r\n') });
    };
    const timer = setTimeout(() => finish('hang'), HANG_MS);
    sock.on('data', (d) => {
      got = Buffer.concat([got, d]);
      // A complete answer with a length ends the exchange even if the server keeps the socket.
      const text = got.toString('latin1').replace(INTERIM, '');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end));
      if (at.method === 'HEAD' || /^HTTP\/1\.[01] (204|304)/.test(text)) return finish();
      if (len && Buffer.byteLength(text, 'latin1') >= end + 4 + Number(len[1])) finish();
    });
    sock.on('end', () => finish());
    sock.on('close', () => finish());
    sock.on('error', () => {
      /* EPIPE/ECONNRESET after the server answered early: what it answered counts */
    });
    const write = (b: Buffer) => {
      if (!sock.destroyed && !done) sock.write(b);
    };
    sock.on('connect', async () => {
      write(start);
      if (at.body) write(at.body);
      if (at.chunks) {
        for (const c of at.chunks) {
          write(Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]));
          await new Promise((r) => setImmediate(r));
        }
        write(Buffer.from('0\r\n\r\n'));
      }
      for (const p of at.trickle ?? []) {
        await new Promise((r) => setTimeout(r, p.delayMs));
        write(p.data);
      }
    });
  });
}

/** The table: bodies x authentication, then headers, methods, paths and the admin side. */
function attempts(token: string, leaseId: string): Attempt[] {
  const list: Attempt[] = [];
  const bearer: [string, string] = ['Authorization', `Bearer ${token}`];
  const ctJson: [string, string] = ['Content-Type', 'application/json'];
  const valid = () => json(alert());
  const half = Buffer.from(SAMPLE.slice(0, Math.floor(SAMPLE.length / 2)));
  const bodies: [string, () => Buffer, string?][] = [
    ['malformed JSON', () => Buffer.from('{"rule": {"level": 10,')],
    ['bare word', () => Buffer.from('nul')],
    ['trailing garbage', () => Buffer.from('{"a":1}}')],
    ['single quotes', () => Buffer.from("{'title':'x'}")],
    ['truncated sample', () => half],
    ['NDJSON with a bad line', () => Buffer.from(`${JSON.stringify(alert())}\n{broken\n${JSON.stringify(alert())}\n`), 'application/x-ndjson'],
    ['NDJSON blank and junk lines', () => Buffer.from(`\n\n${JSON.stringify(alert())}\n\u0000\n`), 'application/x-ndjson'],
    ['empty body', () => Buffer.alloc(0)],
    ['whitespace only', () => Buffer.from(' \r\n\t ')],
    ['JSON null', () => Buffer.from('null')],
    ['JSON array of numbers', () => Buffer.from('[1,2,3]')],
    ['huge float', () => Buffer.from(JSON.stringify(alert()).replace('"level":10', '"level":1e400'))],
    ['huge negative', () => Buffer.from(JSON.stringify(alert()).replace('"level":10', '"level":-1e400'))],
    ['huge integer', () => Buffer.from(JSON.stringify(alert()).replace('"level":10', '"level":123456789012345678901234567890'))],
    ['port 1e308', () => json(alert((a) => ((a.data as Record<string, unknown>).srcport = 1e308)))],
    ['deep arrays 100k', () => Buffer.from('['.repeat(100000) + ']'.repeat(100000))],
    ['deep objects 100k', () => Buffer.from('{"a":'.repeat(100000) + '1' + '}'.repeat(100000))],
    ['unclosed deep nesting', () => Buffer.from('['.repeat(100000))],
    ['__proto__ key', () => Buffer.from(JSON.stringify(alert()).replace(/^\{/, '{"__proto__":{"polluted":true},'))],
    ['constructor.prototype key', () => Buffer.from(JSON.stringify(alert()).replace(/^\{/, '{"constructor":{"prototype":{"polluted":true}},'))],
    ['__proto__ in rule', () => Buffer.from(JSON.stringify(alert()).replace('"rule":{', '"rule":{"__proto__":{"level":15},'))],
    ['invalid UTF-8', () => Buffer.concat([Buffer.from('{"title":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')])],
    ['overlong UTF-8', () => Buffer.concat([Buffer.from(JSON.stringify(alert()).slice(0, -1) + ',"x":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')])],
    ['lone surrogate escape', () => json(alert((a) => ((a.rule as Record<string, unknown>).description = '\ud800 lone')))],
    ['UTF-8 BOM', () => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), valid()])],
    ['NUL escaped in fields', () => json(alert((a) => ((a.rule as Record<string, unknown>).description = 'a\u0000b')))],
    ['raw NUL byte in a string', () => Buffer.from(JSON.stringify(alert()).replace('sshd: brute', 'sshd:\u0000brute'), 'latin1')],
    [
      'ANSI escapes in fields',
      () =>
        json(
          alert((a) => {
            (a.rule as Record<string, unknown>).description = '\u001b[2J\u001b[31mRED\u001b[0m';
            a.full_log = '\u001b]0;pwned\u0007 \r\n fake log line';
            (a.agent as Record<string, unknown>).name = '\u001b[1A\u001b[Kagent';
          }),
        ),
    ],
    ['very long field', () => json(alert((a) => (a.full_log = 'A'.repeat(500000))))],
    ['many keys', () => json(alert((a) => (a.extra = Object.fromEntries(Array.from({ length: 20000 }, (_, i) => [`k${i}`, i])))))],
    ['huge array of alerts', () => json(Array.from({ length: 5000 }, () => ({ title: 'x' })))],
    ['valid alert', valid],
  ];
  for (const [name, body, type] of bodies) {
    for (const auth of [true, false]) {
      list.push({
        name: `${name} (${auth ? 'token' : 'no token'})`,
        side: 'intake',
        method: 'POST',
        path: '/soar/alerts',
        headers: [['Content-Type', type ?? 'application/json'], ...(auth ? [bearer] : [])],
        body: body(),
      });
    }
  }
  const types = [
    'application/xml',
    'application/x-www-form-urlencoded',
    'text/plain',
    'multipart/form-data; boundary=x',
    'application/json; charset=latin1',
    'text/html',
    'application/octet-stream',
  ];
  for (const t of types) {
    const body = t.includes('xml')
      ? Buffer.from('<alert><title>x</title></alert>')
      : t.includes('form-urlencoded')
        ? Buffer.from('title=x&src_ip=1.2.3.4')
        : t.startsWith('multipart')
          ? Buffer.from('--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--\r\n')
          : valid();
    for (const auth of [true, false])
      list.push({
        name: `content type ${t} (${auth ? 'token' : 'no token'})`,
        side: 'intake',
        method: 'POST',
        path: '/soar/alerts',
        headers: [['Content-Type', t], ...(auth ? [bearer] : [])],
        body,
      });
  }
  list.push({ name: 'no content type', side: 'intake', method: 'POST', path: '/soar/alerts', headers: [bearer], body: valid() });
  const encodings: [string, () => Buffer][] = [
    ['gzip', () => zlib.gzipSync(valid())],
    ['gzip header on a plain body', valid],
    ['deflate', () => zlib.deflateSync(valid())],
    ['br', () => zlib.brotliCompressSync(valid())],
    ['gzip bomb', () => zlib.gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20))],
  ];
  for (const [name, body] of encodings) {
    const enc = name.split(' ')[0] === 'gzip' ? 'gzip' : name;
    for (const auth of [true, false])
      list.push({
        name: `content-encoding ${name} (${auth ? 'token' : 'no token'})`,
        side: 'intake',
        method: 'POST',
        path: '/soar/alerts',
        headers: [ctJson, ['Content-Encoding', enc], ...(auth ? [bearer] : [])],
        body: body(),
      });
  }
  const big = Buffer.alloc(20 * 1024 * 1024, 0x20);
  const mb = Buffer.alloc(1024 * 1024, 0x20);
  for (const auth of [true, false]) {
    const h: [string, string][] = [ctJson, ...(auth ? [bearer] : [])];
    const who = auth ? 'token' : 'no token';
    list.push({ name: `20 MB with Content-Length (${who})`, side: 'intake', method: 'POST', path: '/soar/alerts', headers: h, body: big });
    list.push({
      name: `20 MB chunked (${who})`,
      side: 'intake',
      method: 'POST',
      path: '/soar/alerts',
      headers: h,
      chunks: Array.from({ length: 20 }, () => mb),
    });
    list.push({
      name: `2 MB in one chunk (${who})`,
      side: 'intake',
      method: 'POST',
      path: '/soar/alerts',
      headers: h,
      chunks: [Buffer.alloc(2 * 1024 * 1024, 0x20)],
    });
    list.push({
      name: `4096 tiny chunks (${who})`,
      side: 'intake',
      method: 'POST',
      path: '/soar/alerts',
      headers: h,
      chunks: Array.from({ length: 4096 }, () => Buffer.from(' ')),
    });
  }
  const headerCases: [string, [string, string][], Buffer?][] = [
    ['two different Content-Length', [ctJson, bearer, ['Content-Length', '10'], ['Content-Length', '20']], Buffer.from('{"a":1}   ')],
    ['Content-Length and chunked', [ctJson, bearer, ['Content-Length', '5'], ['Transfer-Encoding', 'chunked']], Buffer.from('0\r\n\r\n')],
    ['negative Content-Length', [ctJson, bearer, ['Content-Length', '-1']], Buffer.alloc(0)],
    ['non-numeric Content-Length', [ctJson, bearer, ['Content-Length', 'abc']], Buffer.alloc(0)],
    ['Content-Length larger than the limit, no body', [ctJson, bearer, ['Content-Length', '99999999999']], Buffer.alloc(0)],
    ['two Authorization headers (good, bad)', [ctJson, bearer, ['Authorization', 'Bearer wrong']], valid()],
    ['two Authorization headers (bad, good)', [ctJson, ['Authorization', 'Bearer wrong'], bearer], valid()],
    ['two Content-Type headers', [ctJson, ['Content-Type', 'application/xml'], bearer], valid()],
    ['wrong token', [ctJson, ['Authorization', 'Bearer not-the-token-0123456789']], valid()],
    ['token with a different case scheme', [ctJson, ['Authorization', `bearer ${token}`]], valid()],
    ['token prefix only', [ctJson, ['Authorization', `Bearer ${token.slice(0, -1)}`]], valid()],
    ['token plus a suffix', [ctJson, ['Authorization', `Bearer ${token}x`]], valid()],
    ['empty bearer', [ctJson, ['Authorization', 'Bearer ']], valid()],
    ['Basic scheme with the token', [ctJson, ['Authorization', `Basic ${Buffer.from(`x:${token}`).toString('base64')}`]], valid()],
    ['100 KB bearer', [ctJson, ['Authorization', `Bearer ${'A'.repeat(100 * 1024)}`]], valid()],
    ['8 KB bearer', [ctJson, ['Authorization', `Bearer ${'A'.repeat(8 * 1024)}`]], valid()],
    ['token in the query, not a header', [ctJson], valid()],
    ['Expect: 100-continue', [ctJson, bearer, ['Expect', '100-continue']], valid()],
    ['Expect: something else', [ctJson, bearer, ['Expect', 'teapot']], valid()],
    ['foreign Host on the intake', [ctJson, bearer, ['Host', 'siem.example']], valid()],
  ];
  for (const [name, headers, body] of headerCases)
    list.push({ name, side: 'intake', method: 'POST', path: name.includes('query') ? `/soar/alerts?token=${token}` : '/soar/alerts', headers, body });
  for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND']) {
    for (const auth of [true, false])
      list.push({
        name: `${method} (${auth ? 'token' : 'no token'})`,
        side: 'intake',
        method,
        path: '/soar/alerts',
        headers: auth ? [bearer, ctJson] : [ctJson],
        body: method === 'PUT' || method === 'PATCH' ? valid() : undefined,
      });
  }
  list.push({
    name: 'OPTIONS preflight from a foreign origin',
    side: 'intake',
    method: 'OPTIONS',
    path: '/soar/alerts',
    headers: [
      ['Origin', 'http://attacker.example'],
      ['Access-Control-Request-Method', 'POST'],
      ['Access-Control-Request-Headers', 'authorization,content-type'],
    ],
  });
  for (const p of [
    '/soar/alerts/',
    '//soar/alerts',
    '/soar/alerts?x=1',
    '/soar/%61lerts',
    '/soar/ALERTS',
    '/soar/alerts/../alerts',
    '/soar/alerts%00',
    '/soar/alerts#frag',
    '/soar/alerts;x=1',
    '/soar/./alerts',
  ]) {
    for (const auth of [true, false])
      list.push({
        name: `path ${p} (${auth ? 'token' : 'no token'})`,
        side: 'intake',
        method: 'POST',
        path: p,
        headers: [ctJson, ...(auth ? [bearer] : [])],
        body: valid(),
      });
  }
  const slow = JSON.stringify(alert());
  const pieces = 8;
  const step = Math.ceil(slow.length / pieces);
  list.push({
    name: 'slow body over ~3 s',
    side: 'intake',
    method: 'POST',
    path: '/soar/alerts',
    headers: [ctJson, bearer],
    trickle: Array.from({ length: pieces }, (_, i) => ({ data: Buffer.from(slow.slice(i * step, (i + 1) * step)), delayMs: 400 })),
  });
  list.push({
    name: 'slow body that stops halfway',
    side: 'intake',
    method: 'POST',
    path: '/soar/alerts',
    headers: [ctJson, bearer, ['Content-Length', String(slow.length)]],
    trickle: [{ data: Buffer.from(slow.slice(0, 100)), delayMs: 100 }],
  });

  // The admin side, as a web page of another origin or a DNS-rebound name would reach it.
  const origin: [string, string] = ['Origin', 'http://attacker.example'];
  const foreignHost = (port: number): [string, string] => ['Host', `attacker.example:${port}`];
  list.push({ name: 'admin GET /admin/flows, foreign Origin', side: 'admin', method: 'GET', path: '/admin/flows', headers: [origin] });
  list.push({ name: 'admin GET /admin/flows, foreign Host', side: 'admin', method: 'GET', path: '/admin/flows', headers: [foreignHost(0)] });
  list.push({
    name: 'admin POST /admin/flows, foreign Origin',
    side: 'admin',
    method: 'POST',
    path: '/admin/flows',
    headers: [origin, ctJson, ['Node-RED-Deployment-Type', 'full']],
    body: Buffer.from('[]'),
  });
  list.push({
    name: 'admin POST /admin/flows text/plain, foreign Origin',
    side: 'admin',
    method: 'POST',
    path: '/admin/flows',
    headers: [origin, ['Content-Type', 'text/plain']],
    body: Buffer.from('[]'),
  });
  list.push({
    name: 'admin POST /admin/flows, foreign Host',
    side: 'admin',
    method: 'POST',
    path: '/admin/flows',
    headers: [foreignHost(0), ctJson],
    body: Buffer.from('[]'),
  });
  list.push({
    name: 'admin lease release form POST, foreign Origin',
    side: 'admin',
    method: 'POST',
    path: '/admin/soar/leases/release',
    headers: [origin, ['Content-Type', 'application/x-www-form-urlencoded']],
    body: Buffer.from(`id=${encodeURIComponent(leaseId)}&target=198.51.100.23`),
  });
  list.push({
    name: 'admin lease release, null Origin',
    side: 'admin',
    method: 'POST',
    path: '/admin/soar/leases/release',
    headers: [
      ['Origin', 'null'],
      ['Content-Type', 'application/x-www-form-urlencoded'],
    ],
    body: Buffer.from('target=198.51.100.23'),
  });
  return list;
}

describe('the hub under malformed and hostile requests (e2e)', function () {
  this.timeout(300000);
  let hub: RunningHub;
  let token: string;

  before(async function () {
    hub = await startHub();
    token = hub.banner['intake token'];
  });
  after(async function () {
    await hub?.stop();
  });

  async function alive(): Promise<boolean> {
    if (hub.proc.exitCode !== null || hub.proc.signalCode !== null) return false;
    try {
      const res = await fetch(`http://127.0.0.1:${hub.port}/admin/`, { signal: AbortSignal.timeout(HANG_MS) });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  it('neither dies, nor answers 5xx or HTML on the intake, nor hangs; then still works', async function () {
    const leases = (await (await fetch(`http://127.0.0.1:${hub.port}/admin/soar/leases`)).json()) as { leases?: { id?: string }[] };
    const table = attempts(token, leases.leases?.[0]?.id ?? 'lease-1').map((a) => ({
      ...a,
      headers: a.headers.map(([k, v]): [string, string] => (k === 'Host' && v.endsWith(':0') ? [k, v.replace(/:0$/, `:${hub.port}`)] : [k, v])),
    }));
    assert.ok(table.length >= 100, `${table.length} attempts`);
    let crashes = 0;
    const fives: string[] = [];
    const html: string[] = [];
    const hangs: string[] = [];
    const resets: string[] = [];
    const adminAccepted: string[] = [];
    const statuses: Record<string, number> = {};
    for (const at of table) {
      const ans = await exchange(hub.port, at);
      const key = ans.failure ?? String(ans.status);
      statuses[key] = (statuses[key] ?? 0) + 1;
      if (ans.failure === 'hang') hangs.push(at.name);
      if (ans.failure === 'reset') resets.push(at.name);
      if (ans.status !== undefined && ans.status >= 500 && !(ans.status === 503 && ans.headers['retry-after']))
        fives.push(`${at.name}: ${ans.status} ${ans.body.slice(0, 120)}`);
      if (at.side === 'intake' && ans.status !== undefined && (/html/i.test(ans.headers['content-type'] ?? '') || /^\s*<(!doctype|html)/i.test(ans.body)))
        html.push(`${at.name}: ${ans.status} ${ans.body.slice(0, 80)}`);
      if (at.side === 'admin' && ans.status !== undefined && ans.status < 300) adminAccepted.push(`${at.name}: ${ans.status}`);
      if (!(await alive())) {
        crashes++;
        assert.fail(`the hub stopped answering after "${at.name}":\n${hub.output().slice(-3000)}`);
      }
    }
    console.log(`      answers: ${JSON.stringify(statuses)}${resets.length ? `; closed without an answer: ${resets.join(', ')}` : ''}`);
    console.log(
      `      hostile inputs: ${table.length} tried, ${crashes} crashes, ${fives.length} 5xx, ${html.length} HTML answers, ${hangs.length} hangs, ${resets.length} resets`,
    );
    assert.deepEqual(fives, [], 'no 5xx');
    // A refusal given before the body is read still reaches a sender that is writing a large body.
    assert.deepEqual(resets, [], 'every request gets an answer, none is closed without one');
    // Variants a router does not map to the intake (encoded, dot segments, `//`, `;`, NUL) get the
    // hub's JSON 404 (scripts/hub/intake-gate.js), never Express's HTML page.
    assert.deepEqual(html, [], 'no HTML on intake paths or their variants');
    assert.deepEqual(hangs, [], 'no hangs');
    assert.deepEqual(adminAccepted, [], 'foreign Host/Origin admin requests are refused');

    const editor = await fetch(`http://127.0.0.1:${hub.port}/admin/`);
    assert.equal(editor.status, 200, 'the editor still answers');
    assert.match(await editor.text(), /Node-RED/);
    const ok = await fetch(`http://127.0.0.1:${hub.port}/soar/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(alert()),
    });
    const answer = await ok.text();
    assert.equal(ok.status, 202, answer);
    assert.equal(JSON.parse(answer).accepted, 1, answer);
  });
});
