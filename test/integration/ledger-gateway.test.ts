// The ledger in a running gateway: every answer has its leaf before it is released, the gateway
// signs checkpoints with the ledger key, and the admin listener (mutual TLS, `view_audit`) serves
// the checkpoint, inclusion and consistency proofs that verify offline, and indexed queries.
// A `retain` obligation keeps the prompt and answer encrypted; their hashes match the entry's.
// When the ledger cannot write, the request gets 503 and nothing of the answer goes out.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { AuditEntry } from '../../src/core/index.js';
import { openCheckpoint } from '../../src/ledger/checkpoint.js';
import { leafHash } from '../../src/ledger/merkle.js';
import { verifyConsistency, verifyInclusion } from '../../src/ledger/merkle-verify.js';
import type { NoteVerifier } from '../../src/ledger/note.js';
import { ledgerVerifiers } from '../../src/ledger/signing.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { eventually, meshHome, TD, tlsGet, type MeshHome, type TlsClient } from '../helpers/mesh.js';

const ORIGIN = 'test.example/ledger';
const DEFAULT_BUNDLE = fileURLToPath(new URL('../../examples/policies/default', import.meta.url));
const RETAIN_POLICY = `
// Conversations with the demo model are kept for two days (test).
@id("retain-demo")
@obligation("retain:2d")
permit (principal, action == Ztgate::Action::"chat", resource == Ztgate::Model::"demo")
when { resource.dataClasses.contains(context.findings.dataClass) };
`;

interface Proof {
  index: number;
  size: number;
  leafHash: string;
  leaf: string;
  proof: string[];
  checkpoint: string | null;
}

describe('the ledger in a running gateway', () => {
  let h: MeshHome;
  let t: TestGateway;
  let admin: TlsClient;
  let verifiers: NoteVerifier[];
  let token: string;
  let bundleRoot: string;

  before(async () => {
    bundleRoot = await mkdtemp(join(tmpdir(), 'ztgate-ledger-bundle-'));
    await cp(DEFAULT_BUNDLE, bundleRoot, { recursive: true });
    const policies = join(bundleRoot, 'policies.cedar');
    await writeFile(policies, (await readFile(policies, 'utf8')) + RETAIN_POLICY);
    h = await meshHome();
    t = await startTestGateway({
      home: h.home,
      server: `adminTls: true, adminAllowedSpiffeIds: ["spiffe://${TD}/ops/*"]`,
      yaml: `
mesh: { enabled: true }
policy: { bundle: "${bundleRoot}", watch: false }
ledger: { origin: "${ORIGIN}", checkpoint: { everyEntries: 4, intervalMs: 50 } }
`,
    });
    const svid = await h.svid('ops', 'auditor');
    admin = { ca: h.ca.bundlePem, cert: svid.chainPem, key: svid.keyPem };
    verifiers = await ledgerVerifiers(t.gw.keys, ORIGIN);
    token = await t.token('alice');
  });
  after(async () => {
    await t?.close();
    await h?.close();
    await rm(bundleRoot, { recursive: true, force: true });
  });

  const adminGet = async (path: string) => tlsGet(`${t.gw.adminUrl}${path}`, admin);
  const chat = async (content: string, stream = false) => {
    const res = await fetch(`${t.gw.dataUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content }], stream }),
    });
    return { res, text: await res.text(), id: res.headers.get('x-request-id') ?? '' };
  };
  /** The latest checkpoint once it covers `size` leaves, opened with the ledger key. */
  const checkpointCovering = async (size: number) => {
    let note = '';
    await eventually(async () => {
      const res = await adminGet('/v1/ledger/checkpoint');
      note = res.body;
      return res.status === 200 && openCheckpoint(note, verifiers).checkpoint.size >= size;
    });
    return { note, ...openCheckpoint(note, verifiers, { origin: ORIGIN }).checkpoint };
  };

  it('each answer has its leaf; the signed checkpoint covers them; inclusion proofs verify', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { res, id } = await chat(`question ${i}`);
      assert.equal(res.status, 200);
      ids.push(id);
    }
    const head = await t.gw.store.audit.treeHead();
    const checkpoint = await checkpointCovering(head.size);
    assert.equal(checkpoint.origin, ORIGIN);
    for (const id of ids) {
      const [record] = await t.gw.store.audit.list({ requestId: id });
      assert.ok(record, `request ${id} has its entry`);
      const index = record.seq - 1;
      const res = await adminGet(`/v1/ledger/proof/inclusion?index=${index}&size=${checkpoint.size}`);
      assert.equal(res.status, 200, res.body);
      const proof = JSON.parse(res.body) as Proof;
      const leaf = JSON.parse(proof.leaf) as { entry: AuditEntry; index: number };
      assert.equal(leaf.entry.requestId, id);
      assert.equal(leaf.index, index);
      assert.equal(leafHash(Buffer.from(proof.leaf)).toString('hex'), proof.leafHash);
      const hashes = proof.proof.map((p) => Buffer.from(p, 'base64'));
      const hash = Buffer.from(proof.leafHash, 'hex');
      verifyInclusion(hash, index, checkpoint.size, hashes, checkpoint.rootHash);
      // A proof for another index, or a flipped bit, does not verify.
      const flipped = Buffer.from(hash);
      flipped[0]! ^= 1;
      assert.throws(() => verifyInclusion(flipped, index, checkpoint.size, hashes, checkpoint.rootHash));
    }
  });

  it('a streamed answer has an opening and a closing entry', async () => {
    const { res, text, id } = await chat('stream this', true);
    assert.equal(res.status, 200);
    assert.match(text, /data: \[DONE\]/);
    await eventually(async () => (await t.gw.store.audit.list({ requestId: id })).length === 2);
    const phases = (await t.gw.store.audit.list({ requestId: id })).map((r) => r.entry.phase);
    assert.deepEqual(phases, ['release', 'complete']);
  });

  it('a later checkpoint is consistent with an earlier one', async () => {
    const first = await checkpointCovering((await t.gw.store.audit.treeHead()).size);
    for (let i = 0; i < 6; i++) assert.equal((await chat(`more ${i}`)).res.status, 200);
    const second = await checkpointCovering(first.size + 6);
    const res = await adminGet(`/v1/ledger/proof/consistency?from=${first.size}&to=${second.size}`);
    assert.equal(res.status, 200, res.body);
    const proof = (JSON.parse(res.body) as { proof: string[] }).proof.map((p) => Buffer.from(p, 'base64'));
    verifyConsistency(first.size, second.size, proof, first.rootHash, second.rootHash);
    assert.throws(() => verifyConsistency(first.size, second.size, proof, second.rootHash, first.rootHash));
  });

  it('after a rotation of the ledger key, new checkpoints are signed by the new version', async () => {
    const before = await checkpointCovering((await t.gw.store.audit.treeHead()).size);
    await t.gw.keys.rotateKey('ledger-signing', 'test');
    for (let i = 0; i < 5; i++) assert.equal((await chat(`after rotation ${i}`)).res.status, 200);
    const all = await ledgerVerifiers(t.gw.keys, ORIGIN);
    assert.equal(all.length, 2, 'both versions verify');
    let note = '';
    await eventually(async () => {
      note = (await adminGet('/v1/ledger/checkpoint')).body;
      try {
        // Only the new version's verifier is given: an old signature does not open.
        return openCheckpoint(note, [all[1]!]).checkpoint.size > before.size;
      } catch {
        return false;
      }
    });
    assert.throws(
      () => openCheckpoint(note, [all[0]!]),
      'the new checkpoint is not signed by the old version',
    );
    openCheckpoint(before.note, all);
    verifiers = all;
  });

  it('entries are queried by principal, decision, model and phase; bad queries get stable codes', async () => {
    const alice = (await t.gw.store.audit.list({ limit: 1000 })).find((r) => r.entry.phase === 'release')
      ?.entry.principalId;
    assert.ok(alice);
    const res = await adminGet(
      `/v1/ledger/entries?principal=${encodeURIComponent(alice)}&decision=allow&model=demo&phase=release&limit=3`,
    );
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body) as {
      entries: { index: number; entry: AuditEntry }[];
      nextAfterSeq: number;
    };
    assert.equal(body.entries.length, 3);
    for (const { entry } of body.entries) {
      assert.equal(entry.principalId, alice);
      assert.equal(entry.decision, 'allow');
      assert.equal(entry.modelId, 'demo');
      assert.equal(entry.phase, 'release');
      assert.equal(entry.dataClass, 'internal');
    }
    const next = await adminGet(
      `/v1/ledger/entries?principal=${encodeURIComponent(alice)}&afterSeq=${body.nextAfterSeq}`,
    );
    assert.ok(
      (JSON.parse(next.body) as { entries: { index: number }[] }).entries.every(
        (e) => e.index >= body.nextAfterSeq,
      ),
    );
    for (const bad of ['decision=maybe', 'since=yesterday', 'limit=-1', 'nope=1', 'index=1']) {
      const refused = await adminGet(`/v1/ledger/entries?${bad}`);
      assert.equal(refused.status, 400, bad);
      assert.equal((JSON.parse(refused.body) as { error: { code: string } }).error.code, 'invalid_query');
    }
    const beyond = await adminGet('/v1/ledger/proof/inclusion?index=999999&size=1000000');
    assert.equal(beyond.status, 400);
    assert.equal((JSON.parse(beyond.body) as { error: { code: string } }).error.code, 'size_out_of_range');
  });

  it('retained content is encrypted, readable through the vault, and matches the entry hashes', async () => {
    const { res, id, text } = await chat('please keep this conversation');
    assert.equal(res.status, 200);
    const [record] = await t.gw.store.audit.list({ requestId: id });
    const retention = record?.entry.retention;
    assert.ok(retention, 'the entry names where its content is kept');
    assert.match(retention.keyName, /^ledger-content-/);
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const stored = await t.gw.store.objects.get('ztgate/ledger-content', retention.objectId);
    assert.ok(stored);
    assert.ok(!stored.envelope.includes(Buffer.from('keep this conversation')), 'stored encrypted');
    const { RetentionVault } = await import('../../src/ledger/retention.js');
    const vault = new RetentionVault({
      keys: t.gw.keys,
      objects: t.gw.store.objects,
      period: 'day',
      perSubject: false,
      actor: 'test',
    });
    const content = await vault.read(retention);
    assert.notEqual(content, 'shredded');
    if (content === 'shredded') return;
    assert.equal(sha(content.prompt), record.entry.promptSha256);
    assert.equal(content.answer, text);
    assert.equal(sha(content.answer ?? ''), record.entry.answerSha256);
  });

  it('when the ledger cannot write, the request gets 503 and nothing of the answer is served', async () => {
    // Break the ledger for real: another connection removes the sequencer's state row.
    const db = new Database(join(t.home, 'ztgate.db'));
    try {
      const state = db.prepare('select size, frontier from ledger_state').get();
      db.prepare('delete from ledger_state').run();
      for (const stream of [false, true]) {
        const { res, text } = await chat('this must not be answered', stream);
        assert.equal(res.status, 503, text);
        assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, 'audit_unavailable');
        assert.doesNotMatch(text, /must not be answered|data:/);
      }
      const { size, frontier } = state as { size: number; frontier: Buffer };
      db.prepare('insert into ledger_state (id, size, frontier) values (1, ?, ?)').run(size, frontier);
    } finally {
      db.close();
    }
    assert.equal((await chat('and now it works again')).res.status, 200);
  });
});
