/** Shared helpers for the alert normaliser tests: fixture loading and dotted-path reads. */
import fs from 'node:fs';
import path from 'node:path';

export const FIXTURES = path.resolve(__dirname, '../../fixtures');
export const SAMPLE_ROOTS = [path.join(FIXTURES, 'samples'), path.join(FIXTURES, 'samples-extra')];

export interface GoldenCase {
  root: string;
  format: string;
  name: string;
  samplePath: string;
  expected: ExpectedFile;
}

export type ExpectedAlert = Record<string, unknown> & { observables_include?: { type: string; value: string; field?: string }[] };
export interface ExpectedFile {
  count: number;
  alerts: ExpectedAlert[];
}

/** Every sample with its expectation (`count`+`alerts[]`, or one alert's dotted paths). */
export function goldenCases(): GoldenCase[] {
  const cases: GoldenCase[] = [];
  for (const root of SAMPLE_ROOTS) {
    if (!fs.existsSync(root)) continue;
    for (const format of fs.readdirSync(root).sort()) {
      const dir = path.join(root, format);
      if (format === 'expected' || !fs.statSync(dir).isDirectory()) continue;
      for (const name of fs.readdirSync(dir).sort()) {
        const expectedPath = path.join(root, 'expected', format, name);
        const raw = JSON.parse(fs.readFileSync(expectedPath, 'utf8')) as Record<string, unknown>;
        const expected: ExpectedFile = Array.isArray(raw.alerts)
          ? { count: raw.count as number, alerts: raw.alerts as ExpectedAlert[] }
          : { count: 1, alerts: [raw as ExpectedAlert] };
        cases.push({ root: path.basename(root), format, name, samplePath: path.join(dir, name), expected });
      }
    }
  }
  return cases;
}

export function readSample(...parts: string[]): Buffer {
  return fs.readFileSync(path.join(FIXTURES, ...parts));
}

export function sampleJson(...parts: string[]): Record<string, unknown> {
  return JSON.parse(readSample(...parts).toString('utf8')) as Record<string, unknown>;
}

/** Value at a dotted path of a plain object ("source.ip", "rule.mitre"). */
export function at(value: unknown, dotted: string): unknown {
  let cur: unknown = value;
  for (const seg of dotted.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}
