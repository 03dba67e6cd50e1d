import assert from 'node:assert/strict';
import { clip } from '../../../lib/alert/util';
import { renderSummary } from '../../../lib/approval/records';
import { displayText, escapeControl, sliceWhole } from '../../../lib/core/text';

describe('escapeControl', function () {
  it('leaves ordinary text alone, backslashes included', function () {
    assert.equal(escapeControl('SSH brute force from 203.0.113.44 — ünïcode ✓'), 'SSH brute force from 203.0.113.44 — ünïcode ✓');
    assert.equal(escapeControl('C:\\Windows\\System32'), 'C:\\Windows\\System32');
  });

  it('escapes ANSI sequences, CR/LF, other C0 and C1 controls, DEL and bidi overrides', function () {
    assert.equal(escapeControl('\u001b[31mred\u001b[0m'), '\\e[31mred\\e[0m');
    assert.equal(escapeControl('a\r\n[error] forged'), 'a\\r\\n[error] forged');
    assert.equal(escapeControl('bell\u0007 nul\u0000 del\u007f csi\u009b'), 'bell\\x07 nul\\x00 del\\x7f csi\\x9b');
    assert.equal(escapeControl('file\u202egpj.exe'), 'file\\u202egpj.exe');
    assert.equal(escapeControl('tab\there'), 'tab\\there');
  });

  it('is unambiguous: a backslash in text that needed escaping is doubled', function () {
    assert.equal(escapeControl('\\e\u001b'), '\\\\e\\e');
    assert.equal(escapeControl('\u001b'), '\\e');
  });

  it('leaves no control character in any input', function () {
    let all = '';
    for (let c = 0; c < 0x300; c++) all += String.fromCharCode(c);
    assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(escapeControl(all)));
  });

  it('displayText escapes and cuts', function () {
    assert.equal(displayText('x'.repeat(10), 5), 'xxxx…');
    assert.equal(displayText(42), '42');
    assert.equal(displayText('\u001b[2J', 200), '\\e[2J');
  });
});

describe('text cut for display keeps emoji whole', function () {
  const EMOJI = '\u{1F600}'; // two UTF-16 units
  const noLoneSurrogate = (text: string) =>
    assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text), JSON.stringify(text));

  it('sliceWhole steps back one unit rather than split a pair, and never below nothing', function () {
    assert.equal(sliceWhole(`ab${EMOJI}`, 3), 'ab');
    assert.equal(sliceWhole(`ab${EMOJI}`, 4), `ab${EMOJI}`);
    assert.equal(sliceWhole(`${EMOJI}`, 1), '');
    assert.equal(sliceWhole('abc', -2), '');
  });

  it('displayText, the approval summary and alert messages cut before an emoji, not through it', function () {
    const shown = displayText(`${'a'.repeat(198)}${EMOJI}x`, 200);
    assert.equal(shown, `${'a'.repeat(198)}…`);
    const title = renderSummary({ alert: { title: `${'t'.repeat(298)}${EMOJI}x` } }).title;
    assert.equal(title, `${'t'.repeat(298)}…`);
    const clipped = clip(`${'c'.repeat(59)}${EMOJI}`, 60);
    assert.equal(clipped, `${'c'.repeat(59)}…`);
    for (const text of [shown, title, clipped]) noLoneSurrogate(text);
  });
});
