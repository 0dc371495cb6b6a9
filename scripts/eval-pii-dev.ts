/**
 * Quick development scorer for the structured PII recognizers on
 * test/fixtures/detectors/pii.jsonl. Honours `label_scope` (only listed types are scored on a
 * record; "all" scores every type), ignores `weak` entities, and counts a detection as a true
 * positive when its type matches and its span overlaps a gold span (exact boundaries are
 * reported too). Offsets are compared as code points.
 *
 *   node --import tsx scripts/eval-pii-dev.ts [--threshold 0.4] [--file path] [--show TYPE]
 */
import { readFileSync } from 'node:fs';
import { createPiiRecognizers, PII_TYPES } from '../src/guard/pii/index.js';
import type { Detection } from '../src/guard/types.js';

interface Gold {
  type: string;
  start: number;
  end: number;
  weak?: boolean;
}
interface PiiRecord {
  id: string;
  text: string;
  entities?: Gold[];
  label_scope: 'all' | string[];
  expected_count?: number;
  expected_types?: string[];
}
interface Tally {
  tp: number;
  fp: number;
  fn: number;
  exact: number;
}

const STRUCTURED = [
  'EMAIL_ADDRESS',
  'PHONE_NUMBER',
  'CREDIT_CARD',
  'IBAN_CODE',
  'IP_ADDRESS',
  'US_SSN',
  'URL',
];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
}

const threshold = Number(arg('--threshold') ?? '0.4');
const file = arg('--file') ?? 'test/fixtures/detectors/pii.jsonl';
const show = arg('--show');
const recognizers = createPiiRecognizers();
const tallies = new Map<string, Tally>();
const tally = (t: string): Tally => {
  let v = tallies.get(t);
  if (!v) tallies.set(t, (v = { tp: 0, fp: 0, fn: 0, exact: 0 }));
  return v;
};

/** UTF-16 index → code-point index. */
function toCodePoints(text: string): (i: number) => number {
  const map = new Int32Array(text.length + 1);
  let cp = 0;
  for (let i = 0; i < text.length; i++) {
    map[i] = cp;
    const c = text.charCodeAt(i);
    if (!(c >= 0xd800 && c <= 0xdbff)) cp++;
  }
  map[text.length] = cp;
  return (i) => map[i] ?? cp;
}

function log(kind: string, r: PiiRecord, type: string, start: number, end: number): void {
  if (show === type || show === 'ALL') {
    const cps = [...r.text];
    console.log(
      `${kind} ${type} ${JSON.stringify(cps.slice(start, end).join(''))} in ${JSON.stringify(r.text.slice(0, 160))}`,
    );
  }
}

const records = readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as PiiRecord);
const ours = new Set(PII_TYPES);

for (const r of records) {
  const cp = toCodePoints(r.text);
  const inScope = (t: string): boolean => r.label_scope === 'all' || r.label_scope.includes(t);
  const preds = recognizers
    .flatMap((rec) => rec.detect(r.text))
    .filter((d: Detection) => d.score >= threshold && inScope(d.type))
    .map((d) => ({ type: d.type, start: cp(d.start), end: cp(d.end) }));
  if (r.expected_count !== undefined) {
    for (const t of r.expected_types ?? []) {
      const n = preds.filter((p) => p.type === t).length;
      const tp = Math.min(n, r.expected_count);
      tally(t).tp += tp;
      tally(t).fn += r.expected_count - tp;
      tally(t).fp += n - tp;
    }
    continue;
  }
  const gold = (r.entities ?? []).filter((g) => inScope(g.type));
  const matched = new Set<Gold>();
  for (const p of preds) {
    const overlaps = (g: Gold): boolean => g.type === p.type && g.start < p.end && p.start < g.end;
    const hit = gold.find((g) => !g.weak && !matched.has(g) && overlaps(g));
    if (hit) {
      matched.add(hit);
      tally(p.type).tp++;
      if (hit.start === p.start && hit.end === p.end) tally(p.type).exact++;
      else log('BOUNDARY', r, p.type, p.start, p.end);
    } else if (!gold.some(overlaps)) {
      tally(p.type).fp++;
      log('FP', r, p.type, p.start, p.end);
    }
  }
  for (const g of gold) {
    if (g.weak || matched.has(g)) continue;
    tally(g.type).fn++;
    log('FN', r, g.type, g.start, g.end);
  }
}

const f1 = (t: Tally): [number, number, number] => {
  const p = t.tp + t.fp === 0 ? 1 : t.tp / (t.tp + t.fp);
  const rc = t.tp + t.fn === 0 ? 1 : t.tp / (t.tp + t.fn);
  return [p, rc, p + rc === 0 ? 0 : (2 * p * rc) / (p + rc)];
};
const row = (name: string, t: Tally): string => {
  const [p, rc, f] = f1(t);
  return `${name.padEnd(26)} ${String(t.tp).padStart(4)} ${String(t.fp).padStart(4)} ${String(t.fn).padStart(4)} ${String(t.exact).padStart(5)}  ${p.toFixed(3)} ${rc.toFixed(3)} ${f.toFixed(3)}`;
};
console.log(`threshold ${threshold}; ${records.length} records from ${file}`);
console.log(`${'type'.padEnd(26)}   tp   fp   fn exact  prec   rec    f1`);
const sum: Tally = { tp: 0, fp: 0, fn: 0, exact: 0 };
for (const [type, t] of [...tallies].sort()) {
  if (!ours.has(type)) continue;
  console.log(row(type, t));
  if (STRUCTURED.includes(type)) for (const k of ['tp', 'fp', 'fn', 'exact'] as const) sum[k] += t[k];
}
console.log(row('STRUCTURED (7 types)', sum));
