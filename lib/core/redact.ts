/**
 * Secret redaction for error messages and log lines. Node-RED-free.
 *
 * Two layers: exact secret values the caller registered (in the encodings they are likely to show up
 * in), and credential-shaped URL parts (userinfo, `apikey=`-style query parameters) whatever their value.
 */

export const REDACTED = '[REDACTED]';

// Query parameter names whose value is a credential in practice.
const SECRET_QUERY_PARAM =
  /([?&;](?:api[_-]?key|apikey|key|token|access[_-]?token|refresh[_-]?token|auth[_-]?key|auth|password|passwd|pwd|secret|client[_-]?secret|sig|signature)=)[^&#\s"'<>]*/gi;

// scheme://user:pass@host — the userinfo part, which never contains '/', '?', '#' or '@'.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi;

// Header names whose values are credentials (Authorization, x-apikey, Key, Auth-Key, X-OTX-API-KEY, PRIVATE-TOKEN, ...).
const SECRET_HEADER_NAME = /authorization|api[-_]?key|apikey|token|secret|passw|auth|^key$|cookie|signature/i;

/** The forms a secret can take once it has been put in a URL, a form body or a JSON string. */
function variantsOf(secret: string): string[] {
  const variants = new Set<string>([secret]);
  try {
    const uriEncoded = encodeURIComponent(secret);
    variants.add(uriEncoded);
    variants.add(uriEncoded.replace(/%20/g, '+'));
  } catch {
    // Lone surrogates cannot be URI-encoded; the raw form is still covered.
  }
  variants.add(JSON.stringify(secret).slice(1, -1));
  return [...variants];
}

/** Replace every registered secret (and credential-shaped URL parts) in `text` with [REDACTED]. */
export function redact(text: string, secrets: readonly string[]): string {
  let result = String(text);
  const variants = new Set<string>();
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret.length === 0) continue;
    for (const variant of variantsOf(secret)) variants.add(variant);
  }
  // Longest first, so a secret that contains another one is replaced whole.
  for (const variant of [...variants].sort((a, b) => b.length - a.length)) {
    if (result.includes(variant)) result = result.split(variant).join(REDACTED);
  }
  result = result.replace(URL_USERINFO, `$1${REDACTED}@`);
  result = result.replace(SECRET_QUERY_PARAM, `$1${REDACTED}`);
  return result;
}

/**
 * A redacted copy of an arbitrary value (a response body), safe to keep on an error.
 * Values whose JSON is longer than `maxChars` come back as a truncated string.
 */
export function redactValue(value: unknown, secrets: readonly string[], maxChars = 4096): unknown {
  if (value === undefined || value === null) return value;
  let text: string;
  if (typeof value === 'string') {
    text = value;
  } else if (Buffer.isBuffer(value)) {
    text = value.toString('utf8');
  } else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  const clean = redact(text, secrets);
  if (clean.length > maxChars) return clean.slice(0, maxChars) + '…';
  if (typeof value === 'string' || Buffer.isBuffer(value)) return clean;
  try {
    return JSON.parse(clean);
  } catch {
    return clean;
  }
}

/**
 * Secrets implied by request headers (or query parameters): the value of every credential-looking
 * name, the token after an auth scheme ("Bearer x", "Basic x"), and the user:password inside Basic.
 */
export function secretsFromHeaders(headers: Record<string, unknown> | undefined): string[] {
  const found: string[] = [];
  if (!headers) return found;
  for (const [name, raw] of Object.entries(headers)) {
    if ((typeof raw !== 'string' && typeof raw !== 'number') || !SECRET_HEADER_NAME.test(name)) continue;
    const value = String(raw).trim();
    if (!value) continue;
    found.push(value);
    const schemeMatch = /^([A-Za-z][\w-]*)\s+(\S.*)$/.exec(value);
    if (!schemeMatch) continue;
    const [, scheme, credentials] = schemeMatch;
    found.push(credentials);
    if (scheme.toLowerCase() === 'basic') {
      const decoded = Buffer.from(credentials, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) {
        found.push(decoded);
        if (colon < decoded.length - 1) found.push(decoded.slice(colon + 1));
      }
    }
  }
  return found;
}

function decodeSafely(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Credentials embedded in a URL's userinfo: the password (raw and decoded; the user part when there is
 * no password), user:password, and the base64 form it takes in the Basic Authorization header the
 * HTTP stack derives from it.
 */
export function secretsFromUrl(url: string | undefined): string[] {
  if (!url) return [];
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  if (!parsed.username && !parsed.password) return [];
  const username = decodeSafely(parsed.username);
  const password = decodeSafely(parsed.password);
  const userAndPassword = `${username}:${password}`;
  // Without a password the user part is the credential (https://TOKEN@host).
  const credential = parsed.password ? [parsed.password, password] : [parsed.username, username];
  return [...credential, userAndPassword, Buffer.from(userAndPassword, 'utf8').toString('base64')];
}
