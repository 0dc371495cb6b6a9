// `ztgate audit verify` and `ztgate audit proof` end to end with the built CLI (`npm run build`
// first): a home whose ledger checkpoints are signed by its real ledger key (local key provider),
// verified with no --key, with --key and with an auditor's --checkpoint; proofs that verify against
// the printed checkpoint; then the SQLite file edited directly, and the exit code and index told.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ensureHome, loadConfigFile } from '../../src/config/index.js';
import { openKeyService } from '../../src/gateway/key-service.js';
import { openCheckpoint, signCheckpoint } from '../../src/ledger/checkpoint.js';
import { leafHash } from '../../src/ledger/merkle.js';
import { verifyInclusion } from '../../src/ledger/merkle-verify.js';
import { formatVerifierKey, verifierFromKey } from '../../src/ledger/note.js';
import { LEDGER_SIGNING_KEY, ledgerSigner } from '../../src/ledger/signing.js';
import { createStore } from '../../src/store/index.js';
import { growLedger, sqliteTamper, testLedgerKey } from '../helpers/ledger-builder.js';

const BIN = fileURLToPath(new URL('../../bin/ztgate.js', import.meta.url));
const ORIGIN = 'verify-cli.test/ledger';

function ztgate(home: string, args: string[]) {
  const result = spawnSync(process.execPath, [BIN, 'audit', ...args, '--home', home], {
    encoding: 'utf8',
    env: { ...process.env, ZTGATE_MASTER_KEY: '' },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface ProofOutput {
  index: number;
  size: number;
  leafHash: string;
  leaf: string;
  proof: string[];
  checkpoint: string;
}

describe('ztgate audit verify and ztgate audit proof', () => {
  let home: string;
  let verifierKey: string;
  let size: number;
  let auditorCopy: string;

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'ztgate-verify-cli-'));
    await writeFile(
      join(home, 'ztgate.yaml'),
      `store:\n  url: sqlite:ztgate.db\nledger:\n  origin: ${ORIGIN}\n`,
    );
    const { paths } = await ensureHome(home);
    const config = await loadConfigFile(paths.config);
    const store = await createStore({ url: config.store.url, home });
    const service = await openKeyService({ config, home, env: {}, store, authMethod: 'system' });
    try {
      // Creating the ledger key is itself a ledger entry (index 0).
      const signer = await ledgerSigner(service.keys, ORIGIN, 'test');
      const info = await service.keys.provider.describeKey(LEDGER_SIGNING_KEY);
      const exported = await service.keys.provider.publicKey({
        name: LEDGER_SIGNING_KEY,
        version: info.versions[0]!.version,
      });
      verifierKey = formatVerifierKey(ORIGIN, createPublicKey(exported.spkiPem));
      await growLedger(store.audit, 30, [10, 20, 25], signer, ORIGIN);
      const head = await store.audit.treeHead();
      size = head.size;
      // An auditor's copy of a checkpoint the store never kept.
      auditorCopy = await signCheckpoint({ origin: ORIGIN, size, rootHash: head.rootHash }, [signer]);
      await writeFile(join(home, 'auditor-checkpoint.txt'), auditorCopy);
    } finally {
      await service.close();
      await store.close();
    }
  });
  after(() => rm(home, { recursive: true, force: true }));

  it('verifies the clean ledger with the key provider, a --key, and an external --checkpoint', () => {
    let r = ztgate(home, ['verify']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`ledger verified: ${size} entries, root [0-9a-f]{64}`));
    assert.match(r.stdout, /3 checkpoints verified; covered size 25/);
    assert.match(r.stdout, /5 entries after the latest checkpoint not signed yet/);

    r = ztgate(home, ['verify', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(
      [report.ok, report.size, report.checkpoints, report.coveredSize, report.uncoveredLeaves],
      [true, size, 3, 25, 5],
    );

    // `audit key` prints the verifier key an auditor configures.
    r = ztgate(home, ['key']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${verifierKey}\n`);

    r = ztgate(home, ['verify', '--key', verifierKey, '--checkpoint', join(home, 'auditor-checkpoint.txt')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`4 checkpoints verified; covered size ${size}`));

    r = ztgate(home, ['verify', '--key', testLedgerKey(ORIGIN).verifierKey]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /checkpoint_signature/);

    r = ztgate(home, ['verify', '--key', 'not-a-key']);
    assert.equal(r.status, 2, 'a malformed --key is a usage error');
  });

  it('prints inclusion proofs that verify against the printed checkpoint', () => {
    const verifier = verifierFromKey(verifierKey);
    for (const [args, index, expectedSize] of [
      [['--index', '12'], 12, 25],
      [['--index', '0'], 0, 25],
      [['--index', '24'], 24, 25],
      [['--index', '12', '--size', '20'], 12, 20],
    ] as const) {
      const r = ztgate(home, ['proof', ...args]);
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout) as ProofOutput;
      assert.equal(out.index, index);
      assert.equal(out.size, expectedSize);
      const { checkpoint } = openCheckpoint(out.checkpoint, [verifier], { origin: ORIGIN });
      assert.equal(checkpoint.size, expectedSize);
      const hash = leafHash(Buffer.from(out.leaf, 'utf8'));
      assert.equal(out.leafHash, hash.toString('hex'));
      assert.equal((JSON.parse(out.leaf) as { index: number }).index, index);
      const proof = out.proof.map((node) => Buffer.from(node, 'base64'));
      verifyInclusion(hash, index, checkpoint.size, proof, checkpoint.rootHash);
    }

    let r = ztgate(home, ['proof', '--index', '27']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no checkpoint covers index 27 yet/);
    r = ztgate(home, ['proof', '--index', '3', '--size', '21']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no stored checkpoint has size 21/);
    r = ztgate(home, ['proof']);
    assert.equal(r.status, 2);
  });

  it('tells when a ledger has no checkpoint to prove against', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'ztgate-verify-cli-empty-'));
    try {
      await writeFile(join(empty, 'ztgate.yaml'), 'store:\n  url: sqlite:ztgate.db\n');
      const r = ztgate(empty, ['proof', '--index', '0']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /no checkpoint covers index 0 yet \(the ledger has no signed checkpoint\)/);
      assert.equal(ztgate(empty, ['verify']).status, 0, 'an empty ledger verifies');
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('exits 1 naming the first bad index once the SQLite file is edited', () => {
    const tamper = sqliteTamper(join(home, 'ztgate.db'));
    const original = tamper.read(15);
    tamper.modify(15, false);
    let r = ztgate(home, ['verify']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /leaf_modified at index 15/);

    tamper.modify(15, true);
    r = ztgate(home, ['verify', '--json']);
    assert.equal(r.status, 1);
    const report = JSON.parse(r.stdout) as { ok: boolean; problem: { code: string; index: number } };
    assert.deepEqual(
      [report.ok, report.problem.code, report.problem.index],
      [false, 'checkpoint_mismatch', 10],
    );
    assert.match(r.stderr, /checkpoint_mismatch at index 10: leaves 10\.\.19/);

    tamper.sql(
      'update ledger_leaves set leaf = ?, leaf_hash = ? where idx = 15',
      original.leaf,
      original.leaf_hash,
    );
    assert.equal(ztgate(home, ['verify']).status, 0, 'restored');
    tamper.sql('delete from ledger_leaves where idx = 7');
    r = ztgate(home, ['verify']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /leaf_missing at index 7/);
  });
});
