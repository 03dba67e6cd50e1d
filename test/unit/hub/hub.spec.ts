/**
 * The hub as composition root: its warning listeners, and the firewalls it remembers so leases of a
 * removed firewall stay releasable (or say clearly why not).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createPublishedBlocklist } from '../../../lib/firewall/blocklist';
import { createFirewall } from '../../../lib/firewall/registry';
import { Hub } from '../../../lib/hub/hub';
import { FIREWALLS_NS } from '../../../lib/hub/firewalls';
import { RecordingProvider } from '../../fixtures/crash/lease-test-kit';

describe('Hub', function () {
  this.timeout(20_000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-hub-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('hands warnings to every listener; removing one keeps the others', async () => {
    const hub = await Hub.acquire({ dir });
    try {
      const a: string[] = [];
      const b: string[] = [];
      const stopA = hub.addWarningListener((m) => a.push(m));
      hub.addWarningListener((m) => b.push(m));
      hub.warn('one');
      stopA();
      stopA();
      hub.warn('two');
      assert.deepEqual([a, b], [['one'], ['one', 'two']]);
    } finally {
      await hub.release();
    }
  });

  it("stores a firewall's label and public settings, never its credentials", async () => {
    const hub = await Hub.acquire({ dir, guardrails: { includeDefaults: false } });
    try {
      hub.registerFirewall('fw9', new RecordingProvider('fw9'), {
        label: 'office opnsense',
        kind: 'opnsense',
        settings: { url: 'https://192.0.2.1', listName: 'soar', apiKey: 'KEY-123', apiSecret: 'SECRET-456', password: 'pw-789' },
      });
      await new Promise((r) => setTimeout(r, 50));
      const stored = await hub.store.get<Record<string, unknown>>(FIREWALLS_NS, 'fw9');
      assert.deepEqual(stored?.settings, { url: 'https://192.0.2.1', listName: 'soar' });
      assert.equal(stored?.label, 'office opnsense');
      assert.doesNotMatch(
        fs
          .readdirSync(path.join(dir, 'state'))
          .map((f) => fs.readFileSync(path.join(dir, 'state', f), 'utf8'))
          .join(''),
        /KEY-123|SECRET-456|pw-789/,
      );
    } finally {
      await hub.release();
    }
  });

  it("a removed firewall's leases: the last instance while the process lives, then orphaned with a clear reason", async () => {
    const provider = new RecordingProvider('fw9');
    let hub = await Hub.acquire({ dir, guardrails: { includeDefaults: false, includeOwnAddresses: false } });
    try {
      const unregister = hub.registerFirewall('fw9', provider, { label: 'office opnsense', kind: 'opnsense', settings: { url: 'https://192.0.2.1' } });
      assert.equal((await hub.leases.block({ target: '203.0.113.60', provider: 'fw9', ttlSeconds: 3600 })).status, 'blocked');
      assert.equal((await hub.leases.block({ target: '203.0.113.61', provider: 'fw9', ttlSeconds: 3600 })).status, 'blocked');
      unregister(true); // the node was deleted from the flows
      assert.equal(await hub.firewallState('fw9'), 'retired');
      assert.equal((await hub.leases.unblock('203.0.113.60', 'fw9')).status, 'released');
      assert.deepEqual(provider.callsOf('unblock'), [{ method: 'unblock', addresses: ['203.0.113.60'] }]);
    } finally {
      await hub.release();
    }
    // After a restart the credentials are gone with the node: the lease is orphaned, not a gateway error.
    hub = await Hub.acquire({ dir });
    try {
      assert.equal(await hub.firewallState('fw9'), 'orphaned');
      assert.equal(hub.firewallLabel('fw9'), 'office opnsense');
      const outcome = await hub.leases.unblock('203.0.113.61', 'fw9');
      assert.equal(outcome.status, 'failed');
      assert.match((outcome as { reason: string }).reason, /orphaned: the firewall "office opnsense" was removed/);
      assert.deepEqual(
        (await hub.leases.list()).map((l) => l.target),
        ['203.0.113.61'],
        'the lease is kept, not dropped',
      );
    } finally {
      await hub.release();
    }
  });

  it('rebuilds a removed firewall that needs no secret (a published list) after a restart', async () => {
    let hub = await Hub.acquire({ dir, guardrails: { includeDefaults: false, includeOwnAddresses: false } });
    try {
      const built = createFirewall({ kind: 'blocklist', name: 'fwL', store: hub.store, listName: 'edge' });
      hub.registerFirewall('fwL', built.provider, { label: 'edge list', kind: 'blocklist', settings: { listName: 'edge' } });
      assert.equal((await hub.leases.block({ target: '203.0.113.70', provider: 'fwL', ttlSeconds: 3600 })).status, 'blocked');
    } finally {
      await hub.release();
    }
    hub = await Hub.acquire({ dir });
    try {
      assert.equal(await hub.firewallState('fwL'), 'rebuilt');
      assert.equal((await hub.leases.unblock('203.0.113.70', 'fwL')).status, 'released');
      assert.deepEqual(await createPublishedBlocklist({ name: 'edge', store: hub.store }).list(), []);
    } finally {
      await hub.release();
    }
  });
});
