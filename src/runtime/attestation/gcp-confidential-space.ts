// Evidence verifier for Google Confidential Space attestation tokens (OIDC tokens, RS256, issued by
// https://confidentialcomputing.googleapis.com for a workload container running on the Confidential
// Space image in a Confidential VM). Claim names as in Google's "Attestation token claims"
// reference (see test/fixtures/attestation/SOURCE.md):
//   hwmodel (GCP_AMD_SEV, GCP_AMD_SEV_SNP, GCP_INTEL_TDX), secboot, dbgstat
//   ("disabled-since-boot" on production images, "enabled" on debug images), swname
//   (CONFIDENTIAL_SPACE), swversion, eat_nonce (string or up to six strings, echoed from the custom
//   token request), submods.container.image_digest, submods.confidential_space.support_attributes
//   (LATEST, STABLE, USABLE; none on debug images), google_service_accounts, aud.
// The workload requests the token with a custom audience and eat_nonce = the ztgate binding of the
// challenge nonce and its TLS key (two 32-byte halves: Google limits each nonce to 74 bytes).
//
// Keys: the JWKS named by the issuer's OIDC discovery document
// (<issuer>/.well-known/openid-configuration → jwks_uri), or a pinned JWKS / JWKS URL. PKI tokens
// (x5c header) are refused: request OIDC tokens.
//
// Checks, in order: header and signature; iss (pinned), aud, exp/nbf/iat; swname; nonce/TLS-key
// binding; dbgstat; image digest approved; hwmodel allowed; secure boot; support attributes;
// service accounts.
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import {
  checkAlgorithms,
  checkBindingNonces,
  checkMinTcb,
  claimAt,
  discoveredJwks,
  expiresAtMs,
  failer,
  type Fail,
  isApproved,
  isRecord,
  normalizeDigest,
  remoteJwks,
  verifyJwtEvidence,
  type JwksFetchOptions,
  type JwtKeySource,
} from './jwt-evidence.js';
import type { EvidenceVerifier, ExpectedBinding, ReferenceValues, Verdict } from './types.js';

export const CONFIDENTIAL_SPACE_ISSUER = 'https://confidentialcomputing.googleapis.com';
const PRODUCTION_DBGSTAT = 'disabled-since-boot';
const DEFAULT_HW_MODELS = ['GCP_AMD_SEV', 'GCP_AMD_SEV_SNP', 'GCP_INTEL_TDX'];

const fail: Fail = failer('gcp-confidential-space');

export interface GcpConfidentialSpaceVerifierOptions {
  /** The tokens' custom audience (required: the default STS audience is not for ztgate). */
  audience: string | readonly string[];
  /** Pinned issuer. Default https://confidentialcomputing.googleapis.com. */
  issuer?: string;
  /** OIDC discovery document. Default `${issuer}/.well-known/openid-configuration`. */
  discoveryUrl?: string;
  /** A JWKS URL instead of discovery. */
  jwksUrl?: string;
  /** A pinned JWKS instead of fetching. */
  jwks?: JSONWebKeySet;
  /** Default ['RS256'] (what the service signs with). */
  algorithms?: readonly string[];
  /** Tolerated clock difference, seconds. Default 60. */
  clockSkewSeconds?: number;
  fetch?: JwksFetchOptions;
}

function stringList(v: unknown, claim: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    fail('malformed_evidence', `${claim} is not a string array`);
  return v as string[];
}

export class GcpConfidentialSpaceVerifier implements EvidenceVerifier {
  readonly kind = 'gcp-confidential-space' as const;
  private readonly options: GcpConfidentialSpaceVerifierOptions;
  private readonly issuer: string;
  private readonly key: JwtKeySource;
  private readonly algorithms: readonly string[];

  constructor(options: GcpConfidentialSpaceVerifierOptions) {
    if (options.audience.length === 0) throw new TypeError('gcp-confidential-space: an audience is required');
    this.options = options;
    this.issuer = options.issuer ?? CONFIDENTIAL_SPACE_ISSUER;
    this.algorithms = checkAlgorithms(options.algorithms ?? ['RS256'], this.kind);
    if (options.jwks) this.key = createLocalJWKSet(options.jwks);
    else if (options.jwksUrl) this.key = remoteJwks(options.jwksUrl, options.fetch);
    else {
      const discovery =
        options.discoveryUrl ?? `${this.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
      this.key = discoveredJwks(discovery, this.issuer, this.kind, options.fetch);
    }
  }

  async verify(
    evidence: Uint8Array | string,
    expected: ExpectedBinding,
    reference: ReferenceValues,
  ): Promise<Verdict> {
    const { payload } = await verifyJwtEvidence(evidence, expected, {
      kind: this.kind,
      key: this.key,
      algorithms: this.algorithms,
      issuer: this.issuer,
      audience: this.options.audience,
      requiredClaims: ['exp', 'iat'],
      clockSkewSeconds: this.options.clockSkewSeconds ?? 60,
    });
    const gcp = reference.gcpConfidentialSpace ?? {};

    if (payload.swname !== 'CONFIDENTIAL_SPACE') {
      fail('unsupported', `swname ${JSON.stringify(payload.swname)}: not a Confidential Space token`);
    }
    checkBindingNonces(payload.eat_nonce, expected, this.kind, 'eat_nonce');

    if (typeof payload.dbgstat !== 'string') fail('malformed_evidence', 'dbgstat is missing');
    const debug = payload.dbgstat !== PRODUCTION_DBGSTAT;
    if (debug && reference.allowDebug !== true) {
      fail('debug_enabled', `dbgstat ${payload.dbgstat}: a debug Confidential Space image`);
    }

    const imageDigest = claimAt(payload, ['submods', 'container', 'image_digest']);
    if (typeof imageDigest !== 'string')
      fail('malformed_evidence', 'submods.container.image_digest is missing');
    if (!isApproved(reference.measurements, imageDigest)) {
      fail('measurement_mismatch', `image digest ${imageDigest} is not approved`);
    }

    const hwmodel = payload.hwmodel;
    if (typeof hwmodel !== 'string') fail('malformed_evidence', 'hwmodel is missing');
    if (!(gcp.hwModels ?? DEFAULT_HW_MODELS).includes(hwmodel)) {
      fail('policy_violation', `hardware model ${hwmodel} is not allowed`);
    }
    if (gcp.requireSecureBoot !== false && payload.secboot !== true)
      fail('policy_violation', 'secure boot is off');

    const support = stringList(
      claimAt(payload, ['submods', 'confidential_space', 'support_attributes']),
      'support_attributes',
    );
    const missing = (gcp.supportAttributes ?? ['STABLE']).filter((a) => !support.includes(a));
    if (missing.length > 0) {
      fail(
        'policy_violation',
        `image lacks support attribute(s) ${missing.join(', ')} (has ${support.join(', ') || 'none'})`,
      );
    }
    const accounts = stringList(payload.google_service_accounts, 'google_service_accounts');
    if (gcp.serviceAccounts !== undefined && !gcp.serviceAccounts.some((a) => accounts.includes(a))) {
      fail('policy_violation', 'the workload runs as none of the allowed service accounts');
    }
    checkMinTcb({}, reference, this.kind);

    const container = claimAt(payload, ['submods', 'container']);
    const gce = claimAt(payload, ['submods', 'gce']);
    const verdict: Verdict = {
      ok: true,
      kind: this.kind,
      measurement: normalizeDigest(imageDigest),
      hardware: true,
      verifiedAt: expected.now,
      claims: {
        debug,
        tcb: {},
        policy: { secboot: payload.secboot === true, dbgstat: payload.dbgstat },
        issuer: this.issuer,
        hwmodel,
        imageDigest,
        swversion: stringList(payload.swversion, 'swversion'),
        supportAttributes: support,
        serviceAccounts: accounts,
        ...(isRecord(container) && typeof container.image_reference === 'string'
          ? { imageReference: container.image_reference }
          : {}),
        ...(isRecord(gce) ? { gce: { ...gce } } : {}),
        ...(typeof payload.sub === 'string' ? { subject: payload.sub } : {}),
      },
    };
    const exp = expiresAtMs(payload);
    if (exp !== undefined) verdict.expiresAt = exp;
    return verdict;
  }
}
