import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileStateStore } from '../../../lib/core/file-store';
import { ApprovalEngine } from '../../../lib/approval/engine';

/** A virtual clock: timers run only when the test advances time. */
export class FakeClock {
  t = Date.parse('2026-03-01T10:00:00Z');
  private seq = 0;
  private readonly timers = new Map<number, { at: number; cb: () => void }>();
  now = (): number => this.t;
  setTimer = (cb: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, cb });
    return id;
  };
  clearTimer = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };
  get scheduled(): number {
    return this.timers.size;
  }
  /** Move time forward, running each due timer at its own time and letting its work finish. */
  async advance(ms: number, engines: ApprovalEngine[]): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; cb: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].cb();
      for (const e of engines) await e.idle();
    }
    this.t = end;
  }
}

export interface AuditEntry {
  type: string;
  [k: string]: unknown;
}

export function memoryAudit(): { records: AuditEntry[]; append: (type: string, fields?: Record<string, unknown>) => Promise<never> } {
  const records: AuditEntry[] = [];
  return {
    records,
    append: async (type: string, fields: Record<string, unknown> = {}) => {
      records.push({ type, ...fields });
      return undefined as never;
    },
  };
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function openStore(dir: string, clock: FakeClock): Promise<FileStateStore> {
  return FileStateStore.open(dir, { fsync: false, now: clock.now, sweepIntervalMs: 0, compactIntervalMs: 0 });
}

export function sampleMessage(ip = '203.0.113.7'): Record<string, unknown> {
  return {
    _msgid: 'm1',
    alert: { title: 'SSH brute force <script>alert(1)</script>', severity: 3, severity_label: 'high', source: { ip } },
    enrichment: { verdict: 'malicious', score: 92, why: ['abuseipdb: 100% confidence', 'greynoise: malicious'] },
    payload: 'x',
  };
}

export const ANA = { name: 'Ana', identities: ['email:ana@example.org', 'slack:U0ANA'] };
export const BEN = { name: 'Ben', identities: ['email:ben@example.org', 'telegram:1001'] };
export const CAY = { name: 'Cay', identities: ['mattermost:cay1', 'editor:cay'] };
export const BOSS = { name: 'Boss', identities: ['email:boss@example.org'] };
