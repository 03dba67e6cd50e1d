/**
 * Pending approvals survive kill -9, with the real product: Node-RED (this checkout, the pack from
 * dist/) runs intake -> wait for approval -> a file node. An alert is held, Node-RED is killed with -9,
 * started again on the same user directory; the approval link it logged is followed (GET, then POST),
 * and the held message reaches the file node exactly once. A second approval whose timeout passed
 * while Node-RED was down goes out on the expired output at start.
 *
 * Needs `npm run build` first. Talks to 127.0.0.1 only.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { prepareUserDir } from '../helpers/nodered-process';
import { readJsonLines, sample, tempDir } from '../helpers/nr';
import { freePort, intakeNode, request, startNodeRed, toFileNodes, until, type RestartableNodeRed } from '../helpers/restartable-node-red';

function flows(out: string, expiredOut: string): unknown[] {
  return [
    { id: 'tab', type: 'tab', label: 'approval restart system test' },
    { id: 'the-hub', type: 'soar-hub', name: 'test hub', dir: '', simulate: true, includeDefaults: true },
    intakeNode(['wait', 'wait-short']),
    {
      id: 'wait',
      z: 'tab',
      type: 'soar-wait-approval',
      configVersion: 1,
      hub: 'the-hub',
      approvers: 'alice: editor:alice',
      quorum: 1,
      timeout: 60,
      onTimeout: 'deny',
      fields: 'alert.source.ip',
      wires: [['ok-payload'], ['ok-payload'], ['ok-payload']],
    },
    {
      id: 'wait-short',
      z: 'tab',
      type: 'soar-wait-approval',
      configVersion: 1,
      hub: 'the-hub',
      approvers: 'bob: editor:bob',
      quorum: 1,
      timeout: 0.1,
      onTimeout: 'deny',
      fields: 'alert.source.ip',
      wires: [[], [], ['late-payload']],
    },
    ...toFileNodes('ok', out, 'approval'),
    ...toFileNodes('late', expiredOut, 'approval'),
  ];
}

describe('wait for approval: a pending approval survives kill -9 (system)', function () {
  this.timeout(240_000);
  let running: RestartableNodeRed | undefined;
  after(async function () {
    await running?.kill9();
  });

  it('sends the held message exactly once after a restart, decided through the logged page link', async function () {
    const port = await freePort();
    const userDir = tempDir('soar-approval-restart-');
    const out = path.join(userDir, 'approved.jsonl');
    const expiredOut = path.join(userDir, 'expired.jsonl');
    const dir = prepareUserDir(userDir, port, flows(out, expiredOut));
    // The approval links are logged at info level.
    fs.writeFileSync(dir.settingsFile, fs.readFileSync(dir.settingsFile, 'utf8').replace(/"level": "warn"/, '"level": "info"'));
    running = startNodeRed(dir);
    const current = () => running!.output();
    await running.waitForIntake();

    const alert = JSON.parse(sample('wazuh/sshd-bruteforce.json'));
    const posted = await request(port, 'POST', '/soar/alerts', JSON.stringify({ ...alert, id: 'approval-restart-1' }));
    assert.equal(posted.status, 202, posted.text);
    const link = await until('the logged approve link', () => /approve as alice: (http:\/\/\S+)/.exec(current())?.[1], current);
    await until(
      'both approvals stored',
      () => (readJsonLines(dir.auditFile).filter((r) => r.type === 'approval.requested').length === 2 ? true : undefined),
      current,
    );
    await running.kill9();
    const killedAt = Date.now();
    // Let the short approval's 6 s timeout pass while Node-RED is down.
    await new Promise((r) => setTimeout(r, Math.max(0, 7000 - (Date.now() - killedAt))));

    running = startNodeRed(dir);
    const late = await until(
      'the expired approval sent at start',
      () => (fs.existsSync(expiredOut) ? readJsonLines(expiredOut) : []).find((r) => r.decision === 'expired'),
      current,
    );
    assert.deepEqual(late.by, []);

    const urlPath = new URL(link).pathname;
    const got = await until(
      'the approval page',
      async () => {
        const reply = await request(port, 'GET', urlPath).catch(() => undefined);
        return reply && reply.status !== 404 ? reply : undefined;
      },
      current,
    );
    assert.equal(got.status, 200, got.text);
    assert.equal(fs.existsSync(out), false, 'a GET decides nothing');
    const decided = await request(port, 'POST', urlPath, 'comment=after%20the%20crash', 'application/x-www-form-urlencoded');
    assert.equal(decided.status, 200, decided.text);
    assert.match(decided.text, /Decision recorded/);
    const sent = await until('the approved message', () => (fs.existsSync(out) && readJsonLines(out).length ? readJsonLines(out) : undefined), current);
    await new Promise((r) => setTimeout(r, 1500)); // a second send would arrive in this time
    assert.equal(readJsonLines(out).length, 1, `exactly once: ${fs.readFileSync(out, 'utf8')}`);
    assert.equal(sent[0].decision, 'approved');
    assert.deepEqual(sent[0].by, ['editor:alice']);
    assert.equal(readJsonLines(expiredOut).length, 1);
  });
});
