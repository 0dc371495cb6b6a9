// bench/gateway: pass-through latency and throughput of ztgate versus the upstream alone.
//   npm run bench:gateway [-- --seconds 20 --rates 200,1000]
// Starts a fake OpenAI-compatible upstream and ztgate (each in its own process), drives both at
// fixed rates with a 2 KB prompt, and prints RPS and p50/p99 direct vs. through ztgate, the
// added latency, and ztgate's peak RSS.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { readDemoClient, requestDemoToken } from '../../src/demo/token-client.js';
import { percentile, runAtFixedRate, type LoadResult } from './load.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    rates: { type: 'string', default: '200,1000' },
    connections: { type: 'string', default: '64' },
  },
});
const seconds = Number(values.seconds);
const rates = values.rates.split(',').map(Number);
const connections = Number(values.connections);

function waitFor(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) resolve(m);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

interface Variant {
  readonly name: string;
  readonly storeUrl: string;
}
/** The default (durable SQLite) and, for comparison, a store that never waits for the disk. */
const BARE = 'bare Node.js hop (reference, no pipeline)';
const VARIANTS: readonly Variant[] = [
  { name: 'ztgate (SQLite, fsync per commit)', storeUrl: 'sqlite:ztgate.db' },
  { name: 'ztgate (in-memory store, no fsync)', storeUrl: 'sqlite::memory:' },
];

async function startGateway(home: string, variant: Variant, upstreamUrl: string, issuerUrl: string) {
  await writeFile(
    join(home, 'ztgate.yaml'),
    `server: { port: 0, adminPort: 0 }
logging: { level: warn }
store: { url: "${variant.storeUrl}" }
identity:
  issuers:
    - { issuer: "${issuerUrl}", audience: ztgate, algorithms: [ES256] }
upstreams:
  fake: { kind: openai-compatible, baseUrl: "${upstreamUrl}", retries: 0, maxConnections: ${connections} }
models:
  - { id: bench, upstream: fake, upstreamModel: fake-model }
`,
    { mode: 0o600 },
  );
  const child = spawn(process.execPath, [join(ROOT, 'bin/ztgate.js'), 'up', '--home', home], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = (await waitFor(child, /ztgate listening on (\S+)\n/))[1]!;
  return { child, url };
}

const home = await mkdtemp(join(tmpdir(), 'ztgate-bench-'));
const children: ChildProcess[] = [];
try {
  const peers = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench/gateway/peers-process.ts'), join(home, 'peers')],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(peers);
  const found = await waitFor(peers, /upstream listening on (\S+)\nissuer listening on (\S+)\n/);
  const upstreamUrl = found[1]!;
  const issuerUrl = found[2]!;
  const client = await readDemoClient(join(home, 'peers'));
  const { accessToken: token } = await requestDemoToken({ issuer: issuerUrl, ...client, user: 'bench' });

  const prompt = 'Summarise the following text. '.padEnd(2048, 'lorem ipsum dolor sit amet ');
  const body = JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: prompt }] });
  const directBody = JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: prompt }] });
  const upstreamOrigin = new URL(upstreamUrl).origin;

  const drive = (origin: string | undefined, rate: number, secs: number): Promise<LoadResult> =>
    runAtFixedRate({
      origin: origin ?? upstreamOrigin,
      path: '/v1/chat/completions',
      headers: origin
        ? { 'content-type': 'application/json', authorization: `Bearer ${token}` }
        : { 'content-type': 'application/json' },
      body: origin ? body : directBody,
      rate,
      seconds: secs,
      connections,
    });

  const fmt = (n: number): string => n.toFixed(3);
  const rows: string[] = [
    '| rate (req/s) | path | achieved RPS | ok | errors | p50 ms | p99 ms | added p50 ms | added p99 ms |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  const results = new Map<string, LoadResult>();
  const rssMb = new Map<string, number>();
  await drive(undefined, 200, 3); // warm-up
  for (const rate of rates) results.set(`direct@${rate}`, await drive(undefined, rate, seconds));

  // Reference: the bare cost of one more HTTP hop in Node.js on this machine.
  const bare = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench/gateway/bare-proxy.ts'), upstreamOrigin],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(bare);
  const bareUrl = (await waitFor(bare, /bare proxy listening on (\S+)\n/))[1]!;
  const bareDrive = (rate: number, secs: number): Promise<LoadResult> =>
    runAtFixedRate({
      origin: bareUrl,
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json' },
      body: directBody,
      rate,
      seconds: secs,
      connections,
    });
  await bareDrive(200, 3);
  for (const rate of rates) results.set(`${BARE}@${rate}`, await bareDrive(rate, seconds));
  bare.kill('SIGTERM');
  for (const variant of VARIANTS) {
    const vhome = join(home, variant.storeUrl.includes('memory') ? 'memory' : 'durable');
    await mkdir(vhome, { recursive: true, mode: 0o700 });
    const gateway = await startGateway(vhome, variant, upstreamUrl, issuerUrl);
    children.push(gateway.child);
    await drive(gateway.url, 200, 3); // warm-up: JIT, pools, token cache
    for (const rate of rates) results.set(`${variant.name}@${rate}`, await drive(gateway.url, rate, seconds));
    rssMb.set(variant.name, peakRssMb(gateway.child.pid!));
    gateway.child.kill('SIGTERM');
  }
  for (const rate of rates) {
    const direct = results.get(`direct@${rate}`)!;
    const d50 = percentile(direct.latencies, 50);
    const d99 = percentile(direct.latencies, 99);
    rows.push(
      `| ${rate} | direct | ${(direct.sent / direct.seconds).toFixed(0)} | ${direct.ok} | ${direct.errors} | ${fmt(d50)} | ${fmt(d99)} | | |`,
    );
    for (const name of [BARE, ...VARIANTS.map((v) => v.name)]) {
      const r = results.get(`${name}@${rate}`)!;
      const z50 = percentile(r.latencies, 50);
      const z99 = percentile(r.latencies, 99);
      rows.push(
        `| ${rate} | ${name} | ${(r.sent / r.seconds).toFixed(0)} | ${r.ok} | ${r.errors} | ${fmt(z50)} | ${fmt(z99)} | ${fmt(z50 - d50)} | ${fmt(z99 - d99)} |`,
      );
    }
  }
  console.log(
    `\nztgate pass-through benchmark: ${seconds} s per run, 2 KB prompt, ${connections} connections, node ${process.version}\n`,
  );
  console.log(rows.join('\n'));
  console.log('');
  for (const [name, mb] of rssMb) console.log(`peak RSS (VmHWM) of ${name}: ${mb.toFixed(1)} MB`);
} finally {
  for (const child of children.reverse()) child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  await rm(home, { recursive: true, force: true });
}
