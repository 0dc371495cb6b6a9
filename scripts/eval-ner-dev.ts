/**
 * Measures the name recognizer (src/guard/ner) against a compromise-based baseline on
 * test/fixtures/detectors/pii.jsonl: precision, recall and F1 per type by span overlap, and
 * time per 2 KB prompt. Usage: `node --import tsx scripts/eval-ner-dev.ts [--errors TYPE]`.
 *
 * Scoring: only records whose label_scope is "all" or lists the type; `weak` gold spans are
 * neither rewarded nor penalised. A gold span is found when a prediction of its type overlaps
 * it; a prediction is right when it overlaps a gold span of its type.
 */
import { readFileSync } from 'node:fs';
import nlp from 'compromise';
import { createNameRecognizer } from '../src/guard/ner/index.js';

interface Span {
  type: string;
  start: number;
  end: number;
  weak?: boolean;
}
interface Rec {
  id: string;
  text: string;
  entities: Span[];
  label_scope: 'all' | string[];
}
type Detect = (text: string) => Span[];

const TYPES = ['PERSON', 'LOCATION', 'ORGANIZATION', 'NRP'] as const;
const FIXTURE = new URL('../test/fixtures/detectors/pii.jsonl', import.meta.url);
const records: Rec[] = readFileSync(FIXTURE, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Rec)
  .filter((r) => Array.isArray(r.entities));

const recognizer = createNameRecognizer();
const ours: Detect = (text) => recognizer.detect(text);

interface CompromiseMatch {
  offset?: { start: number; length: number };
}
const baseline: Detect = (text) => {
  const doc = nlp(text);
  const out: Span[] = [];
  const take = (type: string, view: { json(o: object): unknown }): void => {
    for (const m of view.json({ offset: true }) as CompromiseMatch[]) {
      if (m.offset) out.push({ type, start: m.offset.start, end: m.offset.start + m.offset.length });
    }
  };
  take('PERSON', doc.people());
  take('LOCATION', doc.places());
  take('ORGANIZATION', doc.organizations());
  return out;
};

const overlaps = (a: Span, b: Span): boolean => a.start < b.end && b.start < a.end;
const inScope = (r: Rec, type: string): boolean => r.label_scope === 'all' || r.label_scope.includes(type);

interface Counts {
  tp: number;
  fp: number;
  fn: number;
  found: number;
}
function score(detect: Detect, errorsFor?: string): Map<string, Counts> {
  const counts = new Map<string, Counts>(TYPES.map((t) => [t, { tp: 0, fp: 0, fn: 0, found: 0 }]));
  for (const r of records) {
    const preds = detect(r.text);
    for (const type of TYPES) {
      if (!inScope(r, type)) continue;
      const c = counts.get(type) as Counts;
      const gold = r.entities.filter((e) => e.type === type);
      const strong = gold.filter((g) => !g.weak);
      const mine = preds.filter((p) => p.type === type);
      for (const g of strong) {
        if (mine.some((p) => overlaps(p, g))) c.found++;
        else {
          c.fn++;
          if (errorsFor === type)
            console.log(
              `FN ${type} ${JSON.stringify(r.text.slice(g.start, g.end))} | ${JSON.stringify(r.text.slice(0, 160))}`,
            );
        }
      }
      for (const p of mine) {
        if (strong.some((g) => overlaps(p, g))) c.tp++;
        else if (!gold.some((g) => g.weak && overlaps(p, g))) {
          c.fp++;
          if (errorsFor === type)
            console.log(
              `FP ${type} ${JSON.stringify(r.text.slice(p.start, p.end))} | ${JSON.stringify(r.text.slice(0, 160))}`,
            );
        }
      }
    }
  }
  return counts;
}

/**
 * Stricter one-to-one matching: each prediction claims at most one unmatched gold span of its
 * type (so one span over a whole address counts once, however many parts were labelled); a
 * prediction that only overlaps already-claimed spans is neither right nor wrong.
 */
function scoreOneToOne(detect: Detect): Map<string, Counts> {
  const counts = new Map<string, Counts>(TYPES.map((t) => [t, { tp: 0, fp: 0, fn: 0, found: 0 }]));
  for (const r of records) {
    const preds = detect(r.text);
    for (const type of TYPES) {
      if (!inScope(r, type)) continue;
      const c = counts.get(type) as Counts;
      const gold = r.entities.filter((e) => e.type === type);
      const claimed = new Set<Span>();
      for (const p of preds.filter((x) => x.type === type)) {
        const hit = gold.find((g) => !g.weak && !claimed.has(g) && overlaps(p, g));
        if (hit) {
          claimed.add(hit);
          c.tp++;
          c.found++;
        } else if (!gold.some((g) => overlaps(p, g))) c.fp++;
      }
      c.fn += gold.filter((g) => !g.weak && !claimed.has(g)).length;
    }
  }
  return counts;
}

function prf(cs: Counts[]): { p: number; r: number; f: number } {
  const tp = cs.reduce((s, c) => s + c.tp, 0);
  const fp = cs.reduce((s, c) => s + c.fp, 0);
  const found = cs.reduce((s, c) => s + c.found, 0);
  const fn = cs.reduce((s, c) => s + c.fn, 0);
  const p = tp + fp === 0 ? 0 : tp / (tp + fp);
  const r = found + fn === 0 ? 0 : found / (found + fn);
  return { p, r, f: p + r === 0 ? 0 : (2 * p * r) / (p + r) };
}

/** 2 KB prompts made of fixture texts, so timing sees realistic words. */
function prompts(): string[] {
  const texts = records.map((r) => r.text);
  const out: string[] = [];
  let cur = '';
  for (const t of texts) {
    cur += (cur ? '\n' : '') + t;
    if (cur.length >= 2048) {
      out.push(cur.slice(0, 2048));
      cur = '';
    }
  }
  return out;
}

/** Wall-clock p50/p99 per call after a warm-up, plus mean CPU time (steadier on a busy host). */
function time(
  detect: Detect,
  inputs: string[],
  warm: number,
  rounds: number,
): { p50: number; p99: number; cpu: number } {
  for (let k = 0; k < warm; k++) for (const s of inputs) detect(s);
  const samples: number[] = [];
  const c0 = process.cpuUsage();
  for (let k = 0; k < rounds; k++) {
    for (const s of inputs) {
      const t0 = process.hrtime.bigint();
      detect(s);
      samples.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  }
  const c = process.cpuUsage(c0);
  samples.sort((a, b) => a - b);
  const at = (q: number): number =>
    samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), cpu: (c.user + c.system) / samples.length };
}

const errIdx = process.argv.indexOf('--errors');
const errorsFor = errIdx >= 0 ? process.argv[errIdx + 1] : undefined;
const mineCounts = score(ours, errorsFor);
if (errorsFor) process.exit(0);
const baseCounts = score(baseline);
const inputs = prompts();
const tMine = time(ours, inputs, 100, 100);
const tBase = time(baseline, inputs, 1, 2);

const fmt = (x: { p: number; r: number; f: number }): string =>
  `${x.p.toFixed(3)} ${x.r.toFixed(3)} ${x.f.toFixed(3)}`.padEnd(20);
console.log(`records: ${records.length}; 2 KB prompts: ${inputs.length}`);
console.log(`${'type'.padEnd(18)}${'ztgate ner P R F1'.padEnd(20)}${'compromise P R F1'.padEnd(20)}`);
const rows: [string, string[]][] = [
  ['PERSON', ['PERSON']],
  ['LOCATION', ['LOCATION']],
  ['PERSON+LOCATION', ['PERSON', 'LOCATION']],
  ['ORGANIZATION', ['ORGANIZATION']],
  ['NRP', ['NRP']],
];
function table(mine: Map<string, Counts>, base: Map<string, Counts>): void {
  for (const [label, ts] of rows) {
    const a = prf(ts.map((t) => mine.get(t) as Counts));
    const b = prf(ts.map((t) => base.get(t) as Counts));
    console.log(`${label.padEnd(18)}${fmt(a)}${ts.includes('NRP') ? '(n/a)' : fmt(b)}`);
  }
}
table(mineCounts, baseCounts);
console.log('one-to-one matching:');
table(scoreOneToOne(ours), scoreOneToOne(baseline));
console.log(`${'µs / 2 KB p50'.padEnd(18)}${tMine.p50.toFixed(1).padEnd(20)}${tBase.p50.toFixed(1)}`);
console.log(`${'µs / 2 KB p99'.padEnd(18)}${tMine.p99.toFixed(1).padEnd(20)}${tBase.p99.toFixed(1)}`);
console.log(`${'CPU µs / 2 KB'.padEnd(18)}${tMine.cpu.toFixed(1).padEnd(20)}${tBase.cpu.toFixed(1)}`);
