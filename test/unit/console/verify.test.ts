// The console's in-browser verifiers (console/src/verify), run in Node's WebCrypto against real data:
// the transparency-dev/merkle vectors and checkpoints signed by the server's own ledger code.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { jsonFiles } from '../../helpers/json-files.js';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { canonicalJson as serverCanonicalJson } from '../../../src/ledger/canonical-json.js';
import { signCheckpoint } from '../../../src/ledger/checkpoint.js';
import { leafHash as serverLeafHash } from '../../../src/ledger/merkle.js';
import { inclusionProof, rootHash, type LeafSource } from '../../../src/ledger/merkle-proofs.js';
import { formatVerifierKey, signerFromPrivateKey } from '../../../src/ledger/note.js';
import { fromBase64, toBase64, type Subtle } from '../../../console/src/verify/bytes.js';
import { canonicalJson } from '../../../console/src/verify/canonical.js';
import { verifyEntryProof, type InclusionProofResponse } from '../../../console/src/verify/entry.js';
import { MerkleError, rootFromInclusionProof, verifyInclusion } from '../../../console/src/verify/merkle.js';
import { openCheckpoint, parseVerifierKey } from '../../../console/src/verify/note.js';

const subtle = globalThis.crypto.subtle as unknown as Subtle;
const FIXTURES = fileURLToPath(new URL('../../fixtures/merkle/inclusion/', import.meta.url));

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

const b64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'));

describe('console Merkle verification: transparency-dev/merkle inclusion vectors', () => {
  const vectors = jsonFiles(FIXTURES).map((file) => ({
    file,
    v: JSON.parse(readFileSync(file, 'utf8')) as InclusionVector,
  }));

  it('accepts every happy-path vector and rejects every broken one (with a MerkleError)', async () => {
    const counts = { accepted: 0, rejected: 0 };
    for (const { file, v } of vectors) {
      let rejected = false;
      try {
        const proof = (v.proof ?? []).map(b64);
        await verifyInclusion(subtle, b64(v.leafHash), v.leafIdx, v.treeSize, proof, b64(v.root));
      } catch (err) {
        assert.ok(err instanceof MerkleError, `${file}: threw ${String(err)}`);
        rejected = true;
      }
      assert.equal(rejected, v.wantErr, `${file}: ${v.desc}`);
      counts[rejected ? 'rejected' : 'accepted'] += 1;
    }
    assert.deepEqual(counts, { accepted: 6, rejected: 92 });
  });

  it('recomputes the root of every happy-path vector', async () => {
    for (const { file, v } of vectors.filter(({ v }) => !v.wantErr)) {
      const root = await rootFromInclusionProof(
        subtle,
        b64(v.leafHash),
        v.leafIdx,
        v.treeSize,
        (v.proof ?? []).map(b64),
      );
      assert.deepEqual(Buffer.from(root), Buffer.from(b64(v.root)), file);
    }
  });
});

describe('console base64 and canonical JSON', () => {
  it('round-trips base64 like Buffer and refuses non-canonical forms', () => {
    for (let n = 0; n < 40; n++) {
      const bytes = new Uint8Array(Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff));
      const text = Buffer.from(bytes).toString('base64');
      assert.equal(toBase64(bytes), text);
      assert.deepEqual(fromBase64(text), bytes);
    }
    assert.equal(fromBase64('QR=='), undefined); // non-zero padding bits
    assert.equal(fromBase64('QQ'), undefined); // unpadded
    assert.equal(fromBase64('Q Q=='), undefined);
  });

  it('writes what the server canonicaliser writes', () => {
    const values: unknown[] = [
      { b: 1, a: [true, null, 'x'], é: { z: 1e21, y: 0.1, x: -0 }, '\u2028': 'line\nsep' },
      { entry: { findings: { EMAIL_ADDRESS: 2 } }, index: 7, storedAt: '2026-01-01T00:00:00.000Z' },
      [1, 'two', { '10': 1, '9': 2, A: 3, a: 4 }],
      'control \u0001 char',
    ];
    for (const v of values) assert.equal(canonicalJson(v), serverCanonicalJson(v));
  });
});

// A small ledger built and signed with the server's code (src/ledger).
const ORIGIN = 'ztgate.test/ledger';

function entryOf(i: number): Record<string, unknown> {
  return {
    requestId: `req-${i}`,
    time: `2026-03-01T10:0${i % 10}:00.000Z`,
    phase: 'release',
    action: 'chat.completions',
    principalId: `idp#user${i % 3}`,
    decision: i % 4 === 0 ? 'deny' : 'allow',
    obligations: i % 2 ? ['redact:EMAIL_ADDRESS'] : [],
    findings: i % 2 ? { EMAIL_ADDRESS: 1 } : {},
    status: 200,
    latencyMs: 12.5,
    runtimeId: 'llama-onprem',
    attestationId: `att-${i}`,
  };
}

async function buildLedger(size: number) {
  const rows = Array.from({ length: size }, (_, index) => ({
    index,
    storedAt: `2026-03-01T10:00:0${index % 10}.000Z`,
    entry: entryOf(index),
  }));
  const texts = rows.map((r) =>
    serverCanonicalJson({ entry: r.entry, index: r.index, storedAt: r.storedAt }),
  );
  const hashes = texts.map((t) => serverLeafHash(Buffer.from(t, 'utf8')));
  const source: LeafSource = { size, leafHash: (i) => hashes[i] as Buffer };
  const keys = generateKeyPairSync('ed25519');
  const signer = signerFromPrivateKey(ORIGIN, keys.privateKey);
  const root = await rootHash(source, size);
  const note = await signCheckpoint({ origin: ORIGIN, size, rootHash: root }, [signer]);
  const vkey = formatVerifierKey(ORIGIN, keys.publicKey);
  const proofOf = async (index: number): Promise<InclusionProofResponse> => ({
    index,
    size,
    leafHash: (hashes[index] as Buffer).toString('hex'),
    leaf: texts[index] as string,
    proof: (await inclusionProof(source, index, size)).map((h) => h.toString('base64')),
    checkpoint: note,
  });
  return { rows, texts, hashes, source, keys, signer, root, note, vkey, proofOf };
}

describe('console checkpoint verification against the server signer', () => {
  it('parses the verifier key `ztgate audit key` prints and opens the checkpoint', async () => {
    const ledger = await buildLedger(5);
    const key = await parseVerifierKey(subtle, ledger.vkey);
    assert.equal(key.name, ORIGIN);
    assert.match(key.fingerprint, /^[0-9a-f]{64}$/);
    const checkpoint = await openCheckpoint(subtle, ledger.note, key);
    assert.equal(checkpoint.size, 5);
    assert.deepEqual(Buffer.from(checkpoint.rootHash), ledger.root);
  });

  it('refuses a verifier key whose key hash does not match', async () => {
    const ledger = await buildLedger(1);
    const wrongHash = ledger.vkey.replace(/\+[0-9a-f]{8}\+/, (m) =>
      m === '+00000000+' ? '+00000001+' : '+00000000+',
    );
    assert.notEqual(wrongHash, ledger.vkey);
    await assert.rejects(parseVerifierKey(subtle, wrongHash), /key hash/);
    await assert.rejects(parseVerifierKey(subtle, 'not a key'), /not <name>/);
  });

  it('refuses a checkpoint signed by another key, or with a changed body', async () => {
    const ledger = await buildLedger(4);
    const other = await buildLedger(4);
    const pinned = await parseVerifierKey(subtle, ledger.vkey);
    await assert.rejects(
      openCheckpoint(subtle, other.note, pinned),
      /not signed by the pinned key|does not verify/,
    );
    const changed = ledger.note.replace(/^(.*\n)4\n/, '$13\n');
    assert.notEqual(changed, ledger.note);
    await assert.rejects(openCheckpoint(subtle, changed, pinned), /does not verify/);
  });
});

describe('console inclusion of an entry, end to end', () => {
  it('verifies every entry of ledgers of several sizes', async () => {
    for (const size of [1, 2, 3, 7, 8, 13]) {
      const ledger = await buildLedger(size);
      const key = await parseVerifierKey(subtle, ledger.vkey);
      for (let i = 0; i < size; i++) {
        const result = await verifyEntryProof(
          subtle,
          key,
          ledger.note,
          await ledger.proofOf(i),
          ledger.rows[i]!,
        );
        assert.equal(result.ok, true, `size ${size} index ${i}: ${result.ok ? '' : result.reason}`);
      }
    }
  });

  const setup = async () => {
    const ledger = await buildLedger(7);
    const key = await parseVerifierKey(subtle, ledger.vkey);
    const proof = await ledger.proofOf(3);
    const shown = ledger.rows[3]!;
    return { ledger, key, proof, shown };
  };
  const reasonOf = (r: Awaited<ReturnType<typeof verifyEntryProof>>): string =>
    r.ok ? 'verified' : r.reason;

  it('fails on a changed leaf text (even with its hash recomputed)', async () => {
    const { ledger, key, proof, shown } = await setup();
    const leaf = proof.leaf.replace('"status":200', '"status":201');
    const stale = await verifyEntryProof(subtle, key, ledger.note, { ...proof, leaf }, shown);
    assert.match(reasonOf(stale), /does not hash to the stored leaf hash/);
    const rehashed = serverLeafHash(Buffer.from(leaf, 'utf8')).toString('hex');
    const result = await verifyEntryProof(
      subtle,
      key,
      ledger.note,
      { ...proof, leaf, leafHash: rehashed },
      shown,
    );
    assert.match(reasonOf(result), /does not lead to the signed root/);
  });

  it('fails under the wrong pinned key', async () => {
    const { ledger, proof, shown } = await setup();
    const stranger = await parseVerifierKey(subtle, (await buildLedger(1)).vkey);
    const result = await verifyEntryProof(subtle, stranger, ledger.note, proof, shown);
    assert.match(reasonOf(result), /^checkpoint: not signed by the pinned key/);
  });

  it('fails on a changed root, even one the right key signed', async () => {
    const { ledger, key, proof, shown } = await setup();
    const forged = ledger.note.replace(/\n([A-Za-z0-9+/]{43}=)\n/, (_m, root: string) => {
      const bytes = Buffer.from(root, 'base64');
      bytes[0] = (bytes[0] as number) ^ 1;
      return `\n${bytes.toString('base64')}\n`;
    });
    assert.notEqual(forged, ledger.note);
    assert.match(reasonOf(await verifyEntryProof(subtle, key, forged, proof, shown)), /does not verify/);
    const otherRoot = Buffer.alloc(32, 7);
    const signedOther = await signCheckpoint({ origin: ORIGIN, size: 7, rootHash: otherRoot }, [
      ledger.signer,
    ]);
    assert.match(
      reasonOf(await verifyEntryProof(subtle, key, signedOther, proof, shown)),
      /does not lead to the signed root/,
    );
  });

  it('fails on a changed proof hash, a proof of the wrong length, or another index', async () => {
    const { ledger, key, proof, shown } = await setup();
    const bad = [...proof.proof];
    bad[0] = Buffer.alloc(32, 1).toString('base64');
    assert.match(
      reasonOf(await verifyEntryProof(subtle, key, ledger.note, { ...proof, proof: bad }, shown)),
      /signed root/,
    );
    const short = proof.proof.slice(1);
    assert.match(
      reasonOf(await verifyEntryProof(subtle, key, ledger.note, { ...proof, proof: short }, shown)),
      /wrong number/,
    );
    const four = await ledger.proofOf(4);
    assert.match(reasonOf(await verifyEntryProof(subtle, key, ledger.note, four, shown)), /another entry/);
  });

  it('flags a row shown differently from the logged leaf (a tampered row)', async () => {
    const { ledger, key, proof, shown } = await setup();
    const tampered = {
      ...shown,
      entry: { ...(shown.entry as object), decision: 'allow', principalId: 'idp#mallory' },
    };
    assert.match(reasonOf(await verifyEntryProof(subtle, key, ledger.note, proof, tampered)), /tampered row/);
    const moved = { ...shown, storedAt: '2027-01-01T00:00:00.000Z' };
    assert.match(reasonOf(await verifyEntryProof(subtle, key, ledger.note, proof, moved)), /storage time/);
    // Same data in another member order is the same entry.
    const reordered = {
      ...shown,
      entry: Object.fromEntries(Object.entries(shown.entry as object).reverse()),
    };
    assert.equal(reasonOf(await verifyEntryProof(subtle, key, ledger.note, proof, reordered)), 'verified');
  });

  it('says when an entry is newer than the latest checkpoint', async () => {
    const { ledger, key, proof } = await setup();
    const later = { index: 9, storedAt: 'x', entry: {} };
    assert.match(
      reasonOf(await verifyEntryProof(subtle, key, ledger.note, proof, later)),
      /not in the latest checkpoint/,
    );
  });
});
