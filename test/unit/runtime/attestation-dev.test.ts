// `dev` evidence: signed by the agent's software key, no hardware root. signDevEvidence (the
// agent's side) and DevVerifier (the gateway's side) share the format.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { DevVerifier, signDevEvidence, type DevMeasurements } from '../../../src/runtime/attestation/dev.js';
import {
  AttestationError,
  type AttestationErrorCode,
  type ExpectedBinding,
  type ReferenceValues,
} from '../../../src/runtime/attestation/types.js';

const SPIFFE = 'spiffe://ztgate.local/runtime/vllm-a';
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const MEASUREMENTS: DevMeasurements = {
  weights: `sha256:${sha('manifest')}`,
  agent: sha('agent code'),
  config: sha('agent config'),
};

async function rejects(p: Promise<unknown>, code: AttestationErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof AttestationError, `not an AttestationError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

function agentKey(type: 'ed25519' | 'p256'): { privateKey: KeyObject; publicKey: KeyObject } {
  return type === 'ed25519'
    ? generateKeyPairSync('ed25519')
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function setup(type: 'ed25519' | 'p256' = 'ed25519') {
  const keys = agentKey(type);
  const reference: ReferenceValues = {
    measurements: [sha('manifest')],
    dev: {
      publicKey: keys.publicKey.export({ format: 'jwk' }) as Record<string, unknown>,
      spiffeId: SPIFFE,
      agentDigests: [MEASUREMENTS.agent],
      configDigests: [MEASUREMENTS.config],
    },
  };
  const expected: ExpectedBinding = {
    nonce: randomBytes(32),
    tlsKeyDigest: createHash('sha256').update(randomBytes(91)).digest(),
    now: Date.now(),
  };
  const sign = (over: Partial<Parameters<typeof signDevEvidence>[0]> = {}): Promise<string> =>
    signDevEvidence({
      privateKey: keys.privateKey,
      nonce: expected.nonce,
      tlsKeyDigest: expected.tlsKeyDigest,
      measurements: MEASUREMENTS,
      spiffeId: SPIFFE,
      now: expected.now,
      ...over,
    });
  return { keys, reference, expected, sign };
}

const verifier = new DevVerifier();

describe('dev evidence', () => {
  for (const type of ['ed25519', 'p256'] as const) {
    it(`round-trips with signDevEvidence (${type})`, async () => {
      const { reference, expected, sign } = setup(type);
      const v = await verifier.verify(await sign(), expected, reference);
      assert.equal(v.kind, 'dev');
      assert.equal(v.hardware, false);
      assert.equal(v.claims.insecure, true);
      assert.equal(v.measurement, sha('manifest'));
      assert.equal(v.claims.spiffeId, SPIFFE);
      assert.ok(v.expiresAt && v.expiresAt <= expected.now + 300_000);
      // bytes work as well as a string
      assert.ok(await verifier.verify(Buffer.from(await sign()), expected, reference));
    });
  }

  it('accepts a PEM-pinned key and evidence without a TLS key when none is expected', async () => {
    const { keys, reference, expected, sign } = setup();
    const ref = {
      ...reference,
      dev: {
        ...reference.dev!,
        publicKey: keys.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      },
    };
    const noKey = { ...expected, tlsKeyDigest: undefined };
    delete noKey.tlsKeyDigest;
    assert.ok(await verifier.verify(await sign({ tlsKeyDigest: undefined }), noKey, ref));
    await rejects(verifier.verify(await sign(), noKey, ref), 'key_binding_mismatch');
  });

  it('refuses a replayed nonce (the verifier expects a different one)', async () => {
    const { reference, expected, sign } = setup();
    const old = await sign();
    await rejects(verifier.verify(old, { ...expected, nonce: randomBytes(32) }, reference), 'nonce_mismatch');
  });

  it('refuses expired or too old evidence, and evidence from the future', async () => {
    const { reference, expected, sign } = setup();
    await rejects(
      verifier.verify(await sign({ now: expected.now - 600_000 }), expected, reference),
      'expired',
    );
    await rejects(
      verifier.verify(await sign({ now: expected.now - 200_000, ttlSeconds: 3600 }), expected, {
        ...reference,
        dev: { ...reference.dev!, maxAgeSeconds: 60 },
      }),
      'expired',
    );
    await rejects(
      verifier.verify(await sign({ now: expected.now + 600_000 }), expected, reference),
      'expired',
    );
  });

  it("refuses another agent's key", async () => {
    const { reference, expected } = setup();
    const other = setup();
    await rejects(
      verifier.verify(
        await other.sign({ nonce: expected.nonce, tlsKeyDigest: expected.tlsKeyDigest }),
        expected,
        reference,
      ),
      'signature_invalid',
    );
    // another key type than the pinned one
    const p256 = setup('p256');
    await rejects(
      verifier.verify(
        await p256.sign({ nonce: expected.nonce, tlsKeyDigest: expected.tlsKeyDigest }),
        expected,
        reference,
      ),
      'signature_invalid',
    );
  });

  it('refuses a TLS key binding mismatch', async () => {
    const { reference, expected, sign } = setup();
    await rejects(
      verifier.verify(await sign({ tlsKeyDigest: randomBytes(32) }), expected, reference),
      'key_binding_mismatch',
    );
    await rejects(
      verifier.verify(await sign({ tlsKeyDigest: undefined }), expected, reference),
      'key_binding_mismatch',
    );
  });

  it('refuses unapproved measurements and another identity', async () => {
    const { reference, expected, sign } = setup();
    const m = (over: Partial<DevMeasurements>): Promise<string> =>
      sign({ measurements: { ...MEASUREMENTS, ...over } });
    await rejects(
      verifier.verify(await m({ weights: sha('other manifest') }), expected, reference),
      'measurement_mismatch',
    );
    await rejects(
      verifier.verify(await m({ agent: sha('patched agent') }), expected, reference),
      'measurement_mismatch',
    );
    await rejects(
      verifier.verify(await m({ config: sha('other config') }), expected, reference),
      'measurement_mismatch',
    );
    await rejects(
      verifier.verify(await sign({ spiffeId: 'spiffe://ztgate.local/runtime/other' }), expected, reference),
      'policy_violation',
    );
    await rejects(
      verifier.verify(await sign(), expected, { measurements: [], dev: reference.dev! }),
      'measurement_mismatch',
    );
  });

  it('refuses tampered, unsigned and foreign tokens', async () => {
    const { keys, reference, expected, sign } = setup();
    const token = await sign();
    const [h, p, s] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(
      JSON.stringify({ ...claims, measurements: { ...MEASUREMENTS, agent: sha('x') } }),
    ).toString('base64url');
    await rejects(verifier.verify(`${h}.${forged}.${s}`, expected, reference), 'signature_invalid');
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'ztgate-attest-dev+jwt' })).toString(
      'base64url',
    );
    await rejects(verifier.verify(`${none}.${p}.`, expected, reference), 'signature_invalid');
    const { SignJWT } = await import('jose');
    const otherTyp = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
      .sign(keys.privateKey);
    await rejects(verifier.verify(otherTyp, expected, reference), 'malformed_evidence');
    await rejects(verifier.verify('garbage', expected, reference), 'malformed_evidence');
    await rejects(
      verifier.verify(token, expected, { measurements: reference.measurements }),
      'policy_violation',
    );
  });

  it('verifies fast', async () => {
    const { reference, expected, sign } = setup();
    const token = await sign();
    for (let i = 0; i < 20; i++) await verifier.verify(token, expected, reference);
    const n = 500;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await verifier.verify(token, expected, reference);
    const ms = (performance.now() - t0) / n;
    console.log(`dev: ${ms.toFixed(3)} ms per verification (EdDSA, pinned key)`);
    assert.ok(ms < 20);
  });
});
