/**
 * Text from outside (alert fields, request data) on its way into log lines and node status texts.
 * Records keep such text verbatim; what a terminal or an editor shows must not carry control
 * characters: ANSI escapes could rewrite a log line on screen, CR/LF could forge a new one, and
 * bidirectional overrides could make a shown name read differently from what it is.
 * Node-RED-free.
 */

// C0 controls (tab included: it can pad a forged column), DEL, C1 controls, the bidi embeddings,
// overrides and isolates, and the line/paragraph separators that some terminals break on.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

function escapeOne(ch: string): string {
  const code = ch.charCodeAt(0);
  switch (ch) {
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    case '\u001b':
      return '\\e';
  }
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Escape control characters so the text shows as one inert line: ESC becomes `\e`, newline `\n`,
 * other controls `\xNN` or `\uNNNN`. A backslash is doubled only when the text needed escaping
 * elsewhere too, so ordinary Windows paths stay readable while an escaped text stays unambiguous.
 */
export function escapeControl(text: string): string {
  UNSAFE.lastIndex = 0;
  if (!UNSAFE.test(text)) return text;
  UNSAFE.lastIndex = 0;
  return text.replace(/\\/g, '\\\\').replace(UNSAFE, escapeOne);
}

/** The first `max` UTF-16 units of `text`, one fewer when the cut would split a surrogate pair (an emoji). */
export function sliceWhole(text: string, max: number): string {
  const end = Math.max(0, max);
  const code = text.charCodeAt(end - 1); // NaN before the start: no pair to keep whole
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? end - 1 : end);
}

/** escapeControl, then cut to at most `max` characters (an ellipsis marks the cut). */
export function displayText(value: unknown, max = 200): string {
  const text = escapeControl(typeof value === 'string' ? value : String(value));
  return text.length <= max ? text : `${sliceWhole(text, max - 1)}…`;
}
