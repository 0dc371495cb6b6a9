import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  formatCheckpoint,
  isCheckpointError,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
  type CheckpointErrorCode,
} from '../../../src/ledger/checkpoint.js';
import {
  formatVerifierKey,
  isNoteError,
  parseNote,
  signerFromPrivateKey,
  verifierFromKey,
} from '../../../src/ledger/note.js';

// The Go checksum database's public key, from the Go source:
// https://go.googlesource.com/go/+/refs/heads/master/src/cmd/go/internal/modfetch/key.go
const SUMDB_VKEY = 'sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8';

// A real sum.golang.org checkpoint, from TestSumDBNoteParsing in
// https://github.com/google/trillian-examples/blob/master/formats/log/note_test.go
const SUMDB_CHECKPOINT =
  'go.sum database tree\n' +
  '6476701\n' +
  'mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n' +
  '\n' +
  '— sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=\n';

// A sum.golang.org checkpoint cosigned by a test witness (two more signatures, keys not published),
// from https://github.com/google/trillian-examples/blob/7fc8e4db9946d0c5bee741b8d26d58befb39fcc7/witness/golang/cmd/addrwitness/README.md
const SUMDB_WITNESSED =
  'go.sum database tree\n' +
  '15081221\n' +
  'BoMMe1wd25Tco0mYGROkyqxHZWx+hcSCtMV315Lu6Lg=\n' +
  '\n' +
  '— sum.golang.org Az3grilD7vQqTrv66jRgKM84Y80KTprrSt4bKmiOPxgmS5ZVBTeCl6dUvjYnN13R+C8j0jGY1WnUADGMkok3U0m2Zgo=\n' +
  '— test.example.com qTGhC3917mAr6hGh+T55tNjxaej/D/GQivJZRIj7XGdAcQOTqfMWIPgp/v/904LEduN/h2sSRtHUJXUL4b9Gm7Bz4Qc=\n' +
  '— test.example.com /Pa7Y/dUvWMAAAAAQVwkQVi81ArPV7BIaQYrMIxyzY0m8a4BdeeBhSKd3PviPK4/3Sd+NKSc5N7PDTCfAkUSVniN+R2oKIggA4iiDQ==\n';

// A Sigstore Rekor checkpoint (ECDSA P-256, signature type 0x02) and Rekor's key, from
// https://github.com/google/trillian-examples/blob/master/internal/note/note_verifier_test.go
const REKOR_VKEY =
  'rekor.sigstore.dev+c0d23d6a+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNhtmPtrWm3U1eQXBogSMdGvXwBcK5AW5i0hrZLOC96l+smGNM7nwZ4QvFK/4sueRoVj//QP22Ni4Qt9DPfkWLc=';
const REKOR_CHECKPOINT =
  'Rekor\n798034\nf+7CoKgXKE/tNys9TTXcr/ad6U/K3xvznmzew9y6SP0=\n\n' +
  '— rekor.sigstore.dev wNI9ajBEAiARInWIWyCdyG27CO6LPnPekyw20qO0YJfoaPaowGp/XgIgc+qEHS3+GKVClgqq20uDLet7MCoTURUCRdxwWBHHufk=\n';

// The example of the spec, https://c2sp.org/tlog-checkpoint (no public key is published for it).
const SPEC_EXAMPLE =
  'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n' +
  '— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n';

const ROOT = createHash('sha256').update('root').digest();
const ROOT_B64 = ROOT.toString('base64');

function throwsCode(fn: () => unknown, code: CheckpointErrorCode): void {
  assert.throws(fn, (err: unknown) => isCheckpointError(err, code), `expected ${code}`);
}

describe('checkpoints: format and parse', () => {
  it('round-trips, with and without extension lines', () => {
    const text = formatCheckpoint({ origin: 'ztgate.example/audit', size: 42, rootHash: ROOT });
    assert.equal(text, `ztgate.example/audit\n42\n${ROOT_B64}\n`);
    assert.deepEqual(parseCheckpoint(text), {
      origin: 'ztgate.example/audit',
      size: 42,
      rootHash: new Uint8Array(ROOT),
      extensions: [],
    });
    const withExtensions = { origin: 'o', size: 0, rootHash: ROOT, extensions: ['ext one', 'ext two'] };
    const extended = formatCheckpoint(withExtensions);
    assert.equal(extended, `o\n0\n${ROOT_B64}\next one\next two\n`);
    assert.deepEqual(parseCheckpoint(extended).extensions, ['ext one', 'ext two']);
    assert.equal(formatCheckpoint(parseCheckpoint(extended)), extended);
  });

  it('accepts an origin with spaces (the Go sumdb uses "go.sum database tree")', () => {
    assert.equal(parseCheckpoint(parseNote(SUMDB_CHECKPOINT).text).origin, 'go.sum database tree');
  });

  it('parses the example of the spec', () => {
    const checkpoint = parseCheckpoint(parseNote(SPEC_EXAMPLE).text);
    assert.equal(checkpoint.origin, 'example.com/behind-the-sofa');
    assert.equal(checkpoint.size, 20852163);
    assert.equal(
      Buffer.from(checkpoint.rootHash).toString('base64'),
      'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=',
    );
  });

  const bad: Array<[string, string, CheckpointErrorCode]> = [
    ['size with a leading zero', `o\n01\n${ROOT_B64}\n`, 'checkpoint_size_invalid'],
    ['negative size', `o\n-1\n${ROOT_B64}\n`, 'checkpoint_size_invalid'],
    ['size with a plus sign', `o\n+1\n${ROOT_B64}\n`, 'checkpoint_size_invalid'],
    ['fractional size', `o\n1.0\n${ROOT_B64}\n`, 'checkpoint_size_invalid'],
    ['empty size', `o\n\n${ROOT_B64}\n`, 'checkpoint_size_invalid'],
    ['size with a space', `o\n 1\n${ROOT_B64}\n`, 'checkpoint_size_invalid'],
    ['size above 2^53 - 1', `o\n9007199254740992\n${ROOT_B64}\n`, 'checkpoint_size_too_large'],
    ['root of 31 bytes', `o\n1\n${ROOT.subarray(0, 31).toString('base64')}\n`, 'checkpoint_root_invalid'],
    [
      'root of 33 bytes',
      `o\n1\n${Buffer.concat([ROOT, ROOT]).subarray(0, 33).toString('base64')}\n`,
      'checkpoint_root_invalid',
    ],
    ['root in base64url', `o\n1\n${ROOT.toString('base64url')}\n`, 'checkpoint_root_invalid'],
    ['root in hex', `o\n1\n${ROOT.toString('hex')}\n`, 'checkpoint_root_invalid'],
    ['root with non-zero padding bits', `o\n1\n${ROOT_B64.slice(0, 42)}B=\n`, 'checkpoint_root_invalid'],
    ['empty origin', `\n1\n${ROOT_B64}\n`, 'checkpoint_origin_invalid'],
    ['origin with a tab', `o\tx\n1\n${ROOT_B64}\n`, 'checkpoint_origin_invalid'],
    ['empty extension line', `o\n1\n${ROOT_B64}\n\n`, 'checkpoint_extension_invalid'],
    ['too few lines', `o\n1\n`, 'checkpoint_too_few_lines'],
    ['no final newline', `o\n1\n${ROOT_B64}`, 'checkpoint_unterminated'],
  ];
  for (const [label, text, code] of bad) {
    it(`rejects: ${label}`, () => throwsCode(() => parseCheckpoint(text), code));
  }

  it('refuses to format what it could not parse back', () => {
    throwsCode(() => formatCheckpoint({ origin: '', size: 1, rootHash: ROOT }), 'checkpoint_origin_invalid');
    throwsCode(
      () => formatCheckpoint({ origin: 'a\nb', size: 1, rootHash: ROOT }),
      'checkpoint_origin_invalid',
    );
    throwsCode(() => formatCheckpoint({ origin: 'o', size: -1, rootHash: ROOT }), 'checkpoint_size_invalid');
    throwsCode(() => formatCheckpoint({ origin: 'o', size: 1.5, rootHash: ROOT }), 'checkpoint_size_invalid');
    throwsCode(
      () => formatCheckpoint({ origin: 'o', size: 2 ** 53, rootHash: ROOT }),
      'checkpoint_size_invalid',
    );
    throwsCode(
      () => formatCheckpoint({ origin: 'o', size: 1, rootHash: ROOT.subarray(1) }),
      'checkpoint_root_invalid',
    );
    throwsCode(
      () => formatCheckpoint({ origin: 'o', size: 1, rootHash: ROOT, extensions: [''] }),
      'checkpoint_extension_invalid',
    );
  });
});

describe('checkpoints: sign and open', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const origin = 'ztgate.example/audit';
  const signer = signerFromPrivateKey(origin, privateKey);
  const verifier = verifierFromKey(formatVerifierKey(origin, publicKey));

  it('round-trips with our Ed25519 key', async () => {
    const signed = await signCheckpoint({ origin, size: 7, rootHash: ROOT }, [signer]);
    const opened = openCheckpoint(signed, [verifier], { origin });
    assert.equal(opened.checkpoint.size, 7);
    assert.deepEqual(opened.checkpoint.rootHash, new Uint8Array(ROOT));
    assert.deepEqual(
      opened.verifiedBy.map((s) => s.name),
      [origin],
    );
    const fromText = await signCheckpoint(formatCheckpoint({ origin, size: 7, rootHash: ROOT }), [signer]);
    assert.equal(fromText, signed);
  });

  it('refuses another origin, a tampered size, and bodies that are not checkpoints', async () => {
    const signed = await signCheckpoint({ origin, size: 7, rootHash: ROOT }, [signer]);
    throwsCode(
      () => openCheckpoint(signed, [verifier], { origin: 'other.example/log' }),
      'checkpoint_origin_mismatch',
    );
    assert.throws(
      () => openCheckpoint(signed.replace('\n7\n', '\n8\n'), [verifier]),
      (err: unknown) => isNoteError(err, 'note_signature_invalid'),
    );
    await assert.rejects(signCheckpoint(`${origin}\n07\n${ROOT_B64}\n`, [signer]), (err: unknown) =>
      isCheckpointError(err, 'checkpoint_size_invalid'),
    );
  });

  it('checks the signature before the body: an unsigned body is never parsed as trusted', () => {
    assert.throws(
      () => openCheckpoint(SUMDB_CHECKPOINT, [verifier]),
      (err: unknown) => isNoteError(err, 'note_unverified'),
    );
  });
});

describe('checkpoints: real logs', () => {
  const sumdb = verifierFromKey(SUMDB_VKEY);

  it('opens a sum.golang.org checkpoint with the published Go sumdb key', () => {
    assert.equal(sumdb.keyHash, 0x033de0ae);
    const opened = openCheckpoint(SUMDB_CHECKPOINT, [sumdb], { origin: 'go.sum database tree' });
    assert.equal(opened.checkpoint.size, 6476701);
    assert.equal(
      Buffer.from(opened.checkpoint.rootHash).toString('base64'),
      'mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=',
    );
    assert.throws(
      () => openCheckpoint(SUMDB_CHECKPOINT.replace('6476701', '6476702'), [sumdb]),
      (err: unknown) => isNoteError(err, 'note_signature_invalid'),
    );
  });

  it('ignores witness cosignatures by keys it does not know', () => {
    const opened = openCheckpoint(SUMDB_WITNESSED, [sumdb]);
    assert.equal(opened.checkpoint.size, 15081221);
    assert.deepEqual(
      opened.verifiedBy.map((s) => s.name),
      ['sum.golang.org'],
    );
    assert.deepEqual(
      opened.unverified.map((s) => s.name),
      ['test.example.com', 'test.example.com'],
    );
  });

  it('opens a Sigstore Rekor checkpoint signed with ECDSA P-256 (type 0x02)', () => {
    const rekor = verifierFromKey(REKOR_VKEY);
    assert.equal(rekor.keyHash, 0xc0d23d6a);
    const opened = openCheckpoint(REKOR_CHECKPOINT, [rekor], { origin: 'Rekor' });
    assert.equal(opened.checkpoint.size, 798034);
    assert.throws(
      () => openCheckpoint(REKOR_CHECKPOINT.replace('798034', '798035'), [rekor]),
      (err: unknown) => isNoteError(err, 'note_signature_invalid'),
    );
  });
});
