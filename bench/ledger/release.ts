// The latency that audit-before-release adds to a request: the same in-process gateway (demo
// identity provider and demo model, SQLite on disk with fsync) with its real record stage (the
// ledger append, durably committed before the answer goes out) and with the record stage
// replaced by one that returns at once. Both run side by side in one process, alternating
// rounds, at a fixed rate; prints p50/p99 of each and the difference.
//   node --import tsx bench/ledger/release.ts [--seconds 5] [--rate 200] [--rounds 3]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureHome, parseConfig } from '../../src/config/index.js';
import type { RecordStage } from '../../src/core/index.js';
import { readDemoClient, requestDemoToken } from '../../src/demo/token-client.js';
import { startGateway, type RunningGateway } from '../../src/gateway/assemble.js';
import { createLogger } from '../../src/cli/logger.js';
import { percentile, runAtFixedRate } from '../gateway/load.js';

const NO_RECORD: RecordStage = async () => ({ seq: 0, index: -1, leafHash: '' });

interface Variant {
  readonly name: string;
  readonly gw: RunningGateway;
  readonly home: string;
  readonly token: string;
  readonly latencies: number[];
}

async function start(name: string, record?: RecordStage): Promise<Variant> {
  const home = await mkdtemp(join(tmpdir(), 'ztgate-bench-release-'));
  await ensureHome(home);
  const config = parseConfig(
    'server: { port: 0, adminPort: 0 }\nlogging: { level: silent }\ndemo: { enabled: true, issuerPort: 0, modelPort: 0 }\n',
    {},
  );
  const gw = await startGateway({
    config,
    home,
    logger: createLogger('silent'),
    processMetrics: false,
    ...(record ? { stageOverrides: { record } } : {}),
  });
  const client = await readDemoClient(home);
  const { accessToken } = await requestDemoToken({
    issuer: gw.demoIssuer!,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    user: 'bench',
    roles: [],
  });
  return { name, gw, home, token: accessToken, latencies: [] };
}

export async function benchReleaseLatency(options: {
  readonly seconds: number;
  readonly rate: number;
  readonly rounds: number;
}): Promise<void> {
  const variants = [
    await start('record stage: ledger append (durable, fsync)'),
    await start('record stage: returns at once (reference)', NO_RECORD),
  ];
  const body = JSON.stringify({
    model: 'demo',
    messages: [{ role: 'user', content: 'Hello, how are you?' }],
  });
  try {
    for (let round = 0; round < options.rounds; round++) {
      for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
        const result = await runAtFixedRate({
          origin: v.gw.dataUrl,
          path: '/v1/chat/completions',
          headers: { authorization: `Bearer ${v.token}`, 'content-type': 'application/json' },
          body,
          rate: options.rate,
          seconds: options.seconds,
          connections: 32,
        });
        if (result.errors > 0) throw new Error(`${v.name}: ${result.errors} requests failed`);
        v.latencies.push(...result.latencies);
      }
    }
    const rows = variants.map((v) => {
      const sorted = Float64Array.from(v.latencies).sort();
      return { name: v.name, p50: percentile(sorted, 50), p99: percentile(sorted, 99), n: sorted.length };
    });
    console.log(
      `\nAudit-before-release: ${options.rate} req/s for ${options.seconds} s × ${options.rounds} rounds each`,
    );
    console.log('| variant | requests | p50 ms | p99 ms |');
    console.log('|---|---:|---:|---:|');
    for (const r of rows) console.log(`| ${r.name} | ${r.n} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`);
    const [real, ref] = rows as [(typeof rows)[0], (typeof rows)[0]];
    console.log(
      `| added by the ledger | | ${(real.p50 - ref.p50).toFixed(2)} | ${(real.p99 - ref.p99).toFixed(2)} |`,
    );
  } finally {
    for (const v of variants) {
      await v.gw.close();
      await rm(v.home, { recursive: true, force: true });
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      rate: { type: 'string', default: '200' },
      rounds: { type: 'string', default: '3' },
    },
  });
  await benchReleaseLatency({
    seconds: Number(values.seconds),
    rate: Number(values.rate),
    rounds: Number(values.rounds),
  });
}
