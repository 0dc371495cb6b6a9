// `ztgate audit export` end to end with the built CLI (`npm run build` first): JSON Lines to a file
// whose every proof verifies against the signed checkpoint in its header, and the same records
// streamed to a real syslog receiver over TCP and to an HTTP collector speaking Splunk HEC.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AuditEntry } from '../../src/core/index.js';
import { canonicalJson } from '../../src/ledger/canonical-json.js';
import { openCheckpoint, signCheckpoint } from '../../src/ledger/checkpoint.js';
import { verifyInclusion } from '../../src/ledger/merkle-verify.js';
import { signerFromPrivateKey, verifierFromPublicKey } from '../../src/ledger/note.js';
import { leafText } from '../../src/ledger/sequencer.js';
import type { LedgerLeaf } from '../../src/store/index.js';
import { createStore } from '../../src/store/index.js';
import { startCollector, type Collector } from '../helpers/http-collector.js';
import { makeTestPki, parseSyslog, startSyslogReceiver, type SyslogReceiver } from '../helpers/siem.js';

const BIN = fileURLToPath(new URL('../../bin/ztgate.js', import.meta.url));
const ORIGIN = 'export-cli.test/ledger';
const SIZE = 130; // entries in the ledger
const SIGNED = 120; // the latest checkpoint's size
const TOKEN = 'hec-token-5ecret-0f-the-test';

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function ztgate(home: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, 'audit', 'export', ...args, '--home', home],
      { encoding: 'utf8', env: { ...process.env, ZTGATE_EXPORT_TOKEN: '', ...env }, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = (err as { code?: unknown } | null)?.code;
        resolve({ status: err ? (typeof code === 'number' ? code : null) : 0, stdout, stderr });
      },
    );
  });
}

function entry(n: number): AuditEntry {
  return {
    requestId: `req-${n}`,
    time: new Date(Date.UTC(2026, 1, 2, 3, 4, n % 60)).toISOString(),
    phase: n % 10 === 3 ? 'refused' : 'release',
    action: 'chat.completions',
    principalId: `alice-${n % 4}`,
    authMethod: 'jwt',
    modelId: 'gpt-test',
    upstreamId: 'up',
    decision: n % 10 === 3 ? 'deny' : 'allow',
    determiningPolicies: ['p "quoted" ] \\'],
    obligations: [],
    bundleDigest: null,
    findings: { EMAIL_ADDRESS: n % 3 },
    transformations: [],
    status: n % 10 === 3 ? 403 : 200,
    errorCode: null,
    stream: false,
    promptTokens: 5,
    completionTokens: 7,
    latencyMs: 12,
    promptSha256: null,
    answerSha256: null,
    dataClass: 'internal',
    sessionId: `naïve-✓-${n}`,
  };
}

interface ExportLine {
  index: number;
  leafHash: string;
  entry: AuditEntry;
  storedAt: string;
  covered: boolean;
  proof: { size: number; hashes: string[] } | null;
}

describe('ztgate audit export', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const verifier = verifierFromPublicKey(ORIGIN, publicKey);
  let home: string;
  let leaves: LedgerLeaf[];
  let root: Uint8Array;
  let receiver: SyslogReceiver | undefined;
  const collectors: Collector[] = [];
  const collector = async (...args: Parameters<typeof startCollector>): Promise<Collector> => {
    const started = await startCollector(...args);
    collectors.push(started);
    return started;
  };

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'ztgate-export-cli-'));
    await writeFile(
      join(home, 'ztgate.yaml'),
      `store:\n  url: sqlite:ztgate.db\nledger:\n  origin: ${ORIGIN}\n`,
    );
    const store = await createStore({ url: 'sqlite:ztgate.db', home });
    try {
      for (let n = 0; n < SIZE; n++) {
        await store.audit.append(entry(n));
        if (n + 1 === SIGNED) {
          const head = await store.audit.treeHead();
          const note = await signCheckpoint({ origin: ORIGIN, size: head.size, rootHash: head.rootHash }, [
            signerFromPrivateKey(ORIGIN, privateKey),
          ]);
          await store.audit.addCheckpoint({ ...head, note, createdAt: new Date().toISOString() });
        }
      }
      leaves = [...(await store.audit.leaves(0, SIZE))];
    } finally {
      await store.close();
    }
  });

  after(async () => {
    await receiver?.close();
    for (const started of collectors) await started.close();
    await rm(home, { recursive: true, force: true });
  });

  /** The stored leaf a record claims to be, and its proof checked against the signed checkpoint. */
  function checkAgainstLedger(
    index: number,
    hash: string,
    entryJson: string,
    proof: readonly string[] | null,
  ) {
    const leaf = leaves[index]!;
    const stored = JSON.parse(leaf.text) as { entry: unknown; storedAt: string };
    assert.equal(entryJson, canonicalJson(stored.entry), `entry ${index}`);
    assert.equal(hash, leaf.leafHash.toString('hex'), `leaf hash ${index}`);
    assert.equal(leafText(entryJson, index, stored.storedAt), leaf.text);
    if (proof === null) return;
    const path = proof.map((h) => Buffer.from(h, 'base64'));
    verifyInclusion(Buffer.from(hash, 'hex'), index, SIGNED, path, root);
  }

  it('writes a header with the signed checkpoint and one line per entry whose proof verifies', async () => {
    const file = join(home, 'export.jsonl');
    const r = await ztgate(home, ['--output', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      new RegExp(
        `exported ${SIZE} entries to .*: ${SIGNED} proven against checkpoint ${SIGNED} of ${ORIGIN}, 10 appended after it`,
      ),
    );
    const [headerLine, ...lines] = (await readFile(file, 'utf8')).trimEnd().split('\n');
    const header = JSON.parse(headerLine!) as { origin: string; checkpoint: { note: string; size: number } };
    assert.equal(header.origin, ORIGIN);
    const opened = openCheckpoint(header.checkpoint.note, [verifier], { origin: ORIGIN });
    assert.equal(opened.checkpoint.size, SIGNED);
    root = opened.checkpoint.rootHash;
    assert.equal(lines.length, SIZE);
    for (const [i, line] of lines.entries()) {
      const record = JSON.parse(line) as ExportLine;
      assert.equal(record.index, i);
      assert.equal(record.covered, i < SIGNED);
      assert.equal(record.proof === null, i >= SIGNED);
      assert.deepEqual(record.entry, entry(i));
      checkAgainstLedger(i, record.leafHash, canonicalJson(record.entry), record.proof?.hashes ?? null);
    }
    assert.ok(!(await readdir(home)).some((name) => name.endsWith('.partial')), 'no temporary file left');

    // A range to standard output, covered entries only.
    const ranged = await ztgate(home, ['--from', '115', '--to', '125', '--covered-only']);
    assert.equal(ranged.status, 0, ranged.stderr);
    const indexes = ranged.stdout
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((line) => (JSON.parse(line) as ExportLine).index);
    assert.deepEqual(indexes, [115, 116, 117, 118, 119]);
  });

  it('streams the covered entries to a syslog receiver over TCP', async () => {
    receiver = await startSyslogReceiver();
    const r = await ztgate(home, [
      '--covered-only',
      '--sink',
      'syslog',
      '--url',
      `tcp://127.0.0.1:${receiver.port}`,
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`delivered ${SIGNED} record\\(s\\) to syslog tcp://127\\.0\\.0\\.1:`));
    await receiver.waitForFrames(SIGNED);
    assert.equal(receiver.frames.length, SIGNED);
    for (const [i, frame] of receiver.frames.entries()) {
      const message = parseSyslog(frame);
      const params = new Map(message.structuredData[0]!.params);
      assert.equal(params.get('index'), String(i));
      assert.equal(params.get('treeSize'), String(SIGNED));
      assert.equal(params.get('rootHash'), Buffer.from(root).toString('base64'));
      assert.equal(message.severity, i % 10 === 3 ? 4 : 6, 'a denial is a warning');
      const proof = params.get('inclusionProof')!.split(',');
      checkAgainstLedger(i, params.get('leafHash')!, message.msgText!, proof);
    }
  });

  it('streams to a Splunk HEC collector with the token from a file, never showing it', async () => {
    const hec = await collector(() => ({ status: 200, body: '{"text":"Success","code":0}' }));
    const tokenFile = join(home, 'hec.token');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    // Each export is itself recorded in the ledger: --to keeps the range at the entries made above.
    const to = ['--to', String(SIZE)];
    const r = await ztgate(home, [
      ...to,
      '--sink',
      'splunk-hec',
      '--url',
      hec.url,
      '--token-file',
      tokenFile,
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`delivered ${SIZE} record\\(s\\) to splunk-hec http://127\\.0\\.0\\.1:`),
    );
    assert.ok(!`${r.stdout}${r.stderr}`.includes(TOKEN));
    const events = hec.requests.flatMap((request) => {
      assert.equal(request.path, '/services/collector/event');
      assert.equal(request.headers.authorization, `Splunk ${TOKEN}`);
      return request.body
        .split('\n')
        .map((line) => JSON.parse(line) as { time: number; event: Record<string, unknown> });
    });
    assert.equal(events.length, SIZE);
    for (const [i, { time, event }] of events.entries()) {
      assert.equal(event.ledgerIndex, i);
      const stored = JSON.parse(leaves[i]!.text) as { storedAt: string };
      assert.equal(time, Date.parse(stored.storedAt) / 1000);
      const proof = event.proof as { treeSize: number; hashes: string[] } | undefined;
      assert.equal(proof === undefined, i >= SIGNED);
      checkAgainstLedger(i, event.leafHash as string, canonicalJson(event.entry), proof?.hashes ?? null);
    }
  });

  it('streams over TLS with --ca, and as OTLP logs with a bearer token from the environment', async () => {
    const pki = await makeTestPki();
    const tlsReceiver = await startSyslogReceiver(pki.server);
    try {
      const caFile = join(home, 'ca.pem');
      await writeFile(caFile, pki.caPem);
      const url = `tls://127.0.0.1:${tlsReceiver.port}`;
      const r = await ztgate(home, ['--to', '10', '--sink', 'syslog', '--url', url, '--ca', caFile]);
      assert.equal(r.status, 0, r.stderr);
      await tlsReceiver.waitForFrames(10);
      const indexes = tlsReceiver.frames.map((f) =>
        new Map(parseSyslog(f).structuredData[0]!.params).get('index'),
      );
      assert.deepEqual(indexes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    } finally {
      await tlsReceiver.close();
    }
    const otlp = await collector(() => ({ status: 200, body: '{}' }));
    const r = await ztgate(home, ['--from', '118', '--to', '122', '--sink', 'otlp', '--url', otlp.url], {
      ZTGATE_EXPORT_TOKEN: TOKEN,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(otlp.requests[0]?.path, '/v1/logs');
    assert.equal(otlp.requests[0]?.headers.authorization, `Bearer ${TOKEN}`);
    const body = JSON.parse(otlp.requests[0]!.body) as {
      resourceLogs: { scopeLogs: { logRecords: { body: { stringValue: string } }[] }[] }[];
    };
    const logged = body.resourceLogs[0]!.scopeLogs[0]!.logRecords.map((record) => record.body.stringValue);
    assert.deepEqual(
      logged,
      [118, 119, 120, 121].map((i) =>
        canonicalJson((JSON.parse(leaves[i]!.text) as { entry: unknown }).entry),
      ),
    );
  });

  it('exits 1 naming where delivery stopped, and writes no partial file', async () => {
    const hec = await collector((n) =>
      n === 0
        ? { status: 200, body: '{"text":"Success","code":0}' }
        : { status: 400, body: '{"text":"Invalid data format","code":6}' },
    );
    const file = join(home, 'failed.jsonl');
    const args = ['--to', String(SIZE), '--sink', 'splunk-hec', '--url', hec.url, '--output', file];
    const r = await ztgate(home, args, {
      ZTGATE_EXPORT_TOKEN: TOKEN,
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /http_status: Splunk HEC answered HTTP 400/);
    assert.match(
      r.stderr,
      /delivered 100 record\(s\) to splunk-hec .*first one not delivered is index 100 \(resume with --from 100\)/,
    );
    assert.ok(!r.stderr.includes(TOKEN));
    assert.equal(existsSync(file), false);
    assert.ok(!(await readdir(home)).some((name) => name.endsWith('.partial')));
  });

  it('records each export in the ledger', async () => {
    const store = await createStore({ url: 'sqlite:ztgate.db', home });
    try {
      const rows = (await store.audit.list({ afterSeq: SIZE, limit: 100 })).map((row) => row.entry);
      assert.deepEqual(
        rows.map((e) => `${e.action} ${e.status} ${e.transformations.join(' ')}`),
        [
          `audit.export 200 entries:${SIZE} checkpoint:${SIGNED}`,
          'audit.export 200 entries:5 checkpoint:120',
          `audit.export 200 entries:${SIGNED} checkpoint:${SIGNED} sink:syslog delivered:${SIGNED}`,
          `audit.export 200 entries:${SIZE} checkpoint:${SIGNED} sink:splunk-hec delivered:${SIZE}`,
          `audit.export 200 entries:10 checkpoint:${SIGNED} sink:syslog delivered:10`,
          `audit.export 200 entries:4 checkpoint:${SIGNED} sink:otlp delivered:4`,
          `audit.export 500 entries:${SIZE} checkpoint:${SIGNED} sink:splunk-hec delivered:100`,
        ],
      );
    } finally {
      await store.close();
    }
  });

  it('refuses secrets on the command line and incomplete sink options as usage errors', async () => {
    const cases: [string[], RegExp][] = [
      [['--sink', 'splunk-hec', '--url', 'http://127.0.0.1:1', '--token', TOKEN], /--token is not accepted/],
      [
        ['--sink', 'splunk-hec', '--url', 'http://127.0.0.1:1', `--token=${TOKEN}`],
        /--token is not accepted/,
      ],
      [['--sink', 'splunk-hec', '--url', 'http://127.0.0.1:1'], /splunk-hec needs its token/],
      [['--sink', 'kafka', '--url', 'http://127.0.0.1:1'], /--sink must be one of syslog, splunk-hec, otlp/],
      [['--sink', 'syslog'], /--sink needs --url/],
      [['--sink', 'syslog', '--url', 'udp://127.0.0.1:514'], /tcp:\/\/HOST:PORT or tls:\/\/HOST:PORT/],
      [['--sink', 'syslog', '--url', 'tcp://siem.example:601'], /plain TCP syslog to a remote host/],
      [['--url', 'http://127.0.0.1:1'], /--url needs --sink/],
      [['--from', 'x'], /--from must be a non-negative integer/],
      [['--from', '5', '--to', '2'], /--to must not be below --from/],
    ];
    for (const [args, message] of cases) {
      const r = await ztgate(home, args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.ok(!r.stderr.includes(TOKEN), 'the token is never echoed');
    }
    const missing = await ztgate(home, ['--checkpoint', '7']);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /checkpoint_not_found: no checkpoint of size 7 is stored/);
  });
});
