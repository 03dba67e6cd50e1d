/**
 * Ticket text and the local case store: what the first specs left open (found by mutation testing,
 * `npm run mutate -- ticket`): template tags with spaces and comments, odd values, limits at their
 * exact edge, the cut at a tracker's limit, escaping edge cases, the message → request mapping, and
 * the local store's input checks, limits and closing rules.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ProviderError } from '../../../lib/core/errors';
import { FileStateStore } from '../../../lib/core/file-store';
import {
  asRecord,
  asString,
  checkCreateInput,
  cleanBaseUrl,
  clampSeverity,
  fitText,
  fitTitle,
  incidentLabel,
  linkLine,
  messagesIn,
  withVendorMessage,
} from '../../../lib/ticket/common';
import { buildTicketRequest, ticketView } from '../../../lib/ticket/defaults';
import { LocalCaseStore } from '../../../lib/ticket/local';
import { escapeFor, WORD_JOINER as WJ } from '../../../lib/ticket/markup';
import { compileTemplate, MESSAGE_ROOTS, renderTemplate, TemplateError } from '../../../lib/ticket/template';

/** No lone UTF-16 surrogate (String.prototype.isWellFormed, ES2024). */
const wellFormed = (text: string) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);

describe('ticket templates: tags, values and limits at the edge', () => {
  it('tags may have spaces inside; comments render nothing; missing fields are named without the spaces', () => {
    const view = { alert: { title: 't', tags: ['a', 'b'] } };
    assert.equal(renderTemplate('{{! a note for the next editor }}[{{ alert.title }}]', view).text, '[t]');
    assert.equal(renderTemplate('{{ #alert.tags }}{{ . }};{{ /alert.tags }}{{ ^alert.none }}none{{ /alert.none }}', view).text, 'a;b;none');
    const out = renderTemplate('{{ alert.a }}{{{ alert.b }}}{{& alert.c }}', view, { escape: 'html' });
    assert.deepEqual(out.missing, ['alert.a', 'alert.b', 'alert.c']);
    assert.throws(
      () => compileTemplate('{{   }}'),
      (err: Error) => err instanceof TemplateError && err.name === 'TemplateError' && /empty "\{\{\}\}" at line 1, column 1/.test(err.message),
    );
  });

  it('errors point at the tag, not at the end of the template', () => {
    assert.throws(
      () => compileTemplate('{{#iocs}}\n\n  {{/actions}}\nmore\ntext'),
      /"\{\{\/actions\}\}" at line 3, column 3 does not match "\{\{#iocs\}\}" at line 1, column 1/,
    );
    assert.throws(() => compileTemplate('{{alrt.x}}\nmore\nlines', { roots: MESSAGE_ROOTS }), /"alrt\.x" \(line 1\)/);
    assert.throws(() => compileTemplate(42 as unknown as string), /template: must be text/);
  });

  it('null, bigint and mixed lists render as a reader expects', () => {
    const view = { alert: { none: null, big: 12n, mixed: ['a', { b: 1 }], nested: { n: 3n }, holes: [null, 'x'] } };
    const out = renderTemplate('[{{alert.none}}][{{alert.big}}][{{alert.mixed}}][{{alert.nested}}][{{alert.holes}}][{{alert.none.deeper}}]', view);
    assert.equal(out.text, '[][12][["a",{"b":1}]][{"n":"3"}][, x][]');
    assert.deepEqual(out.missing, ['alert.none.deeper'], 'a null field is present (empty); a path through it is missing');
    assert.deepEqual(renderTemplate('{{alert.u}}', { alert: { u: undefined } }).missing, ['alert.u']);
  });

  it('an empty list is false for sections and true for inverted ones; {{.}} at the top is allowed with roots', () => {
    assert.equal(renderTemplate('{{#iocs}}x{{/iocs}}{{^iocs}}no indicators{{/iocs}}', { iocs: [] }).text, 'no indicators');
    assert.doesNotThrow(() => compileTemplate('{{.}}', { roots: MESSAGE_ROOTS }));
  });

  it('limits are inclusive: a template of exactly maxLength and output of exactly maxOutput are fine', () => {
    assert.doesNotThrow(() => compileTemplate('x'.repeat(10), { maxLength: 10 }));
    assert.throws(() => compileTemplate('x'.repeat(11), { maxLength: 10 }), /11 characters, at most 10/);
    assert.equal(renderTemplate('{{a}}', { a: 'xxxxx' }, { maxOutput: 5 }).text, 'xxxxx');
    assert.throws(() => renderTemplate('{{a}}', { a: 'xxxxxx' }, { maxOutput: 5 }), /output over 5 characters/);
  });
});

describe('ticket markup: line breaks, numbered lines, plain', () => {
  it('Markdown: line breaks are kept (CR LF and CR become LF) and no line can start a numbered list', () => {
    assert.equal(escapeFor('markdown', 'a\r\nb\rc'), 'a\nb\nc');
    assert.equal(escapeFor('markdown', '1. one\n12. twelve\n   3. indented\nversion 1.2'), '1\\. one\n12\\. twelve\n   3\\. indented\nversion 1.2');
  });

  it('Redmine: line breaks kept, www. broken but shown', () => {
    assert.equal(escapeFor('redmine', 'a\r\nb\rc'), 'a\nb\nc');
    assert.equal(escapeFor('redmine', 'www.evil.example'), `www${WJ}&#46;evil&#46;example`);
  });

  it('plain (Jira, the local store) leaves the text as it is', () => {
    assert.equal(escapeFor('plain', '<b>@x #1 [y](http://z)</b>'), '<b>@x #1 [y](http://z)</b>');
    assert.equal(escapeFor(undefined, '*x*'), '*x*');
  });
});

describe("ticket text cut at the tracker's limit (common.ts)", () => {
  it('fitText keeps text that fits exactly, otherwise cuts to the limit with a note', () => {
    assert.equal(fitText('x'.repeat(200), 200), 'x'.repeat(200));
    const cut = fitText('y'.repeat(1_000), 200, 'description');
    assert.equal(cut.length, 200);
    assert.ok(cut.startsWith('yyyy'));
    assert.match(cut, /\n\n\[… description cut by SOAR: 1000 characters, the tracker accepts 200\]$/);
    // A limit smaller than the note: the text is cut hard, without the note.
    assert.equal(fitText('z'.repeat(100), 20), 'z'.repeat(20));
  });

  it('fitText never splits an emoji (a UTF-16 surrogate pair) at the cut', () => {
    // Texts of 1,000 characters: the note is then always this long.
    const keep = 200 - '\n\n[… text cut by SOAR: 1000 characters, the tracker accepts 200]'.length;
    const text = 'a'.repeat(keep - 1) + '😀' + 'b'.repeat(1_000 - keep - 1);
    const cut = fitText(text, 200);
    assert.ok(cut.length <= 200);
    assert.equal(cut.slice(0, cut.indexOf('\n\n')), 'a'.repeat(keep - 1), 'the emoji is left out whole');
    const fits = 'a'.repeat(keep - 2) + '😀' + 'b'.repeat(1_000 - keep);
    assert.ok(fitText(fits, 200).startsWith('a'.repeat(keep - 2) + '😀\n\n'), 'an emoji that fits is kept');
  });

  it('fitTitle makes one line and cuts with an ellipsis only past the limit', () => {
    assert.equal(fitTitle('  sshd\n\tbrute   force ', 255), 'sshd brute force');
    assert.equal(fitTitle('abcde', 5), 'abcde');
    assert.equal(fitTitle('abcdef', 5), 'abcd…');
  });

  it('a cut title or a hard-cut text never ends in half an emoji (trackers refuse lone surrogates)', () => {
    // 'aaa' + 😀 (two UTF-16 units): a cut after 4 units would keep only the emoji's first half.
    assert.equal(fitTitle('aaa😀bbb', 5), 'aaa…');
    assert.equal(fitTitle('aa😀bbb', 5), 'aa😀…');
    // The first and the last high surrogate (U+10000, U+10FFFF).
    assert.equal(fitTitle('aaa\u{10000}bbb', 5), 'aaa…');
    assert.equal(fitTitle('aaa\u{10FFFF}bbb', 5), 'aaa…');
    assert.equal(fitTitle('abc', 0), '…');
    assert.equal(fitText('aaa😀' + 'b'.repeat(100), 4), 'aaa');
    for (let max = 2; max < 12; max += 1) {
      assert.ok(wellFormed(fitTitle('a😀b😀c😀d😀e😀f', max)), `title at ${max}`);
      assert.ok(wellFormed(fitText('a😀b😀c😀d😀e😀f'.repeat(10), max)), `text at ${max}`);
    }
  });

  it('clampSeverity reads numbers and numeric text, anything else is unknown (0)', () => {
    assert.deepEqual([4, '5', 0, 6, 7, -1, 2.5, 'high', null].map(clampSeverity), [4, 5, 0, 6, 0, 0, 0, 0, 0]);
  });

  it('incidentLabel trims the key and hashes one a label cannot hold', () => {
    assert.equal(incidentLabel('  fp-1 '), 'soar-fp-1');
    assert.match(incidentLabel('web01 sshd, brute'), /^soar-[0-9a-f]{16}$/);
  });

  it('checkCreateInput names every problem before anything is sent', () => {
    assert.doesNotThrow(() => checkCreateInput('jira', { title: 't', incidentKey: 'k' }));
    assert.throws(
      () => checkCreateInput('jira', { title: ' ', incidentKey: '  ', body: 3 }),
      (err: ProviderError) => err.code === 'BAD_REQUEST' && err.message === 'jira: the title is empty; the incident key is empty; the body is not text',
    );
    assert.throws(() => checkCreateInput('jira', { title: 't', incidentKey: 7 }), /jira: the incident key is empty$/);
    assert.throws(
      () => checkCreateInput('jira', { title: 7, incidentKey: 'k' }),
      (err: ProviderError) => err.code === 'BAD_REQUEST' && err.message === 'jira: the title is empty',
    );
  });

  it('asRecord and asString accept only what a client can use', () => {
    assert.equal(asRecord([1]), undefined);
    assert.equal(asRecord(null), undefined);
    assert.equal(asRecord('x'), undefined);
    assert.deepEqual(asRecord({ a: 1 }), { a: 1 });
    assert.equal(asString('x'), 'x');
    assert.equal(asString(12), '12');
    assert.equal(asString(Number.NaN), undefined);
    assert.equal(asString(true), undefined);
  });

  it('cleanBaseUrl strips trailing slashes, uses the fallback, refuses a URL that does not start with http(s)', () => {
    assert.equal(cleanBaseUrl('redmine', ' https://redmine.example.org/// '), 'https://redmine.example.org');
    assert.equal(cleanBaseUrl('github', undefined, 'https://api.github.com/'), 'https://api.github.com');
    assert.throws(
      () => cleanBaseUrl('redmine', 'see https://redmine.example.org'),
      (err: ProviderError) => err.code === 'BAD_REQUEST' && err.message.endsWith('(got "see https://redmine.example.org")'),
    );
    assert.throws(() => cleanBaseUrl('redmine', undefined), /\(got nothing\)/);
  });

  it("withVendorMessage adds the tracker's own words once, trimmed and capped", () => {
    const plain = new Error('x');
    assert.equal(
      withVendorMessage(plain, () => 'y'),
      plain,
    );
    const noBody = new ProviderError({ provider: 'jira', code: 'BAD_REQUEST', message: 'jira: 400' });
    assert.equal(
      withVendorMessage(noBody, () => 'y'),
      noBody,
    );
    const error = new ProviderError({ provider: 'jira', code: 'BAD_REQUEST', status: 400, message: 'jira: 400', body: { errors: {} } });
    const explained = withVendorMessage(error, () => '  customfield_10010 is required  ') as ProviderError;
    assert.equal(explained.message, 'jira: 400: customfield_10010 is required');
    assert.equal(explained.status, 400);
    assert.equal(
      withVendorMessage(error, () => undefined),
      error,
    );
    assert.equal((withVendorMessage(error, () => 'z'.repeat(600)) as ProviderError).message.length, 'jira: 400: '.length + 500);
  });

  it('messagesIn prefixes field names but not list positions', () => {
    assert.deepEqual(messagesIn({ 0: 'a', 12: 'b', '2fa': ['c'], title: { 0: 'd' } }), ['a', 'b', '2fa: c', 'title: d']);
    assert.deepEqual(messagesIn(42), []);
  });

  it('linkLine shows the URL only when there is one', () => {
    assert.equal(linkLine({ key: '#1', url: '' }), 'Earlier ticket for this incident (closed): #1');
    assert.equal(linkLine({ key: '#1', url: 'http://x/1' }), 'Earlier ticket for this incident (closed): #1 http://x/1');
  });
});

describe('ticket request from a message (defaults.ts)', () => {
  const title = compileTemplate('{{alert.title}}');
  const body = compileTemplate(
    '{{#iocs}}{{type}} {{value}}{{#role}} ({{role}}){{/role}};{{/iocs}}|{{#actions}}{{target}}{{#until}} until {{until}}{{/until}};{{/actions}}',
  );

  it("indicators come from msg.iocs, else the alert's observables; incomplete ones are skipped", () => {
    const msg = {
      alert: {
        fingerprint: 'k',
        title: 't',
        severity: 3,
        observables: [{ type: 'ipv4', value: '203.0.113.7', role: 7 }, { value: '198.51.100.1' }, { type: 'ipv4' }, null, 'x'],
      },
      actions: [{ target: '2001:db8::1', lease: { expiresAt: 'tomorrow' } }, { target: 7 }, { target: '192.0.2.1', lease: {} }],
    };
    const built = buildTicketRequest(msg, { title, body });
    assert.equal(built.request?.body, 'ipv4 203[.]0[.]113[.]7;other 198[.]51[.]100[.]1;|2001[:]db8[:][:]1 until tomorrow;7;192[.]0[.]2[.]1;');
    assert.deepEqual(built.request?.observables, [{ type: 'ipv4', value: '203.0.113.7' }], 'only complete indicators go to the tracker');
    assert.equal(built.request?.severity, 3);
  });

  it('the incident key may be a number, is trimmed, and must be text or a number', () => {
    const at = (fingerprint: unknown) => buildTicketRequest({ alert: { fingerprint, title: 't' } }, { title, body });
    assert.equal(at(42).request?.incidentKey, '42');
    assert.equal(at('  k  ').request?.incidentKey, 'k');
    assert.equal(at(true).error, 'no incident key at msg.alert.fingerprint');
    assert.deepEqual(at(true).missing, []);
    assert.equal(
      buildTicketRequest({ alert: { fingerprint: 'k' } }, { title, body, incidentPath: 'alert.fingerprint.length' }).error,
      'no incident key at msg.alert.fingerprint.length',
    );
    assert.equal(buildTicketRequest({ alert: null }, { title, body }).error, 'no incident key at msg.alert.fingerprint');
  });

  it('title one line; severity 0 unless a number; summary is the alert title, else the rendered title', () => {
    const fixed = compileTemplate('[SOAR]\n{{alert.name}}');
    const built = buildTicketRequest({ alert: { fingerprint: 'k', title: 'the alert', name: 'n', severity: '4' } }, { title: fixed, body });
    assert.equal(built.request?.title, '[SOAR] n');
    assert.equal(built.request?.severity, 0);
    assert.equal(built.request?.summary, 'the alert');
    const spaced = buildTicketRequest({ alert: { fingerprint: 'k', name: 'n' } }, { title: compileTemplate('  [SOAR]   {{alert.name}}  '), body });
    assert.equal(spaced.request?.title, '[SOAR] n');
    const untitled = buildTicketRequest({ alert: { fingerprint: 'k', name: 'n' } }, { title: fixed, body });
    assert.equal(untitled.request?.summary, '[SOAR] n');
    const listAlert = buildTicketRequest({ alert: ['x'], incident: 'i' } as Record<string, unknown>, {
      title: compileTemplate('x'),
      body,
      incidentPath: 'incident',
    });
    assert.equal(listAlert.request?.severity, 0, 'an alert that is a list is not an object');
  });

  it('the view keeps the hub fields of the message and strips trailing slashes from the hub URL', () => {
    const view = ticketView({ hub: { caseUrl: 'http://h/case/1' } }, { hubUrl: 'http://h:1880//' });
    assert.deepEqual(view.hub, { caseUrl: 'http://h/case/1', url: 'http://h:1880' });
  });
});

describe('local case store: input checks, limits, closing', () => {
  let dir: string;
  let store: FileStateStore;
  let clock: number;
  const now = () => clock;
  const input = (incidentKey: string, title = 'sshd brute force') => ({ title, body: 'b', severity: 4, incidentKey });

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-cases-gaps-'));
    clock = Date.parse('2026-12-07T03:00:00Z');
    store = await FileStateStore.open(dir, { fsync: false, now, sweepIntervalMs: 0, compactIntervalMs: 0 });
  });
  afterEach(async () => {
    await store.close().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('needs a store; shows plain text; strips trailing slashes of the page base', async () => {
    assert.throws(() => new LocalCaseStore(undefined as never), /local cases: a state store is required/);
    const cases = new LocalCaseStore({ store, pageBase: '/cases//' });
    assert.equal(cases.markup, 'plain');
    assert.equal((await cases.create(input('fp'))).url, '/cases/local/1');
  });

  it('refuses bad input with BAD_REQUEST', async () => {
    const cases = new LocalCaseStore({ store, now });
    const bad = (message: RegExp) => (err: ProviderError) => err.code === 'BAD_REQUEST' && message.test(err.message);
    await assert.rejects(cases.create({ ...input('fp'), title: 7 } as never), bad(/^local cases: the title is empty$/));
    await assert.rejects(cases.create(input('   ')), bad(/the incident key is empty/));
    await assert.rejects(cases.create({ ...input('fp'), body: 7 } as never), bad(/the body is not text/));
    const ref = await cases.create(input('fp'));
    await assert.rejects(cases.comment(ref, '  \n '), bad(/the comment is empty/));
    await assert.rejects(cases.comment(ref, 7 as never), bad(/the comment is empty/));
  });

  it('numbers cases 1, 2, 3 …; two named stores on one state store keep their own cases', async () => {
    const one = new LocalCaseStore({ store, now, name: 'one' });
    const two = new LocalCaseStore({ store, now, name: 'two' });
    const refs = await Promise.all(Array.from({ length: 6 }, (_, i) => one.create(input(`fp-${i}`))));
    assert.deepEqual(refs.map((r) => r.id).sort(), ['1', '2', '3', '4', '5', '6']);
    assert.equal((await two.create(input('fp-0'))).id, '1');
    assert.equal(await two.findOpenByIncident('fp-1'), undefined);
    assert.equal((await two.list()).length, 1);
  });

  it('titles are one line, cut with an ellipsis past the limit; long text is cut with a note naming what', async () => {
    const cases = new LocalCaseStore({ store, now, limits: { title: 10, body: 100, comment: 80 } });
    const a = await cases.create({ ...input('fp-a', 'ab\n\n  cd   efghij'), body: 'x'.repeat(100) });
    const b = await cases.create({ ...input('fp-b', 'abcdefghijk'), body: 'x'.repeat(101) });
    assert.equal((await cases.get(a.id))?.title, 'ab cd efg…');
    assert.equal((await cases.get(a.id))?.body, 'x'.repeat(100), 'exactly at the limit: kept');
    assert.equal((await cases.get(b.id))?.title, 'abcdefghi…');
    assert.match((await cases.get(b.id))!.body, /\[… body cut by SOAR: 101 characters, the case store keeps 100\]$/);
    assert.deepEqual((await cases.get(b.id))?.observables, []);
    await cases.comment(a, 'y'.repeat(200), {});
    const entry = (await cases.get(a.id))!.timeline.at(-1)!;
    assert.equal(entry.text!.length, 80);
    assert.match(entry.text!, /comment cut by SOAR/);
    assert.equal(entry.observables, undefined);
    await cases.closeCase(a.id, 'alice', 'n'.repeat(200));
    assert.match((await cases.get(a.id))!.timeline.at(-1)!.text!, /note cut by SOAR/);
  });

  it('cuts titles and texts without splitting an emoji', async () => {
    const cases = new LocalCaseStore({ store, now, limits: { title: 5, body: 4, comment: 80 } });
    const ref = await cases.create({ ...input('fp-e', 'aaa😀bbb'), body: 'aaa😀bbbb' });
    const found = (await cases.get(ref.id))!;
    assert.equal(found.title, 'aaa…');
    assert.equal(found.body, 'aaa');
    await cases.comment(ref, `${'c'.repeat(10)}😀${'d'.repeat(200)}`);
    for (let n = 0; n < 30; n += 1) {
      const other = new LocalCaseStore({ store, now, name: `e${n}`, limits: { comment: 70 + n } });
      const r = await other.create(input('fp-e'));
      await other.comment(r, '😀'.repeat(100));
      assert.ok(wellFormed((await other.get(r.id))!.timeline.at(-1)!.text!), `comment limit ${70 + n}`);
    }
  });

  it('a timeline exactly at its limit is kept whole; past it, the note says what was dropped', async () => {
    const cases = new LocalCaseStore({ store, now, maxTimeline: 10 });
    const ref = await cases.create(input('fp-t'));
    for (let i = 0; i < 9; i += 1) await cases.comment(ref, `c${i}`);
    let timeline = (await cases.get(ref.id))!.timeline;
    assert.equal(timeline.length, 10);
    assert.equal(timeline[1].text, 'c0');
    await cases.comment(ref, 'c9');
    timeline = (await cases.get(ref.id))!.timeline;
    assert.deepEqual([timeline[1].type, timeline[1].text], ['comment', '[2 older entries dropped: the case keeps 10]']);
  });

  it('priority by severity; unknown outside 0..6', () => {
    const cases = new LocalCaseStore({ store });
    assert.deepEqual(
      [0, 1, 3, 4, 6, 7, -1, 2.5].map((s) => cases.priorityFor(s)),
      ['unknown', 'low', 'normal', 'high', 'urgent', 'unknown', 'unknown', 'unknown'],
    );
  });

  it('closing names who closed it (trimmed, or "unknown") and leaves a newer case of the incident open', async () => {
    const cases = new LocalCaseStore({ store, now });
    const old = await cases.create(input('fp-c'));
    const newer = await cases.create(input('fp-c')); // the index now points at the newer case
    assert.equal((await cases.closeCase(old.id, '  alice  ')).closedBy, 'alice');
    assert.deepEqual(await cases.findOpenByIncident('fp-c'), newer);
    assert.equal((await cases.closeCase(newer.id, '   ')).closedBy, 'unknown');
    assert.equal(await cases.findOpenByIncident('fp-c'), undefined);
    const third = await cases.create(input('fp-d'));
    assert.equal((await cases.closeCase(third.id, 'b'.repeat(150))).closedBy, 'b'.repeat(100));
    await assert.rejects(cases.closeCase(third.id, 'x'), /local cases: case 3 is already closed/);
  });

  it('lists newest first, up to a limit', async () => {
    const cases = new LocalCaseStore({ store, now });
    for (let i = 0; i < 3; i += 1) await cases.create(input(`fp-${i}`));
    assert.deepEqual(
      (await cases.list({ limit: 2 })).map((c) => c.key),
      ['#3', '#2'],
    );
  });

  it('once closed (the config node stopped), every call is refused', async () => {
    const cases = new LocalCaseStore({ store, now });
    const ref = await cases.create(input('fp'));
    cases.close();
    const cancelled = (err: ProviderError) => err.code === 'CANCELLED' && err.message === 'local cases: closed';
    await assert.rejects(cases.create(input('fp-2')), cancelled);
    await assert.rejects(cases.findOpenByIncident('fp'), cancelled);
    await assert.rejects(cases.comment(ref, 'x'), cancelled);
    await assert.rejects(cases.status(ref), cancelled);
    await assert.rejects(cases.closeCase(ref.id, 'alice'), cancelled);
  });
});
