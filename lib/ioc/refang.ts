/**
 * Refanging: undo the "defanging" analysts apply so indicators cannot be clicked
 * (`hxxp`, `[.]`, `(.)`, `[dot]`, `[:]`, `[@]`, `[at]`, `[/]`, `\.`).
 */

/**
 * One alternation so the text is scanned once. Every branch starts with a distinct literal and has
 * only bounded quantifiers, so matching stays linear in the text length.
 * Spaces around a bracketed dot/at are swallowed: `evil [.] com` means `evil.com`.
 */
const DEFANG_PATTERN =
  /[ \t]?[[({][ \t]?(?:\.|dot)[ \t]?[\])}][ \t]?|[ \t]?[[({][ \t]?(?:@|at)[ \t]?[\])}][ \t]?|[[({](?::\/\/|:|\/)[\])}]|\bh(?:xx|\*\*)p(s?)\b|\bfxp\b|\\\./gi;

function replacementFor(match: string, httpsSuffix: string | undefined): string {
  const lower = match.toLowerCase();
  if (lower.startsWith('h')) return 'http' + (httpsSuffix ?? '').toLowerCase();
  if (lower === 'fxp') return 'ftp';
  if (lower === '\\.') return '.';
  const inner = lower.replace(/[\s[\](){}]/g, '');
  if (inner === 'dot') return '.';
  if (inner === 'at') return '@';
  return inner; // '.', '@', ':', '://', '/'
}

export interface RefangResult {
  text: string;
  /**
   * Sorted offsets in `text` where a replacement was written. Extraction uses them to tell that an
   * indicator was defanged in the source, which is strong evidence it is meant as an indicator.
   */
  marks: number[];
}

export function refangWithMarks(input: string): RefangResult {
  DEFANG_PATTERN.lastIndex = 0;
  let match = DEFANG_PATTERN.exec(input);
  if (match === null) return { text: input, marks: [] };
  const pieces: string[] = [];
  const marks: number[] = [];
  let consumed = 0;
  let outputLength = 0;
  while (match !== null) {
    const before = input.slice(consumed, match.index);
    pieces.push(before);
    outputLength += before.length;
    const replacement = replacementFor(match[0], match[1]);
    marks.push(outputLength);
    pieces.push(replacement);
    outputLength += replacement.length;
    consumed = match.index + match[0].length;
    match = DEFANG_PATTERN.exec(input);
  }
  pieces.push(input.slice(consumed));
  return { text: pieces.join(''), marks };
}

/** Text with defanged indicators turned back into their real form. */
export function refang(text: string): string {
  return refangWithMarks(text).text;
}

/** True when a mark lies in [start, end). `marks` is sorted, so binary search. */
export function hasMarkBetween(marks: readonly number[], start: number, end: number): boolean {
  let low = 0;
  let high = marks.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (marks[mid] < start) low = mid + 1;
    else high = mid;
  }
  return low < marks.length && marks[low] < end;
}
