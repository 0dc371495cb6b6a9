import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { publicKeyFrom } from '../../../src/keys/public-key.js';
import { createLocalProvider } from '../../../src/keys/providers/local.js';
import {
  formatNote,
  formatVerifierKey,
  isNoteError,
  MAX_SIGNATURES,
  noteKeyHash,
  openNote,
  parseNote,
  signerFromCallback,
  signerFromPrivateKey,
  signNote,
  verifierFromKey,
  verifierFromPublicKey,
  type NoteErrorCode,
  type NoteVerifier,
} from '../../../src/ledger/note.js';

// The published example of golang.org/x/mod/sumdb/note: the package documentation
// (https://pkg.go.dev/golang.org/x/mod/sumdb/note, "Example") and its tests
// (https://go.googlesource.com/mod/+/refs/heads/master/sumdb/note/note_test.go, TestSign and
// TestOpen, where the EnochRoot key and signature come from).
const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const PETER_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const ENOCH_VKEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const TEXT =
  'If you think cryptography is the answer to your problem,\n' +
  "then you don't know what your problem is.\n";
const PETER_SIG =
  '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_SIG =
  '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';
const PETER_NOTE = `${TEXT}\n${PETER_SIG}`;

function throwsCode(fn: () => unknown, code: NoteErrorCode): void {
  assert.throws(fn, (err: unknown) => isNoteError(err, code), `expected ${code}`);
}

async function rejectsCode(promise: Promise<unknown>, code: NoteErrorCode): Promise<void> {
  await assert.rejects(promise, (err: unknown) => isNoteError(err, code), `expected ${code}`);
}

/** The PeterNeumann private key, from the Go signer key (type byte 0x01 and a 32-byte seed). */
function peterPrivateKey() {
  const seed = Buffer.from(PETER_SKEY.split('+').slice(4).join('+'), 'base64').subarray(1);
  const x = Buffer.from(PETER_VKEY.slice(PETER_VKEY.lastIndexOf('+') + 1), 'base64').subarray(1);
  const jwk = { kty: 'OKP', crv: 'Ed25519', d: seed.toString('base64url'), x: x.toString('base64url') };
  return createPrivateKey({ key: jwk, format: 'jwk' });
}

function flipCharAt(s: string, index: number): string {
  const replacement = s[index] === 'A' ? 'B' : 'A';
  return s.slice(0, index) + replacement + s.slice(index + 1);
}

describe('signed notes: the golang.org/x/mod/sumdb/note example', () => {
  const peter = verifierFromKey(PETER_VKEY);

  it('verifies with its published verifier key', () => {
    const opened = openNote(PETER_NOTE, [peter]);
    assert.equal(opened.text, TEXT);
    assert.equal(opened.verified.length, 1);
    assert.equal(opened.verified[0]?.name, 'PeterNeumann');
    assert.equal(opened.verified[0]?.keyHash, 0xc74f20a3);
    assert.deepEqual(opened.unverified, []);
    assert.equal(openNote(Buffer.from(PETER_NOTE, 'utf8'), [peter]).text, TEXT);
  });

  it('computes the key hash the spec defines: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]', () => {
    const blob = Buffer.from('ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW', 'base64');
    assert.equal(blob[0], 0x01);
    const expected = createHash('sha256')
      .update(Buffer.concat([Buffer.from('PeterNeumann\n'), blob]))
      .digest()
      .readUInt32BE(0);
    assert.equal(expected, 0xc74f20a3);
    assert.equal(peter.keyHash, expected);
    const publicKey = createPublicKey(peterPrivateKey());
    assert.equal(noteKeyHash('PeterNeumann', publicKey), expected);
    assert.equal(formatVerifierKey('PeterNeumann', publicKey), PETER_VKEY);
  });

  it('reproduces the published signature byte for byte (Ed25519 is deterministic)', async () => {
    const signer = signerFromPrivateKey('PeterNeumann', peterPrivateKey());
    assert.equal(signer.keyHash, 0xc74f20a3);
    assert.equal(await signNote(TEXT, [signer]), PETER_NOTE);
    // An existing signature by the same key is replaced, as in Go's TestSign.
    const stale = { name: 'PeterNeumann', keyHash: 0xc74f20a3, signature: Buffer.from('bad') };
    assert.equal(await signNote(TEXT, [signer], [stale]), PETER_NOTE);
  });

  it('fails when one byte of the text or of the signature changes', () => {
    const changedText = PETER_NOTE.replace('cryptography', 'cryptographY');
    throwsCode(() => openNote(changedText, [peter]), 'note_signature_invalid');
    const sigStart = PETER_NOTE.indexOf('x08go/') + 20;
    throwsCode(() => openNote(flipCharAt(PETER_NOTE, sigStart), [peter]), 'note_signature_invalid');
    const changedHash = PETER_NOTE.replace('x08go', 'x08gp');
    throwsCode(() => openNote(changedHash, [peter]), 'note_unverified');
  });

  it('ignores signatures by unknown keys but needs one by a known key', () => {
    const both = `${TEXT}\n${PETER_SIG}${ENOCH_SIG}`;
    const opened = openNote(both, [peter]);
    assert.deepEqual(
      opened.unverified.map((s) => [s.name, s.keyHash]),
      [['EnochRoot', 0xaf0cfe78]],
    );
    assert.equal(openNote(both, [peter, verifierFromKey(ENOCH_VKEY)]).verified.length, 2);
    throwsCode(() => openNote(both, []), 'note_unverified');
    throwsCode(() => openNote(`${TEXT}\n${ENOCH_SIG}`, [peter]), 'note_unverified');
  });

  it('rejects a second signature by a known key, and ambiguous verifiers', () => {
    throwsCode(() => openNote(`${TEXT}\n${PETER_SIG}${PETER_SIG}`, [peter]), 'note_duplicate_signature');
    const enoch = verifierFromKey(ENOCH_VKEY);
    const twin: NoteVerifier = { name: enoch.name, keyHash: enoch.keyHash, verify: () => true };
    throwsCode(() => openNote(PETER_NOTE, [peter, enoch, twin]), 'note_ambiguous_key');
    assert.equal(openNote(PETER_NOTE, [peter, peter]).verified.length, 1);
  });

  it('treats a verifier that throws as a failed signature (fail closed)', () => {
    const broken: NoteVerifier = {
      name: peter.name,
      keyHash: peter.keyHash,
      verify: () => {
        throw new Error('boom');
      },
    };
    throwsCode(() => openNote(PETER_NOTE, [broken]), 'note_signature_invalid');
  });
});

describe('signed notes: malformed input', () => {
  const peter = verifierFromKey(PETER_VKEY);
  const cases: Array<[string, string | Uint8Array, NoteErrorCode]> = [
    ['no blank line (text only)', TEXT, 'note_missing_blank_line'],
    ['no signature lines', `${TEXT}\n`, 'note_no_signatures'],
    ['no trailing newline', `${TEXT}\n${PETER_SIG.slice(0, -1)}`, 'note_unterminated'],
    ['missing blank line', `${TEXT}${PETER_SIG}`, 'note_missing_blank_line'],
    ['control character', `\u0001${PETER_NOTE}`, 'note_control_character'],
    ['carriage return', PETER_NOTE.replace(',\n', ',\r\n'), 'note_control_character'],
    ['invalid UTF-8', Buffer.concat([Buffer.from([0xff]), Buffer.from(PETER_NOTE)]), 'note_not_utf8'],
    ['lone surrogate', `\ud800${PETER_NOTE}`, 'note_not_utf8'],
    [
      'name with a space',
      `${TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`,
      'note_signature_line_malformed',
    ],
    ['name with a plus', PETER_NOTE.replace('PeterNeumann', 'Peter+Neumann'), 'note_invalid_key_name'],
    ['empty name', PETER_NOTE.replace('PeterNeumann', ''), 'note_invalid_key_name'],
    ['bad base64', PETER_NOTE.replace('x08go/', 'x08go_'), 'note_signature_line_malformed'],
    ['unpadded base64', PETER_NOTE.replace('AM=\n', 'AM\n'), 'note_signature_line_malformed'],
    ['signature too short', `${TEXT}\n— PeterNeumann x08gow==\n`, 'note_signature_line_malformed'],
    ['no space before the signature', `${TEXT}\n— PeterNeumann\n`, 'note_signature_line_malformed'],
    ['a hyphen for the em dash', PETER_NOTE.replace('—', '-'), 'note_signature_line_malformed'],
    [
      'an unexpected line after the signatures',
      `${PETER_NOTE}Unexpected line.\n`,
      'note_signature_line_malformed',
    ],
    ['101 signatures', `${TEXT}\n${PETER_SIG.repeat(MAX_SIGNATURES + 1)}`, 'note_too_many_signatures'],
  ];
  for (const [label, note, code] of cases) {
    it(`rejects: ${label}`, () => throwsCode(() => openNote(note, [peter]), code));
  }

  it('splits text from signatures at the last blank line', () => {
    const parsed = parseNote(`a\n\nb\n\n${PETER_SIG}`);
    assert.equal(parsed.text, 'a\n\nb\n');
    assert.equal(parsed.signatures.length, 1);
  });

  it('accepts up to MAX_SIGNATURES lines', () => {
    assert.equal(parseNote(`${TEXT}\n${PETER_SIG.repeat(MAX_SIGNATURES)}`).signatures.length, MAX_SIGNATURES);
  });
});

describe('signed notes: verifier keys', () => {
  it('rejects every truncation and every one-character change of a verifier key', () => {
    assert.doesNotThrow(() => verifierFromKey(PETER_VKEY));
    for (let i = 0; i <= PETER_VKEY.length; i++) {
      for (let j = i + 1; j <= PETER_VKEY.length; j++) {
        if (i === 0 && j === PETER_VKEY.length) continue;
        assert.throws(() => verifierFromKey(PETER_VKEY.slice(i, j)), isNoteError, PETER_VKEY.slice(i, j));
      }
    }
    for (let i = 0; i < PETER_VKEY.length; i++) {
      const changed =
        PETER_VKEY.slice(0, i) + String.fromCharCode(PETER_VKEY.charCodeAt(i) + 1) + PETER_VKEY.slice(i + 1);
      assert.throws(() => verifierFromKey(changed), isNoteError, changed);
    }
  });

  it('gives the reason in the code', () => {
    throwsCode(
      () => verifierFromKey('PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'),
      'note_key_hash_mismatch',
    );
    // From Go's TestNewVerifier: a wrong-length key and an unknown algorithm, hashes adjusted.
    throwsCode(
      () => verifierFromKey('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=='),
      'note_verifier_key_malformed',
    );
    throwsCode(
      () => verifierFromKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'),
      'note_unsupported_algorithm',
    );
    throwsCode(
      () => verifierFromKey('Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'),
      'note_verifier_key_malformed',
    );
  });

  it('refuses an Ed25519 key written under the ECDSA type byte', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    const blob = Buffer.concat([Buffer.from([0x02]), spki]);
    const hash = createHash('sha256').update(spki).digest().toString('hex').slice(0, 8);
    throwsCode(
      () => verifierFromKey(`mixed+${hash}+${blob.toString('base64')}`),
      'note_verifier_key_malformed',
    );
  });
});

describe('signed notes: our signers', () => {
  it('round-trips Ed25519: sign, format the verifier key, verify', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const signer = signerFromPrivateKey('ztgate.example/audit', privateKey);
    const note = await signNote('hello\n', [signer]);
    const verifier = verifierFromKey(formatVerifierKey('ztgate.example/audit', publicKey));
    assert.equal(verifier.keyHash, signer.keyHash);
    assert.equal(openNote(note, [verifier]).text, 'hello\n');
    assert.equal(openNote(note, [verifierFromPublicKey('ztgate.example/audit', publicKey)]).text, 'hello\n');
    const other = verifierFromPublicKey('ztgate.example/audit', generateKeyPairSync('ed25519').publicKey);
    throwsCode(() => openNote(note, [other]), 'note_unverified');
  });

  it('round-trips ECDSA P-256 (type 0x02, key hash over the SPKI DER)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signer = signerFromPrivateKey('ecdsa.example', privateKey);
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    assert.equal(signer.keyHash, createHash('sha256').update(spki).digest().readUInt32BE(0));
    const vkey = formatVerifierKey('ecdsa.example', publicKey);
    assert.equal(Buffer.from(vkey.split('+').slice(2).join('+'), 'base64')[0], 0x02);
    assert.equal(openNote(await signNote('hi\n', [signer]), [verifierFromKey(vkey)]).verified.length, 1);
  });

  it('refuses keys of other algorithms', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    throwsCode(() => signerFromPrivateKey('p384', p384), 'note_unsupported_algorithm');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    throwsCode(() => verifierFromPublicKey('rsa', rsa), 'note_unsupported_algorithm');
    const { publicKey } = generateKeyPairSync('ed25519');
    throwsCode(() => signerFromPrivateKey('pub', publicKey), 'note_signer_invalid');
  });

  it('refuses texts and names that would not parse back', async () => {
    const signer = signerFromPrivateKey('a', generateKeyPairSync('ed25519').privateKey);
    await rejectsCode(signNote('no newline', [signer]), 'note_unterminated');
    await rejectsCode(signNote('tab\there\n', [signer]), 'note_control_character');
    await rejectsCode(signNote('x\n', [{ ...signer, name: 'bad name' }]), 'note_invalid_key_name');
    await rejectsCode(signNote('x\n', [{ ...signer, keyHash: 2 ** 32 }]), 'note_key_hash_invalid');
    await rejectsCode(signNote('x\n', [signer, signer]), 'note_duplicate_signature');
    await rejectsCode(signNote('x\n', []), 'note_no_signatures');
    throwsCode(
      () => signerFromPrivateKey('a+b', generateKeyPairSync('ed25519').privateKey),
      'note_invalid_key_name',
    );
    const failing = { ...signer, sign: () => Promise.reject(new Error('hsm down')) };
    await rejectsCode(signNote('x\n', [failing]), 'note_signer_failed');
    throwsCode(
      () => formatNote('x\n', [{ name: 'a', keyHash: 1, signature: new Uint8Array() }]),
      'note_signer_failed',
    );
  });

  it('signs through a callback, checking each signature against the public key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const good = signerFromCallback({ name: 'cb', publicKey, sign: async (m) => sign(null, m, privateKey) });
    assert.equal(
      openNote(await signNote('x\n', [good]), [verifierFromPublicKey('cb', publicKey)]).text,
      'x\n',
    );
    const rotated = generateKeyPairSync('ed25519').privateKey;
    const wrong = signerFromCallback({ name: 'cb', publicKey, sign: async (m) => sign(null, m, rotated) });
    await rejectsCode(signNote('x\n', [wrong]), 'note_signer_failed');
  });

  it('can be backed by a KeyProvider (the local provider)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ztgate-note-'));
    const provider = await createLocalProvider({ dir, env: {} });
    try {
      await provider.createKey('ledger-signing', 'ed25519');
      const exported = await provider.publicKey({ name: 'ledger-signing', version: 1 });
      const publicKey = publicKeyFrom(exported.spkiPem);
      const signer = signerFromCallback({
        name: 'ztgate.example/audit',
        publicKey,
        sign: async (message) => (await provider.sign('ledger-signing', message)).signature,
      });
      const vkey = formatVerifierKey('ztgate.example/audit', publicKey);
      const note = await signNote('tree head\n', [signer]);
      assert.equal(openNote(note, [verifierFromKey(vkey)]).verified[0]?.name, 'ztgate.example/audit');
      await provider.rotateKey('ledger-signing');
      await rejectsCode(signNote('tree head\n', [signer]), 'note_signer_failed');
    } finally {
      await provider.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
