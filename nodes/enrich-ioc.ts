/**
 * soar-enrich-ioc: finds the indicators of a message (normally msg.alert), looks them up in the
 * configured intel sources through the broker (cache, single flight, budgets, deadline), and writes
 * msg.iocs and msg.enrichment {verdict, score, why, results}.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { Hub } from '../lib/hub/hub';
import { extractFromAlert, extractFromText, type Allowlist, type IocType } from '../lib/ioc';
import { IntelBroker, type SourceNote } from '../lib/intel/broker';
import type { ProviderErrorCode } from '../lib/core/errors';
import { computeVerdict, verdictStatus } from '../lib/intel/verdict';
import { hubLifecycle, listField, migrateConfig, parseAllowlistLines, positiveNumber, SettingsParser, translator, type IntelSourceNode } from './common';

/** Config-reference slots: the editor counts, exports and checks each one (it cannot do so for an array). */
const SOURCE_SLOTS = 8;

interface EnrichDef extends NodeDef {
  /** Config version (resources/migrations/soar-enrich-ioc.js). */
  configVersion?: number;
  hub: string;
  /** Before the slots: an array of source ids; the migration moves them into the slots (ids beyond the eighth stay here). */
  sources?: string[];
  [slot: `source${number}`]: string | undefined;
  textFields: string;
  types: string;
  allowlist: string;
  deadline: number | string;
  malicious: number | string;
  suspicious: number | string;
  outputMode: 'single' | 'perVerdict';
}

const VERDICT_OUTPUT = { malicious: 0, suspicious: 1, benign: 2, unknown: 3 } as const;

/**
 * The source ids a node refers to: its slots, then any ids left in the older array (flows saved
 * before the slots; resources/migrations/soar-enrich-ioc.js moves them into free slots).
 */
function sourceIds(config: { sources?: unknown; [key: string]: unknown }): string[] {
  const ids: string[] = [];
  for (let i = 1; i <= SOURCE_SLOTS; i++) {
    const id = config[`source${i}`];
    if (typeof id === 'string' && id.trim()) ids.push(id.trim());
  }
  if (Array.isArray(config.sources)) ids.push(...config.sources.filter((id): id is string => typeof id === 'string' && id !== ''));
  return [...new Set(ids)];
}

/** A failure code in words for the status ("VirusTotal: auth failed"). */
const FAILURE_KEY: Partial<Record<ProviderErrorCode, string>> = {
  AUTH: 'auth',
  FORBIDDEN: 'auth',
  NETWORK: 'network',
  TIMEOUT: 'timeout',
  SERVER: 'server',
  QUOTA_EXHAUSTED: 'quota',
};

/** Per source: the failure of this message's lookups, or "ok" when the source answered; unchanged otherwise. */
function sourceStates(notes: SourceNote[]): Map<string, string> {
  const states = new Map<string, string>();
  for (const note of notes) {
    if (note.status === 'error') states.set(note.source, FAILURE_KEY[note.code as ProviderErrorCode] ?? 'error');
    else if ((note.status === 'answered' || note.status === 'cached') && !states.has(note.source)) states.set(note.source, 'ok');
  }
  return states;
}

export = function (RED: NodeAPI): void {
  const t = translator(RED, 'soar-enrich-ioc');

  /** A setting or reference the node cannot work with: every message fails with "configuration error: …". */
  class ConfigError extends Error {
    constructor(
      readonly detail: string,
      readonly statusKey: 'config-error' | 'missing-sources' = 'config-error',
    ) {
      super(t('errors.config', { message: detail }));
    }
  }

  function EnrichIocNode(this: Node, saved: EnrichDef): void {
    const config = migrateConfig(saved, (message) => RED.log.warn(`soar-enrich-ioc ${saved.id}: ${message}`));
    RED.nodes.createNode(this, config);
    const node = this;

    const ids = sourceIds(config as unknown as Record<string, unknown>);
    const found = ids.map((id) => RED.nodes.getNode(id) as IntelSourceNode | null);
    const sources = found.filter((n): n is IntelSourceNode => Boolean(n));
    /** Failing sources by name (reason key); logged once per change of state, shown in the status. */
    const failing = new Map<string, string>();
    const weights = Object.fromEntries(sources.map((s) => [s.sourceName, s.weight]));
    const textFields = listField(config.textFields);
    const types = listField(config.types) as IocType[];

    // Checked before the hub is asked, so the node fails at deploy and not at the first message.
    let configError: ConfigError | undefined;
    // A deleted source must not turn detection off silently: the node refuses to enrich and says why.
    const missing = ids.filter((_id, i) => !found[i]);
    if (missing.length) configError = new ConfigError(`${t('errors.missing-sources')}: ${missing.join(', ')}`, 'missing-sources');
    let allowlist: Allowlist | undefined;
    try {
      allowlist = parseAllowlistLines(listField(config.allowlist));
    } catch (err) {
      configError ??= new ConfigError((err as Error).message);
    }
    // A threshold the verdict would refuse is refused here too, never replaced by a default (blank is the default).
    const settings = new SettingsParser();
    const thresholds = {
      malicious: settings.number('the malicious threshold', config.malicious, { default: 70, min: 0 }),
      suspicious: settings.number('the suspicious threshold', config.suspicious, { default: 40, min: 0 }),
    };
    if (settings.errors.length) configError ??= new ConfigError(settings.errors.join('; '));
    try {
      // The verdict's own check (≤ 100, suspicious ≤ malicious), on an empty outcome.
      computeVerdict({ results: [], notes: [], lookups: { requested: 0, cached: 0, shared: 0 } }, { thresholds });
    } catch (err) {
      configError ??= new ConfigError((err as Error).message);
    }

    const lc = hubLifecycle(RED, node, {
      namespace: 'soar-enrich-ioc',
      hub: config.hub,
      setup: (hub: Hub) => {
        if (configError) throw configError;
        const providers = sources.map((s) => s.provider());
        // Sources belong to their config nodes (shared by several enrich nodes): the broker must not close them.
        const broker = new IntelBroker({ providers, store: hub.store, ownsProviders: false });
        // Feeds declare their indicator types once loaded; a failed load is reported by the lookups.
        const feedsLoaded = Promise.all(providers.map((p) => (p as { ready?: () => Promise<void> }).ready?.().catch(() => undefined)));
        return { hub, broker, feedsLoaded };
      },
      ready: () =>
        sources.length
          ? { fill: 'grey', shape: 'ring', text: t('status.ready', { sources: sources.length }) }
          : { fill: 'yellow', shape: 'ring', text: 'soar-enrich-ioc.status.no-sources' },
      errorKey: 'failed',
      failedKey: (err) => (err instanceof ConfigError ? err.statusKey : 'config-error'),
      // The log says what is wrong; messages fail with "configuration error: …".
      failedMessage: (err) => (err instanceof ConfigError ? err.detail : t('errors.config', { message: err.message })),
      teardown: ({ broker }) => broker.close(),
    });

    lc.onInput(async (msg, send, { hub, broker, feedsLoaded }) => {
      const alert = msg.alert as Record<string, unknown> | undefined;
      let iocs;
      if (alert && typeof alert === 'object') {
        iocs = extractFromAlert(alert as never, { textFields: textFields.length ? textFields : undefined, types: types.length ? types : undefined, allowlist });
      } else {
        const text = typeof msg.payload === 'string' ? msg.payload : JSON.stringify(msg.payload ?? '');
        iocs = extractFromText(text, { types: types.length ? types : undefined }).filter((i) => !allowlist?.matches(i));
      }
      node.status({ fill: 'blue', shape: 'dot', text: t('status.looking-up', { count: iocs.length }) });
      await feedsLoaded;
      const outcome = await broker.enrich(iocs, { deadlineMs: positiveNumber(config.deadline, 10) * 1000 });
      const enrichment = computeVerdict(outcome, { weights, thresholds });
      msg.iocs = iocs;
      msg.enrichment = enrichment;
      await hub.audit.append('enrichment.verdict', {
        alertId: typeof alert?.id === 'string' ? alert.id : undefined,
        verdict: enrichment.verdict,
        score: enrichment.score,
        indicators: iocs.length,
        why: enrichment.why,
      });
      for (const [source, state] of sourceStates(outcome.notes)) {
        const before = failing.get(source);
        if (state === 'ok') {
          if (before) node.log(`${source}: ${t('log.source-ok')}`);
          failing.delete(source);
        } else if (before !== state) {
          failing.set(source, state);
          node.warn(`${source}: ${t(`failure.${state}`)}`);
        }
      }
      const budget = broker.tightestBudget();
      let text = verdictStatus(enrichment, budget);
      const fill =
        enrichment.verdict === 'malicious' ? 'red' : enrichment.verdict === 'suspicious' ? 'yellow' : enrichment.verdict === 'benign' ? 'green' : 'grey';
      if (failing.size) {
        const [source, state] = [...failing][0];
        text = `${source}: ${t(`failure.${state}`)}${failing.size > 1 ? ` (+${failing.size - 1})` : ''} · ${enrichment.verdict}`;
      }
      node.status({ fill: failing.size ? 'yellow' : fill, shape: failing.size ? 'ring' : 'dot', text });
      if (config.outputMode === 'perVerdict') {
        const outs: (typeof msg | null)[] = [null, null, null, null];
        outs[VERDICT_OUTPUT[enrichment.verdict]] = msg;
        send(outs);
      } else {
        send(msg);
      }
    });
  }

  RED.nodes.registerType('soar-enrich-ioc', EnrichIocNode);
};
