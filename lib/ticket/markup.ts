/**
 * What each tracker makes of ticket text, and how a value from an alert (a title, a host name, an
 * incident key: all chosen by whoever sent the alert) is escaped so that it stays text there: no
 * markup, no links, no @mentions or #references, no macros. Node-RED-free, pure.
 *
 * Only the values are escaped (template variables, the sighting lines of a comment); the text a
 * template author wrote is kept, markup included.
 *
 * - plain: the local case store (its page escapes HTML itself) and Jira, whose body is Atlassian
 *   Document Format built from plain text nodes (lib/ticket/jira.ts): nothing renders there.
 * - markdown: GitHub, GitLab and TheHive render Markdown (CommonMark with extensions). ASCII
 *   punctuation gets a backslash (CommonMark's escape), and a word joiner (U+2060) goes after the
 *   characters that start references and autolinks even in plain text nodes (`@user`, `#12`, GitLab's
 *   `!12 ~label %milestone $snippet &epic`, `http://`, `www.`): the references are found after
 *   Markdown is rendered, so a backslash alone would not stop them.
 * - redmine: Redmine renders Textile, Markdown or CommonMark (the instance's "Text formatting"
 *   setting) and then looks for its own links in the HTML (`#12`, `@login`, `r12`, `commit:abc`,
 *   `"text":http://…`, `[[Wiki]]`, `{{macro}}`). Punctuation becomes a numeric character reference,
 *   which all three formatters show as the character and none reads as markup, and a word joiner
 *   breaks the link forms that survive as text under CommonMark.
 * - servicenow: plain text fields, but a journal entry (comments, work notes) renders
 *   `[code]…[/code]` as HTML: the tag is broken with a word joiner.
 */

export type TicketMarkup = 'plain' | 'markdown' | 'redmine' | 'servicenow';

/** U+2060 WORD JOINER: invisible, no line break, and not a letter, so references do not match across it. */
export const WORD_JOINER = '\u2060';
const WJ = WORD_JOINER;

const MARKDOWN_PUNCTUATION = /[\\`*_{}[\]()#+\-!|<>~&"'=:^$%@]/g;
/** Sigils of GitHub/GitLab references (and GitLab quick actions' targets) when a name or number follows. */
const MARKDOWN_SIGILS = /([@#!~%$&^])(?=[\p{L}\p{N}_"'])/gu;

function escapeMarkdown(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/(?<=[A-Za-z])(:)(?=\/\/)/g, `${WJ}$1`) // http://, ftp://: no autolink
    .replace(/\b(www)\./gi, `$1${WJ}.`) // www.example.org: no autolink
    .replace(MARKDOWN_SIGILS, `$1${WJ}`)
    .replace(MARKDOWN_PUNCTUATION, (c) => `\\${c}`)
    .replace(/^(\s*\d+)\./gm, '$1\\.'); // "1. " at a line start: no ordered list
}

const REDMINE_PUNCTUATION = /[\\`*_{}[\]()#+\-!|<>~&"'=:^%@$.]/g;

function escapeRedmine(text: string): string {
  return (
    text
      .replace(/\r\n?/g, '\n')
      // Redmine's links need a word start or a separator before them and a letter or digit after the
      // sigil: a joiner on both sides keeps `#12`, `@admin`, `r12`, `commit:abc`, `http://` as text.
      .replace(/([@#:])(?=[\p{L}\p{N}_/"'])/gu, `${WJ}$1${WJ}`)
      .replace(/\b([rR])(?=\d)/g, `$1${WJ}`)
      .replace(/\b(www)\./gi, `$1${WJ}.`)
      .replace(REDMINE_PUNCTUATION, (c) => `&#${c.charCodeAt(0)};`)
  );
}

function escapeServiceNow(text: string): string {
  return text.replace(/\[(\/?code\])/gi, `[${WJ}$1`);
}

/** The escaper for a tracker's markup (identity for plain). */
export function escaperFor(markup: TicketMarkup | undefined): (text: string) => string {
  switch (markup) {
    case 'markdown':
      return escapeMarkdown;
    case 'redmine':
      return escapeRedmine;
    case 'servicenow':
      return escapeServiceNow;
    default:
      return (text) => text;
  }
}

/** Escape one value from an alert for a tracker. */
export function escapeFor(markup: TicketMarkup | undefined, text: string): string {
  return escaperFor(markup)(text);
}
