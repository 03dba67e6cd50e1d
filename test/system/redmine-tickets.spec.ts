/**
 * The Redmine ticket client against a real Redmine (Debian's package, started by the test with its
 * own SQLite database; see test/helpers/redmine.ts): create, the same incident found again (no
 * second issue) with a note added, a closed issue seen as closed, the custom-field mode, Redmine's
 * own validation message, a wrong key, and a stopped server as a transient failure.
 *
 * Skips with the reason when redmine is not installed (fails instead with SOAR_REQUIRE_SYSTEM=1).
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { classifyTicketError } from '../../lib/ticket/errors';
import { createRedmine, redmineMarker } from '../../lib/ticket/redmine';
import type { TicketProvider } from '../../lib/ticket/types';
import { rejection } from '../helpers/provider-spec';
import { requireRedmineOrSkip, startRedmine, type RunningRedmine } from '../helpers/redmine';

describe('Redmine tickets against a real Redmine', function () {
  this.timeout(600_000);
  let redmine: RunningRedmine;
  let client: TicketProvider;

  async function rest<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; data: T }> {
    const answer = await fetch(`${redmine.url}${path}`, {
      method,
      headers: { 'x-redmine-api-key': redmine.apiKey, 'content-type': 'application/json', accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await answer.text();
    return { status: answer.status, data: (text ? JSON.parse(text) : {}) as T };
  }

  before(async function () {
    requireRedmineOrSkip(this, 'Redmine system test');
    redmine = await startRedmine();
    console.log(
      `      redmine ${redmine.version}: template database made in ${redmine.templateMs} ms (0 = reused), server answered ${redmine.startMs} ms after spawn`,
    );
    client = createRedmine({ baseURL: redmine.url, apiKey: redmine.apiKey, project: redmine.project });
  });

  after(async () => {
    client?.close();
    await redmine?.dispose();
  });

  it('creates an issue, finds it for the same incident instead of a second one, and adds a note', async () => {
    const key = 'fp-redmine-3f2a9c1b';
    assert.equal(await client.findOpenByIncident(key), undefined);
    const ref = await client.create({
      title: 'sshd brute force from 203.0.113.7',
      body: 'Rule 5712 on web01\n\nIndicators: 203[.]0[.]113[.]7',
      severity: 5,
      incidentKey: key,
    });
    assert.match(ref.key, /^#\d+$/);
    assert.equal(ref.url, `${redmine.url}/issues/${ref.id}`);

    const issue = (await rest<{ issue: { description: string; priority: { name: string }; subject: string } }>('GET', `/issues/${ref.id}.json`)).data.issue;
    assert.equal(issue.subject, 'sshd brute force from 203.0.113.7');
    assert.equal(issue.priority.name, 'Urgent');
    assert.ok(issue.description.endsWith(redmineMarker(key)), issue.description);

    // A repeat of the incident: found, so the caller comments instead of creating.
    assert.deepEqual(await client.findOpenByIncident(key), ref);
    await client.comment(ref, 'Seen again at 03:04 from 203.0.113.7');
    const all = (await rest<{ total_count: number }>('GET', `/issues.json?project_id=${redmine.project}&status_id=*`)).data;
    assert.equal(all.total_count, 1, 'one issue for the incident');
    const journals = (await rest<{ issue: { journals: { notes: string }[] } }>('GET', `/issues/${ref.id}.json?include=journals`)).data.issue.journals;
    assert.deepEqual(
      journals.map((j) => j.notes),
      ['Seen again at 03:04 from 203.0.113.7'],
    );
    assert.equal(await client.findOpenByIncident('fp-redmine-other'), undefined);
  });

  it('sees a closed issue as closed and no longer finds it as open', async () => {
    const key = 'fp-redmine-closed';
    const ref = await client.create({ title: 'to be closed', body: 'x', severity: 2, incidentKey: key });
    assert.equal((await client.status(ref)).state, 'open');
    const statuses = (await rest<{ issue_statuses: { id: number; name: string; is_closed: boolean }[] }>('GET', '/issue_statuses.json')).data.issue_statuses;
    const closed = statuses.find((s) => s.is_closed);
    assert.ok(closed, inspect(statuses));
    assert.equal((await rest('PUT', `/issues/${ref.id}.json`, { issue: { status_id: closed.id } })).status, 204);
    assert.deepEqual(await client.status(ref), { state: 'closed', vendorStatus: closed.name });
    assert.equal(await client.findOpenByIncident(key), undefined);

    // The next one for the incident links the closed one.
    const next = await client.create({ title: 'again', body: 'y', severity: 2, incidentKey: key, linkTo: ref });
    const relations = (
      await rest<{ relations: { issue_id: number; issue_to_id: number; relation_type: string }[] }>('GET', `/issues/${next.id}/relations.json`)
    ).data.relations;
    assert.deepEqual(
      relations.map((r) => [r.relation_type, [r.issue_id, r.issue_to_id].sort()]),
      [['relates', [Number(ref.id), Number(next.id)].sort()]],
    );
  });

  it('keeps the incident key in a custom field when configured', async () => {
    const withField = createRedmine({ baseURL: redmine.url, apiKey: redmine.apiKey, project: redmine.project, customFieldId: redmine.customFieldId });
    try {
      const ref = await withField.create({ title: 'custom field', body: 'z', severity: 4, incidentKey: '198.51.100.23' });
      assert.deepEqual(await withField.findOpenByIncident('198.51.100.23'), ref);
      assert.equal(await withField.findOpenByIncident('198.51.100.2'), undefined);
      const fields = (await rest<{ issue: { custom_fields: { id: number; value: string }[] } }>('GET', `/issues/${ref.id}.json`)).data.issue.custom_fields;
      assert.deepEqual(
        fields.map((f) => [f.id, f.value]),
        [[redmine.customFieldId, '198.51.100.23']],
      );
    } finally {
      withField.close();
    }
  });

  it('shows Redmine own validation message as a permanent failure, and a wrong key without the key', async () => {
    // Project "strict" requires a custom field the client does not fill.
    const bad = createRedmine({ baseURL: redmine.url, apiKey: redmine.apiKey, project: 'strict' });
    try {
      const failure = classifyTicketError(await rejection(bad.create({ title: 't', body: 'b', severity: 1, incidentKey: 'k' })));
      assert.equal(failure.kind, 'permanent', failure.message);
      assert.equal(failure.status, 422);
      assert.match(failure.message, /Team cannot be blank/);
    } finally {
      bad.close();
    }
    const wrongKey = 'f'.repeat(40);
    const intruder = createRedmine({ baseURL: redmine.url, apiKey: wrongKey, project: redmine.project });
    try {
      const error = await rejection(intruder.create({ title: 't', body: 'b', severity: 1, incidentKey: 'k' }));
      assert.equal(classifyTicketError(error).kind, 'permanent');
      assert.equal(error.status, 401);
      assert.ok(!`${error.message} ${inspect(error, { depth: 6 })}`.includes(wrongKey));
    } finally {
      intruder.close();
    }
  });

  it('a stopped Redmine is a transient failure; after a restart the same incident is found', async () => {
    const key = 'fp-redmine-restart';
    const ref = await client.create({ title: 'restart', body: 'r', severity: 3, incidentKey: key });
    await redmine.stop();
    const quick = createRedmine({ baseURL: redmine.url, apiKey: redmine.apiKey, project: redmine.project, maxAttempts: 1 });
    try {
      const failure = classifyTicketError(await rejection(quick.findOpenByIncident(key)));
      assert.equal(failure.kind, 'transient', failure.message);
      assert.ok(!failure.message.includes(redmine.apiKey));
    } finally {
      quick.close();
    }
    await redmine.start();
    console.log(`      restart answered after ${redmine.startMs} ms`);
    assert.deepEqual(await client.findOpenByIncident(key), ref);
  });
});
