import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_BODY, DEFAULT_TITLE } from '../../../lib/ticket/defaults';

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
});
