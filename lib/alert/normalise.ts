/**
 * normalise(): split envelopes, detect (or check) the format per item, map with the format's
 * adapter, finish in one common place, validate against the published schema. Bad input is an
 * AlertInputError naming the item; items that are not alerts are listed as ignored.
 */
import { AlertInputError } from './errors';
import { finalise, type FinaliseContext } from './finalise';
import { ADAPTER_BY_FORMAT, ADAPTERS } from './formats';
import { generic } from './formats/generic';
import { isSoarAlert, reuseAlert } from './formats/soar';
import { validateAlert } from './schema';
import type { AlertFormat, FormatAdapter, MapContext, NormalisedAlert, NormaliseOptions, NormaliseResult } from './types';
import { clip, describeType, isRecord, type JsonObject } from './util';

/** Nested arrays are flattened this deep (a CrowdSec array inside an NDJSON line, say); deeper is not an alert. */
const MAX_ARRAY_NESTING = 2;

/** The format of one item (an envelope counts as its format; an array by its first object); undefined when unknown. */
export function detectFormat(item: unknown): AlertFormat | undefined {
  let value = item;
  for (let i = 0; i < MAX_ARRAY_NESTING && Array.isArray(value); i++) value = value.find(isRecord);
  if (!isRecord(value)) return undefined;
  for (const adapter of ADAPTERS) if (adapter.detect(value)) return adapter.format;
  return undefined;
}

const VOWEL_START = /^[aeio]/;

function article(format: string): string {
  return VOWEL_START.test(format) ? 'an' : 'a';
}

function keysHint(item: JsonObject): string {
  const keys = Object.keys(item);
  if (keys.length === 0) return 'an empty object';
  const shown = keys.slice(0, 8).map((k) => clip(k, 32));
  return `keys: ${shown.join(', ')}${keys.length > 8 ? ', …' : ''}`;
}

class Run {
  readonly alerts: NormalisedAlert[] = [];
  readonly ignored: { index: number; reason: string }[] = [];
  private readonly fixed: FormatAdapter | undefined;
  private readonly fin: FinaliseContext;
  private readonly ctx: MapContext;

  constructor(private readonly options: NormaliseOptions) {
    const format = options.format ?? 'auto';
    if (format !== 'auto') {
      this.fixed = ADAPTER_BY_FORMAT.get(format);
      if (!this.fixed) throw new AlertInputError(`unknown alert format '${clip(String(format), 40)}'`, 400);
    }
    const received = options.received ?? new Date();
    this.fin = { receivedIso: Number.isNaN(received.getTime()) ? new Date().toISOString() : received.toISOString() };
    this.ctx = { options };
  }

  item(value: unknown, index: number, label: string, depth: number): void {
    const where = `item ${index + 1}${label ? ` ${label}` : ''}`;
    if (Array.isArray(value)) {
      if (depth >= MAX_ARRAY_NESTING) {
        this.ignored.push({ index, reason: `${label || 'item'}: a nested array is not an alert` });
        return;
      }
      for (let i = 0; i < value.length; i++) this.item(value[i], index, `${label}[${i}]`, depth + 1);
      return;
    }
    if (!isRecord(value)) {
      if (this.fixed) throw new AlertInputError(`${where} is ${describeType(value)}, not an alert object`, 400);
      throw new AlertInputError(
        `could not recognise the alert format of ${where} (${describeType(value)}, not a JSON object); set the node's format or use 'generic'`,
        400,
      );
    }
    // Already normalised alerts (replays) are accepted whatever the configured format.
    if (isSoarAlert(value)) {
      this.reuse(value, where);
      return;
    }

    let adapter = this.fixed;
    if (!adapter) {
      adapter = ADAPTERS.find((a) => a.detect(value));
      if (!adapter && this.options.genericMapper && isRecord(this.options.genericMapper(value))) adapter = generic;
      if (!adapter) {
        throw new AlertInputError(`could not recognise the alert format of ${where} (${keysHint(value)}); set the node's format or use 'generic'`, 400);
      }
    }

    const envelope = adapter.split?.(value);
    if (envelope) {
      const prefix = label ? `${label}.` : '';
      for (let i = 0; i < envelope.entries.length; i++) {
        this.entry(adapter, envelope.entries[i], index, `${prefix}${envelope.label}[${i}]`, value);
      }
      return;
    }
    if (this.fixed) {
      const missing = adapter.missing(value, this.ctx);
      if (missing) throw new AlertInputError(`${where} is not ${article(adapter.format)} ${adapter.format} alert: ${missing}`, 400);
    }
    this.entry(adapter, value, index, label, undefined);
  }

  private entry(adapter: FormatAdapter, value: unknown, index: number, label: string, envelope: JsonObject | undefined): void {
    const where = `item ${index + 1}${label ? ` ${label}` : ''}`;
    const note = (reason: string) => this.ignored.push({ index, reason: label ? `${label}: ${reason}` : reason });
    if (!isRecord(value)) {
      note(`${describeType(value)} is not an alert`);
      return;
    }
    if (isSoarAlert(value)) {
      this.reuse(value, where);
      return;
    }
    if (envelope) {
      const missing = adapter.missing(value, this.ctx);
      if (missing) {
        note(`not ${article(adapter.format)} ${adapter.format} alert (${missing})`);
        return;
      }
    }

    let outcome;
    try {
      outcome = adapter.map(value, envelope ? { options: this.options, envelope } : this.ctx);
    } catch (err) {
      if (err instanceof AlertInputError) throw new AlertInputError(`${where}: ${err.message}`, err.status);
      // An adapter bug on odd input is the sender's 400 with a reason, never a crash of the intake.
      throw new AlertInputError(`${where}: could not read the ${adapter.format} alert (${clip(err instanceof Error ? err.message : String(err), 120)})`, 400);
    }
    if ('ignore' in outcome) {
      note(outcome.ignore);
      return;
    }

    let alert: NormalisedAlert;
    try {
      alert = finalise(outcome, adapter.format, this.fin);
    } catch (err) {
      throw new AlertInputError(
        `${where}: could not normalise the ${adapter.format} alert (${clip(err instanceof Error ? err.message : String(err), 120)})`,
        400,
      );
    }
    const errors = validateAlert(alert);
    if (errors.length) throw new AlertInputError(`${where}: the normalised ${adapter.format} alert is invalid: ${errors[0]}`, 400);
    this.alerts.push(alert);
  }

  private reuse(value: JsonObject, where: string): void {
    const alert = reuseAlert(value, this.fin.receivedIso);
    const errors = validateAlert(alert);
    if (errors.length) throw new AlertInputError(`${where}: the soar.alert/1 alert is invalid: ${errors[0]}`, 400);
    this.alerts.push(alert as unknown as NormalisedAlert);
  }
}

/**
 * Normalise parsed items. Envelopes are split here (arrays, Alertmanager and Elastic webhook
 * bodies, Graph list pages, the Wazuh integrator envelope). Throws AlertInputError (400) for an
 * item whose format cannot be recognised (auto) or does not fit (fixed format).
 */
export function normalise(items: unknown[], opts: NormaliseOptions = {}): NormaliseResult {
  if (!Array.isArray(items)) throw new AlertInputError(`expected a list of items, got ${describeType(items)}`, 400);
  const run = new Run(opts);
  for (let i = 0; i < items.length; i++) {
    try {
      run.item(items[i], i, '', 0);
    } catch (err) {
      if (err instanceof AlertInputError) throw err;
      // Whatever odd value an adapter tripped over, the sender gets a 400 with a reason, not a crash.
      throw new AlertInputError(`item ${i + 1}: could not read the alert (${clip(err instanceof Error ? err.message : String(err), 120)})`, 400);
    }
  }
  return { alerts: run.alerts, ignored: run.ignored };
}
