import assert from 'node:assert/strict';
import { editorView } from '../../../lib/providers/descriptor';
import { createTicketProvider, ticketDescriptors } from '../../../lib/ticket/registry';

const context = { name: 't' };

describe('ticket tracker descriptors', () => {
  it('list the local case store first, then the six trackers', () => {
    assert.deepEqual(
      ticketDescriptors().map((d) => d.kind),
      ['local', 'redmine', 'thehive', 'jira', 'github', 'gitlab', 'servicenow'],
    );
    const view = editorView(ticketDescriptors());
    assert.deepEqual(JSON.parse(JSON.stringify(view)), view);
  });

  it('mark exactly the credentials as secrets', () => {
    const secrets = Object.fromEntries(
      editorView(ticketDescriptors()).map((d) => [
        d.kind,
        (d.fields as { name: string; credential: boolean }[]).filter((f) => f.credential).map((f) => f.name),
      ]),
    );
    assert.deepEqual(secrets, {
      local: [],
      redmine: ['apiKey'],
      thehive: ['apiKey'],
      jira: ['apiToken'],
      github: ['token'],
      gitlab: ['token'],
      servicenow: ['password'],
    });
  });

  it('build each client from settings, with the kind and limits the outbox reads', () => {
    const settings: Record<string, [Record<string, unknown>, Record<string, unknown>]> = {
      redmine: [{ url: 'https://redmine.example.org', project: 'security' }, { apiKey: 'k' }],
      thehive: [{ url: 'https://thehive.example.org', mode: 'case' }, { apiKey: 'k' }],
      jira: [{ url: 'https://acme.atlassian.net', email: 'soc@example.com', project: 'SEC' }, { apiToken: 'k' }],
      github: [{ repository: 'acme/security' }, { token: 'k' }],
      gitlab: [{ project: 'secops/incidents' }, { token: 'k' }],
      servicenow: [{ url: 'https://acme.service-now.com', username: 'soar' }, { password: 'k' }],
    };
    for (const [kind, [config, credentials]] of Object.entries(settings)) {
      const provider = createTicketProvider(kind, config, credentials, context);
      try {
        assert.equal(provider.kind, kind);
        assert.ok(provider.limits.body > 1000 && provider.limits.title >= 160, kind);
      } finally {
        provider.close();
      }
    }
  });

  it('refuse a URL without a scheme, a missing credential and an unknown kind with clear messages', () => {
    assert.throws(
      () => createTicketProvider('redmine', { url: 'redmine.example.org', project: 'p' }, { apiKey: 'k' }, context),
      /redmine: url must be an http\(s\):\/\/ URL/,
    );
    assert.throws(() => createTicketProvider('jira', { url: 'https://a.atlassian.net', email: 'e', project: 'SEC' }, {}, context), /jira: needs apiToken/);
    assert.throws(
      () => createTicketProvider('jira', { url: 'https://a.atlassian.net', email: 'e', project: 'sec project' }, { apiToken: 'k' }, context),
      /project must be a project key/,
    );
    assert.throws(() => createTicketProvider('zammad', {}, {}, context), /unknown ticket tracker kind "zammad"/);
  });
});
