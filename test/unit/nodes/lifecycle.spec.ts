import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Node } from 'node-red';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { NodeAPI } from 'node-red';
import { Hub } from '../../../lib/hub/hub';
import { hubLifecycle, lifecycle } from '../../../nodes/shared/lifecycle';

/** Just what lifecycle() uses of a Node-RED node, recording what it was told. */
class FakeNode extends EventEmitter {
  statuses: unknown[] = [];
  errors: string[] = [];
  warnings: string[] = [];
  status(s: unknown) {
    this.statuses.push(s);
  }
  error(m: string) {
    this.errors.push(m);
  }
  warn(m: string) {
    this.warnings.push(m);
  }
  /** As Node-RED calls an input handler; resolves with what done() got. */
  input(msg: Record<string, unknown>): Promise<{ err?: Error; sent: unknown[] }> {
    return new Promise((resolve) => {
      const sent: unknown[] = [];
      this.emit(
        'input',
        msg,
        (m: unknown) => sent.push(m),
        (err?: Error) => resolve({ err, sent }),
      );
    });
  }
  close(removed = false): Promise<void> {
    return new Promise((resolve) => this.emit('close', removed, resolve));
  }
}

const tick = () => new Promise((r) => setImmediate(r));

describe('node lifecycle helper', function () {
  it('waits for the resource before the first message, then done(); close runs the steps, then release, then done', async function () {
    const node = new FakeNode();
    const order: string[] = [];
    let give!: (r: string) => void;
    const lc = lifecycle<string>(node as unknown as Node, {
      namespace: 'soar-x',
      acquire: () => new Promise((r) => (give = r)),
      ready: (r) => ({ fill: 'grey', shape: 'ring', text: r }),
      release: (r, removed) => {
        order.push(`release ${r} ${removed}`);
      },
    });
    lc.onInput((msg, send, r) => send({ payload: `${String(msg.payload)} via ${r}` }));
    lc.onClose(() => {
      order.push('step');
    });
    const pending = node.input({ payload: 'm1' });
    await tick();
    give('hub-a');
    const { err, sent } = await pending;
    assert.equal(err, undefined);
    assert.deepEqual(sent, [{ payload: 'm1 via hub-a' }]);
    assert.deepEqual(node.statuses[0], { fill: 'grey', shape: 'ring', text: 'hub-a' });
    assert.equal(lc.current(), 'hub-a');
    await node.close(true);
    assert.deepEqual(order, ['step', 'release hub-a true']);
    assert.deepEqual(node.statuses.at(-1), {});
    assert.equal(lc.current(), undefined);
  });

  it('a handler that throws sets the error status and passes the error to done(err)', async function () {
    const node = new FakeNode();
    const lc = lifecycle(node as unknown as Node, { namespace: 'soar-x', acquire: async () => 1 });
    lc.onInput(() => {
      throw new Error('bad input');
    });
    const { err } = await node.input({});
    assert.equal(err?.message, 'bad input');
    assert.deepEqual(node.statuses.at(-1), { fill: 'red', shape: 'ring', text: 'soar-x.status.error' });
  });

  it('a node can replace the error status (e.g. count a rejection instead) and tell acquire failures apart', async function () {
    const node = new FakeNode();
    const lc = lifecycle(node as unknown as Node, { namespace: 'soar-x', acquire: async () => 1 });
    lc.onInput(
      () => {
        throw new RangeError('body too large');
      },
      { errorStatus: (err) => (err instanceof RangeError ? { fill: 'yellow', shape: 'dot', text: 'rejected 413' } : undefined) },
    );
    const { err } = await node.input({});
    assert.equal(err?.message, 'body too large');
    assert.deepEqual(node.statuses.at(-1), { fill: 'yellow', shape: 'dot', text: 'rejected 413' });

    const failing = new FakeNode();
    lifecycle(failing as unknown as Node, {
      namespace: 'soar-x',
      acquire: async () => {
        throw new TypeError('token missing');
      },
      failedKey: (e) => (e instanceof TypeError ? 'config-error' : 'hub-failed'),
      failedMessage: (e) => `configuration: ${e.message}`,
    });
    await tick();
    assert.deepEqual(failing.statuses, [{ fill: 'red', shape: 'ring', text: 'soar-x.status.config-error' }]);
    assert.deepEqual(failing.errors, ['configuration: token missing']);
  });

  it('a failed acquire shows the failed status, is logged once, fails each message, and is not released', async function () {
    const node = new FakeNode();
    let released = false;
    const lc = lifecycle(node as unknown as Node, {
      namespace: 'soar-x',
      acquire: async () => {
        throw new Error('state folder locked');
      },
      failedKey: 'no-hub',
      release: () => {
        released = true;
      },
    });
    lc.onInput(() => assert.fail('never runs'));
    const { err } = await node.input({});
    assert.equal(err?.message, 'state folder locked');
    assert.deepEqual(node.statuses[0], { fill: 'red', shape: 'ring', text: 'soar-x.status.no-hub' });
    assert.deepEqual(node.errors, ['state folder locked']);
    await node.close();
    assert.equal(released, false);
  });

  it('a failing close step is logged as a warning and the rest of the close still happens', async function () {
    const node = new FakeNode();
    let released = false;
    const lc = lifecycle(node as unknown as Node, { namespace: 'soar-x', acquire: async () => 1, release: () => void (released = true) });
    lc.onClose(() => {
      throw new Error('provider close failed');
    });
    await lc.ready;
    await node.close();
    assert.deepEqual(node.warnings, ['provider close failed']);
    assert.equal(released, true);
  });

  describe('hubLifecycle', function () {
    let userDir: string;
    const RED = () => ({ settings: { userDir }, nodes: { getNode: () => null } }) as unknown as NodeAPI;
    beforeEach(() => (userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-lc-'))));
    afterEach(() => fs.rmSync(userDir, { recursive: true, force: true }));
    const openHubs = async () => (await Hub.all()).filter((h) => h.dir.startsWith(userDir));

    it('acquires the default hub, builds the node parts on it, and on close tears them down before releasing the hub', async function () {
      const node = new FakeNode();
      const order: string[] = [];
      const lc = hubLifecycle(RED(), node as unknown as Node, {
        namespace: 'soar-x',
        hub: undefined,
        setup: (hub) => ({ hub, broker: 'b' }),
        teardown: async (parts) => {
          order.push(`teardown ${parts.broker}, hub open: ${(await openHubs()).length}`);
        },
      });
      const parts = await lc.ready;
      assert.equal(parts.hub.dir, path.join(userDir, 'soar'));
      await node.close();
      assert.deepEqual(order, ['teardown b, hub open: 1']);
      assert.deepEqual(await openHubs(), [], 'released');
    });

    it('a setup that throws releases the hub it acquired and fails the node', async function () {
      const node = new FakeNode();
      const lc = hubLifecycle(RED(), node as unknown as Node, {
        namespace: 'soar-x',
        hub: undefined,
        setup: () => {
          throw new Error('allowlist line 3 is not valid');
        },
      });
      await assert.rejects(lc.ready, /allowlist/);
      await tick();
      assert.deepEqual(node.errors, ['allowlist line 3 is not valid']);
      assert.deepEqual(await openHubs(), []);
      await node.close();
    });
  });
});
