// bench/watch: the cost of watching requests (issue 9).
//   node --import tsx bench/watch/emit.ts [-- --ms 1500] [-- --principals 1000]
// 1. The request path: `sink(event)` of createWatchChannel (src/watch/sink.ts), which only
//    enqueues; the queue is drained between batches so that no call hits the drop branch.
//    p50/p99 µs per call. Target: p50 ≤ 10 µs.
// 2. The listener: deriveSignals + RiskScores.addSignal + PlaybookEngine.onSignal per event, over
//    --principals warmed-up principals (default 1,000) and a realistic mix of entries (70 %
//    clean, 20 % PII, 5 % injection, 3 % denied, 2 % secrets): p50/p99 µs and events/s.
// Prints a table, the process RSS and the heap.
import { parseArgs } from 'node:util';
import type { AuditEntry, WatchEvent } from '../../src/core/index.js';
import { Baselines } from '../../src/watch/baseline.js';
import { PlaybookEngine } from '../../src/watch/playbook-engine.js';
import { parsePlaybooks } from '../../src/watch/playbook-schema.js';
import { RiskScores } from '../../src/watch/risk.js';
import { deriveSignals } from '../../src/watch/signals.js';
import { createWatchChannel } from '../../src/watch/sink.js';

const { values } = parseArgs({
  options: { ms: { type: 'string', default: '1500' }, principals: { type: 'string', default: '1000' } },
});
const budgetMs = Number(values.ms);
const principals = Number(values.principals);

const PLAYBOOKS = parsePlaybooks(`
playbooks:
  - id: injection-attacker
    when: { signal: injection, count: { atLeast: 5, within: 10m }, risk: { above: 70 } }
    subject: principal
    cooldown: 15m
    then: [{ quarantine: {} }, { revoke: [sessions, tokens, api_keys] }]
  - id: canary-leak
    when: { signal: canary_leak }
    subject: workspace
    then: [{ quarantine: {} }, { rotate_key: { key: upstream-openai } }]
  - id: secrets-on-new-device
    when: { signal: secret, anomaly: new_device }
    subject: device
    then: [{ quarantine: { for: 1h } }, { notify: { syslog: true } }]
`);

function makeEntry(i: number): AuditEntry {
  const p = i % principals;
  const roll = i % 100;
  const findings: Record<string, number> =
    roll < 70
      ? {}
      : roll < 90
        ? { EMAIL_ADDRESS: 1, PERSON: 2 }
        : roll < 95
          ? { PROMPT_INJECTION: 1 }
          : roll < 98
            ? {}
            : { SECRET: 1 };
  return {
    requestId: `req-${i}`,
    time: '2026-01-05T10:00:00.000Z',
    phase: 'release',
    action: 'chat',
    principalId: `user-${p}`,
    authMethod: 'oidc',
    modelId: p % 7 === 0 ? 'gpt-b' : 'gpt-a',
    upstreamId: 'openai',
    decision: roll >= 95 && roll < 98 ? 'deny' : 'allow',
    determiningPolicies: [],
    obligations: [],
    bundleDigest: null,
    findings,
    transformations: [],
    status: 200,
    errorCode: roll >= 95 && roll < 98 ? 'policy_denied' : null,
    stream: false,
    promptTokens: 400,
    completionTokens: 300,
    latencyMs: 20,
    promptSha256: null,
    answerSha256: null,
    dataClass: 'internal',
    deviceId: `dev-${p}`,
    sessionId: `sess-${p}-${i % 3}`,
    decisionInput: {
      version: 1,
      action: 'chat',
      resource: { type: 'Model', id: 'gpt-a' },
      workspace: `ws-${p % 20}`,
      findings: Object.keys(findings).map((type) => ({
        type,
        detector: type === 'PROMPT_INJECTION' ? 'injection' : type === 'SECRET' ? 'secret' : 'email',
        score: 0.9,
      })),
      dataClass: 'internal',
      risk: 0,
      networkZone: 'corp',
      residency: 'eu',
      time: { hour: 10, weekday: 'Mon' },
    },
  };
}

const POOL = 4096;
const events: WatchEvent[] = Array.from({ length: POOL }, (_, i) => ({
  kind: 'request.completed',
  entry: makeEntry(i),
}));

interface Timing {
  readonly p50: number;
  readonly p99: number;
  readonly perSec: number;
}
const percentile = (s: Float64Array, p: number): number =>
  s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
const us = (v: number): string => v.toFixed(2);

function summarize(samples: number[], elapsedMs: number): Timing {
  const sorted = Float64Array.from(samples).sort();
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    perSec: samples.length / (elapsedMs / 1000),
  };
}

/** 1. sink(event): enqueue only. Batches of 1,000, drained between them. */
async function benchSink(): Promise<Timing> {
  const channel = createWatchChannel(10_000);
  let delivered = 0;
  channel.listen(() => delivered++);
  const samples: number[] = [];
  const run = async (record: boolean): Promise<void> => {
    for (let i = 0; i < 1000; i++) {
      const e = events[i % POOL] as WatchEvent;
      const s = performance.now();
      channel.sink(e);
      if (record) samples.push((performance.now() - s) * 1000);
    }
    await new Promise((r) => setImmediate(r));
  };
  const warm = performance.now();
  while (performance.now() - warm < 300) await run(false);
  const start = performance.now();
  while (performance.now() - start < budgetMs) await run(true);
  const elapsed = performance.now() - start;
  if (channel.dropped() > 0) throw new Error(`sink dropped ${channel.dropped()} events`);
  if (delivered === 0) throw new Error('nothing delivered');
  return summarize(samples, elapsed);
}

/** 2. The listener's work per event, with its state warmed up first. */
function benchListener(): { timing: Timing; signals: number; triggers: number } {
  const baselines = new Baselines({ warmupEvents: 20, warmupMs: 60_000 });
  const risk = new RiskScores();
  const engine = new PlaybookEngine(PLAYBOOKS, { risk });
  let now = Date.UTC(2026, 0, 5, 10);
  let signals = 0;
  let triggers = 0;
  const handle = (e: WatchEvent): void => {
    for (const s of deriveSignals(e, baselines, now)) {
      signals++;
      risk.addSignal(s, now);
      triggers += engine.onSignal(s, now).length;
    }
    now += 5; // 200 events/s of simulated traffic
  };
  for (let i = 0; i < principals * 30; i++) handle(events[i % POOL] as WatchEvent);
  signals = 0;
  triggers = 0;
  const samples: number[] = [];
  const start = performance.now();
  for (let i = 0; performance.now() - start < budgetMs; i++) {
    const e = events[i % POOL] as WatchEvent;
    const s = performance.now();
    handle(e);
    samples.push((performance.now() - s) * 1000);
  }
  return { timing: summarize(samples, performance.now() - start), signals, triggers };
}

const sink = await benchSink();
const listener = benchListener();
const mem = process.memoryUsage();

console.log(`bench/watch: ${budgetMs} ms per timing, ${principals} principals, Node ${process.version}`);
console.log('| per event | p50 µs | p99 µs | events/s |');
console.log('|---|---:|---:|---:|');
console.log(`| sink(event), request path (target p50 ≤ 10 µs) | ${us(sink.p50)} | ${us(sink.p99)} | — |`);
console.log(
  `| listener: deriveSignals + risk + playbooks | ${us(listener.timing.p50)} | ${us(listener.timing.p99)} | ${listener.timing.perSec.toFixed(0)} |`,
);
console.log(`\nsignals ${listener.signals}, triggers ${listener.triggers} during the timed run`);
console.log(`RSS ${(mem.rss / 2 ** 20).toFixed(0)} MB, heap ${(mem.heapUsed / 2 ** 20).toFixed(0)} MB`);
console.log(sink.p50 <= 10 ? 'sink target met' : 'sink target MISSED');
