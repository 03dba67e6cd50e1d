import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { FileStateStore } from '../../../lib/core/file-store';
import { DEFAULT_BODY, DEFAULT_TITLE } from '../../../lib/ticket/defaults';
import { createTicketProvider, ticketDescriptors } from '../../../lib/ticket/registry';

const LOCALES = path.join(__dirname, '..', '..', '..', 'locales', 'en-US');
const unescape = (html: string) => html.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

describe('soar-open-ticket help and editor hint', () => {
  const help = fs.readFileSync(path.join(LOCALES, 'open-ticket.html'), 'utf8');

  it('shows the default title and body templates exactly as the node uses them', () => {
    const pre = (cls: string) => new RegExp(`<pre class="${cls}">([\\s\\S]*?)</pre>`).exec(help)?.[1];
    assert.equal(unescape(pre('soar-default-title') ?? ''), DEFAULT_TITLE);
    assert.equal(unescape(pre('soar-default-body') ?? ''), DEFAULT_BODY);
  });

  it('gives the body field a short placeholder that points at the help', () => {
    const catalog = JSON.parse(fs.readFileSync(path.join(LOCALES, 'open-ticket.json'), 'utf8'));
    const hint: string = catalog['soar-open-ticket'].placeholder.body;
    assert.ok(hint.length < 80 && !hint.includes('{{') && /help/.test(hint), hint);
    const editor = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'nodes', 'open-ticket.html'), 'utf8');
    assert.match(editor, /#node-input-body"\)\.attr\("placeholder", this\._\("soar-open-ticket\.placeholder\.body"\)\)/);
  });

  it('documents, per tracker, the priority of every severity and the size limits the clients use', async () => {
    const settings: Record<string, [Record<string, unknown>, Record<string, unknown>]> = {
      local: [{}, {}],
      redmine: [{ url: 'https://redmine.example.org', project: 'security' }, { apiKey: 'k' }],
      thehive: [{ url: 'https://thehive.example.org' }, { apiKey: 'k' }],
      jira: [{ url: 'https://acme.atlassian.net', email: 'soc@example.com', project: 'SEC' }, { apiToken: 'k' }],
      github: [{ repository: 'acme/security' }, { token: 'k' }],
      gitlab: [{ project: 'secops/incidents' }, { token: 'k' }],
      servicenow: [{ url: 'https://acme.service-now.com', username: 'soar' }, { password: 'k' }],
    };
    const rows = (table: string) => {
      const html = new RegExp(`<table class="${table}">([\\s\\S]*?)</table>`).exec(help)?.[1] ?? '';
      const out: Record<string, string[]> = {};
      for (const [, kind, cells] of html.matchAll(/<tr data-kind="(\w+)">([\s\S]*?)<\/tr>/g)) {
        out[kind] = [...cells.matchAll(/<td>([\s\S]*?)<\/td>/g)].map((m) => unescape(m[1].replace(/<[^>]+>/g, '')));
      }
      return out;
    };
    const priorities = rows('soar-priorities');
    const trackers = rows('soar-trackers');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-help-'));
    const store = await FileStateStore.open(dir, { fsync: false, sweepIntervalMs: 0, compactIntervalMs: 0 });
    try {
      const kinds = ticketDescriptors().map((d) => d.kind);
      assert.deepEqual(Object.keys(priorities), kinds);
      assert.deepEqual(Object.keys(trackers), kinds);
      for (const kind of kinds) {
        const provider = createTicketProvider(kind, ...settings[kind], { name: 'help', store });
        try {
          const severities = [0, 1, 2, 3, 4, 5, 6].map((s) => provider.priorityFor(s));
          assert.deepEqual(priorities[kind].slice(1), severities, kind);
          const { title, body, comment } = provider.limits;
          assert.equal(trackers[kind][2], `${title} / ${body} / ${comment}`, kind);
        } finally {
          provider.close();
        }
      }
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
