// bench/keys: envelope encryption and signing through each key provider, side by side.
//   npm run bench:keys [-- --ms 1500]
// Providers: `local` (sealed file) and `pkcs11` (SoftHSM2 in a temp dir; needs softhsm2-util).
// For 1 KB and 64 KB payloads it measures encrypt and decrypt with a fresh data key per object
// (no cache: every operation calls the provider) and with the data-key cache (per-period data
// keys on encrypt, cached unwraps on decrypt); then sign and verify per key type. Prints median
// and p99 latency per operation, operations and MB per second, and the process's peak RSS.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KeyManager, type DataKeyCacheLimits, type KeyProvider } from '../../src/keys/index.js';
import { createLocalProvider } from '../../src/keys/providers/local.js';

const { values } = parseArgs({ options: { ms: { type: 'string', default: '1500' } } });
const budgetMs = Number(values.ms);

const CACHE_OFF: DataKeyCacheLimits = { maxAgeMs: 1, maxUses: 1, maxBytes: 1, maxEntries: 0 };
const CACHE_ON: DataKeyCacheLimits = {
  maxAgeMs: 300_000,
  maxUses: 100_000,
  maxBytes: 2 ** 30,
  maxEntries: 1000,
};

interface Row {
  provider: string;
  operation: string;
  ops: number;
  p50us: number;
  p99us: number;
  opsPerSec: number;
  mbPerSec: number | null;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/**
 * Runs `op` for the time budget with `concurrency` operations in flight (after a short warm-up)
 * and summarises the latencies of every operation.
 */
async function measure(
  provider: string,
  operation: string,
  bytes: number | null,
  op: (i: number) => Promise<unknown>,
  concurrency = 1,
): Promise<Row> {
  for (let i = 0; i < 50; i++) await op(i);
  const samples: number[] = [];
  const start = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() - start < budgetMs) {
      const t0 = performance.now();
      await op(next++);
      samples.push((performance.now() - t0) * 1000);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(samples).sort();
  return {
    provider,
    operation,
    ops: samples.length,
    p50us: percentile(sorted, 50),
    p99us: percentile(sorted, 99),
    opsPerSec: samples.length / elapsed,
    mbPerSec: bytes === null ? null : (samples.length * bytes) / elapsed / 1e6,
  };
}

async function benchProvider(name: string, open: () => Promise<KeyProvider>): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [cacheName, cache] of [
    ['no cache', CACHE_OFF],
    ['cache', CACHE_ON],
  ] as const) {
    const keys = new KeyManager({ provider: await open(), cache });
    await keys.ensureKey('bench-kek', 'aes-256-gcm', 'bench');
    for (const size of [1024, 64 * 1024]) {
      const payload = randomBytes(size);
      const context = (i: number) => ({ tenant: 'bench', recordId: `r${i}`, purpose: 'bench' });
      const reuse = { reuseDataKey: cache === CACHE_ON };
      const label = `${size / 1024} KB, ${cacheName}`;
      rows.push(
        await measure(name, `encrypt ${label}`, size, (i) =>
          keys.encrypt('bench-kek', payload, context(i), reuse),
        ),
      );
      const envelopes = await Promise.all(
        Array.from({ length: 64 }, (_, i) => keys.encrypt('bench-kek', payload, context(i), reuse)),
      );
      rows.push(
        await measure(name, `decrypt ${label}`, size, (i) =>
          keys.decrypt(envelopes[i % 64]!, context(i % 64)),
        ),
      );
    }
    if (cache === CACHE_OFF) {
      // Provider-bound work with many requests at once: what an HSM session pool is for.
      const payload = randomBytes(1024);
      const context = { tenant: 'bench', recordId: 'r', purpose: 'bench' };
      const envelope = await keys.encrypt('bench-kek', payload, context);
      rows.push(
        await measure(
          name,
          'decrypt 1 KB, no cache, 16 in flight',
          null,
          () => keys.decrypt(envelope, context),
          16,
        ),
      );
    }
    if (cache === CACHE_ON) {
      for (const algorithm of ['ed25519', 'ecdsa-p256', 'ecdsa-p384'] as const) {
        const key = `bench-${algorithm}`;
        await keys.ensureKey(key, algorithm, 'bench');
        const message = randomBytes(64);
        const { keyId, signature } = await keys.sign(key, message);
        rows.push(await measure(name, `sign ${algorithm}`, null, () => keys.sign(key, message)));
        rows.push(
          await measure(name, `verify ${algorithm}`, null, () => keys.verify(keyId, message, signature)),
        );
      }
    }
    await keys.close();
  }
  return rows;
}

function softHsm(): { modulePath: string; tokenLabel: string; pin: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ztgate-bench-hsm-'));
  mkdirSync(join(dir, 'tokens'));
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(
    conf,
    `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`,
  );
  process.env.SOFTHSM2_CONF = conf;
  const pin = randomBytes(8).toString('hex');
  execFileSync(
    'softhsm2-util',
    ['--init-token', '--free', '--label', 'bench', '--so-pin', pin, '--pin', pin],
    { stdio: 'pipe' },
  );
  return { modulePath: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'bench', pin, dir };
}

const fmt = (n: number | null, digits = 1): string => (n === null ? '' : n.toFixed(digits));

async function main(): Promise<void> {
  const localDir = mkdtempSync(join(tmpdir(), 'ztgate-bench-local-'));
  const hsm = softHsm();
  try {
    const rows = [
      ...(await benchProvider('local', () => createLocalProvider({ dir: localDir, env: {} }))),
      ...(await benchProvider('pkcs11 (SoftHSM2)', async () => {
        const { createPkcs11Provider } = await import('../../src/keys/providers/pkcs11.js');
        return createPkcs11Provider({ modulePath: hsm.modulePath, tokenLabel: hsm.tokenLabel, pin: hsm.pin });
      })),
    ];
    console.log(`bench/keys: ${budgetMs} ms per row, one operation at a time, Node ${process.version}\n`);
    console.log('| provider | operation | ops | p50 µs | p99 µs | ops/s | MB/s |');
    console.log('|---|---|---|---|---|---|---|');
    for (const r of rows) {
      console.log(
        `| ${r.provider} | ${r.operation} | ${r.ops} | ${fmt(r.p50us)} | ${fmt(r.p99us)} | ${fmt(r.opsPerSec, 0)} | ${fmt(r.mbPerSec)} |`,
      );
    }
    const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);
    console.log(`\npeak RSS (VmHWM) of the bench process: ${(hwm / 1024).toFixed(1)} MB`);
  } finally {
    rmSync(localDir, { recursive: true, force: true });
    rmSync(hsm.dir, { recursive: true, force: true });
  }
}

await main();
