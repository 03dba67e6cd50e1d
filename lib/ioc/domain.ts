/**
 * Deciding whether a dotted token is a domain name.
 *
 * A candidate must be a syntactically valid host name whose suffix is on the ICANN part of the
 * public suffix list (tldts). That alone lets through file names and code, because many
 * extensions are real TLDs (.md, .py, .sh, .zip, .mov, .pl, .rs ...). So, unless the candidate
 * comes with "strong context", these rules reject it:
 *   1. its TLD is a common file extension (FILE_EXTENSION_TLDS): `readme.md`, `main.py`;
 *   2. it has two labels, the first a field-set name of alert schemas or code (ECS/Wazuh/Suricata,
 *      `self`, `os`) and the second reads like a field leaf: `user.name`, `rule.id`, `data.win` are
 *      field references, not hosts (while `data.com` stays a domain);
 *   3. it looks like code or a run-on sentence: a camelCase label (`obj.getName`) or a
 *      Title-case TLD (`failed.Click`).
 * Underscores: DNS names may hold `_` (service labels such as `_dmarc`, `_sip._tcp`,
 * `selector._domainkey`, and host labels such as `build_srv01` that DNS serves though host-name
 * rules forbid them), so a name with `_` in labels left of its registrable domain is a domain,
 * whole: `_dmarc.example.com`, never the truncated `dmarc.example.com`. The registrable domain
 * itself (the label before the public suffix, and the suffix) may not hold `_`, as no registry
 * allows it; that keeps snake_case code (`my_var.com`, `self._cache.name`) out.
 * Strong context is: a URL host, a UNC host (`\\host\share`), the domain part of an e-mail address, a defanged form
 * (`evil[.]zip`), a `www.` first label, a DNS-ish word just before it (`domain`, `query`, `host`
 * ...), or a structured alert field / observable that is declared to hold a domain.
 */
import { parse } from 'tldts';

/**
 * File extensions that are (or could become) TLDs. Left out on purpose because the TLD reading
 * is far more common in alert text: `.com`, `.ai`, `.cc`, `.pl` (Poland; a bare `exploit.pl` is
 * the price, while `/cgi-bin/x.pl` is still caught by the path rule). Kept although real domains
 * use them, so those need context: `.zip`/`.mov` (exactly the phishing trick), `.so`, `.sh`, `.md`.
 */
const FILE_EXTENSION_TLDS = new Set([
  'md',
  'py',
  'sh',
  'zip',
  'mov',
  'pm',
  'ps',
  'rs',
  'so',
  'java',
  'mk',
  'ml',
  'tf',
  'ws',
  'map',
  'cat',
  'mo',
  'gs',
  'sb',
  'ht',
  'rar',
  'gz',
  'js',
  'ts',
  'json',
  'exe',
  'dll',
  'pdf',
  'doc',
  'docx',
  'xls',
  'xlsx',
  'txt',
  'log',
  'csv',
  'xml',
  'yml',
  'yaml',
  'ini',
  'cfg',
  'conf',
  'bin',
  'dat',
  'tmp',
  'bak',
  'iso',
  'img',
  'lnk',
  'vbs',
  'ps1',
  'bat',
  'cmd',
  'hta',
  'msi',
  'jar',
  'apk',
  'png',
  'jpg',
  'gif',
  'svg',
  'php',
  'asp',
  'aspx',
  'jsp',
  'html',
  'htm',
  'css',
  'sql',
  'db',
  'rb',
  'go',
  'c',
  'h',
  'cpp',
  'hpp',
  'cs',
  'kt',
  'swift',
  'lua',
  'r',
]);

/**
 * First labels that mark `x.y` as an alert field path rather than a host, when the second label
 * reads like a field leaf (see FIELD_LEAF_TLDS): `user.name`, `rule.id`, `data.win`.
 */
const FIELD_NAMESPACES = new Set([
  'agent',
  'alert',
  'client',
  'cloud',
  'container',
  'data',
  'decoder',
  'destination',
  'dns',
  'event',
  'file',
  'host',
  'http',
  'log',
  'manager',
  'network',
  'observer',
  'predecoder',
  'process',
  'registry',
  'rule',
  'server',
  'service',
  'source',
  'syscheck',
  'threat',
  'tls',
  'url',
  'user',
  'win',
  'flow',
  'fileinfo',
  'app',
  'src',
  'dst',
  'payload',
  'msg',
  'self',
  'this',
  'obj',
  'os',
  'sys',
  'req',
  'res',
  'request',
  'response',
  'config',
  'settings',
  'window',
  'document',
  'console',
]);

/** Short TLDs that double as field leaves; any TLD of 4+ letters (`name`, `host`, `email`) also counts. */
const FIELD_LEAF_TLDS = new Set(['id', 'win', 'app', 'run', 'dev', 'ip']);

function looksLikeFieldPath(labels: string[]): boolean {
  if (labels.length !== 2 || !FIELD_NAMESPACES.has(labels[0].toLowerCase())) return false;
  const leaf = labels[1].toLowerCase();
  return leaf.length >= 4 || FIELD_LEAF_TLDS.has(leaf);
}

// `_` is allowed in labels here; hasIcannSuffix keeps it out of the registrable domain.
const LABEL = /^[\p{L}\p{N}_](?:[\p{L}\p{N}\p{M}_-]{0,61}[\p{L}\p{N}\p{M}_])?$/u;
const ASCII_HOST = /^[a-z0-9_.-]+$/;
const ASCII_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const ASCII_TLD = /^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;
const UNICODE_TLD = /^[\p{L}\p{M}]{2,63}$/u;
const CAMEL_CASE = /[a-z][A-Z]/;
const TITLE_CASE = /^[A-Z][a-z]+$/;

/** Public-suffix verdicts are the slow part; tokens repeat a lot in logs, so keep a bounded cache. */
const suffixVerdicts = new Map<string, boolean>();
const SUFFIX_CACHE_LIMIT = 20000;

function hasIcannSuffix(host: string): boolean {
  const cached = suffixVerdicts.get(host);
  if (cached !== undefined) return cached;
  const result = parse(host, { extractHostname: false, detectIp: true });
  // Registries do not hand out names with `_`: `my_var.com`, `file_info.name` are code, not hosts.
  const verdict = result.isIp === false && result.isIcann === true && result.domain !== null && result.domain !== '' && !result.domain.includes('_');
  if (suffixVerdicts.size >= SUFFIX_CACHE_LIMIT) suffixVerdicts.clear();
  suffixVerdicts.set(host, verdict);
  return verdict;
}

/** Syntax only: label lengths, characters, hyphens, a TLD that is not numeric. */
function isHostnameSyntax(lower: string): boolean {
  if (lower.length > 253) return false;
  const labels = lower.split('.');
  if (labels.length < 2) return false;
  // Most names are ASCII; the Unicode-aware patterns are only needed for IDNs.
  const ascii = ASCII_HOST.test(lower);
  const labelPattern = ascii ? ASCII_LABEL : LABEL;
  for (const label of labels) {
    if (!labelPattern.test(label)) return false;
  }
  const tld = labels[labels.length - 1];
  return ascii ? ASCII_TLD.test(tld) : UNICODE_TLD.test(tld);
}

export interface DomainVerdict {
  /** Lower-case domain. */
  value: string;
  /** True when only strong context makes it a domain (file-extension TLD, field path, code-like). */
  needsContext: boolean;
}

/** Whether `candidate` is a valid host name with an ICANN suffix, and whether it needs context. */
export function assessDomain(candidate: string): DomainVerdict | undefined {
  const lastDot = candidate.lastIndexOf('.');
  if (lastDot <= 0) return undefined;
  const lower = candidate.toLowerCase();
  // Cheapest test first: most dotted tokens that are not domains end in a number or a single letter.
  const lowerTld = lower.slice(lastDot + 1);
  if (!ASCII_TLD.test(lowerTld) && !UNICODE_TLD.test(lowerTld)) return undefined;
  if (!isHostnameSyntax(lower)) return undefined;
  const labels = candidate.split('.');
  const tld = labels[labels.length - 1];
  const needsContext =
    FILE_EXTENSION_TLDS.has(lowerTld) || looksLikeFieldPath(labels) || TITLE_CASE.test(tld) || labels.some((label) => CAMEL_CASE.test(label));
  return hasIcannSuffix(lower) ? { value: lower, needsContext } : undefined;
}

/**
 * The normalised (lower-case) domain, or undefined when `candidate` is not one.
 * `strongContext` lifts the file-name and code rules (see the module comment).
 */
export function checkDomain(candidate: string, strongContext: boolean): string | undefined {
  const verdict = assessDomain(candidate);
  return verdict && (strongContext || !verdict.needsContext) ? verdict.value : undefined;
}

/** Drops cached public-suffix verdicts (benchmarks use it to measure cold runs). */
export function clearSuffixCache(): void {
  suffixVerdicts.clear();
}

/** True when `host` is a name with an ICANN public suffix (used to mark URLs to intranet names internal). */
export function hasPublicSuffix(host: string): boolean {
  const lower = host.toLowerCase();
  return isHostnameSyntax(lower) && hasIcannSuffix(lower);
}
