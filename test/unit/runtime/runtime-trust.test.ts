// Routing's view of attested runtimes: eligible only while the last evidence verified and is
// fresh; replayed evidence, another runtime's evidence, a wrong measurement or TLS key, a
// challenge that hangs, and a verdict the ledger did not record all leave a runtime ineligible.
// The evidence here is signed for real (Ed25519) by a small software "agent" in the test.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  AttestationError,
  type EvidenceVerifier,
  type ReferenceValues,
} from '../../../src/runtime/attestation/types.js';
import {
  RuntimeTrust,
  type AttestedRuntime,
  type ChallengeAnswer,
  type TrustEvent,
} from '../../../src/runtime/trust/runtime-trust.js';

const MEASUREMENT = 'ab'.repeat(32);
const TLS_KEY = createHash('sha256').update('agent tls key').digest();

/** Evidence: JSON {nonce, tls, measurement} and an Ed25519 signature over it. */
function agent(privateKey: KeyObject, measurement = MEASUREMENT) {
  return (nonce: Buffer, tls: Buffer = TLS_KEY): string => {
    const body = JSON.stringify({ nonce: nonce.toString('hex'), tls: tls.toString('hex'), measurement });
    return JSON.stringify({ body, sig: sign(null, Buffer.from(body), privateKey).toString('base64') });
  };
}

function softwareVerifier(publicKey: KeyObject): EvidenceVerifier {
  return {
    kind: 'dev',
    async verify(evidence, expected, reference) {
      const { body, sig } = JSON.parse(String(evidence)) as { body: string; sig: string };
      if (!verify(null, Buffer.from(body), publicKey, Buffer.from(sig, 'base64')))
        throw new AttestationError('signature_invalid', 'bad signature', 'dev');
      const claims = JSON.parse(body) as { nonce: string; tls: string; measurement: string };
      if (claims.nonce !== Buffer.from(expected.nonce).toString('hex'))
        throw new AttestationError('nonce_mismatch', 'stale nonce', 'dev');
      if (claims.tls !== Buffer.from(expected.tlsKeyDigest ?? []).toString('hex'))
        throw new AttestationError('key_binding_mismatch', 'other key', 'dev');
      if (!reference.measurements.includes(claims.measurement))
        throw new AttestationError('measurement_mismatch', 'not approved', 'dev');
      return {
        ok: true,
        kind: 'dev',
        measurement: claims.measurement,
        claims: { debug: false, tcb: {}, policy: {} },
        hardware: false,
        verifiedAt: expected.now,
      };
    },
  };
}

function setup(overrides: Partial<AttestedRuntime> = {}, record?: (e: TrustEvent) => Promise<unknown>) {
  const keys = generateKeyPairSync('ed25519');
  const evidenceFor = agent(keys.privateKey);
  let clock = 1_000_000;
  const events: TrustEvent[] = [];
  let answer: (nonce: Buffer) => Promise<ChallengeAnswer> = async (nonce) => ({
    evidence: evidenceFor(nonce),
    tlsKeyDigest: TLS_KEY,
  });
  const reference: ReferenceValues = { measurements: [MEASUREMENT] };
  const trust = new RuntimeTrust({
    runtimes: [
      {
        id: 'gpu-1',
        kind: 'dev',
        reference,
        freshnessMs: 600_000,
        challenge: (nonce) => answer(nonce),
        ...overrides,
      },
    ],
    verifiers: new Map([['dev', softwareVerifier(keys.publicKey)]]),
    record: record ?? (async (e) => events.push(e)),
    challengeTimeoutMs: 200,
    now: () => clock,
  });
  return {
    trust,
    events,
    evidenceFor,
    setAnswer: (a: typeof answer) => (answer = a),
    advance: (ms: number) => (clock += ms),
  };
}

describe('RuntimeTrust', () => {
  it('a runtime never attested is not eligible; a verified one is, with its verdict recorded', async () => {
    const t = setup();
    assert.deepEqual(t.trust.status('gpu-1'), { eligible: false, reason: 'not_attested', since: 0 });
    const status = await t.trust.attest('gpu-1');
    assert.equal(status.eligible, true);
    if (!status.eligible) return;
    assert.equal(status.verdict.measurement, MEASUREMENT);
    assert.equal(status.verdict.hardware, false);
    assert.match(status.verdict.attestationId, /^[0-9a-f]{64}$/);
    assert.equal(status.verdict.expiresAt - status.verdict.verifiedAt, 600_000);
    assert.deepEqual(t.events, [{ type: 'accepted', verdict: status.verdict }]);
    assert.equal(t.trust.governs('gpu-1'), true);
    assert.equal(t.trust.governs('cloud'), false);
  });

  it('a verdict goes stale after the freshness window', async () => {
    const t = setup();
    await t.trust.attest('gpu-1');
    t.advance(599_999);
    assert.equal(t.trust.status('gpu-1').eligible, true);
    t.advance(1);
    assert.deepEqual(t.trust.status('gpu-1'), {
      eligible: false,
      reason: 'evidence_stale',
      since: 1_600_000,
    });
  });

  it('replayed evidence (an earlier nonce) is refused and the runtime loses eligibility', async () => {
    const t = setup();
    let captured = '';
    t.setAnswer(async (nonce) => {
      captured = t.evidenceFor(nonce);
      return { evidence: captured, tlsKeyDigest: TLS_KEY };
    });
    assert.equal((await t.trust.attest('gpu-1')).eligible, true);
    t.setAnswer(async () => ({ evidence: captured, tlsKeyDigest: TLS_KEY }));
    const status = await t.trust.attest('gpu-1');
    assert.deepEqual(status, { eligible: false, reason: 'nonce_mismatch', since: 1_000_000 });
    assert.deepEqual(t.events.at(-1), {
      type: 'refused',
      runtime: 'gpu-1',
      kind: 'dev',
      reason: 'nonce_mismatch',
    });
  });

  it('evidence from another runtime, for another TLS key, or of a wrong measurement is refused', async () => {
    const other = agent(generateKeyPairSync('ed25519').privateKey);
    const cases: [string, (nonce: Buffer) => Promise<{ evidence: string; tlsKeyDigest: Buffer }>][] = [
      ['signature_invalid', async (nonce) => ({ evidence: other(nonce), tlsKeyDigest: TLS_KEY })],
      [
        'key_binding_mismatch',
        async (nonce) => ({ evidence: setupAgent(nonce), tlsKeyDigest: Buffer.alloc(32) }),
      ],
    ];
    let setupAgent: (nonce: Buffer) => string = () => '';
    for (const [reason, answer] of cases) {
      const t = setup();
      setupAgent = t.evidenceFor;
      t.setAnswer(answer);
      assert.equal((await t.trust.attest('gpu-1')).eligible, false);
      assert.deepEqual(t.events.at(-1), { type: 'refused', runtime: 'gpu-1', kind: 'dev', reason });
      assert.deepEqual(t.trust.status('gpu-1'), { eligible: false, reason, since: 1_000_000 });
    }
    const wrong = setup({ reference: { measurements: ['cd'.repeat(32)] } });
    assert.equal((await wrong.trust.attest('gpu-1')).eligible, false);
    assert.equal((wrong.trust.status('gpu-1') as { reason: string }).reason, 'measurement_mismatch');
  });

  it('a challenge that times out or fails leaves the runtime ineligible', async () => {
    const t = setup();
    assert.equal((await t.trust.attest('gpu-1')).eligible, true);
    // A runtime that never answers, and ignores the abort signal: the 200 ms limit still holds.
    t.setAnswer(() => new Promise(() => undefined));
    assert.deepEqual(await t.trust.attest('gpu-1'), {
      eligible: false,
      reason: 'challenge_timeout',
      since: 1_000_000,
    });
    t.setAnswer(async () => {
      throw new Error('ECONNREFUSED');
    });
    assert.equal(((await t.trust.attest('gpu-1')) as { reason: string }).reason, 'challenge_failed');
  });

  it('a verdict the ledger could not record never makes a runtime eligible', async () => {
    const t = setup({}, async () => {
      throw new Error('ledger down');
    });
    await assert.rejects(t.trust.attest('gpu-1'), /ledger down/);
    assert.equal(t.trust.status('gpu-1').eligible, false);
  });

  it('concurrent attestations share one challenge; quarantine takes effect at once', async () => {
    const t = setup();
    let challenges = 0;
    t.setAnswer(async (nonce) => {
      challenges += 1;
      return { evidence: t.evidenceFor(nonce), tlsKeyDigest: TLS_KEY };
    });
    await Promise.all([t.trust.attest('gpu-1'), t.trust.attest('gpu-1'), t.trust.attestAll()]);
    assert.equal(challenges, 1);
    assert.equal(t.trust.status('gpu-1').eligible, true);
    t.trust.quarantine('gpu-1', 'weights_changed');
    assert.deepEqual(t.trust.status('gpu-1'), {
      eligible: false,
      reason: 'weights_changed',
      since: 1_000_000,
    });
  });

  it('a token that expires before the freshness window ends the verdict with it', async () => {
    const keys = generateKeyPairSync('ed25519');
    const base = softwareVerifier(keys.publicKey);
    const evidenceFor = agent(keys.privateKey);
    const trust = new RuntimeTrust({
      runtimes: [
        {
          id: 'tee',
          kind: 'dev',
          reference: { measurements: [MEASUREMENT] },
          freshnessMs: 600_000,
          challenge: async (nonce) => ({ evidence: evidenceFor(nonce), tlsKeyDigest: TLS_KEY }),
        },
      ],
      verifiers: new Map([
        [
          'dev',
          {
            kind: 'dev',
            verify: async (e, x, r) => ({ ...(await base.verify(e, x, r)), expiresAt: x.now + 60_000 }),
          },
        ],
      ]),
      record: async () => undefined,
      now: () => 5_000,
    });
    const status = await trust.attest('tee');
    assert.equal(status.eligible && status.verdict.expiresAt, 65_000);
    assert.throws(
      () =>
        new RuntimeTrust({
          runtimes: [{ ...trustRuntime(), kind: 'tdx' }],
          verifiers: new Map(),
          record: async () => 0,
        }),
      /no verifier for evidence kind tdx/,
    );
  });
});

function trustRuntime(): AttestedRuntime {
  return {
    id: 'x',
    kind: 'dev',
    reference: { measurements: [] },
    freshnessMs: 1,
    challenge: async () => ({ evidence: '' }),
  };
}
