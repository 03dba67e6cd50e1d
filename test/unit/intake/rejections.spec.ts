import assert from 'node:assert/strict';
import { RejectionRecorder } from '../../../lib/intake/rejections';
import { PathRegistry, pathKey, routePathOf } from '../../../lib/intake/paths';

class MemoryAudit {
  records: { type: string; fields: Record<string, unknown> }[] = [];
  async append(type: string, fields: Record<string, unknown>) {
    this.records.push({ type, fields });
    return {} as never;
  }
}

describe('rejected request records', function () {
  it('records status, reason, remote and method, at most N a minute, the rest counted in the next record', async function () {
    let now = 0;
    const audit = new MemoryAudit();
    const r = new RejectionRecorder(audit, { intakeId: 'n1', perMinute: 3, now: () => now });
    for (let i = 0; i < 5; i++) r.record({ status: 401, reason: 'invalid bearer token', remote: '198.18.0.7' });
    assert.equal(audit.records.length, 3);
    assert.deepEqual(audit.records[0], { type: 'alert.rejected', fields: { intake: 'n1', status: 401, reason: 'invalid bearer token', remote: '198.18.0.7' } });
    now += 60_001;
    r.record({ status: 405, reason: 'method GET is not allowed here', remote: '198.18.0.8', method: 'GET' });
    assert.equal(audit.records[3].fields.suppressed, 2);
    assert.equal(audit.records[3].fields.method, 'GET');
    for (let i = 0; i < 4; i++) r.record({ status: 413, reason: 'too big' });
    await r.flush();
    assert.deepEqual(audit.records.at(-1)!.fields, { intake: 'n1', suppressed: 2, reason: 'rejections left out by the rate limit' });
    await r.flush();
    assert.equal(audit.records.filter((x) => x.fields.suppressed === 2).length, 2, 'flush writes only what is owed');
  });

  it('never keeps a 400 reason that may quote the body', function () {
    const audit = new MemoryAudit();
    const r = new RejectionRecorder(audit, { intakeId: 'n1' });
    r.record({ status: 400, reason: `body is not valid JSON: Unexpected token 's', "secret-ish body" is not valid JSON` });
    r.record({ status: 400, reason: 'could not recognise the alert format of item 1 (keys: password, user)' });
    r.record({ status: 400, reason: 'body is empty' });
    const reasons = audit.records.map((x) => x.fields.reason as string);
    assert.ok(!reasons.some((x) => /secret-ish|password/.test(x)));
    assert.equal(reasons[2], 'body is empty');
  });

  it('keeps going when the audit log refuses the record', async function () {
    const errors: string[] = [];
    const r = new RejectionRecorder({ append: () => Promise.reject(new Error('disk full')) } as never, {
      intakeId: 'n1',
      onError: (e) => errors.push(e.message),
    });
    r.record({ status: 401, reason: 'x' });
    await new Promise((res) => setImmediate(res));
    assert.deepEqual(errors, ['disk full']);
  });
});

describe('intake paths', function () {
  it('compares paths as Express matches them', function () {
    assert.equal(pathKey('/SOAR/Alerts/'), pathKey('/soar/alerts'));
    assert.notEqual(pathKey('/soar/alerts2'), pathKey('/soar/alerts'));
    assert.equal(routePathOf(' soar/x '), '/soar/x');
    assert.equal(routePathOf('  '), undefined);
  });

  it('lets the first intake keep a path and names it to the second', function () {
    const reg = new PathRegistry();
    assert.equal(reg.claim('/soar/alerts', { id: 'a', name: 'first' }), undefined);
    assert.deepEqual(reg.claim('/SOAR/alerts/', { id: 'b' }), { id: 'a', name: 'first' });
    assert.equal(reg.claim('/soar/alerts', { id: 'a' }), undefined, 'claiming again is fine');
    reg.release('/soar/alerts', 'b'); // not the owner: no effect
    assert.equal(reg.owner('/soar/alerts')?.id, 'a');
    reg.release('/soar/alerts', 'a');
    assert.equal(reg.claim('/soar/alerts', { id: 'b' }), undefined);
  });
});
