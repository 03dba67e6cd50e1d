import assert from 'node:assert/strict';
import { buildTicketRequest, DEFAULT_BODY, DEFAULT_TITLE } from '../../../lib/ticket/defaults';
import { toAdf } from '../../../lib/ticket/jira';
import { redmineMarker } from '../../../lib/ticket/redmine';
import { escapeFor, escaperFor, WORD_JOINER as WJ, type TicketMarkup } from '../../../lib/ticket/markup';
import { summaryText } from '../../../lib/ticket/outbox';
import { createTicketProvider } from '../../../lib/ticket/registry';
import { compileTemplate } from '../../../lib/ticket/template';

/** An alert whose every free-text field tries to inject markup, links, mentions or macros. */
const hostile = {
  alert: {
    fingerprint: 'fp-1',
    title: '<script>alert(1)</script> [click](http://evil.example/a) @octocat #12',
    severity: 4,
    severity_label: 'High',
    description: '"x":http://evil.example/t {{collapse(y)}} ![img](http://evil.example/i.png) **bold** `code` www.evil.example',
    host: { name: '<img src=x onerror=alert(1)>' },
  },
  iocs: [{ type: 'url', value: 'http://evil.example/payload' }],
  enrichment: { verdict: 'malicious', why: ['listed by @team on [feed](http://evil.example/f)'] },
};

function bodyFor(markup: TicketMarkup | undefined, body = DEFAULT_BODY): { title: string; body: string } {
  const built = buildTicketRequest(hostile, { title: compileTemplate(DEFAULT_TITLE), body: compileTemplate(body), escape: escaperFor(markup) });
  assert.ok(built.request, built.error);
  return { title: built.request.title, body: built.request.body };
}

describe('ticket text escaping per tracker (lib/ticket/markup.ts)', () => {
  it('each tracker client says what it renders', () => {
    const settings: Record<string, [Record<string, unknown>, Record<string, unknown>, TicketMarkup]> = {
      redmine: [{ url: 'https://redmine.example.org', project: 'security' }, { apiKey: 'k' }, 'redmine'],
      thehive: [{ url: 'https://thehive.example.org', mode: 'case' }, { apiKey: 'k' }, 'markdown'],
      jira: [{ url: 'https://acme.atlassian.net', email: 'soc@example.com', project: 'SEC' }, { apiToken: 'k' }, 'plain'],
      github: [{ repository: 'acme/security' }, { token: 'k' }, 'markdown'],
      gitlab: [{ project: 'secops/incidents' }, { token: 'k' }, 'markdown'],
      servicenow: [{ url: 'https://acme.service-now.com', username: 'soar' }, { password: 'k' }, 'servicenow'],
    };
    for (const [kind, [config, credentials, markup]] of Object.entries(settings)) {
      const provider = createTicketProvider(kind, config, credentials, { name: 't' });
      try {
        assert.equal(provider.markup, markup, kind);
      } finally {
        provider.close();
      }
    }
  });

  it('GitHub, GitLab, TheHive (Markdown): no tag, link, image, emphasis, mention or reference survives', () => {
    const { title, body } = bodyFor('markdown');
    assert.equal(title, '[SOAR] High: <script>alert(1)</script> [click](http://evil.example/a) @octocat #12', 'titles are plain text everywhere');
    const lines = body.split('\n');
    assert.equal(lines[0], `\\<script\\>alert\\(1\\)\\</script\\> \\[click\\]\\(http${WJ}\\://evil.example/a\\) \\@${WJ}octocat \\#${WJ}12`);
    assert.equal(
      lines[1],
      `\\"x\\"\\:http${WJ}\\://evil.example/t \\{\\{collapse\\(y\\)\\}\\} \\!\\[img\\]\\(http${WJ}\\://evil.example/i.png\\) \\*\\*bold\\*\\* \\\`code\\\` www${WJ}.evil.example`,
    );
    assert.ok(lines.includes(`- listed by \\@${WJ}team on \\[feed\\]\\(http${WJ}\\://evil.example/f\\)`), body);
    // Indicators stay defanged, then escaped: hxxp and [.] show as written.
    assert.ok(lines.includes('- url hxxp\\[\\://\\]evil\\[.\\]example/payload'), body);
    assert.doesNotMatch(body, /(?<!\\)[<[\]*`]/, 'every markup character is escaped');
    assert.doesNotMatch(body, /https?:\/\/|(?<![\\])@\w|#\d/, 'no autolink, mention or reference');
  });

  it('Redmine (Textile, Markdown or CommonMark): character references and joiners, no link syntax left', () => {
    const { body } = bodyFor('redmine');
    const first = body.split('\n')[0];
    assert.equal(
      first,
      `&#60;script&#62;alert&#40;1&#41;&#60;/script&#62; &#91;click&#93;&#40;http${WJ}&#58;${WJ}//evil&#46;example/a&#41; ${WJ}&#64;${WJ}octocat ${WJ}&#35;${WJ}12`,
    );
    assert.ok(body.includes(`&#34;x&#34;${WJ}&#58;${WJ}http${WJ}&#58;${WJ}//evil&#46;example/t &#123;&#123;collapse&#40;y&#41;&#125;&#125;`), body);
    // Character references aside, no markup, link, macro or mention character is left.
    assert.doesNotMatch(body.replace(/&#\d+;/g, ''), /[<>"[\]{}*_@#!|]|https?:|www\./);
    assert.ok(body.includes(`- url hxxp&#91;${WJ}&#58;${WJ}//&#93;evil&#91;&#46;&#93;example/payload`), body);
    assert.equal(escapeFor('redmine', 'see r12 and commit:abc'), `see r${WJ}12 and commit${WJ}&#58;${WJ}abc`);
  });

  it("Redmine's description marker keeps a plain key and escapes any other", () => {
    assert.equal(redmineMarker('web-01.example_1'), '[soar-incident:web-01.example_1]');
    assert.equal(redmineMarker('"x":http://evil.example/'), `[soar-incident:&#34;x&#34;${WJ}&#58;${WJ}http${WJ}&#58;${WJ}//evil&#46;example/]`);
  });

  it('ServiceNow: plain text, but a [code] tag in a journal entry is broken', () => {
    assert.equal(escapeFor('servicenow', 'x [code]<script>alert(1)</script>[/CODE] y'), `x [${WJ}code]<script>alert(1)</script>[${WJ}/CODE] y`);
    const { body } = bodyFor('servicenow');
    assert.ok(body.startsWith('<script>alert(1)</script> [click](http://evil.example/a)'), 'the rest is shown as typed');
  });

  it('Jira: the body becomes ADF text nodes only (no marks, no links, no mentions), so nothing needs escaping', () => {
    const { body } = bodyFor('plain');
    assert.ok(body.startsWith('<script>alert(1)</script> [click](http://evil.example/a) @octocat #12'));
    const kinds = new Set<string>();
    const walk = (node: Record<string, unknown>) => {
      kinds.add(String(node.type));
      assert.equal(node.marks, undefined);
      assert.equal(node.attrs, undefined);
      for (const child of (node.content as Record<string, unknown>[] | undefined) ?? []) walk(child);
    };
    walk(toAdf(body) as unknown as Record<string, unknown>);
    assert.deepEqual([...kinds].sort(), ['doc', 'hardBreak', 'paragraph', 'text']);
  });

  it("keeps the template author's own markup and unescaped {{{x}}} values", () => {
    const { body } = bodyFor('markdown', '**Alert:** {{alert.host.name}} · [hub]({{{alert.fingerprint}}})');
    assert.equal(body, '**Alert:** \\<img src\\=x onerror\\=alert\\(1\\)\\> · [hub](fp-1)');
  });

  it('escapes the sighting summaries and the incident key of a coalesced comment', () => {
    const text = summaryText(
      '[x](http://evil.example)',
      [
        { time: 0, summary: '@octocat <b>hi</b>' },
        { time: 1000, summary: '@octocat <b>hi</b>' },
      ],
      [{ type: 'domain', value: 'evil.example' }],
      300_000,
      escaperFor('markdown'),
    );
    assert.match(text, /incident \\\[x\\\]\\\(http\u2060\\:\/\/evil\.example\\\);/);
    assert.ok(text.includes(`- \\@${WJ}octocat \\<b\\>hi\\</b\\> (×2)`), text);
    assert.ok(text.includes('- domain evil\\[.\\]example'), text);
    assert.equal(summaryText('k', [{ time: 0, summary: '<b>' }], [], 300_000), 'SOAR: seen again at 1970-01-01T00:00:00.000Z (incident k).\n- <b>');
  });
});
