/**
 * A real full disk under the hub: the hub's soar/ folder (audit log + state store) is a small tmpfs,
 * filled up while alerts come in. The intake must answer 503 while nothing can be written, log the
 * change of state once (not once per request), and accept again by itself once space is freed.
 * Needs root (mount); otherwise it prints why and skips (the same behaviour is covered without a
 * real disk by test/unit/core/group-commit-recovery.spec.ts, which injects ENOSPC).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { verifyAudit } from '../../lib/core/audit';
import { startHub, type RunningHub } from '../helpers/hub-process';
import { tempDir } from '../helpers/nr';

const TMPFS_SIZE = '4m';

function fill(dir: string): string {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  const block = Buffer.alloc(64 * 1024, 0x61);
  try {
    for (;;) {
      try {
        fs.writeSync(fd, block);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw err;
      }
    }
    // Whatever single pages are left.
    for (;;) {
      try {
        fs.writeSync(fd, block.subarray(0, 512));
      } catch {
        break;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

describe('audit log on a full disk (system)', function () {
  this.timeout(240_000);
  let home: string;
  let mountPoint: string;
  let mounted = false;
  let hub: RunningHub | undefined;

  before(function () {
    home = tempDir('soar-diskfull-');
    mountPoint = path.join(home, 'soar');
    fs.mkdirSync(mountPoint, { mode: 0o700 });
    const why =
      process.getuid?.() !== 0
        ? 'not root, so no tmpfs can be mounted'
        : (() => {
            try {
              execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE},mode=0700`, 'tmpfs', mountPoint], { stdio: 'pipe' });
              mounted = true;
              return undefined;
            } catch (err) {
              return `mount -t tmpfs failed: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim()}`;
            }
          })();
    if (why) {
      if (process.env.SOAR_REQUIRE_SYSTEM === '1') throw new Error(`disk-full system test: ${why} (SOAR_REQUIRE_SYSTEM=1 forbids skipping)`);
      console.log(`      skipped: ${why}; the recovery is covered with injected ENOSPC by test/unit/core/group-commit-recovery.spec.ts`);
      this.skip();
    }
  });

  after(async function () {
    await hub?.stop();
    if (mounted) execFileSync('umount', [mountPoint]);
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('answers 503 while the disk is full, logs the state change once, and accepts again without a redeploy', async function () {
    hub = await startHub({ SOAR_HOME: home });
    const token = hub.banner['intake token'];
    let n = 0;
    const post = async () => {
      n += 1;
      const response = await fetch(hub!.banner.intake, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ title: `disk full test ${n}`, severity: 'low', src_ip: `198.18.${n >> 8}.${n & 255}` }),
      });
      await response.text();
      return response.status;
    };
    assert.equal(await post(), 202);

    const filler = fill(mountPoint);
    // The last partly used page of each file still takes a few records: the first 503 comes once
    // a write needs a new page.
    const beforeFirst503: number[] = [];
    for (let status = await post(); status !== 503; status = await post()) {
      beforeFirst503.push(status);
      assert.ok(beforeFirst503.length < 100, `no 503 on a full disk: ${beforeFirst503.join(',')}`);
    }
    const whileFull: number[] = [503];
    for (let i = 0; i < 40; i++) whileFull.push(await post());
    // Stay full long enough for the probe backoff to reach its cap (5 s), so the recovery time
    // below is the worst case of a long outage, not of a short one.
    const fullUntil = Date.now() + 10_000;
    while (Date.now() < fullUntil) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      whileFull.push(await post());
    }
    assert.ok(
      whileFull.every((status) => status === 503),
      `answers while full: ${whileFull.join(',')}`,
    );

    fs.unlinkSync(filler);
    const freedAt = Date.now();
    let status = 0;
    let attempts = 0;
    while (status !== 202) {
      assert.ok(Date.now() - freedAt < 30_000, 'no 202 within 30 s of freeing space');
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await post();
      attempts += 1;
    }
    const recoveryMs = Date.now() - freedAt;
    console.log(`      recovered ${recoveryMs} ms after space was freed (${attempts} requests meanwhile; ${whileFull.length} refused while full)`);
    for (let i = 0; i < 5; i++) assert.equal(await post(), 202);

    const output = hub.output();
    const failing = output.split('\n').filter((line) => line.includes('the audit log cannot be written'));
    const recovered = output.split('\n').filter((line) => line.includes('the audit log takes writes again'));
    assert.equal(failing.length, 1, `state-change log lines:\n${failing.join('\n')}`);
    assert.equal(recovered.length, 1);
    assert.equal(output.split('\n').filter((line) => line.includes('could not record alerts durably')).length, 0, 'no per-request error lines');

    await hub.stop();
    hub = undefined;
    const verified = await verifyAudit(path.join(mountPoint, 'audit.jsonl'));
    assert.equal(verified.status, 'ok', JSON.stringify(verified));
  });
});
