/**
 * Help texts and the README promise only nodes that exist: a node type they name is registered in
 * package.json, and an action node that is not built yet is mentioned only as planned.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const HELP_DIR = path.join(ROOT, 'locales', 'en-US');
const FILES = [
  ...fs
    .readdirSync(HELP_DIR)
    .filter((name) => name.endsWith('.html'))
    .map((name) => path.join(HELP_DIR, name)),
  path.join(ROOT, 'README.md'),
];
/** Words that name a node, by its type: promises while the type is not registered in package.json. */
const NAMES: Record<string, RegExp> = { 'soar-wait-approval': /wait[- ]for[- ]approval|approval node|approve node/i };

/** Sentences of a text with tags removed (split at . ! ? followed by space, and at blank lines). */
function sentences(text: string): string[] {
  return text
    .replace(/<[^>]+>/g, ' ')
    .split(/(?<=[.!?])\s+|\n\s*\n/)
    .map((sentence) => sentence.replace(/\s+/g, ' ').trim())
    .filter(Boolean);
}

describe('help texts and README name only nodes that exist', () => {
  const registered = new Set(Object.keys(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))['node-red'].nodes));

  for (const file of FILES) {
    const text = fs.readFileSync(file, 'utf8');
    const name = path.relative(ROOT, file);

    it(`${name}: every node type it names is registered`, () => {
      const named = [...text.matchAll(/(?:<code>|`)(soar-[a-z][a-z-]*)(?:<\/code>|`)/g)].map((match) => match[1]);
      assert.deepEqual(
        named.filter((type) => !registered.has(type)),
        [],
      );
    });

    it(`${name}: mentions an action node that is not built only as planned`, () => {
      const unbuilt = Object.entries(NAMES).filter(([type]) => !registered.has(type));
      const promises = sentences(text).filter((sentence) => unbuilt.some(([, words]) => words.test(sentence)) && !/planned|not built/i.test(sentence));
      assert.deepEqual(promises, []);
    });
  }
});
