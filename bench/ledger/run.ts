// bench/ledger: the quality bars of the audit ledger (issue 7).
//   npm run bench:ledger [-- --quick] [--entries N] [--proof-entries N] [--seconds S]
//        [--concurrency 1,64,256,1024] [--proofs N] [--cache DIR] [--no-pg] [--only a,b]
// Sections (--only takes their names):
//   appends  durable appends per second through store.audit.append (SQLite, then PostgreSQL),
//            closed-loop appenders at several concurrencies: group commit at work. Target ≥ 20,000/s.
//   verify   full verification of a ledger of --entries leaves (default 1,000,000) with
//            verifyLedger, and the plain recompute of every leaf hash and the root. Target ≤ 10 s.
//   proof    inclusion proofs of random leaves in a ledger of --proof-entries leaves (default
//            10,000,000) from stored nodes, p50/p99. Target ≤ 1 ms.
//   release  the latency audit-before-release adds to a request (bench/ledger/release.ts).
// The large ledgers are built once and cached in --cache (default $TMPDIR/ztgate-bench-ledger),
// keyed by size; the build time is printed when built and remembered for later runs.
// --quick: 100,000 entries to verify, 1,000,000 for proofs, 2 s per append level.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchPostgresAppends, benchSqliteAppends, PG_URL, type AppendRow } from './appends.js';
import { cachedLedger, type CachedLedger } from './build.js';
import { fmt, memory, mib, seconds } from './common.js';
import { benchReleaseLatency } from './release.js';
import { benchInclusionProofs, benchRecompute, benchVerifyLedger } from './verify.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    entries: { type: 'string' },
    'proof-entries': { type: 'string' },
    seconds: { type: 'string' },
    concurrency: { type: 'string' },
    proofs: { type: 'string' },
    cache: { type: 'string', default: join(tmpdir(), 'ztgate-bench-ledger') },
    'no-pg': { type: 'boolean', default: false },
    only: { type: 'string', default: 'appends,verify,proof,release' },
  },
});

const quick = values.quick;
const count = (text: string | undefined, fallback: number): number => {
  const n = text === undefined ? fallback : Number(text.replaceAll('_', ''));
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`not a positive integer: ${text}`);
  return n;
};
const settings = {
  entries: count(values.entries, quick ? 100_000 : 1_000_000),
  proofEntries: count(values['proof-entries'], quick ? 1_000_000 : 10_000_000),
  appendMs: count(values.seconds, quick ? 2 : 5) * 1000,
  levels: (values.concurrency ?? (quick ? '1,256' : '1,16,256,1024')).split(',').map((c) => count(c, 1)),
  proofs: count(values.proofs, quick ? 2000 : 10_000),
  cache: values.cache,
};
const sections = new Set(values.only.split(',').map((s) => s.trim()));

function heading(title: string): void {
  console.log(`\n## ${title}\n`);
}

function cached(ledger: CachedLedger): string {
  const build =
    ledger.builtMs === undefined
      ? `reused from the cache (built in ${seconds(ledger.recordedBuildMs)})`
      : `built now in ${seconds(ledger.builtMs)}`;
  return `${ledger.path}: ${fmt(ledger.size)} leaves, ${mib(ledger.bytes)}, ${build}`;
}

function appendTable(rows: readonly AppendRow[]): void {
  console.log('| store | appenders | appends | appends/s | p50 ms | p99 ms | max ms | memory |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---|');
  for (const r of rows) {
    const l = r.latency;
    console.log(
      `| ${r.store} | ${r.concurrency} | ${fmt(r.appends)} | ${fmt(r.perSecond)} | ${l.p50.toFixed(2)} | ${l.p99.toFixed(2)} | ${l.max.toFixed(1)} | ${r.memory} |`,
    );
  }
}

async function appends(): Promise<void> {
  heading('1. Durable appends per second (target ≥ 20,000/s on SQLite)');
  console.log(`${settings.appendMs / 1000} s per level, closed-loop appenders, entries of ~900 bytes.\n`);
  const rows = await benchSqliteAppends(settings.cache, settings.levels, settings.appendMs);
  if (!values['no-pg']) {
    try {
      rows.push(...(await benchPostgresAppends(settings.levels, settings.appendMs)));
    } catch (err) {
      console.log(`PostgreSQL at ${new URL(PG_URL).host}: not measured (${(err as Error).message})\n`);
    }
  }
  appendTable(rows);
  const best = Math.max(...rows.filter((r) => r.store.startsWith('SQLite')).map((r) => r.perSecond));
  console.log(`\nSQLite best: ${fmt(best)}/s — ${best >= 20_000 ? 'meets' : 'MISSES'} the target.`);
}

async function verify(): Promise<void> {
  heading(`2. Full verification of ${fmt(settings.entries)} entries (target ≤ 10 s)`);
  const ledger = await cachedLedger({
    cacheDir: settings.cache,
    size: settings.entries,
    checkpointEvery: Math.max(1, Math.floor(settings.entries / 10)),
    queryIndexes: true,
  });
  console.log(`Ledger ${cached(ledger)}; a signed checkpoint every ${fmt(settings.entries / 10)} leaves.`);
  console.log('Page cache warm (the file was just built or read); one run each.\n');
  const full = await benchVerifyLedger(ledger);
  if (full instanceof Error) {
    console.log(`- verifyLedger (src/ledger/verify-log.ts): NOT MEASURED — ${full.message}`);
  } else {
    const r = full.result;
    const verdict = r.ok ? 'ok' : `FAILED ${r.problem?.code} at ${r.problem?.index ?? '?'}`;
    console.log(
      `- verifyLedger: ${seconds(full.ms)} (${fmt((r.size / full.ms) * 1000)} leaves/s), ${verdict}, ` +
        `${r.checkpoints} checkpoints, covered ${fmt(r.coveredSize)} — ${full.ms <= 10_000 ? 'meets' : 'MISSES'} the target; ${full.memory}`,
    );
  }
  const plain = await benchRecompute(ledger);
  const p = plain.result;
  console.log(
    `- recompute (read pages of 10,000 leaves, hash every text, compare, fold the root): ${seconds(plain.ms)} ` +
      `(${fmt((p.size / plain.ms) * 1000)} leaves/s), root ${p.rootMatches ? 'matches' : 'DIFFERS'}, ` +
      `${p.leafHashMismatches} leaf mismatches; ${plain.memory}`,
  );
}

async function proof(): Promise<void> {
  heading(`3. Inclusion proof at ${fmt(settings.proofEntries)} entries (target ≤ 1 ms)`);
  const ledger = await cachedLedger({
    cacheDir: settings.cache,
    size: settings.proofEntries,
    checkpointEvery: Math.max(1, Math.floor(settings.proofEntries / 10)),
    queryIndexes: false,
    batch: 50_000,
  });
  console.log(`Ledger ${cached(ledger)} (without the query indexes, which proofs never read).\n`);
  const f = await benchInclusionProofs(ledger, settings.proofs);
  const l = f.latency;
  console.log('| proofs | hashes per proof | p50 ms | p99 ms | mean ms | max ms | checked |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  console.log(
    `| ${fmt(l.n)} | ≤ ${f.proofLength} | ${l.p50.toFixed(3)} | ${l.p99.toFixed(3)} | ${l.mean.toFixed(3)} | ${l.max.toFixed(2)} | ${f.verified} |`,
  );
  console.log(`\np99 ${l.p99 <= 1 ? 'meets' : 'MISSES'} the target; ${f.memory}`);
}

async function release(): Promise<void> {
  heading('4. Latency audit-before-release adds to a request');
  await benchReleaseLatency(
    quick ? { seconds: 2, rate: 100, rounds: 1 } : { seconds: 5, rate: 200, rounds: 3 },
  );
}

console.log(
  `# bench/ledger — Node ${process.version}, ${quick ? 'quick' : 'full'} run, cache ${settings.cache}`,
);
if (sections.has('appends')) await appends();
if (sections.has('verify')) await verify();
if (sections.has('proof')) await proof();
if (sections.has('release')) await release();
console.log(`\nProcess memory at the end: ${memory()}`);
