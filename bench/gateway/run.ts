// bench/gateway: pass-through latency and throughput of ztgate versus the upstream alone.
//   npm run bench:gateway [-- --seconds 20 --rates 200,1000]
// Starts a stub OpenAI-compatible upstream and ztgate (each in its own process), drives both at
// fixed rates with a 2 KB prompt, and prints RPS and p50/p99 direct vs. through ztgate, the
// added latency, and ztgate's peak RSS.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
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

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`${cmd} exited ${code}`)),
    );
  });
}

const home = await mkdtemp(join(tmpdir(), 'ztgate-bench-'));
const children: ChildProcess[] = [];
try {
  const stub = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/gateway/stub-process.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(stub);
  const stubUrl = (await waitFor(stub, /stub listening on (\S+)\n/))[1]!;

  await writeFile(
    join(home, 'ztgate.yaml'),
    `server: { port: 0, adminPort: 0 }
logging: { level: warn }
demo: { enabled: true, issuerPort: 0, modelPort: 0 }
upstreams:
  stub: { kind: openai-compatible, baseUrl: "${stubUrl}", retries: 0, maxConnections: ${connections} }
models:
  - { id: bench, upstream: stub, upstreamModel: stub-model }
`,
    { mode: 0o600 },
  );
  const gateway = spawn(process.execPath, [join(ROOT, 'bin/ztgate.js'), 'up', '--home', home], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(gateway);
  const gatewayUrl = (await waitFor(gateway, /ztgate listening on (\S+)\n/))[1]!;
  const token = await run(process.execPath, [
    join(ROOT, 'bin/ztgate.js'),
    'token',
    '--home',
    home,
    '--user',
    'bench',
  ]);

  const prompt = 'Summarise the following text. '.padEnd(2048, 'lorem ipsum dolor sit amet ');
  const body = JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: prompt }] });
  const directBody = JSON.stringify({ model: 'stub-model', messages: [{ role: 'user', content: prompt }] });
  const stubOrigin = new URL(stubUrl).origin;

  const drive = (target: 'direct' | 'ztgate', rate: number, secs: number): Promise<LoadResult> =>
    runAtFixedRate({
      origin: target === 'direct' ? stubOrigin : gatewayUrl,
      path: '/v1/chat/completions',
      headers:
        target === 'direct'
          ? { 'content-type': 'application/json' }
          : { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: target === 'direct' ? directBody : body,
      rate,
      seconds: secs,
      connections,
    });

  // Warm up both paths (JIT, connection pools, token cache).
  await drive('direct', 200, 3);
  await drive('ztgate', 200, 3);

  const rows: string[] = [];
  const fmt = (n: number): string => n.toFixed(3);
  rows.push(
    '| rate (req/s) | path | achieved RPS | ok | errors | p50 ms | p99 ms | added p50 ms | added p99 ms |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (const rate of rates) {
    const direct = await drive('direct', rate, seconds);
    const through = await drive('ztgate', rate, seconds);
    const d50 = percentile(direct.latencies, 50);
    const d99 = percentile(direct.latencies, 99);
    const z50 = percentile(through.latencies, 50);
    const z99 = percentile(through.latencies, 99);
    rows.push(
      `| ${rate} | direct | ${(direct.sent / direct.seconds).toFixed(0)} | ${direct.ok} | ${direct.errors} | ${fmt(d50)} | ${fmt(d99)} | | |`,
      `| ${rate} | ztgate | ${(through.sent / through.seconds).toFixed(0)} | ${through.ok} | ${through.errors} | ${fmt(z50)} | ${fmt(z99)} | ${fmt(z50 - d50)} | ${fmt(z99 - d99)} |`,
    );
  }
  const rss = peakRssMb(gateway.pid!);
  console.log(
    `\nztgate pass-through benchmark: ${seconds} s per run, 2 KB prompt, ${connections} connections, node ${process.version}\n`,
  );
  console.log(rows.join('\n'));
  console.log(`\nztgate peak RSS (VmHWM): ${rss.toFixed(1)} MB`);
} finally {
  for (const child of children.reverse()) child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  await rm(home, { recursive: true, force: true });
}
