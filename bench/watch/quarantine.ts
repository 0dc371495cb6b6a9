// bench/watch: time from trigger to quarantine effective (issue 9).
//   node --import tsx bench/watch/quarantine.ts [-- --n 50]
// Replica A runs the real watch service (watch channel → signals → risk → playbook → incident in
// the SQLite ledger and control records → quarantine on the Redis StateBus); replica B is a second
// QuarantineList on the same Redis. For each of N principals one canary-leak entry is put on A's
// watch channel (what the pipeline does after recording a request), and the clock stops when B's
// request-path check (QuarantineList.check) refuses that principal. Prints p50/p99/max in ms.
// Needs Redis on 127.0.0.1:6379.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { parseConfig } from '../../src/config/index.js';
import type { AuditEntry } from '../../src/core/index.js';
import { openWatchService } from '../../src/gateway/watch-service.js';
import type { RevocationList } from '../../src/identity/revocation-list.js';
import type { KeyManager } from '../../src/keys/index.js';
import type { PolicyBundle } from '../../src/policy/index.js';
import { createBus, createStore } from '../../src/store/index.js';
import { createWatchChannel } from '../../src/watch/index.js';
import { parsePlaybooks } from '../../src/watch/playbook-schema.js';
import { QuarantineList } from '../../src/watch/quarantine-list.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '50' } } });
const n = Number(values.n);

const home = await mkdtemp(join(tmpdir(), 'ztgate-bench-watch-'));
const prefix = `ztgate-bench-${randomBytes(4).toString('hex')}:`;
const store = await createStore({ url: 'sqlite:bench.db', home });
await store.migrate();
const busA = await createBus({ url: 'redis://127.0.0.1:6379', keyPrefix: prefix });
const busB = await createBus({ url: 'redis://127.0.0.1:6379', keyPrefix: prefix });
const channel = createWatchChannel();
const playbooks = parsePlaybooks(`
playbooks:
  - id: canary-leak
    when: { signal: canary_leak }
    subject: principal
    then: [{ quarantine: {} }]
`);
const watch = await openWatchService({
  config: parseConfig(''),
  home,
  env: {},
  store,
  bus: busA,
  channel,
  keys: {} as KeyManager,
  revocations: {} as RevocationList,
  audit: (entry) => store.audit.append(entry),
  bundle: { digest: 'sha256:bench', playbooks } as unknown as PolicyBundle,
  logger: pino({ level: 'silent' }),
});
const replicaB = new QuarantineList({ bus: busB });
await replicaB.start();

function leak(i: number): AuditEntry {
  return {
    requestId: `req-${i}`,
    time: new Date().toISOString(),
    phase: 'refused',
    action: 'chat',
    principalId: `bench#${i}`,
    authMethod: 'oidc',
    modelId: 'm',
    upstreamId: 'u',
    decision: 'allow',
    determiningPolicies: [],
    obligations: [],
    bundleDigest: null,
    findings: { SYSTEM_PROMPT_CANARY: 1 },
    transformations: [],
    status: 502,
    errorCode: 'output_blocked',
    stream: false,
    promptTokens: null,
    completionTokens: null,
    latencyMs: 1,
    promptSha256: null,
    answerSha256: null,
  };
}

const samples: number[] = [];
for (let i = 0; i < n; i++) {
  const started = performance.now();
  channel.sink({ kind: 'request.refused', entry: leak(i) });
  while (!replicaB.check({ principalId: `bench#${i}` })) {
    if (performance.now() - started > 5000) throw new Error(`quarantine ${i} not seen in 5 s`);
    await new Promise((r) => setImmediate(r));
  }
  samples.push(performance.now() - started);
}
samples.sort((a, b) => a - b);
const at = (p: number): number =>
  samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))] ?? NaN;
console.log(`trigger → quarantine effective on another replica (SQLite ledger, Redis bus), n=${n}`);
console.log(
  `  p50 ${at(50).toFixed(2)} ms   p99 ${at(99).toFixed(2)} ms   max ${(samples.at(-1) ?? NaN).toFixed(2)} ms`,
);
console.log(
  `  (includes: signals, risk, playbook, incident ledger entries + control record, quarantine slot + publish)`,
);

await replicaB.close();
await watch.close();
await busA.close();
await busB.close();
await store.close();
await rm(home, { recursive: true, force: true });
