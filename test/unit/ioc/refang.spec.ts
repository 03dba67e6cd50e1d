import assert from 'node:assert/strict';
import { refang, refangWithMarks } from '../../../lib/ioc';

describe('ioc refang', () => {
  it('turns the common defanged forms back', () => {
    assert.equal(refang('hxxp://evil[.]com'), 'http://evil.com');
    assert.equal(refang('hXXps://evil(.)com[/]a'), 'https://evil.com/a');
    assert.equal(refang('evil[dot]com and evil{.}org and evil(DOT)net'), 'evil.com and evil.org and evil.net');
    assert.equal(refang('http[:]//x[.]y and http[://]x[.]y'), 'http://x.y and http://x.y');
    assert.equal(refang('bob[@]x[.]y, eve[at]x[.]y, joe(at)x[.]y'), 'bob@x.y, eve@x.y, joe@x.y');
    assert.equal(refang('fxp://files[.]example[.]org'), 'ftp://files.example.org');
    assert.equal(refang('example\\.com'), 'example.com');
  });

  it('swallows the spaces around a spaced-out dot or at', () => {
    assert.equal(refang('evil [.] example [dot] com'), 'evil.example.com');
    assert.equal(refang('spam [at] bulk [dot] biz'), 'spam@bulk.biz');
  });

  it('leaves ordinary text alone', () => {
    const text = 'Normal text (with brackets) [and] {braces}; http://plain.example.com stays; hex 0xff.';
    assert.equal(refang(text), text);
  });

  it('records where replacements landed in the output', () => {
    const result = refangWithMarks('a evil[.]com b');
    assert.equal(result.text, 'a evil.com b');
    assert.deepEqual(result.marks, [6]);
    assert.equal(result.text[result.marks[0]], '.');
  });
});
