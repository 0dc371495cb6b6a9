// Shared pieces of bench/ledger: realistic audit entries, latency summaries, memory figures.
import { createHash } from 'node:crypto';
import type { AuditEntry } from '../../src/core/index.js';
import { percentile } from '../gateway/load.js';

export { percentile };

// A pool of digests, so that building ten million entries does not hash twice per entry.
const DIGESTS = Array.from({ length: 1024 }, (_, i) =>
  createHash('sha256').update(`bench-${i}`).digest('hex'),
);
const MODELS = ['gpt-4o', 'llama-3.1-70b', 'mistral-large', 'demo'];
const CLASSES = ['public', 'internal', 'confidential', 'restricted'];
const START = Date.UTC(2026, 0, 1);

/** A release entry as the gateway records it for a chat completion (no content, only digests). */
export function benchEntry(i: number): AuditEntry {
  const denied = i % 17 === 0;
  return {
    requestId: `req-${i.toString(36).padStart(8, '0')}-${DIGESTS[i % 1024]!.slice(0, 12)}`,
    time: new Date(START + i * 7).toISOString(),
    phase: denied ? 'refused' : 'release',
    action: 'chat.completions',
    principalId: `user-${i % 5000}@corp.example`,
    authMethod: 'oidc',
    modelId: MODELS[i % MODELS.length]!,
    upstreamId: `upstream-${i % 3}`,
    decision: denied ? 'deny' : 'allow',
    determiningPolicies: denied ? ['policy-deny-restricted'] : ['policy-allow-employees'],
    obligations: i % 5 === 0 ? ['retain'] : [],
    bundleDigest: DIGESTS[0]!,
    findings: i % 3 === 0 ? { EMAIL_ADDRESS: 1 + (i % 4) } : {},
    transformations: i % 3 === 0 ? ['redact:EMAIL_ADDRESS'] : [],
    status: denied ? 403 : 200,
    errorCode: denied ? 'policy_denied' : null,
    stream: i % 2 === 0,
    promptTokens: 100 + (i % 900),
    completionTokens: denied ? null : 50 + (i % 400),
    latencyMs: 200 + (i % 1800),
    promptSha256: DIGESTS[(i * 7) % 1024]!,
    answerSha256: denied ? null : DIGESTS[(i * 13) % 1024]!,
    dataClass: CLASSES[i % CLASSES.length]!,
    deviceId: `device-${i % 800}`,
    sessionId: `session-${Math.floor(i / 20)}`,
  };
}

export interface Summary {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly max: number;
}

/** Summary of latencies in ms. */
export function summarize(samples: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const s of sorted) sum += s;
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: sorted.length ? sum / sorted.length : NaN,
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
  };
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

/** Current RSS and heap, and the process's peak RSS so far (worker threads included). */
export function memory(): string {
  const { rss, heapUsed } = process.memoryUsage();
  const peak = process.resourceUsage().maxRSS * 1024;
  return `rss ${mib(rss)}, heap ${mib(heapUsed)}, peak rss ${mib(peak)}`;
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** A line on stderr, so progress never mixes with the figures on stdout. */
export function progress(message: string): void {
  process.stderr.write(`  … ${message}\n`);
}
