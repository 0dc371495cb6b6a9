// Evidence verifier for `dev` evidence: a compact JWS signed by the runtime agent's own software
// key. There is NO hardware root: the evidence proves only that whoever holds the agent's key
// (pinned per runtime in the reference values) reported these measurements for this challenge.
// A host that can read the agent's memory or disk can forge it. Verdicts say `hardware: false`
// and carry `insecure: true`, so that logs, /v1/models, the console and audit can label them.
//
// Format (signDevEvidence writes it, DevVerifier reads it):
//   header  {alg: "EdDSA" (Ed25519) | "ES256" (P-256), typ: "ztgate-attest-dev+jwt", kid?}
//   claims  {nonce: base64url(challenge nonce), tlsKeyDigest?: base64url(SHA-256 of the agent's
//            TLS SPKI DER), measurements: {weights: manifest digest, agent: code digest,
//            config: config digest}, sub: the agent's SPIFFE ID, iat, exp}
//
// Checks, in order: header (alg allowlist for the pinned key's type, typ, no key-source headers);
// signature with the pinned key; exp/iat with clock skew and a maximum age; nonce equality
// (constant time); TLS key binding; sub = the pinned SPIFFE ID; weights digest in
// reference.measurements, agent and config digests in reference.dev.
import { createPublicKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import {
  checkMinTcb,
  decodeBase64,
  expiresAtMs,
  failer,
  type Fail,
  isApproved,
  isRecord,
  normalizeDigest,
  verifyJwtEvidence,
} from './jwt-evidence.js';
import type { DevReference, EvidenceVerifier, ExpectedBinding, ReferenceValues, Verdict } from './types.js';

export const DEV_EVIDENCE_TYP = 'ztgate-attest-dev+jwt';
const DEFAULT_MAX_AGE_SECONDS = 300;
const DEFAULT_TTL_SECONDS = 300;

const fail: Fail = failer('dev');

export interface DevMeasurements {
  /** Digest of the signed model manifest the weights were measured against. */
  weights: string;
  /** Digest of the agent's own code. */
  agent: string;
  /** Digest of the agent's config. */
  config: string;
}

export interface DevEvidenceInput {
  /** The agent's private key: Ed25519 (EdDSA) or P-256 (ES256). */
  privateKey: KeyObject;
  kid?: string;
  /** The challenge nonce (at least 16 bytes). */
  nonce: Uint8Array;
  /** SHA-256 of the DER SPKI of the agent's mTLS key; absent: no key bound. */
  tlsKeyDigest?: Uint8Array;
  measurements: DevMeasurements;
  /** The agent's SPIFFE ID (`sub`). */
  spiffeId: string;
  /** Signing time, ms since the epoch. Default now. */
  now?: number;
  /** Lifetime (exp − iat), seconds. Default 300. */
  ttlSeconds?: number;
}

function algorithmsFor(key: KeyObject): string[] {
  if (key.asymmetricKeyType === 'ed25519') return ['EdDSA', 'Ed25519'];
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1')
    return ['ES256'];
  throw new TypeError(`dev evidence keys are Ed25519 or P-256, not ${key.asymmetricKeyType ?? 'unknown'}`);
}

/** Signs `dev` evidence for a challenge (the agent's side of the format). */
export async function signDevEvidence(input: DevEvidenceInput): Promise<string> {
  if (input.privateKey.type !== 'private') throw new TypeError('signDevEvidence needs a private key');
  if (input.nonce.length < 16) throw new RangeError('attestation nonces must be at least 16 bytes');
  const alg = algorithmsFor(input.privateKey)[0] as string;
  const { weights, agent, config } = input.measurements;
  for (const [name, v] of Object.entries({ weights, agent, config })) {
    if (typeof v !== 'string' || v.length === 0) throw new TypeError(`measurements.${name} must be a digest`);
  }
  const iat = Math.floor((input.now ?? Date.now()) / 1000);
  const claims: Record<string, unknown> = {
    nonce: Buffer.from(input.nonce).toString('base64url'),
    measurements: { weights, agent, config },
  };
  if (input.tlsKeyDigest) claims.tlsKeyDigest = Buffer.from(input.tlsKeyDigest).toString('base64url');
  return new SignJWT(claims)
    .setProtectedHeader({ alg, typ: DEV_EVIDENCE_TYP, ...(input.kid ? { kid: input.kid } : {}) })
    .setSubject(input.spiffeId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + (input.ttlSeconds ?? DEFAULT_TTL_SECONDS))
    .sign(input.privateKey);
}

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && timingSafeEqual(a, b);

export interface DevVerifierOptions {
  /** Tolerated clock difference for exp/iat, seconds. Default 30. */
  clockSkewSeconds?: number;
}

export class DevVerifier implements EvidenceVerifier {
  readonly kind = 'dev' as const;
  private readonly clockSkewSeconds: number;
  private readonly keys = new Map<string, KeyObject>();

  constructor(options: DevVerifierOptions = {}) {
    this.clockSkewSeconds = options.clockSkewSeconds ?? 30;
  }

  private publicKey(pinned: DevReference['publicKey']): KeyObject {
    const cacheKey = typeof pinned === 'string' ? pinned : JSON.stringify(pinned);
    let key = this.keys.get(cacheKey);
    if (!key) {
      try {
        key =
          typeof pinned === 'string'
            ? createPublicKey(pinned)
            : createPublicKey({ key: { ...pinned } as never, format: 'jwk' });
        algorithmsFor(key);
      } catch (e) {
        fail('unsupported', `the pinned dev key is not usable: ${(e as Error).message}`);
      }
      if (this.keys.size >= 1024) this.keys.clear();
      this.keys.set(cacheKey, key);
    }
    return key;
  }

  async verify(
    evidence: Uint8Array | string,
    expected: ExpectedBinding,
    reference: ReferenceValues,
  ): Promise<Verdict> {
    const dev = reference.dev;
    if (!dev) fail('policy_violation', 'the reference values pin no dev key for this runtime');
    const key = this.publicKey(dev.publicKey);
    const { payload } = await verifyJwtEvidence(evidence, expected, {
      kind: 'dev',
      key,
      algorithms: algorithmsFor(key),
      requiredClaims: ['exp', 'iat', 'sub'],
      maxAgeSeconds: dev.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS,
      clockSkewSeconds: this.clockSkewSeconds,
      typ: DEV_EVIDENCE_TYP,
    });

    if (typeof payload.nonce !== 'string') fail('malformed_evidence', 'no nonce claim');
    if (!equalBytes(decodeBase64(payload.nonce), expected.nonce)) {
      fail('nonce_mismatch', 'the evidence answers another challenge');
    }
    const bound = payload.tlsKeyDigest;
    if (expected.tlsKeyDigest) {
      if (typeof bound !== 'string' || !equalBytes(decodeBase64(bound), expected.tlsKeyDigest)) {
        fail('key_binding_mismatch', "the evidence does not bind the peer's TLS key");
      }
    } else if (bound !== undefined) {
      fail('key_binding_mismatch', 'the evidence binds a TLS key, none was expected');
    }
    if (dev.spiffeId !== undefined && payload.sub !== dev.spiffeId) {
      fail('policy_violation', `evidence from ${String(payload.sub)}, expected ${dev.spiffeId}`);
    }

    const m = payload.measurements;
    if (
      !isRecord(m) ||
      typeof m.weights !== 'string' ||
      typeof m.agent !== 'string' ||
      typeof m.config !== 'string'
    ) {
      fail('malformed_evidence', 'measurements must hold weights, agent and config digests');
    }
    if (!isApproved(reference.measurements, m.weights)) {
      fail('measurement_mismatch', `weights manifest digest ${m.weights} is not approved`);
    }
    if (!isApproved(dev.agentDigests, m.agent))
      fail('measurement_mismatch', `agent digest ${m.agent} is not approved`);
    if (!isApproved(dev.configDigests, m.config)) {
      fail('measurement_mismatch', `config digest ${m.config} is not approved`);
    }
    checkMinTcb({}, reference, 'dev');

    const verdict: Verdict = {
      ok: true,
      kind: 'dev',
      measurement: normalizeDigest(m.weights),
      hardware: false,
      verifiedAt: expected.now,
      claims: {
        debug: false,
        tcb: {},
        policy: {},
        insecure: true,
        spiffeId: String(payload.sub),
        weightsDigest: normalizeDigest(m.weights),
        agentDigest: normalizeDigest(m.agent),
        configDigest: normalizeDigest(m.config),
        tlsKeyBound: expected.tlsKeyDigest !== undefined,
        issuedAt: (payload.iat ?? 0) * 1000,
      },
    };
    const maxAgeEnd = ((payload.iat ?? 0) + (dev.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS)) * 1000;
    verdict.expiresAt = Math.min(expiresAtMs(payload) ?? Infinity, maxAgeEnd);
    return verdict;
  }
}
