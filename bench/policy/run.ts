// bench/policy: Cedar decisions through src/policy (entity building included), for bundles of
// 10, 100 and 1,000 generated policies.
//   npm run bench:policy [-- --ms 1500]
// Each decision builds the request's entities and context from plain data, picks the policies
// that can apply, evaluates them (the engine, or the condition guards where they decide) and
// merges obligations: exactly what `decide` does per request. Inputs rotate over 64 users,
// groups, models and findings so no two successive decisions are identical. Prints p50/p99
// latency, decisions per second and the process RSS for four paths (reference; fast with every
// decision by the engine; fast with condition guards and the candidate index, the default;
// that plus the decision cache; see docs/POLICY.md, Performance). The target is p50 ≤ 50 µs at
// 100 policies for a request not seen before (cache off).
// Reference box (2 vCPU, Node 20.20, 2026-11-24), p50 µs at 10 / 100 / 1,000 policies:
// reference 332 / 566 / 4,434; engine (the default before guards) 132 / 373 / 2,700; fast 4.9 /
// 7.4 / 33 (all 64 inputs decided without the engine); cached 6.7–6.8.
import { parseArgs } from 'node:util';
import { setConditionGuards, setDecisionCacheSize } from '../../src/policy/engine.js';
import {
  compileBundle,
  decide,
  defaultSchema,
  type DecisionInput,
  type PolicyBundle,
} from '../../src/policy/index.js';

const { values } = parseArgs({ options: { ms: { type: 'string', default: '1500' } } });
const budgetMs = Number(values.ms);
const MODELS = 20;
const GROUPS = 50;

function policy(i: number): string {
  const g = `Ztgate::Group::"g${i % GROUPS}"`;
  switch (i % 4) {
    case 0:
      return `@id("p${i}") @obligation("max_tokens:${1000 + i}; pseudonymize:PERSON")
permit (principal in ${g}, action == Ztgate::Action::"chat", resource is Ztgate::Model)
when { resource.runtimeKind == "on_prem" && context.risk < ${50 + (i % 50)} };`;
    case 1:
      return `@id("p${i}") forbid (principal, action, resource == Ztgate::Model::"m${i % MODELS}")
when { context.findings.secretCount > 0 || context.deviceTrust == "untrusted" };`;
    case 2:
      return `@id("p${i}") @obligation("retain:${1 + (i % 90)}d")
permit (principal is Ztgate::User, action in [Ztgate::Action::"chat", Ztgate::Action::"embed"], resource)
when { principal.roles.contains("r${i % 10}") && context.time.hour >= 7 && context.time.hour < 20 };`;
    default:
      return `@id("p${i}") forbid (principal, action, resource)
when { context.findings.entityTypes.contains("T${i}") && context.findings.injectionScore > ${500 + (i % 500)} };`;
  }
}

function entities(): string {
  const list: unknown[] = [];
  for (let g = 0; g < GROUPS; g++)
    list.push({ uid: { type: 'Ztgate::Group', id: `g${g}` }, attrs: {}, parents: [] });
  for (let m = 0; m < MODELS; m++)
    list.push({
      uid: { type: 'Ztgate::Model', id: `m${m}` },
      attrs: {
        provider: 'vllm',
        region: m % 2 ? 'eu' : 'us',
        runtimeKind: m % 3 ? 'on_prem' : 'cloud',
        attestationKind: 'none',
        attested: false,
        dataClasses: ['internal'],
      },
      parents: [],
    });
  return JSON.stringify(list);
}

/**
 * `reference`: the bundle ships its own copy of the schema (same types, one extra comment), so
 * it does not take the fast path: every decision sends the full request with the schema and
 * request validation to the whole policy set, exactly as `decide` did before the fast path.
 */
function bundleOf(n: number, reference = false): PolicyBundle {
  const text = Array.from({ length: n }, (_, i) => policy(i)).join('\n');
  const files = new Map([
    ['generated.cedar', text],
    ['entities.json', entities()],
  ]);
  if (reference) files.set('schema.cedarschema', `${defaultSchema()}\n// reference path\n`);
  return compileBundle(files);
}

function inputs(): DecisionInput[] {
  return Array.from({ length: 64 }, (_, i) => ({
    principal: {
      kind: 'user',
      id: `idp#user${i}`,
      roles: [`r${i % 10}`],
      groups: [`g${i % GROUPS}`, `g${(i * 7) % GROUPS}`],
      attributes: { department: 'eng', clearance: i % 5 },
    },
    device: { id: `d${i}`, trust: 'verified', managed: true, compliant: true },
    action: 'chat',
    resource: { type: 'Model', id: `m${i % MODELS}` },
    findings: i % 4 ? [{ type: 'PERSON', score: 0.9 }] : [],
    dataClass: 'internal',
    risk: i % 60,
    networkZone: 'corporate',
    residency: 'eu',
    time: { hour: 9 + (i % 12), weekday: 'wed' },
  }));
}

interface Timing {
  decisions: number;
  rssMb: number;
  allowShare: number;
  p50: number;
  p99: number;
  perSec: number;
}

interface Row {
  policies: number;
  loadMs: number;
  reference: Timing;
  engine: Timing;
  fast: Timing;
  cached: Timing;
}

const percentile = (s: Float64Array, p: number): number =>
  s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;

function time(bundle: PolicyBundle, cases: readonly DecisionInput[]): Timing {
  for (let i = 0; i < 500; i++) decide(cases[i % cases.length] as DecisionInput, bundle);
  const samples: number[] = [];
  let allows = 0;
  const start = performance.now();
  while (performance.now() - start < budgetMs) {
    const input = cases[samples.length % cases.length] as DecisionInput;
    const s = performance.now();
    const d = decide(input, bundle);
    samples.push((performance.now() - s) * 1000);
    if (d.effect === 'allow') allows++;
  }
  const elapsed = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(samples).sort();
  return {
    decisions: samples.length,
    allowShare: allows / samples.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    perSec: samples.length / elapsed,
    rssMb: process.memoryUsage().rss / 2 ** 20,
  };
}

function measure(n: number): Row {
  const t0 = performance.now();
  const bundle = bundleOf(n);
  const loadMs = performance.now() - t0;
  const reference = bundleOf(n, true);
  const cases = inputs();
  // The fast path must decide exactly as the reference path does.
  setDecisionCacheSize(0);
  for (const input of cases) {
    const { bundleDigest: _a, ...fast } = decide(input, bundle);
    const { bundleDigest: _b, ...slow } = decide(input, reference);
    if (JSON.stringify(fast) !== JSON.stringify(slow))
      throw new Error(`decisions differ: ${JSON.stringify(fast)} vs ${JSON.stringify(slow)}`);
  }
  setConditionGuards(false);
  for (const input of cases) {
    const { bundleDigest: _a, ...engine } = decide(input, bundle);
    const { bundleDigest: _b, ...slow } = decide(input, reference);
    if (JSON.stringify(engine) !== JSON.stringify(slow))
      throw new Error(`decisions differ: ${JSON.stringify(engine)} vs ${JSON.stringify(slow)}`);
  }
  const referenceTiming = time(reference, cases);
  const engine = time(bundle, cases);
  setConditionGuards(true);
  const fast = time(bundle, cases);
  setDecisionCacheSize();
  const cached = time(bundle, cases);
  return { policies: n, loadMs, reference: referenceTiming, engine, fast, cached };
}

const rows = [10, 100, 1000].map(measure);
const us = (x: number): string => x.toFixed(1);
console.log(`bench/policy: ${budgetMs} ms per cell, one decision at a time, Node ${process.version}`);
console.log('decisions identical on every path: yes (checked for every input)\n');
console.log('reference = full request + schema + request validation, whole policy set (the old path)');
console.log('engine    = fast path, every decision by the engine: typed, pruned request, per-action');
console.log('            policy set and scope subset (condition guards off); decision cache off');
console.log('fast      = the default: + candidate index and condition guards (decided without the');
console.log('            engine when every candidate is decided); decision cache off');
console.log('cached    = fast + exact-match decision cache (64 rotating inputs: all hits)\n');
const cell = (t: Timing): string => `${us(t.p50)} / ${us(t.p99)} | ${t.perSec.toFixed(0)}`;
console.log(
  '| policies | allow % | reference p50/p99 µs | dec/s | engine p50/p99 µs | dec/s | fast p50/p99 µs | dec/s | cached p50/p99 µs | dec/s | load ms | RSS MB |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.policies} | ${(r.fast.allowShare * 100).toFixed(0)} | ${cell(r.reference)} | ${cell(r.engine)} | ` +
      `${cell(r.fast)} | ${cell(r.cached)} | ${r.loadMs.toFixed(0)} | ${r.cached.rssMb.toFixed(0)} |`,
  );
}
const at100 = rows[1];
if (at100) {
  const met = (x: number): string => (x <= 50 ? 'met' : 'NOT met');
  console.log(`\ntarget p50 ≤ 50 µs at 100 policies:`);
  console.log(`  uncached (every request new): ${met(at100.fast.p50)} (p50 ${us(at100.fast.p50)} µs)`);
  console.log(`  repeated request (cache hit): ${met(at100.cached.p50)} (p50 ${us(at100.cached.p50)} µs)`);
}
