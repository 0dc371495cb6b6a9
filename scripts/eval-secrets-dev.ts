/**
 * Measures the secret recognizer on test/fixtures/detectors/secrets.jsonl (or a file given as
 * the first argument). Records carry no spans, so a label-1 record counts as found when any
 * detection's rule maps (via DATASET_RULE_ALIASES) to the record's rule; a label-0 record counts
 * as a false positive when such a detection fires on it.
 *
 *   node --import tsx scripts/eval-secrets-dev.ts [file.jsonl] [--misses]
 */
import { readFileSync } from 'node:fs';
import { createSecretRecognizer, DATASET_RULE_ALIASES } from '../src/guard/secrets/index.js';

interface SecretRecord {
  id: string;
  text: string;
  label: 0 | 1;
  rule: string;
  sample: string;
}

interface Tally {
  pos: number;
  found: number;
  anyFound: number;
  neg: number;
  fp: number;
  anyFired: number;
}

function parse(line: string): SecretRecord {
  const r = JSON.parse(line) as Partial<SecretRecord>;
  if (typeof r.text !== 'string' || typeof r.rule !== 'string' || (r.label !== 0 && r.label !== 1)) {
    throw new Error(`bad record: ${line.slice(0, 80)}`);
  }
  return { id: r.id ?? '', text: r.text, label: r.label, rule: r.rule, sample: r.sample ?? '' };
}

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--')) ?? 'test/fixtures/detectors/secrets.jsonl';
const showMisses = args.includes('--misses');
const records = readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map(parse);

const recognizer = createSecretRecognizer();
const perRule = new Map<string, Tally>();
const total: Tally = { pos: 0, found: 0, anyFound: 0, neg: 0, fp: 0, anyFired: 0 };
const misses: string[] = [];
const unmapped = new Set<string>();
const t0 = performance.now();

for (const r of records) {
  const hits = recognizer.detect(r.text);
  const aliases = DATASET_RULE_ALIASES[r.rule];
  if (aliases === undefined) unmapped.add(r.rule);
  const matched = hits.some((h) => h.rule !== undefined && (aliases ?? []).includes(h.rule));
  const t = perRule.get(r.rule) ?? { pos: 0, found: 0, anyFound: 0, neg: 0, fp: 0, anyFired: 0 };
  perRule.set(r.rule, t);
  const fired = [...new Set(hits.map((h) => h.rule))].join(',');
  for (const tally of [t, total]) {
    if (r.label === 1) {
      tally.pos++;
      if (matched) tally.found++;
      if (hits.length > 0) tally.anyFound++;
    } else {
      tally.neg++;
      if (matched) tally.fp++;
      if (hits.length > 0) tally.anyFired++;
    }
  }
  if ((r.label === 1) !== matched) {
    misses.push(
      `${r.label === 1 ? 'MISS' : 'FP  '} ${r.rule} [${fired}] ${JSON.stringify(r.text.slice(0, 160))}`,
    );
  }
}
const ms = performance.now() - t0;

const pct = (a: number, b: number): string =>
  b === 0 ? '   -  ' : `${((100 * a) / b).toFixed(1).padStart(5)}%`;
console.log('rule'.padEnd(48), 'pos  recall  any   | neg  FP     any');
for (const [rule, t] of [...perRule].sort((a, b) => a[0].localeCompare(b[0]))) {
  console.log(
    rule.padEnd(48),
    String(t.pos).padStart(3),
    pct(t.found, t.pos),
    pct(t.anyFound, t.pos),
    '|',
    String(t.neg).padStart(3),
    pct(t.fp, t.neg),
    pct(t.anyFired, t.neg),
  );
}
console.log('');
console.log(
  `records: ${records.length} (${total.pos} positive, ${total.neg} negative) in ${ms.toFixed(0)} ms`,
);
console.log(`recall (rule via aliases): ${pct(total.found, total.pos)}  (${total.found}/${total.pos})`);
console.log(`recall (any secret):       ${pct(total.anyFound, total.pos)}  (${total.anyFound}/${total.pos})`);
console.log(`FP rate (rule via aliases): ${pct(total.fp, total.neg)}  (${total.fp}/${total.neg})`);
console.log(
  `FP rate (any secret fired): ${pct(total.anyFired, total.neg)}  (${total.anyFired}/${total.neg})`,
);
if (unmapped.size > 0) console.log(`rules without aliases: ${[...unmapped].join(', ')}`);
if (showMisses) for (const m of misses) console.log(m);
