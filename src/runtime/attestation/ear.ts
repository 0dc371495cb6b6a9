// Evidence verifier for IETF RATS EAT Attestation Results (EAR, draft-fv-rats-ear, now
// draft-ietf-rats-ear) as JWTs: the result a verification service (Veraison, CoCo Trustee) signs
// after appraising a TEE's evidence. Shape (see test/fixtures/attestation/SOURCE.md):
//   { "eat_profile": "tag:github.com,2023:veraison/ear", "iat": …, "eat_nonce": …,
//     "ear.verifier-id": { "developer": …, "build": … },
//     "submods": { "<attester>": { "ear.status": "affirming" | "warning" | "contraindicated" | "none",
//                                  "ear.trustworthiness-vector": { "instance-identity": 2, … },
//                                  "ear.appraisal-policy-id": …,
//                                  "ear.veraison.annotated-evidence": { … } } } }
// EARs often carry no `exp`: freshness is `iat` within a maximum age, and the nonce.
//
// Keys: a pinned public key, a pinned JWKS, or a JWKS URL (Veraison publishes its key at
// /.well-known/veraison/verification). ES256 by default.
//
// Checks, in order: header and signature; iat (maximum age), exp/nbf if present, iss/aud if
// configured; eat_profile; verifier identity; nonce/TLS-key binding (eat_nonce); every submodule
// affirming (or warning, if allowed) and the required ones present; debug claim (if configured);
// measurement (a configured key path inside a submodule) approved; hardware claim (if required).
import { createPublicKey, KeyObject } from 'node:crypto';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import {
  checkAlgorithms,
  checkBindingNonces,
  checkMinTcb,
  claimAt,
  decodeBase64,
  expiresAtMs,
  failer,
  type Fail,
  isApproved,
  isRecord,
  remoteJwks,
  verifyJwtEvidence,
  type JwksFetchOptions,
  type JwtKeySource,
} from './jwt-evidence.js';
import type { EvidenceVerifier, ExpectedBinding, ReferenceValues, Verdict } from './types.js';

export const EAR_PROFILE = 'tag:github.com,2023:veraison/ear';
export const EAR_STATUSES = ['affirming', 'warning', 'contraindicated', 'none'] as const;
const DEFAULT_MAX_AGE_SECONDS = 600;
const ANNOTATED = 'ear.veraison.annotated-evidence';
const DEFAULT_MEASUREMENT_PATHS: readonly (readonly string[])[] = [
  [ANNOTATED, 'snp', 'measurement'],
  [ANNOTATED, 'tdx', 'quote', 'body', 'mr_td'],
];

const fail: Fail = failer('ear');

export interface EarVerifierOptions {
  /** The verification service's public key (KeyObject, JWK object or SPKI PEM). */
  publicKey?: KeyObject | Readonly<Record<string, unknown>> | string;
  /** Or a pinned JWKS. */
  jwks?: JSONWebKeySet;
  /** Or a JWKS URL. */
  jwksUrl?: string;
  /** Pinned `iss`, when the service sets one. */
  issuer?: string;
  audience?: string | readonly string[];
  /** Default ['ES256']. */
  algorithms?: readonly string[];
  /** Tolerated clock difference, seconds. Default 60. */
  clockSkewSeconds?: number;
  fetch?: JwksFetchOptions;
}

/** AR4SI tiers: 2..31 affirming, 32..95 warning, 96..127 contraindicated (and negatives alike). */
function tier(value: unknown): (typeof EAR_STATUSES)[number] {
  if (typeof value !== 'number') return 'none';
  const v = Math.abs(value);
  if (v >= 96) return 'contraindicated';
  if (v >= 32) return 'warning';
  if (v >= 2) return 'affirming';
  return 'none';
}

/** Hex as is (lowercase); base64 (as Veraison and Trustee print digests) → hex. */
function measurementHex(value: string): string {
  const v = value.trim().replace(/^sha256:/i, '');
  return /^[0-9a-fA-F]+$/.test(v) && v.length % 2 === 0 ? v.toLowerCase() : decodeBase64(v).toString('hex');
}

function keySource(options: EarVerifierOptions): JwtKeySource {
  const given = [options.publicKey, options.jwks, options.jwksUrl].filter((x) => x !== undefined).length;
  if (given !== 1) throw new TypeError('ear: give exactly one of publicKey, jwks, jwksUrl');
  if (options.jwks) return createLocalJWKSet(options.jwks);
  if (options.jwksUrl) return remoteJwks(options.jwksUrl, options.fetch);
  const pk = options.publicKey;
  if (typeof pk === 'string') return createPublicKey(pk);
  if (pk instanceof KeyObject) return pk;
  return createPublicKey({ key: { ...(pk as Record<string, unknown>) } as never, format: 'jwk' });
}

export class EarVerifier implements EvidenceVerifier {
  readonly kind = 'ear' as const;
  private readonly options: EarVerifierOptions;
  private readonly key: JwtKeySource;
  private readonly algorithms: readonly string[];

  constructor(options: EarVerifierOptions) {
    this.options = options;
    this.key = keySource(options);
    this.algorithms = checkAlgorithms(options.algorithms ?? ['ES256'], this.kind);
  }

  async verify(
    evidence: Uint8Array | string,
    expected: ExpectedBinding,
    reference: ReferenceValues,
  ): Promise<Verdict> {
    const ear = reference.ear ?? {};
    const maxAge = ear.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS;
    const { payload } = await verifyJwtEvidence(evidence, expected, {
      kind: this.kind,
      key: this.key,
      algorithms: this.algorithms,
      ...(this.options.issuer !== undefined ? { issuer: this.options.issuer } : {}),
      ...(this.options.audience !== undefined ? { audience: this.options.audience } : {}),
      requiredClaims: ['iat'],
      maxAgeSeconds: maxAge,
      clockSkewSeconds: this.options.clockSkewSeconds ?? 60,
    });

    if (payload.eat_profile === undefined) fail('malformed_evidence', 'no eat_profile');
    if (payload.eat_profile !== EAR_PROFILE) {
      fail('unsupported', `eat_profile ${JSON.stringify(payload.eat_profile)} is not ${EAR_PROFILE}`);
    }
    const vid = payload['ear.verifier-id'];
    if (!isRecord(vid) || typeof vid.developer !== 'string' || typeof vid.build !== 'string') {
      fail('malformed_evidence', 'ear.verifier-id needs developer and build');
    }
    const verifierId = { developer: vid.developer, build: vid.build };
    if (
      ear.verifierIds !== undefined &&
      !ear.verifierIds.some(
        (v) => v.developer === verifierId.developer && (v.build ?? verifierId.build) === verifierId.build,
      )
    ) {
      fail(
        'policy_violation',
        `EAR from an unexpected verifier (${verifierId.developer} ${verifierId.build})`,
      );
    }
    const submods = payload.submods;
    if (!isRecord(submods) || Object.keys(submods).length === 0) fail('malformed_evidence', 'no submods');

    checkBindingNonces(payload.eat_nonce, expected, this.kind, 'eat_nonce');

    const summary: Record<
      string,
      { status: string; trustworthinessVector: Record<string, unknown>; policy?: string }
    > = {};
    for (const [name, sm] of Object.entries(submods)) {
      if (!isRecord(sm)) fail('malformed_evidence', `submod ${name} is not an object`);
      const status = sm['ear.status'];
      if (typeof status !== 'string' || !(EAR_STATUSES as readonly string[]).includes(status)) {
        fail('malformed_evidence', `submod ${name}: ear.status ${JSON.stringify(status)}`);
      }
      const tv = isRecord(sm['ear.trustworthiness-vector']) ? sm['ear.trustworthiness-vector'] : {};
      if (status !== 'affirming' && !(status === 'warning' && ear.allowWarning === true)) {
        const flagged = Object.entries(tv)
          .filter(([, v]) => tier(v) === 'warning' || tier(v) === 'contraindicated')
          .map(([k, v]) => `${k}=${String(v)}`);
        fail(
          'policy_violation',
          `submod ${name}: ear.status ${status}${flagged.length ? ` (${flagged.join(', ')})` : ''}`,
        );
      }
      const appraisal = sm['ear.appraisal-policy-id'];
      summary[name] = {
        status,
        trustworthinessVector: { ...tv },
        ...(typeof appraisal === 'string' ? { policy: appraisal } : {}),
      };
    }
    for (const name of ear.submods ?? []) {
      if (!(name in submods)) fail('policy_violation', `required submod ${name} is absent`);
    }

    const order = [
      ...(ear.submods ?? []),
      ...Object.keys(submods).filter((n) => !(ear.submods ?? []).includes(n)),
    ];
    const paths = ear.measurementPath ? [ear.measurementPath] : DEFAULT_MEASUREMENT_PATHS;
    let found: { submod: string; value: string } | undefined;
    for (const name of order) {
      for (const path of paths) {
        const v = claimAt(submods[name], path);
        if (typeof v === 'string' && found === undefined) found = { submod: name, value: v };
      }
    }

    let debug = false;
    if (ear.debugPath && found) {
      const d = claimAt(submods[found.submod], ear.debugPath);
      if (typeof d !== 'boolean')
        fail('malformed_evidence', `debug claim ${ear.debugPath.join('.')} is missing`);
      debug = d;
      if (debug && reference.allowDebug !== true)
        fail('debug_enabled', `submod ${found.submod} is debuggable`);
    }

    if (!found) fail('measurement_mismatch', 'the EAR carries no measurement at the configured path');
    const measurement = measurementHex(found.value);
    if (!isApproved(reference.measurements, measurement)) {
      fail('measurement_mismatch', `measurement ${measurement} (submod ${found.submod}) is not approved`);
    }
    const hardware = tier(summary[found.submod]?.trustworthinessVector.hardware) === 'affirming';
    if (ear.requireHardware === true && !hardware) {
      fail('policy_violation', `submod ${found.submod}: hardware is not affirmed`);
    }
    checkMinTcb({}, reference, this.kind);

    return {
      ok: true,
      kind: this.kind,
      measurement,
      hardware,
      verifiedAt: expected.now,
      expiresAt: Math.min(expiresAtMs(payload) ?? Infinity, ((payload.iat ?? 0) + maxAge) * 1000),
      claims: {
        debug,
        tcb: {},
        policy: {},
        profile: EAR_PROFILE,
        verifierId,
        measuredSubmod: found.submod,
        submods: summary,
      },
    };
  }
}
