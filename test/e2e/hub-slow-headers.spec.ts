import assert from 'node:assert/strict';
import * as net from 'node:net';
import { startHub, type RunningHub } from '../helpers/hub-process';

/**
 * Slow-header clients against the real hub: connections that send a request head a few bytes at a
 * time and never finish it. All on loopback; bounded count and time.
 */
function slowConnection(port: number, localAddress: string): { socket: net.Socket; closed: Promise<number> } {
  const started = Date.now();
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  socket.on('error', () => {});
  socket.on('connect', () => socket.write('GET /admin/ HTTP/1.1\r\nHost: 127.0.0.1\r\n'));
  const drip = setInterval(() => {
    if (!socket.destroyed) socket.write('X-a: b\r\n');
  }, 1000);
  const closed = new Promise<number>((resolve) =>
    socket.on('close', () => {
      clearInterval(drip);
      resolve(Date.now() - started);
    }),
  );
  return { socket, closed };
}

describe('the hub under slow-header connections (e2e)', function () {
  this.timeout(120000);
  let hub: RunningHub;
  before(async function () {
    hub = await startHub();
  });
  after(async function () {
    await hub?.stop();
  });

  it('closes slow heads, bounds connections per source, and keeps the intake and the editor answering', async function () {
    const PER_SOURCE = 64; // scripts/hub/limits.js
    const fromOther = Array.from({ length: 300 }, () => slowConnection(hub.port, '127.0.0.2'));
    await new Promise((r) => setTimeout(r, 1500));
    const fromSame = Array.from({ length: 150 }, () => slowConnection(hub.port, '127.0.0.1'));
    await new Promise((r) => setTimeout(r, 1500));
    const open = (list: { socket: net.Socket }[]) => list.filter((c) => !c.socket.destroyed && c.socket.readyState === 'open').length;
    const heldOther = open(fromOther);
    const heldSame = open(fromSame);
    console.log(`      slow connections held open by the hub: ${heldOther} of 300 from 127.0.0.2, ${heldSame} of 150 from 127.0.0.1`);
    assert.ok(heldOther <= PER_SOURCE, `at most ${PER_SOURCE} per source, ${heldOther} held`);
    assert.ok(heldSame <= PER_SOURCE, `at most ${PER_SOURCE} per source, ${heldSame} held`);

    // The editor (from the same loopback address as 150 slow clients) and the intake still answer.
    const t0 = Date.now();
    const editor = await fetch(hub.banner.editor);
    assert.equal(editor.status, 200);
    const alert = await fetch(hub.banner.intake, {
      method: 'POST',
      headers: { authorization: `Bearer ${hub.banner['intake token']}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'during slow headers', src_ip: '198.51.100.7' }),
    });
    assert.equal(alert.status, 202, await alert.text());
    console.log(`      editor 200 and intake 202 in ${Date.now() - t0} ms while the slow clients were connected`);

    // No slow head lives much beyond the 10 s header deadline.
    const lifetimes = await Promise.all([...fromOther, ...fromSame].map((c) => c.closed));
    const longest = Math.max(...lifetimes);
    console.log(`      longest slow connection: ${longest} ms`);
    assert.ok(longest < 16000, `longest slow connection ${longest} ms`);
  });
});
