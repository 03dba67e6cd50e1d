/**
 * Defanging: make indicators unclickable for text a person reads (tickets, chat), the inverse of
 * refang() in ./refang.ts, which turns every form written here back into the original.
 * `http` → `hxxp`, `ftp` → `fxp`, `://` → `[://]`, `.` → `[.]`, `@` → `[@]`, IPv6 `:` → `[:]`.
 */

/** Types whose values cannot be followed (hashes, CVE ids) stay as they are. */
const INERT = new Set(['md5', 'sha1', 'sha256', 'sha512', 'cve']);

/**
 * One pass over the text; the scheme is only rewritten where it starts a word (not after a letter,
 * digit or `_`), the same boundary refang() in ./refang.ts needs to turn it back.
 */
const PATTERN = /(^|[^A-Za-z0-9_])(h)(tt)(ps?)(?=:\/\/)|(^|[^A-Za-z0-9_])(f)(t)(p)(?=:\/\/)|:\/\/|\.|@/gi;

export function defang(value: string, type?: string): string {
  if (type !== undefined && INERT.has(type)) return value;
  let text = value.replace(PATTERN, (match: string, b1?: string, h?: string, _tt?: string, ps?: string, b2?: string, f?: string) => {
    if (h !== undefined) return `${b1 ?? ''}${h}xx${ps}`;
    if (f !== undefined) return `${b2 ?? ''}${f}xp`;
    return `[${match}]`;
  });
  // IPv6 literals: their colons are what a client would follow.
  if (type === 'ipv6') text = text.replace(/:/g, '[:]');
  return text;
}
