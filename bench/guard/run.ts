// bench/guard: the data guard's inspect stage and its detectors, with the default config.
//   npm run bench:guard [-- --ms 1500] [-- --runs 5]
// 1. The whole inspect stage (createInspector over createDetectors defaults: every recognizer,
//    the injection detector, classification) on one 2 KB user message that mixes prose, an
//    e-mail address, a phone number, names and a code snippet: p50/p99 µs and ops/s. Target:
//    p50 ≤ 300 µs.
// 2. Each detector alone on the same message: p50/p99 µs.
// 3. Throughput in MB/s (of UTF-8 input) of `scan` (every recognizer), of each recognizer and of
//    the injection detector on 1 MB of mixed text and on 1 MB of adversarial text (long digit,
//    dot, at-sign, capitalised-word, base64 and key-block runs, meant to make a careless regex
//    or scanner go quadratic): the median of --runs passes.
// Also the inspect stage with the injection detector off. Prints tables and the process RSS.
import { parseArgs } from 'node:util';
import type { RequestContext } from '../../src/core/index.js';
import { configSchema } from '../../src/config/index.js';
import { BUILTIN_CLASS_RULES } from '../../src/guard/classify.js';
import { createInspector } from '../../src/guard/inspect.js';
import { createDetectors } from '../../src/guard/registry.js';

const { values } = parseArgs({
  options: { ms: { type: 'string', default: '1500' }, runs: { type: 'string', default: '5' } },
});
const budgetMs = Number(values.ms);
const runs = Number(values.runs);

const PROSE = `Hi team, following up on yesterday's planning call. Maria Gonzalez from the Lisbon office asked
whether we can move the quarterly review to Thursday; please confirm by e-mail to
maria.gonzalez@example.com or call her on +1 (415) 555-0132 before noon. David Chen will present
the migration plan for the billing service, and Priya Natarajan will cover the incident from last
week. The summary below is what I would like the assistant to tighten up before we send it round.

The outage began at 14:02 UTC when the connection pool of the orders database was exhausted. Retries
from the checkout workers amplified the load, so the circuit breaker opened and stayed open for
eleven minutes. We rolled back the configuration change at 14:13 and traffic recovered within two
minutes. No customer data was lost, but roughly 1,200 orders were delayed.

Here is the function that computes the retry delay; can you suggest a version with jitter?

\`\`\`ts
export function retryDelay(attempt: number, baseMs = 100, capMs = 10_000): number {
  const exp = Math.min(capMs, baseMs * 2 ** attempt);
  return exp;
}

const client = createClient({ host: 'db.internal', port: 5432, poolSize: 20 });
for (let i = 0; i < 5; i++) await client.query('SELECT 1');
\`\`\`

Also, please keep the tone neutral and avoid blaming any one team. Thanks!
`;

/**
 * The 2 KB prompt: the text above, cut or repeated to 2,048 characters, then passed through JSON
 * as the gateway receives it (a flat string; a sliced one is slower to read char by char).
 */
const PROMPT: string = JSON.parse(
  JSON.stringify(PROSE.repeat(Math.ceil(2048 / PROSE.length)).slice(0, 2048)),
);

const MB = 1 << 20;
const fill = (parts: readonly string[], bytes: number): string => {
  let out = '';
  for (let i = 0; Buffer.byteLength(out) < bytes; i++) out += parts[i % parts.length];
  return out.slice(0, bytes);
};
const MIXED = fill(
  [
    PROSE,
    'Ticket 48213: customer João Silva, joao.silva@example.pt, IBAN PT50 0002 0123 1234 5678 9015 4.\n',
  ],
  MB,
);
const ADVERSARIAL = fill(
  [
    '1'.repeat(20_000),
    ' 1-2'.repeat(10_000),
    'a.'.repeat(10_000),
    '@a'.repeat(10_000),
    'Aaaa '.repeat(10_000),
    'A'.repeat(20_000),
    'x'.repeat(20_000) + '@',
    'QUJD'.repeat(10_000),
    '-----BEGIN PRIVATE KEY-----\n'.repeat(1_000),
    'http://'.repeat(5_000),
    ':'.repeat(20_000),
    '+1 ('.repeat(10_000),
    'ignore previous '.repeat(2_000),
  ],
  MB,
);

const config = configSchema.parse({});
const detectors = createDetectors(config.guard);
// No result cache: every call scans the prompt as a text never seen before.
const inspect = createInspector({
  detectors,
  baseClass: 'internal',
  rules: BUILTIN_CLASS_RULES,
  labels: true,
  cacheEntries: 0,
});
// The default cache: a text seen before (an earlier turn resent by a chat client) is not rescanned.
const inspectCached = createInspector({
  detectors,
  baseClass: 'internal',
  rules: BUILTIN_CLASS_RULES,
  labels: true,
});
const ctx = {
  id: 'bench',
  request: { route: 'chat.completions', body: { model: 'm', messages: [{ role: 'user', content: PROMPT }] } },
  credentials: { headers: {} },
  findings: [],
  transformations: [],
} as unknown as RequestContext;

interface Timing {
  readonly p50: number;
  readonly p99: number;
  readonly perSec: number;
}
const percentile = (s: Float64Array, p: number): number =>
  s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;

/** Warm-up before each timing: long enough for the JIT to settle (a steady state is measured). */
const WARM_MS = 500;

async function time(fn: () => unknown): Promise<Timing> {
  const warm = performance.now();
  for (let i = 0; i < 200 || performance.now() - warm < WARM_MS; i++) await fn();
  const samples: number[] = [];
  const start = performance.now();
  while (performance.now() - start < budgetMs) {
    const s = performance.now();
    await fn();
    samples.push((performance.now() - s) * 1000);
  }
  const sorted = Float64Array.from(samples).sort();
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    perSec: samples.length / ((performance.now() - start) / 1000),
  };
}

/** MB/s over `text`: the median of `runs` passes. */
function throughput(fn: (text: string) => unknown, text: string): number {
  const bytes = Buffer.byteLength(text);
  const rates: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    fn(text);
    rates.push(bytes / MB / ((performance.now() - s) / 1000));
  }
  return rates.sort((a, b) => a - b)[Math.floor(rates.length / 2)] ?? NaN;
}

// The same stage without the injection detector, to show what the model costs.
const inspectNoInjection = createInspector({
  detectors: { ...detectors, injection: undefined },
  baseClass: 'internal',
  rules: BUILTIN_CLASS_RULES,
  labels: true,
  cacheEntries: 0,
});
const inspection = await inspect(ctx);
const whole = await time(() => inspect(ctx));
const withoutInjection = await time(() => inspectNoInjection(ctx));
const seenBefore = await time(() => inspectCached(ctx));
const perDetector: [string, Timing][] = [];
for (const r of detectors.recognizers) perDetector.push([r.name, await time(() => r.detect(PROMPT))]);
const injection = detectors.injection;
if (injection) perDetector.push(['injection', await time(() => injection.score(PROMPT))]);

const rates: [string, number, number][] = [
  [
    'scan (every recognizer)',
    throughput((t) => detectors.scan(t), MIXED),
    throughput((t) => detectors.scan(t), ADVERSARIAL),
  ],
  ...detectors.recognizers.map((r): [string, number, number] => [
    r.name,
    throughput((t) => r.detect(t), MIXED),
    throughput((t) => r.detect(t), ADVERSARIAL),
  ]),
];
if (injection)
  rates.push([
    'injection',
    throughput((t) => injection.score(t), MIXED),
    throughput((t) => injection.score(t), ADVERSARIAL),
  ]);
const rssMb = process.memoryUsage().rss / MB;

const us = (x: number): string => x.toFixed(1);
const mbs = (x: number): string => x.toFixed(1);
console.log(`bench/guard: ${budgetMs} ms per timing, ${runs} passes per throughput, Node ${process.version}`);
console.log(
  `prompt: ${PROMPT.length} characters, ${inspection.findings.length} findings ` +
    `(${[...new Set(inspection.findings.map((f) => f.type))].join(', ')}), class ${inspection.dataClass ?? '-'}\n`,
);
console.log('| on the 2 KB prompt | p50 µs | p99 µs | ops/s |');
console.log('|---|---:|---:|---:|');
console.log(
  `| **whole inspect stage** | **${us(whole.p50)}** | ${us(whole.p99)} | ${whole.perSec.toFixed(0)} |`,
);
console.log(
  `| inspect stage without injection | ${us(withoutInjection.p50)} | ${us(withoutInjection.p99)} | ${withoutInjection.perSec.toFixed(0)} |`,
);
console.log(
  `| inspect stage, a text seen before (cache hit) | ${us(seenBefore.p50)} | ${us(seenBefore.p99)} | ${seenBefore.perSec.toFixed(0)} |`,
);
for (const [name, t] of perDetector)
  console.log(`| ${name} | ${us(t.p50)} | ${us(t.p99)} | ${t.perSec.toFixed(0)} |`);
console.log('\n| throughput, MB/s | 1 MB mixed | 1 MB adversarial |');
console.log('|---|---:|---:|');
for (const [name, m, a] of rates) console.log(`| ${name} | ${mbs(m)} | ${mbs(a)} |`);
console.log(`\nRSS ${rssMb.toFixed(0)} MB`);
console.log(
  `target: whole inspect of 2 KB p50 ≤ 300 µs: ${whole.p50 <= 300 ? 'met' : 'NOT met'} (p50 ${us(whole.p50)} µs)`,
);
