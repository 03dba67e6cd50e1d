#!/usr/bin/env node
// Benchmark of the intel broker (compiled code: build first with `npx tsc -p .`).
//   node bench/intel.js            prints a table (exit code 1 when a check fails)
//   require("./bench/intel").run() returns the numbers
//
// 1. The burst: 1,000 alert-like indicator sets holding 200 distinct public IPv4s (documentation
//    ranges) arrive at once and are enriched through the broker with the real VirusTotal provider
//    (HTTP client, 4/min + 500/day budget) against the VirusTotal contract fake, behind a gate that
//    enforces 4 requests per 60 s and answers 429 QuotaExceededError past it (which would pause the
//    client and fail lookups). Client, gate, fake, store TTLs and the broker deadline share one
//    virtual clock (ManualClock), advanced only while every lookup in progress is waiting in the
//    budget queue, so 50 virtual minutes take seconds and no request is on the wire when time jumps.
//    Checks: no lookup fails, the fake never sees more than 4 in any 60 s, 200 requests in total
//    (repeated indicators cost nothing).
// 2. Cached lookups per second once all 200 are cached (broker.enrich answering from the state store,
//    real timers as deployed), against a bare Map lookup of the same (source, indicator) pairs in the
//    same run (ratio).
// Options (env): BENCH_DURATION_MS (cached phase, default 2000), BENCH_FSYNC=0, SOAR_DIST.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');

const dist = process.env.SOAR_DIST ? path.resolve(process.env.SOAR_DIST) : path.join(__dirname, '..', 'dist');
const { IntelBroker } = require(path.join(dist, 'lib', 'intel', 'broker.js'));
const { computeVerdict } = require(path.join(dist, 'lib', 'intel', 'verdict.js'));
const { createVirusTotal } = require(path.join(dist, 'lib', 'intel', 'providers', 'virustotal.js'));
const { FileStateStore } = require(path.join(dist, 'lib', 'core', 'file-store.js'));
const { classifyIp } = require(path.join(dist, 'lib', 'ioc', 'index.js'));
// The contract fake and the virtual clock are test helpers written in TypeScript: load them through
// tsx's scoped require, which leaves the compiled engine above untouched.
const tsx = require('tsx/cjs/api');
const { startVirusTotalFake } = tsx.require('../test/fakes/virustotal.ts', __filename);
const { ManualClock } = tsx.require('../test/helpers/fake-server.ts', __filename);

const ALERTS = 1000;
const DISTINCT = 200;
const LIMIT_PER_MINUTE = 4;
const MINUTE = 60_000;
const START = Date.UTC(2026, 0, 15, 6, 0, 0); // far from the 00:00 UTC day reset
const DEADLINE_MS = 3 * 3_600_000; // virtual: longer than the ~50 min the burst needs, so nothing is cut off

/** 200 distinct addresses from the three RFC 5737 documentation ranges (public for lib/ioc). */
function distinctIps() {
  const ips = [];
  for (let i = 1; ips.length < DISTINCT; i++) {
    for (const prefix of ['203.0.113', '198.51.100', '192.0.2']) if (ips.length < DISTINCT) ips.push(`${prefix}.${i}`);
  }
  return ips;
}

/** Deterministic pseudo-random numbers, so every run enriches the same burst. */
function seeded(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** 1,000 indicator sets of 1-4 IPs; every address appears at least once, most many times. */
function alertSets(ips) {
  const random = seeded(42);
  const sets = [];
  for (let i = 0; i < ALERTS; i++) {
    const chosen = new Set([ips[i % ips.length]]);
    const extra = Math.floor(random() * 4);
    for (let k = 0; k < extra; k++) chosen.add(ips[Math.floor(random() * ips.length)]);
    sets.push([...chosen].map((value) => ({ type: 'ipv4', value, role: 'source', internal: classifyIp(value).internal })));
  }
  return sets;
}

/**
 * A gate in front of the fake that enforces the vendor limit on the virtual clock: a request that would
 * be the 5th within 60 s is answered 429 QuotaExceededError (VirusTotal's answer) and never reaches the fake.
 */
async function startRateGate(targetPort, now) {
  const arrivals = [];
  const gate = { forwarded: 0, refused: 0 };
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((request, response) => {
    const at = now();
    while (arrivals.length && arrivals[0] <= at - MINUTE) arrivals.shift();
    if (arrivals.length >= LIMIT_PER_MINUTE) {
      gate.refused++;
      request.resume();
      const body = JSON.stringify({ error: { code: 'QuotaExceededError', message: 'Quota exceeded' } });
      response.writeHead(429, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      response.end(body);
      return;
    }
    arrivals.push(at);
    gate.forwarded++;
    const upstream = http.request(
      { host: '127.0.0.1', port: targetPort, method: request.method, path: request.url, headers: request.headers, agent },
      (answer) => {
        response.writeHead(answer.statusCode || 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on('error', () => response.destroy());
    request.pipe(upstream);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  gate.url = `http://127.0.0.1:${server.address().port}`;
  gate.close = () =>
    new Promise((resolve) => {
      agent.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return gate;
}

/** Counts lookups in progress, so the driver knows when everything is waiting for budget. */
function tracked(provider) {
  const tracker = { inFlight: 0, events: 0 };
  const lookup = provider.lookup;
  const wrapped = Object.assign({}, provider, {
    lookup(indicator, signal) {
      tracker.inFlight++;
      tracker.events++;
      return lookup(indicator, signal).finally(() => {
        tracker.inFlight--;
        tracker.events++;
      });
    },
  });
  return { wrapped, tracker };
}

/** Most requests within any 60 s span (half-open, as the vendor counts). */
function maxPerMinute(times) {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i] - sorted[j] >= MINUTE) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

const realTick = () => new Promise((resolve) => setTimeout(resolve, 1));

/**
 * Moves virtual time while the burst runs: only when every lookup in progress waits in the budget queue
 * (nothing on the wire), straight to the moment the minute window frees a slot. If nothing happens for
 * 2 s of real time while timers are pending (e.g. a retry backoff sleeping on the clock), it nudges the
 * clock by a second so a misbehaving run ends and shows up in the counts instead of hanging.
 */
async function driveVirtualTime(clock, provider, tracker, finished) {
  let lastEvents = -1;
  let quietSince = Date.now();
  let jumps = 0;
  while (!finished.done) {
    const state = provider.budgetState();
    if (tracker.inFlight > 0 && tracker.inFlight === state.queued) {
      const minute = state.windows.find((window) => window.window === 'minute');
      const next = minute && minute.resetsAt ? minute.resetsAt.getTime() : clock.now() + 1_000;
      await clock.advanceTo(Math.max(next, clock.now() + 1));
      jumps++;
      continue;
    }
    if (tracker.events !== lastEvents) {
      lastEvents = tracker.events;
      quietSince = Date.now();
    } else if (Date.now() - quietSince > 2_000 && clock.pending > 0) {
      await clock.advance(1_000);
      quietSince = Date.now();
    }
    await realTick();
  }
  return jumps;
}

async function burst({ sets, ips, fsync, root }) {
  const clock = new ManualClock(START);
  const fake = await startVirusTotalFake({ now: clock.now });
  ips.forEach((ip, index) => {
    // A mix of answers: every 5th address is flagged by many engines, every 7th by a few.
    const malicious = index % 5 === 0 ? 14 : index % 7 === 0 ? 1 : 0;
    fake.addIp(ip, { stats: { malicious, harmless: 60, undetected: 10 } });
  });
  const gate = await startRateGate(fake.server.port, clock.now);
  const store = await FileStateStore.open(path.join(root, 'state'), { fsync, now: clock.now });
  const vt = createVirusTotal({ baseURL: `${gate.url}/api/v3`, apiKey: fake.apiKey, now: clock.now, sleep: clock.sleep });
  const { wrapped, tracker } = tracked(vt);
  const broker = new IntelBroker({ providers: [wrapped], store, now: clock.now, sleep: clock.sleep });

  const realStart = process.hrtime.bigint();
  const finished = { done: false };
  const all = Promise.all(sets.map((set) => broker.enrich(set, { deadlineMs: DEADLINE_MS }))).finally(() => {
    finished.done = true;
  });
  const [outcomes, jumps] = await Promise.all([all, driveVirtualTime(clock, vt, tracker, finished)]);
  const realSeconds = Number(process.hrtime.bigint() - realStart) / 1e9;

  const failedStatuses = new Set(['error', 'quota', 'rate-limited', 'deadline']);
  let failed = 0;
  let answered = 0;
  const lookups = { requested: 0, cached: 0, shared: 0 };
  const verdicts = { malicious: 0, suspicious: 0, benign: 0, unknown: 0 };
  for (const outcome of outcomes) {
    failed += outcome.notes.filter((note) => failedStatuses.has(note.status)).length;
    answered += outcome.results.length;
    for (const key of Object.keys(lookups)) lookups[key] += outcome.lookups[key];
    verdicts[computeVerdict(outcome).verdict]++;
  }
  const result = {
    alerts: sets.length,
    indicatorsInAlerts: sets.reduce((sum, set) => sum + set.length, 0),
    distinctIndicators: new Set(sets.flat().map((ioc) => ioc.value)).size,
    lookupsAnswered: answered,
    lookupsFailed: failed,
    requestsTotal: fake.requests.length,
    gateRefused: gate.refused,
    maxRequestsPer60s: maxPerMinute(fake.requests.map((request) => request.at)),
    limitPer60s: LIMIT_PER_MINUTE,
    brokerLookups: lookups,
    verdicts,
    contractViolations: fake.violations.length,
    virtualMinutes: Number(((clock.now() - START) / MINUTE).toFixed(1)),
    clockJumps: jumps,
    realSeconds: Number(realSeconds.toFixed(2)),
  };
  return { result, clock, store, broker, fake, gate, vt: wrapped };
}

/** Sequential enrich() calls over the burst's sets, all answered from the cache, for `durationMs`. */
async function cachedRate(broker, sets, durationMs) {
  let lookups = 0;
  let requested = 0;
  let i = 0;
  const deadline = Date.now() + durationMs;
  const start = process.hrtime.bigint();
  while (Date.now() < deadline) {
    for (let k = 0; k < 100; k++) {
      const outcome = await broker.enrich(sets[i++ % sets.length]);
      lookups += outcome.lookups.cached;
      requested += outcome.lookups.requested + outcome.lookups.shared;
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { lookups, requested, perSecond: lookups / seconds };
}

/** The same (source, indicator) pairs looked up in a bare Map holding the same results. */
async function mapRate(map, sets, durationMs) {
  let lookups = 0;
  let i = 0;
  let sink = 0;
  const deadline = Date.now() + durationMs;
  const start = process.hrtime.bigint();
  while (Date.now() < deadline) {
    for (let k = 0; k < 100; k++) {
      const results = [];
      for (const ioc of sets[i++ % sets.length]) {
        const hit = map.get(`VirusTotal\u0000${ioc.type}:${ioc.value}`);
        if (hit) results.push(hit);
        lookups++;
      }
      sink += results.length;
    }
    await null; // same async shape as the broker loop
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { lookups, perSecond: lookups / seconds, sink };
}

async function run(options = {}) {
  const durationMs = Number(options.durationMs || process.env.BENCH_DURATION_MS || 2_000);
  const fsync = options.fsync !== undefined ? options.fsync : process.env.BENCH_FSYNC !== '0';
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'soar-bench-intel-'));
  const ips = distinctIps();
  const sets = alertSets(ips);
  let harness;
  try {
    harness = await burst({ sets, ips, fsync, root });
    const { result, store } = harness;

    // Production configuration for the cached phase: real timers for the deadline (the virtual clock's
    // bookkeeping is a test device, not part of what a deployment pays per message).
    const production = new IntelBroker({ providers: [harness.vt], store, ownsProviders: false });
    const cached = await cachedRate(production, sets, durationMs);
    await production.close();
    const map = new Map();
    for (const entry of await store.list('intel:VirusTotal')) map.set(`VirusTotal\u0000${entry.key}`, entry.value);
    const baseline = await mapRate(map, sets, durationMs);

    const numbers = {
      ...result,
      cachedLookupsPerSecond: Math.round(cached.perSecond),
      cachedPhaseRequests: cached.requested,
      mapLookupsPerSecond: Math.round(baseline.perSecond),
      mapToBrokerRatio: Number((baseline.perSecond / cached.perSecond).toFixed(1)),
      fsync,
    };
    numbers.checks = {
      noLookupFailed: numbers.lookupsFailed === 0,
      limitNeverExceeded: numbers.maxRequestsPer60s <= LIMIT_PER_MINUTE && numbers.gateRefused === 0,
      repeatsCostNothing: numbers.requestsTotal === DISTINCT && numbers.cachedPhaseRequests === 0,
    };
    if (options.print) printTable(numbers);
    return numbers;
  } finally {
    if (harness) {
      await harness.broker.close();
      await harness.store.close();
      await harness.gate.close();
      await harness.fake.close();
    }
    fs.rmSync(root, { recursive: true, force: true });
  }
}

function printTable(n) {
  const rows = [
    ['alerts in the burst', n.alerts],
    ['indicators in them / distinct', `${n.indicatorsInAlerts} / ${n.distinctIndicators}`],
    ['lookups answered', n.lookupsAnswered],
    ['lookups failed (must be 0)', n.lookupsFailed],
    ['requests the fake saw (= 200)', n.requestsTotal],
    [`max requests in any 60 s (≤ ${n.limitPer60s})`, n.maxRequestsPer60s],
    ['refused by the 4/min gate', n.gateRefused],
    ['broker: requested / shared / cached', `${n.brokerLookups.requested} / ${n.brokerLookups.shared} / ${n.brokerLookups.cached}`],
    ['verdicts mal/susp/benign/unknown', `${n.verdicts.malicious}/${n.verdicts.suspicious}/${n.verdicts.benign}/${n.verdicts.unknown}`],
    ['virtual minutes taken', n.virtualMinutes],
    ['real seconds taken', n.realSeconds],
    ['cached lookups/s (broker, all 200 cached)', n.cachedLookupsPerSecond],
    ['bare Map lookups/s (baseline)', n.mapLookupsPerSecond],
    ['Map / broker ratio', n.mapToBrokerRatio],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log('intel broker: burst of 1,000 alerts against VirusTotal limited to 4/min (virtual clock)');
  for (const [label, value] of rows) console.log(`  ${label.padEnd(width)}  ${value}`);
  const failedChecks = Object.entries(n.checks)
    .filter(([, ok]) => !ok)
    .map(([name]) => name);
  console.log(failedChecks.length ? `  CHECKS FAILED: ${failedChecks.join(', ')}` : '  checks: all passed');
}

if (require.main === module) {
  run({ print: true }).then(
    (numbers) => {
      if (Object.values(numbers.checks).some((ok) => !ok)) process.exitCode = 1;
    },
    (error) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}

module.exports = { run };
