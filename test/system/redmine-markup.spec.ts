/**
 * Values from alerts stay text in a real Redmine (test/helpers/redmine.ts): the same hostile line is
 * rendered by Redmine's own textilizable (the formatter, then Redmine's links, @mentions and #issue
 * references) under Textile and under Markdown, as it comes and as lib/ticket/markup.ts escapes it.
 * As it comes it makes a tag-free but live page (bold, links, a mention, an issue link); escaped it
 * makes none of these, and reads the same.
 *
 * Skips with the reason when redmine is not installed (fails instead with SOAR_REQUIRE_SYSTEM=1).
 */
import assert from 'node:assert/strict';
import { escapeFor, WORD_JOINER } from '../../lib/ticket/markup';
import { requireRedmineOrSkip, startRedmine, type RunningRedmine } from '../helpers/redmine';

const HOSTILE =
  '<script>alert(1)</script> *bold* "x":http://evil.example/ [click](http://evil.example/) @admin #1 r1 commit:abc {{toc}} [[Wiki]] www.evil.example';

// textilizable through the controller renderer, as Redmine renders an issue description; issue #1
// exists so that "#1" has something to link to.
const RENDER = `
require 'json'
texts = JSON.parse(STDIN.read)
User.current = User.find_by_login('admin')
project = Project.find('security')
Issue.first || Issue.create!(project: project, tracker: project.trackers.first, subject: 'ref target', author: User.current, priority: IssuePriority.first, status: IssueStatus.first)
out = {}
%w[textile markdown].each do |f|
  Setting.text_formatting = f
  out[f] = texts.map { |t| ApplicationController.renderer.render(inline: '<%= textilizable(t, project: project) %>', locals: { t: t, project: project }) }
end
puts 'RENDER ' + out.to_json
`;

/** The text a reader sees: tags dropped, character references decoded, joiners removed. */
function visible(html: string): string {
  return html
    .replace(/<[^>]*>/g, '')
    .replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .split(WORD_JOINER)
    .join('')
    .trim();
}

describe('Redmine renders escaped alert values as text (system)', function () {
  this.timeout(600_000);
  let redmine: RunningRedmine;

  before(async function () {
    requireRedmineOrSkip(this, 'Redmine markup system test');
    redmine = await startRedmine();
    await redmine.stop(); // rails runner only
  });
  after(async () => {
    await redmine?.dispose();
  });

  it('has no link, mention, issue reference or emphasis left under Textile and Markdown, and reads as typed', async () => {
    const out = await redmine.runner(RENDER, JSON.stringify([HOSTILE, escapeFor('redmine', HOSTILE)]));
    const line = out.split('\n').find((l) => l.startsWith('RENDER '));
    assert.ok(line, out.slice(-1000));
    const rendered = JSON.parse(line.slice(7)) as Record<string, [string, string]>;
    for (const [formatting, [raw, escaped]] of Object.entries(rendered)) {
      // Unescaped, the line is live: the check below can fail.
      assert.match(raw, /<a [^>]*href="http:\/\/evil\.example\/"/, `${formatting}: raw link`);
      assert.match(raw, /user-mention/, `${formatting}: raw mention`);
      assert.match(raw, /href="\/issues\/1"/, `${formatting}: raw issue reference`);
      assert.match(raw, /<(strong|em)>bold/, `${formatting}: raw emphasis`);
      // Escaped: one paragraph of text, nothing else.
      assert.deepEqual(escaped.match(/<[^>]+>/g), ['<p>', '</p>'], `${formatting}: ${escaped}`);
      assert.equal(visible(escaped), HOSTILE, formatting);
    }
  });
});
