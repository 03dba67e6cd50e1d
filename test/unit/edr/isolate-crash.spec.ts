import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readAudit } from '../../../lib/core/audit';
import type { AuditRecord } from '../../../lib/core/types';
import type { Finished } from '../../../lib/edr/leases';
import { createEdr } from '../../../lib/edr/registry';
import { Hub } from '../../../lib/hub/hub';
import { CS_CLIENT_ID, CS_CLIENT_SECRET, startCrowdStrikeFake, type CrowdStrikeFake } from '../../fakes/crowdstrike';
import { runAndKill } from '../../fixtures/crash/child';

const ISOLATOR = path.resolve(__dirname, '../../fixtures/crash/isolator.ts');

describe('isolations after kill -9 (child process)', function () {
  this.timeout(60_000);
  let root: string;
  let fake: CrowdStrikeFake;

  beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-isolate-crash-'));
    fake = await startCrowdStrikeFake();
  });
  afterEach(async () => {
    await fake.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('a pending containment is read back by the next process and followed to the end, without a second request', async () => {
    const device = fake.addDevice({ hostname: 'web01', local_ip: '10.1.2.3' });
    fake.pendingReads = Infinity;
    const dir = path.join(root, 'soar');
    const child = await runAndKill(ISOLATOR, [dir, fake.baseUrl, CS_CLIENT_ID, CS_CLIENT_SECRET, 'web01'], (lines) =>
      lines.some((line) => line.startsWith('pending ')),
    );
    assert.ok(child.killedByUs, `the child died on its own: ${child.stderr}`);
    assert.equal(child.lines.find((line) => line.startsWith('pending '))!.split(' ')[1], device.device_id);
    assert.equal(device.status, 'containment_pending');
    const containsBefore = fake.server.requestsTo('POST', /devices-actions/).length;
    assert.equal(containsBefore, 1);

    // The vendor finishes while no hub runs; the next process picks the action up.
    device.status = 'contained';
    const hub = await Hub.acquire({ dir, guardrails: {} });
    try {
      const stored = await hub.isolations.list();
      assert.deepEqual(
        stored.map((i) => [i.target, i.state, i.pending?.op]),
        [[device.device_id, 'pending-isolate', 'isolate']],
        'the handle survived the kill',
      );
      const finished = new Promise<Finished>((resolve) => hub.isolations.once('finished', resolve));
      const { provider } = createEdr({ kind: 'crowdstrike', name: 'edr1', url: fake.baseUrl, clientId: CS_CLIENT_ID, clientSecret: CS_CLIENT_SECRET });
      const unregister = hub.registerEdr('edr1', provider, { label: 'falcon', kind: 'crowdstrike', follow: { pollMs: 50, timeoutMs: 120_000 } });
      const result = await finished;
      assert.deepEqual([result.status, result.origin, result.msgId, result.deviceId], ['isolated', 'iso1', 'm1', device.device_id]);
      assert.equal((await hub.isolations.list())[0].state, 'isolated');
      assert.equal(fake.server.requestsTo('POST', /devices-actions/).length, containsBefore, 'not contained a second time');
      await unregister();
      await provider.close();
    } finally {
      await hub.release();
    }
    const records: AuditRecord[] = [];
    for await (const record of readAudit(path.join(dir, 'audit.jsonl'))) records.push(record);
    assert.deepEqual(
      records.map((r) => r.type),
      ['action.requested', 'action.pending', 'action.done'],
    );
    assert.equal(records[2].finishedLater, true);
  });
});
