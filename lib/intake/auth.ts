/**
 * Authentication of webhook requests: bearer token, HMAC-SHA256 of the raw body (GitHub style
 * "sha256=<hex>"), HTTP basic, plus an optional source-address allowlist. Secrets are compared in
 * constant time; no reason given to a caller ever contains a secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { secretEquals } from '../core/secret';

/** Kept here for callers of the intake module; the helper lives in lib/core/secret.ts. */
export { secretEquals };
import * as ipaddr from 'ipaddr.js';

export type IntakeAuthType = 'none' | 'bearer' | 'hmac' | 'basic';

export interface IntakeAuthConfig {
  type: IntakeAuthType;
  token?: string;
  hmacSecret?: string;
  /** Header that carries "sha256=<hex>"; GitHub uses X-Hub-Signature-256. */
  hmacHeader?: string;
  basicUser?: string;
  basicPassword?: string;
  /** CIDRs (or single addresses) allowed to post; empty = any. */
  allowFrom?: string[];
}

export interface AuthRequest {
  headers: Record<string, string | string[] | undefined>;
  remoteAddress?: string;
  /** Raw body bytes; undefined when something upstream already consumed and parsed the body. */
  rawBody?: Buffer;
}

export type AuthResult = { ok: true } | { ok: false; status: 401 | 403; reason: string };

type ParsedRange = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Parse the allowlist once; throws with the offending entry so the node can show it. */
export function parseAllowlist(entries: string[] | undefined): ParsedRange[] {
  const ranges: ParsedRange[] = [];
  for (const raw of entries ?? []) {
    const entry = raw.trim();
    if (!entry) continue;
    try {
      if (entry.includes('/')) ranges.push(ipaddr.parseCIDR(entry));
      else {
        const addr = ipaddr.parse(entry);
        ranges.push([addr, addr.kind() === 'ipv4' ? 32 : 128]);
      }
    } catch {
      throw new Error(`allowlist entry "${entry}" is not an IP address or CIDR`);
    }
  }
  return ranges;
}

export function addressAllowed(remote: string | undefined, ranges: ParsedRange[]): boolean {
  if (ranges.length === 0) return true;
  if (!remote) return false;
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(remote); // folds ::ffff:a.b.c.d into IPv4
  } catch {
    return false;
  }
  return ranges.some(([net, bits]) => net.kind() === addr.kind() && addr.match([net, bits] as never));
}

function header(req: AuthRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export class IntakeAuthenticator {
  private readonly ranges: ParsedRange[];
  constructor(private readonly cfg: IntakeAuthConfig) {
    this.ranges = parseAllowlist(cfg.allowFrom);
    if (cfg.type === 'bearer' && !cfg.token) throw new Error('bearer auth needs a token');
    if (cfg.type === 'hmac' && !cfg.hmacSecret) throw new Error('HMAC auth needs a secret');
    if (cfg.type === 'basic' && (!cfg.basicUser || !cfg.basicPassword)) throw new Error('basic auth needs a user and a password');
  }

  get needsRawBody(): boolean {
    return this.cfg.type === 'hmac';
  }

  /** Everything that can be decided from the connection and headers alone. */
  checkBeforeBody(req: AuthRequest): AuthResult {
    if (!addressAllowed(req.remoteAddress, this.ranges)) {
      return { ok: false, status: 403, reason: `source address ${req.remoteAddress ?? 'unknown'} is not in the allowlist` };
    }
    switch (this.cfg.type) {
      case 'none':
        return { ok: true };
      case 'bearer': {
        const auth = header(req, 'authorization') ?? '';
        const m = /^Bearer\s+(.+)$/i.exec(auth);
        if (!m) return { ok: false, status: 401, reason: 'missing bearer token (Authorization: Bearer <token>)' };
        return secretEquals(m[1].trim(), this.cfg.token!) ? { ok: true } : { ok: false, status: 401, reason: 'invalid bearer token' };
      }
      case 'basic': {
        const auth = header(req, 'authorization') ?? '';
        const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(auth);
        if (!m) return { ok: false, status: 401, reason: 'missing basic credentials (Authorization: Basic ...)' };
        const decoded = Buffer.from(m[1], 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        const user = colon >= 0 ? decoded.slice(0, colon) : decoded;
        const pass = colon >= 0 ? decoded.slice(colon + 1) : '';
        // Evaluate both comparisons so timing does not tell which one failed.
        const userOk = secretEquals(user, this.cfg.basicUser!);
        const passOk = secretEquals(pass, this.cfg.basicPassword!);
        return userOk && passOk ? { ok: true } : { ok: false, status: 401, reason: 'invalid basic credentials' };
      }
      case 'hmac': {
        const sig = header(req, this.hmacHeader);
        if (!sig) return { ok: false, status: 401, reason: `missing signature header ${this.hmacHeader}` };
        if (!/^sha256=[0-9a-fA-F]{64}$/.test(sig.trim())) {
          return { ok: false, status: 401, reason: `signature header ${this.hmacHeader} must be sha256=<64 hex digits>` };
        }
        return { ok: true };
      }
      default:
        return { ok: false, status: 401, reason: 'unknown auth type' };
    }
  }

  /** The part that needs the raw body: the HMAC signature. */
  checkBody(req: AuthRequest): AuthResult {
    if (this.cfg.type !== 'hmac') return { ok: true };
    if (!req.rawBody) {
      return {
        ok: false,
        status: 401,
        reason:
          'signature cannot be checked: Node-RED parsed the request body before the intake saw it ' +
          "(httpAdminRoot is '/'); move the editor to a sub-path such as /admin",
      };
    }
    const sig = (header(req, this.hmacHeader) ?? '').trim().slice('sha256='.length);
    const expected = createHmac('sha256', this.cfg.hmacSecret!).update(req.rawBody).digest();
    const given = Buffer.from(sig, 'hex');
    return given.length === expected.length && timingSafeEqual(expected, given)
      ? { ok: true }
      : { ok: false, status: 401, reason: 'signature does not match the body' };
  }

  /** Both checks, for callers that already hold the body. */
  check(req: AuthRequest): AuthResult {
    const first = this.checkBeforeBody(req);
    return first.ok ? this.checkBody(req) : first;
  }

  private get hmacHeader(): string {
    return (this.cfg.hmacHeader || 'x-hub-signature-256').toLowerCase();
  }
}
